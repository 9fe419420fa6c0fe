//! A destination for deliveries (CONTRACT section 10) on 127.0.0.1 that the tests start: it
//! records every request and answers with the statuses a test queues.

use super::{TestApp, spawn_app_with};
use reqwest::StatusCode;
use serde_json::Value;
use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A tiny HTTP/1.1 endpoint: answers each request with the next queued status (200 when the
/// queue is empty; 429 and 503 with `Retry-After: 120`, redirects with a `Location` back to the
/// sink) and closes the connection.
#[derive(Clone, Default)]
pub struct Sink {
    received: Arc<Mutex<Vec<Received>>>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

/// An answer that never comes: the request is read and the connection held open.
pub const NO_ANSWER: u16 = 0;

impl Sink {
    pub async fn start() -> (Sink, u16) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sink = Sink::default();
        let serving = sink.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let sink = serving.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let Ok(n) = stream.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let mut lines = head.split("\r\n");
                    let path = lines
                        .next()
                        .and_then(|l| l.split(' ').nth(1))
                        .unwrap_or_default()
                        .to_string();
                    let headers: Vec<(String, String)> = lines
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                        .collect();
                    let length: usize = headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = buf[head_end + 4..].to_vec();
                    while body.len() < length {
                        let Ok(n) = stream.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            break;
                        }
                        body.extend_from_slice(&chunk[..n]);
                    }
                    let status = sink.answers.lock().unwrap().pop_front().unwrap_or(200);
                    sink.received.lock().unwrap().push(Received {
                        path,
                        headers,
                        body,
                    });
                    if status == NO_ANSWER {
                        // Hold the connection without a word until the client gives up on it.
                        while matches!(stream.read(&mut chunk).await, Ok(n) if n > 0) {}
                        return;
                    }
                    // 429 and 503 ask for two minutes; redirects point back at the sink.
                    let extra = match status {
                        429 | 503 => "Retry-After: 120\r\n".to_string(),
                        301 | 302 | 307 | 308 => "Location: /moved\r\n".to_string(),
                        _ => String::new(),
                    };
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\n{extra}Content-Length: 2\r\nConnection: close\r\n\r\nok"
                    );
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        (sink, port)
    }

    /// Queue the statuses of the next requests, in order ([`NO_ANSWER`]: none at all).
    pub fn answer(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }

    /// Forget the queued statuses: every request gets 200 from now on.
    pub fn clear_answers(&self) {
        self.answers.lock().unwrap().clear();
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// The app, allowed to deliver to 127.0.0.1 (where the sink listens), with room for bursts of
/// orders.
pub async fn spawn() -> TestApp {
    spawn_app_with(|o| {
        o.destination_allow = Some("127.0.0.1/32".into());
        o.merchant_rate = Some("1000/s".into());
    })
    .await
}

/// Create a destination (201), returning its body with the signing secret.
pub async fn destination(app: &TestApp, body: Value) -> Value {
    let res = app.admin_post("/api/v1/admin/destinations", body).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body
}

/// The deliveries of a destination, newest first.
pub async fn deliveries_of(app: &TestApp, destination_id: &str) -> Vec<Value> {
    let res = app
        .admin_get(&format!(
            "/api/v1/admin/deliveries?destination_id={destination_id}"
        ))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body["items"].as_array().unwrap().clone()
}
