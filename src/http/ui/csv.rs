//! CSV downloads, streamed a page at a time: a table of any size is never held in memory, and a
//! slow reader holds one page.

use crate::app::AppResult;
use actix_web::{HttpResponse, http::header};
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
