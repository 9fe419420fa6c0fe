//! Requests (built and signed before they are timed) and the lean HTTP/1.1 keep-alive client
//! that sends them.

use std::io;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Order webhook `n` (unique webhook-id and merchant_reference: each creates an order, 201),
/// signed now, as the raw bytes of an HTTP/1.1 request.
fn order_request(key_id: &str, key: &[u8], n: usize) -> Vec<u8> {
    let body = format!(
        r#"{{"customer_details":{{"name":"John Doe","email":"john@example.com","phone":"+2348123456789"}},"item_summary":"iPhone 15 x2","address":"123 Main St, Lagos","tracking_status":"PENDING","merchant_reference":"bench-{n}"}}"#
    );
    let id = format!("msg_bench_{n:08}");
    let ts = unix_now();
    let signature = hookgate::domain::signature::sign(key, &id, ts, body.as_bytes());
    format!(
        "POST /api/v1/webhooks/orders/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key_id}\r\n\
         webhook-id: {id}\r\nwebhook-timestamp: {ts}\r\nwebhook-signature: {signature}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn order_batch(key_id: &str, key: &[u8], from: usize, n: usize) -> Arc<Vec<Vec<u8>>> {
    Arc::new(
        (from..from + n)
            .map(|i| order_request(key_id, key, i))
            .collect(),
    )
}

/// The GitHub secret of the benchmark's source.
pub const GITHUB_SECRET: &str = "benchmark github secret";

/// A GitHub `push` delivery `n` of about 1 KiB (unique `X-GitHub-Delivery`), signed with
/// HMAC-SHA256 as GitHub does, to `/in/{slug}`.
fn github_request(slug: &str, n: usize) -> Vec<u8> {
    let filler = "x".repeat(800);
    let body = format!(
        r#"{{"ref":"refs/heads/main","before":"{n:040}","after":"{n:040}","repository":{{"full_name":"acme/shop"}},"pusher":{{"name":"bench"}},"note":"{filler}"}}"#
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, GITHUB_SECRET.as_bytes());
    let signature = hex::encode(ring::hmac::sign(&key, body.as_bytes()));
    format!(
        "POST /in/{slug} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-GitHub-Event: push\r\n\
         X-GitHub-Delivery: bench-{n:012}\r\nX-Hub-Signature-256: sha256={signature}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn github_batch(slug: &str, from: usize, n: usize) -> Arc<Vec<Vec<u8>>> {
    Arc::new((from..from + n).map(|i| github_request(slug, i)).collect())
}

pub const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

// ---------------------------------------------------------------------------------------------
// A lean HTTP/1.1 keep-alive client: write the request, read up to the end of the head, parse
// the status and Content-Length, read exactly that much body.

pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The server said `Connection: close`; open a new connection before the next request.
    pub closed: bool,
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

impl Conn {
    pub async fn open(port: u16) -> io::Result<Conn> {
        Conn::open_from(port, std::net::Ipv4Addr::LOCALHOST).await
    }

    /// A connection from a chosen loopback address (any of 127.0.0.0/8), so that one machine
    /// can play many client IPs.
    pub async fn open_from(port: u16, source: std::net::Ipv4Addr) -> io::Result<Conn> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind((source, 0).into())?;
        let stream = socket
            .connect((std::net::Ipv4Addr::LOCALHOST, port).into())
            .await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(8192),
            closed: false,
        })
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.buf.capacity() - self.buf.len() < 2048 {
            self.buf.reserve(8192);
        }
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(())
    }

    /// Send one request and read its response; returns the status code.
    pub async fn exchange(&mut self, request: &[u8]) -> io::Result<u16> {
        self.exchange_keeping(request, None).await
    }

    /// [`Conn::exchange`], copying the response body into `body` (cleared first) when given.
    pub async fn exchange_keeping(
        &mut self,
        request: &[u8],
        body: Option<&mut Vec<u8>>,
    ) -> io::Result<u16> {
        self.stream.write_all(request).await?;
        let mut scanned = 0;
        let head_end = loop {
            if let Some(i) = self.buf[scanned..]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
            {
                break scanned + i;
            }
            scanned = self.buf.len().saturating_sub(3);
            self.fill().await?;
        };
        let head = &self.buf[..head_end];
        if head.len() < 12 || !head.starts_with(b"HTTP/1.") {
            return Err(invalid("not an HTTP/1.x response"));
        }
        let status: u16 = std::str::from_utf8(&head[9..12])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid("bad status line"))?;
        let mut length = 0usize;
        for line in head.split(|b| *b == b'\n').skip(1) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(colon) = line.iter().position(|b| *b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            if name.eq_ignore_ascii_case(b"content-length") {
                length = std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| invalid("bad Content-Length"))?;
            } else if name.eq_ignore_ascii_case(b"connection")
                && value.eq_ignore_ascii_case(b"close")
            {
                self.closed = true;
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                return Err(invalid("chunked responses are not supported"));
            }
        }
        let end = head_end + 4 + length;
        while self.buf.len() < end {
            self.fill().await?;
        }
        if let Some(body) = body {
            body.clear();
            body.extend_from_slice(&self.buf[head_end + 4..end]);
        }
        self.buf.drain(..end);
        Ok(status)
    }
}

/// The `"event_id"` of a JSON response body such as the 201 of an order, without a JSON parser.
pub fn event_id(body: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\"event_id\":\"";
    let start = body.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let len = body[start..].iter().position(|b| *b == b'"')?;
    std::str::from_utf8(&body[start..start + len]).ok()
}
