//! The login flood: many client IPs, each trying passwords of unknown accounts as fast as the
//! server answers, while `/healthz` is polled and a real user logs in. Every attempt costs the
//! server an argon2id verification (19 MiB, tens of milliseconds of a core) unless a rate limit
//! or the bounded hashing slots turn it away first.

use crate::client::{Conn, HEALTHZ};
use crate::procstats::{Memory, memory};
use crate::server::{MERCHANT_EMAIL, PASSWORD, http_client};
use crate::tally::{Tally, pct};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the flood did to the server.
pub struct LoginFlood {
    pub seconds: f64,
    /// Attackers' answers by status (0: I/O error).
    pub attacks: BTreeMap<u16, u64>,
    pub healthz: Tally,
    /// Highest VmRSS seen (sampled every 100 ms), and VmHWM at the end.
    pub peak_rss_kib: u64,
    pub end: Memory,
    /// The real user's logins: (succeeded, tried), and the slowest successful one (with retries).
    pub user_logins: (u64, u64),
    pub slowest_login: Duration,
}

fn login_request(email: &str, password: &str) -> Vec<u8> {
    let body = format!(r#"{{"email":"{email}","password":"{password}"}}"#);
    format!(
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `ips` attackers from 127.0.0.2 on, for `seconds`.
pub async fn flood(port: u16, pid: u32, ips: u8, seconds: u64) -> LoginFlood {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();

    let attackers: Vec<_> = (0..ips)
        .map(|i| {
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let source = Ipv4Addr::new(127, 0, 0, 2 + i);
                let mut counts = BTreeMap::new();
                let mut conn = None;
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if conn.is_none() {
                        conn = Conn::open_from(port, source).await.ok();
                    }
                    let Some(c) = conn.as_mut() else {
                        *counts.entry(0).or_insert(0) += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    // A new unknown account each time, so the per-account limit never helps.
                    let request =
                        login_request(&format!("guess{i}x{n}@victim.example"), "hunter2hunter2");
                    n += 1;
                    let status = c.exchange(&request).await.unwrap_or(0);
                    if status == 0 || c.closed {
                        conn = None;
                    }
                    *counts.entry(status).or_insert(0) += 1;
                }
                counts
            })
        })
        .collect();

    let healthz = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            let mut tally = Tally::with_capacity(8192);
            let mut conn = Conn::open(port).await.expect("connect for /healthz");
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let status = conn.exchange(HEALTHZ).await.unwrap_or(0);
                tally.record(status, sent.elapsed());
                if status == 0 {
                    conn = Conn::open(port).await.expect("reconnect for /healthz");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tally
        }
    });

    let user = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            let http = http_client();
            let (mut ok, mut tried, mut slowest) = (0, 0, Duration::ZERO);
            tokio::time::sleep(Duration::from_secs(2)).await;
            while !stop.load(Ordering::Relaxed) {
                tried += 1;
                let began = Instant::now();
                // A person retries a refused login a few times, after the Retry-After asked.
                for _ in 0..5 {
                    let response = http
                        .post(format!("http://127.0.0.1:{port}/api/v1/auth/token"))
                        .json(&serde_json::json!({"email": MERCHANT_EMAIL, "password": PASSWORD}))
                        .send()
                        .await;
                    let Ok(response) = response else { break };
                    if response.status().is_success() {
                        ok += 1;
                        slowest = slowest.max(began.elapsed());
                        break;
                    }
                    let wait = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok()?.parse().ok())
                        .unwrap_or(1u64);
                    tokio::time::sleep(Duration::from_secs(wait.min(5))).await;
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            ((ok, tried), slowest)
        }
    });

    let mut peak_rss_kib = 0;
    while started.elapsed() < Duration::from_secs(seconds) {
        peak_rss_kib = peak_rss_kib.max(memory(pid).rss_kib);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut attacks = BTreeMap::new();
    for a in attackers {
        for (status, n) in a.await.expect("attacker task") {
            *attacks.entry(status).or_insert(0) += n;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut healthz = healthz.await.expect("healthz task");
    healthz.sort();
    let (user_logins, slowest_login) = user.await.expect("user task");
    LoginFlood {
        seconds,
        attacks,
        healthz,
        peak_rss_kib,
        end: memory(pid),
        user_logins,
        slowest_login,
    }
}

impl LoginFlood {
    pub fn healthz_p99_ms(&self) -> f64 {
        pct(&self.healthz.micros, 0.99)
    }

    pub fn healthz_max_ms(&self) -> f64 {
        pct(&self.healthz.micros, 1.0)
    }

    pub fn describe(&self) -> String {
        let answers: Vec<String> = self
            .attacks
            .iter()
            .map(|(s, n)| match s {
                0 => format!("io error {n}"),
                s => format!("{s}: {n}"),
            })
            .collect();
        let total: u64 = self.attacks.values().sum();
        format!(
            "attempts {total} in {:.0} s ({:.0}/s): {}; /healthz every 20 ms: {} polls, p50 {:.2} ms, \
             p99 {:.2} ms, max {:.2} ms, errors {}; real user logged in {} of {} times (slowest \
             {:.2} s incl. retries)",
            self.seconds,
            total as f64 / self.seconds,
            answers.join(", "),
            self.healthz.micros.len(),
            pct(&self.healthz.micros, 0.5),
            self.healthz_p99_ms(),
            self.healthz_max_ms(),
            self.healthz.errors(200),
            self.user_logins.0,
            self.user_logins.1,
            self.slowest_login.as_secs_f64()
        )
    }
}
