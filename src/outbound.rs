//! The one outbound HTTP client of the delivery worker: a `POST` per attempt, to vetted
//! addresses only.
//!
//! Every connection goes to an address that [`egress`] accepted, and to that address itself:
//!
//! - A host name is resolved by awc's connector through `VettingResolver`, which looks the
//!   name up, lets [`egress::pick`] choose the first address [`egress::vet`] accepts, and hands
//!   the connector that one address and nothing else. The check and the connection use the
//!   same answer, so DNS cannot re-bind the name in between.
//! - An IPv4 literal never reaches a resolver (actix-tls connects to it directly), so
//!   [`Outbound::post`] vets every literal itself before sending; IPv6 literals are vetted there
//!   and again in the resolver, which actix-tls does call for them.
//!
//! The request still names the original host: the URL handed to awc is the destination's own,
//! so the `Host` header and, for https, the TLS server name (SNI, and the name the certificate
//! must carry) are the destination's, whatever address was connected to.
//!
//! awc's client is not `Send`: build an [`Outbound`] on the thread that uses it (the delivery
//! worker's own `LocalSet` or actix system) and keep it there.

use std::{
    error::Error,
    io,
    net::{IpAddr, SocketAddr},
    rc::Rc,
    time::{Duration, Instant},
};

use actix_tls::connect::{Connector as TcpConnector, Resolve, Resolver};
use actix_web::error::ParseError;
use awc::{
    Client, Connector,
    error::{ConnectError, SendRequestError},
    http::header::{self, HeaderName, HeaderValue},
};
use bytes::Bytes;
use futures_util::{StreamExt, future::LocalBoxFuture};

use crate::domain::{
    delivery::{AttemptResult, MAX_TIMEOUT},
    egress::{self, DestinationUrl, Host, Refused},
    net::IpNet,
};

/// The `User-Agent` of every attempt.
pub const USER_AGENT: &str = concat!("hookgate/", env!("CARGO_PKG_VERSION"));

/// How much of a response body is kept for the attempt log.
pub const EXCERPT_LIMIT: usize = 1024;

/// What one attempt did, for the delivery's attempt log and `domain::delivery::next_step`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The response status; `None` when no response came back.
    pub status: Option<u16>,
    /// The raw `Retry-After` header of a response, if it had a readable one.
    pub retry_after: Option<String>,
    /// Why there was no response: `timeout`, `connection_failed`, `address_not_allowed` or
    /// `invalid_response` (the codes of [`AttemptResult::error_code`]).
    pub error: Option<&'static str>,
    /// From the start of the attempt (name lookup included) to its end.
    pub duration: Duration,
    /// At most [`EXCERPT_LIMIT`] bytes of the response body, as lossy UTF-8.
    pub excerpt: String,
}

impl Attempt {
    /// The attempt as the delivery rules see it.
    pub fn result(&self) -> AttemptResult<'_> {
        match (self.status, self.error) {
            (Some(status), _) => AttemptResult::Response {
                status,
                retry_after: self.retry_after.as_deref(),
            },
            (None, Some("timeout")) => AttemptResult::Timeout,
            (None, Some("address_not_allowed")) => AttemptResult::AddressNotAllowed,
            (None, Some("invalid_response")) => AttemptResult::InvalidResponse,
            // `connection_failed`, and any other value of the public fields: no answer.
            (None, _) => AttemptResult::ConnectError,
        }
    }

    /// An attempt that got no response, for the reason `failure` (never a `Response`).
    fn failed(failure: AttemptResult<'_>, duration: Duration) -> Attempt {
        Attempt {
            status: None,
            retry_after: None,
            error: Some(failure.error_code().unwrap_or("connection_failed")),
            duration,
            excerpt: String::new(),
        }
    }
}

/// The response part of an attempt that was answered.
struct Answer {
    status: u16,
    retry_after: Option<String>,
    excerpt: String,
}

/// Sends delivery attempts: one awc client with its connection pool, never following
/// redirects, connecting only to vetted addresses.
pub struct Outbound {
    client: Client,
    allow: Rc<[IpNet]>,
}

impl Outbound {
    /// One client whose connections may go to public unicast addresses and to `allow` (the
    /// `--destination-allow` networks). awc's client is not `Send`: build and use it on one
    /// thread, e.g. the delivery worker's own `LocalSet`.
    pub fn new(allow: Vec<IpNet>) -> Outbound {
        Outbound::with_lookup(allow, system_lookup)
    }

    /// [`Outbound::new`] with the name lookup the resolver uses; tests pass a fixed table.
    fn with_lookup(allow: Vec<IpNet>, lookup: Lookup) -> Outbound {
        // awc's `Connector::new` builds a rustls config from the process-wide crypto provider
        // and panics when there is none to pick; install ring (a no-op when one is installed).
        let _ = rustls::crypto::ring::default_provider().install_default();

        let allow: Rc<[IpNet]> = allow.into();
        let resolver = Resolver::custom(VettingResolver {
            allow: Rc::clone(&allow),
            lookup,
        });
        // The whole attempt is bounded by `post`'s timeout; these only back it up.
        let connector = Connector::new()
            .connector(TcpConnector::new(resolver).service())
            .timeout(MAX_TIMEOUT)
            .handshake_timeout(MAX_TIMEOUT);
        let client = Client::builder()
            .connector(connector)
            .disable_redirects()
            .disable_timeout()
            .no_default_headers()
            .finish();
        Outbound { client, allow }
    }

    /// `POST` `body` to `url` with `headers` (appended as given, e.g. `webhook-id`,
    /// `Content-Type`), the whole attempt (name lookup, connection, TLS, request, response
    /// head and excerpt) bounded by `timeout` (at most `delivery::MAX_TIMEOUT`).
    ///
    /// `Host` and `User-Agent` are set here and replace any given. Redirects are returned as
    /// the answer, never followed. Only a vetted address is connected to: a refused one is
    /// `address_not_allowed` without any connection. The answer counts once its status line
    /// and headers arrived; then at most [`EXCERPT_LIMIT`] bytes of the body are read, until
    /// the body ends, fails or the time runs out, and the rest is left unread. A header name
    /// or value that is not valid HTTP is not sent at all: `connection_failed`.
    pub async fn post(
        &self,
        url: &DestinationUrl,
        headers: &[(String, String)],
        body: Bytes,
        timeout: Duration,
    ) -> Attempt {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout.min(MAX_TIMEOUT);
        match self.exchange(url, headers, body, deadline).await {
            Ok(answer) => Attempt {
                status: Some(answer.status),
                retry_after: answer.retry_after,
                error: None,
                duration: started.elapsed(),
                excerpt: answer.excerpt,
            },
            Err(failure) => Attempt::failed(failure, started.elapsed()),
        }
    }

    async fn exchange(
        &self,
        url: &DestinationUrl,
        headers: &[(String, String)],
        body: Bytes,
        deadline: tokio::time::Instant,
    ) -> Result<Answer, AttemptResult<'static>> {
        let destination = url.authority();
        if let Host::Ip(ip) = url.host() {
            // The resolver is never asked about an IPv4 literal: vet it here.
            egress::vet(*ip, &self.allow).map_err(|refused| {
                tracing::debug!(%destination, %refused, "delivery address not allowed");
                AttemptResult::AddressNotAllowed
            })?;
        }

        let mut request = self.client.post(url.to_string());
        for (name, value) in headers {
            let parsed = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            );
            let (Ok(parsed_name), Ok(parsed_value)) = parsed else {
                // The name only: values may be signatures.
                let header = name.escape_debug();
                tracing::warn!(%destination, %header, "delivery header is not valid HTTP");
                return Err(AttemptResult::ConnectError);
            };
            request = request.append_header((parsed_name, parsed_value));
        }
        let request = request
            .insert_header((header::HOST, url.host_for_header()))
            .insert_header((header::USER_AGENT, USER_AGENT));

        let response = match tokio::time::timeout_at(deadline, request.send_body(body)).await {
            Err(_elapsed) => return Err(AttemptResult::Timeout),
            Ok(Err(error)) => {
                let failure = failure_of(&error);
                let code = failure.error_code();
                tracing::debug!(%destination, %error, ?code, "delivery attempt failed");
                return Err(failure);
            }
            Ok(Ok(response)) => response,
        };

        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let excerpt = read_excerpt(response, deadline).await;
        Ok(Answer {
            status,
            retry_after,
            excerpt,
        })
    }
}

/// What a failed send means for the attempt.
fn failure_of(error: &SendRequestError) -> AttemptResult<'static> {
    match error {
        SendRequestError::Timeout | SendRequestError::Connect(ConnectError::Timeout) => {
            AttemptResult::Timeout
        }
        SendRequestError::Connect(ConnectError::Resolver(cause))
            if cause.downcast_ref::<Refused>().is_some() =>
        {
            AttemptResult::AddressNotAllowed
        }
        // Reset or closed while waiting for the answer: the connection failed.
        SendRequestError::Response(ParseError::Io(_)) => AttemptResult::ConnectError,
        SendRequestError::Response(_) => AttemptResult::InvalidResponse,
        SendRequestError::H2(h2) if !h2.is_io() => AttemptResult::InvalidResponse,
        // Name lookup, refused or reset connections, TLS, and requests that could not be sent.
        _ => AttemptResult::ConnectError,
    }
}

/// At most [`EXCERPT_LIMIT`] bytes of the body, read until it ends, fails or `deadline`.
async fn read_excerpt(response: awc::ClientResponse, deadline: tokio::time::Instant) -> String {
    let mut response = std::pin::pin!(response);
    let mut body = Vec::new();
    while body.len() < EXCERPT_LIMIT {
        match tokio::time::timeout_at(deadline, response.next()).await {
            Ok(Some(Ok(chunk))) => {
                let room = EXCERPT_LIMIT - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            // The end, a broken body, or no time left: the answer stands with what was read.
            Ok(Some(Err(_)) | None) | Err(_) => break,
        }
    }
    excerpt(body)
}

/// The excerpt as text: a character cut in two by the limit is left out rather than shown as
/// U+FFFD, other invalid UTF-8 is replaced, and the text is at most [`EXCERPT_LIMIT`] bytes.
fn excerpt(mut body: Vec<u8>) -> String {
    if body.len() >= EXCERPT_LIMIT {
        // Back up over continuation bytes (at most 3) to where the last character starts.
        let mut start = body.len().saturating_sub(1);
        while start > 0 && body.len() - start < 4 && body[start] & 0xC0 == 0x80 {
            start -= 1;
        }
        let incomplete =
            std::str::from_utf8(&body[start..]).is_err_and(|e| e.error_len().is_none());
        if incomplete {
            body.truncate(start);
        }
    }
    let mut text = String::from_utf8_lossy(&body).into_owned();
    text.truncate(text.floor_char_boundary(EXCERPT_LIMIT));
    text
}

/// Looks a host name up, giving its addresses in the resolver's order.
type Lookup = for<'a> fn(&'a str) -> LocalBoxFuture<'a, io::Result<Vec<IpAddr>>>;

/// The system resolver (`getaddrinfo`, on tokio's blocking pool).
fn system_lookup(host: &str) -> LocalBoxFuture<'_, io::Result<Vec<IpAddr>>> {
    Box::pin(async move {
        let addrs = tokio::net::lookup_host((host, 0)).await?;
        Ok(addrs.map(|addr| addr.ip()).collect())
    })
}

/// awc's resolver: looks the host up and answers with the one address to connect to, the
/// one [`egress::pick`] chose, or with the [`Refused`] reason when every address is refused.
struct VettingResolver {
    allow: Rc<[IpNet]>,
    lookup: Lookup,
}

impl Resolve for VettingResolver {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> LocalBoxFuture<'a, Result<Vec<SocketAddr>, Box<dyn Error>>> {
        Box::pin(async move {
            // actix-tls asks about IPv6 literals too, in their URL brackets.
            let literal = host
                .strip_prefix('[')
                .and_then(|inner| inner.strip_suffix(']'))
                .unwrap_or(host);
            let resolved = match literal.parse::<IpAddr>() {
                Ok(ip) => vec![ip],
                Err(_) => (self.lookup)(host).await?,
            };
            if resolved.is_empty() {
                // No records is a failed lookup, not a refused address.
                return Ok(Vec::new());
            }
            let ip = egress::pick(&resolved, &self.allow)?;
            Ok(vec![SocketAddr::new(ip, port)])
        })
    }
}

#[cfg(test)]
mod tests {
    use std::{
        net::Ipv4Addr,
        sync::{
            Arc, Mutex,
            atomic::{AtomicUsize, Ordering},
        },
    };

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::{TcpListener, TcpStream},
    };

    use super::*;
    use crate::domain::{delivery::Outcome, net::parse_nets};

    const SHORT: Duration = Duration::from_millis(300);
    const LONG: Duration = Duration::from_secs(10);

    fn loopback() -> Vec<IpNet> {
        parse_nets("127.0.0.1/32").unwrap()
    }

    /// A destination URL, parsed with loopback allowed: what `Outbound` allows is the test.
    fn url(raw: &str) -> DestinationUrl {
        DestinationUrl::parse(raw, &loopback()).unwrap()
    }

    /// What the sink does with each request it has read.
    #[derive(Clone)]
    enum Reply {
        /// Write these bytes, then close.
        With(Vec<u8>),
        /// Hold the connection open and never answer.
        Never,
        /// Close without a word.
        Close,
    }

    /// A tiny HTTP server on 127.0.0.1 that counts connections and keeps each request.
    struct Sink {
        port: u16,
        connections: Arc<AtomicUsize>,
        requests: Arc<Mutex<Vec<Vec<u8>>>>,
    }

    impl Sink {
        async fn start(reply: Reply) -> Sink {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let connections = Arc::new(AtomicUsize::new(0));
            let requests = Arc::new(Mutex::new(Vec::new()));
            let (count, kept) = (Arc::clone(&connections), Arc::clone(&requests));
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    count.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(serve(stream, reply.clone(), Arc::clone(&kept)));
                }
            });
            Sink {
                port,
                connections,
                requests,
            }
        }

        /// A sink answering every request with `head` (status line and headers) and `body`.
        async fn answering(head: &str, body: &[u8]) -> Sink {
            let mut bytes = format!(
                "{head}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            bytes.extend_from_slice(body);
            Sink::start(Reply::With(bytes)).await
        }

        fn connections(&self) -> usize {
            self.connections.load(Ordering::SeqCst)
        }

        fn requests(&self) -> Vec<Vec<u8>> {
            self.requests.lock().unwrap().clone()
        }

        /// `http://<host>:<port><path>`.
        fn url(&self, host: &str, path: &str) -> DestinationUrl {
            url(&format!("http://{host}:{}{path}", self.port))
        }
    }

    async fn serve(mut stream: TcpStream, reply: Reply, kept: Arc<Mutex<Vec<Vec<u8>>>>) {
        let request = read_request(&mut stream).await;
        kept.lock().unwrap().push(request);
        match reply {
            Reply::With(bytes) => {
                let _ = stream.write_all(&bytes).await;
                let _ = stream.shutdown().await;
            }
            Reply::Never => std::future::pending::<()>().await,
            Reply::Close => drop(stream),
        }
    }

    /// One request: the head up to the blank line, then `Content-Length` bytes of body.
    async fn read_request(stream: &mut TcpStream) -> Vec<u8> {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |n| n.trim().parse().unwrap());
                if request.len() >= end + 4 + length {
                    return request;
                }
            }
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return request,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// The request line, then the headers as `name: value` with the names lower-cased, then
    /// the body.
    fn parts(request: &[u8]) -> (String, Vec<String>, Vec<u8>) {
        let end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(request[..end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let first = lines.next().unwrap().to_string();
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                format!("{}: {}", name.to_ascii_lowercase(), value.trim())
            })
            .collect();
        (first, headers, request[end + 4..].to_vec())
    }

    /// A fixed name table standing in for DNS.
    fn fake_dns(host: &str) -> LocalBoxFuture<'_, io::Result<Vec<IpAddr>>> {
        let ip = |raw: &str| raw.parse::<IpAddr>().unwrap();
        let answer = match host {
            // A refused address first, then an allowed one.
            "mixed.test" => Ok(vec![ip("10.0.0.1"), ip("127.0.0.1")]),
            "loopback.test" => Ok(vec![ip("127.0.0.1")]),
            "empty.test" => Ok(Vec::new()),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "no such host")),
        };
        Box::pin(async move { answer })
    }

    fn summary(attempt: &Attempt) -> (Option<u16>, Option<&'static str>) {
        (attempt.status, attempt.error)
    }

    #[actix_web::test]
    async fn a_2xx_is_answered_with_at_most_one_kib_of_its_body() {
        let body = b"0123456789".repeat(300);
        let sink = Sink::answering("HTTP/1.1 200 OK", &body).await;
        let outbound = Outbound::new(loopback());

        let attempt = outbound
            .post(&sink.url("127.0.0.1", "/"), &[], Bytes::new(), LONG)
            .await;

        assert_eq!(summary(&attempt), (Some(200), None));
        assert_eq!(attempt.excerpt.as_bytes(), &body[..EXCERPT_LIMIT]);
        assert_eq!(attempt.retry_after, None);
        assert_eq!(attempt.result().outcome(0), Outcome::Succeeded);
        assert!(attempt.duration > Duration::ZERO);
    }

    #[actix_web::test]
    async fn the_request_carries_the_given_headers_and_body_with_host_and_user_agent() {
        let sink = Sink::answering("HTTP/1.1 204 No Content", b"").await;
        let outbound = Outbound::new(loopback());
        let headers: Vec<(String, String)> = [
            ("webhook-id", "evt_01J9Z"),
            ("webhook-timestamp", "1700000000"),
            (
                "webhook-signature",
                "v1,c2lnbmF0dXJl v1,b2xkIHNpZ25hdHVyZQ==",
            ),
            ("hookgate-attempt", "2"),
            ("content-type", "application/json"),
            // Replaced: the client names itself and the destination.
            ("user-agent", "curl/8"),
            ("host", "elsewhere.example"),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        let body = Bytes::from_static(br#"{"id":"ord_1"}"#);

        let attempt = outbound
            .post(
                &sink.url("127.0.0.1", "/in/hooks?x=1"),
                &headers,
                body,
                LONG,
            )
            .await;

        assert_eq!(summary(&attempt), (Some(204), None));
        let requests = sink.requests();
        assert_eq!(requests.len(), 1);
        let (line, got, body) = parts(&requests[0]);
        assert_eq!(line, "POST /in/hooks?x=1 HTTP/1.1");
        for expected in [
            "webhook-id: evt_01J9Z".to_string(),
            "webhook-timestamp: 1700000000".into(),
            "webhook-signature: v1,c2lnbmF0dXJl v1,b2xkIHNpZ25hdHVyZQ==".into(),
            "hookgate-attempt: 2".into(),
            "content-type: application/json".into(),
            format!("user-agent: hookgate/{}", env!("CARGO_PKG_VERSION")),
            format!("host: 127.0.0.1:{}", sink.port),
            "content-length: 14".into(),
        ] {
            assert_eq!(
                got.iter().filter(|h| **h == expected).count(),
                1,
                "{expected} in {got:?}"
            );
        }
        assert_eq!(got.iter().filter(|h| h.starts_with("host:")).count(), 1);
        assert_eq!(
            got.iter().filter(|h| h.starts_with("user-agent:")).count(),
            1
        );
        assert_eq!(body, br#"{"id":"ord_1"}"#);
    }

    #[actix_web::test]
    async fn a_503_reports_its_retry_after() {
        let sink = Sink::answering(
            "HTTP/1.1 503 Service Unavailable\r\nretry-after: 120",
            b"busy",
        )
        .await;
        let outbound = Outbound::new(loopback());

        let attempt = outbound
            .post(&sink.url("127.0.0.1", "/"), &[], Bytes::new(), LONG)
            .await;

        assert_eq!(summary(&attempt), (Some(503), None));
        assert_eq!(attempt.retry_after.as_deref(), Some("120"));
        assert_eq!(attempt.excerpt, "busy");
        assert_eq!(
            attempt.result(),
            AttemptResult::Response {
                status: 503,
                retry_after: Some("120")
            }
        );
        assert_eq!(
            attempt.result().outcome(0),
            Outcome::Failed {
                retry_after: Some(Duration::from_secs(120))
            }
        );
    }

    #[actix_web::test]
    async fn a_redirect_is_the_answer_and_is_not_followed() {
        let sink = Sink::answering("HTTP/1.1 302 Found\r\nlocation: /elsewhere", b"").await;
        let outbound = Outbound::new(loopback());

        let attempt = outbound
            .post(&sink.url("127.0.0.1", "/"), &[], Bytes::new(), LONG)
            .await;

        assert_eq!(summary(&attempt), (Some(302), None));
        assert_eq!(sink.requests().len(), 1);
        assert_eq!(sink.connections(), 1);
        assert_eq!(
            attempt.result().outcome(0),
            Outcome::Failed { retry_after: None }
        );
    }

    #[actix_web::test]
    async fn a_destination_that_never_answers_times_out() {
        let sink = Sink::start(Reply::Never).await;
        let outbound = Outbound::new(loopback());

        let attempt = outbound
            .post(&sink.url("127.0.0.1", "/"), &[], Bytes::new(), SHORT)
            .await;

        assert_eq!(summary(&attempt), (None, Some("timeout")));
        assert_eq!(attempt.result(), AttemptResult::Timeout);
        assert!(attempt.duration >= SHORT, "{:?}", attempt.duration);
        assert!(attempt.duration < LONG, "{:?}", attempt.duration);
        assert_eq!(sink.connections(), 1);
    }

    #[actix_web::test]
    async fn a_closed_port_is_a_failed_connection() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let outbound = Outbound::new(loopback());

        let attempt = outbound
            .post(
                &url(&format!("http://127.0.0.1:{port}/")),
                &[],
                Bytes::new(),
                LONG,
            )
            .await;

        assert_eq!(summary(&attempt), (None, Some("connection_failed")));
        assert_eq!(attempt.result(), AttemptResult::ConnectError);
    }

    #[actix_web::test]
    async fn a_connection_closed_without_an_answer_is_a_failed_connection() {
        let sink = Sink::start(Reply::Close).await;
        let outbound = Outbound::new(loopback());

        let attempt = outbound
            .post(&sink.url("127.0.0.1", "/"), &[], Bytes::new(), LONG)
            .await;

        assert_eq!(summary(&attempt), (None, Some("connection_failed")));
    }

    #[actix_web::test]
    async fn a_garbage_answer_is_an_invalid_response() {
        let sink = Sink::start(Reply::With(b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec())).await;
        let outbound = Outbound::new(loopback());

        let attempt = outbound
            .post(&sink.url("127.0.0.1", "/"), &[], Bytes::new(), LONG)
            .await;

        assert_eq!(summary(&attempt), (None, Some("invalid_response")));
        assert_eq!(attempt.result(), AttemptResult::InvalidResponse);
    }

    #[actix_web::test]
    async fn a_literal_address_outside_the_allow_list_is_refused_without_connecting() {
        let sink = Sink::answering("HTTP/1.1 200 OK", b"").await;
        // Allowed when the destination was saved, not by this client.
        let outbound = Outbound::new(Vec::new());

        let attempt = outbound
            .post(&sink.url("127.0.0.1", "/"), &[], Bytes::new(), LONG)
            .await;

        assert_eq!(summary(&attempt), (None, Some("address_not_allowed")));
        assert_eq!(attempt.result(), AttemptResult::AddressNotAllowed);
        assert_eq!(sink.connections(), 0);
    }

    #[actix_web::test]
    async fn an_ipv6_literal_outside_the_allow_list_is_refused() {
        let outbound = Outbound::new(loopback());
        let url = DestinationUrl::parse("http://[::1]:9/", &parse_nets("::1").unwrap()).unwrap();

        let attempt = outbound.post(&url, &[], Bytes::new(), LONG).await;

        assert_eq!(summary(&attempt), (None, Some("address_not_allowed")));
    }

    #[actix_web::test]
    async fn localhost_is_refused_by_the_system_resolver_path_without_connecting() {
        let sink = Sink::answering("HTTP/1.1 200 OK", b"").await;
        let outbound = Outbound::new(Vec::new());

        let attempt = outbound
            .post(&sink.url("localhost", "/"), &[], Bytes::new(), LONG)
            .await;

        assert_eq!(summary(&attempt), (None, Some("address_not_allowed")));
        assert_eq!(sink.connections(), 0);
    }

    #[actix_web::test]
    async fn a_name_is_connected_to_at_its_vetted_address_with_its_own_host_header() {
        let sink = Sink::answering("HTTP/1.1 200 OK", b"ok").await;
        // mixed.test resolves to 10.0.0.1 (refused) and then 127.0.0.1 (allowed).
        let outbound = Outbound::with_lookup(loopback(), fake_dns);

        let attempt = outbound
            .post(&sink.url("mixed.test", "/"), &[], Bytes::new(), LONG)
            .await;

        assert_eq!(summary(&attempt), (Some(200), None));
        let (_, headers, _) = parts(&sink.requests()[0]);
        let host = format!("host: mixed.test:{}", sink.port);
        assert!(headers.contains(&host), "{headers:?}");
    }

    #[actix_web::test]
    async fn a_name_resolving_only_to_refused_addresses_is_refused_without_connecting() {
        let sink = Sink::answering("HTTP/1.1 200 OK", b"").await;
        let outbound = Outbound::with_lookup(Vec::new(), fake_dns);

        for name in ["loopback.test", "mixed.test"] {
            let attempt = outbound
                .post(&sink.url(name, "/"), &[], Bytes::new(), LONG)
                .await;
            assert_eq!(
                summary(&attempt),
                (None, Some("address_not_allowed")),
                "{name}"
            );
        }
        assert_eq!(sink.connections(), 0);
    }

    #[actix_web::test]
    async fn a_name_that_does_not_resolve_is_a_failed_connection() {
        let outbound = Outbound::with_lookup(loopback(), fake_dns);

        for name in ["nowhere.test", "empty.test"] {
            let attempt = outbound
                .post(&url(&format!("http://{name}/")), &[], Bytes::new(), LONG)
                .await;
            assert_eq!(
                summary(&attempt),
                (None, Some("connection_failed")),
                "{name}"
            );
        }
    }

    #[actix_web::test]
    async fn a_header_that_is_not_valid_http_is_not_sent() {
        let sink = Sink::answering("HTTP/1.1 200 OK", b"").await;
        let outbound = Outbound::new(loopback());

        for header in [("bad name", "x"), ("webhook-id", "a\r\nb")] {
            let headers = [(header.0.to_string(), header.1.to_string())];
            let attempt = outbound
                .post(&sink.url("127.0.0.1", "/"), &headers, Bytes::new(), LONG)
                .await;
            assert_eq!(summary(&attempt), (None, Some("connection_failed")));
        }
        assert_eq!(sink.connections(), 0);
    }

    #[actix_web::test]
    async fn the_resolver_answers_with_the_picked_address_only() {
        let resolver = |allow: &str| VettingResolver {
            allow: parse_nets(allow).unwrap().into(),
            lookup: fake_dns,
        };
        let addrs = |r: Result<Vec<SocketAddr>, Box<dyn Error>>| {
            r.map_err(|e| e.downcast_ref::<Refused>().map(Refused::reason))
        };
        let loopback_only = resolver("127.0.0.1, ::1");
        assert_eq!(
            addrs(loopback_only.lookup("mixed.test", 8080).await),
            Ok(vec!["127.0.0.1:8080".parse().unwrap()])
        );
        // IPv6 literals arrive in their URL brackets and are vetted like any answer.
        assert_eq!(
            addrs(loopback_only.lookup("[::1]", 80).await),
            Ok(vec!["[::1]:80".parse().unwrap()])
        );

        let nothing = resolver("");
        for host in ["[::1]", "loopback.test", "mixed.test"] {
            let refused = addrs(nothing.lookup(host, 80).await).unwrap_err();
            assert!(refused.is_some(), "{host}: refused, not failed");
        }
        // No records, or no such name: a failed lookup, not a refusal.
        assert_eq!(
            addrs(nothing.lookup("empty.test", 80).await),
            Ok(Vec::new())
        );
        assert_eq!(addrs(nothing.lookup("nowhere.test", 80).await), Err(None));
    }

    #[test]
    fn the_excerpt_keeps_at_most_one_kib_of_text() {
        // A two-byte character cut by the limit is left out, not replaced.
        let mut body = vec![b'a'; EXCERPT_LIMIT - 1];
        body.extend_from_slice("é".as_bytes());
        body.truncate(EXCERPT_LIMIT);
        assert_eq!(excerpt(body), "a".repeat(EXCERPT_LIMIT - 1));

        // A complete character at the very end stays.
        let mut body = vec![b'a'; EXCERPT_LIMIT - 2];
        body.extend_from_slice("é".as_bytes());
        assert_eq!(excerpt(body.clone()), String::from_utf8(body).unwrap());

        // Invalid bytes become U+FFFD (three bytes each), and the text stays within the limit.
        let text = excerpt(vec![0xFF; EXCERPT_LIMIT]);
        assert!(text.len() <= EXCERPT_LIMIT && text.len() > EXCERPT_LIMIT - 3);
        assert!(text.chars().all(|c| c == char::REPLACEMENT_CHARACTER));

        assert_eq!(excerpt(b"short".to_vec()), "short");
        assert_eq!(excerpt(Vec::new()), "");
    }

    #[test]
    fn an_attempt_maps_onto_the_delivery_rules() {
        let failures = [
            AttemptResult::Timeout,
            AttemptResult::ConnectError,
            AttemptResult::AddressNotAllowed,
            AttemptResult::InvalidResponse,
        ];
        for failure in failures {
            let attempt = Attempt::failed(failure, Duration::ZERO);
            assert_eq!(attempt.error, failure.error_code());
            assert_eq!(attempt.result(), failure);
        }
        let answered = Attempt {
            status: Some(429),
            retry_after: Some("7".into()),
            error: None,
            duration: Duration::ZERO,
            excerpt: String::new(),
        };
        assert_eq!(
            answered.result(),
            AttemptResult::Response {
                status: 429,
                retry_after: Some("7")
            }
        );
    }

    #[test]
    fn the_user_agent_names_this_version() {
        assert_eq!(
            USER_AGENT,
            format!("hookgate/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
