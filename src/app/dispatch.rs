//! The delivery worker's work (CONTRACT section 10): claim due deliveries per destination with a
//! lease, attempt them concurrently (at most `PER_DESTINATION` in flight each, `--delivery-
//! concurrency` in all), decide with `domain::delivery`, and report outcomes through the writer.
//! A crash between the claim and the report re-sends after the lease: at least once, with the
//! same `webhook-id` on every attempt.
//!
//! Claims run ahead of sending: each destination holds up to `PREFETCH` claimed deliveries
//! besides those in flight, so a slot that frees starts the next attempt at once instead of
//! waiting for the writer. One write at a time reports what finished and claims the refill,
//! while the attempts go on.

use super::{
    AppResult,
    alerts::{self, Trigger},
};
use crate::{
    domain::{
        WebhookSecret,
        delivery::{self, Circuit, CircuitSettings, CircuitState, Permit, RetryPolicy, Step},
        egress::DestinationUrl,
        signature,
    },
    metrics::deliveries::DeliveryOutcome,
    outbound::{Attempt, Outbound},
    state::AppState,
    store::{
        self,
        deliveries::{Claimed, Report},
        destinations::{self, Destination},
    },
};
use std::{
    collections::{HashMap, VecDeque},
    future::Future,
    rc::Rc,
    time::Duration,
};

/// Attempts in flight per destination.
pub const PER_DESTINATION: usize = 8;
/// Claimed deliveries a destination holds ready besides those in flight: enough that the writer
/// claims in batches while the attempts go on.
const PREFETCH: usize = 2 * PER_DESTINATION;
/// How often the destinations are read again even without a change through `app`.
const REREAD_MS: i64 = 5_000;
/// A claim outlives the attempts it may wait for and its own by this much before another
/// worker may take it.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// What the worker keeps between writes: each destination's circuit, its attempts in flight,
/// its claimed deliveries not yet started, and what is still to be written.
#[derive(Default)]
pub struct Dispatcher {
    /// The destinations' generation the circuits were loaded at: a change (enabling closes
    /// the circuit) makes them reload from the store.
    generation: Option<u64>,
    /// The destinations as last read, their settings parsed once, and when (unix ms): re-read on
    /// a change or every `REREAD_MS`, not on every cycle.
    targets: Vec<Rc<Target>>,
    read_at_ms: i64,
    circuits: HashMap<String, Circuit>,
    in_flight: HashMap<String, usize>,
    total_in_flight: usize,
    /// Claimed and not yet started, per destination, oldest first.
    queued: HashMap<String, VecDeque<Job>>,
    total_queued: usize,
    /// What finished or was given back since the last write.
    unwritten: Unwritten,
    /// The plan of the write under way: how to send what it claims.
    claiming: Option<ClaimPlan>,
    /// Whether more may be due than was claimed: set by the worker's tick, a new delivery, and
    /// a claim that got all it asked for. A write that only claims waits for it, so an idle
    /// worker does not write in a loop.
    may_claim: bool,
}

/// A destination as the worker uses it.
#[derive(Clone)]
struct Target {
    row: Destination,
    url: Option<DestinationUrl>,
    policy: RetryPolicy,
    settings: CircuitSettings,
    timeout: Duration,
}

fn target(state: &AppState, row: Destination) -> Target {
    let parse = |v: &str| serde_json::from_str::<serde_json::Value>(v).unwrap_or_default();
    Target {
        url: DestinationUrl::parse(&row.url, &state.config.destination_allow).ok(),
        policy: RetryPolicy::parse(&parse(&row.retry)).unwrap_or_default(),
        settings: CircuitSettings::parse(&parse(&row.circuit)).unwrap_or_default(),
        timeout: Duration::from_millis(row.timeout_ms.max(1) as u64),
        row,
    }
}

/// What a write claimed: each delivery with its event's payload, and the live signing secrets
/// of each destination it claimed for.
pub struct Claims {
    claimed: Vec<(Claimed, Option<store::deliveries::Payload>)>,
    secrets: HashMap<String, Vec<destinations::DestinationSecret>>,
}

/// Outcomes not yet written.
#[derive(Default)]
struct Unwritten {
    reports: Vec<Report>,
    /// Claimed deliveries given back unsent (their circuit opened, their destination changed).
    released: Vec<String>,
    raised: Vec<(String, Trigger)>,
    /// Each destination's latest circuit, and whether its answer disabled it.
    circuits: HashMap<String, (Circuit, Option<&'static str>)>,
}

impl Unwritten {
    fn is_empty(&self) -> bool {
        self.reports.is_empty()
            && self.released.is_empty()
            && self.raised.is_empty()
            && self.circuits.is_empty()
    }
}

/// What one write claims: per destination how many, until when, and how to send them.
#[derive(Default)]
struct ClaimPlan {
    now: i64,
    /// The destinations' generation the plan was made at.
    generation: Option<u64>,
    wanted: Vec<(String, usize)>,
    leases: HashMap<String, i64>,
    targets: HashMap<String, Rc<Target>>,
}

/// One attempt to make.
pub struct Job {
    claimed: Claimed,
    target: Rc<Target>,
    /// Read in the claim's own write: the attempt needs no read of its own. `None`: the event
    /// is gone.
    payload: Option<store::deliveries::Payload>,
    secrets: Rc<Vec<destinations::DestinationSecret>>,
    /// When it was claimed (unix ms): the destination with the oldest waiting claim starts first.
    claimed_at_ms: i64,
}

/// An attempt's outcome, to report.
pub struct Done {
    report: Report,
    destination_id: String,
    settings: CircuitSettings,
    /// `None` when nothing was sent (says nothing about the destination's health).
    step: Option<Step>,
}

impl Dispatcher {
    /// More may be due now (time passed, or an event queued deliveries): the next write claims.
    pub fn nudge(&mut self) {
        self.may_claim = true;
    }

    /// Read the destinations again when they changed through `app` or `REREAD_MS` passed. A
    /// change forgets the circuits (they reload from the store) and gives back what was
    /// claimed for the old settings.
    pub async fn refresh(&mut self, state: &AppState) -> AppResult<()> {
        let generation = state.routes.generation();
        let now = state.now_ms();
        if self.generation == Some(generation) && now - self.read_at_ms < REREAD_MS {
            return Ok(());
        }
        let rows = state.store.read(destinations::list).await?;
        if self.generation != Some(generation) {
            self.circuits.clear();
            self.release_queued();
        }
        self.targets = rows
            .into_iter()
            .map(|r| Rc::new(target(state, r)))
            .collect();
        self.generation = Some(generation);
        self.read_at_ms = now;
        Ok(())
    }

    /// What may be claimed now, within the bounds. Circuits are loaded from the stored state
    /// the first time a destination is seen.
    fn plan(&mut self, state: &AppState) -> ClaimPlan {
        let limit = state.config.delivery_concurrency;
        let now = state.now_ms();
        let mut plan = ClaimPlan {
            now,
            generation: self.generation,
            ..ClaimPlan::default()
        };
        // Claimed and not finished, in all: no more than may be in flight, so a ready delivery
        // never waits for another destination's attempts, only for its own destination's.
        let mut free = limit.saturating_sub(self.total_in_flight + self.total_queued);
        for t in self.targets.iter().filter(|t| t.row.enabled) {
            let row = &t.row;
            let circuit = self
                .circuits
                .entry(row.id.clone())
                .or_insert_with(|| Circuit {
                    state: CircuitState::from_parts(&row.circuit_state, row.circuit_until_ms)
                        .unwrap_or_default(),
                    consecutive_failures: row.consecutive_failures.max(0) as u32,
                    reopen_count: row.reopen_count.max(0) as u32,
                });
            let busy = self.in_flight.get(&row.id).copied().unwrap_or(0);
            let ready = self.queued.get(&row.id).map_or(0, VecDeque::len);
            let n = match circuit.may_send(now) {
                Permit::Send => (PER_DESTINATION + PREFETCH)
                    .saturating_sub(busy + ready)
                    .min(free),
                Permit::Probe if busy == 0 && ready == 0 && free > 0 => 1,
                _ => 0,
            };
            if n > 0 {
                free -= n;
                // A ready delivery waits for at most `PREFETCH / PER_DESTINATION` rounds of its
                // destination's attempts, then makes its own.
                let rounds = 1 + PREFETCH.div_ceil(PER_DESTINATION) as u32;
                let lease = now + (t.timeout * rounds + LEASE_MARGIN).as_millis() as i64;
                plan.leases.insert(t.row.id.clone(), lease);
                plan.wanted.push((t.row.id.clone(), n));
                plan.targets.insert(t.row.id.clone(), Rc::clone(t));
            }
        }
        plan
    }

    /// The next write, when there is something to report or to claim: it reports what finished,
    /// gives back what was released, and claims the refill, in one commit. Call
    /// [`Dispatcher::written`] with its result before asking for another.
    pub fn write(
        &mut self,
        state: &AppState,
    ) -> Option<impl Future<Output = AppResult<Claims>> + 'static> {
        debug_assert!(self.claiming.is_none(), "one write at a time");
        if self.unwritten.is_empty() && !self.may_claim {
            return None;
        }
        let plan = self.plan(state);
        if self.unwritten.is_empty() && plan.wanted.is_empty() {
            return None;
        }
        self.may_claim = false;
        let Unwritten {
            reports,
            released,
            raised,
            circuits,
        } = std::mem::take(&mut self.unwritten);
        let to_alert = alerts::collect(raised);
        let secs = plan.now.div_euclid(1000);
        let public_url = state.config.public_url.clone();
        let (wanted, leases, now) = (plan.wanted.clone(), plan.leases.clone(), plan.now);
        self.claiming = Some(plan);
        let state = state.clone();
        Some(async move {
            let claims = state
                .store
                .write(move |c| {
                    for r in &reports {
                        store::deliveries::report(c, r)?;
                    }
                    for id in &released {
                        store::deliveries::release(c, id)?;
                    }
                    alerts::notify(c, &to_alert, secs, &public_url)?;
                    for (id, (circuit, disabled)) in &circuits {
                        let stored = destinations::CircuitRow {
                            state: circuit.state.as_str(),
                            until_ms: circuit.state.until_ms(),
                            consecutive_failures: i64::from(circuit.consecutive_failures),
                            reopen_count: i64::from(circuit.reopen_count),
                        };
                        destinations::save_circuit(c, id, &stored, *disabled, secs)?;
                    }
                    let mut claimed = Vec::new();
                    let mut secrets = HashMap::new();
                    for (id, n) in &wanted {
                        let some = store::deliveries::claim(c, id, now, leases[id], *n as u32)?;
                        if !some.is_empty() {
                            let live = destinations::live_secrets(c, id, now.div_euclid(1000))?;
                            secrets.insert(id.clone(), live);
                        }
                        for d in some {
                            let payload = store::deliveries::payload(c, &d.event_id)?;
                            claimed.push((d, payload));
                        }
                    }
                    Ok::<_, store::StoreError>(Claims { claimed, secrets })
                })
                .await?;
            Ok(claims)
        })
    }

    /// The write under way finished: what it claimed is ready to start. When it failed, the
    /// outcomes it carried are lost with it; their leases expire and they go again (at least
    /// once).
    pub fn written(&mut self, result: AppResult<Claims>) {
        let plan = self.claiming.take().unwrap_or_default();
        let Claims { claimed, secrets } = match result {
            Ok(claims) => claims,
            Err(e) => {
                tracing::warn!(error = %e, "could not record outcomes or claim deliveries");
                return;
            }
        };
        if plan.generation != self.generation {
            // A destination changed while the write ran: what it claimed goes with the new
            // settings, claimed again.
            self.may_claim = true;
            self.unwritten
                .released
                .extend(claimed.into_iter().map(|(c, _)| c.id));
            return;
        }
        // A destination that got all it asked for may have more due.
        self.may_claim |= plan.wanted.iter().any(|(id, n)| {
            claimed
                .iter()
                .filter(|(c, _)| &c.destination_id == id)
                .count()
                >= *n
        });
        let secrets: HashMap<String, Rc<Vec<destinations::DestinationSecret>>> = secrets
            .into_iter()
            .map(|(id, live)| (id, Rc::new(live)))
            .collect();
        for (claimed, payload) in claimed {
            let Some(target) = plan.targets.get(&claimed.destination_id) else {
                continue;
            };
            let job = Job {
                secrets: secrets
                    .get(&claimed.destination_id)
                    .cloned()
                    .unwrap_or_default(),
                target: Rc::clone(target),
                payload,
                claimed_at_ms: plan.now,
                claimed,
            };
            self.queued
                .entry(job.claimed.destination_id.clone())
                .or_default()
                .push_back(job);
            self.total_queued += 1;
        }
    }

    /// The ready deliveries that may start now, oldest claim first across destinations (taking a
    /// probe where the circuit asks for one). Those whose destination may not be sent to any
    /// more are given back.
    pub fn launch(&mut self, state: &AppState) -> Vec<Job> {
        let limit = state.config.delivery_concurrency;
        let now = state.now_ms();
        let mut order: Vec<(i64, String)> = self
            .queued
            .iter()
            .filter_map(|(id, q)| Some((q.front()?.claimed_at_ms, id.clone())))
            .collect();
        order.sort_unstable();
        let mut jobs = Vec::new();
        for (_, id) in order {
            let enabled = self.targets.iter().any(|t| t.row.id == id && t.row.enabled);
            let busy = self.in_flight.get(&id).copied().unwrap_or(0);
            let room = limit.saturating_sub(self.total_in_flight + jobs.len());
            let permit = self.circuits.get(&id).map(|c| c.may_send(now));
            let n = match permit {
                Some(Permit::Send) if enabled => PER_DESTINATION.saturating_sub(busy).min(room),
                Some(Permit::Probe) if enabled => {
                    if busy == 0 && room > 0 {
                        if let Some(circuit) = self.circuits.get_mut(&id) {
                            let lease = self.queued[&id][0].target.timeout + LEASE_MARGIN;
                            circuit.acquire(now, lease);
                        }
                        1
                    } else {
                        // The probe goes when the attempts in flight are done.
                        0
                    }
                }
                // The circuit is open or the destination was disabled: give them back.
                _ => {
                    let queue = self.queued.remove(&id).unwrap_or_default();
                    self.total_queued -= queue.len();
                    self.unwritten
                        .released
                        .extend(queue.into_iter().map(|j| j.claimed.id));
                    continue;
                }
            };
            let Some(queue) = self.queued.get_mut(&id) else {
                continue;
            };
            let n = n.min(queue.len());
            jobs.extend(queue.drain(..n));
            if queue.is_empty() {
                self.queued.remove(&id);
            }
            self.total_queued -= n;
            if n > 0 {
                *self.in_flight.entry(id).or_default() += n;
            }
        }
        self.total_in_flight += jobs.len();
        jobs
    }

    /// Give back everything claimed and not started and write it with what finished, claiming
    /// nothing: the worker is stopping. Best effort: what this write misses goes again after
    /// its lease.
    pub fn stop(
        &mut self,
        state: &AppState,
    ) -> Option<impl Future<Output = AppResult<Claims>> + 'static> {
        self.release_queued();
        self.targets.clear();
        self.claiming = None;
        self.write(state)
    }

    /// Give back every claimed delivery not yet started, in the next write.
    fn release_queued(&mut self) {
        for (_, queue) in self.queued.drain() {
            self.unwritten
                .released
                .extend(queue.into_iter().map(|j| j.claimed.id));
        }
        self.total_queued = 0;
    }

    /// Update the in-flight counts and circuits for finished attempts, to be written by the
    /// next write.
    pub fn finish(&mut self, state: &AppState, done: Vec<Done>) {
        if done.is_empty() {
            return;
        }
        let now = state.now_ms();
        for d in &done {
            if let Some(n) = self.in_flight.get_mut(&d.destination_id) {
                *n = n.saturating_sub(1);
            }
            self.total_in_flight = self.total_in_flight.saturating_sub(1);
            if let Some(trigger) = d.step.as_ref().and_then(alerts::raised_by) {
                self.unwritten
                    .raised
                    .push((d.destination_id.clone(), trigger));
            }
            // Only attempts that were made are counted (nothing was sent for a skipped one).
            if let Some(step) = &d.step {
                state
                    .metrics
                    .deliveries
                    .record(&d.destination_id, outcome(step), d.duration());
            }
            let Some(circuit) = self.circuits.get_mut(&d.destination_id) else {
                continue;
            };
            let Some(step) = &d.step else {
                circuit.on_neutral(now);
                let entry = self
                    .unwritten
                    .circuits
                    .entry(d.destination_id.clone())
                    .or_insert((*circuit, None));
                entry.0 = *circuit;
                continue;
            };
            let opened = circuit.record(step.health(), now, &d.settings);
            if opened {
                tracing::warn!(destination = %d.destination_id, "circuit opened");
                if let Some(until_ms) = circuit.state.until_ms() {
                    self.unwritten.raised.push((
                        d.destination_id.clone(),
                        Trigger::CircuitOpened { until_ms },
                    ));
                }
            }
            let disabled = matches!(step, Step::DisableDestination { .. }).then_some("gone");
            if disabled.is_some()
                && let Some(t) = self
                    .targets
                    .iter_mut()
                    .find(|t| t.row.id == d.destination_id)
            {
                // Nothing more goes to it from now on, without waiting for a re-read.
                let mut off = (**t).clone();
                off.row.enabled = false;
                *t = Rc::new(off);
            }
            let entry = self
                .unwritten
                .circuits
                .entry(d.destination_id.clone())
                .or_insert((*circuit, None));
            entry.0 = *circuit;
            entry.1 = entry.1.or(disabled);
        }
        self.unwritten
            .reports
            .extend(done.into_iter().map(|d| d.report));
    }
}

impl Done {
    /// How long the attempt's request took.
    fn duration(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.report.duration_ms).unwrap_or(0))
    }
}

/// What a step did to its delivery, for `/metrics`.
fn outcome(step: &Step) -> DeliveryOutcome {
    match step {
        Step::Succeeded => DeliveryOutcome::Succeeded,
        Step::Failed => DeliveryOutcome::Failed,
        Step::RetryAt { .. } => DeliveryOutcome::Retried,
        Step::DisableDestination { .. } => DeliveryOutcome::Gone,
    }
}

/// Make one attempt of `job` and decide what comes next.
pub async fn attempt(state: &AppState, outbound: &Outbound, job: Job) -> Done {
    let Job {
        claimed,
        target,
        payload,
        secrets,
        ..
    } = job;
    let attempt_no = claimed.attempts as u32 + 1;
    let started = state.now_ms();
    let sent = match send(
        state, outbound, &claimed, &target, payload, &secrets, attempt_no,
    )
    .await
    {
        Sent::Attempted(sent) => sent,
        Sent::Skipped {
            status,
            error,
            retry_in,
        } => {
            let now = state.now_ms();
            return Done {
                destination_id: claimed.destination_id.clone(),
                settings: target.settings,
                step: None,
                report: Report {
                    delivery_id: claimed.id,
                    at_ms: started,
                    attempted: false,
                    status_code: None,
                    duration_ms: 0,
                    error: Some(error.to_string()),
                    excerpt: None,
                    status,
                    next_attempt_ms: now + retry_in.as_millis() as i64,
                    failed: false,
                },
            };
        }
    };
    let now = state.now_ms();
    let jitter = {
        let bytes = state.crypto.random_bytes::<8>();
        (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
    };
    let step = delivery::next_step(&target.policy, attempt_no, &sent.result(), now, jitter);
    let (status, next_attempt_ms) = match step {
        Step::Succeeded => ("succeeded", now),
        Step::Failed => ("failed", now),
        Step::RetryAt { not_before_ms } => ("pending", not_before_ms),
        // The destination is disabled; the delivery waits without using an attempt.
        Step::DisableDestination { .. } => ("pending", now),
    };
    let attempted = step.uses_attempt();
    Done {
        destination_id: claimed.destination_id.clone(),
        settings: target.settings,
        report: Report {
            delivery_id: claimed.id,
            at_ms: started,
            attempted,
            status_code: sent.status,
            duration_ms: sent.duration.as_millis() as i64,
            error: sent.error.map(str::to_string),
            excerpt: (!sent.excerpt.is_empty()).then_some(sent.excerpt),
            status,
            next_attempt_ms,
            failed: attempted && !matches!(step, Step::Succeeded),
        },
        step: Some(step),
    }
}

/// A value every HTTP header can carry: visible ASCII kept, anything else (a provider's
/// non-ASCII topic) percent-encoded as UTF-8, so such an event is still delivered.
fn header_safe(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What `send` did.
enum Sent {
    Attempted(Attempt),
    /// Nothing was sent: the delivery becomes `status`, with `error` recorded, and (when still
    /// pending) is tried again after `retry_in`.
    Skipped {
        status: &'static str,
        error: &'static str,
        retry_in: Duration,
    },
}

/// The request of one attempt: the event's raw body, signed with every live secret.
#[allow(clippy::too_many_arguments)]
async fn send(
    state: &AppState,
    outbound: &Outbound,
    claimed: &Claimed,
    target: &Target,
    payload: Option<store::deliveries::Payload>,
    secrets: &[destinations::DestinationSecret],
    attempt_no: u32,
) -> Sent {
    let now = state.now();
    // Retention deleted the event: there is nothing left to send.
    let Some(payload) = payload else {
        return Sent::Skipped {
            status: "cancelled",
            error: "event_expired",
            retry_in: Duration::ZERO,
        };
    };
    let Some(url) = target.url.as_ref() else {
        // The stored URL no longer passes vetting (the allow-list changed): a failed attempt.
        return Sent::Attempted(Attempt {
            status: None,
            retry_after: None,
            error: Some("address_not_allowed"),
            duration: Duration::ZERO,
            excerpt: String::new(),
        });
    };
    let mut signatures = Vec::new();
    for s in secrets {
        let opened = state
            .crypto
            .open(&destinations::seal_context(&s.id), &s.sealed)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|text| WebhookSecret::parse(&text).ok());
        if let Some(secret) = opened {
            signatures.push(signature::sign(
                secret.key(),
                &claimed.event_id,
                now,
                &payload.body,
            ));
        }
    }
    let headers = vec![
        ("webhook-id".to_string(), claimed.event_id.clone()),
        ("webhook-timestamp".to_string(), now.to_string()),
        ("webhook-signature".to_string(), signatures.join(" ")),
        ("hookgate-source".to_string(), payload.source.clone()),
        ("hookgate-topic".to_string(), header_safe(&payload.topic)),
        ("hookgate-attempt".to_string(), attempt_no.to_string()),
        (
            "content-type".to_string(),
            payload
                .content_type
                .clone()
                .unwrap_or_else(|| "application/json".into()),
        ),
    ];
    Sent::Attempted(
        outbound
            .post(url, &headers, payload.body.into(), target.timeout)
            .await,
    )
}

#[cfg(test)]
mod tests {
    use super::header_safe;

    #[test]
    fn topics_become_header_safe() {
        assert_eq!(header_safe("order.created"), "order.created");
        assert_eq!(header_safe("commande.créée"), "commande.cr%C3%A9%C3%A9e");
        assert_eq!(header_safe("a b%c"), "a%20b%25c");
    }
}
