//! The runs pages, like the product's progress pane: every recent run
//! with its phase, jobs done and rate; a run's page with, once done, what
//! it processed (emails and meetings, the days the data covers, accounts,
//! rows, rejects by reason). Pages of runs in progress reload themselves.
//! Operators get rerun and cancel buttons; viewers do not.

use std::fmt::Write;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use chrono::{DateTime, Utc};
use rapport_common::period::Level;

use super::html::{esc, page, url};
use super::{error_page, html_response, PageResult, RunPath, Ui};
use crate::access::Role;
use crate::results_cache::LoadedRun;
use crate::run_record::{RunRecord, RunStatus};

/// Seconds between reloads of a page showing a run in progress.
const REFRESH_SECONDS: u32 = 2;

fn seconds_since(start: &str, end: Option<&str>) -> Option<f64> {
    let start = DateTime::parse_from_rfc3339(start).ok()?;
    let end = match end {
        Some(e) => DateTime::parse_from_rfc3339(e).ok()?.to_utc(),
        None => Utc::now(),
    };
    Some(((end - start.to_utc()).num_milliseconds() as f64 / 1000.0).max(0.001))
}

/// Jobs done per second in the current phase's run so far.
fn rate(r: &RunRecord) -> String {
    match r
        .started_at
        .as_deref()
        .and_then(|s| seconds_since(s, r.finished_at.as_deref()))
    {
        Some(secs) if r.jobs_done > 0 && !r.status.is_final() => {
            format!("{:.1} jobs/s", r.jobs_done as f64 / secs)
        }
        Some(secs) if r.status.is_final() => format!("{secs:.1} s in all"),
        _ => String::new(),
    }
}

fn buttons(r: &RunRecord, role: Role) -> String {
    if role < Role::Operator {
        return String::new();
    }
    let id = url(&r.run_id);
    let mut out = format!(
        "<form method=\"post\" action=\"/ui/runs/{id}/rerun\" style=\"display:inline\">\
         <button type=\"submit\" class=\"rerun\">Rerun</button></form>"
    );
    if !r.status.is_final() {
        let _ = write!(
            out,
            " <form method=\"post\" action=\"/ui/runs/{id}/cancel\" style=\"display:inline\">\
             <button type=\"submit\" class=\"cancel\">Cancel</button></form>"
        );
    }
    out
}

fn progress(r: &RunRecord) -> String {
    let phase = r.phase.as_deref().unwrap_or("-");
    if r.jobs_total == 0 {
        return esc(phase);
    }
    format!(
        "{} <progress value=\"{}\" max=\"{}\" aria-label=\"jobs done in {}\"></progress> {}/{}",
        esc(phase),
        r.jobs_done,
        r.jobs_total,
        esc(phase),
        r.jobs_done,
        r.jobs_total
    )
}

/// `GET /ui/runs`.
pub async fn runs(State(ui): State<Ui>, headers: HeaderMap) -> PageResult {
    let role = ui.role(&headers)?;
    let runs = ui
        .coordinator()
        .list()
        .await
        .map_err(|e| error_page(StatusCode::SERVICE_UNAVAILABLE, role, &e.to_string()))?;
    let mut body = String::from(
        "<table id=\"runs\"><caption>Recent runs, newest first</caption><thead><tr>\
         <th class=\"l\" scope=\"col\">Run</th><th class=\"l\" scope=\"col\">Tenant</th><th class=\"l\" scope=\"col\">Status</th>\
         <th class=\"l\" scope=\"col\">Phase and jobs</th><th scope=\"col\">Rate</th><th scope=\"col\">Rows</th>\
         <th class=\"l\" scope=\"col\">Submitted</th><th class=\"l\" scope=\"col\">Results</th>",
    );
    if role >= Role::Operator {
        body.push_str("<th class=\"l\" scope=\"col\">Actions</th>");
    }
    body.push_str("</tr></thead><tbody>");
    for r in &runs {
        let id = url(&r.run_id);
        let results = if r.status == RunStatus::Succeeded {
            format!("<a href=\"/ui/runs/{id}/accounts\">accounts</a>")
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<tr><td class=\"l\"><a href=\"/ui/runs/{id}\">{}</a></td><td class=\"l\">{}</td>\
             <td class=\"l status\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{results}</td>",
            esc(&r.run_id),
            esc(&r.tenant_id),
            r.status.name(),
            progress(r),
            rate(r),
            r.rows.map(|n| n.to_string()).unwrap_or_default(),
            esc(r.created_at.get(..19).unwrap_or(&r.created_at)),
        );
        if role >= Role::Operator {
            let _ = write!(body, "<td class=\"l\">{}</td>", buttons(r, role));
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table>");
    if runs.is_empty() {
        body.push_str("<p>No runs yet.</p>");
    }
    let refresh = runs
        .iter()
        .any(|r| !r.status.is_final())
        .then_some(REFRESH_SECONDS);
    Ok(html_response(
        StatusCode::OK,
        page("Runs", Some(role.name()), &body, refresh),
    ))
}

fn figure(label: &str, value: impl std::fmt::Display, id: &str) -> String {
    format!(
        "<div class=\"figure\" id=\"{id}\"><b>{}</b>{}</div>",
        esc(&value.to_string()),
        esc(label)
    )
}

/// The first and last days with a counted interaction, from the rows:
/// the earliest EngagementStartDate, and `as_of` less the fewest days
/// since the last email or meeting in the latest Year rows.
fn days_covered(loaded: &LoadedRun) -> Option<(chrono::NaiveDate, chrono::NaiveDate)> {
    let rows = &loaded.results.rows;
    let first = rows.iter().map(|r| r.engagement_start).min()?;
    let latest_year = *loaded.results.periods(Level::Year).last()?;
    let fewest = loaded
        .results
        .group(Level::Year, latest_year)
        .filter_map(|r| match (r.days_since_email, r.days_since_meeting) {
            (Some(e), Some(m)) => Some(e.min(m)),
            (d, None) | (None, d) => d,
        })
        .min()?;
    Some((
        first,
        loaded.results.as_of - chrono::Days::new(fewest.max(0) as u64),
    ))
}

fn outcome(loaded: &LoadedRun) -> String {
    let r = &loaded.report;
    let mut out = String::from("<h2>What the run processed</h2><div>");
    out.push_str(&figure("records read", r.records, "records"));
    out.push_str(&figure("emails counted", r.emails_counted, "emails"));
    out.push_str(&figure("meetings counted", r.meetings_counted, "meetings"));
    if let Some((first, last)) = days_covered(loaded) {
        let days = (last - first).num_days() + 1;
        out.push_str(&figure(
            &format!("days covered, {first} to {last}"),
            days,
            "days",
        ));
    }
    out.push_str(&figure("accounts", r.accounts, "accounts"));
    out.push_str(&figure("rows", r.rows, "rows"));
    out.push_str(&figure("rejected", r.rejected, "rejected"));
    if r.suppressed_rows > 0 {
        out.push_str(&figure(
            "rows left out (privacy floor)",
            r.suppressed_rows,
            "suppressed",
        ));
    }
    let _ = write!(
        out,
        "</div><p class=\"muted\">As of {}, a window of {} days from {}; {} duplicates dropped, {} records outside the window.</p>",
        esc(&r.as_of),
        r.window_days,
        esc(&r.window_start),
        r.duplicates,
        r.out_of_window
    );
    if !r.rejected_by_reason.is_empty() {
        out.push_str("<table id=\"rejects\"><caption>Rejects by reason</caption><thead><tr><th class=\"l\" scope=\"col\">Reason</th><th scope=\"col\">Records</th></tr></thead><tbody>");
        for (reason, n) in &r.rejected_by_reason {
            let _ = write!(
                out,
                "<tr><th class=\"l\" scope=\"row\">{}</th><td>{n}</td></tr>",
                esc(reason)
            );
        }
        out.push_str("</tbody></table>");
    }
    out
}

/// `GET /ui/runs/{id}`: the run's progress pane.
pub async fn run(State(ui): State<Ui>, headers: HeaderMap, id: RunPath) -> PageResult {
    let role = ui.role(&headers)?;
    let c = ui.coordinator();
    let r = c
        .get(&id)
        .await
        .map_err(|e| error_page(StatusCode::NOT_FOUND, role, &e.to_string()))?;
    let mut body = String::new();
    let _ = write!(
        body,
        "<p>Tenant <strong>{}</strong>, status <strong id=\"status\">{}</strong>{}</p><p>{} · {}</p>",
        esc(&r.tenant_id),
        r.status.name(),
        r.error
            .as_deref()
            .map(|e| format!(": <span class=\"error\">{}</span>", esc(e)))
            .unwrap_or_default(),
        progress(&r),
        rate(&r)
    );
    body.push_str(&buttons(&r, role));
    if r.status == RunStatus::Succeeded {
        match c.results().load(&r, c.history()).await {
            Ok(loaded) => {
                body.push_str(&outcome(&loaded));
                let _ = write!(
                    body,
                    "<p><a href=\"/ui/runs/{}/accounts\">The run's accounts</a></p>",
                    url(&r.run_id)
                );
            }
            Err(e) => {
                let _ = write!(body, "<p class=\"error\">{}</p>", esc(&e.to_string()));
            }
        }
    }
    let refresh = (!r.status.is_final()).then_some(REFRESH_SECONDS);
    let title = format!("Run {}", r.run_id);
    Ok(html_response(
        StatusCode::OK,
        page(&title, Some(role.name()), &body, refresh),
    ))
}

/// `POST /ui/runs/{id}/rerun` (operators).
pub async fn rerun(State(ui): State<Ui>, headers: HeaderMap, id: RunPath) -> PageResult {
    let role = ui.operator(&headers)?;
    let record = ui
        .coordinator()
        .rerun(&id)
        .await
        .map_err(|e| error_page(StatusCode::BAD_REQUEST, role, &e.to_string()))?;
    Ok(Redirect::to(&format!("/ui/runs/{}", url(&record.run_id))).into_response())
}

/// `POST /ui/runs/{id}/cancel` (operators).
pub async fn cancel(State(ui): State<Ui>, headers: HeaderMap, id: RunPath) -> PageResult {
    let role = ui.operator(&headers)?;
    ui.coordinator()
        .cancel(&id)
        .await
        .map_err(|e| error_page(StatusCode::CONFLICT, role, &e.to_string()))?;
    Ok(Redirect::to(&format!("/ui/runs/{}", url(&id))).into_response())
}
