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

mod client;
mod metrics;
mod options;
mod procstats;
mod report;
mod scenarios;
mod server;
mod tally;

use client::{HEALTHZ, order_batch};
use metrics::{metric, scrape, writer_line};
use options::{Options, Scenario};
use procstats::{CpuUse, cpu_snapshot, machine_cpu, memory, mib};
use report::{Results, machine_description, print_summary, row};
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

    let mut results = Results::default();
    let mut sent = 0usize;

    for scenario in &o.scenarios {
        let mut cpu = CpuUse::default();
        match scenario {
            Scenario::Healthz => {
                let name = format!("GET /healthz, {} conns, closed", o.concurrency);
                eprintln!("running: {name}");
                let (count, deadline) = match o.healthz_requests {
                    Some(n) => (n, None),
                    None => (usize::MAX, Some(Duration::from_secs(o.healthz_seconds))),
                };
                let requests = Arc::new(vec![HEALTHZ.to_vec()]);
                let cpu0 = cpu_snapshot(pid);
                let (mut t, elapsed) =
                    closed_loop(port, o.concurrency, requests, count, deadline).await;
                cpu.add(&cpu0, &cpu_snapshot(pid));
                let mut r = row(&name, &mut t, elapsed, 200, memory(pid));
                r.others = cpu.others_pct(elapsed);
                results.healthz_rate = Some(r.rate);
                results.note(&name, cpu.line(elapsed), None);
                results.push(r);
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
                results.closed = Some((r.rate, r.p99));
                results.note(
                    &name,
                    cpu.line(elapsed),
                    Some(writer_line(&m0, &m1, elapsed)),
                );
                results.push(r);
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
                results.paced_p99 = Some(r.p99);
                results.note(
                    &name,
                    cpu.line(elapsed),
                    Some(writer_line(&m0, &m1, elapsed)),
                );
                results.notes.push(format!(
                    "    from the actual send (service time): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; \
                     client send lag behind schedule: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    pct(&t.service, 0.5),
                    pct(&t.service, 0.99),
                    pct(&t.service, 1.0),
                    pct(&t.lag, 0.5),
                    pct(&t.lag, 0.99),
                    pct(&t.lag, 1.0),
                ));
                results.push(r);
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
                results.final_memory = Some(mem);
                if all.micros.is_empty() {
                    continue;
                }
                let mut r = row(&name, &mut all, elapsed, 201, mem);
                r.others = cpu.others_pct(elapsed);
                results.note(
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
                results.push(r);
            }
        }
    }

    let metrics = scrape(port, &admin).await;
    print_summary(&o, &server, &results, sent, &metrics);
    drop(server);
}
