//! A run's accounts: each account's row of one level and period (Year and
//! the latest by default), with its score, the change since the previous
//! kept run of the tenant (the same level and period there), emails and
//! meetings of the last 12 months, and days since the last email and
//! meeting. Sortable by any column, filtered by a segment expression typed
//! in a box (as `rapport segment` reads it), paged; the filtered rows
//! download as CSV, with the bytes of `account_engagement.csv`.

use std::cmp::Ordering;
use std::fmt::Write;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use rapport_common::period::Level;
use rapport_common::results::ResultRow;
use rapport_common::row::HEADER;
use rapport_common::run_results::{parse_segment, QueryError};
use serde::Deserialize;

use super::html::{esc, page, url};
use super::{error_page, html_response, PageResult, RunPath, Ui};
use crate::results_cache::LoadedRun;

/// Rows a page shows by default, and at most.
const PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 500;

/// The page's query.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AccountsQuery {
    /// Year, Month or Week.
    pub level: Option<String>,
    /// An AggregationStartDate of that level.
    pub period: Option<String>,
    /// A segment expression.
    pub segment: Option<String>,
    /// The column sorted on.
    pub sort: Option<String>,
    /// `asc` or `desc`.
    pub order: Option<String>,
    /// The page, from 1.
    pub page: Option<usize>,
    /// Rows a page.
    pub size: Option<usize>,
}

impl AccountsQuery {
    /// The column sorted on (default: score) and whether downwards (the
    /// default, but for AccountId).
    fn sorting(&self) -> (&str, bool) {
        let sort = self.sort.as_deref().unwrap_or("score");
        let descending = self
            .order
            .as_deref()
            .map_or(sort != "account", |o| o == "desc");
        (sort, descending)
    }
}

/// The sortable columns: key, heading.
const COLUMNS: [(&str, &str); 7] = [
    ("account", "Account"),
    ("score", "Score"),
    ("change", "Change"),
    ("emails", "Emails, 12 months"),
    ("meetings", "Meetings, 12 months"),
    ("email_days", "Days since email"),
    ("meeting_days", "Days since meeting"),
];

/// One account's line.
#[derive(Debug)]
pub struct Line<'a> {
    /// Its row of the level and period.
    pub row: &'a ResultRow,
    /// Score change since the previous run.
    pub change: Option<i64>,
    /// Emails and meetings of the last 12 months.
    pub last_12_months: (u32, u32),
}

/// The lines a query selects, sorted, with the period it resolved to.
#[derive(Debug)]
pub struct Selection<'a> {
    /// The level.
    pub level: Level,
    /// The period.
    pub period: chrono::NaiveDate,
    /// Every matching line, sorted.
    pub lines: Vec<Line<'a>>,
}

/// Why a query cannot be answered, for the box or the page.
#[derive(Debug)]
pub enum SelectError {
    /// A bad segment expression: shown beside the box.
    Expression(String),
    /// Anything else.
    Other(String),
}

fn key<'a>(line: &Line<'a>, sort: &str) -> (Option<i64>, &'a str) {
    let r = line.row;
    let value = match sort {
        "score" => Some(i64::from(r.score)),
        "change" => line.change,
        "emails" => Some(i64::from(line.last_12_months.0)),
        "meetings" => Some(i64::from(line.last_12_months.1)),
        "email_days" => r.days_since_email.map(i64::from),
        "meeting_days" => r.days_since_meeting.map(i64::from),
        _ => None,
    };
    (value, &r.account_id)
}

/// Selects, computes and sorts the lines of `q` in `run` (with the run
/// before it, for the change).
pub fn select<'a>(
    run: &'a LoadedRun,
    previous: Option<&LoadedRun>,
    q: &AccountsQuery,
) -> Result<Selection<'a>, SelectError> {
    let level = Level::parse(q.level.as_deref().unwrap_or("Year"))
        .ok_or_else(|| SelectError::Other("level: Year, Month or Week".to_owned()))?;
    let segment = q
        .segment
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let expr = segment
        .map(parse_segment)
        .transpose()
        .map_err(|e| SelectError::Expression(e.to_string()))?;
    let period = q.period.as_deref().filter(|p| !p.is_empty());
    let found = run
        .results
        .segment(level, period, expr.as_ref())
        .map_err(|e| match e {
            QueryError::Expression(e) => SelectError::Expression(e.to_string()),
            other => SelectError::Other(other.to_string()),
        })?;
    let mut lines: Vec<Line<'a>> = found
        .rows
        .into_iter()
        .map(|row| {
            let change = previous.and_then(|p| {
                p.results
                    .account(&row.account_id)
                    .iter()
                    .find(|r| r.level == row.level && r.start == row.start)
                    .map(|r| i64::from(row.score) - i64::from(r.score))
            });
            let last_12_months = run
                .results
                .last_12_months(run.results.account(&row.account_id));
            Line {
                row,
                change,
                last_12_months,
            }
        })
        .collect();
    let (sort, descending) = q.sorting();
    if sort == "account" {
        if descending {
            lines.reverse();
        }
    } else {
        // Empty values last whichever the order; ties by AccountId.
        lines.sort_by(|a, b| {
            let ((va, ia), (vb, ib)) = (key(a, sort), key(b, sort));
            match (va, vb) {
                (Some(x), Some(y)) if descending => y.cmp(&x),
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
            .then_with(|| ia.cmp(ib))
        });
    }
    Ok(Selection {
        level,
        period: found.period,
        lines,
    })
}

fn query_string(q: &AccountsQuery, sort: Option<(&str, &str)>, page: Option<usize>) -> String {
    let mut parts = Vec::new();
    let mut put = |k: &str, v: Option<&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", url(v)));
        }
    };
    put("level", q.level.as_deref());
    put("period", q.period.as_deref());
    put("segment", q.segment.as_deref());
    let (s, o) = sort.unwrap_or((
        q.sort.as_deref().unwrap_or(""),
        q.order.as_deref().unwrap_or(""),
    ));
    put("sort", Some(s));
    put("order", Some(o));
    let page = page.map(|p| p.to_string());
    put("page", page.as_deref());
    parts.join("&")
}

fn signed(change: Option<i64>) -> String {
    match change {
        Some(c) if c > 0 => format!("<span class=\"up\">+{c}</span>"),
        Some(c) if c < 0 => format!("<span class=\"down\">{c}</span>"),
        Some(_) => "0".to_owned(),
        None => String::new(),
    }
}

fn render(
    run: &LoadedRun,
    q: &AccountsQuery,
    selected: Result<Selection<'_>, SelectError>,
) -> String {
    let id = url(&run.report.run_id);
    let (selection, error) = match selected {
        Ok(s) => (Some(s), None),
        Err(SelectError::Expression(e)) | Err(SelectError::Other(e)) => (None, Some(e)),
    };
    let level = selection.as_ref().map_or(Level::Year, |s| s.level);
    let mut body = format!(
        "<form method=\"get\" action=\"/ui/runs/{id}/accounts\" id=\"filter\"><p>\
         <label for=\"level\">Level</label> <select id=\"level\" name=\"level\">"
    );
    for l in Level::ALL {
        let _ = write!(
            body,
            "<option{}>{}</option>",
            if l == level { " selected" } else { "" },
            l.name()
        );
    }
    body.push_str("</select> <label for=\"period\">Period</label> <select id=\"period\" name=\"period\"><option value=\"\">latest</option>");
    let chosen = selection.as_ref().map(|s| s.period);
    for p in run.results.periods(level).iter().rev() {
        let explicit = q.period.as_deref() == Some(p.to_string().as_str());
        let _ = write!(
            body,
            "<option{}>{p}</option>",
            if explicit { " selected" } else { "" }
        );
    }
    let _ = write!(
        body,
        "</select></p><p><label for=\"segment\">Segment</label> <input type=\"text\" id=\"segment\" name=\"segment\" value=\"{}\" \
         placeholder=\"DaysSinceLastEmail &gt; 60 AND DaysSinceLastMeeting &gt; 60\"{}> <button type=\"submit\">Filter</button>",
        esc(q.segment.as_deref().unwrap_or("")),
        if error.is_some() { " aria-invalid=\"true\" aria-describedby=\"segment-error\"" } else { "" }
    );
    if let Some(e) = &error {
        let _ = write!(
            body,
            " <span id=\"segment-error\" class=\"error\" role=\"alert\">{}</span>",
            esc(e)
        );
    }
    let _ = write!(
        body,
        "</p><input type=\"hidden\" name=\"sort\" value=\"{}\"><input type=\"hidden\" name=\"order\" value=\"{}\"></form>",
        esc(q.sort.as_deref().unwrap_or("")),
        esc(q.order.as_deref().unwrap_or(""))
    );
    let Some(selection) = selection else {
        return body;
    };
    let size = q.size.unwrap_or(PAGE_SIZE).clamp(1, MAX_PAGE_SIZE);
    let pages = selection.lines.len().div_ceil(size).max(1);
    let current = q.page.unwrap_or(1).clamp(1, pages);
    let _ = write!(
        body,
        "<p><strong id=\"matches\">{}</strong> accounts match at {} {}{} · page {current} of {pages} · \
         <a id=\"download\" href=\"/ui/runs/{id}/accounts.csv?{}\">Download CSV</a></p>",
        selection.lines.len(),
        selection.level.name(),
        chosen.map(|p| p.to_string()).unwrap_or_default(),
        run.previous
            .as_deref()
            .map(|p| format!(" · change since run {}", esc(p)))
            .unwrap_or_else(|| " · no previous run kept".to_owned()),
        query_string(q, None, None)
    );
    let (sort, descending) = q.sorting();
    body.push_str("<table id=\"accounts\"><caption>Accounts</caption><thead><tr>");
    for (k, heading) in COLUMNS {
        let (next, aria) = match (k == sort, descending) {
            (true, true) => ("asc", " aria-sort=\"descending\""),
            (true, false) => ("desc", " aria-sort=\"ascending\""),
            (false, _) => (if k == "account" { "asc" } else { "desc" }, ""),
        };
        let _ = write!(
            body,
            "<th scope=\"col\"{aria}{}><a href=\"/ui/runs/{id}/accounts?{}\" data-sort=\"{k}\">{heading}</a></th>",
            if k == "account" { " class=\"l\"" } else { "" },
            query_string(q, Some((k, next)), None)
        );
    }
    body.push_str("</tr></thead><tbody>");
    for line in selection.lines.iter().skip((current - 1) * size).take(size) {
        let r = line.row;
        let opt = |v: Option<i32>| v.map(|d| d.to_string()).unwrap_or_default();
        let _ = write!(
            body,
            "<tr><th class=\"l\" scope=\"row\"><a href=\"/ui/runs/{id}/accounts/{}\">{}</a></th><td class=\"score\">{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            url(&r.account_id),
            esc(&r.account_id),
            r.score,
            signed(line.change),
            line.last_12_months.0,
            line.last_12_months.1,
            opt(r.days_since_email),
            opt(r.days_since_meeting)
        );
    }
    body.push_str("</tbody></table><nav class=\"pages\" aria-label=\"pages\">");
    if current > 1 {
        let _ = write!(
            body,
            "<a rel=\"prev\" href=\"/ui/runs/{id}/accounts?{}\">Previous</a>",
            query_string(q, None, Some(current - 1))
        );
    }
    if current < pages {
        let _ = write!(
            body,
            "<a rel=\"next\" href=\"/ui/runs/{id}/accounts?{}\">Next</a>",
            query_string(q, None, Some(current + 1))
        );
    }
    body.push_str("</nav>");
    body
}

/// `GET /ui/runs/{id}/accounts`.
pub async fn accounts(
    State(ui): State<Ui>,
    headers: HeaderMap,
    id: RunPath,
    Query(q): Query<AccountsQuery>,
) -> PageResult {
    let role = ui.role(&headers)?;
    let (run, previous) = ui
        .succeeded_run(&id)
        .await
        .map_err(|e| error_page(StatusCode::NOT_FOUND, role, &e))?;
    let (body, invalid) = tokio::task::spawn_blocking(move || {
        let selected = select(&run, previous.as_deref(), &q);
        let invalid = selected.is_err();
        (render(&run, &q, selected), invalid)
    })
    .await
    .map_err(|e| error_page(StatusCode::INTERNAL_SERVER_ERROR, role, &e.to_string()))?;
    let status = if invalid {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let title = format!("Accounts of run {}", id.as_str());
    Ok(html_response(
        status,
        page(&title, Some(role.name()), &body, None),
    ))
}

/// `GET /ui/runs/{id}/accounts.csv`: the selected rows, as the run wrote them.
pub async fn download(
    State(ui): State<Ui>,
    headers: HeaderMap,
    id: RunPath,
    Query(q): Query<AccountsQuery>,
) -> PageResult {
    let role = ui.role(&headers)?;
    let (run, previous) = ui
        .succeeded_run(&id)
        .await
        .map_err(|e| error_page(StatusCode::NOT_FOUND, role, &e))?;
    let csv = tokio::task::spawn_blocking(move || {
        let mut selection = select(&run, previous.as_deref(), &q).map_err(|e| match e {
            SelectError::Expression(e) | SelectError::Other(e) => e,
        })?;
        selection
            .lines
            .sort_by(|a, b| a.row.account_id.cmp(&b.row.account_id));
        let mut out = format!("{HEADER}\n");
        selection
            .lines
            .iter()
            .for_each(|l| l.row.write_csv(&mut out));
        Ok::<String, String>(out)
    })
    .await
    .map_err(|e| error_page(StatusCode::INTERNAL_SERVER_ERROR, role, &e.to_string()))?
    .map_err(|e| error_page(StatusCode::BAD_REQUEST, role, &e))?;
    let disposition = format!("attachment; filename=\"accounts-{}.csv\"", url(&id));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}
