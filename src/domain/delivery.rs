//! The pure rules of outbound delivery (CONTRACT.md section 10): when the next attempt may go,
//! what one attempt's result means, the per-destination circuit breaker, and which events a
//! destination receives. No I/O: the clock comes in as `now_ms` (unix milliseconds) and the
//! randomness of the jitter as `jitter`, a number in `[0, 1)`, so every rule is deterministic in
//! tests.
//!
//! Where the contract leaves room, these are the choices:
//! - **Attempts** are numbered from 1; attempt 1 goes immediately. "Retry number" `n` is
//!   `attempt - 1`: the wait before attempt `n + 1` is the policy's step `n`. Attempt 0 is read
//!   as attempt 1, a policy with `max_attempts` 0 as one with 1: a delivery always gets a first
//!   attempt.
//! - **Jitter** is added after the cap: a step capped at `max_delay` may still wait up to 10 %
//!   longer. It is add-only, so no wait is ever shorter than its step.
//! - **Retry-After** is honoured on 429 and 503 only, as the contract's table says; on other
//!   statuses it is ignored. Such an answer is still a failed attempt: it uses one attempt and
//!   counts toward the circuit breaker. The next attempt waits for the longer of the policy's step
//!   and Retry-After (capped at 24 h), plus jitter on that; when no attempt is left the delivery
//!   is `failed` all the same. A Retry-After that cannot be read is ignored.
//! - **410 Gone** disables the destination and uses no attempt: the delivery keeps its attempt
//!   number and goes again, immediately, once the destination is enabled. It says nothing about
//!   the destination's health, so it leaves the circuit's counters alone (a probe that got it
//!   frees the probe slot).
//! - **address_not_allowed** (the host resolved to a refused address) is a failed attempt like a
//!   connection error, and counts toward the circuit: a destination that keeps pointing at a
//!   refused address opens its circuit, which raises the alert an admin needs to see it.
//! - The **circuit** treats every result in the order it is recorded: a failure that arrives
//!   while the circuit is already open (an attempt sent before it opened) is counted but does not
//!   extend the cool-down; any success closes it and resets the doubling.

use super::source::MAX_TOPIC_CHARS;
use super::violation::Violation;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::{Map, Value, json};
use std::time::Duration;
use time::{OffsetDateTime, PrimitiveDateTime, macros::format_description, parsing::Parsed};

const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

/// The `standard` schedule: the waits before attempts 2 to 8 (attempt 1 goes immediately).
pub const STANDARD_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];
/// Most attempts a policy may allow.
pub const MAX_ATTEMPTS: u32 = 50;
/// Shortest `base_delay` or `max_delay`.
pub const MIN_DELAY: Duration = SECOND;
/// Longest `base_delay` or `max_delay`, and the cap on a Retry-After.
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);
/// `base_delay` when the request leaves it out (at most the given `max_delay`).
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_secs(5);
/// `max_delay` when the request leaves it out (at least the given `base_delay`).
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(10 * 3600);
/// Largest share of a wait added as random jitter.
const JITTER_SHARE: f64 = 0.10;

/// Whole-attempt timeout when the request leaves it out.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest whole-attempt timeout: attempts hold a worker slot and a lease for this long.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// Failed attempts in a row that open a circuit, by default.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 5;
/// Largest `failure_threshold`.
pub const MAX_FAILURE_THRESHOLD: u32 = 100;
/// How long an opened circuit stays open at first, by default.
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(60);
/// Longest cool-down, configured or doubled.
pub const MAX_COOLDOWN: Duration = HOUR;

/// Most source slugs or topic patterns a destination may list.
pub const MAX_PATTERNS: usize = 50;
/// Longest topic pattern: the longest topic an event can have.
pub const MAX_PATTERN_CHARS: usize = MAX_TOPIC_CHARS;
/// Longest source slug.
pub const MAX_SLUG_CHARS: usize = 64;

// ---------------------------------------------------------------------------------------------
// Retry policy
// ---------------------------------------------------------------------------------------------

/// How the waits between attempts grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// The contract's fixed table ([`STANDARD_SCHEDULE`]); `base_delay` and `max_delay` do not
    /// apply.
    #[default]
    Standard,
    /// `base_delay × 2^(n-1)`, capped at `max_delay`.
    Exponential,
    /// `base_delay × n`, capped at `max_delay`.
    Linear,
    /// `base_delay` every time.
    Fixed,
}

impl Strategy {
    /// Every strategy, in the order they are listed to people.
    pub const ALL: [Strategy; 4] = [
        Strategy::Standard,
        Strategy::Exponential,
        Strategy::Linear,
        Strategy::Fixed,
    ];

    /// From the wire name (`standard`, `exponential`, `linear`, `fixed`).
    pub fn parse(s: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Standard => "standard",
            Strategy::Exponential => "exponential",
            Strategy::Linear => "linear",
            Strategy::Fixed => "fixed",
        }
    }
}

/// When a failed delivery is attempted again, and how often (the destination's `retry`).
///
/// Build it with [`RetryPolicy::parse`], which enforces the bounds (`max_attempts` 1 to
/// [`MAX_ATTEMPTS`], delays [`MIN_DELAY`] to [`MAX_DELAY`], `base_delay` ≤ `max_delay`); the
/// arithmetic never panics on values built by hand either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub strategy: Strategy,
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// The unit of the `exponential`, `linear` and `fixed` waits; unused by `standard`.
    pub base_delay: Duration,
    /// The cap on `exponential` and `linear` waits (before jitter); unused by `standard`.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// The `standard` schedule: 8 attempts.
    fn default() -> Self {
        RetryPolicy {
            strategy: Strategy::Standard,
            max_attempts: STANDARD_SCHEDULE.len() as u32 + 1,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
        }
    }
}

/// The names a `retry` object may have.
const RETRY_FIELDS: [&str; 4] = ["strategy", "max_attempts", "base_delay", "max_delay"];

impl RetryPolicy {
    /// The wait before attempt number `attempt` (1-based), with `jitter` in `[0, 1)` adding up
    /// to 10 % to it: `Some(ZERO)` for attempt 1, `None` once `attempt` exceeds `max_attempts`
    /// (the delivery is exhausted).
    pub fn delay_before(&self, attempt: u32, jitter: f64) -> Option<Duration> {
        let attempt = attempt.max(1);
        if attempt > self.max_attempts.max(1) {
            return None;
        }
        Some(with_jitter(self.step(attempt - 1), jitter))
    }

    /// The wait before retry number `n` (attempt `n + 1`) without jitter; zero for `n` = 0.
    ///
    /// - `standard`: entry `n` of [`STANDARD_SCHEDULE`] (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
    ///   10 h); past its end (a `max_attempts` above 8) the last entry, 10 h, repeats.
    /// - `exponential`: `base_delay × 2^(n-1)` (so `base_delay`, then twice, four times …),
    ///   at most `max_delay`.
    /// - `linear`: `base_delay × n` (so `base_delay`, then twice, three times …), at most
    ///   `max_delay`.
    /// - `fixed`: `base_delay` (at most `max_delay`, which the bounds make a no-op).
    pub fn step(&self, n: u32) -> Duration {
        if n == 0 {
            return Duration::ZERO;
        }
        let base = millis(self.base_delay);
        let ms = match self.strategy {
            Strategy::Standard => {
                let i = usize::try_from(n - 1).unwrap_or(usize::MAX);
                return STANDARD_SCHEDULE[i.min(STANDARD_SCHEDULE.len() - 1)];
            }
            Strategy::Exponential => base.saturating_mul(2u64.saturating_pow(n - 1)),
            Strategy::Linear => base.saturating_mul(u64::from(n)),
            Strategy::Fixed => base,
        };
        Duration::from_millis(ms.min(millis(self.max_delay)))
    }

    /// From the `retry` JSON of a create or update request; `null` is the default policy.
    /// Every problem is reported, each as a [`Violation`] of field `retry.<name>` in plain
    /// words; `null` members count as absent. Absent members take their defaults: `standard`,
    /// 8 attempts, `base_delay` 5 s (or `max_delay` when that is shorter), `max_delay` 10 h (or
    /// `base_delay` when that is longer). `base_delay` and `max_delay` are refused with
    /// `standard`, whose schedule they would not change.
    pub fn parse(value: &Value) -> Result<RetryPolicy, Vec<Violation>> {
        let map = match value {
            Value::Null => return Ok(RetryPolicy::default()),
            Value::Object(map) => map,
            _ => {
                return Err(vec![Violation::new(
                    "retry",
                    "must be an object such as {\"strategy\": \"exponential\", \
                     \"max_attempts\": 10, \"base_delay\": \"30s\", \"max_delay\": \"1h\"}",
                )]);
            }
        };
        let mut v = Vec::new();
        unknown_members("retry", map, &RETRY_FIELDS, &mut v);

        let strategy = match member(map, "strategy") {
            None => Some(Strategy::default()),
            Some(Value::String(s)) => Strategy::parse(s.trim()).or_else(|| {
                report(
                    "retry.strategy",
                    "must be one of standard, exponential, linear, fixed",
                    &mut v,
                )
            }),
            Some(_) => report(
                "retry.strategy",
                "must be a string: standard, exponential, linear or fixed",
                &mut v,
            ),
        };
        let max_attempts = match member(map, "max_attempts") {
            None => Some(RetryPolicy::default().max_attempts),
            Some(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=MAX_ATTEMPTS).contains(n))
                .or_else(|| {
                    report(
                        "retry.max_attempts",
                        format!("must be a whole number from 1 to {MAX_ATTEMPTS}"),
                        &mut v,
                    )
                }),
        };
        let delay = |name: &str, v: &mut Vec<Violation>| -> Result<Option<Duration>, ()> {
            let field = format!("retry.{name}");
            match member(map, name) {
                None => Ok(None),
                Some(_) if strategy == Some(Strategy::Standard) => {
                    v.push(Violation::new(
                        field,
                        "does not apply to the standard schedule: leave it out, or choose \
                         exponential, linear or fixed",
                    ));
                    Err(())
                }
                Some(raw) => bounded_duration(&field, raw, MIN_DELAY, MAX_DELAY, v)
                    .map(Some)
                    .ok_or(()),
            }
        };
        let base = delay("base_delay", &mut v);
        let max = delay("max_delay", &mut v);
        if let (Ok(Some(base)), Ok(Some(max))) = (base, max)
            && base > max
        {
            v.push(Violation::new(
                "retry.max_delay",
                format!(
                    "must not be shorter than base_delay ({})",
                    format_duration(base)
                ),
            ));
        }

        match (strategy, max_attempts, base, max) {
            (Some(strategy), Some(max_attempts), Ok(base), Ok(max)) if v.is_empty() => {
                let base_delay = base.unwrap_or(DEFAULT_BASE_DELAY.min(max.unwrap_or(MAX_DELAY)));
                let max_delay = max.unwrap_or(DEFAULT_MAX_DELAY.max(base_delay));
                Ok(RetryPolicy {
                    strategy,
                    max_attempts,
                    base_delay,
                    max_delay,
                })
            }
            _ => Err(v),
        }
    }

    /// The wire form: `{strategy, max_attempts, base_delay, max_delay}`, durations as text like
    /// `"30s"`; `base_delay` and `max_delay` are `null` for `standard`. [`RetryPolicy::parse`]
    /// reads it back to the same policy.
    pub fn to_json(&self) -> Value {
        let (base, max) = match self.strategy {
            Strategy::Standard => (Value::Null, Value::Null),
            _ => (
                format_duration(self.base_delay).into(),
                format_duration(self.max_delay).into(),
            ),
        };
        json!({
            "strategy": self.strategy.as_str(),
            "max_attempts": self.max_attempts,
            "base_delay": base,
            "max_delay": max,
        })
    }
}

impl Serialize for RetryPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RetryPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RetryPolicy::parse(&Value::deserialize(deserializer)?)
            .map_err(|v| de::Error::custom(describe(&v)))
    }
}

/// `step` plus up to 10 % of it, never less than `step`; a `jitter` outside `[0, 1]` (or NaN)
/// is clamped into it.
fn with_jitter(step: Duration, jitter: f64) -> Duration {
    let share = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    // `as` saturates; step is at most u64::MAX ms, so the product is finite and non-negative.
    let extra = (millis(step) as f64 * JITTER_SHARE * share).floor() as u64;
    step.saturating_add(Duration::from_millis(extra))
}

/// Whole milliseconds of `d`, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `now_ms` moved forward by `d`, saturating.
fn later(now_ms: i64, d: Duration) -> i64 {
    now_ms.saturating_add(i64::try_from(millis(d)).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------------------------
// Attempt outcomes
// ---------------------------------------------------------------------------------------------

/// What happened to one attempt, as the sender saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult<'a> {
    /// The destination answered; redirects are never followed.
    Response {
        status: u16,
        /// The raw `Retry-After` header, if the answer had one.
        retry_after: Option<&'a str>,
    },
    /// The whole-attempt timeout ran out.
    Timeout,
    /// No connection: the name did not resolve, the connection was refused or reset, or TLS
    /// failed.
    ConnectError,
    /// Every address the host resolved to is refused (private, loopback, …) and not allowed by
    /// `--destination-allow`.
    AddressNotAllowed,
    /// Connected and sent, but what came back was not a readable HTTP answer.
    InvalidResponse,
}

impl AttemptResult<'_> {
    /// The `error` recorded for the attempt: `None` when the destination answered (its status
    /// code tells the rest).
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            AttemptResult::Response { .. } => None,
            AttemptResult::Timeout => Some("timeout"),
            AttemptResult::ConnectError => Some("connection_failed"),
            AttemptResult::AddressNotAllowed => Some("address_not_allowed"),
            AttemptResult::InvalidResponse => Some("invalid_response"),
        }
    }

    /// What the attempt means, at `now_ms` (a Retry-After date is read against it).
    pub fn outcome(&self, now_ms: i64) -> Outcome {
        match *self {
            AttemptResult::Response { status, .. } if (200..300).contains(&status) => {
                Outcome::Succeeded
            }
            AttemptResult::Response { status: 410, .. } => Outcome::Gone,
            AttemptResult::Response {
                status: 429 | 503,
                retry_after,
            } => Outcome::Failed {
                retry_after: retry_after.and_then(|raw| parse_retry_after(raw, now_ms)),
            },
            _ => Outcome::Failed { retry_after: None },
        }
    }
}

/// The meaning of one attempt (CONTRACT.md section 10, "destination answers").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx.
    Succeeded,
    /// 410: the destination asks never to be called again.
    Gone,
    /// Anything else: 1xx, 3xx, other 4xx and 5xx, timeouts, connection and address errors.
    /// `retry_after` is the readable Retry-After of a 429 or 503, capped at 24 h.
    Failed { retry_after: Option<Duration> },
}

/// Why a destination was disabled by a delivery's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisableReason {
    /// It answered 410 Gone.
    Gone,
}

impl DisableReason {
    /// The `disabled_reason` shown in the destination's state.
    pub fn as_str(self) -> &'static str {
        match self {
            DisableReason::Gone => "gone",
        }
    }
}

/// What to do with a delivery after one of its attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Done: `succeeded`.
    Succeeded,
    /// Disable the destination; the delivery stays `pending` and this attempt is not counted.
    DisableDestination { reason: DisableReason },
    /// A failed attempt with attempts left: `pending` until `not_before_ms` (unix ms).
    RetryAt { not_before_ms: i64 },
    /// A failed last attempt: `failed`, the dead letter.
    Failed,
}

impl Step {
    /// What the step tells the destination's circuit breaker.
    pub fn health(&self) -> Health {
        match self {
            Step::Succeeded => Health::Good,
            Step::DisableDestination { .. } => Health::Neutral,
            Step::RetryAt { .. } | Step::Failed => Health::Bad,
        }
    }

    /// Whether the attempt that led here counts toward the delivery's attempts.
    pub fn uses_attempt(&self) -> bool {
        !matches!(self, Step::DisableDestination { .. })
    }
}

/// The next step of a delivery after attempt number `attempt` (1-based) ended in `result` at
/// `now_ms`; `jitter` in `[0, 1)` spreads the retries.
///
/// A failed attempt with attempts left waits for the longer of the policy's step before the
/// next attempt and the answer's Retry-After (429 and 503 only), plus up to 10 % jitter on that;
/// with none left the delivery is [`Step::Failed`], Retry-After or not.
pub fn next_step(
    policy: &RetryPolicy,
    attempt: u32,
    result: &AttemptResult<'_>,
    now_ms: i64,
    jitter: f64,
) -> Step {
    match result.outcome(now_ms) {
        Outcome::Succeeded => Step::Succeeded,
        Outcome::Gone => Step::DisableDestination {
            reason: DisableReason::Gone,
        },
        Outcome::Failed { retry_after } => {
            let next = attempt.max(1).saturating_add(1);
            if policy.delay_before(next, 0.0).is_none() {
                return Step::Failed;
            }
            let wait = policy
                .step(next - 1)
                .max(retry_after.unwrap_or(Duration::ZERO));
            Step::RetryAt {
                not_before_ms: later(now_ms, with_jitter(wait, jitter)),
            }
        }
    }
}

/// How long a `Retry-After` header asks to wait, read at `now_ms`: delta-seconds or an
/// HTTP-date (IMF-fixdate, and the obsolete RFC 850 and asctime forms), capped at 24 h; a date
/// in the past is zero. `None` when the value is neither.
pub fn parse_retry_after(raw: &str, now_ms: i64) -> Option<Duration> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: a number too large for u64 still means "longer than the cap".
        let secs = raw.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_DELAY));
    }
    let at_ms = http_date_ms(raw, now_ms)?;
    let wait = u64::try_from(at_ms.saturating_sub(now_ms)).unwrap_or(0);
    Some(Duration::from_millis(wait).min(MAX_DELAY))
}

/// An HTTP-date (RFC 9110 section 5.6.7) as unix milliseconds.
fn http_date_ms(raw: &str, now_ms: i64) -> Option<i64> {
    let imf = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let asctime = format_description!(
        "[weekday repr:short] [month repr:short] [day padding:space] \
         [hour]:[minute]:[second] [year]"
    );
    let rfc850 = format_description!(
        "[weekday repr:long], [day]-[month repr:short]-[year repr:last_two] \
         [hour]:[minute]:[second] GMT"
    );
    let at = PrimitiveDateTime::parse(raw, imf)
        .or_else(|_| PrimitiveDateTime::parse(raw, asctime))
        .ok()
        .or_else(|| {
            // Two-digit year: the most recent year with those digits that is not more than
            // 50 years ahead of now (RFC 9110).
            let mut parsed = Parsed::new();
            let rest = parsed.parse_items(raw.as_bytes(), rfc850).ok()?;
            let last_two = i32::from(parsed.year_last_two()?);
            if !rest.is_empty() {
                return None;
            }
            let this_year = OffsetDateTime::from_unix_timestamp(now_ms.div_euclid(1000))
                .ok()?
                .year();
            let mut year = this_year - this_year.rem_euclid(100) + last_two;
            if year > this_year + 50 {
                year -= 100;
            }
            let parsed = parsed.with_year(year)?;
            PrimitiveDateTime::try_from(parsed).ok()
        })?;
    at.assume_utc().unix_timestamp().checked_mul(1000)
}

// ---------------------------------------------------------------------------------------------
// Timeout
// ---------------------------------------------------------------------------------------------

/// The destination's whole-attempt `timeout` from request JSON: a duration text from 1 s to
/// [`MAX_TIMEOUT`]; `null` is [`DEFAULT_TIMEOUT`].
pub fn parse_timeout(value: &Value) -> Result<Duration, Vec<Violation>> {
    if value.is_null() {
        return Ok(DEFAULT_TIMEOUT);
    }
    let mut v = Vec::new();
    bounded_duration("timeout", value, SECOND, MAX_TIMEOUT, &mut v).ok_or(v)
}

// ---------------------------------------------------------------------------------------------
// Circuit breaker
// ---------------------------------------------------------------------------------------------

/// A destination's circuit-breaker settings (`circuit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitSettings {
    /// Failed attempts in a row that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open the first time; doubled on each re-open, up to 1 h.
    pub cooldown: Duration,
}

impl Default for CircuitSettings {
    fn default() -> Self {
        CircuitSettings {
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            cooldown: DEFAULT_COOLDOWN,
        }
    }
}

/// The names a `circuit` object may have.
const CIRCUIT_FIELDS: [&str; 2] = ["failure_threshold", "cooldown"];

impl CircuitSettings {
    /// From the `circuit` JSON of a request; `null` is the default (5 failures, 60 s). Every
    /// problem is reported as a [`Violation`] of field `circuit.<name>`; absent or `null`
    /// members take their defaults. `failure_threshold` is 1 to [`MAX_FAILURE_THRESHOLD`],
    /// `cooldown` 1 s to 1 h.
    pub fn parse(value: &Value) -> Result<CircuitSettings, Vec<Violation>> {
        let map = match value {
            Value::Null => return Ok(CircuitSettings::default()),
            Value::Object(map) => map,
            _ => {
                return Err(vec![Violation::new(
                    "circuit",
                    "must be an object such as {\"failure_threshold\": 5, \"cooldown\": \"60s\"}",
                )]);
            }
        };
        let mut v = Vec::new();
        unknown_members("circuit", map, &CIRCUIT_FIELDS, &mut v);
        let failure_threshold = match member(map, "failure_threshold") {
            None => Some(DEFAULT_FAILURE_THRESHOLD),
            Some(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| (1..=MAX_FAILURE_THRESHOLD).contains(n))
                .or_else(|| {
                    report(
                        "circuit.failure_threshold",
                        format!("must be a whole number from 1 to {MAX_FAILURE_THRESHOLD}"),
                        &mut v,
                    )
                }),
        };
        let cooldown = match member(map, "cooldown") {
            None => Some(DEFAULT_COOLDOWN),
            Some(raw) => bounded_duration("circuit.cooldown", raw, SECOND, MAX_COOLDOWN, &mut v),
        };
        match (failure_threshold, cooldown) {
            (Some(failure_threshold), Some(cooldown)) if v.is_empty() => Ok(CircuitSettings {
                failure_threshold,
                cooldown,
            }),
            _ => Err(v),
        }
    }

    /// The wire form: `{failure_threshold, cooldown}`, the cool-down as text like `"60s"`.
    pub fn to_json(&self) -> Value {
        json!({
            "failure_threshold": self.failure_threshold,
            "cooldown": format_duration(self.cooldown),
        })
    }

    /// The cool-down after `reopen_count` re-opens: `cooldown × 2^reopen_count`, at most 1 h
    /// (or the configured cool-down, were it longer).
    pub fn cooldown_after(&self, reopen_count: u32) -> Duration {
        let cap = millis(self.cooldown.max(MAX_COOLDOWN));
        let ms = millis(self.cooldown).saturating_mul(2u64.saturating_pow(reopen_count));
        Duration::from_millis(ms.min(cap))
    }
}

impl Serialize for CircuitSettings {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for CircuitSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CircuitSettings::parse(&Value::deserialize(deserializer)?)
            .map_err(|v| de::Error::custom(describe(&v)))
    }
}

/// Where a circuit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CircuitState {
    /// Attempts flow.
    #[default]
    Closed,
    /// Nothing is sent before `until_ms`; then one probe may go.
    Open { until_ms: i64 },
    /// A probe is in flight until `probe_until_ms` (its lease); no other attempt goes. A probe
    /// whose result never came back (a crash) is replaced once its lease has run out.
    HalfOpen { probe_until_ms: i64 },
}

impl CircuitState {
    /// The name shown in the destination's state: `closed`, `open` or `half_open`.
    pub fn as_str(&self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open { .. } => "open",
            CircuitState::HalfOpen { .. } => "half_open",
        }
    }

    /// The moment stored beside the name: the end of the cool-down or of the probe's lease.
    pub fn until_ms(&self) -> Option<i64> {
        match *self {
            CircuitState::Closed => None,
            CircuitState::Open { until_ms } => Some(until_ms),
            CircuitState::HalfOpen { probe_until_ms } => Some(probe_until_ms),
        }
    }

    /// Back from the stored name and moment; `None` when they do not fit together.
    pub fn from_parts(name: &str, until_ms: Option<i64>) -> Option<CircuitState> {
        match (name, until_ms) {
            ("closed", _) => Some(CircuitState::Closed),
            ("open", Some(until_ms)) => Some(CircuitState::Open { until_ms }),
            ("half_open", Some(probe_until_ms)) => Some(CircuitState::HalfOpen { probe_until_ms }),
            _ => None,
        }
    }
}

/// What a destination's circuit allows at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    /// Closed: send as usual.
    Send,
    /// The cool-down is over: send exactly one attempt, whose result decides.
    Probe,
    /// Send nothing (and use no attempt) before `until_ms`.
    Wait { until_ms: i64 },
}

/// What an attempt says about a destination's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// It answered 2xx.
    Good,
    /// A failed attempt.
    Bad,
    /// Nothing either way (410 Gone).
    Neutral,
}

/// A destination's circuit breaker: a plain value, persisted with the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Circuit {
    pub state: CircuitState,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// Re-opens after a failed probe since the circuit was last closed: the doubling exponent.
    pub reopen_count: u32,
}

impl Circuit {
    /// What may be sent at `now_ms`, without changing anything.
    pub fn may_send(&self, now_ms: i64) -> Permit {
        match self.state {
            CircuitState::Closed => Permit::Send,
            CircuitState::Open { until_ms }
            | CircuitState::HalfOpen {
                probe_until_ms: until_ms,
            } if now_ms < until_ms => Permit::Wait { until_ms },
            CircuitState::Open { .. } | CircuitState::HalfOpen { .. } => Permit::Probe,
        }
    }

    /// Like [`Circuit::may_send`], and when the answer is [`Permit::Probe`] the probe is taken:
    /// the circuit is half-open with that one attempt in flight for `probe_lease` (give it at
    /// least the attempt's timeout), during which nothing else is sent.
    pub fn acquire(&mut self, now_ms: i64, probe_lease: Duration) -> Permit {
        let permit = self.may_send(now_ms);
        if permit == Permit::Probe {
            self.state = CircuitState::HalfOpen {
                probe_until_ms: later(now_ms, probe_lease),
            };
        }
        permit
    }

    /// A successful attempt: the circuit closes and forgets its failures and re-opens.
    pub fn on_success(&mut self) {
        *self = Circuit::default();
    }

    /// A failed attempt at `now_ms`. Returns whether it opened the circuit: the threshold was
    /// reached while closed (cool-down `cooldown × 2^reopen_count`), or a probe failed (re-open
    /// with the doubled cool-down).
    pub fn on_failure(&mut self, now_ms: i64, settings: &CircuitSettings) -> bool {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        match self.state {
            CircuitState::Closed if self.consecutive_failures >= settings.failure_threshold => {}
            CircuitState::HalfOpen { .. } => {
                self.reopen_count = self.reopen_count.saturating_add(1);
            }
            CircuitState::Closed | CircuitState::Open { .. } => return false,
        }
        self.state = CircuitState::Open {
            until_ms: later(now_ms, settings.cooldown_after(self.reopen_count)),
        };
        true
    }

    /// An attempt that says nothing about health (410): the counters stay; a half-open
    /// circuit's probe slot is freed at `now_ms`, so the next [`Circuit::acquire`] probes again.
    pub fn on_neutral(&mut self, now_ms: i64) {
        if let CircuitState::HalfOpen { probe_until_ms } = self.state {
            self.state = CircuitState::HalfOpen {
                probe_until_ms: probe_until_ms.min(now_ms),
            };
        }
    }

    /// Record an attempt's [`Health`] at `now_ms`; returns whether the circuit just opened (for
    /// the "circuit opened" alert).
    pub fn record(&mut self, health: Health, now_ms: i64, settings: &CircuitSettings) -> bool {
        match health {
            Health::Good => {
                self.on_success();
                false
            }
            Health::Bad => self.on_failure(now_ms, settings),
            Health::Neutral => {
                self.on_neutral(now_ms);
                false
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Which events a destination receives
// ---------------------------------------------------------------------------------------------

/// Whether an event of `source` (a slug, or `orders`) and `topic` goes to a destination with
/// these filters: `None` matches everything; a list matches when the source is one of the slugs
/// (exactly) and the topic matches one of the patterns ([`topic_matches`]).
pub fn matches(
    sources: Option<&[String]>,
    topics: Option<&[String]>,
    source: &str,
    topic: &str,
) -> bool {
    sources.is_none_or(|s| s.iter().any(|s| s == source))
        && topics.is_none_or(|t| t.iter().any(|p| topic_matches(p, topic)))
}

/// Whether `topic` matches `pattern`, where `*` stands for any run of characters, dots
/// included and possibly empty (`order.*` matches `order.created` and `order.refund.created`;
/// `*` matches every topic). Everything else compares exactly, case included.
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    // Greedy glob with one backtrack point: O(pattern × topic) at worst, both bounded.
    let (p, t) = (pattern.as_bytes(), topic.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(&c) if c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The `sources` of a request: `null` is all sources; otherwise a list of 1 to
/// [`MAX_PATTERNS`] slugs (1–64 of `a-z 0-9 -`, `orders` for merchant orders), trimmed, each
/// kept once. Whether each slug exists is for the caller to check. Every problem is reported,
/// an item's as field `sources[i]`.
pub fn parse_sources(value: &Value) -> Result<Option<Vec<String>>, Vec<Violation>> {
    string_list("sources", value, |s| {
        let ok = (1..=MAX_SLUG_CHARS).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        ok.then_some(()).ok_or_else(|| {
            format!("must be a source slug: 1 to {MAX_SLUG_CHARS} of a-z, 0-9 and -, or orders")
        })
    })
}

/// The `topics` of a request: `null` is all topics; otherwise a list of 1 to
/// [`MAX_PATTERNS`] patterns, trimmed, each kept once. A pattern is 1 to
/// [`MAX_PATTERN_CHARS`] characters without control characters, `*` as the wildcard; any other
/// character is allowed because providers' topics use them (`orders/create`, upper case).
/// Every problem is reported, an item's as field `topics[i]`.
pub fn parse_topics(value: &Value) -> Result<Option<Vec<String>>, Vec<Violation>> {
    string_list("topics", value, |s| {
        if s.chars().count() > MAX_PATTERN_CHARS || s.chars().any(char::is_control) {
            Err(format!(
                "must be a topic pattern of at most {MAX_PATTERN_CHARS} characters without \
                 control characters, * as the wildcard (e.g. order.* or payment_intent.succeeded)"
            ))
        } else {
            Ok(())
        }
    })
}

/// A `null` or a non-empty, bounded list of strings, each trimmed, non-blank and accepted by
/// `check`; duplicates are dropped, order kept.
fn string_list(
    field: &str,
    value: &Value,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<Option<Vec<String>>, Vec<Violation>> {
    let items = match value {
        Value::Null => return Ok(None),
        Value::Array(items) if !items.is_empty() && items.len() <= MAX_PATTERNS => items,
        Value::Array(items) if items.is_empty() => {
            return Err(vec![Violation::new(
                field,
                format!(
                    "must list at least one entry; leave it out (or null) to receive all {field}"
                ),
            )]);
        }
        Value::Array(_) => {
            return Err(vec![Violation::new(
                field,
                format!("must list at most {MAX_PATTERNS} entries"),
            )]);
        }
        _ => {
            return Err(vec![Violation::new(
                field,
                format!("must be a list of strings, or null for all {field}"),
            )]);
        }
    };
    let mut v = Vec::new();
    let mut list: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("{field}[{i}]");
        match item.as_str().map(str::trim) {
            None => v.push(Violation::new(at, "must be a string")),
            Some("") => v.push(Violation::new(at, "must not be blank")),
            Some(s) => match check(s) {
                Err(message) => v.push(Violation::new(at, message)),
                Ok(()) if list.iter().any(|seen| seen == s) => {}
                Ok(()) => list.push(s.to_owned()),
            },
        }
    }
    if v.is_empty() { Ok(Some(list)) } else { Err(v) }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers of the request parsers
// ---------------------------------------------------------------------------------------------

/// Member `name`, `null` counting as absent.
fn member<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    map.get(name).filter(|v| !v.is_null())
}

/// Report every member of `map` not in `known`, as field `<parent>.<name>`.
fn unknown_members(parent: &str, map: &Map<String, Value>, known: &[&str], v: &mut Vec<Violation>) {
    for name in map.keys().filter(|k| !known.contains(&k.as_str())) {
        let shown: String = name.chars().take(MAX_PATTERN_CHARS).collect();
        v.push(Violation::new(
            format!("{parent}.{shown}"),
            format!("is not a {parent} setting (known: {})", known.join(", ")),
        ));
    }
}

/// Report a violation; the value it stands for is absent.
fn report<T>(field: &str, message: impl Into<String>, v: &mut Vec<Violation>) -> Option<T> {
    v.push(Violation::new(field, message));
    None
}

/// A duration text from `min` to `max`, reported as `field` otherwise.
fn bounded_duration(
    field: &str,
    raw: &Value,
    min: Duration,
    max: Duration,
    v: &mut Vec<Violation>,
) -> Option<Duration> {
    let range = format!(
        "must be a duration from {} to {}, such as 30s, 5m or 2h",
        format_duration(min),
        format_duration(max)
    );
    match raw.as_str().and_then(|s| parse_duration(s.trim())) {
        Some(d) if (min..=max).contains(&d) => Some(d),
        _ => report(field, range, v),
    }
}

/// A duration as people type it, the same forms `--secret-ttl` and the other options accept:
/// `250ms`, `30s`, `5m`, `2h`, `1d`, `1w`, combinations such as `1h30m`, and `0`.
fn parse_duration(raw: &str) -> Option<Duration> {
    if raw == "0" {
        return Some(Duration::ZERO);
    }
    if raw.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = raw;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let n: u32 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => SECOND,
            "m" => MINUTE,
            "h" => HOUR,
            "d" => 24 * HOUR,
            "w" => 7 * 24 * HOUR,
            _ => return None,
        };
        total = total.checked_add(unit.checked_mul(n)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// A duration in the form [`parse_duration`] reads: whole hours as `h`, whole minutes from two
/// minutes up as `m`, other whole seconds as `s` (so the defaults read `60s` and `15s`, as the
/// contract writes them), anything finer as `ms`.
fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_millis() != 0 || s == 0 {
        format!("{}ms", d.as_millis())
    } else if s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s.is_multiple_of(60) && s > 60 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Violations in one line, for serde errors.
fn describe(v: &[Violation]) -> String {
    v.iter()
        .map(|v| format!("{} {}", v.field, v.message))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1;
    const M: u64 = 60;
    const H: u64 = 3600;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn policy(strategy: Strategy, max_attempts: u32, base: u64, max: u64) -> RetryPolicy {
        RetryPolicy {
            strategy,
            max_attempts,
            base_delay: secs(base),
            max_delay: secs(max),
        }
    }

    fn fields(v: &[Violation]) -> Vec<&str> {
        v.iter().map(|v| v.field.as_str()).collect()
    }

    fn response(status: u16) -> AttemptResult<'static> {
        AttemptResult::Response {
            status,
            retry_after: None,
        }
    }

    // Retry policy

    #[test]
    fn the_standard_schedule_is_the_contracts_table_exactly() {
        let p = RetryPolicy::default();
        assert_eq!(p.strategy, Strategy::Standard);
        assert_eq!(p.max_attempts, 8);
        let waits: Vec<_> = (1..=8).map(|a| p.delay_before(a, 0.0).unwrap()).collect();
        assert_eq!(
            waits,
            [
                secs(0),
                secs(5 * S),
                secs(5 * M),
                secs(30 * M),
                secs(2 * H),
                secs(5 * H),
                secs(10 * H),
                secs(10 * H)
            ]
        );
        assert_eq!(p.delay_before(9, 0.0), None, "8 attempts, then exhausted");
    }

    #[test]
    fn standard_ignores_base_and_max_delay_and_repeats_ten_hours_past_its_table() {
        let p = policy(Strategy::Standard, 12, 1, 1);
        assert_eq!(p.delay_before(2, 0.0), Some(secs(5)));
        assert_eq!(p.delay_before(8, 0.0), Some(secs(10 * H)));
        assert_eq!(p.delay_before(12, 0.0), Some(secs(10 * H)));
        assert_eq!(p.delay_before(13, 0.0), None);
        let short = policy(Strategy::Standard, 3, 5, 5);
        assert_eq!(short.delay_before(3, 0.0), Some(secs(5 * M)));
        assert_eq!(short.delay_before(4, 0.0), None);
    }

    #[test]
    fn exponential_doubles_from_base_delay_up_to_max_delay() {
        let p = policy(Strategy::Exponential, 10, 30, 10 * M);
        let waits: Vec<_> = (2..=10).map(|a| p.delay_before(a, 0.0).unwrap()).collect();
        assert_eq!(
            waits,
            [30, 60, 120, 240, 480, 600, 600, 600, 600].map(secs),
            "n = attempt - 1: base × 2^(n-1), capped"
        );
        let huge = policy(Strategy::Exponential, 50, 24 * H, 24 * H);
        assert_eq!(huge.delay_before(50, 0.0), Some(secs(24 * H)));
    }

    #[test]
    fn linear_grows_by_base_delay_up_to_max_delay() {
        let p = policy(Strategy::Linear, 6, 100, 350);
        let waits: Vec<_> = (2..=6).map(|a| p.delay_before(a, 0.0).unwrap()).collect();
        assert_eq!(waits, [100, 200, 300, 350, 350].map(secs));
    }

    #[test]
    fn fixed_waits_base_delay_every_time() {
        let p = policy(Strategy::Fixed, 4, 45, H);
        assert_eq!(p.delay_before(1, 0.0), Some(Duration::ZERO));
        for a in 2..=4 {
            assert_eq!(p.delay_before(a, 0.0), Some(secs(45)));
        }
        assert_eq!(p.delay_before(5, 0.0), None);
    }

    #[test]
    fn jitter_only_adds_and_never_more_than_a_tenth() {
        let policies = [
            RetryPolicy::default(),
            policy(Strategy::Exponential, 50, 1, 24 * H),
            policy(Strategy::Linear, 50, 7, 5 * H),
            policy(Strategy::Fixed, 50, 3, 3),
        ];
        for p in policies {
            for attempt in 1..=p.max_attempts {
                let step = p.step(attempt - 1);
                let mut last = step;
                for i in 0..1000 {
                    let jitter = f64::from(i) / 1000.0;
                    let d = p.delay_before(attempt, jitter).unwrap();
                    assert!(d >= step, "{p:?} attempt {attempt} jitter {jitter}");
                    assert!(d.as_millis() * 10 <= step.as_millis() * 11);
                    assert!(d >= last, "more jitter never waits less");
                    last = d;
                }
            }
        }
        let p = RetryPolicy::default();
        assert_eq!(p.delay_before(1, 0.99), Some(Duration::ZERO), "immediately");
        assert_eq!(p.delay_before(2, 0.5), Some(Duration::from_millis(5250)));
        for odd in [f64::NAN, f64::INFINITY, -1.0] {
            assert_eq!(p.delay_before(2, odd), Some(secs(5)));
        }
        assert_eq!(p.delay_before(2, 7.0), Some(Duration::from_millis(5500)));
    }

    #[test]
    fn odd_attempt_numbers_and_hand_built_policies_never_panic() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_before(0, 0.0), Some(Duration::ZERO));
        assert_eq!(p.delay_before(u32::MAX, 0.0), None);
        let zero = policy(Strategy::Exponential, 0, 0, 0);
        assert_eq!(zero.delay_before(1, 0.5), Some(Duration::ZERO));
        assert_eq!(zero.delay_before(2, 0.5), None);
        let wild = RetryPolicy {
            strategy: Strategy::Exponential,
            max_attempts: u32::MAX,
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
        };
        assert!(wild.delay_before(u32::MAX, 0.99).is_some());
        let step = next_step(&wild, u32::MAX - 1, &AttemptResult::Timeout, i64::MAX, 0.9);
        assert_eq!(
            step,
            Step::RetryAt {
                not_before_ms: i64::MAX
            }
        );
    }

    // Outcomes

    #[test]
    fn every_2xx_succeeds() {
        let p = RetryPolicy::default();
        for status in [200, 201, 202, 204, 299] {
            assert_eq!(next_step(&p, 1, &response(status), 0, 0.0), Step::Succeeded);
            assert_eq!(next_step(&p, 8, &response(status), 0, 0.0), Step::Succeeded);
        }
    }

    #[test]
    fn gone_disables_the_destination_without_using_an_attempt() {
        let step = next_step(&RetryPolicy::default(), 8, &response(410), 0, 0.0);
        assert_eq!(
            step,
            Step::DisableDestination {
                reason: DisableReason::Gone
            }
        );
        assert!(!step.uses_attempt());
        assert_eq!(step.health(), Health::Neutral);
        assert_eq!(DisableReason::Gone.as_str(), "gone");
    }

    #[test]
    fn redirects_other_4xx_and_5xx_timeouts_and_connection_errors_are_failed_attempts() {
        let p = RetryPolicy::default();
        let now = 1_700_000_000_000;
        let results = [
            response(100),
            response(301),
            response(302),
            response(304),
            response(308),
            response(400),
            response(401),
            response(404),
            response(409),
            response(429),
            response(500),
            response(502),
            response(503),
            response(504),
            response(0),
            response(999),
            AttemptResult::Response {
                status: 500,
                retry_after: Some("120"),
            },
            AttemptResult::Timeout,
            AttemptResult::ConnectError,
            AttemptResult::AddressNotAllowed,
            AttemptResult::InvalidResponse,
        ];
        for r in results {
            let step = next_step(&p, 1, &r, now, 0.0);
            assert_eq!(
                step,
                Step::RetryAt {
                    not_before_ms: now + 5000
                },
                "{r:?}"
            );
            assert!(step.uses_attempt());
            assert_eq!(step.health(), Health::Bad);
            assert_eq!(
                next_step(&p, 3, &r, now, 0.0),
                Step::RetryAt {
                    not_before_ms: now + 30 * 60 * 1000
                },
                "{r:?}"
            );
            assert_eq!(next_step(&p, 8, &r, now, 0.0), Step::Failed, "{r:?}");
        }
    }

    #[test]
    fn retry_after_on_429_and_503_delays_the_next_attempt_but_uses_it() {
        let p = RetryPolicy::default();
        let now = 1_700_000_000_000;
        for status in [429, 503] {
            let ra = AttemptResult::Response {
                status,
                retry_after: Some("120"),
            };
            assert_eq!(
                next_step(&p, 1, &ra, now, 0.0),
                Step::RetryAt {
                    not_before_ms: now + 120_000
                },
                "Retry-After beats a shorter step"
            );
            assert_eq!(
                next_step(&p, 2, &ra, now, 0.0),
                Step::RetryAt {
                    not_before_ms: now + 300_000
                },
                "the step beats a shorter Retry-After"
            );
            assert_eq!(
                next_step(&p, 1, &ra, now, 0.5),
                Step::RetryAt {
                    not_before_ms: now + 126_000
                },
                "jitter is added to the longer of the two"
            );
            assert_eq!(next_step(&p, 8, &ra, now, 0.0), Step::Failed);
            let year = AttemptResult::Response {
                status,
                retry_after: Some("31536000"),
            };
            assert_eq!(
                next_step(&p, 1, &year, now, 0.0),
                Step::RetryAt {
                    not_before_ms: now + 24 * 3600 * 1000
                },
                "capped at 24 h"
            );
        }
    }

    #[test]
    fn retry_after_reads_delta_seconds_and_http_dates() {
        // 1994-11-06T08:49:37Z
        let then = 784_111_777_000;
        let now = then - 90_000;
        for raw in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            " Sun, 06 Nov 1994 08:49:37 GMT ",
            "90",
            "090",
        ] {
            assert_eq!(parse_retry_after(raw, now), Some(secs(90)), "{raw}");
        }
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", then + 1000),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(
            parse_retry_after("Mon, 07 Nov 1994 18:49:37 GMT", now),
            Some(MAX_DELAY),
            "capped at 24 h"
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999999", now),
            Some(MAX_DELAY)
        );
    }

    #[test]
    fn an_rfc_850_year_is_never_more_than_fifty_years_ahead() {
        // Read in 2025, "75" is 2075 (50 years ahead) but "76" is 1976.
        let now = 1_735_689_600_000; // 2025-01-01T00:00:00Z
        let in_2075 = parse_retry_after("Tuesday, 01-Jan-75 00:00:00 GMT", now);
        assert_eq!(in_2075, Some(MAX_DELAY));
        let in_1976 = parse_retry_after("Thursday, 01-Jan-76 00:00:00 GMT", now);
        assert_eq!(in_1976, Some(Duration::ZERO));
    }

    #[test]
    fn unreadable_retry_after_is_ignored() {
        let now = 1_700_000_000_000;
        for raw in [
            "",
            "  ",
            "-5",
            "1.5",
            "+30",
            "soon",
            "30s",
            "Sun, 06 Nov 1994 08:49:37",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 32 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT trailing",
            "Sunday, 06-Nov-94 08:49:37 GMTx",
            "\u{0}",
            "١٢٠",
        ] {
            assert_eq!(parse_retry_after(raw, now), None, "{raw:?}");
            let r = AttemptResult::Response {
                status: 429,
                retry_after: Some(raw),
            };
            assert_eq!(
                next_step(&RetryPolicy::default(), 1, &r, now, 0.0),
                Step::RetryAt {
                    not_before_ms: now + 5000
                }
            );
        }
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", i64::MIN),
            Some(MAX_DELAY)
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", i64::MAX),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn attempt_errors_have_their_codes() {
        assert_eq!(AttemptResult::Timeout.error_code(), Some("timeout"));
        assert_eq!(
            AttemptResult::ConnectError.error_code(),
            Some("connection_failed")
        );
        assert_eq!(
            AttemptResult::AddressNotAllowed.error_code(),
            Some("address_not_allowed")
        );
        assert_eq!(
            AttemptResult::InvalidResponse.error_code(),
            Some("invalid_response")
        );
        assert_eq!(response(500).error_code(), None);
    }

    // Parsing policies

    #[test]
    fn retry_policies_parse_with_defaults_and_round_trip() {
        assert_eq!(RetryPolicy::parse(&Value::Null), Ok(RetryPolicy::default()));
        assert_eq!(RetryPolicy::parse(&json!({})), Ok(RetryPolicy::default()));
        let p = RetryPolicy::parse(&json!({
            "strategy": "exponential", "max_attempts": 12, "base_delay": "30s", "max_delay": "2h"
        }))
        .unwrap();
        assert_eq!(p, policy(Strategy::Exponential, 12, 30, 2 * H));
        assert_eq!(
            p.to_json(),
            json!({"strategy": "exponential", "max_attempts": 12, "base_delay": "30s",
                   "max_delay": "2h"})
        );
        let defaults = RetryPolicy::parse(&json!({"strategy": "linear"})).unwrap();
        assert_eq!(defaults, policy(Strategy::Linear, 8, 5, 10 * H));
        let long_base = RetryPolicy::parse(&json!({"strategy": "fixed", "base_delay": "12h"}));
        assert_eq!(long_base, Ok(policy(Strategy::Fixed, 8, 12 * H, 12 * H)));
        let short_max = RetryPolicy::parse(&json!({"strategy": "linear", "max_delay": "2s"}));
        assert_eq!(short_max, Ok(policy(Strategy::Linear, 8, 2, 2)));
        let standard = RetryPolicy::default().to_json();
        assert_eq!(
            standard,
            json!({"strategy": "standard", "max_attempts": 8, "base_delay": null,
                   "max_delay": null})
        );
        for p in [RetryPolicy::default(), p, defaults] {
            assert_eq!(RetryPolicy::parse(&p.to_json()), Ok(p));
            let text = serde_json::to_string(&p).unwrap();
            assert_eq!(serde_json::from_str::<RetryPolicy>(&text).unwrap(), p);
        }
        let combo = RetryPolicy::parse(&json!({"strategy": "fixed", "base_delay": "1h30m"}));
        assert_eq!(combo.unwrap().base_delay, secs(90 * M));
    }

    #[test]
    fn retry_policy_problems_are_all_reported_at_once() {
        let v = RetryPolicy::parse(&json!({
            "strategy": "exponential", "max_attempts": 0, "base_delay": "500ms",
            "max_delay": "25h", "jitter": true
        }))
        .unwrap_err();
        assert_eq!(
            fields(&v),
            [
                "retry.jitter",
                "retry.max_attempts",
                "retry.base_delay",
                "retry.max_delay"
            ]
        );
        let v = RetryPolicy::parse(&json!({
            "strategy": "random", "max_attempts": "5", "base_delay": 30, "max_delay": "soon"
        }))
        .unwrap_err();
        assert_eq!(
            fields(&v),
            [
                "retry.strategy",
                "retry.max_attempts",
                "retry.base_delay",
                "retry.max_delay"
            ]
        );
        let v = RetryPolicy::parse(&json!({"base_delay": "5s", "max_delay": "1h"})).unwrap_err();
        assert_eq!(fields(&v), ["retry.base_delay", "retry.max_delay"]);
        assert!(v[0].message.contains("standard"), "{v:?}");
        let v = RetryPolicy::parse(&json!({"strategy": "linear", "base_delay": "2h",
                                           "max_delay": "1h"}))
        .unwrap_err();
        assert_eq!(fields(&v), ["retry.max_delay"]);
        assert!(v[0].message.contains("2h"), "{v:?}");
        for bad in [
            json!({"max_attempts": 51}),
            json!({"max_attempts": -1}),
            json!({"max_attempts": 2.5}),
            json!({"max_attempts": 4294967297u64}),
            json!({"strategy": 1}),
            json!({"strategy": "Standard"}),
        ] {
            assert!(RetryPolicy::parse(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            fields(&RetryPolicy::parse(&json!("standard")).unwrap_err()),
            ["retry"]
        );
        assert!(serde_json::from_str::<RetryPolicy>(r#"{"max_attempts": 0}"#).is_err());
        let edges = json!({"strategy": "fixed", "max_attempts": 50, "base_delay": "1s",
                           "max_delay": "24h"});
        assert_eq!(
            RetryPolicy::parse(&edges),
            Ok(policy(Strategy::Fixed, 50, 1, 24 * H))
        );
    }

    #[test]
    fn durations_take_the_same_forms_as_the_options() {
        for (raw, d) in [
            ("90d", secs(90 * 24 * H)),
            ("24h", secs(24 * H)),
            ("5m", secs(5 * M)),
            ("3s", secs(3)),
            ("1h30m", secs(90 * M)),
            ("250ms", Duration::from_millis(250)),
            ("2w", secs(14 * 24 * H)),
            ("0", Duration::ZERO),
        ] {
            assert_eq!(parse_duration(raw), Some(d), "{raw}");
        }
        for bad in [
            "",
            "d",
            "5",
            "5x",
            "-1s",
            "1.5h",
            "s5",
            "5 s",
            "99999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        for shown in [
            "60s", "15s", "90s", "2m", "5m", "2h", "24h", "1500ms", "0ms",
        ] {
            assert_eq!(
                format_duration(parse_duration(shown).unwrap()),
                shown,
                "{shown}"
            );
        }
    }

    #[test]
    fn timeouts_default_to_fifteen_seconds_and_stay_within_a_minute() {
        assert_eq!(parse_timeout(&Value::Null), Ok(secs(15)));
        assert_eq!(parse_timeout(&json!("30s")), Ok(secs(30)));
        assert_eq!(parse_timeout(&json!("1m")), Ok(secs(60)));
        for bad in [
            json!("0"),
            json!("500ms"),
            json!("61s"),
            json!(15),
            json!("x"),
        ] {
            let v = parse_timeout(&bad).unwrap_err();
            assert_eq!(fields(&v), ["timeout"], "{bad}");
        }
    }

    #[test]
    fn circuit_settings_parse_with_defaults_and_report_every_problem() {
        assert_eq!(
            CircuitSettings::parse(&Value::Null),
            Ok(CircuitSettings::default())
        );
        let d = CircuitSettings::default().to_json();
        assert_eq!(d, json!({"failure_threshold": 5, "cooldown": "60s"}));
        assert_eq!(CircuitSettings::parse(&d), Ok(CircuitSettings::default()));
        let custom = CircuitSettings::parse(&json!({"failure_threshold": 3, "cooldown": "5m"}));
        assert_eq!(
            custom,
            Ok(CircuitSettings {
                failure_threshold: 3,
                cooldown: secs(5 * M)
            })
        );
        assert_eq!(
            CircuitSettings::parse(&json!({"cooldown": "2m"}))
                .unwrap()
                .failure_threshold,
            5
        );
        let v = CircuitSettings::parse(&json!({
            "failure_threshold": 0, "cooldown": "2h", "half_open": 1
        }))
        .unwrap_err();
        assert_eq!(
            fields(&v),
            [
                "circuit.half_open",
                "circuit.failure_threshold",
                "circuit.cooldown"
            ]
        );
        let v = CircuitSettings::parse(&json!({"failure_threshold": "5", "cooldown": 60}));
        assert_eq!(v.unwrap_err().len(), 2);
        assert_eq!(
            fields(&CircuitSettings::parse(&json!([5])).unwrap_err()),
            ["circuit"]
        );
        let text = serde_json::to_string(&CircuitSettings::default()).unwrap();
        assert_eq!(
            serde_json::from_str::<CircuitSettings>(&text).unwrap(),
            CircuitSettings::default()
        );
    }

    // Circuit breaker

    const LEASE: Duration = Duration::from_secs(30);

    fn fail(c: &mut Circuit, now: i64, s: &CircuitSettings) -> bool {
        c.record(Health::Bad, now, s)
    }

    #[test]
    fn the_threshold_of_failures_in_a_row_opens_the_circuit_for_the_cooldown() {
        let s = CircuitSettings::default();
        let mut c = Circuit::default();
        for i in 0..4 {
            assert!(!fail(&mut c, i, &s));
            assert_eq!(c.may_send(i), Permit::Send);
        }
        assert!(fail(&mut c, 1000, &s), "the fifth failure opens it");
        assert_eq!(c.state, CircuitState::Open { until_ms: 61_000 });
        assert_eq!(c.may_send(60_999), Permit::Wait { until_ms: 61_000 });
        assert_eq!(c.acquire(60_999, LEASE), Permit::Wait { until_ms: 61_000 });
        assert!(
            !fail(&mut c, 2000, &s),
            "a late failure neither reopens nor extends"
        );
        assert_eq!(c.state, CircuitState::Open { until_ms: 61_000 });
    }

    #[test]
    fn a_success_resets_the_count_of_failures_in_a_row() {
        let s = CircuitSettings::default();
        let mut c = Circuit::default();
        for i in 0..4 {
            fail(&mut c, i, &s);
        }
        c.record(Health::Good, 5, &s);
        assert_eq!(c, Circuit::default());
        for i in 0..4 {
            assert!(!fail(&mut c, i, &s));
        }
        assert_eq!(c.state, CircuitState::Closed);
    }

    #[test]
    fn after_the_cooldown_exactly_one_probe_goes_and_its_success_closes() {
        let s = CircuitSettings::default();
        let mut c = Circuit::default();
        for _ in 0..5 {
            fail(&mut c, 0, &s);
        }
        assert_eq!(c.may_send(60_000), Permit::Probe);
        assert_eq!(c.acquire(60_000, LEASE), Permit::Probe);
        assert_eq!(
            c.state,
            CircuitState::HalfOpen {
                probe_until_ms: 90_000
            }
        );
        assert_eq!(c.state.as_str(), "half_open");
        assert_eq!(
            c.acquire(60_001, LEASE),
            Permit::Wait { until_ms: 90_000 },
            "only one probe in flight"
        );
        assert!(!c.record(Health::Good, 61_000, &s));
        assert_eq!(c, Circuit::default());
        assert_eq!(c.acquire(61_000, LEASE), Permit::Send);
    }

    #[test]
    fn a_failed_probe_reopens_with_the_cooldown_doubled_up_to_an_hour() {
        let s = CircuitSettings::default();
        let mut c = Circuit::default();
        for _ in 0..5 {
            fail(&mut c, 0, &s);
        }
        let mut now = 0;
        let mut cooldowns = Vec::new();
        for _ in 0..9 {
            let CircuitState::Open { until_ms } = c.state else {
                panic!("expected open: {c:?}");
            };
            cooldowns.push((until_ms - now) / 1000);
            now = until_ms;
            assert_eq!(c.acquire(now, LEASE), Permit::Probe);
            assert!(fail(&mut c, now, &s), "a failed probe re-opens: alert");
        }
        assert_eq!(cooldowns, [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        c.record(Health::Good, now, &s);
        for _ in 0..5 {
            fail(&mut c, now, &s);
        }
        assert_eq!(
            c.state,
            CircuitState::Open {
                until_ms: now + 60_000
            },
            "closing resets the doubling"
        );
    }

    #[test]
    fn a_lost_probe_is_replaced_after_its_lease() {
        let s = CircuitSettings {
            failure_threshold: 1,
            cooldown: secs(10),
        };
        let mut c = Circuit::default();
        assert!(fail(&mut c, 0, &s), "a threshold of one opens at once");
        assert_eq!(c.acquire(10_000, LEASE), Permit::Probe);
        assert_eq!(c.acquire(39_999, LEASE), Permit::Wait { until_ms: 40_000 });
        assert_eq!(c.acquire(40_000, LEASE), Permit::Probe);
    }

    #[test]
    fn a_neutral_result_frees_the_probe_and_leaves_the_counters() {
        let s = CircuitSettings::default();
        let mut c = Circuit::default();
        for _ in 0..3 {
            fail(&mut c, 0, &s);
        }
        assert!(!c.record(Health::Neutral, 1, &s));
        assert_eq!(c.consecutive_failures, 3);
        assert_eq!(c.state, CircuitState::Closed);
        for _ in 0..2 {
            fail(&mut c, 0, &s);
        }
        assert_eq!(c.acquire(60_000, LEASE), Permit::Probe);
        c.record(Health::Neutral, 61_000, &s);
        assert_eq!(
            c.acquire(61_000, LEASE),
            Permit::Probe,
            "the probe slot is free"
        );
        assert_eq!(c.reopen_count, 0);
    }

    #[test]
    fn circuit_states_round_trip_through_their_stored_parts() {
        for state in [
            CircuitState::Closed,
            CircuitState::Open { until_ms: 7 },
            CircuitState::HalfOpen { probe_until_ms: 9 },
        ] {
            assert_eq!(
                CircuitState::from_parts(state.as_str(), state.until_ms()),
                Some(state)
            );
        }
        assert_eq!(CircuitState::from_parts("open", None), None);
        assert_eq!(CircuitState::from_parts("ajar", Some(1)), None);
    }

    #[test]
    fn cooldowns_double_within_their_bounds_without_overflow() {
        let s = CircuitSettings {
            failure_threshold: 1,
            cooldown: secs(45 * M),
        };
        assert_eq!(s.cooldown_after(0), secs(45 * M));
        assert_eq!(s.cooldown_after(1), secs(H));
        assert_eq!(s.cooldown_after(u32::MAX), secs(H));
        let long = CircuitSettings {
            failure_threshold: 0,
            cooldown: secs(2 * H),
        };
        assert_eq!(
            long.cooldown_after(3),
            secs(2 * H),
            "never below the configured"
        );
        let mut c = Circuit {
            state: CircuitState::HalfOpen { probe_until_ms: 0 },
            consecutive_failures: u32::MAX,
            reopen_count: u32::MAX,
        };
        assert!(c.on_failure(i64::MAX, &long));
        assert_eq!(c.state, CircuitState::Open { until_ms: i64::MAX });
    }

    // Matching

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn absent_filters_match_everything() {
        assert!(matches(None, None, "stripe", "charge.succeeded"));
        assert!(matches(None, None, "orders", ""));
    }

    #[test]
    fn sources_match_exactly_and_topics_by_pattern() {
        let sources = list(&["orders", "stripe"]);
        let topics = list(&["order.*", "payment_intent.*"]);
        let m = |s, t| matches(Some(sources.as_slice()), Some(topics.as_slice()), s, t);
        assert!(m("orders", "order.created"));
        assert!(m("stripe", "payment_intent.succeeded"));
        assert!(!m("stripe", "charge.succeeded"));
        assert!(!m("github", "order.created"));
        assert!(!m("order", "order.created"));
        assert!(matches(
            Some(sources.as_slice()),
            None,
            "stripe",
            "anything"
        ));
        assert!(matches(
            None,
            Some(topics.as_slice()),
            "github",
            "order.updated"
        ));
    }

    #[test]
    fn wildcards_stand_for_any_run_of_characters() {
        for (pattern, topic) in [
            ("*", "order.created"),
            ("*", ""),
            ("order.*", "order.created"),
            ("order.*", "order.refund.created"),
            ("order.*", "order."),
            ("*.created", "order.created"),
            ("*.succeeded", "payment_intent.succeeded"),
            ("pull_request.*", "pull_request.opened"),
            ("orders/*", "orders/create"),
            ("a*b*c", "aXXbYYc"),
            ("a*b*c", "abc"),
            ("**", "x"),
            ("order.created", "order.created"),
        ] {
            assert!(topic_matches(pattern, topic), "{pattern} ~ {topic}");
        }
        for (pattern, topic) in [
            ("order.*", "order"),
            ("order.*", "orders.created"),
            ("order.*", "Order.created"),
            ("*.created", "order.updated"),
            ("a*b*c", "aXXbYY"),
            ("order.created", "order.created.v2"),
            ("order.created", "order.create"),
            ("", "x"),
        ] {
            assert!(!topic_matches(pattern, topic), "{pattern} !~ {topic}");
        }
        let long = "a".repeat(MAX_PATTERN_CHARS);
        assert!(!topic_matches(&"*a".repeat(64), &format!("{long}b")));
    }

    #[test]
    fn source_and_topic_lists_parse_trimmed_and_without_duplicates() {
        assert_eq!(parse_sources(&Value::Null), Ok(None));
        assert_eq!(parse_topics(&Value::Null), Ok(None));
        assert_eq!(
            parse_sources(&json!([" stripe ", "orders", "stripe"])),
            Ok(Some(list(&["stripe", "orders"])))
        );
        assert_eq!(
            parse_topics(&json!([
                "order.*",
                "orders/create",
                "Invoice Paid",
                "*",
                "order.*"
            ])),
            Ok(Some(list(&[
                "order.*",
                "orders/create",
                "Invoice Paid",
                "*"
            ])))
        );
    }

    #[test]
    fn list_problems_are_all_reported_at_once() {
        let v = parse_sources(&json!(["Stripe", 5, "", "ok", "a_b", "x".repeat(65)])).unwrap_err();
        assert_eq!(
            fields(&v),
            [
                "sources[0]",
                "sources[1]",
                "sources[2]",
                "sources[4]",
                "sources[5]"
            ]
        );
        let v =
            parse_topics(&json!(["ok.*", "bad\nline", null, "t".repeat(129), "  "])).unwrap_err();
        assert_eq!(
            fields(&v),
            ["topics[1]", "topics[2]", "topics[3]", "topics[4]"]
        );
        assert!(
            parse_topics(&json!(["é".repeat(128)])).is_ok(),
            "characters, not bytes"
        );
        for bad in [json!([]), json!("order.*"), json!({"a": 1})] {
            assert_eq!(
                fields(&parse_topics(&bad).unwrap_err()),
                ["topics"],
                "{bad}"
            );
        }
        let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        assert_eq!(fields(&parse_topics(&json!(many)).unwrap_err()), ["topics"]);
        let fifty: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
        assert_eq!(parse_sources(&json!(fifty)).unwrap().unwrap().len(), 50);
    }
}
