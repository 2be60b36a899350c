//! The coordinator's HTTP API for operators: submit, list, status, rerun,
//! cancel, and health. Bodies are JSON; errors are `{"error": "..."}` with
//! 400 (invalid tenant), 404 (no such run), 409 (run already ended) or 503.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::run_record::RunRecord;
use crate::service::{Coordinator, RequestError};

/// `POST /runs` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitRequest {
    /// Path of `tenant.toml`, readable by the coordinator and every worker.
    pub config: String,
    /// Output folder, writable by the coordinator.
    pub out: String,
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
            RequestError::Invalid(_) => StatusCode::BAD_REQUEST,
            RequestError::NotFound(_) => StatusCode::NOT_FOUND,
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

/// The API's routes.
pub fn router(coordinator: Arc<Coordinator>) -> Router {
    Router::new()
        .route("/runs", post(submit).get(list))
        .route("/runs/{id}", get(status))
        .route("/runs/{id}/rerun", post(rerun))
        .route("/runs/{id}/cancel", post(cancel))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(coordinator)
}

async fn submit(
    State(c): State<Arc<Coordinator>>,
    Json(req): Json<SubmitRequest>,
) -> Result<(StatusCode, Json<RunRecord>), RequestError> {
    let record = c
        .submit(PathBuf::from(req.config), PathBuf::from(req.out), None)
        .await?;
    Ok((StatusCode::CREATED, Json(record)))
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

/// Ready when Redis answers; the body says whether this coordinator leads
/// (executes runs) or stands by (serves requests, takes over if the leader dies).
async fn ready(State(c): State<Arc<Coordinator>>) -> Result<&'static str, RequestError> {
    c.backends().registry.list_runs(1).await?;
    Ok(c.role())
}
