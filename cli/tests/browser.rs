//! The pages under `/ui`, in a real browser (Debian's chromium, driven by
//! chromedriver over WebDriver) against a cluster on the real servers:
//! sign-in with a token, a viewer without rerun and cancel buttons, the
//! accounts of a run sorted and filtered by a segment (the same accounts
//! as `rapport segment`), the score change since the previous run, the
//! CSV download, and an account's card whose charts draw the CSV's
//! numbers. With `RAPPORT_SCREENSHOTS=DIR` the pages' screenshots go to
//! DIR (docs/screenshots holds the committed ones).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::webdriver::{available, Browser};
use support::{example, Cluster, OPERATOR_TOKEN, VIEWER_TOKEN};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A copy of the stockholm example as of `as_of`.
fn tenant_as_of(dir: &Path, as_of: &str) -> PathBuf {
    let from = example("stockholm");
    let to = dir.join(format!("tenant-{as_of}"));
    let copy = Command::new("cp")
        .args(["-r", s(from.parent().expect("dir")), s(&to)])
        .status()
        .expect("cp");
    assert!(copy.success());
    let config = to.join("tenant.toml");
    let text = std::fs::read_to_string(&config).expect("toml");
    std::fs::write(
        &config,
        text.replace("as_of = \"2026-06-30\"", &format!("as_of = \"{as_of}\"")),
    )
    .expect("toml");
    config
}

/// The rows of a results CSV: (AccountId, level, period) → fields.
fn rows(csv: &Path) -> BTreeMap<(String, String, String), Vec<String>> {
    std::fs::read_to_string(csv)
        .expect("csv")
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<String> = l.split(',').map(str::to_owned).collect();
            ((f[0].clone(), f[16].clone(), f[15].clone()), f)
        })
        .collect()
}

fn numbers(texts: &[String]) -> Vec<i64> {
    texts
        .iter()
        .map(|t| t.trim().parse().expect("a number"))
        .collect()
}

struct Shots(Option<PathBuf>, tempfile::TempDir);

impl Shots {
    fn path(&self, name: &str) -> PathBuf {
        self.0.as_deref().unwrap_or(self.1.path()).join(name)
    }
}

async fn sign_in(browser: &Browser, base: &str, token: &str, valid: bool) {
    browser.goto(&format!("{base}/ui/runs")).await;
    assert!(
        browser.url().await.ends_with("/ui/signin"),
        "sent to the sign-in page"
    );
    let field = browser.one("input#token").await;
    browser.type_into(&field, token).await;
    let button = browser.one("form button[type=submit]").await;
    if valid {
        browser.click_to_leave(&button).await;
    } else {
        // Refused, the form comes back at the same address.
        browser.click(&button).await;
        browser.wait_for("#signin-error").await;
    }
}

async fn chart(browser: &Browser, svg: &str, series: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for bar in browser
        .all(&format!("svg#{svg} rect.bar[data-series=\"{series}\"]"))
        .await
    {
        let label = browser.attr(&bar, "data-label").await.expect("label");
        let value = browser.attr(&bar, "data-value").await.expect("value");
        out.push((label, value.parse().expect("a number")));
    }
    out
}

#[tokio::test]
async fn the_pages_in_a_real_browser() {
    assert!(
        available(),
        "chromium and chromedriver are needed (.ci/run installs them)"
    );
    let dir = tempfile::tempdir().expect("dir");
    let shots = Shots(
        std::env::var_os("RAPPORT_SCREENSHOTS").map(PathBuf::from),
        tempfile::tempdir().expect("shots"),
    );
    let mut cluster = Cluster::unstarted(false);
    let history = dir.path().join("history");
    cluster
        .env
        .push(("RAPPORT_HISTORY_ROOT".to_owned(), s(&history).to_owned()));
    cluster.start_coordinator();
    cluster.add_worker();
    // Two runs of the tenant a month apart: scores change between them.
    let (first_out, out) = (dir.path().join("first"), dir.path().join("out"));
    let (first, o) = cluster.submit(&tenant_as_of(dir.path(), "2026-05-31"), &first_out, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (run, o) = cluster.submit(&example("stockholm"), &out, true);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let now = rows(&out.join("account_engagement.csv"));
    let before = rows(&first_out.join("account_engagement.csv"));

    let base = format!("http://127.0.0.1:{}", cluster.port);
    let browser = Browser::start(cluster.port + 1).await;

    // A wrong token is refused on the sign-in page.
    sign_in(&browser, &base, "not-a-token-of-the-file-0000", false).await;
    assert!(browser
        .texts("#signin-error")
        .await
        .concat()
        .contains("not valid"));

    // A viewer reads, without rerun and cancel buttons.
    let field = browser.one("input#token").await;
    browser.type_into(&field, VIEWER_TOKEN).await;
    browser
        .click_to_leave(&browser.one("form button[type=submit]").await)
        .await;
    assert!(browser.url().await.ends_with("/ui/runs"));
    assert_eq!(browser.all("table#runs tbody tr").await.len(), 2);
    assert!(browser.all("button.rerun, button.cancel").await.is_empty());
    browser.goto(&format!("{base}/ui/runs/{run}")).await;
    assert_eq!(browser.texts("#status").await, ["succeeded"]);
    assert!(browser.all("button.rerun, button.cancel").await.is_empty());
    browser
        .click_to_leave(&browser.one("header form button").await)
        .await;
    assert!(browser.url().await.ends_with("/ui/signin"), "signed out");

    // An operator sees the buttons.
    sign_in(&browser, &base, OPERATOR_TOKEN, true).await;
    assert_eq!(browser.all("button.rerun").await.len(), 2);
    browser.screenshot(&shots.path("runs.png")).await;
    browser.goto(&format!("{base}/ui/runs/{run}")).await;
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_report.json")).expect("report"))
            .expect("json");
    let figure = |id: &str| format!("#{id} b");
    assert_eq!(
        browser.texts(&figure("emails")).await,
        [report["emails_counted"].to_string()]
    );
    assert_eq!(
        browser.texts(&figure("accounts")).await,
        [report["accounts"].to_string()]
    );

    // The accounts, by score (highest first), then sorted on a click.
    browser
        .goto(&format!("{base}/ui/runs/{run}/accounts"))
        .await;
    let scores = numbers(&browser.texts("table#accounts td.score").await);
    assert!(
        scores.len() > 10 && scores.windows(2).all(|w| w[0] >= w[1]),
        "{scores:?}"
    );
    browser
        .click_to_leave(&browser.one("a[data-sort=score]").await)
        .await;
    let scores = numbers(&browser.texts("table#accounts td.score").await);
    assert!(
        scores.windows(2).all(|w| w[0] <= w[1]),
        "ascending after a click: {scores:?}"
    );
    // Each change is the score less the previous run's, same period.
    let mut changed = 0;
    for tr in browser.all("table#accounts tbody tr").await {
        let text = browser.text(&tr).await;
        let cells: Vec<&str> = text.split_whitespace().collect();
        let key = |id: &str| (id.to_owned(), "Year".to_owned(), "2026-01-01".to_owned());
        let score: i64 = now[&key(cells[0])][1].parse().expect("score");
        let old: i64 = before[&key(cells[0])][1].parse().expect("score");
        assert_eq!(cells[1].parse::<i64>().expect("score"), score);
        assert_eq!(
            cells[2]
                .trim_start_matches('+')
                .parse::<i64>()
                .expect("change"),
            score - old,
            "{text}"
        );
        changed += usize::from(score != old);
    }
    assert!(changed > 0, "the two runs differ");

    // A segment typed in the box gives `rapport segment`'s accounts.
    let expr = "EngagementScore >= 40 AND DaysSinceLastEmail < 20";
    browser
        .type_into(&browser.one("input#segment").await, expr)
        .await;
    browser
        .click_to_leave(&browser.one("form#filter button").await)
        .await;
    let mut shown = browser.texts("table#accounts tbody th").await;
    shown.sort();
    let cli = cluster.run(&["segment", "--results", s(&out), expr]);
    let expected: Vec<String> = String::from_utf8_lossy(&cli.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(shown, expected);
    assert_eq!(
        browser.texts("#matches").await,
        [expected.len().to_string()]
    );
    browser.screenshot(&shots.path("accounts.png")).await;
    // The download holds those rows, as the run wrote them.
    let href = browser
        .attr(&browser.one("a#download").await, "href")
        .await
        .expect("href");
    let csv = reqwest::Client::new()
        .get(format!("{base}{href}"))
        .header("Cookie", format!("rapport_session={OPERATOR_TOKEN}"))
        .send()
        .await
        .expect("download")
        .text()
        .await
        .expect("csv");
    let written = std::fs::read_to_string(out.join("account_engagement.csv")).expect("csv");
    let wanted: Vec<&str> = written
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(',').collect();
            f[16] == "Year" && f[15] == "2026-01-01" && expected.iter().any(|id| id == f[0])
        })
        .collect();
    assert_eq!(csv.lines().skip(1).collect::<Vec<_>>(), wanted);
    // A bad expression is shown beside the box.
    browser
        .type_into(&browser.one("input#segment").await, "EngagementScore >> 5")
        .await;
    browser
        .click_to_leave(&browser.one("form#filter button").await)
        .await;
    assert!(browser
        .texts("#segment-error")
        .await
        .concat()
        .contains("character"));

    // An account's card: its charts draw the CSV's monthly numbers.
    browser
        .goto(&format!("{base}/ui/runs/{run}/accounts"))
        .await;
    let account = browser.texts("table#accounts tbody th").await.remove(0);
    browser
        .click_to_leave(&browser.one("table#accounts tbody th a").await)
        .await;
    assert!(browser
        .url()
        .await
        .ends_with(&format!("/accounts/{account}")));
    let year = &now[&(account.clone(), "Year".to_owned(), "2026-01-01".to_owned())];
    assert_eq!(browser.texts("#score").await, [year[1].clone()]);
    assert_eq!(browser.texts("#explained").await, [year[1].clone()]);
    for (svg, series, column) in [
        ("month-emails", "to the account", 2),
        ("month-emails", "from the account", 3),
        ("month-meetings", "started by the account", 4),
        ("month-meetings", "started by us", 5),
    ] {
        let drawn = chart(&browser, svg, series).await;
        assert_eq!(drawn.len(), 12, "{svg} {series}");
        for (label, value) in drawn {
            let key = (account.clone(), "Month".to_owned(), format!("{label}-01"));
            let csv = now
                .get(&key)
                .map_or(0, |f| f[column].parse().expect("count"));
            assert_eq!(value, csv, "{svg} {series} {label}");
        }
    }
    browser.screenshot(&shots.path("card.png")).await;
    browser
        .click_to_leave(&browser.one("a#show-weeks").await)
        .await;
    let weeks = chart(&browser, "week-emails", "to the account").await;
    assert!(!weeks.is_empty());
    drop(browser);

    // The pages' routes refuse what the buttons' absence hides.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let post = |token: Option<&str>, origin: Option<&str>| {
        let mut request = client.post(format!("{base}/ui/runs/{first}/rerun"));
        if let Some(t) = token {
            request = request.header("Cookie", format!("rapport_session={t}"));
        }
        if let Some(o) = origin {
            request = request.header("Origin", o);
        }
        request.send()
    };
    let answer = post(None, None).await.expect("answer");
    assert_eq!(answer.status(), 303, "no cookie: to the sign-in page");
    assert_eq!(answer.headers()["location"], "/ui/signin");
    assert_eq!(
        post(Some(VIEWER_TOKEN), None)
            .await
            .expect("answer")
            .status(),
        403
    );
    let evil = post(Some(OPERATOR_TOKEN), Some("https://elsewhere.example"))
        .await
        .expect("answer");
    assert_eq!(evil.status(), 403, "a form from another site");
    let runs_before = cluster.run(&["runs"]).stdout.len();
    let ok = post(Some(OPERATOR_TOKEN), Some(&base))
        .await
        .expect("answer");
    assert_eq!(ok.status(), 303, "an operator's rerun");
    let location = ok.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        location.starts_with("/ui/runs/r") && !location.ends_with(&first),
        "{location}"
    );
    assert!(
        cluster.run(&["runs"]).stdout.len() > runs_before,
        "the rerun is queued"
    );
    let page = client
        .get(format!("{base}/ui/runs"))
        .send()
        .await
        .expect("answer");
    assert_eq!(page.status(), 303, "no cookie, no page");
}
