//! Reporting: table rows, the tables, the verdicts, the machine's description.

use crate::metrics::metric;
use crate::options::{Options, Scenario};
use crate::procstats::{Memory, memory, mib};
use crate::server::Server;
use crate::tally::{Tally, pct};
use std::collections::BTreeMap;
use std::time::Duration;

/// What the scenarios measured, for the summary.
#[derive(Default)]
pub struct Results {
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
    pub healthz_rate: Option<f64>,
    /// The orders closed loop: ok/s and p99 (ms).
    pub closed: Option<(f64, f64)>,
    pub paced_p99: Option<f64>,
    /// The server's memory after the long run.
    pub final_memory: Option<Memory>,
    pub scale: Option<ScaleResult>,
    /// The sources scenario's accepted/s.
    pub sources_rate: Option<f64>,
    pub login: Option<crate::login::LoginFlood>,
    pub deliveries: Option<DeliveriesResult>,
}

/// The deliveries scenario.
pub struct DeliveriesResult {
    /// Orders/s of the closed loop without and with one destination.
    pub without: f64,
    pub with: f64,
    /// Deliveries/s arriving at the sink during the closed loop with a destination.
    pub during: f64,
    /// Deliveries that loop left queued, and how they drained afterwards.
    pub leftover: usize,
    pub after_loop: Drain,
    /// The backlog of --backlog deliveries, from enabling its destination.
    pub backlog: Drain,
    /// Paced: from the sender's 2xx to the sink (ms); `None` where the delivery did not arrive
    /// within the wait.
    pub paced_p50: Option<f64>,
    pub paced_p99: Option<f64>,
    pub paced_max: Option<f64>,
    pub paced_acked: usize,
    pub paced_delivered: usize,
}

/// Waiting for deliveries to arrive at the sink.
pub struct Drain {
    /// Deliveries still to arrive when the wait began.
    pub waiting: usize,
    /// Arrived since the wait began.
    pub arrived: usize,
    /// Every one arrived (within `limit`).
    pub all: bool,
    /// To the last arrival when all arrived, else the whole wait.
    pub secs: f64,
    pub limit: u64,
}

impl Drain {
    pub fn rate(&self) -> f64 {
        self.arrived as f64 / self.secs.max(1e-9)
    }

    pub fn describe(&self) -> String {
        if self.waiting == 0 {
            "nothing was left to deliver".to_string()
        } else if self.all {
            format!(
                "all {} arrived in {:.2} s = {:.0} deliveries/s",
                self.waiting,
                self.secs,
                self.rate()
            )
        } else {
            let left = self.waiting.saturating_sub(self.arrived);
            format!(
                "NOT drained: {} of {} arrived in the {} s waited = {:.0} deliveries/s; {left} \
                 left, ~{:.0} s more at that rate",
                self.arrived,
                self.waiting,
                self.limit,
                self.rate(),
                left as f64 / self.rate().max(1e-9)
            )
        }
    }
}

/// The scale scenario: the closed and paced loops on a large database.
pub struct ScaleResult {
    pub orders: usize,
    pub closed_rate: f64,
    pub paced_p99: f64,
    pub paced_max: f64,
    pub retention_runs: f64,
    pub rollup_runs: f64,
    pub deleted: f64,
}

impl Results {
    /// A scenario's CPU line, and the writer's if it wrote, for the notes under the table.
    pub fn note(&mut self, name: &str, cpu: String, writer: Option<String>) {
        self.notes.push(format!("{name}:\n    {cpu}"));
        if let Some(w) = writer {
            self.notes.push(format!("    {w}"));
        }
    }

    /// A scenario's row: shown now on stderr, and in the table at the end.
    pub fn push(&mut self, r: Row) {
        print_row_progress(&r);
        self.rows.push(r);
    }
}

#[derive(Clone)]
pub struct Row {
    pub name: String,
    pub ok: u64,
    pub elapsed: Duration,
    pub rate: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub errors: String,
    pub memory: Memory,
    /// CPU of other processes on the machine during the run, % of one core.
    pub others: f64,
}

pub fn row(
    name: &str,
    tally: &mut Tally,
    elapsed: Duration,
    ok_status: u16,
    memory: Memory,
) -> Row {
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
    ("scenario", 46),
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

pub fn print_header() {
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

pub fn print_row(r: &Row) {
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

pub fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

pub fn machine_description() -> String {
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

/// Everything after the scenarios: the table, the notes, the whole run, the verdicts.
pub fn print_summary(
    o: &Options,
    server: &Server,
    results: &Results,
    sent: usize,
    metrics: &BTreeMap<String, f64>,
) {
    let pid = server.child.id();
    let final_memory = results.final_memory.unwrap_or_else(|| memory(pid));
    let Results {
        healthz_rate,
        closed,
        paced_p99,
        ..
    } = *results;
    let scale = results.scale.as_ref();

    println!();
    print_header();
    for r in &results.rows {
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
    for n in &results.notes {
        println!("{n}");
    }
    println!();
    let jobs = metric(metrics, "hookgate_writer_jobs_total");
    let batches = metric(metrics, "hookgate_writer_batches_total");
    println!(
        "whole run: {sent} orders signed; server counted {:.0} writes in {:.0} commits (mean group {:.1}), \
         {:.0} failed commits; database + WAL {:.1} MiB",
        jobs,
        batches,
        jobs / batches.max(1.0),
        metric(metrics, "hookgate_writer_failed_commits_total"),
        metric(metrics, "hookgate_database_size_bytes") / 1048576.0
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
    match (scale, closed) {
        (Some(s), Some((small, _))) => println!(
            "  closed-loop orders/s at {} orders within 15% of the small database's: {:.0} / {small:.0} = {:.3}  {}",
            s.orders,
            s.closed_rate,
            s.closed_rate / small,
            verdict(s.closed_rate / small >= 0.85)
        ),
        (Some(_), None) => {
            println!("  scale closed loop vs small database: n/a (run orders before scale)")
        }
        _ => println!("  scale closed loop vs small database: {na}"),
    }
    match scale {
        Some(s) => {
            println!(
                "  scale paced at {}/s: p99 < 5 ms: {:.2} ms  {}; max < 100 ms: {:.2} ms  {}",
                o.paced_rate,
                s.paced_p99,
                verdict(s.paced_p99 < 5.0),
                s.paced_max,
                verdict(s.paced_max < 100.0)
            );
            println!(
                "  scale paced run spans >= 2 retention and roll-up runs: {:.0} retention \
                 ({:.0} rows deleted), {:.0} roll-ups  {}",
                s.retention_runs,
                s.deleted,
                s.rollup_runs,
                verdict(s.retention_runs >= 2.0 && s.rollup_runs >= 2.0)
            );
        }
        None => println!("  scale paced run: {na}"),
    }
    match (results.sources_rate, closed) {
        (Some(sources), Some((orders, _))) => println!(
            "  sources accepted/s >= orders/s of the same run: {sources:.0} / {orders:.0} = {:.3}  {}",
            sources / orders,
            verdict(sources >= orders)
        ),
        _ => println!("  sources vs orders: {na} (run orders and sources)"),
    }
    match &results.login {
        Some(l) => {
            let peak_mb = l.peak_rss_kib.max(l.end.hwm_kib) as f64 * 1024.0 / 1e6;
            println!(
                "  login flood from {} IPs: RSS < 200 MB: peak {peak_mb:.1} MB  {}; /healthz p99 < \
                 50 ms: {:.2} ms  {}; a real user logs in: {} of {}  {}",
                o.login_ips,
                verdict(peak_mb < 200.0),
                l.healthz_p99_ms(),
                verdict(l.healthz_p99_ms() < 50.0),
                l.user_logins.0,
                l.user_logins.1,
                verdict(l.user_logins.1 > 0 && l.user_logins.0 == l.user_logins.1)
            );
        }
        None => println!("  login flood: {na}"),
    }
    match &results.deliveries {
        Some(d) => print_delivery_targets(o, d),
        None => println!("  deliveries: {na}"),
    }
}

fn print_delivery_targets(o: &Options, d: &DeliveriesResult) {
    println!(
        "  deliveries: ingest with one destination >= 0.5 x without: {:.0} / {:.0} = {:.3}  {}",
        d.with,
        d.without,
        d.with / d.without,
        verdict(d.with / d.without >= 0.5)
    );
    println!(
        "  deliveries: backlog of {} drains at >= 10,000 deliveries/s: {:.0}/s{}  {}",
        d.backlog.waiting,
        d.backlog.rate(),
        if d.backlog.all {
            String::new()
        } else {
            format!(" (not drained within {} s)", d.backlog.limit)
        },
        verdict(d.backlog.all && d.backlog.rate() >= 10_000.0)
    );
    let ms = |v: Option<f64>| v.map_or("not arrived".to_string(), |ms| format!("{ms:.2} ms"));
    println!(
        "  deliveries: paced {}/s, sender's 2xx to the sink p99 < 50 ms: p99 {} (p50 {}, max \
         {}; {} of {} delivered)  {}",
        o.paced_rate,
        ms(d.paced_p99),
        ms(d.paced_p50),
        ms(d.paced_max),
        d.paced_delivered,
        d.paced_acked,
        verdict(d.paced_p99.is_some_and(|p| p < 50.0))
    );
    println!(
        "  deliveries: the closed loop's backlog ({} left, {:.0} deliveries/s during the loop) \
         drains within 10 s: {}  {}",
        d.leftover,
        d.during,
        if d.after_loop.all {
            format!("{:.2} s", d.after_loop.secs)
        } else {
            format!(
                "not within {} s ({} of {} arrived)",
                d.after_loop.limit, d.after_loop.arrived, d.after_loop.waiting
            )
        },
        verdict(d.after_loop.all && d.after_loop.secs <= 10.0)
    );
}
