//! What the HTML pages share: rendering askama templates, the HTML error page, form helpers.

pub mod admin;
pub mod charts;
pub mod csv;
pub mod merchant;

use crate::error::{ApiError, Violation};
use actix_web::{HttpRequest, HttpResponse, ResponseError, http::StatusCode, http::header};
use askama::Template;
use std::fmt;

/// An error on an HTML route, answered with the rendered error page.
#[derive(Debug)]
pub struct UiError(pub ApiError);

impl fmt::Display for UiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError(e)
    }
}

impl From<crate::app::Error> for UiError {
    fn from(e: crate::app::Error) -> Self {
        UiError(e.into())
    }
}

impl From<crate::store::StoreError> for UiError {
    fn from(e: crate::store::StoreError) -> Self {
        UiError(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl ResponseError for UiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let title = self.0.status.canonical_reason().unwrap_or("Error");
        let page = ErrorPage {
            status: self.0.status.as_u16(),
            title,
            message: &self.0.message,
        };
        let mut res = html(self.0.status, &page);
        if let Some(secs) = self.0.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        res
    }
}

/// The result of an HTML handler.
pub type UiResult = Result<HttpResponse, UiError>;

/// Render a template with a status; a template failure is logged and answered as a plain 500.
pub fn html<T: Template>(status: StatusCode, page: &T) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body("Internal error")
        }
    }
}

/// Render with 200.
pub fn page<T: Template>(page: &T) -> UiResult {
    Ok(html(StatusCode::OK, page))
}

/// 303 See Other to `to` (POST-redirect-GET).
pub fn redirect(to: &str) -> UiResult {
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish())
}

/// The HTML 404 for unknown page routes.
pub fn not_found_page(req: &HttpRequest) -> HttpResponse {
    UiError(ApiError::not_found(
        "not_found",
        format!("There is no page at {}.", req.path()),
    ))
    .error_response()
}

/// The email-and-password form of both login pages.
#[derive(serde::Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub csrf: String,
    pub email: String,
    pub password: String,
}

/// Field errors of a form, looked up by field name in templates.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(pub Vec<Violation>);

impl FieldErrors {
    /// The first error of `field`, if any.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|v| v.field == field)
            .map(|v| v.message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The id of `field`'s error text, for `aria-describedby`.
    pub fn id(field: &str) -> String {
        format!("error-{}", field.replace(['.', '_'], "-"))
    }

    /// The attributes of `field`'s control: when it has an error, `aria-invalid`, the error text
    /// it is described by, and `autofocus` on the first field in error. Field names are the code's
    /// own, never user input, so the text is safe to insert unescaped.
    pub fn attrs(&self, field: &str) -> String {
        if self.get(field).is_none() {
            return String::new();
        }
        let first = self.0.first().is_some_and(|v| v.field == field);
        format!(
            r#"aria-invalid="true" aria-describedby="{}"{}"#,
            Self::id(field),
            if first { " autofocus" } else { "" }
        )
    }
}

/// Split an error into field errors (validation) or a general message.
pub fn form_error(e: ApiError) -> (FieldErrors, Option<String>) {
    if e.violations.is_empty() {
        (FieldErrors::default(), Some(e.message))
    } else {
        (FieldErrors(e.violations), None)
    }
}

/// Format unix seconds for people (UTC, minutes).
pub fn when(ts: i64) -> String {
    let s = crate::clock::rfc3339(ts);
    s.get(..16)
        .map(|d| format!("{} UTC", d.replace('T', " ")))
        .unwrap_or(s)
}

/// A stored KYC status (`changes_requested`) as people read it ("Changes requested"); for the
/// templates, which hold statuses as text.
pub fn kyc_label(status: &str) -> &'static str {
    crate::domain::KycStatus::parse(status).map_or("Unknown", crate::domain::KycStatus::label)
}

/// Format unix milliseconds for people (UTC, seconds).
pub fn when_ms(ms: i64) -> String {
    let s = crate::clock::rfc3339_ms(ms);
    s.get(..19)
        .map(|d| format!("{} UTC", d.replace('T', " ")))
        .unwrap_or(s)
}

/// Percent-encode a value for a query string (unreserved characters and `@` stay as they are).
pub fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The links of a two-way page: (newer, older), each made by `link(side, cursor)`.
pub fn pager<T>(
    page: Option<&crate::app::paging::TwoWayPage<T>>,
    link: impl Fn(&str, &str) -> String,
) -> (Option<String>, Option<String>) {
    let side = |cursor: Option<&String>, name| cursor.map(|c| link(name, c));
    match page {
        Some(p) => (
            side(p.newer.as_ref(), "newer"),
            side(p.older.as_ref(), "older"),
        ),
        None => (None, None),
    }
}

/// Violations of a page's filters, as one sentence.
pub fn violations_text(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{} {}", v.field, v.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A stored body for reading: pretty JSON, or the text as it came.
pub fn pretty_body(raw: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned())
}

/// The stored JSON of an event's headers as (name, value) pairs, sorted by name.
pub fn header_pairs(json: &str) -> Vec<(String, String)> {
    serde_json::from_str::<std::collections::BTreeMap<String, String>>(json)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// A stored code as words for people: `validation_failed` → "Validation failed",
/// `OUT_FOR_DELIVERY` → "Out for delivery".
pub fn words(code: &str) -> String {
    let spaced = code.replace(['_', '.'], " ").to_lowercase();
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_read_as_words() {
        assert_eq!(super::words("OUT_FOR_DELIVERY"), "Out for delivery");
        assert_eq!(super::words("validation_failed"), "Validation failed");
        assert_eq!(super::words(""), "");
    }
}
