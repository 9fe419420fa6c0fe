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
//!   long     orders closed loop until --total orders exist, then the server's RSS;
//!   scale    fills the database to --scale-orders (3,000,000) orders, then runs the closed loop
//!            and the paced loop again on it, across several runs of the background jobs
//!            (retention deleting rows older than --server-retention, metric roll-ups);
//!   sources  GitHub-signed deliveries of ~1 KiB to a provider source (/in/<slug>), closed loop,
//!            --orders of them: accepted/s beside the orders figure of the same run;
//!   login    --login-ips client IPs (127.0.0.2 on) try logins of unknown accounts for
//!            --login-seconds while /healthz is polled and a real user logs in: peak RSS,
//!            /healthz latency, the user's success;
//!   deliveries  outbound deliveries to a sink in this program (127.0.0.1, answering 200):
//!            orders/s without and with one destination, deliveries/s while ingesting and
//!            when draining a --backlog, and paced at --paced-rate the time from the sender's
//!            2xx to the sink receiving the delivery (deliveries.rs).
//!
//! Every request goes to 127.0.0.1 only, and the server is killed when this program ends,
//! including on panics, Ctrl-C and SIGTERM (a guard kills it on drop). The server's data dir is a
//! temporary directory (TMPDIR): the full run writes about 1.7 GB there, the scale scenario
//! about 5 GB more; removed at the end.
//! Results and their explanation: docs/performance.md.

mod client;
mod deliveries;
mod login;
mod metrics;
mod options;
mod procstats;
mod report;
mod scenarios;
mod server;
mod sink;
mod tally;

use client::{GITHUB_SECRET, HEALTHZ, github_batch, order_batch};
use metrics::{metric, scrape, writer_line};
use options::{Options, Scenario};
use procstats::{CpuUse, cpu_snapshot, machine_cpu, memory, mib};
use report::{Results, Row, ScaleResult, machine_description, print_summary, row};
use scenarios::{closed_loop, paced};
use server::{onboard, start_server};
use std::sync::Arc;
use std::time::Duration;
use tally::{Tally, pct};

fn main() {
    let o = Options::from_command_line();
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
    let (key_id, key, admin) = onboard(&server).await;
    let mut bench = Bench {
        pid: server.child.id(),
        port: server.port,
        key_id,
        key,
        admin,
        sent: 0,
        results: Results::default(),
        o,
    };
    bench.introduce(&server).await;
    let scenarios = bench.o.scenarios.clone();
    for scenario in scenarios {
        match scenario {
            Scenario::Healthz => bench.healthz().await,
            Scenario::Orders => {
                let (rate, p99) = bench.orders("").await;
                bench.results.closed = Some((rate, p99));
            }
            Scenario::Paced => {
                let p99 = bench.paced("", bench.o.paced_seconds, false).await.0.p99;
                bench.results.paced_p99 = Some(p99);
            }
            Scenario::Long => {
                let total = bench.o.total;
                bench.fill(total, "").await;
                // Let the server settle (background jobs, allocator) before the memory reading.
                tokio::time::sleep(Duration::from_secs(2)).await;
                bench.results.final_memory = Some(memory(bench.pid));
            }
            Scenario::Scale => bench.scale().await,
            Scenario::Sources => bench.sources().await,
            Scenario::Login => bench.login().await,
            Scenario::Deliveries => bench.deliveries().await,
        }
    }

    let metrics = scrape(bench.port, &bench.admin).await;
    print_summary(&bench.o, &server, &bench.results, bench.sent, &metrics);
    drop(server);
}

/// One run: the server it drives, the merchant it signs as, and what it measured so far.
struct Bench {
    o: Options,
    pid: u32,
    port: u16,
    key_id: String,
    key: Vec<u8>,
    admin: String,
    /// Orders signed so far; the next order's number.
    sent: usize,
    results: Results,
}

impl Bench {
    async fn introduce(&self, server: &server::Server) {
        let o = &self.o;
        println!("hookgate load benchmark");
        println!("machine: {}", machine_description());
        println!(
            "server: {} (pid {}) on 127.0.0.1:{}, data dir {}, --retention {}",
            server.bin.display(),
            self.pid,
            self.port,
            server.data.path().display(),
            o.server_retention.as_deref().unwrap_or("30d (default)")
        );
        println!(
            "client: hand-rolled HTTP/1.1 keep-alive on tokio, {} worker thread(s); {} connections ({} for paced){}",
            o.threads,
            o.concurrency,
            self.paced_connections(),
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
    }

    fn paced_connections(&self) -> usize {
        self.o.paced_connections.unwrap_or(self.o.concurrency)
    }

    /// Sign the next `n` orders (untimed).
    fn sign(&mut self, n: usize) -> Arc<Vec<Vec<u8>>> {
        eprintln!("signing {n} orders…");
        let requests = order_batch(&self.key_id, &self.key, self.sent, n);
        self.sent += n;
        requests
    }

    async fn healthz(&mut self) {
        let o = &self.o;
        let name = format!("GET /healthz, {} conns, closed", o.concurrency);
        eprintln!("running: {name}");
        let (count, deadline) = match o.healthz_requests {
            Some(n) => (n, None),
            None => (usize::MAX, Some(Duration::from_secs(o.healthz_seconds))),
        };
        let requests = Arc::new(vec![HEALTHZ.to_vec()]);
        let mut cpu = CpuUse::default();
        let cpu0 = cpu_snapshot(self.pid);
        let (mut t, elapsed) =
            closed_loop(self.port, o.concurrency, requests, count, deadline).await;
        cpu.add(&cpu0, &cpu_snapshot(self.pid));
        let mut r = row(&name, &mut t, elapsed, 200, memory(self.pid));
        r.others = cpu.others_pct(elapsed);
        self.results.healthz_rate = Some(r.rate);
        self.results.note(&name, cpu.line(elapsed), None);
        self.results.push(r);
    }

    /// `--orders` orders, closed loop; returns ok/s and p99 (ms).
    async fn orders(&mut self, label: &str) -> (f64, f64) {
        let n = self.o.orders;
        let name = format!("orders, {} conns, closed{label}", self.o.concurrency);
        let requests = self.sign(n);
        let r = self.closed_run(&name, requests, 201).await;
        (r.rate, r.p99)
    }

    /// Every request of `requests` once over `--concurrency` connections; the row is kept.
    async fn closed_run(&mut self, name: &str, requests: Arc<Vec<Vec<u8>>>, ok: u16) -> Row {
        eprintln!("running: {name}");
        let n = requests.len();
        let m0 = scrape(self.port, &self.admin).await;
        let mut cpu = CpuUse::default();
        let cpu0 = cpu_snapshot(self.pid);
        let (mut t, elapsed) = closed_loop(self.port, self.o.concurrency, requests, n, None).await;
        cpu.add(&cpu0, &cpu_snapshot(self.pid));
        let m1 = scrape(self.port, &self.admin).await;
        let mut r = row(name, &mut t, elapsed, ok, memory(self.pid));
        r.others = cpu.others_pct(elapsed);
        self.results.note(
            name,
            cpu.line(elapsed),
            Some(writer_line(&m0, &m1, elapsed)),
        );
        self.results.push(r.clone());
        r
    }

    /// `--paced-rate` orders a second for `seconds`, open loop; returns the row and, with
    /// `acks`, each accepted order's event id and the instant its 2xx arrived. The notes say
    /// what the background jobs did meanwhile.
    async fn paced(
        &mut self,
        label: &str,
        seconds: u64,
        acks: bool,
    ) -> (Row, Vec<(String, std::time::Instant)>) {
        let rate = self.o.paced_rate;
        let conns = self.paced_connections();
        let name = format!("orders paced {rate}/s, {conns} conns{label}");
        let requests = self.sign((rate * seconds) as usize);
        eprintln!("running: {name}");
        let m0 = scrape(self.port, &self.admin).await;
        let mut cpu = CpuUse::default();
        let cpu0 = cpu_snapshot(self.pid);
        let (mut t, elapsed) = paced(self.port, conns, rate, requests, acks).await;
        cpu.add(&cpu0, &cpu_snapshot(self.pid));
        let m1 = scrape(self.port, &self.admin).await;
        let mut r = row(&name, &mut t, elapsed, 201, memory(self.pid));
        r.others = cpu.others_pct(elapsed);
        self.results.note(
            &name,
            cpu.line(elapsed),
            Some(writer_line(&m0, &m1, elapsed)),
        );
        self.results.notes.push(format!(
            "    from the actual send (service time): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
             client send lag behind schedule: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            pct(&t.service, 0.5),
            pct(&t.service, 0.99),
            pct(&t.service, 1.0),
            pct(&t.lag, 0.5),
            pct(&t.lag, 0.99),
            pct(&t.lag, 1.0),
        ));
        self.results
            .notes
            .push(format!("    {}", jobs_line(&m0, &m1)));
        let summary = r.clone();
        self.results.push(r);
        (summary, std::mem::take(&mut t.acks))
    }

    /// Closed-loop orders in chunks until `total` orders were signed in all.
    async fn fill(&mut self, total: usize, label: &str) {
        let o = &self.o;
        let name = format!("orders to {total} total, {} conns{label}", o.concurrency);
        let (concurrency, chunk) = (o.concurrency, o.chunk);
        let mut all = Tally::default();
        let mut cpu = CpuUse::default();
        let mut elapsed = Duration::ZERO;
        let (mut jobs, mut batches, mut busy) = (0.0, 0.0, 0.0);
        let mut chunk_rates = Vec::new();
        while self.sent < total {
            let n = (total - self.sent).min(chunk);
            // Signed per chunk, untimed, so every timestamp is fresh when it is sent.
            let requests = order_batch(&self.key_id, &self.key, self.sent, n);
            let m0 = scrape(self.port, &self.admin).await;
            let cpu0 = cpu_snapshot(self.pid);
            let (mut t, e) = closed_loop(self.port, concurrency, requests, n, None).await;
            cpu.add(&cpu0, &cpu_snapshot(self.pid));
            let m1 = scrape(self.port, &self.admin).await;
            let d = |name: &str| metric(&m1, name) - metric(&m0, name);
            jobs += d("hookgate_writer_jobs_total");
            batches += d("hookgate_writer_batches_total");
            busy += d("hookgate_writer_commit_seconds_total");
            self.sent += n;
            elapsed += e;
            t.sort();
            let mem = memory(self.pid);
            let rate = t.count(201) as f64 / e.as_secs_f64();
            chunk_rates.push(format!("{rate:.0}"));
            eprintln!(
                "  {:>8} orders: this chunk {rate:.0}/s, p99 {:.2} ms, errors {}; \
                 server RSS {:.1} MiB, peak {:.1} MiB",
                self.sent,
                pct(&t.micros, 0.99),
                t.errors(201),
                mib(mem.rss_kib),
                mib(mem.hwm_kib)
            );
            all.merge(t);
        }
        if all.micros.is_empty() {
            return;
        }
        let mut r = row(&name, &mut all, elapsed, 201, memory(self.pid));
        r.others = cpu.others_pct(elapsed);
        self.results.note(
            &name,
            cpu.line(elapsed),
            Some(format!(
                "writer: {jobs:.0} writes in {batches:.0} commits = {:.1} per group, \
                 {:.2} ms per group, {:.0} commits/s, busy {:.0}% of the time\n    \
                 ok/s per chunk of {chunk}: {}",
                jobs / batches.max(1.0),
                1000.0 * busy / batches.max(1.0),
                batches / elapsed.as_secs_f64(),
                100.0 * busy / elapsed.as_secs_f64(),
                chunk_rates.join(" ")
            )),
        );
        self.results.push(r);
    }

    /// `--orders` GitHub deliveries to a source, closed loop.
    async fn sources(&mut self) {
        let slug = "bench-github";
        let created = server::http_client()
            .post(format!(
                "http://127.0.0.1:{}/api/v1/admin/sources",
                self.port
            ))
            .bearer_auth(&self.admin)
            .json(&serde_json::json!({"slug": slug, "kind": "github", "secret": GITHUB_SECRET}))
            .send()
            .await
            .expect("create the source");
        assert!(
            created.status().is_success() || created.status() == reqwest::StatusCode::CONFLICT,
            "creating the source: {}",
            created.status()
        );
        let n = self.o.orders;
        let name = format!(
            "sources (GitHub, 1 KiB), {} conns, closed",
            self.o.concurrency
        );
        eprintln!("signing {n} GitHub deliveries…");
        let requests = github_batch(slug, self.sent, n);
        self.sent += n;
        let r = self.closed_run(&name, requests, 200).await;
        self.results.sources_rate = Some(r.rate);
    }

    async fn login(&mut self) {
        let (ips, seconds) = (self.o.login_ips, self.o.login_seconds);
        eprintln!("running: login flood from {ips} IPs for {seconds} s");
        let flood = login::flood(self.port, self.pid, ips, seconds).await;
        eprintln!("  {}", flood.describe());
        self.results.notes.push(format!(
            "login flood, {ips} IPs, {seconds} s:\n    {}\n    server RSS peak (sampled every \
             100 ms) {:.1} MiB, at the end {:.1} MiB, VmHWM {:.1} MiB",
            flood.describe(),
            mib(flood.peak_rss_kib),
            mib(flood.end.rss_kib),
            mib(flood.end.hwm_kib)
        ));
        self.results.login = Some(flood);
    }

    /// Fill to `--scale-orders`, then the closed and paced loops on the large database.
    async fn scale(&mut self) {
        let total = self.o.scale_orders;
        self.fill(total, " (scale: fill)").await;
        let db = metric(
            &scrape(self.port, &self.admin).await,
            "hookgate_database_size_bytes",
        );
        let label = format!(" ({:.1} GB db)", db / 1e9);
        let (rate, _) = self.orders(&label).await;
        let m0 = scrape(self.port, &self.admin).await;
        let (paced, _) = self.paced(&label, self.o.scale_seconds, false).await;
        let m1 = scrape(self.port, &self.admin).await;
        let runs = |job: &str| {
            let series = format!("hookgate_job_runs_total{{job=\"{job}\"}}");
            metric(&m1, &series) - metric(&m0, &series)
        };
        self.results.scale = Some(ScaleResult {
            orders: self.sent,
            closed_rate: rate,
            paced_p99: paced.p99,
            paced_max: paced.max,
            retention_runs: runs("retention"),
            rollup_runs: runs("rollup"),
            deleted: deleted_rows(&m1) - deleted_rows(&m0),
        });
    }
}

fn deleted_rows(m: &std::collections::BTreeMap<String, f64>) -> f64 {
    metric(m, "hookgate_retention_deleted_rows_total{table=\"events\"}")
        + metric(m, "hookgate_retention_deleted_rows_total{table=\"outbox\"}")
}

/// What the background jobs did between two scrapes.
fn jobs_line(
    before: &std::collections::BTreeMap<String, f64>,
    after: &std::collections::BTreeMap<String, f64>,
) -> String {
    let d = |name: &str| metric(after, name) - metric(before, name);
    format!(
        "background jobs meanwhile: {:.0} retention runs deleting {:.0} rows, {:.0} metric roll-ups",
        d("hookgate_job_runs_total{job=\"retention\"}"),
        deleted_rows(after) - deleted_rows(before),
        d("hookgate_job_runs_total{job=\"rollup\"}"),
    )
}
