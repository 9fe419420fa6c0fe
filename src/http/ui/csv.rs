//! CSV downloads, streamed a page at a time: a table of any size is never held in memory, and a
//! slow reader holds one page.

use crate::{
    app::{
        self, AppResult,
        paging::{self, Side, Window},
    },
    state::AppState,
    store::orders::{EventFilter, OrderFilter},
};
use actix_web::{HttpResponse, http::header, web};
use bytes::Bytes;
use std::future::Future;

/// Append one CSV field (RFC 4180 quoting). A field that a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab, CR first) gets a leading `'`, so an exported value cannot execute.
pub fn field(out: &mut String, value: &str) {
    let guarded = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quoted = guarded || value.contains([',', '"', '\n', '\r']);
    if quoted {
        out.push('"');
    }
    if guarded {
        out.push('\'');
    }
    for c in value.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quoted {
        out.push('"');
    }
}

/// Append one record.
pub fn record<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, value) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, value);
    }
    out.push_str("\r\n");
}

/// A `text/csv` attachment named `filename`: the `header` record, then the records of each page
/// `next` renders from a cursor (`None` first) until it returns no further cursor. An error after
/// the first page ends the file early (the status is already sent) and is logged.
pub fn download<F, Fut>(filename: &str, header: &[&str], mut next: F) -> HttpResponse
where
    F: FnMut(Option<String>) -> Fut + 'static,
    Fut: Future<Output = AppResult<(String, Option<String>)>> + 'static,
{
    let mut head = String::new();
    record(&mut head, header.iter().copied());
    // (the header not yet sent, the cursor of the next page; None when done)
    let start = (Some(head), Some(None::<String>));
    let body = futures_util::stream::unfold(start, move |(head, cursor)| {
        let page = cursor.map(&mut next);
        async move {
            let mut chunk = head.unwrap_or_default();
            let cursor = match page {
                None => return None,
                Some(page) => match page.await {
                    Ok((rows, next_cursor)) => {
                        chunk.push_str(&rows);
                        next_cursor.map(Some)
                    }
                    Err(e) => {
                        tracing::warn!(error = ?e, "a CSV download ended early");
                        None
                    }
                },
            };
            Some((
                Ok::<_, actix_web::Error>(Bytes::from(chunk)),
                (None, cursor),
            ))
        }
    });
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body)
}

/// Rows of the CSV downloads: how many are read from the store at a time.
const ROWS_PER_READ: u32 = crate::app::paging::MAX_LIMIT;

/// The events `filter` selects, newest first, as a CSV download (no bodies: the event page has
/// them).
pub fn events(state: web::Data<AppState>, filter: EventFilter, filename: &str) -> HttpResponse {
    download(
        filename,
        &[
            "received_at",
            "event_id",
            "source",
            "merchant_id",
            "webhook_id",
            "topic",
            "outcome",
            "reason",
            "order_id",
            "client_ip",
            "duration_ms",
        ],
        move |cursor| {
            let (state, filter) = (state.clone(), filter.clone());
            async move {
                let window = Window {
                    limit: ROWS_PER_READ,
                    cursor: cursor.as_deref().and_then(paging::seq_cursor),
                    side: Side::Older,
                };
                let page = app::events::page(&state, filter, window).await?;
                let mut rows = String::new();
                for e in &page.items {
                    let duration = format!("{:.3}", e.duration_us as f64 / 1000.0);
                    record(
                        &mut rows,
                        [
                            crate::clock::rfc3339_ms(e.received_at_ms).as_str(),
                            &e.id,
                            &e.source,
                            e.merchant_id.as_deref().unwrap_or_default(),
                            &e.webhook_id,
                            &e.topic,
                            &e.outcome,
                            &e.reason,
                            e.order_id.as_deref().unwrap_or_default(),
                            &e.client_ip,
                            &duration,
                        ],
                    );
                }
                Ok((rows, page.older))
            }
        },
    )
}

/// A merchant's orders `filter` selects, newest first, as a CSV download.
pub fn orders(
    state: web::Data<AppState>,
    merchant_id: String,
    filter: OrderFilter,
) -> HttpResponse {
    download(
        "hookgate-orders.csv",
        &[
            "order_id",
            "reference",
            "customer_name",
            "customer_email",
            "customer_phone",
            "items",
            "address",
            "status",
            "created_at",
            "updated_at",
        ],
        move |cursor| {
            let (state, filter, merchant_id) = (state.clone(), filter.clone(), merchant_id.clone());
            async move {
                let window = Window {
                    limit: ROWS_PER_READ,
                    cursor,
                    side: Side::Older,
                };
                let page = app::orders::page(&state, &merchant_id, filter, window).await?;
                let mut rows = String::new();
                for o in &page.items {
                    record(
                        &mut rows,
                        [
                            o.id.as_str(),
                            o.merchant_reference.as_deref().unwrap_or_default(),
                            &o.customer_name,
                            &o.customer_email,
                            &o.customer_phone,
                            &o.item_summary,
                            &o.address,
                            &o.tracking_status,
                            &crate::clock::rfc3339(o.created_at),
                            &crate::clock::rfc3339(o.updated_at),
                        ],
                    );
                }
                Ok((rows, page.older))
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_needed_and_formulas_are_defused() {
        let mut out = String::new();
        record(
            &mut out,
            [
                "plain",
                "a,b",
                "say \"hi\"",
                "two\nlines",
                "=SUM(A1)",
                "-1",
                "@x",
            ],
        );
        assert_eq!(
            out,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"'=SUM(A1)\",\"'-1\",\"'@x\"\r\n"
        );
    }
}
