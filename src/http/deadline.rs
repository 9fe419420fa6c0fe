//! A deadline on the whole request body, for every route.
//!
//! actix times out a request's head (`client_request_timeout`) but not its body: a client that
//! sends a header and then one byte a second holds a connection, a file descriptor and a handler
//! for as long as it likes. Here the body must arrive within `--body-timeout` plus one second
//! per 64 KiB it declares (a 5 MiB KYC document over a slow uplink still fits), at most two
//! minutes. Past that the payload stream fails, the handler gives up, and the answer is
//! replaced by 408 `request_timeout` on a connection that is then closed.

use crate::{error::ApiError, state::AppState};
use actix_web::{
    Error, HttpMessage, ResponseError,
    body::{BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::PayloadError,
    http::{ConnectionType, StatusCode, header},
    middleware::Next,
    web,
};
use futures_util::Stream;
use std::{
    future::Future,
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};
use tokio::time::Sleep;

/// Declared bytes that earn one more second.
const BYTES_PER_EXTRA_SECOND: u64 = 64 * 1024;
/// No body gets longer than this, whatever it declares.
const LONGEST: Duration = Duration::from_secs(120);

/// How long a body of `declared` bytes (if known) may take to arrive.
pub fn allowance(base: Duration, declared: Option<u64>) -> Duration {
    let extra = Duration::from_secs(declared.unwrap_or(0) / BYTES_PER_EXTRA_SECOND);
    (base + extra).min(LONGEST.max(base))
}

/// The middleware (`middleware::from_fn`).
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let has_body =
        declared.is_some_and(|n| n > 0) || req.headers().contains_key(header::TRANSFER_ENCODING);
    let base = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.config.body_timeout);
    let (Some(base), true) = (base, has_body) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let limit = allowance(base, declared);
    let timed_out = Arc::new(AtomicBool::new(false));
    let payload = Deadline {
        inner: req.take_payload(),
        sleep: Box::pin(tokio::time::sleep(limit)),
        timed_out: Arc::clone(&timed_out),
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(payload),
    });
    let res = next.call(req).await?;
    if !timed_out.load(Ordering::Relaxed) {
        return Ok(res.map_into_boxed_body());
    }
    let mut timeout = ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        format!(
            "The request body did not arrive within {} s.",
            limit.as_secs_f64()
        ),
    )
    .error_response();
    timeout
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    Ok(res.into_response(timeout))
}

/// The request's payload, failing once the deadline has passed.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl Stream for Deadline {
    type Item = Result<actix_web::web::Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.timed_out.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            this.timed_out.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Pin::new(&mut this.inner).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_declared_bodies_get_more_time_up_to_two_minutes() {
        let base = Duration::from_secs(10);
        assert_eq!(allowance(base, None), base);
        assert_eq!(allowance(base, Some(1000)), base);
        assert_eq!(
            allowance(base, Some(5 * 1024 * 1024)),
            Duration::from_secs(10 + 80)
        );
        assert_eq!(allowance(base, Some(u64::MAX)), LONGEST);
        // An operator's longer base is kept.
        let long = Duration::from_secs(300);
        assert_eq!(allowance(long, Some(u64::MAX)), long);
    }
}
