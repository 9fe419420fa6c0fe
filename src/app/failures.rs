//! Webhooks refused before authentication (bad signature, stale timestamp, unknown key id, ...),
//! kept so that a merchant can see why their requests fail and admins see every rejection.
//!
//! Anyone who knows or guesses a key id can cause these, so nothing here costs per request what
//! an attacker could repeat: a refusal is noted in memory (coalesced by merchant, reason and
//! client IP; at most `MAX_PENDING` distinct ones), and at most every `FLUSH_DELAY` the notes go
//! to the writer as one job, which rides the writer's next group commit with the other writes.
//! The table keeps the newest rows per merchant only (`store::failures`). Never a body; the
//! headers kept are the same non-secret ones an event keeps (never the signature).

use crate::{
    state::AppState,
    store::{
        self,
        failures::{Failure, FailureFilter, NewFailure},
    },
};
use std::{collections::HashMap, sync::Mutex, time::Duration};

use super::AppResult;

/// Distinct (merchant, reason, IP) notes held between two flushes; more are dropped (and counted).
const MAX_PENDING: usize = 1000;
/// How long notes gather before they are written: bounds the failure writes to a few a second.
const FLUSH_DELAY: Duration = Duration::from_millis(200);
/// Longest key id and webhook-id kept (they are whatever the sender put in the header).
const MAX_KEY_ID: usize = 64;
const MAX_WEBHOOK_ID: usize = 256;

type Key = (Option<String>, &'static str, String);

#[derive(Default)]
struct Pending {
    notes: HashMap<Key, NewFailure>,
    flush_queued: bool,
    dropped: u64,
}

/// Refusals noted and not yet written.
#[derive(Default)]
pub struct FailureLog {
    pending: Mutex<Pending>,
}

impl FailureLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add a note, coalescing repeats; whether a flush must be scheduled.
    fn add(&self, f: NewFailure) -> bool {
        let mut p = self.lock();
        let key = (f.merchant_id.clone(), f.reason, f.client_ip.clone());
        let full = p.notes.len() >= MAX_PENDING;
        match p.notes.get_mut(&key) {
            Some(seen) => {
                seen.count += f.count;
                seen.last_at_ms = seen.last_at_ms.max(f.last_at_ms);
                seen.webhook_id = f.webhook_id;
                seen.headers = f.headers;
                seen.key_id = f.key_id;
            }
            None if full => p.dropped += 1,
            None => {
                p.notes.insert(key, f);
            }
        }
        !std::mem::replace(&mut p.flush_queued, true)
    }

    /// Everything noted so far, and how many notes were dropped; the next note schedules a flush.
    fn take(&self) -> (Vec<NewFailure>, u64) {
        let mut p = self.lock();
        p.flush_queued = false;
        let notes = std::mem::take(&mut p.notes).into_values().collect();
        (notes, std::mem::take(&mut p.dropped))
    }
}

/// One refused request as the ingest path saw it.
pub struct Refused<'a> {
    pub merchant_id: Option<&'a str>,
    pub reason: &'static str,
    pub client_ip: String,
    pub key_id: Option<&'a str>,
    pub webhook_id: Option<&'a str>,
    /// JSON of the non-secret request headers.
    pub headers: &'a str,
}

fn bounded(s: Option<&str>, max: usize) -> String {
    s.unwrap_or_default().chars().take(max).collect()
}

/// Note a refused request; it is written with a writer group shortly after.
pub fn note(state: &AppState, r: Refused<'_>) {
    let now = state.now_ms();
    let schedule = state.failures.add(NewFailure {
        merchant_id: r.merchant_id.map(str::to_string),
        reason: r.reason,
        client_ip: r.client_ip,
        key_id: bounded(r.key_id, MAX_KEY_ID),
        webhook_id: bounded(r.webhook_id, MAX_WEBHOOK_ID),
        headers: r.headers.to_string(),
        count: 1,
        first_at_ms: now,
        last_at_ms: now,
    });
    if schedule {
        let state = state.clone();
        tokio::spawn(async move {
            tokio::time::sleep(FLUSH_DELAY).await;
            flush(&state).await;
        });
    }
}

/// Write what was noted, in one writer job. A failure to write is logged; the refusals were
/// answered either way.
async fn flush(state: &AppState) {
    let (notes, dropped) = state.failures.take();
    if dropped > 0 {
        tracing::warn!(
            dropped,
            "too many distinct refused webhooks at once; some were not recorded"
        );
    }
    if notes.is_empty() {
        return;
    }
    let written = state
        .store
        .write(move |c| store::failures::record(c, &notes))
        .await;
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not record refused webhooks");
    }
}

/// The failures matching `filter`, most recent first, at most `limit`.
pub async fn list(state: &AppState, filter: FailureFilter, limit: u32) -> AppResult<Vec<Failure>> {
    Ok(state
        .store
        .read(move |c| store::failures::list(c, &filter, limit))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(ip: &str, at: i64) -> NewFailure {
        NewFailure {
            merchant_id: Some("mer_1".into()),
            reason: "invalid_signature",
            client_ip: ip.into(),
            key_id: "hgk_1".into(),
            webhook_id: format!("msg_{at}"),
            headers: "{}".into(),
            count: 1,
            first_at_ms: at,
            last_at_ms: at,
        }
    }

    #[test]
    fn notes_coalesce_and_only_the_first_schedules_a_flush() {
        let log = FailureLog::default();
        assert!(log.add(note("10.0.0.1", 1)));
        assert!(!log.add(note("10.0.0.1", 2)));
        assert!(!log.add(note("10.0.0.2", 3)));
        let (mut notes, dropped) = log.take();
        notes.sort_by_key(|n| n.first_at_ms);
        assert_eq!(dropped, 0);
        assert_eq!(notes.len(), 2);
        assert_eq!((notes[0].count, notes[0].last_at_ms), (2, 2));
        assert_eq!(notes[0].webhook_id, "msg_2");
        assert!(
            log.add(note("10.0.0.1", 4)),
            "after a take, the next note flushes"
        );
    }

    #[test]
    fn distinct_notes_beyond_the_bound_are_dropped_and_counted() {
        let log = FailureLog::default();
        for i in 0..MAX_PENDING + 5 {
            log.add(note(&format!("ip{i}"), i as i64));
        }
        // Repeats of a kept note still count.
        log.add(note("ip0", 9_999));
        let (notes, dropped) = log.take();
        assert_eq!((notes.len(), dropped), (MAX_PENDING, 5));
        assert_eq!(
            notes.iter().map(|n| n.count).sum::<i64>(),
            MAX_PENDING as i64 + 1
        );
    }
}
