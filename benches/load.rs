//! Load generator for hookgate: starts the release server on 127.0.0.1, onboards a merchant
//! through the real API, and fires signed order webhooks over keep-alive connections.
//!
//!     cargo bench --bench load                 # the full run (about 3 minutes on 2 cores)
//!     cargo bench --bench load -- --quick      # a small smoke run
//!
//! Options: --concurrency N (64), --orders N (200000, closed loop), --healthz-seconds S (10),
//! --paced-rate R (1000), --paced-seconds S (20), --total N (1000000 orders before the RSS
//! reading), --threads N (client runtime worker threads, 1).
//!
//! Scenarios, in order: GET /healthz closed loop (the HTTP stack's ceiling on this machine);
//! orders closed loop; orders paced (open loop, latency measured from the scheduled send time,
//! so stalls are not hidden by coordinated omission); orders until --total, then the server's
//! RSS. Every request talks to 127.0.0.1 only, and the server is killed on exit.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Options {
    concurrency: usize,
    orders: usize,
    healthz_seconds: u64,
    paced_rate: u64,
    paced_seconds: u64,
    total: usize,
    threads: usize,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut o = if quick {
        Options {
            concurrency: 16,
            orders: 5_000,
            healthz_seconds: 2,
            paced_rate: 500,
            paced_seconds: 3,
            total: 10_000,
            threads: 1,
        }
    } else {
        Options {
            concurrency: 64,
            orders: 200_000,
            healthz_seconds: 10,
            paced_rate: 1_000,
            paced_seconds: 20,
            total: 1_000_000,
            threads: 1,
        }
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("{a} needs a number"))
        };
        match a.as_str() {
            "--concurrency" => o.concurrency = value() as usize,
            "--orders" => o.orders = value() as usize,
            "--healthz-seconds" => o.healthz_seconds = value(),
            "--paced-rate" => o.paced_rate = value(),
            "--paced-seconds" => o.paced_seconds = value(),
            "--total" => o.total = value() as usize,
            "--threads" => o.threads = value() as usize,
            "--quick" | "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// The server child process, killed on drop (also on panic).
struct Server {
    child: Child,
    port: u16,
    data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const BIN: &str = env!("CARGO_BIN_EXE_hookgate");
const PASSWORD: &str = "benchmark password 1";

fn start_server() -> Server {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data.path())
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args([
            "--merchant-rate",
            "100000000/s",
            "--ip-rate",
            "100000000/s",
            "--log-format",
            "json",
            "serve",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start hookgate (cargo build --release first)");
    let server = Server { child, port, data };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("server did not start");
}

fn cli(server: &Server, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(server.data.path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Onboard a merchant through the real API; returns (key id, secret, admin token).
async fn onboard(server: &Server) -> (String, String, String) {
    cli(
        server,
        &[
            "admin",
            "create",
            "--email",
            "admin@bench.local",
            "--password-stdin",
        ],
        PASSWORD,
    );
    let admin = cli(
        server,
        &["admin", "token", "--email", "admin@bench.local"],
        "",
    );
    let base = format!("http://127.0.0.1:{}", server.port);
    let http = reqwest::Client::new();
    let email = "shop@bench.local";
    let ok = |r: &reqwest::Response, what: &str| {
        assert!(r.status().is_success(), "{what}: {}", r.status())
    };
    let r = http.post(format!("{base}/api/v1/auth/register"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD, "business_name": "Bench Shop"}))
        .send().await.unwrap();
    ok(&r, "register");
    let outbox: serde_json::Value = http
        .get(format!("{base}/api/v1/admin/outbox?to={email}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = outbox[0]["subject"]
        .as_str()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    let r = http
        .post(format!("{base}/api/v1/auth/verify-email"))
        .json(&serde_json::json!({"email": email, "code": code}))
        .send()
        .await
        .unwrap();
    ok(&r, "verify");
    let token: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/token"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    let form = reqwest::multipart::Form::new()
        .text("legal_name", "Bench Shop Ltd")
        .text("registration_number", "RC-1")
        .text("country", "NG")
        .text("address", "1 Bench St")
        .text("contact_phone", "+2348123456789")
        .part(
            "document",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 bench".to_vec()).file_name("doc.pdf"),
        );
    let kyc: serde_json::Value = http
        .post(format!("{base}/api/v1/kyc"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = http
        .post(format!(
            "{base}/api/v1/admin/kyc/{}/approve",
            kyc["kyc_id"].as_str().unwrap()
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    ok(&r, "approve");
    let secret: serde_json::Value = http
        .get(format!("{base}/api/v1/webhook/secret/"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        secret["key_id"].as_str().unwrap().to_string(),
        secret["secret_key"].as_str().unwrap().to_string(),
        admin,
    )
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A signed order webhook as raw HTTP/1.1 request bytes.
fn order_request(key_id: &str, key: &[u8], n: usize) -> Vec<u8> {
    let body = format!(
        r#"{{"customer_details":{{"name":"John Doe","email":"john@example.com","phone":"+2348123456789"}},"item_summary":"iPhone 15 x2","address":"123 Main St, Lagos","tracking_status":"PENDING","merchant_reference":"bench-{n}"}}"#
    );
    let id = format!("msg_bench_{n}");
    let ts = unix_now();
    let sig = hookgate::domain::signature::sign(key, &id, ts, body.as_bytes());
    format!(
        "POST /api/v1/webhooks/orders/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {key_id}\r\nwebhook-id: {id}\r\n\
         webhook-timestamp: {ts}\r\nwebhook-signature: {sig}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// One keep-alive connection.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Send a request and read one response; returns the status code.
    async fn exchange(&mut self, request: &[u8]) -> u16 {
        self.stream.write_all(request).await.unwrap();
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).unwrap();
                let status: u16 = head[9..12].parse().unwrap();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())
                            .flatten()
                    })
                    .unwrap_or(0);
                while self.buf.len() < end + 4 + length {
                    let n = self.stream.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "connection closed mid-body");
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                return status;
            }
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "connection closed");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Latencies and statuses of a run.
#[derive(Default)]
struct Tally {
    micros: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.micros.extend(other.micros);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
    }

    fn percentile(&mut self, p: f64) -> f64 {
        if self.micros.is_empty() {
            return 0.0;
        }
        self.micros.sort_unstable();
        let i = ((p * self.micros.len() as f64).ceil() as usize).clamp(1, self.micros.len()) - 1;
        self.micros[i] as f64 / 1000.0
    }

    fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }
}

/// Closed loop: `conns` connections each sending its share of `requests` back to back.
async fn closed_loop(port: u16, conns: usize, requests: Arc<Vec<Vec<u8>>>) -> (Tally, Duration) {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (requests, next) = (requests.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(port).await;
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(req) = requests.get(i) else { break };
                let t = Instant::now();
                let status = conn.exchange(req).await;
                tally.micros.push(t.elapsed().as_micros() as u32);
                *tally.statuses.entry(status).or_default() += 1;
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for t in tasks {
        all.merge(t.await.unwrap());
    }
    (all, started.elapsed())
}

/// Closed loop on GET /healthz for a duration.
async fn healthz_loop(port: u16, conns: usize, seconds: u64) -> (Tally, Duration) {
    let request = Arc::new(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".to_vec());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(port).await;
            let mut tally = Tally::default();
            while Instant::now() < deadline {
                let t = Instant::now();
                let status = conn.exchange(&request).await;
                tally.micros.push(t.elapsed().as_micros() as u32);
                *tally.statuses.entry(status).or_default() += 1;
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for t in tasks {
        all.merge(t.await.unwrap());
    }
    (all, started.elapsed())
}

/// Open loop at `rate`/s for `seconds`: request i is due at start + i/rate; latency counts from
/// when it was due, so a stalled server shows up in the percentiles.
async fn paced(
    port: u16,
    conns: usize,
    rate: u64,
    seconds: u64,
    requests: Arc<Vec<Vec<u8>>>,
) -> (Tally, Duration) {
    let total = (rate * seconds) as usize;
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let requests = requests.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(port).await;
            let mut tally = Tally::default();
            let mut i = c;
            while i < total {
                let due = start + interval * i as u32;
                tokio::time::sleep_until(due).await;
                let status = conn.exchange(&requests[i]).await;
                tally.micros.push(due.elapsed().as_micros() as u32);
                *tally.statuses.entry(status).or_default() += 1;
                i += conns;
            }
            tally
        }));
    }
    let began = Instant::now();
    let mut all = Tally::default();
    for t in tasks {
        all.merge(t.await.unwrap());
    }
    (all, began.elapsed())
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn line(name: &str, tally: &mut Tally, elapsed: Duration, ok_status: &[u16]) -> f64 {
    let ok: u64 = ok_status.iter().map(|s| tally.count(*s)).sum();
    let rate = ok as f64 / elapsed.as_secs_f64();
    let errors: Vec<String> = tally
        .statuses
        .iter()
        .filter(|(s, _)| !ok_status.contains(s))
        .map(|(s, n)| format!("{s}×{n}"))
        .collect();
    println!(
        "{name:<28} {:>9} ok in {:>6.2}s = {:>8.0}/s   p50 {:>6.2} ms  p95 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  errors: {}",
        ok,
        elapsed.as_secs_f64(),
        rate,
        tally.percentile(0.50),
        tally.percentile(0.95),
        tally.percentile(0.99),
        tally.percentile(1.0),
        if errors.is_empty() {
            "none".to_string()
        } else {
            errors.join(", ")
        }
    );
    rate
}

async fn scrape(port: u16, admin: &str, series: &str) -> f64 {
    let text = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn main() {
    let o = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.threads)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(o));
}

async fn run(o: Options) {
    let server = start_server();
    let pid = server.child.id();
    let (key_id, secret, admin) = onboard(&server).await;
    let key = hookgate::domain::WebhookSecret::parse(&secret)
        .unwrap()
        .key()
        .to_vec();
    println!(
        "hookgate load benchmark: {} connections, client runtime with {} worker thread(s), {} cores",
        o.concurrency,
        o.threads,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );

    let (mut h, h_elapsed) = healthz_loop(server.port, o.concurrency, o.healthz_seconds).await;
    let healthz_rate = line("GET /healthz (closed loop)", &mut h, h_elapsed, &[200]);

    let mut sent = 0usize;
    let batch = |from: usize, n: usize| {
        Arc::new(
            (from..from + n)
                .map(|i| order_request(&key_id, &key, i))
                .collect::<Vec<_>>(),
        )
    };
    let requests = batch(sent, o.orders);
    sent += o.orders;
    let (mut c, c_elapsed) = closed_loop(server.port, o.concurrency, requests).await;
    let orders_rate = line("orders (closed loop)", &mut c, c_elapsed, &[201]);
    let closed_p99 = c.percentile(0.99);

    let paced_n = (o.paced_rate * o.paced_seconds) as usize;
    let requests = batch(sent, paced_n);
    sent += paced_n;
    let (mut p, p_elapsed) = paced(
        server.port,
        o.concurrency.min(32),
        o.paced_rate,
        o.paced_seconds,
        requests,
    )
    .await;
    line(
        &format!("orders paced at {}/s", o.paced_rate),
        &mut p,
        p_elapsed,
        &[201],
    );
    let paced_p99 = p.percentile(0.99);

    // Up to --total orders in chunks (signed just in time, so timestamps stay fresh).
    let mut rest = Tally::default();
    let rest_started = Instant::now();
    while sent < o.total {
        let n = (o.total - sent).min(200_000);
        let requests = batch(sent, n);
        sent += n;
        let (t, _) = closed_loop(server.port, o.concurrency, requests).await;
        rest.merge(t);
    }
    if !rest.micros.is_empty() {
        line(
            "orders (to the total)",
            &mut rest,
            rest_started.elapsed(),
            &[201],
        );
    }
    let (rss, hwm) = rss_kib(pid);
    let jobs = scrape(server.port, &admin, "hookgate_writer_jobs_total").await;
    let batches = scrape(server.port, &admin, "hookgate_writer_batches_total").await;
    let db = scrape(server.port, &admin, "hookgate_database_size_bytes").await;

    let ratio = orders_rate / healthz_rate;
    println!();
    println!(
        "orders stored: {sent}; writer: {jobs:.0} writes in {batches:.0} commits (mean group {:.1}); database {:.0} MiB",
        jobs / batches.max(1.0),
        db / 1048576.0
    );
    println!(
        "server RSS after {sent} orders: {:.1} MiB (peak {:.1} MiB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!();
    println!(
        "target: orders/s >= 0.35 x healthz/s at {} conns: {:.0} / {:.0} = {:.2}  {}",
        o.concurrency,
        orders_rate,
        healthz_rate,
        ratio,
        verdict(ratio >= 0.35)
    );
    println!(
        "target: p99 < 15 ms at {} conns (closed loop): {:.2} ms  {}",
        o.concurrency,
        closed_p99,
        verdict(closed_p99 < 15.0)
    );
    println!(
        "target: p99 < 5 ms paced at {}/s: {:.2} ms  {}",
        o.paced_rate,
        paced_p99,
        verdict(paced_p99 < 5.0)
    );
    println!(
        "target: peak RSS < 100 MB after {sent} orders: {:.1} MB  {}",
        hwm as f64 * 1024.0 / 1e6,
        verdict(hwm * 1024 < 100_000_000)
    );
}
