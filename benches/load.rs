//! Load benchmark for hookgate: starts the release server as a child process on 127.0.0.1,
//! onboards one merchant through the real API, then fires pre-signed order webhooks at it over
//! keep-alive connections with a lean HTTP/1.1 client (no reqwest in the hot loops).
//!
//!     cargo bench --bench load                 # the full run (~2 minutes on a quiet 2-core box)
//!     cargo bench --bench load -- --quick      # a small smoke run
//!     cargo bench --bench load -- --help       # every option
//!
//! Scenarios, in this order by default (select with --scenarios):
//!   healthz  GET /healthz closed loop: the HTTP stack's ceiling on this machine;
//!   orders   orders closed loop (each connection sends its next request once answered);
//!   paced    orders open loop at a fixed rate, latency measured from each request's scheduled
//!            send time, so a stalled server is not hidden by coordinated omission;
//!   long     orders closed loop until --total orders exist, then the server's RSS.
//!
//! Every request goes to 127.0.0.1 only, and the server is killed when this program ends,
//! including on panics, Ctrl-C and SIGTERM (a guard kills it on drop). The server's data dir is a
//! temporary directory (TMPDIR): the full run writes about 1.7 GB there, removed at the end.
//! Results and their explanation: docs/performance.md.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const USAGE: &str = "\
hookgate load benchmark

usage: cargo bench --bench load -- [OPTIONS]

  --scenarios LIST        comma-separated subset of healthz,orders,paced,long (default: all)
  --concurrency N         connections for the closed loops (64)
  --healthz-seconds S     length of the /healthz run (10)
  --healthz-requests N    run /healthz for N requests instead of a duration
  --orders N              orders in the closed-loop scenario (200000)
  --paced-rate R          requests per second in the paced scenario (1000)
  --paced-seconds S       length of the paced scenario (20)
  --paced-connections N   connections the paced requests are spread over (= --concurrency)
  --total N               orders stored in all before the final RSS reading (1000000)
  --chunk N               orders signed at once in the long run (100000; signatures must stay
                          within the server's 5-minute timestamp tolerance)
  --threads N             worker threads of the client's tokio runtime (2)
  --bin PATH              hookgate binary (the release build of this package)
  --server-log PATH       keep the server's log there (default: a temporary file)
  --quick                 small sizes for a smoke run
  --help                  this text
";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Scenario {
    Healthz,
    Orders,
    Paced,
    Long,
}

struct Options {
    scenarios: Vec<Scenario>,
    concurrency: usize,
    healthz_seconds: f64,
    healthz_requests: Option<usize>,
    orders: usize,
    paced_rate: u64,
    paced_seconds: u64,
    paced_connections: Option<usize>,
    total: usize,
    chunk: usize,
    threads: usize,
    bin: PathBuf,
    server_log: Option<PathBuf>,
    quick: bool,
}

fn usage_error(message: &str) -> ! {
    eprintln!("{message}\n\n{USAGE}");
    std::process::exit(2);
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = Options {
        scenarios: vec![
            Scenario::Healthz,
            Scenario::Orders,
            Scenario::Paced,
            Scenario::Long,
        ],
        concurrency: 64,
        healthz_seconds: 10.0,
        healthz_requests: None,
        orders: 200_000,
        paced_rate: 1_000,
        paced_seconds: 20,
        paced_connections: None,
        total: 1_000_000,
        chunk: 100_000,
        threads: 2,
        bin: PathBuf::from(env!("CARGO_BIN_EXE_hookgate")),
        server_log: None,
        quick,
    };
    if quick {
        o.healthz_seconds = 2.0;
        o.orders = 5_000;
        o.paced_rate = 500;
        o.paced_seconds = 3;
        o.total = 20_000;
    }
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .unwrap_or_else(|| usage_error(&format!("{flag} needs a value")))
        };
        let mut number = |what: &str| -> u64 {
            let v = value();
            v.parse().ok().filter(|n| *n > 0).unwrap_or_else(|| {
                usage_error(&format!("{what} needs a positive number, not {v:?}"))
            })
        };
        match flag.as_str() {
            "--concurrency" => o.concurrency = number("--concurrency") as usize,
            "--healthz-seconds" => o.healthz_seconds = number("--healthz-seconds") as f64,
            "--healthz-requests" => {
                o.healthz_requests = Some(number("--healthz-requests") as usize)
            }
            "--orders" => o.orders = number("--orders") as usize,
            "--paced-rate" => o.paced_rate = number("--paced-rate"),
            "--paced-seconds" => o.paced_seconds = number("--paced-seconds"),
            "--paced-connections" => {
                o.paced_connections = Some(number("--paced-connections") as usize)
            }
            "--total" => o.total = number("--total") as usize,
            "--chunk" => o.chunk = number("--chunk") as usize,
            "--threads" => o.threads = number("--threads") as usize,
            "--bin" => o.bin = PathBuf::from(value()),
            "--server-log" => o.server_log = Some(PathBuf::from(value())),
            "--scenarios" => {
                o.scenarios = value()
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| match s.trim() {
                        "healthz" => Scenario::Healthz,
                        "orders" => Scenario::Orders,
                        "paced" => Scenario::Paced,
                        "long" => Scenario::Long,
                        other => usage_error(&format!("unknown scenario {other:?}")),
                    })
                    .collect()
            }
            "--help" | "-h" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            // `cargo bench` passes --bench to every bench target.
            "--quick" | "--bench" => {}
            other => usage_error(&format!("unknown option {other:?}")),
        }
    }
    o
}

// ---------------------------------------------------------------------------------------------
// The server child process.

/// The running server; killed (and reaped) on drop, so no path out of this program leaves it.
struct Server {
    child: Child,
    port: u16,
    bin: PathBuf,
    data: tempfile::TempDir,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ADMIN_EMAIL: &str = "admin@bench.local";
const PASSWORD: &str = "benchmark password 1";

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

async fn start_server(o: &Options) -> Server {
    assert!(
        o.bin.exists(),
        "{} does not exist; run `cargo build --release` first",
        o.bin.display()
    );
    let data = tempfile::tempdir().expect("temporary data dir");
    let log_dir = tempfile::tempdir().expect("temporary log dir");
    let log = o
        .server_log
        .clone()
        .unwrap_or_else(|| log_dir.path().join("server.log"));
    let log_file = std::fs::File::create(&log).expect("server log file");
    let port = free_port();
    let child = Command::new(&o.bin)
        .arg("--data-dir")
        .arg(data.path())
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--merchant-rate", "1000000/s", "--ip-rate", "1000000/s"])
        .args(["--log-format", "json", "serve"])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", o.bin.display()));
    let mut server = Server {
        child,
        port,
        bin: o.bin.clone(),
        data,
        log,
        _log_dir: log_dir,
    };
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!(
                "the server exited ({status}):\n{}",
                log_tail(&server.log, 20)
            );
        }
        if let Ok(mut conn) = Conn::open(port).await
            && matches!(conn.exchange(request).await, Ok(200))
        {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not answer /healthz within 30 s:\n{}",
            log_tail(&server.log, 20)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn log_tail(path: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Run `hookgate --data-dir D ARGS` with `stdin`; returns its stdout, trimmed.
fn cli(server: &Server, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(&server.bin)
        .arg("--data-dir")
        .arg(server.data.path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the hookgate CLI");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "hookgate {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// Onboarding through the real API (reqwest; not timed).

fn http_client() -> reqwest::Client {
    // no_proxy: an HTTP(S)_PROXY in the environment must not route these calls off the machine.
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn expect_json(response: reqwest::Response, what: &str) -> serde_json::Value {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
}

/// Onboard one merchant; returns (key id, signing key, admin token).
async fn onboard(server: &Server) -> (String, Vec<u8>, String) {
    cli(
        server,
        &[
            "admin",
            "create",
            "--email",
            ADMIN_EMAIL,
            "--password-stdin",
        ],
        PASSWORD,
    );
    let admin = cli(server, &["admin", "token", "--email", ADMIN_EMAIL], "");
    let base = format!("http://127.0.0.1:{}", server.port);
    let http = http_client();
    let email = "shop@bench.local";

    let registered = expect_json(
        http.post(format!("{base}/api/v1/auth/register"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD, "business_name": "Bench Shop"}))
            .send()
            .await
            .unwrap(),
        "register",
    )
    .await;
    let merchant_id = registered["merchant_id"].as_str().unwrap().to_string();

    let outbox = expect_json(
        http.get(format!("{base}/api/v1/admin/outbox?to={email}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        "outbox",
    )
    .await;
    let code = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["subject"].as_str())
        .find_map(|s| s.strip_prefix("Your hookgate verification code: "))
        .unwrap_or_else(|| panic!("no verification code in the outbox: {outbox}"))
        .to_string();
    expect_json(
        http.post(format!("{base}/api/v1/auth/verify-email"))
            .json(&serde_json::json!({"email": email, "code": code}))
            .send()
            .await
            .unwrap(),
        "verify-email",
    )
    .await;
    let token = expect_json(
        http.post(format!("{base}/api/v1/auth/token"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
        "token",
    )
    .await;
    let token = token["access_token"].as_str().unwrap().to_string();

    let form = reqwest::multipart::Form::new()
        .text("legal_name", "Bench Shop Ltd")
        .text("registration_number", "RC-100001")
        .text("country", "NG")
        .text("address", "1 Bench Street, Lagos")
        .text("contact_phone", "+2348123456789")
        .part(
            "document",
            reqwest::multipart::Part::bytes(b"%PDF-1.4\n% hookgate bench\n".to_vec())
                .file_name("incorporation.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    expect_json(
        http.post(format!("{base}/api/v1/kyc"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await
            .unwrap(),
        "kyc",
    )
    .await;
    let pending = expect_json(
        http.get(format!("{base}/api/v1/admin/kyc?status=pending"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        "kyc queue",
    )
    .await;
    let kyc_id = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["merchant_id"] == merchant_id.as_str())
        .and_then(|k| k["kyc_id"].as_str())
        .unwrap_or_else(|| panic!("the submission is not in the queue: {pending}"))
        .to_string();
    expect_json(
        http.post(format!("{base}/api/v1/admin/kyc/{kyc_id}/approve"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap(),
        "approve",
    )
    .await;
    let secret = expect_json(
        http.get(format!("{base}/api/v1/webhook/secret/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        "secret",
    )
    .await;
    let key_id = secret["key_id"].as_str().unwrap().to_string();
    let key = hookgate::domain::WebhookSecret::parse(secret["secret_key"].as_str().unwrap())
        .expect("a whsec_ secret")
        .key()
        .to_vec();
    (key_id, key, admin)
}

// ---------------------------------------------------------------------------------------------
// Requests.

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

fn order_batch(key_id: &str, key: &[u8], from: usize, n: usize) -> Arc<Vec<Vec<u8>>> {
    Arc::new(
        (from..from + n)
            .map(|i| order_request(key_id, key, i))
            .collect(),
    )
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

// ---------------------------------------------------------------------------------------------
// A lean HTTP/1.1 keep-alive client: write the request, read up to the end of the head, parse
// the status and Content-Length, read exactly that much body.

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The server said `Connection: close`; open a new connection before the next request.
    closed: bool,
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

impl Conn {
    async fn open(port: u16) -> io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await?;
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
    async fn exchange(&mut self, request: &[u8]) -> io::Result<u16> {
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
        self.buf.drain(..end);
        Ok(status)
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements.

/// Status 0 stands for an I/O error (connection reset, closed, unparseable response).
const IO_ERROR: u16 = 0;

/// Latencies (microseconds) and statuses of one scenario.
#[derive(Default)]
struct Tally {
    /// Response time: from sending (closed loop) or from the scheduled send time (paced).
    micros: Vec<u32>,
    /// Paced only: from the actual send.
    service: Vec<u32>,
    /// Paced only: how late the client sent after the scheduled time (client-side slack).
    lag: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
}

fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

impl Tally {
    fn with_capacity(n: usize) -> Tally {
        Tally {
            micros: Vec::with_capacity(n),
            ..Tally::default()
        }
    }

    fn record(&mut self, status: u16, latency: Duration) {
        self.micros.push(micros(latency));
        *self.statuses.entry(status).or_default() += 1;
    }

    fn merge(&mut self, other: Tally) {
        self.micros.extend(other.micros);
        self.service.extend(other.service);
        self.lag.extend(other.lag);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
    }

    fn sort(&mut self) {
        self.micros.sort_unstable();
        self.service.sort_unstable();
        self.lag.sort_unstable();
    }

    fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    fn errors(&self, ok: u16) -> String {
        let errors: Vec<String> = self
            .statuses
            .iter()
            .filter(|(s, _)| **s != ok)
            .map(|(s, n)| match *s {
                IO_ERROR => format!("io×{n}"),
                s => format!("{s}×{n}"),
            })
            .collect();
        if errors.is_empty() {
            "none".into()
        } else {
            errors.join(" ")
        }
    }
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

async fn open_all(port: u16, n: usize) -> Vec<Conn> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(Conn::open(port).await.expect("connect to the server"));
    }
    conns
}

/// Closed loop over `conns` connections: request `i` (0 ≤ i < count) is `requests[i % len]`,
/// taken from a shared counter by whichever connection is free; stops at `count` or `deadline`.
async fn closed_loop(
    port: u16,
    conns: usize,
    requests: Arc<Vec<Vec<u8>>>,
    count: usize,
    deadline: Option<Duration>,
) -> (Tally, Duration) {
    let connections = open_all(port, conns).await;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = deadline.map(|d| started + d);
    let per_conn = (count / conns).min(1 << 20) + 16;
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut conn| {
            let (requests, next) = (requests.clone(), next.clone());
            tokio::spawn(async move {
                let mut tally = Tally::with_capacity(per_conn);
                loop {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let request = &requests[i % requests.len()];
                    let sent = Instant::now();
                    let status = conn.exchange(request).await;
                    tally.record(status.as_ref().copied().unwrap_or(IO_ERROR), sent.elapsed());
                    if status.is_err() || conn.closed {
                        conn = match Conn::open(port).await {
                            Ok(c) => c,
                            Err(_) => break,
                        };
                    }
                }
                tally
            })
        })
        .collect();
    let mut all = Tally::default();
    for t in tasks {
        all.merge(t.await.expect("a load task panicked"));
    }
    (all, started.elapsed())
}

/// Open loop: request `i` is due at start + i/rate and goes out on connection i mod conns.
/// Latency counts from when it was due, so time a request spends waiting behind a slow one on
/// its connection is charged to the server, not silently skipped (coordinated omission).
///
/// The schedule is kept by a plain thread sleeping with `std::thread::sleep` (tens of
/// microseconds of slack) rather than tokio timers, which round every deadline up to the next
/// millisecond; that rounding would otherwise add up to a millisecond of client-made latency.
async fn paced(
    port: u16,
    conns: usize,
    rate: u64,
    requests: Arc<Vec<Vec<u8>>>,
) -> (Tally, Duration) {
    let total = requests.len();
    let connections = open_all(port, conns).await;
    let start = Instant::now() + Duration::from_millis(20);
    let due = move |i: usize| {
        start + Duration::from_nanos((i as u128 * 1_000_000_000 / rate as u128) as u64)
    };
    let mut senders = Vec::with_capacity(conns);
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut conn| {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
            senders.push(tx);
            let requests = requests.clone();
            tokio::spawn(async move {
                let n = total / conns + 1;
                let mut tally = Tally::with_capacity(n);
                tally.service.reserve(n);
                tally.lag.reserve(n);
                let mut last = start;
                while let Some(i) = rx.recv().await {
                    let scheduled = due(i);
                    let sent = Instant::now();
                    let status = conn.exchange(&requests[i]).await;
                    let done = Instant::now();
                    tally.record(
                        status.as_ref().copied().unwrap_or(IO_ERROR),
                        done - scheduled,
                    );
                    tally.service.push(micros(done - sent));
                    tally
                        .lag
                        .push(micros(sent.saturating_duration_since(scheduled)));
                    last = done;
                    if status.is_err() || conn.closed {
                        match Conn::open(port).await {
                            Ok(c) => conn = c,
                            Err(_) => break,
                        }
                    }
                }
                (tally, last)
            })
        })
        .collect();
    let pacer = std::thread::spawn(move || {
        for i in 0..total {
            let wait = due(i).saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            let _ = senders[i % conns].send(i);
        }
        // Dropping the senders ends the connection tasks once their queues are drained.
    });
    let mut all = Tally::default();
    let mut end = start;
    for t in tasks {
        let (tally, last) = t.await.expect("a paced task panicked");
        all.merge(tally);
        end = end.max(last);
    }
    pacer.join().expect("the pacer thread panicked");
    (all, end - start)
}

// ---------------------------------------------------------------------------------------------
// /proc readings: memory and CPU time of the server's threads, the client, the machine.

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[derive(Clone, Copy)]
struct Memory {
    rss_kib: u64,
    hwm_kib: u64,
}

fn memory(pid: u32) -> Memory {
    Memory {
        rss_kib: proc_status_kib(pid, "VmRSS:"),
        hwm_kib: proc_status_kib(pid, "VmHWM:"),
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Linux reports thread CPU times in USER_HZ ticks, 100 per second on every mainstream arch.
const TICKS_PER_SECOND: f64 = 100.0;

/// The fields of a /proc stat line after the command name: index 0 is field 3 (state), so
/// utime (field 14) is index 11, stime 12, cutime 13, cstime 14.
fn stat_fields(stat: &str) -> Option<(String, Vec<f64>)> {
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let fields = stat
        .get(close + 2..)?
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    Some((stat[open + 1..close].to_string(), fields))
}

fn ticks(fields: &[f64], range: std::ops::Range<usize>) -> f64 {
    fields.get(range).map(|f| f.iter().sum()).unwrap_or(0.0) / TICKS_PER_SECOND
}

/// CPU seconds (user + system) of a whole process, exited threads included.
fn process_cpu(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| stat_fields(&s))
        .map(|(_, f)| ticks(&f, 11..13))
        .unwrap_or(0.0)
}

/// Per thread name of a process: [CPU seconds (user + system, from stat), seconds on a CPU and
/// seconds runnable but waiting for a CPU (from schedstat)], threads of one name summed.
fn thread_cpu(pid: &str) -> BTreeMap<String, [f64; 3]> {
    let mut by_name: BTreeMap<String, [f64; 3]> = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return by_name;
    };
    for task in tasks.flatten() {
        let Some((name, fields)) = std::fs::read_to_string(task.path().join("stat"))
            .ok()
            .and_then(|s| stat_fields(&s))
        else {
            continue;
        };
        let sched: Vec<f64> = std::fs::read_to_string(task.path().join("schedstat"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse::<f64>().ok())
            .map(|ns| ns / 1e9)
            .collect();
        let entry = by_name.entry(name).or_default();
        entry[0] += ticks(&fields, 11..13);
        entry[1] += sched.first().copied().unwrap_or(0.0);
        entry[2] += sched.get(1).copied().unwrap_or(0.0);
    }
    by_name
}

/// CPU seconds of every other process on the machine: its own time plus that of the children
/// it has reaped, so short-lived processes (a compiler run by cargo) are counted through their
/// parent. Not counted: this program and the server.
fn others_cpu(exclude: &[u32]) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| !exclude.contains(pid))
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|s| stat_fields(&s))
        .map(|(_, f)| ticks(&f, 11..15))
        .sum()
}

/// Machine-wide CPU seconds from /proc/stat: (busy, iowait, total), all cores together.
fn machine_cpu() -> (f64, f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 5 {
        return (0.0, 0.0, 0.0);
    }
    // user nice system idle iowait irq softirq steal (guest time is included in user).
    let total: f64 = v.iter().take(8).sum();
    (
        (total - v[3] - v[4]) / TICKS_PER_SECOND,
        v[4] / TICKS_PER_SECOND,
        total / TICKS_PER_SECOND,
    )
}

struct CpuSnapshot {
    server_threads: BTreeMap<String, [f64; 3]>,
    server: f64,
    client: f64,
    others: f64,
    machine: (f64, f64, f64),
}

fn cpu_snapshot(pid: u32) -> CpuSnapshot {
    CpuSnapshot {
        server_threads: thread_cpu(&pid.to_string()),
        server: process_cpu(&pid.to_string()),
        client: process_cpu("self"),
        others: others_cpu(&[pid, std::process::id()]),
        machine: machine_cpu(),
    }
}

/// CPU seconds used between snapshots, summed over the timed parts of a scenario.
#[derive(Default)]
struct CpuUse {
    /// Per server thread group: CPU seconds, seconds on a CPU, seconds waiting for a CPU.
    groups: BTreeMap<&'static str, [f64; 3]>,
    server: f64,
    client: f64,
    others: f64,
    busy: f64,
    iowait: f64,
    total: f64,
}

fn thread_group(name: &str) -> &'static str {
    if name.starts_with("actix") {
        "http workers (actix-*)"
    } else if name.starts_with("tokio-runtime") || name.starts_with("tokio-rt") {
        "blocking/read pool (tokio-*)"
    } else if name == "hookgate-writer" {
        "writer"
    } else {
        "other threads"
    }
}

impl CpuUse {
    fn add(&mut self, before: &CpuSnapshot, after: &CpuSnapshot) {
        let mut grouped = 0.0;
        for (name, t) in &after.server_threads {
            let b = before.server_threads.get(name).copied().unwrap_or_default();
            let group = self.groups.entry(thread_group(name)).or_default();
            for k in 0..3 {
                group[k] += t[k] - b[k];
            }
            grouped += t[0] - b[0];
        }
        let server = after.server - before.server;
        if server - grouped > 0.0 {
            self.groups.entry("exited threads").or_default()[0] += server - grouped;
        }
        self.server += server;
        self.client += after.client - before.client;
        self.others += (after.others - before.others).max(0.0);
        self.busy += after.machine.0 - before.machine.0;
        self.iowait += after.machine.1 - before.machine.1;
        self.total += after.machine.2 - before.machine.2;
    }

    /// Other processes' CPU as a percentage of one core over `elapsed`.
    fn others_pct(&self, elapsed: Duration) -> f64 {
        100.0 * self.others / elapsed.as_secs_f64().max(1e-9)
    }

    /// One line: CPU as a percentage of one core over `elapsed`.
    fn line(&self, elapsed: Duration) -> String {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let parts: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, t)| t[0] >= 0.005 * secs)
            .map(|(g, t)| {
                format!(
                    "{g} {:.0}% (+{:.0}% runnable, waiting for a CPU)",
                    100.0 * t[0] / secs,
                    100.0 * t[2] / secs
                )
            })
            .collect();
        let total = self.total.max(1e-9);
        let kernel = (self.busy - self.server - self.client - self.others).max(0.0);
        format!(
            "CPU (100% = one core): server {:.0}% [{}]; load generator {:.0}%; \
             other processes {:.0}%; unattributed kernel time {:.0}%; \
             machine busy {:.0}% of all cores, iowait {:.0}%",
            100.0 * self.server / secs,
            parts.join(", "),
            100.0 * self.client / secs,
            self.others_pct(elapsed),
            100.0 * kernel / secs,
            100.0 * self.busy / total,
            100.0 * self.iowait / total,
        )
    }
}

// ---------------------------------------------------------------------------------------------
// /metrics (admin token), scraped between scenarios only.

async fn scrape(port: u16, admin: &str) -> BTreeMap<String, f64> {
    let Ok(response) = http_client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .bearer_auth(admin)
        .send()
        .await
    else {
        return BTreeMap::new();
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn metric(m: &BTreeMap<String, f64>, name: &str) -> f64 {
    m.get(name).copied().unwrap_or(0.0)
}

/// The writer's work between two scrapes.
fn writer_line(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
    elapsed: Duration,
) -> String {
    let d = |name: &str| metric(after, name) - metric(before, name);
    let (jobs, batches, busy) = (
        d("hookgate_writer_jobs_total"),
        d("hookgate_writer_batches_total"),
        d("hookgate_writer_commit_seconds_total"),
    );
    if batches <= 0.0 {
        return "writer: no write groups".into();
    }
    format!(
        "writer: {jobs:.0} writes in {batches:.0} commits = {:.1} per group, {:.2} ms per group, {:.0} commits/s, busy {:.0}% of the time",
        jobs / batches,
        1000.0 * busy / batches,
        batches / elapsed.as_secs_f64(),
        100.0 * busy / elapsed.as_secs_f64(),
    )
}

// ---------------------------------------------------------------------------------------------
// Reporting.

struct Row {
    name: String,
    ok: u64,
    elapsed: Duration,
    rate: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    p999: f64,
    max: f64,
    errors: String,
    memory: Memory,
    /// CPU of other processes on the machine during the run, % of one core.
    others: f64,
}

fn row(name: &str, tally: &mut Tally, elapsed: Duration, ok_status: u16, memory: Memory) -> Row {
    tally.sort();
    let ok = tally.count(ok_status);
    let m = &tally.micros;
    Row {
        name: name.to_string(),
        ok,
        elapsed,
        rate: ok as f64 / elapsed.as_secs_f64(),
        p50: pct(m, 0.50),
        p95: pct(m, 0.95),
        p99: pct(m, 0.99),
        p999: pct(m, 0.999),
        max: pct(m, 1.0),
        errors: tally.errors(ok_status),
        memory,
        others: 0.0,
    }
}

const COLUMNS: [(&str, usize); 12] = [
    ("scenario", 34),
    ("ok", 9),
    ("secs", 6),
    ("ok/s", 7),
    ("p50 ms", 7),
    ("p95 ms", 7),
    ("p99 ms", 7),
    ("p99.9 ms", 8),
    ("max ms", 8),
    ("errors", 10),
    ("RSS / peak MiB", 14),
    ("other CPU", 9),
];

fn print_cells(cells: &[String]) {
    let line: Vec<String> = cells
        .iter()
        .zip(COLUMNS)
        .enumerate()
        .map(|(i, (c, (_, w)))| {
            if i == 0 || i == 9 {
                format!(" {c:<w$} ")
            } else {
                format!(" {c:>w$} ")
            }
        })
        .collect();
    println!("|{}|", line.join("|"));
}

fn print_header() {
    print_cells(&COLUMNS.map(|(h, _)| h.to_string()));
    let rule: Vec<String> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (_, w))| {
            if i == 0 || i == 9 {
                "-".repeat(w + 2)
            } else {
                format!("{}:", "-".repeat(w + 1))
            }
        })
        .collect();
    println!("|{}|", rule.join("|"));
}

fn print_row(r: &Row) {
    print_cells(&[
        r.name.clone(),
        r.ok.to_string(),
        format!("{:.1}", r.elapsed.as_secs_f64()),
        format!("{:.0}", r.rate),
        format!("{:.2}", r.p50),
        format!("{:.2}", r.p95),
        format!("{:.2}", r.p99),
        format!("{:.2}", r.p999),
        format!("{:.2}", r.max),
        r.errors.clone(),
        format!(
            "{:.1} / {:.1}",
            mib(r.memory.rss_kib),
            mib(r.memory.hwm_kib)
        ),
        format!("{:.0}%", r.others),
    ]);
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn machine_description() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cores} cores ({model}), {:.1} GiB RAM, Linux {}",
        memory_kib as f64 / 1048576.0,
        kernel.trim()
    )
}

// ---------------------------------------------------------------------------------------------

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let interrupted = runtime.block_on(async {
        tokio::select! {
            () = run(o) => false,
            () = interrupt() => true,
        }
    });
    // The run future, and with it the server guard, has been dropped: the server is gone.
    if interrupted {
        eprintln!("interrupted; the server was stopped");
        std::process::exit(130);
    }
}

/// Ctrl-C or SIGTERM: end the run early (dropping it kills the server).
async fn interrupt() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn run(o: Options) {
    let server = start_server(&o).await;
    let pid = server.child.id();
    let port = server.port;
    let (key_id, key, admin) = onboard(&server).await;
    let paced_conns = o.paced_connections.unwrap_or(o.concurrency);

    println!("hookgate load benchmark");
    println!("machine: {}", machine_description());
    println!(
        "server: {} (pid {pid}) on 127.0.0.1:{port}, data dir {}",
        server.bin.display(),
        server.data.path().display()
    );
    println!(
        "client: hand-rolled HTTP/1.1 keep-alive on tokio, {} worker thread(s); {} connections ({} for paced){}",
        o.threads,
        o.concurrency,
        paced_conns,
        if o.quick {
            "; QUICK RUN (small sizes)"
        } else {
            ""
        }
    );
    // Everything else on the machine competes with the server and the client for the cores.
    let idle0 = machine_cpu();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle1 = machine_cpu();
    let background = 100.0 * (idle1.0 - idle0.0) / (idle1.2 - idle0.2).max(1e-9);
    println!(
        "machine before the run: {background:.0}% of all cores busy{}",
        if background > 5.0 {
            " — WARNING: other processes are running; figures will be lower than on a quiet machine"
        } else {
            " (quiet)"
        }
    );
    println!();

    let mut rows: Vec<Row> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut healthz_rate = None;
    let mut closed = None::<(f64, f64)>;
    let mut paced_p99 = None;
    let mut final_memory = None;
    let mut sent = 0usize;

    let note = |notes: &mut Vec<String>, name: &str, cpu: String, writer: Option<String>| {
        notes.push(format!("{name}:\n    {cpu}"));
        if let Some(w) = writer {
            notes.push(format!("    {w}"));
        }
    };

    for scenario in &o.scenarios {
        let mut cpu = CpuUse::default();
        match scenario {
            Scenario::Healthz => {
                let name = format!("GET /healthz, {} conns, closed", o.concurrency);
                eprintln!("running: {name}");
                let (count, deadline) = match o.healthz_requests {
                    Some(n) => (n, None),
                    None => (usize::MAX, Some(Duration::from_secs_f64(o.healthz_seconds))),
                };
                let requests = Arc::new(vec![HEALTHZ.to_vec()]);
                let cpu0 = cpu_snapshot(pid);
                let (mut t, elapsed) =
                    closed_loop(port, o.concurrency, requests, count, deadline).await;
                cpu.add(&cpu0, &cpu_snapshot(pid));
                let mut r = row(&name, &mut t, elapsed, 200, memory(pid));
                r.others = cpu.others_pct(elapsed);
                healthz_rate = Some(r.rate);
                note(&mut notes, &name, cpu.line(elapsed), None);
                print_row_progress(&r);
                rows.push(r);
            }
            Scenario::Orders => {
                let name = format!("orders, {} conns, closed", o.concurrency);
                eprintln!("signing {} orders…", o.orders);
                let requests = order_batch(&key_id, &key, sent, o.orders);
                sent += o.orders;
                eprintln!("running: {name}");
                let m0 = scrape(port, &admin).await;
                let cpu0 = cpu_snapshot(pid);
                let (mut t, elapsed) =
                    closed_loop(port, o.concurrency, requests, o.orders, None).await;
                cpu.add(&cpu0, &cpu_snapshot(pid));
                let m1 = scrape(port, &admin).await;
                let mut r = row(&name, &mut t, elapsed, 201, memory(pid));
                r.others = cpu.others_pct(elapsed);
                closed = Some((r.rate, r.p99));
                note(
                    &mut notes,
                    &name,
                    cpu.line(elapsed),
                    Some(writer_line(&m0, &m1, elapsed)),
                );
                print_row_progress(&r);
                rows.push(r);
            }
            Scenario::Paced => {
                let name = format!("orders paced {}/s, {} conns", o.paced_rate, paced_conns);
                let n = (o.paced_rate * o.paced_seconds) as usize;
                eprintln!("signing {n} orders…");
                let requests = order_batch(&key_id, &key, sent, n);
                sent += n;
                eprintln!("running: {name}");
                let m0 = scrape(port, &admin).await;
                let cpu0 = cpu_snapshot(pid);
                let (mut t, elapsed) = paced(port, paced_conns, o.paced_rate, requests).await;
                cpu.add(&cpu0, &cpu_snapshot(pid));
                let m1 = scrape(port, &admin).await;
                let mut r = row(&name, &mut t, elapsed, 201, memory(pid));
                r.others = cpu.others_pct(elapsed);
                paced_p99 = Some(r.p99);
                note(
                    &mut notes,
                    &name,
                    cpu.line(elapsed),
                    Some(writer_line(&m0, &m1, elapsed)),
                );
                notes.push(format!(
                    "    from the actual send (service time): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
                     client send lag behind schedule: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    pct(&t.service, 0.5),
                    pct(&t.service, 0.99),
                    pct(&t.service, 1.0),
                    pct(&t.lag, 0.5),
                    pct(&t.lag, 0.99),
                    pct(&t.lag, 1.0),
                ));
                print_row_progress(&r);
                rows.push(r);
            }
            Scenario::Long => {
                let name = format!("orders to {} total, {} conns", o.total, o.concurrency);
                let mut all = Tally::default();
                let mut elapsed = Duration::ZERO;
                let (mut jobs, mut batches, mut busy) = (0.0, 0.0, 0.0);
                let mut chunk_rates = Vec::new();
                while sent < o.total {
                    let n = (o.total - sent).min(o.chunk);
                    // Signed per chunk, untimed, so every timestamp is fresh when it is sent.
                    let requests = order_batch(&key_id, &key, sent, n);
                    let m0 = scrape(port, &admin).await;
                    let cpu0 = cpu_snapshot(pid);
                    let (mut t, e) = closed_loop(port, o.concurrency, requests, n, None).await;
                    cpu.add(&cpu0, &cpu_snapshot(pid));
                    let m1 = scrape(port, &admin).await;
                    let d = |name: &str| metric(&m1, name) - metric(&m0, name);
                    jobs += d("hookgate_writer_jobs_total");
                    batches += d("hookgate_writer_batches_total");
                    busy += d("hookgate_writer_commit_seconds_total");
                    sent += n;
                    elapsed += e;
                    t.sort();
                    let mem = memory(pid);
                    let rate = t.count(201) as f64 / e.as_secs_f64();
                    chunk_rates.push(format!("{rate:.0}"));
                    eprintln!(
                        "  {sent:>8} orders: this chunk {rate:.0}/s, p99 {:.2} ms, errors {}; \
                         server RSS {:.1} MiB, peak {:.1} MiB",
                        pct(&t.micros, 0.99),
                        t.errors(201),
                        mib(mem.rss_kib),
                        mib(mem.hwm_kib)
                    );
                    all.merge(t);
                }
                // Let the server settle (background jobs, allocator) before the memory reading.
                tokio::time::sleep(Duration::from_secs(2)).await;
                let mem = memory(pid);
                final_memory = Some(mem);
                if all.micros.is_empty() {
                    continue;
                }
                let mut r = row(&name, &mut all, elapsed, 201, mem);
                r.others = cpu.others_pct(elapsed);
                note(
                    &mut notes,
                    &name,
                    cpu.line(elapsed),
                    Some(format!(
                        "writer: {jobs:.0} writes in {batches:.0} commits = {:.1} per group, \
                         {:.2} ms per group, {:.0} commits/s, busy {:.0}% of the time\n    \
                         ok/s per chunk of {}: {}",
                        jobs / batches.max(1.0),
                        1000.0 * busy / batches.max(1.0),
                        batches / elapsed.as_secs_f64(),
                        100.0 * busy / elapsed.as_secs_f64(),
                        o.chunk,
                        chunk_rates.join(" ")
                    )),
                );
                print_row_progress(&r);
                rows.push(r);
            }
        }
    }

    let metrics = scrape(port, &admin).await;
    let final_memory = final_memory.unwrap_or_else(|| memory(pid));

    println!();
    print_header();
    for r in &rows {
        print_row(r);
    }
    println!();
    println!(
        "latency: closed loops from send to full response; paced from the scheduled send time."
    );
    println!("RSS / peak: the server's VmRSS and VmHWM (/proc/{pid}/status) after the scenario.");
    println!(
        "other CPU: CPU time of other processes on the machine during the scenario, in % of one \
         core; well above 0 means the figures are depressed by outside load."
    );
    println!();
    for n in &notes {
        println!("{n}");
    }
    println!();
    let jobs = metric(&metrics, "hookgate_writer_jobs_total");
    let batches = metric(&metrics, "hookgate_writer_batches_total");
    println!(
        "whole run: {sent} orders signed; server counted {:.0} writes in {:.0} commits (mean group {:.1}), \
         {:.0} failed commits; database + WAL {:.1} MiB",
        jobs,
        batches,
        jobs / batches.max(1.0),
        metric(&metrics, "hookgate_writer_failed_commits_total"),
        metric(&metrics, "hookgate_database_size_bytes") / 1048576.0
    );
    println!(
        "server memory at the end: VmRSS {:.1} MiB ({:.1} MB), VmHWM {:.1} MiB ({:.1} MB)",
        mib(final_memory.rss_kib),
        final_memory.rss_kib as f64 * 1024.0 / 1e6,
        mib(final_memory.hwm_kib),
        final_memory.hwm_kib as f64 * 1024.0 / 1e6
    );
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"level\":\"WARN\"") || l.contains("\"level\":\"ERROR\""))
        .collect();
    println!(
        "server log: {} lines, {} warnings/errors{}",
        log.lines().count(),
        bad.len(),
        if o.server_log.is_some() {
            format!(" ({})", server.log.display())
        } else {
            String::new()
        }
    );
    for l in bad.iter().take(5) {
        println!("    {l}");
    }

    println!();
    println!(
        "targets{}:",
        if o.quick {
            " (quick run: sizes are below the issue's, indicative only)"
        } else {
            ""
        }
    );
    let na = "n/a (scenario not run)";
    match (closed, healthz_rate) {
        (Some((rate, _)), Some(h)) => println!(
            "  orders/s >= 0.35 x healthz/s at {} conns: {rate:.0} / {h:.0} = {:.3}  {}",
            o.concurrency,
            rate / h,
            verdict(rate / h >= 0.35)
        ),
        _ => println!("  orders/s >= 0.35 x healthz/s: {na}"),
    }
    match closed {
        Some((_, p99)) => println!(
            "  p99 < 15 ms at {} conns, closed loop: {p99:.2} ms  {}",
            o.concurrency,
            verdict(p99 < 15.0)
        ),
        None => println!("  p99 < 15 ms closed loop: {na}"),
    }
    match paced_p99 {
        Some(p99) => println!(
            "  p99 < 5 ms paced at {}/s: {p99:.2} ms  {}",
            o.paced_rate,
            verdict(p99 < 5.0)
        ),
        None => println!("  p99 < 5 ms paced: {na}"),
    }
    if o.scenarios.contains(&Scenario::Long) {
        let mb = |kib: u64| kib as f64 * 1024.0 / 1e6;
        println!(
            "  RSS < 100 MB after {sent} orders: VmRSS {:.1} MB  {}; peak (VmHWM) {:.1} MB  {}",
            mb(final_memory.rss_kib),
            verdict(mb(final_memory.rss_kib) < 100.0),
            mb(final_memory.hwm_kib),
            verdict(mb(final_memory.hwm_kib) < 100.0)
        );
    } else {
        println!("  RSS < 100 MB after the long run: {na}");
    }
    drop(server);
}

fn print_row_progress(r: &Row) {
    eprintln!(
        "  {}: {} ok in {:.1}s = {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, errors {}",
        r.name,
        r.ok,
        r.elapsed.as_secs_f64(),
        r.rate,
        r.p50,
        r.p99,
        r.errors
    );
}
