//! Liveness and readiness.

use crate::{error::ApiError, startup::AppState};
use actix_web::{HttpResponse, web};

/// Liveness: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// Readiness: the database accepts writes (a write through the writer that commits).
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state
        .store
        .write(|c| crate::store::probe_write(c, crate::clock::now()))
        .await
        .map_err(|e: crate::store::StoreError| {
            tracing::warn!(error = %e, "readiness probe failed");
            ApiError::storage_unavailable()
        })?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}
