//! /proc readings: memory and CPU time of the server's threads, the client, the machine.

use std::collections::BTreeMap;
use std::time::Duration;

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[derive(Clone, Copy)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

pub fn memory(pid: u32) -> Memory {
    Memory {
        rss_kib: proc_status_kib(pid, "VmRSS:"),
        hwm_kib: proc_status_kib(pid, "VmHWM:"),
    }
}

pub fn mib(kib: u64) -> f64 {
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
pub fn machine_cpu() -> (f64, f64, f64) {
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

pub struct CpuSnapshot {
    server_threads: BTreeMap<String, [f64; 3]>,
    server: f64,
    client: f64,
    others: f64,
    machine: (f64, f64, f64),
}

pub fn cpu_snapshot(pid: u32) -> CpuSnapshot {
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
pub struct CpuUse {
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
    } else if name == "deliveries" {
        "delivery worker"
    } else {
        "other threads"
    }
}

impl CpuUse {
    pub fn add(&mut self, before: &CpuSnapshot, after: &CpuSnapshot) {
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
    pub fn others_pct(&self, elapsed: Duration) -> f64 {
        100.0 * self.others / elapsed.as_secs_f64().max(1e-9)
    }

    /// One line: CPU as a percentage of one core over `elapsed`.
    pub fn line(&self, elapsed: Duration) -> String {
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
