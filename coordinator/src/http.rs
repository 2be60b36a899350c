//! The coordinator's HTTP API for operators: submit, list, status, rerun,
//! cancel, schedules, a run's accounts by segment (`GET
//! /runs/{id}/accounts?segment=...&level=&period=`), metrics and health;
//! and the pages under `/ui` ([`crate::ui`]). Bodies are JSON; errors are `{"error": "..."}` with
//! 400 (invalid tenant), 401 (no valid bearer token), 403 (a role that may
//! not do this, or a path outside the data roots), 404 (no such run), 409
//! (run already ended) or 503.
//!
//! Reading needs the `viewer` role, changing anything `operator`
//! ([`crate::access`]); `/healthz`, `/readyz` and `/metrics` are open.
//! Request bodies are capped at [`MAX_BODY_BYTES`].

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::access::{Access, Role, Verdict};
use crate::output_formats::OutputFormat;
use crate::results_cache::ResultsError;
use crate::run_record::RunRecord;
use crate::schedule::Schedule;
use crate::service::scheduler::ScheduleRequest;
use crate::service::{Coordinator, RequestError};
use crate::tenant_loader::LoadError;
use crate::ui::ui_router;
use rapport_common::period::Level;
use rapport_common::run_results::parse_segment;

/// `POST /runs` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// Path of `tenant.toml`, readable by the coordinator and every worker.
    pub config: String,
    /// Output folder, writable by the coordinator.
    pub out: String,
    /// Output formats besides the CSV (`parquet`, `jsonl`).
    #[serde(default)]
    pub formats: Vec<OutputFormat>,
}

/// An error body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: String,
}

impl IntoResponse for RequestError {
    fn into_response(self) -> Response {
        let status = match &self {
            RequestError::Invalid(LoadError::Path(e)) if e.is_forbidden() => StatusCode::FORBIDDEN,
            RequestError::Invalid(_) => StatusCode::BAD_REQUEST,
            RequestError::Schedule(_) => StatusCode::BAD_REQUEST,
            RequestError::NotFound(_) | RequestError::NoSchedule(_) => StatusCode::NOT_FOUND,
            RequestError::Finished(_) => StatusCode::CONFLICT,
            RequestError::Backend(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        (
            status,
            Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response()
    }
}

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The API's routes, with `access` deciding who may call them.
pub fn router(coordinator: Arc<Coordinator>, access: Access) -> Router {
    let gate = |needed| {
        from_fn_with_state(
            Gate {
                access: access.clone(),
                needed,
            },
            authorize,
        )
    };
    let reads = Router::new()
        .route("/runs", get(list))
        .route("/runs/{id}", get(status))
        .route("/schedules", get(schedules))
        .route("/runs/{id}/accounts", get(segment))
        .route_layer(gate(Role::Viewer));
    let changes = Router::new()
        .route("/runs", post(submit))
        .route("/runs/{id}/rerun", post(rerun))
        .route("/runs/{id}/cancel", post(cancel))
        .route("/schedules", post(add_schedule))
        .route("/schedules/{id}", delete(remove_schedule))
        .route_layer(gate(Role::Operator));
    Router::new()
        .merge(reads)
        .merge(changes)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(coordinator.clone())
        .merge(ui_router(coordinator, access))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// What a route needs.
#[derive(Clone)]
struct Gate {
    access: Access,
    needed: Role,
}

/// Lets the request through when its bearer token's role suffices; 401
/// or 403 otherwise. The token itself is never logged.
async fn authorize(State(gate): State<Gate>, request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    let refuse = |status, error: String| (status, Json(ErrorBody { error })).into_response();
    match gate.access.check(header, gate.needed) {
        Verdict::Allowed(_) => next.run(request).await,
        Verdict::Unauthenticated => {
            info!(path = %request.uri().path(), "refused: no valid bearer token");
            let mut response = refuse(
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is needed (Authorization: Bearer TOKEN)".to_owned(),
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            response
        }
        Verdict::Forbidden(role) => {
            info!(path = %request.uri().path(), role = role.name(), "refused: role");
            refuse(
                StatusCode::FORBIDDEN,
                format!(
                    "the {} role may not do this (it needs {})",
                    role.name(),
                    gate.needed.name()
                ),
            )
        }
    }
}

async fn submit(
    State(c): State<Arc<Coordinator>>,
    Json(req): Json<SubmitRequest>,
) -> Result<(StatusCode, Json<RunRecord>), RequestError> {
    let record = c
        .submit_with_formats(
            PathBuf::from(req.config),
            PathBuf::from(req.out),
            req.formats,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// `GET /runs/{id}/accounts` query: a segment, as `rapport segment` takes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SegmentQuery {
    /// The expression (every account when absent).
    pub segment: Option<String>,
    /// Year (default), Month or Week.
    pub level: Option<String>,
    /// An AggregationStartDate of the level (default: its latest).
    pub period: Option<String>,
}

/// `GET /runs/{id}/accounts` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SegmentAnswer {
    /// The run.
    pub run_id: String,
    /// The level.
    pub level: String,
    /// The period.
    pub period: String,
    /// The matching AccountIds, in AccountId order.
    pub accounts: Vec<String>,
}

/// The accounts of a succeeded run matching a segment expression: the
/// same as `rapport segment` on its results folder. A bad expression is a
/// 400 that points at its token.
async fn segment(
    State(c): State<Arc<Coordinator>>,
    Path(id): Path<String>,
    Query(q): Query<SegmentQuery>,
) -> Response {
    let bad = |status, error: String| (status, Json(ErrorBody { error })).into_response();
    let record = match c.get(&id).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let run = match c.results().load(&record, c.history()).await {
        Ok(run) => run,
        Err(e @ ResultsError::NotSucceeded(_)) => return bad(StatusCode::CONFLICT, e.to_string()),
        Err(e @ ResultsError::Gone(_)) => return bad(StatusCode::GONE, e.to_string()),
        Err(e) => return bad(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let Some(level) = Level::parse(q.level.as_deref().unwrap_or("Year")) else {
        return bad(
            StatusCode::BAD_REQUEST,
            "level: Year, Month or Week".to_owned(),
        );
    };
    let answer = tokio::task::spawn_blocking(move || {
        let expr = q
            .segment
            .as_deref()
            .map(parse_segment)
            .transpose()
            .map_err(|e| e.to_string())?;
        let found = run
            .results
            .segment(level, q.period.as_deref(), expr.as_ref())
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(SegmentAnswer {
            run_id: run.report.run_id.clone(),
            level: level.name().to_owned(),
            period: found.period.to_string(),
            accounts: found.rows.iter().map(|r| r.account_id.clone()).collect(),
        })
    })
    .await;
    match answer {
        Ok(Ok(answer)) => Json(answer).into_response(),
        Ok(Err(e)) => bad(StatusCode::BAD_REQUEST, e),
        Err(e) => bad(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn list(State(c): State<Arc<Coordinator>>) -> Result<Json<Vec<RunRecord>>, RequestError> {
    Ok(Json(c.list().await?))
}

async fn status(
    State(c): State<Arc<Coordinator>>,
    Path(id): Path<String>,
) -> Result<Json<RunRecord>, RequestError> {
    Ok(Json(c.get(&id).await?))
}

async fn rerun(
    State(c): State<Arc<Coordinator>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<RunRecord>), RequestError> {
    Ok((StatusCode::CREATED, Json(c.rerun(&id).await?)))
}

async fn cancel(
    State(c): State<Arc<Coordinator>>,
    Path(id): Path<String>,
) -> Result<Json<RunRecord>, RequestError> {
    Ok(Json(c.cancel(&id).await?))
}

async fn schedules(State(c): State<Arc<Coordinator>>) -> Result<Json<Vec<Schedule>>, RequestError> {
    Ok(Json(c.list_schedules().await?))
}

async fn add_schedule(
    State(c): State<Arc<Coordinator>>,
    Json(req): Json<ScheduleRequest>,
) -> Result<(StatusCode, Json<Schedule>), RequestError> {
    Ok((StatusCode::CREATED, Json(c.add_schedule(req).await?)))
}

async fn remove_schedule(
    State(c): State<Arc<Coordinator>>,
    Path(id): Path<String>,
) -> Result<StatusCode, RequestError> {
    c.remove_schedule(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The Prometheus text exposition.
async fn metrics(State(c): State<Arc<Coordinator>>) -> Response {
    metrics_response(c.metrics_text().await)
}

/// A `/metrics` answer with its content type.
pub fn metrics_response(text: String) -> Response {
    (
        [(header::CONTENT_TYPE, rapport_backend::metrics::CONTENT_TYPE)],
        text,
    )
        .into_response()
}

/// Ready when Redis answers; the body says whether this coordinator leads
/// (executes runs) or stands by (serves requests, takes over if the leader dies).
async fn ready(State(c): State<Arc<Coordinator>>) -> Result<&'static str, RequestError> {
    c.backends().registry.list_runs(1).await?;
    Ok(c.role())
}
