//! Admin API over provider sources (CONTRACT section 9): create, list, detail, change, rotate.

use crate::{
    app::{
        self,
        sources::{Create, Shown, Update},
    },
    clock,
    error::ApiError,
    http::extract::{AuthAdmin, JsonBody, optional_json},
    state::AppState,
};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A source on the wire: never a secret.
#[derive(Serialize, ToSchema)]
struct SourceBody {
    source_id: String,
    slug: String,
    name: String,
    kind: String,
    ingest_url: String,
    enabled: bool,
    sender_rate: Option<String>,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stats_24h: Option<app::sources::Stats>,
}

impl SourceBody {
    fn from(s: Shown) -> SourceBody {
        SourceBody {
            source_id: s.source.id,
            slug: s.source.slug,
            name: s.source.name,
            kind: s.source.kind,
            ingest_url: s.ingest_url,
            enabled: s.source.enabled,
            sender_rate: s.source.sender_rate,
            created_at: clock::rfc3339(s.source.created_at),
            secret: None,
            stats_24h: None,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct Items {
    items: Vec<SourceBody>,
}

/// `POST /api/v1/admin/sources`
#[utoipa::path(
    post,
    path = "/api/v1/admin/sources",
    tag = "admin",
    security(("admin_bearer" = [])),
    request_body(content = Create, content_type = "application/json"),
    responses((status = 201, description = "Created; `secret` only when hookgate generated it", body = SourceBody),
        (status = 409, description = "`slug_taken`", body = crate::error::ErrorBody))
)]
pub async fn create(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    body: JsonBody<Create>,
) -> Result<HttpResponse, ApiError> {
    let created = app::sources::create(&state, &admin.actor(), body.0).await?;
    let mut shown = SourceBody::from(created.shown);
    shown.secret = created.generated_secret;
    Ok(HttpResponse::Created().json(shown))
}

/// `GET /api/v1/admin/sources`
#[utoipa::path(
    get,
    path = "/api/v1/admin/sources",
    tag = "admin",
    security(("admin_bearer" = [])),
    responses((status = 200, description = "Every source (never a secret)", body = Items))
)]
pub async fn list(state: web::Data<AppState>, _admin: AuthAdmin) -> Result<HttpResponse, ApiError> {
    let items = app::sources::list(&state)
        .await?
        .into_iter()
        .map(SourceBody::from)
        .collect();
    Ok(HttpResponse::Ok().json(Items { items }))
}

/// `GET /api/v1/admin/sources/{source_id}`
#[utoipa::path(
    get,
    path = "/api/v1/admin/sources/{source_id}",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("source_id" = String, Path)),
    responses((status = 200, description = "The source with its last 24 hours", body = SourceBody))
)]
pub async fn get(
    state: web::Data<AppState>,
    _admin: AuthAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let shown = app::sources::get(&state, &path).await?;
    let stats = app::sources::stats_24h(&state, &shown.source.slug).await?;
    let mut body = SourceBody::from(shown);
    body.stats_24h = Some(stats);
    Ok(HttpResponse::Ok().json(body))
}

/// `PATCH /api/v1/admin/sources/{source_id}`
#[utoipa::path(
    patch,
    path = "/api/v1/admin/sources/{source_id}",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("source_id" = String, Path)),
    request_body(content = Update, content_type = "application/json"),
    responses((status = 200, description = "The changed source", body = SourceBody))
)]
pub async fn update(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: JsonBody<Update>,
) -> Result<HttpResponse, ApiError> {
    let shown = app::sources::update(&state, &admin.actor(), &path, body.0).await?;
    Ok(HttpResponse::Ok().json(SourceBody::from(shown)))
}

#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Rotated {
    source_id: String,
    previous_valid_until: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

/// `POST /api/v1/admin/sources/{source_id}/secret`
#[utoipa::path(
    post,
    path = "/api/v1/admin/sources/{source_id}/secret",
    tag = "admin",
    security(("admin_bearer" = [])),
    params(("source_id" = String, Path)),
    request_body(content = Option<RotateBody>, content_type = "application/json"),
    responses((status = 200, description = "The new secret verifies at once, the old one until `previous_valid_until`; `secret` only when generated", body = Rotated))
)]
pub async fn rotate(
    state: web::Data<AppState>,
    admin: AuthAdmin,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let body: RotateBody = optional_json(&body)?;
    let rotated = app::sources::rotate_secret(&state, &admin.actor(), &path, body.secret).await?;
    Ok(HttpResponse::Ok().json(Rotated {
        source_id: rotated.source_id,
        previous_valid_until: clock::rfc3339(rotated.previous_valid_until),
        secret: rotated.generated_secret,
    }))
}
