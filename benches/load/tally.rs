//! Measurements: the latencies and statuses of one scenario.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Status 0 stands for an I/O error (connection reset, closed, unparseable response).
pub const IO_ERROR: u16 = 0;

/// Latencies (microseconds) and statuses of one scenario.
#[derive(Default)]
pub struct Tally {
    /// Response time: from sending (closed loop) or from the scheduled send time (paced).
    pub micros: Vec<u32>,
    /// Paced only: from the actual send.
    pub service: Vec<u32>,
    /// Paced only: how late the client sent after the scheduled time (client-side slack).
    pub lag: Vec<u32>,
    /// Paced with acks only: each accepted request's `event_id` and when its 2xx arrived.
    pub acks: Vec<(String, Instant)>,
    statuses: BTreeMap<u16, u64>,
}

pub fn micros(d: Duration) -> u32 {
    d.as_micros().min(u32::MAX as u128) as u32
}

impl Tally {
    pub fn with_capacity(n: usize) -> Tally {
        Tally {
            micros: Vec::with_capacity(n),
            ..Tally::default()
        }
    }

    pub fn record(&mut self, status: u16, latency: Duration) {
        self.micros.push(micros(latency));
        *self.statuses.entry(status).or_default() += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        self.micros.extend(other.micros);
        self.service.extend(other.service);
        self.lag.extend(other.lag);
        self.acks.extend(other.acks);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
    }

    pub fn sort(&mut self) {
        self.micros.sort_unstable();
        self.service.sort_unstable();
        self.lag.sort_unstable();
    }

    pub fn count(&self, status: u16) -> u64 {
        self.statuses.get(&status).copied().unwrap_or(0)
    }

    pub fn errors(&self, ok: u16) -> String {
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
pub fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}
