//! The OpenAPI 3.1 document of the JSON API, generated from the handlers' own `#[utoipa::path]`
//! attributes and the `ToSchema` response types, served at `GET /api/v1/openapi.json`.
//!
//! The error answers are added here by rule rather than on each handler, so that a new handler
//! cannot forget one: every operation may be rate limited (429) or meet unavailable storage
//! (503); one with a bearer scheme may answer 401/403; one with a path parameter 404; one with
//! query parameters 400/422; one with a body 400/413/415/422. Other statuses (409, 410, 405) are
//! declared on the handlers that answer them.

use super::{
    admin_kyc, admin_log, auth, destinations, health, ingest, kyc, orders, recovery, secret,
    source_ingest, sources,
};
use actix_web::HttpResponse;
use std::sync::OnceLock;
use utoipa::{
    Modify, OpenApi,
    openapi::{
        self, ContentBuilder, HeaderBuilder, Ref, RefOr, ResponseBuilder,
        path::{Operation, ParameterIn},
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

/// The whole API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hookgate",
        description = "Self-hosted webhook gateway: merchant accounts and KYC, signed order \
                       webhooks, provider sources, destinations and deliveries, health. Errors \
                       are `{\"error\": \"<code>\", \"message\": \"...\"}`, plus `violations` for \
                       validation failures."
    ),
    paths(
        spec,
        auth::register,
        auth::verify_email,
        auth::resend_code,
        auth::token,
        auth::me,
        kyc::submit,
        kyc::status,
        secret::reveal,
        secret::regenerate,
        ingest::receive,
        orders::list,
        orders::get,
        health::healthz,
        health::readyz,
        health::health,
        health::stats,
        health::metrics,
        admin_kyc::list,
        admin_kyc::get,
        admin_kyc::document,
        admin_kyc::approve,
        admin_kyc::reject,
        admin_kyc::request_changes,
        admin_kyc::revoke,
        sources::create,
        sources::list,
        sources::get,
        sources::update,
        sources::rotate,
        source_ingest::receive,
        source_ingest::challenge,
        destinations::create,
        destinations::list,
        destinations::get,
        destinations::update,
        destinations::rotate,
        destinations::test,
        destinations::deliveries,
        destinations::delivery,
        recovery::retry,
        recovery::replay,
        recovery::redeliver,
        admin_log::outbox,
        admin_log::audit,
        admin_log::events,
        admin_log::event,
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&SecuritySchemes, &ErrorResponses),
    tags(
        (name = "merchant", description = "Merchant accounts, KYC, the signing secret and orders (merchant bearer token)"),
        (name = "ingest", description = "Inbound webhooks: merchants' signed orders and provider sources"),
        (name = "admin", description = "KYC review, sources, destinations, deliveries and logs (admin bearer token)"),
        (name = "health", description = "Liveness, readiness, health, stats and metrics"),
        (name = "meta", description = "This document"),
    )
)]
pub struct ApiDoc;

/// The document as served, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .expect("the OpenAPI document serialises")
    })
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn spec() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "merchant_bearer",
            bearer("A merchant access token from POST /api/v1/auth/token."),
        );
        components.add_security_scheme(
            "admin_bearer",
            bearer("An admin API token from `hookgate admin token --email E`."),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-API-Key",
                "The merchant's public key id (not secret).",
            ))),
        );
        components.add_security_scheme(
            "webhook_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "webhook-signature",
                "Standard Webhooks: `v1,<base64 HMAC-SHA256(key, \"<webhook-id>.<webhook-timestamp>.<raw body>\")>`, \
                 several space-separated signatures allowed; the key is the base64-decoded part of the `whsec_` secret.",
            ))),
        );
    }
}

/// Unique operation ids and the error answers of every operation.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, doc: &mut openapi::OpenApi) {
        for (path, item) in doc.paths.paths.iter_mut() {
            let operations = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, op) in operations {
                let Some(op) = op else { continue };
                // Handlers of different resources share names (`list`, `get`): the ids come
                // from the route instead, unique by construction.
                op.operation_id = Some(operation_id(method, path));
                for (status, description) in possible_errors(op) {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::T(error_response(status, description)));
                }
            }
        }
    }
}

/// `get /api/v1/admin/kyc/{kyc_id}` -> `get_admin_kyc_kyc_id`.
fn operation_id(method: &str, path: &str) -> String {
    let path = path.strip_prefix("/api/v1").unwrap_or(path);
    let words = path
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty() && *w != "json");
    std::iter::once(method)
        .chain(words)
        .collect::<Vec<_>>()
        .join("_")
}

/// The error statuses an operation can answer, decided by what it takes.
fn possible_errors(op: &Operation) -> Vec<(u16, &'static str)> {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has = |place: ParameterIn| params.iter().any(|p| p.parameter_in == place);
    let authenticated = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let mut errors = vec![
        (429, "Rate limited (`rate_limited`); see Retry-After"),
        (
            503,
            "Storage unavailable (`storage_unavailable`); see Retry-After",
        ),
    ];
    if authenticated {
        errors.push((401, "Missing, invalid or expired credentials"));
        errors.push((403, "Authenticated but not allowed"));
    }
    if has(ParameterIn::Path) {
        errors.push((404, "No such resource"));
    }
    if has(ParameterIn::Query) || op.request_body.is_some() {
        errors.push((
            400,
            "Malformed query or body (`invalid_query`, `invalid_json`)",
        ));
        errors.push((
            422,
            "Invalid fields (`validation_failed`, with `violations`)",
        ));
    }
    if op.request_body.is_some() {
        errors.push((413, "Body too large"));
        errors.push((415, "Unsupported content type"));
    }
    errors
}

fn error_response(status: u16, description: &str) -> openapi::Response {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    if matches!(status, 429 | 503) {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(<u64 as utoipa::PartialSchema>::schema())
                .description(Some("Seconds to wait before retrying"))
                .build(),
        );
    }
    response.build()
}
