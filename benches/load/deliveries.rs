//! The deliveries scenario: outbound deliveries to a sink inside this program (sink.rs), in one
//! run:
//!
//! 1. the orders closed loop with no destination;
//! 2. a destination for every event (`/ingest` on the sink), then the same closed loop again:
//!    orders/s beside step 1's, deliveries/s arriving at the sink meanwhile, and then how long
//!    the backlog the loop left takes to arrive;
//! 3. a second destination (`/backlog`), disabled while --backlog orders are ingested, then
//!    enabled: deliveries/s until the whole backlog arrived;
//! 4. a third (`/paced`), with --paced-rate orders a second for --paced-seconds: for each order,
//!    from its 2xx at the sender to the sink receiving the delivery (matched by the event id,
//!    the response's `event_id` and the delivery's `webhook-id`).
//!
//! Each destination has its own path on the sink, so what one phase left undelivered never counts
//! in the next; a finished destination is disabled and routed away (`topics` that match nothing)
//! so later orders do not queue deliveries to it. Waiting for a backlog stops after
//! --drain-seconds: what has not arrived by then is reported as such.

use crate::Bench;
use crate::metrics::{scrape, writer_line};
use crate::procstats::{CpuUse, cpu_snapshot};
use crate::report::{DeliveriesResult, Drain};
use crate::server::{expect_json, http_client};
use crate::sink::Sink;
use crate::tally::{micros, pct};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);

impl Bench {
    pub(crate) async fn deliveries(&mut self) {
        let sink = Sink::start().await;
        eprintln!("deliveries: sink on 127.0.0.1:{}", sink.port);

        // 1. No destination.
        let (without, _) = self.orders(" (no destination)").await;

        // 2. One destination for every event, the same closed loop.
        let ingest = self
            .create_destination("bench-ingest", &sink.url("/ingest"))
            .await;
        let n = self.o.orders;
        let name = format!(
            "orders, {} conns, closed (1 destination)",
            self.o.concurrency
        );
        let requests = self.sign(n);
        let m0 = scrape(self.port, &self.admin).await;
        let t0 = Instant::now();
        let with = self.closed_run(&name, requests, 201).await;
        let t1 = Instant::now();
        let arrived_during = sink.count_since("/ingest", t0);
        let during = arrived_during as f64 / (t1 - t0).as_secs_f64();
        let leftover = n.saturating_sub(sink.count("/ingest"));
        eprintln!(
            "  deliveries arriving during the loop: {during:.0}/s; {leftover} still to deliver"
        );
        let after_loop = self
            .wait_for(&sink, "/ingest", n, t1, "the closed loop's backlog")
            .await;
        let m1 = scrape(self.port, &self.admin).await;
        self.results.notes.push(format!(
            "    deliveries to the sink while the loop ran: {} in {:.1} s = {during:.0}/s; \
             left queued when it ended: {leftover}; then {}",
            arrived_during,
            (t1 - t0).as_secs_f64(),
            after_loop.describe()
        ));
        self.server_view(&ingest, &m0, &m1).await;
        self.retire(&ingest).await;

        // 3. A backlog of --backlog orders, then the destination enabled.
        let backlog_n = self.o.backlog;
        let backlog = self
            .create_destination("bench-backlog", &sink.url("/backlog"))
            .await;
        self.patch(&backlog, json!({"enabled": false})).await;
        let name = format!(
            "orders, {} conns, closed (destination off)",
            self.o.concurrency
        );
        let requests = self.sign(backlog_n);
        self.closed_run(&name, requests, 201).await;
        eprintln!("running: draining a backlog of {backlog_n} deliveries");
        let m0 = scrape(self.port, &self.admin).await;
        let mut cpu = CpuUse::default();
        let cpu0 = cpu_snapshot(self.pid);
        let enabled = Instant::now();
        self.patch(&backlog, json!({"enabled": true})).await;
        let drain = self
            .wait_for(&sink, "/backlog", backlog_n, enabled, "the backlog")
            .await;
        let waited = enabled.elapsed();
        cpu.add(&cpu0, &cpu_snapshot(self.pid));
        let m1 = scrape(self.port, &self.admin).await;
        self.results.note(
            &format!("backlog of {backlog_n} deliveries, destination enabled"),
            cpu.line(waited),
            Some(writer_line(&m0, &m1, waited)),
        );
        self.results.notes.push(format!(
            "    {}\n    arrivals per second from enabling: {}",
            drain.describe(),
            per_second(&sink.receipts("/backlog"), enabled, 30)
        ));
        self.server_view(&backlog, &m0, &m1).await;
        self.retire(&backlog).await;

        // 4. Paced, with a destination: from the sender's 2xx to the sink.
        let paced_dest = self
            .create_destination("bench-paced", &sink.url("/paced"))
            .await;
        let m0 = scrape(self.port, &self.admin).await;
        let (_, acks) = self
            .paced(" (1 destination)", self.o.paced_seconds, true)
            .await;
        let ended = Instant::now();
        let paced_drain = self
            .wait_for(
                &sink,
                "/paced",
                acks.len(),
                ended,
                "the paced run's deliveries",
            )
            .await;
        let m1 = scrape(self.port, &self.admin).await;
        let paced = ack_to_sink(&acks, &sink.receipts("/paced"));
        self.results.notes.push(format!(
            "    from the sender's 2xx to the sink receiving the delivery: {}",
            paced.describe()
        ));
        self.results.notes.push(format!(
            "    after the paced loop: {}",
            paced_drain.describe()
        ));
        self.server_view(&paced_dest, &m0, &m1).await;
        if sink.bad() > 0 {
            self.results.notes.push(format!(
                "    the sink could not read {} requests",
                sink.bad()
            ));
        }

        self.results.deliveries = Some(DeliveriesResult {
            without,
            with: with.rate,
            during,
            leftover,
            after_loop,
            backlog: drain,
            paced_p50: paced.percentile(0.5),
            paced_p99: paced.percentile(0.99),
            paced_max: paced.percentile(1.0),
            paced_acked: acks.len(),
            paced_delivered: paced.micros.len(),
        });
    }

    async fn admin(&self, request: reqwest::RequestBuilder, what: &str) -> Value {
        expect_json(
            request
                .bearer_auth(&self.admin)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}")),
            what,
        )
        .await
    }

    fn admin_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/api/v1/admin{path}", self.port)
    }

    /// A destination of every event to `url`; returns its id.
    async fn create_destination(&self, name: &str, url: &str) -> String {
        let created = self
            .admin(
                http_client()
                    .post(self.admin_url("/destinations"))
                    .json(&json!({"name": name, "url": url})),
                "create a destination",
            )
            .await;
        created["destination_id"]
            .as_str()
            .expect("destination_id")
            .to_string()
    }

    async fn patch(&self, id: &str, change: Value) -> Value {
        self.admin(
            http_client()
                .patch(self.admin_url(&format!("/destinations/{id}")))
                .json(&change),
            "change a destination",
        )
        .await
    }

    /// Disabled, and routed away from every event (its topics match nothing), so that later
    /// orders queue nothing for it.
    async fn retire(&self, id: &str) {
        self.patch(
            id,
            json!({"enabled": false, "topics": ["bench.retired.none"]}),
        )
        .await;
    }

    /// Wait until `expected` requests arrived on `path` in all, or --drain-seconds after `from`.
    async fn wait_for(
        &self,
        sink: &Sink,
        path: &str,
        expected: usize,
        from: Instant,
        what: &str,
    ) -> Drain {
        let limit = Duration::from_secs(self.o.drain_seconds);
        let (total, since) = sink.counts(path, from);
        let waiting = expected.saturating_sub(total - since);
        eprintln!("  waiting for {what}: {waiting} deliveries (at most {limit:?})");
        let mut last_report = Instant::now();
        while sink.count(path) < expected && from.elapsed() < limit {
            tokio::time::sleep(POLL).await;
            if last_report.elapsed() >= Duration::from_secs(5) {
                last_report = Instant::now();
                eprintln!(
                    "    {} of {waiting} arrived after {:.0} s",
                    sink.count_since(path, from),
                    from.elapsed().as_secs_f64()
                );
            }
        }
        let receipts = sink.receipts(path);
        let arrived = sink.count_since(path, from);
        let all = receipts.len() >= expected;
        let secs = if all {
            receipts.last().map_or(0.0, |(at, _)| {
                at.saturating_duration_since(from).as_secs_f64()
            })
        } else {
            from.elapsed().as_secs_f64()
        };
        let drain = Drain {
            waiting,
            arrived,
            all,
            secs,
            limit: self.o.drain_seconds,
        };
        eprintln!("  {}", drain.describe());
        drain
    }

    /// The server's side of a destination: its queue (`state`) now, and its attempts by outcome
    /// (`hookgate_deliveries_total`) between two scrapes.
    async fn server_view(
        &mut self,
        id: &str,
        m0: &BTreeMap<String, f64>,
        m1: &BTreeMap<String, f64>,
    ) {
        let shown = self
            .admin(
                http_client().get(self.admin_url(&format!("/destinations/{id}"))),
                "show a destination",
            )
            .await;
        let prefix = format!("hookgate_deliveries_total{{destination=\"{id}\",outcome=\"");
        let outcomes: Vec<String> = m1
            .iter()
            .filter_map(|(k, v)| {
                let outcome = k.strip_prefix(&prefix)?.strip_suffix("\"}")?;
                let d = v - m0.get(k).copied().unwrap_or(0.0);
                Some(format!("{outcome} {d:.0}"))
            })
            .collect();
        self.results.notes.push(format!(
            "    server: attempts meanwhile by outcome: {}; state now: pending {}, failed {}, \
             circuit {}",
            if outcomes.is_empty() {
                "none".to_string()
            } else {
                outcomes.join(", ")
            },
            shown["state"]["pending"],
            shown["state"]["failed"],
            shown["state"]["circuit"],
        ));
    }
}

/// Arrivals in each second after `from`, the first `max` seconds.
fn per_second(receipts: &[(Instant, String)], from: Instant, max: usize) -> String {
    let mut buckets: Vec<usize> = Vec::new();
    for (at, _) in receipts {
        let Some(d) = at.checked_duration_since(from) else {
            continue;
        };
        let i = d.as_secs() as usize;
        if buckets.len() <= i {
            buckets.resize(i + 1, 0);
        }
        buckets[i] += 1;
    }
    let shown: Vec<String> = buckets.iter().take(max).map(|n| n.to_string()).collect();
    let more = if buckets.len() > max { " …" } else { "" };
    format!("{}{more}", shown.join(" "))
}

/// From each acknowledged order to the first arrival of its delivery.
struct AckToSink {
    /// Sorted microseconds, one per delivered order.
    micros: Vec<u32>,
    /// Acknowledged orders whose delivery did not arrive within the wait.
    missing: usize,
    /// Deliveries that arrived before the sender read its 2xx (counted as 0).
    early: usize,
    /// Deliveries of an event that arrived before (at-least-once duplicates).
    repeats: usize,
}

fn ack_to_sink(acks: &[(String, Instant)], receipts: &[(Instant, String)]) -> AckToSink {
    let acked: HashMap<&str, Instant> = acks.iter().map(|(id, at)| (id.as_str(), *at)).collect();
    let mut first: HashMap<&str, Instant> = HashMap::with_capacity(acked.len());
    let mut repeats = 0;
    for (at, id) in receipts {
        if first.insert(id.as_str(), *at).is_some() {
            repeats += 1;
        }
    }
    let (mut micros_, mut missing, mut early) = (Vec::with_capacity(acked.len()), 0, 0);
    for (id, ack) in &acked {
        match first.get(id) {
            Some(at) => {
                if *at < *ack {
                    early += 1;
                }
                micros_.push(micros(at.saturating_duration_since(*ack)));
            }
            None => missing += 1,
        }
    }
    micros_.sort_unstable();
    AckToSink {
        micros: micros_,
        missing,
        early,
        repeats,
    }
}

impl AckToSink {
    /// Nearest-rank percentile over every acknowledged order (ms); `None` when that rank falls
    /// among the deliveries that did not arrive.
    fn percentile(&self, p: f64) -> Option<f64> {
        let n = self.micros.len() + self.missing;
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n.max(1));
        (rank <= self.micros.len()).then(|| self.micros[rank - 1] as f64 / 1000.0)
    }

    fn describe(&self) -> String {
        let show = |p: f64| match self.percentile(p) {
            Some(ms) => format!("{ms:.2} ms"),
            None => "not arrived".to_string(),
        };
        format!(
            "{} of {} delivered; p50 {}, p99 {}, max {}{}{}{}",
            self.micros.len(),
            self.micros.len() + self.missing,
            show(0.5),
            show(0.99),
            show(1.0),
            if self.micros.is_empty() || self.missing == 0 {
                String::new()
            } else {
                format!(
                    " (of those delivered: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms)",
                    pct(&self.micros, 0.5),
                    pct(&self.micros, 0.99),
                    pct(&self.micros, 1.0)
                )
            },
            if self.early > 0 {
                format!("; {} arrived before the sender read its 2xx", self.early)
            } else {
                String::new()
            },
            if self.repeats > 0 {
                format!("; {} repeated deliveries", self.repeats)
            } else {
                String::new()
            },
        )
    }
}
