//! Admin console: destinations and their deliveries.

use super::{Chrome, chrome};
use crate::{
    app::{self, destinations::Shown, paging},
    error::ApiError,
    http::{
        session::{AdminSession, verify_csrf},
        ui::{FieldErrors, UiResult, form_error, html, page, query_escape, when, when_ms},
    },
    state::AppState,
    store::deliveries::Delivery,
};
use actix_web::{HttpRequest, http::StatusCode, web};
use askama::Template;
use serde::Deserialize;
use serde_json::{Value, json};

struct DestinationRow {
    id: String,
    name: String,
    url: String,
    enabled: bool,
    disabled_reason: String,
    circuit: String,
    next_probe: String,
    pending: i64,
    failed: i64,
    oldest_pending: String,
    filters: String,
}

async fn row(state: &AppState, s: &Shown) -> Result<DestinationRow, ApiError> {
    let (pending, failed, oldest) = app::destinations::queue_state(state, &s.row.id).await?;
    let list = |l: &Option<Vec<String>>| l.as_ref().map(|v| v.join(", "));
    Ok(DestinationRow {
        id: s.row.id.clone(),
        name: s.row.name.clone(),
        url: s.row.url.clone(),
        enabled: s.row.enabled,
        disabled_reason: s.row.disabled_reason.clone().unwrap_or_default(),
        circuit: s.row.circuit_state.clone(),
        next_probe: s.row.circuit_until_ms.map(when_ms).unwrap_or_default(),
        pending,
        failed,
        oldest_pending: oldest.map(when).unwrap_or_else(|| "–".into()),
        filters: format!(
            "sources: {}; topics: {}",
            list(&s.sources).unwrap_or_else(|| "all".into()),
            list(&s.topics).unwrap_or_else(|| "all".into())
        ),
    })
}

#[derive(Default, Clone, Deserialize)]
pub(super) struct NewDestinationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    sources: String,
    #[serde(default)]
    topics: String,
}

#[derive(Template)]
#[template(path = "admin/destinations.html")]
struct DestinationsPage {
    chrome: Chrome,
    items: Vec<DestinationRow>,
    f: NewDestinationForm,
    errors: FieldErrors,
    error: Option<String>,
}

async fn list_page(
    state: &AppState,
    s: &AdminSession,
    f: NewDestinationForm,
    errors: FieldErrors,
    error: Option<String>,
    status: StatusCode,
) -> UiResult {
    let mut items = Vec::new();
    for d in app::destinations::list(state).await? {
        items.push(row(state, &d).await?);
    }
    Ok(html(
        status,
        &DestinationsPage {
            chrome: chrome(state, s, "destinations"),
            items,
            f,
            errors,
            error,
        },
    ))
}

pub(super) async fn destinations(state: web::Data<AppState>, s: AdminSession) -> UiResult {
    list_page(
        &state,
        &s,
        NewDestinationForm::default(),
        FieldErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

/// A comma-separated field as a JSON list (empty: all).
fn list_field(raw: &str) -> Value {
    let items: Vec<&str> = raw
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if items.is_empty() {
        Value::Null
    } else {
        json!(items)
    }
}

pub(super) async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    form: web::Form<NewDestinationForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let f = form.into_inner();
    let body = json!({
        "name": f.name.trim(), "url": f.url.trim(),
        "sources": list_field(&f.sources), "topics": list_field(&f.topics),
    });
    match app::destinations::create(&state, &s.actor(), body).await {
        Ok(created) => {
            destination_page(
                &state,
                &s,
                &created.shown.row.id,
                Some(created.signing_secret),
                None,
            )
            .await
        }
        Err(e @ app::Error::Invalid(_)) => {
            let e = ApiError::from(e);
            let status = e.status;
            let (errors, error) = form_error(e);
            list_page(&state, &s, f, errors, error, status).await
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) struct DeliveryRow {
    pub(super) id: String,
    pub(super) event_id: String,
    pub(super) status: String,
    pub(super) attempts: i64,
    pub(super) next: String,
    pub(super) last: String,
    pub(super) created: String,
}

pub(super) fn delivery_row(d: &Delivery) -> DeliveryRow {
    DeliveryRow {
        id: d.id.clone(),
        event_id: d.event_id.clone(),
        status: d.status.clone(),
        attempts: d.attempts,
        next: if d.status == "pending" {
            when_ms(d.next_attempt_ms)
        } else {
            "–".into()
        },
        last: match (d.last_status_code, &d.last_error) {
            (Some(code), _) => code.to_string(),
            (None, Some(e)) => e.clone(),
            (None, None) => "–".into(),
        },
        created: when(d.created_at),
    }
}

#[derive(Template)]
#[template(path = "admin/destination.html")]
struct DestinationPage {
    chrome: Chrome,
    d: DestinationRow,
    /// SVG of the attempts per hour (server-rendered, no script).
    chart: String,
    retry: String,
    circuit_settings: String,
    timeout: String,
    deliveries: Vec<DeliveryRow>,
    secret: Option<String>,
    notice: Option<String>,
}

async fn destination_page(
    state: &AppState,
    s: &AdminSession,
    id: &str,
    secret: Option<String>,
    notice: Option<String>,
) -> UiResult {
    let shown = app::destinations::get(state, id).await?;
    let page_request = paging::PageRequest {
        limit: 20,
        cursor: None,
    };
    let recent =
        app::deliveries::list(state, Some(id.to_string()), None, None, page_request).await?;
    let hours = app::destinations::outcomes_per_hour(state, id).await?;
    let labels: Vec<String> = hours
        .iter()
        .map(|(t, _, _)| crate::clock::rfc3339(*t)[11..13].to_string() + "h")
        .collect();
    let succeeded: Vec<u64> = hours.iter().map(|h| h.1).collect();
    let failed: Vec<u64> = hours.iter().map(|h| h.2).collect();
    let chart = crate::http::ui::charts::stacked_bars(
        "Attempts per hour",
        &labels,
        &[
            crate::http::ui::charts::Series {
                label: "succeeded",
                color: "#2e7d32",
                values: &succeeded,
            },
            crate::http::ui::charts::Series {
                label: "failed",
                color: "#c62828",
                values: &failed,
            },
        ],
    );
    page(&DestinationPage {
        chrome: chrome(state, s, "destinations"),
        chart,
        d: row(state, &shown).await?,
        retry: shown.retry.to_string(),
        circuit_settings: shown.circuit.to_string(),
        timeout: format!("{} s", shown.row.timeout_ms / 1000),
        deliveries: recent.items.iter().map(delivery_row).collect(),
        secret,
        notice,
    })
}

#[derive(Deserialize)]
pub(super) struct DoneQuery {
    done: Option<String>,
}

pub(super) async fn destination(
    state: web::Data<AppState>,
    s: AdminSession,
    path: web::Path<String>,
    q: web::Query<DoneQuery>,
) -> UiResult {
    let notice = match q.done.as_deref() {
        Some("enabled") => Some("Enabled: waiting deliveries go again.".to_string()),
        Some("disabled") => Some("Disabled: deliveries wait until it is enabled.".to_string()),
        Some("replayed") => Some("Replay started: the dead letters go again.".to_string()),
        Some("saved") => Some("Settings saved.".to_string()),
        _ => None,
    };
    destination_page(&state, &s, &path, None, notice).await
}

pub(super) async fn set_enabled(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<(String, String)>,
    form: web::Form<super::CsrfForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let (id, action) = path.into_inner();
    let enabled = match action.as_str() {
        "enable" => true,
        "disable" => false,
        _ => return Err(ApiError::not_found("not_found", "No such action.").into()),
    };
    app::destinations::update(&state, &s.actor(), &id, json!({ "enabled": enabled })).await?;
    crate::http::ui::redirect(&format!("/admin/destinations/{id}?done={action}d"))
}

#[derive(Deserialize)]
pub(super) struct DeliveriesQuery {
    destination_id: Option<String>,
    event_id: Option<String>,
    status: Option<String>,
    cursor: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/deliveries.html")]
struct DeliveriesPage {
    chrome: Chrome,
    /// (id, name) of every destination, for the filter's picker.
    destinations: Vec<(String, String)>,
    destination_id: String,
    event_id: String,
    status: String,
    items: Vec<DeliveryRow>,
    next_link: Option<String>,
}

pub(super) async fn deliveries(
    state: web::Data<AppState>,
    s: AdminSession,
    q: web::Query<DeliveriesQuery>,
) -> UiResult {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let (destination_id, event_id, status) =
        (text(&q.destination_id), text(&q.event_id), text(&q.status));
    let page_request = paging::request(Some(50), q.cursor.as_deref())?;
    let found = app::deliveries::list(
        &state,
        Some(destination_id.clone()),
        Some(event_id.clone()),
        Some(&status),
        page_request,
    )
    .await?;
    let next_link = found.next_cursor.map(|c| {
        format!(
            "/admin/deliveries?destination_id={}&event_id={}&status={}&cursor={c}",
            query_escape(&destination_id),
            query_escape(&event_id),
            query_escape(&status)
        )
    });
    let destinations = app::destinations::list(&state)
        .await?
        .into_iter()
        .map(|d| (d.row.id, d.row.name))
        .collect();
    page(&DeliveriesPage {
        chrome: chrome(&state, &s, "deliveries"),
        destinations,
        destination_id,
        event_id,
        status,
        items: found.items.iter().map(delivery_row).collect(),
        next_link,
    })
}

struct AttemptView {
    at: String,
    status_code: String,
    duration: String,
    error: String,
    excerpt: String,
}

#[derive(Template)]
#[template(path = "admin/delivery.html")]
struct DeliveryPage {
    chrome: Chrome,
    notice: Option<String>,
    d: DeliveryRow,
    destination_id: String,
    attempts: Vec<AttemptView>,
}

pub(super) async fn delivery(
    state: web::Data<AppState>,
    s: AdminSession,
    path: web::Path<String>,
    q: web::Query<DoneQuery>,
) -> UiResult {
    let (d, attempts) = app::deliveries::get(&state, &path).await?;
    page(&DeliveryPage {
        chrome: chrome(&state, &s, "deliveries"),
        notice: (q.done.as_deref() == Some("retried"))
            .then(|| "Retry queued: it goes within a moment, with a fresh set of attempts.".into()),
        destination_id: d.destination_id.clone(),
        d: delivery_row(&d),
        attempts: attempts
            .into_iter()
            .map(|a| AttemptView {
                at: when_ms(a.at_ms),
                status_code: a
                    .status_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "–".into()),
                duration: format!("{} ms", a.duration_ms),
                error: a.error.unwrap_or_default(),
                excerpt: a.excerpt.unwrap_or_default(),
            })
            .collect(),
    })
}

/// The console's own answers after a recovery action, on the page it came from.
fn back_to(path: &str, done: &str) -> UiResult {
    crate::http::ui::redirect(&format!("{path}?done={done}"))
}

pub(super) async fn retry(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<super::CsrfForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let id = path.into_inner();
    app::recovery::retry(&state, &s.actor(), &id).await?;
    back_to(&format!("/admin/deliveries/{id}"), "retried")
}

#[derive(Deserialize)]
pub(super) struct ReplayForm {
    #[serde(default)]
    csrf: String,
    /// Empty: count first; `yes`: replay.
    #[serde(default)]
    confirm: String,
}

#[derive(Template)]
#[template(path = "admin/replay.html")]
struct ReplayPage {
    chrome: Chrome,
    destination_id: String,
    name: String,
    matched: u64,
}

/// Dead letters of a destination sent again: the first post counts them (a dry run), the page
/// asks to confirm with that number, the second post replays.
pub(super) async fn replay(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<ReplayForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let id = path.into_inner();
    let confirmed = form.confirm == "yes";
    let mut body = serde_json::Map::new();
    body.insert("status".into(), json!("failed"));
    body.insert("dry_run".into(), json!(!confirmed));
    let matched = app::recovery::replay(&state, &s.actor(), &id, &body).await?;
    if confirmed {
        return back_to(&format!("/admin/destinations/{id}"), "replayed");
    }
    let shown = app::destinations::get(&state, &id).await?;
    page(&ReplayPage {
        chrome: chrome(&state, &s, "deliveries"),
        destination_id: id,
        name: shown.row.name,
        matched,
    })
}

pub(super) async fn redeliver(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<super::CsrfForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let id = path.into_inner();
    app::recovery::redeliver(&state, &s.actor(), &id).await?;
    back_to(&format!("/admin/events/{id}"), "redelivered")
}

pub(super) async fn rotate(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<super::CsrfForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let id = path.into_inner();
    let secret = app::destinations::rotate_secret(&state, &s.actor(), &id).await?;
    let notice = "New signing secret: attempts carry both signatures until the overlap ends.";
    destination_page(&state, &s, &id, Some(secret), Some(notice.into())).await
}

pub(super) async fn send_test(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<super::CsrfForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let id = path.into_inner();
    let t = app::destinations::send_test(&state, &id).await?;
    let notice = match (t.delivered, t.status_code, t.error) {
        (true, Some(code), _) => format!("Test delivered: {code} in {} ms.", t.duration_ms),
        (_, _, Some(error)) => format!("Test not delivered: {error} ({} ms).", t.duration_ms),
        _ => "Test not delivered.".to_string(),
    };
    destination_page(&state, &s, &id, None, Some(notice)).await
}

/// The settings form of a destination, as typed.
#[derive(Default, Clone, Deserialize)]
pub(super) struct SettingsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    sources: String,
    #[serde(default)]
    topics: String,
    #[serde(default)]
    timeout: String,
    #[serde(default)]
    strategy: String,
    #[serde(default)]
    max_attempts: String,
    #[serde(default)]
    base_delay: String,
    #[serde(default)]
    max_delay: String,
    #[serde(default)]
    failure_threshold: String,
    #[serde(default)]
    cooldown: String,
}

#[derive(Template)]
#[template(path = "admin/destination_edit.html")]
struct EditPage {
    chrome: Chrome,
    id: String,
    f: SettingsForm,
    errors: FieldErrors,
    error: Option<String>,
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub(super) async fn edit(
    state: web::Data<AppState>,
    s: AdminSession,
    path: web::Path<String>,
) -> UiResult {
    let d = app::destinations::get(&state, &path).await?;
    let f = SettingsForm {
        name: d.row.name.clone(),
        url: d.row.url.clone(),
        sources: d.sources.clone().unwrap_or_default().join(", "),
        topics: d.topics.clone().unwrap_or_default().join(", "),
        timeout: format!("{}s", d.row.timeout_ms / 1000),
        strategy: text_of(&d.retry["strategy"]),
        max_attempts: text_of(&d.retry["max_attempts"]),
        base_delay: text_of(&d.retry["base_delay"]),
        max_delay: text_of(&d.retry["max_delay"]),
        failure_threshold: text_of(&d.circuit["failure_threshold"]),
        cooldown: text_of(&d.circuit["cooldown"]),
        ..Default::default()
    };
    page(&EditPage {
        chrome: chrome(&state, &s, "destinations"),
        id: d.row.id,
        f,
        errors: FieldErrors::default(),
        error: None,
    })
}

/// A number field as JSON: a number when it reads as one, else the text (so the violation
/// names what was typed).
fn number_or_text(raw: &str) -> Value {
    raw.trim()
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(raw.trim()))
}

pub(super) async fn save(
    state: web::Data<AppState>,
    req: HttpRequest,
    s: AdminSession,
    path: web::Path<String>,
    form: web::Form<SettingsForm>,
) -> UiResult {
    verify_csrf(&state, &req, &form.csrf)?;
    let id = path.into_inner();
    let f = form.into_inner();
    let mut retry = json!({
        "strategy": f.strategy.trim(),
        "max_attempts": number_or_text(&f.max_attempts),
    });
    if f.strategy.trim() != "standard" {
        retry["base_delay"] = json!(f.base_delay.trim());
        retry["max_delay"] = json!(f.max_delay.trim());
    }
    let body = json!({
        "name": f.name.trim(), "url": f.url.trim(),
        "sources": list_field(&f.sources), "topics": list_field(&f.topics),
        "timeout": f.timeout.trim(), "retry": retry,
        "circuit": {"failure_threshold": number_or_text(&f.failure_threshold),
                    "cooldown": f.cooldown.trim()},
    });
    match app::destinations::update(&state, &s.actor(), &id, body).await {
        Ok(_) => back_to(&format!("/admin/destinations/{id}"), "saved"),
        Err(e @ app::Error::Invalid(_)) => {
            let e = ApiError::from(e);
            let status = e.status;
            let (errors, error) = form_error(e);
            Ok(html(
                status,
                &EditPage {
                    chrome: chrome(&state, &s, "destinations"),
                    id,
                    f,
                    errors,
                    error,
                },
            ))
        }
        Err(e) => Err(e.into()),
    }
}
