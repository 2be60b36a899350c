//! The pages people act on, served under `/ui`: runs and their progress,
//! a run's accounts (sorted, filtered by a segment, paged, downloadable),
//! and an account's card with the reasons for its score. Server-rendered
//! HTML, charts drawn as inline SVG on the server; no script, no external
//! resource.
//!
//! Access is the API's: a token of the tokens file, entered once on the
//! sign-in page and then carried in an `HttpOnly`, `SameSite=Strict`
//! cookie scoped to `/ui` (so no other site can send it with a form),
//! checked against the tokens file on every request: a token removed from
//! the file signs its holder out. A viewer reads; only an operator sees and
//! may use the rerun and cancel buttons. Without a tokens file (loopback
//! only) every visitor is an operator.

// A page answers with a response whether it shows the page or refuses:
// the error side is a response too, and it is built once per request.
#![allow(clippy::result_large_err)]

mod accounts_page;
mod card_page;
pub mod html;
mod runs_page;

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use tracing::info;

use crate::access::{Access, Role};
use crate::results_cache::LoadedRun;
use crate::service::Coordinator;
use html::{esc, page};

/// The session cookie's name.
pub const COOKIE: &str = "rapport_session";

/// A session's lifetime, seconds.
const SESSION_SECONDS: u32 = 8 * 3600;

/// What every page handler gets.
#[derive(Clone)]
pub struct Ui {
    coordinator: Arc<Coordinator>,
    access: Access,
}

/// The `/ui` routes.
pub fn ui_router(coordinator: Arc<Coordinator>, access: Access) -> Router {
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/runs") }))
        .route("/ui/signin", get(signin_form).post(signin))
        .route("/ui/signout", post(signout))
        .route("/ui/runs", get(runs_page::runs))
        .route("/ui/runs/{id}", get(runs_page::run))
        .route("/ui/runs/{id}/rerun", post(runs_page::rerun))
        .route("/ui/runs/{id}/cancel", post(runs_page::cancel))
        .route("/ui/runs/{id}/accounts", get(accounts_page::accounts))
        .route("/ui/runs/{id}/accounts.csv", get(accounts_page::download))
        .route("/ui/runs/{id}/accounts/{account}", get(card_page::card))
        .with_state(Ui {
            coordinator,
            access,
        })
}

/// A page's answer: the page, or where to go instead.
pub type PageResult = Result<Response, Response>;

/// An HTML answer.
pub fn html_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// A page saying what went wrong.
pub fn error_page(status: StatusCode, role: Role, message: &str) -> Response {
    let body = format!(
        "<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/ui/runs\">Runs</a></p>",
        esc(message)
    );
    html_response(
        status,
        page(
            status.canonical_reason().unwrap_or("Error"),
            Some(role.name()),
            &body,
            None,
        ),
    )
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

fn cookie_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| percent_decode(value))
}

impl Ui {
    /// The signed-in role, or a redirect to the sign-in page.
    pub fn role(&self, headers: &HeaderMap) -> Result<Role, Response> {
        match &self.access {
            Access::Open => Ok(Role::Operator),
            Access::Tokens(_) => cookie_token(headers)
                .and_then(|t| self.access.role_of_token(&t))
                .ok_or_else(|| Redirect::to("/ui/signin").into_response()),
        }
    }

    /// The role of an operator posting a form: the cookie's role, which
    /// must be operator, and a request from this site's own pages.
    pub fn operator(&self, headers: &HeaderMap) -> Result<Role, Response> {
        let role = self.role(headers)?;
        if !same_origin(headers) {
            return Err(error_page(
                StatusCode::FORBIDDEN,
                role,
                "this form was sent from another site",
            ));
        }
        if role < Role::Operator {
            return Err(error_page(
                StatusCode::FORBIDDEN,
                role,
                "the viewer role may not do this (it needs operator)",
            ));
        }
        Ok(role)
    }

    /// The coordinator.
    pub fn coordinator(&self) -> &Coordinator {
        &self.coordinator
    }

    /// A succeeded run's results, and those of the run before it in the
    /// history (for score changes), if kept.
    pub async fn succeeded_run(
        &self,
        id: &str,
    ) -> Result<(Arc<LoadedRun>, Option<Arc<LoadedRun>>), String> {
        let c = self.coordinator();
        let record = c.get(id).await.map_err(|e| e.to_string())?;
        let run = c
            .results()
            .load(&record, c.history())
            .await
            .map_err(|e| e.to_string())?;
        let previous = match &run.previous {
            Some(p) => c.results().load_kept(&run, p).await.ok(),
            None => None,
        };
        Ok((run, previous))
    }
}

/// True unless the browser says the request came from another origin.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
}

fn signin_body(error: Option<&str>) -> String {
    let error = error
        .map(|e| {
            format!(
                "<p id=\"signin-error\" class=\"error\" role=\"alert\">{}</p>",
                esc(e)
            )
        })
        .unwrap_or_default();
    format!(
        "{error}<form method=\"post\" action=\"/ui/signin\"><p><label for=\"token\">Access token</label><br>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"current-password\" required{}></p>\
         <p><button type=\"submit\">Sign in</button></p></form>\
         <p class=\"muted\">A token of the coordinator's tokens file: a viewer reads, an operator also reruns and cancels.</p>",
        if error.is_empty() { "" } else { " aria-describedby=\"signin-error\"" }
    )
}

async fn signin_form() -> Response {
    html_response(
        StatusCode::OK,
        page("Sign in", None, &signin_body(None), None),
    )
}

/// The sign-in form.
#[derive(Deserialize)]
struct SignIn {
    token: String,
}

async fn signin(State(ui): State<Ui>, Form(form): Form<SignIn>) -> Response {
    let token = form.token.trim();
    match ui.access.role_of_token(token.as_bytes()) {
        Some(role) => {
            info!(role = role.name(), "signed in to the pages");
            let cookie = format!(
                "{COOKIE}={}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}",
                html::url(token)
            );
            let mut response = Redirect::to("/ui/runs").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        None => {
            info!("refused a sign-in: no such token");
            html_response(
                StatusCode::UNAUTHORIZED,
                page(
                    "Sign in",
                    None,
                    &signin_body(Some("That token is not valid.")),
                    None,
                ),
            )
        }
    }
}

async fn signout() -> Response {
    let mut response = Redirect::to("/ui/signin").into_response();
    let cookie = format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The run id in a page's path.
pub type RunPath = Path<String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_found_and_decoded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; rapport_session=ab%3Bc%25d"),
        );
        assert_eq!(cookie_token(&headers), Some(b"ab;c%d".to_vec()));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("rapport_session=%zz"),
        );
        assert_eq!(cookie_token(&headers), None);
    }

    #[test]
    fn a_form_from_another_origin_is_told_apart() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:7070"));
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:7070"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&headers));
    }
}
