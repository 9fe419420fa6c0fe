//! Admin console: provider sources. The create form is chosen by kind first (`?kind=`), so it
//! shows only the fields that kind takes; errors keep every typed value except secrets.

use super::{
    Chrome, CsrfForm, chrome,
    merchants::{EventRow, event_rows},
};
use crate::{
    app::{
        self,
        sources::{Create, Shown, Stats, Update},
    },
    domain::source::Kind,
    error::ApiError,
    http::{
        session::{AdminSession, verify_csrf},
        ui::{FieldErrors, UiResult, form_error, html, page, redirect, when},
    },
    state::AppState,
    store::orders::EventFilter,
};
use actix_web::{HttpRequest, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;

struct KindOption {
    value: &'static str,
    label: &'static str,
}

fn kinds() -> Vec<KindOption> {
    Kind::ALL
        .iter()
        .map(|k| KindOption {
            value: k.as_str(),
            label: k.label(),
        })
        .collect()
}

struct SourceRow {
    id: String,
    slug: String,
    name: String,
    kind: &'static str,
    ingest_url: String,
    enabled: bool,
    sender_rate: String,
    created: String,
}

fn row(s: &Shown) -> SourceRow {
    SourceRow {
        id: s.source.id.clone(),
        slug: s.source.slug.clone(),
        name: s.source.name.clone(),
        kind: Kind::parse(&s.source.kind).map_or("?", |k| k.label()),
        ingest_url: s.ingest_url.clone(),
        enabled: s.source.enabled,
        sender_rate: s.source.sender_rate.clone().unwrap_or_default(),
        created: when(s.source.created_at),
    }
}

#[derive(Template)]
#[template(path = "admin/sources.html")]
struct SourcesPage {
    chrome: Chrome,
    items: Vec<SourceRow>,
    kinds: Vec<KindOption>,
}

pub(super) async fn sources(state: web::Data<AppState>, s: AdminSession) -> UiResult {
    let items = app::sources::list(&state).await?;
    page(&SourcesPage {
        chrome: chrome(&state, &s, "sources"),
        items: items.iter().map(row).collect(),
        kinds: kinds(),
    })
}

/// The values of the create form, as typed (secrets are never echoed back).
#[derive(Debug, Default, Clone, Deserialize)]
pub(super) struct NewSourceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    verify_token: String,
    #[serde(default)]
    sender_rate: String,
    #[serde(default)]
    header: String,
    #[serde(default)]
    algorithm: String,
    #[serde(default)]
    encoding: String,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    timestamp_header: String,
    #[serde(default)]
    id_header: String,
    #[serde(default)]
    topic_pointer: String,
}

#[derive(Template)]
#[template(path = "admin/source_new.html")]
struct NewSourcePage {
    chrome: Chrome,
    kind: &'static str,
    label: &'static str,
    f: NewSourceForm,
    errors: FieldErrors,
    error: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct KindQuery {
    kind: Option<String>,
}

fn new_page(
    state: &AppState,
    s: &AdminSession,
    kind: Kind,
    f: NewSourceForm,
    errors: FieldErrors,
    error: Option<String>,
) -> NewSourcePage {
    NewSourcePage {
        chrome: chrome(state, s, "sources"),
        kind: kind.as_str(),
        label: kind.label(),
        f: NewSourceForm {
            secret: String::new(),
            verify_token: String::new(),
            ..f
        },
        errors,
        error,
    }
}

pub(super) async fn new_source(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<KindQuery>,
) -> UiResult {
    let Some(kind) = q.kind.as_deref().and_then(Kind::parse) else {
        return redirect("/admin/sources");
    };
    let f = NewSourceForm {
        algorithm: "sha256".into(),
        encoding: "hex".into(),
        ..Default::default()
    };
    page(&new_page(&state, &s, kind, f, FieldErrors::default(), None))
}

fn given(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

pub(super) async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    form: web::Form<NewSourceForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let f = form.into_inner();
    let Some(kind) = Kind::parse(&f.kind) else {
        return redirect("/admin/sources");
    };
    let options = (kind == Kind::Hmac).then(|| {
        let mut o = serde_json::json!({
            "header": f.header.trim(), "algorithm": f.algorithm.trim(), "encoding": f.encoding.trim(),
        });
        for (name, value) in [
            ("prefix", &f.prefix),
            ("timestamp_header", &f.timestamp_header),
            ("id_header", &f.id_header),
            ("topic_pointer", &f.topic_pointer),
        ] {
            if let Some(v) = given(value) {
                o[name] = serde_json::Value::String(v);
            }
        }
        o
    });
    let request = Create {
        slug: Some(f.slug.trim().to_string()),
        name: given(&f.name),
        kind: Some(kind.as_str().to_string()),
        secret: given(&f.secret),
        verify_token: (kind == Kind::Meta).then(|| f.verify_token.clone()),
        options,
        sender_rate: given(&f.sender_rate),
    };
    match app::sources::create(&state, &s.actor(), request).await {
        Ok(created) => match created.generated_secret {
            // Shown once, on this page only.
            Some(secret) => {
                source_page(&state, &s, created.shown.source.id, Some(secret), None).await
            }
            None => redirect(&format!(
                "/admin/sources/{}?done=created",
                created.shown.source.id
            )),
        },
        Err(e) if e.is_users_fault() => {
            let e = ApiError::from(e);
            let status = e.status;
            let (errors, error) = form_error(e);
            Ok(html(status, &new_page(&state, &s, kind, f, errors, error)))
        }
        Err(e) => Err(e.into()),
    }
}

struct FailureRow {
    at: String,
    ip: String,
    reason: &'static str,
}

#[derive(Template)]
#[template(path = "admin/source.html")]
struct SourcePage {
    chrome: Chrome,
    s: SourceRow,
    stats: Stats,
    failures: Vec<FailureRow>,
    events: Vec<EventRow>,
    secret: Option<String>,
    notice: Option<String>,
    errors: FieldErrors,
    error: Option<String>,
}

async fn source_page(
    state: &AppState,
    session: &AdminSession,
    id: String,
    secret: Option<String>,
    notice: Option<String>,
) -> UiResult {
    source_page_with(
        state,
        session,
        id,
        secret,
        notice,
        FieldErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn source_page_with(
    state: &AppState,
    session: &AdminSession,
    id: String,
    secret: Option<String>,
    notice: Option<String>,
    errors: FieldErrors,
    error: Option<String>,
    status: StatusCode,
) -> UiResult {
    let shown = app::sources::get(state, &id).await?;
    let stats = app::sources::stats_24h(state, &shown.source.slug).await?;
    let failures = state
        .sources
        .recent_failures(&shown.source.slug)
        .into_iter()
        .map(|f| FailureRow {
            at: when(f.at),
            ip: f.ip.to_string(),
            reason: f.reason,
        })
        .collect();
    let filter = EventFilter {
        source: Some(shown.source.slug.clone()),
        ..Default::default()
    };
    let page = app::paging::PageRequest {
        limit: 20,
        cursor: None,
    };
    let events = app::events::list(state, filter, page).await?;
    Ok(html(
        status,
        &SourcePage {
            chrome: chrome(state, session, "sources"),
            s: row(&shown),
            stats,
            failures,
            events: event_rows(&events.items),
            secret,
            notice,
            errors,
            error,
        },
    ))
}

#[derive(Deserialize)]
pub(super) struct DoneQuery {
    done: Option<String>,
}

pub(super) async fn source(
    state: web::Data<AppState>,
    s: AdminSession,
    path: web::Path<String>,
    q: web::Query<DoneQuery>,
) -> UiResult {
    let notice = match q.done.as_deref() {
        Some("created") => {
            Some("Source created. Paste the ingest URL into the provider's webhook settings.")
        }
        Some("enabled") => Some("Enabled: the ingest URL takes requests again."),
        Some("disabled") => Some("Disabled: the ingest URL answers 404 unknown_source."),
        Some("saved") => Some("Settings saved."),
        Some("rotated") => {
            Some("New secret in use; the previous one verifies until the overlap ends.")
        }
        _ => None,
    };
    source_page(
        &state,
        &s,
        path.into_inner(),
        None,
        notice.map(str::to_string),
    )
    .await
}

pub(super) async fn set_enabled(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let (id, to) = path.into_inner();
    let enabled = match to.as_str() {
        "enable" => true,
        "disable" => false,
        _ => return Err(ApiError::not_found("not_found", "No such action.").into()),
    };
    let change = Update {
        enabled: Some(enabled),
        ..Default::default()
    };
    app::sources::update(&state, &s.actor(), &id, change).await?;
    redirect(&format!("/admin/sources/{id}?done={to}d"))
}

/// The source's page again, with the violations of a refused settings or rotation form.
async fn refused(state: &AppState, s: &AdminSession, id: String, e: app::Error) -> UiResult {
    let (errors, error) = form_error(ApiError::from(e));
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    source_page_with(state, s, id, None, None, errors, error, status).await
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    sender_rate: String,
}

pub(super) async fn settings(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<SettingsForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let id = path.into_inner();
    let change = Update {
        name: Some(form.name.clone()),
        enabled: None,
        sender_rate: Some(given(&form.sender_rate)),
    };
    match app::sources::update(&state, &s.actor(), &id, change).await {
        Ok(_) => redirect(&format!("/admin/sources/{id}?done=saved")),
        Err(e @ app::Error::Invalid(_)) => refused(&state, &s, id, e).await,
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub(super) struct SecretForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    secret: String,
}

pub(super) async fn rotate(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<SecretForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let id = path.into_inner();
    match app::sources::rotate_secret(&state, &s.actor(), &id, given(&form.secret)).await {
        Ok(rotated) => match rotated.generated_secret {
            Some(secret) => {
                let notice =
                    "New secret generated; the previous one verifies until the overlap ends.";
                source_page(&state, &s, id, Some(secret), Some(notice.into())).await
            }
            None => redirect(&format!("/admin/sources/{id}?done=rotated")),
        },
        Err(e @ app::Error::Invalid(_)) => refused(&state, &s, id, e).await,
        Err(e) => Err(e.into()),
    }
}
