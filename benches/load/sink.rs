//! The deliveries scenario's destination: a lean HTTP/1.1 keep-alive server on 127.0.0.1 inside
//! this program, answering every request `200` with an empty body and recording, per request
//! path, when each request arrived and its `webhook-id` (the event id).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
const BAD: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// What the sink received on one path: (arrival, webhook-id) in arrival order.
pub type Receipts = Vec<(Instant, String)>;

#[derive(Default)]
struct Log {
    by_path: HashMap<String, Receipts>,
    /// Requests that could not be read (answered 400 and the connection closed).
    bad: u64,
}

/// The running sink; it stops with the runtime (its tasks are detached).
#[derive(Clone)]
pub struct Sink {
    pub port: u16,
    log: Arc<Mutex<Log>>,
}

impl Sink {
    pub async fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the sink on 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let log: Arc<Mutex<Log>> = Arc::default();
        let accepted = Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve(stream, Arc::clone(&accepted)));
            }
        });
        Sink { port, log }
    }

    /// The URL of `path` (e.g. `/ingest`) on the sink.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Requests received on `path` so far.
    pub fn count(&self, path: &str) -> usize {
        let log = self.log.lock().unwrap();
        log.by_path.get(path).map_or(0, Vec::len)
    }

    /// Requests received on `path` from `from` on (arrivals are in order).
    pub fn count_since(&self, path: &str, from: Instant) -> usize {
        self.counts(path, from).1
    }

    /// Requests received on `path`: in all, and from `from` on, read at one moment.
    pub fn counts(&self, path: &str, from: Instant) -> (usize, usize) {
        let log = self.log.lock().unwrap();
        log.by_path.get(path).map_or((0, 0), |r| {
            (r.len(), r.len() - r.partition_point(|(at, _)| *at < from))
        })
    }

    /// Everything received on `path`.
    pub fn receipts(&self, path: &str) -> Receipts {
        let log = self.log.lock().unwrap();
        log.by_path.get(path).cloned().unwrap_or_default()
    }

    /// Requests the sink could not read.
    pub fn bad(&self) -> u64 {
        self.log.lock().unwrap().bad
    }
}

/// One connection: requests with a `Content-Length` body (what awc sends), one after another.
async fn serve(mut stream: TcpStream, log: Arc<Mutex<Log>>) {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    loop {
        let mut scanned = 0;
        let head_end = loop {
            if let Some(i) = buf[scanned..].windows(4).position(|w| w == b"\r\n\r\n") {
                break scanned + i;
            }
            scanned = buf.len().saturating_sub(3);
            buf.reserve(4096);
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let Some((path, id, length)) = parse_head(&buf[..head_end]) else {
            log.lock().unwrap().bad += 1;
            let _ = stream.write_all(BAD).await;
            return;
        };
        let end = head_end + 4 + length;
        while buf.len() < end {
            buf.reserve(end - buf.len());
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
        {
            // The instant is taken under the lock, so every path's arrivals stay in order.
            let mut log = log.lock().unwrap();
            let at = Instant::now();
            log.by_path.entry(path).or_default().push((at, id));
        }
        buf.drain(..end);
        if stream.write_all(OK).await.is_err() {
            return;
        }
    }
}

/// (path, webhook-id, Content-Length) of a request head; `None` for what the sink does not
/// read (no request line, a chunked body).
fn parse_head(head: &[u8]) -> Option<(String, String, usize)> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let (mut id, mut length) = (String::new(), 0);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("webhook-id") {
            id = value.to_string();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return None;
        }
    }
    Some((path, id, length))
}
