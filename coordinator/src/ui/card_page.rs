//! An account's card: its score (the latest Year row) and the score's
//! trend over the tenant's kept runs; why the score is what it is (each
//! feature's value, mid-rank percentile and weight, adding up to the
//! score by ENGAGEMENT.md §5's own formula); emails to and from the
//! account and meetings started by each side, per month over the last 12
//! months, and per week on demand; the people involved on each side;
//! average meeting length and reply time; days since the last email and
//! meeting.

use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{Datelike, Months, NaiveDate};
use rapport_common::explain::explain;
use rapport_common::period::Level;
use rapport_common::results::{format_hundredths, ResultRow};
use serde::Deserialize;

use super::html::{bar_chart, page, url, Series};
use super::{error_page, html_response, PageResult, Ui};
use crate::history::year_scores_of;
use crate::results_cache::LoadedRun;

/// The card's query.
#[derive(Debug, Default, Deserialize)]
pub struct CardQuery {
    /// `1`: also the weekly charts.
    pub weeks: Option<u8>,
}

/// The weights the run used, in feature order (the report's; the default
/// weights for a report written before it held them).
fn weights(run: &LoadedRun) -> [u32; 5] {
    let mut out = rapport_common::score::DEFAULT_WEIGHTS;
    for (i, f) in rapport_common::score::FEATURES.iter().enumerate() {
        if let Some(w) = run.report.weights.get(*f) {
            out[i] = *w;
        }
    }
    out
}

fn explanation(run: &LoadedRun, row: &ResultRow) -> String {
    let e = explain(row, run.results.group(row.level, row.start), weights(run));
    let mut out = format!(
        "<table id=\"explanation\"><caption>Why the score is {}: each feature against the {} accounts of {} {}</caption>\
         <thead><tr><th class=\"l\" scope=\"col\">Feature</th><th scope=\"col\">Value</th><th scope=\"col\">Accounts below</th>\
         <th scope=\"col\">Accounts equal</th><th scope=\"col\">Mid-rank percentile</th><th scope=\"col\">Weight</th>\
         <th scope=\"col\">Points</th></tr></thead><tbody>",
        row.score,
        e.n,
        row.level.name(),
        row.start
    );
    for p in &e.parts {
        let bp = p.percentile_basis_points(e.n);
        let value = if p.name == "recency" {
            match -p.value {
                1 => "1 day".to_owned(),
                d => format!("{d} days"),
            }
        } else {
            p.value.to_string()
        };
        // weight × percentile, in hundredths of a point.
        let points = u64::from(p.weight) * (2 * p.less + p.equal) * 100 / (2 * e.n);
        let _ = write!(
            out,
            "<tr><th class=\"l\" scope=\"row\">{}</th><td>{value}</td><td>{}</td><td>{}</td><td>{}.{:02}%</td><td>{}</td><td>{}.{:02}</td></tr>",
            p.name,
            p.less,
            p.equal,
            bp / 100,
            bp % 100,
            p.weight,
            points / 100,
            points % 100
        );
    }
    let _ = write!(
        out,
        "</tbody></table><p class=\"muted\">Score = (Σ weight × (2 × below + equal) + N) div (2 × N) = ({} + {}) div {} = <strong id=\"explained\">{}</strong>. \
         The percentile of a feature counts the accounts below it and half of those equal to it (itself included).</p>",
        e.num,
        e.n,
        2 * e.n,
        e.score
    );
    if e.score != row.score {
        let _ = write!(
            out,
            "<p class=\"error\">The run wrote {}: rows left out of the outputs by the privacy floor ({}) took part in the scores, so these counts, made from the rows kept, differ.</p>",
            row.score, run.report.suppressed_rows
        );
    }
    out
}

/// The months (first days) of the 12 months that end with `as_of`'s month.
fn months(as_of: NaiveDate) -> Vec<NaiveDate> {
    let last = as_of.with_day(1).unwrap_or(as_of);
    (0..12).rev().map(|i| last - Months::new(i)).collect()
}

fn charts(
    rows: &[ResultRow],
    level: Level,
    starts: &[NaiveDate],
    labels: &[String],
    id: &str,
) -> String {
    let of = |f: &dyn Fn(&ResultRow) -> u32| -> Vec<u32> {
        starts
            .iter()
            .map(|s| {
                rows.iter()
                    .find(|r| r.level == level && r.start == *s)
                    .map_or(0, f)
            })
            .collect()
    };
    let emails = bar_chart(
        &format!("{id}-emails"),
        &format!("Emails per {}", level.name().to_lowercase()),
        labels,
        &[
            Series {
                name: "to the account",
                colour: "#2a6fb0",
                values: of(&|r| r.counts[0]),
            },
            Series {
                name: "from the account",
                colour: "#e08a1e",
                values: of(&|r| r.counts[1]),
            },
        ],
    );
    let meetings = bar_chart(
        &format!("{id}-meetings"),
        &format!("Meetings per {}", level.name().to_lowercase()),
        labels,
        &[
            Series {
                name: "started by us",
                colour: "#2a6fb0",
                values: of(&|r| r.counts[3]),
            },
            Series {
                name: "started by the account",
                colour: "#e08a1e",
                values: of(&|r| r.counts[2]),
            },
        ],
    );
    format!("{emails}{meetings}")
}

fn trend(run: &LoadedRun, account: &str) -> String {
    let mut labels = Vec::new();
    let mut scores = Vec::new();
    for kept in &run.kept {
        if let Ok(years) = year_scores_of(&kept.dir, account) {
            if let Some((_, score)) = years.iter().max_by(|a, b| a.0.cmp(&b.0)) {
                // The stamp is the time the run finished: 20261202T151300123Z.
                let stamp = &kept.stamp;
                labels.push(match (stamp.get(..8), stamp.get(9..13)) {
                    (Some(d), Some(t)) => format!(
                        "{}-{}-{} {}:{}",
                        &d[..4],
                        &d[4..6],
                        &d[6..],
                        &t[..2],
                        &t[2..]
                    ),
                    _ => stamp.clone(),
                });
                scores.push(*score);
            }
        }
    }
    if scores.len() < 2 {
        return "<p class=\"muted\">No trend yet: the history keeps fewer than two runs with this account.</p>".to_owned();
    }
    bar_chart(
        "trend",
        "Score over the kept runs (latest Year row of each)",
        &labels,
        &[Series {
            name: "score",
            colour: "#1f3a5f",
            values: scores,
        }],
    )
}

/// `GET /ui/runs/{id}/accounts/{account}`.
pub async fn card(
    State(ui): State<Ui>,
    headers: HeaderMap,
    Path((id, account)): Path<(String, String)>,
    Query(q): Query<CardQuery>,
) -> PageResult {
    let role = ui.role(&headers)?;
    let (run, previous) = ui
        .succeeded_run(&id)
        .await
        .map_err(|e| error_page(StatusCode::NOT_FOUND, role, &e))?;
    let weeks = q.weeks == Some(1);
    let body =
        tokio::task::spawn_blocking(move || render(&run, previous.as_deref(), &account, weeks))
            .await
            .map_err(|e| error_page(StatusCode::INTERNAL_SERVER_ERROR, role, &e.to_string()))?
            .map_err(|e| error_page(StatusCode::NOT_FOUND, role, &e))?;
    Ok(html_response(
        StatusCode::OK,
        page(&body.0, Some(role.name()), &body.1, None),
    ))
}

fn render(
    run: &LoadedRun,
    previous: Option<&LoadedRun>,
    account: &str,
    weeks: bool,
) -> Result<(String, String), String> {
    let rows = run.results.account(account);
    let year = rows
        .iter()
        .filter(|r| r.level == Level::Year)
        .max_by_key(|r| r.start)
        .ok_or_else(|| format!("run {} has no rows of account {account}", run.report.run_id))?;
    let change = previous
        .and_then(|p| {
            p.results
                .account(account)
                .iter()
                .find(|r| r.level == Level::Year && r.start == year.start)
        })
        .map(|p| i64::from(year.score) - i64::from(p.score));
    let mut body = format!(
        "<p><a href=\"/ui/runs/{}/accounts\">All accounts of the run</a></p><div>\
         <div class=\"figure\"><b id=\"score\">{}</b>score, {} {}</div>",
        url(&run.report.run_id),
        year.score,
        year.level.name(),
        year.start
    );
    if let Some(c) = change {
        let _ = write!(
            body,
            "<div class=\"figure\"><b id=\"change\">{c:+}</b>since the previous run</div>"
        );
    }
    let (emails, meetings) = run.results.last_12_months(rows);
    let opt = |v: Option<i32>| v.map_or_else(|| "none".to_owned(), |d| d.to_string());
    let avg = |v: Option<i64>| {
        v.map_or_else(
            || "none".to_owned(),
            |h| format!("{} min", format_hundredths(h)),
        )
    };
    let _ = write!(
        body,
        "<div class=\"figure\"><b id=\"emails12\">{emails}</b>emails, last 12 months</div>\
         <div class=\"figure\"><b id=\"meetings12\">{meetings}</b>meetings, last 12 months</div>\
         <div class=\"figure\"><b id=\"email-days\">{}</b>days since the last email</div>\
         <div class=\"figure\"><b id=\"meeting-days\">{}</b>days since the last meeting</div></div>\
         <p>Engaged since {}. In {}: average meeting {}, average reply from the account {}.</p>",
        opt(year.days_since_email),
        opt(year.days_since_meeting),
        year.engagement_start,
        year.start.year(),
        avg(year.avg_meeting),
        avg(year.avg_reply)
    );
    let c = year.counts;
    let _ = write!(
        body,
        "<table id=\"people\"><caption>People involved in {}</caption><thead><tr><th class=\"l\" scope=\"col\">Side</th>\
         <th scope=\"col\">In emails</th><th scope=\"col\">In meetings</th></tr></thead><tbody>\
         <tr><th class=\"l\" scope=\"row\">Ours</th><td>{}</td><td>{}</td></tr>\
         <tr><th class=\"l\" scope=\"row\">The account's</th><td>{}</td><td>{}</td></tr></tbody></table>",
        year.start.year(),
        c[5],
        c[4],
        c[7],
        c[6]
    );
    body.push_str("<h2>Why this score</h2>");
    body.push_str(&explanation(run, year));
    body.push_str("<h2>Score over time</h2>");
    body.push_str(&trend(run, account));
    body.push_str("<h2>The last 12 months</h2>");
    let month_starts = months(run.results.as_of);
    let labels: Vec<String> = month_starts
        .iter()
        .map(|m| m.format("%Y-%m").to_string())
        .collect();
    body.push_str(&charts(rows, Level::Month, &month_starts, &labels, "month"));
    let link = format!(
        "/ui/runs/{}/accounts/{}",
        url(&run.report.run_id),
        url(account)
    );
    if weeks {
        let from = run.results.twelve_months_from();
        let mut week_starts: Vec<NaiveDate> = rows
            .iter()
            .filter(|r| r.level == Level::Week && r.start >= from - chrono::Days::new(6))
            .map(|r| r.start)
            .collect();
        week_starts.dedup();
        let labels: Vec<String> = week_starts
            .iter()
            .map(|w| w.format("%m-%d").to_string())
            .collect();
        let _ = write!(
            body,
            "<h2>Weeks with activity</h2><p><a href=\"{link}\">Hide the weeks</a></p>"
        );
        body.push_str(&charts(rows, Level::Week, &week_starts, &labels, "week"));
    } else {
        let _ = write!(
            body,
            "<p><a id=\"show-weeks\" href=\"{link}?weeks=1\">Show the weeks</a></p>"
        );
    }
    Ok((format!("Account {account}"), body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_months_end_with_the_month_of_as_of() {
        let m = months(NaiveDate::from_ymd_opt(2026, 6, 30).expect("date"));
        assert_eq!(m.len(), 12);
        assert_eq!(m[0], NaiveDate::from_ymd_opt(2025, 7, 1).expect("date"));
        assert_eq!(m[11], NaiveDate::from_ymd_opt(2026, 6, 1).expect("date"));
    }
}
