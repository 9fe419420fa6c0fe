//! The records admins read: the audit log, the email outbox and the merchant directory.

use super::{
    AppResult, Error, Missing,
    paging::{Page, PageRequest},
};
use crate::{
    state::AppState,
    store::{
        accounts::{self, Merchant},
        audit::{self, AuditEntry},
        kyc::{self, Submission},
        orders::{self, Event, EventFilter, Order},
        outbox::{self, StoredEmail},
        secrets::{self, SecretRow},
    },
};

/// One page of the audit log, newest first.
pub async fn audit_log(state: &AppState, page: PageRequest) -> AppResult<Page<AuditEntry>> {
    let PageRequest { limit, cursor } = page;
    let items = state
        .store
        .read(move |c| audit::list(c, limit + 1, cursor, None))
        .await?;
    Ok(Page::from_overfetch(items, limit, |e| e.id.to_string()))
}

/// The names of the audit entries' targets (merchants, destinations, sources), by id.
pub async fn audit_target_names(
    state: &AppState,
    entries: &[AuditEntry],
) -> AppResult<std::collections::HashMap<String, String>> {
    let targets: Vec<String> = entries.iter().map(|e| e.target.clone()).collect();
    Ok(state
        .store
        .read(move |c| audit::target_names(c, &targets))
        .await?)
}

/// One page of the outbox, newest first, optionally to one address.
pub async fn outbox(
    state: &AppState,
    to: Option<String>,
    page: PageRequest,
) -> AppResult<Page<StoredEmail>> {
    let PageRequest { limit, cursor } = page;
    let to = to.filter(|t| !t.is_empty());
    let items = state
        .store
        .read(move |c| outbox::list(c, to.as_deref(), limit + 1, cursor))
        .await?;
    Ok(Page::from_overfetch(items, limit, |e| e.id.to_string()))
}

/// Merchants matching a search (name or email), at most `limit`.
pub async fn merchants(
    state: &AppState,
    search: Option<String>,
    limit: u32,
) -> AppResult<Vec<Merchant>> {
    let search = search.filter(|s| !s.is_empty());
    Ok(state
        .store
        .read(move |c| accounts::list(c, search.as_deref(), limit))
        .await?)
}

/// The one merchant `text` names: its id, its email, or (part of) its business name or email.
/// `Invalid` on `field` when none or several match.
pub async fn find_merchant(state: &AppState, text: &str, field: &str) -> AppResult<String> {
    let text = text.trim();
    if text.starts_with("mer_") {
        return Ok(text.to_string());
    }
    let found = merchants(state, Some(text.to_string()), 20).await?;
    let exact: Vec<&Merchant> = found
        .iter()
        .filter(|m| m.email.eq_ignore_ascii_case(text) || m.business_name == text)
        .collect();
    match (exact.as_slice(), found.as_slice()) {
        ([one], _) => Ok(one.id.clone()),
        ([], [one]) => Ok(one.id.clone()),
        (_, []) => {
            Err(crate::domain::Violation::new(field, "no merchant has this name or email").into())
        }
        _ => Err(crate::domain::Violation::new(
            field,
            "several merchants match: type more of the name, or the email",
        )
        .into()),
    }
}

/// Everything the pages show about one merchant: account, secrets, KYC history, and the newest
/// orders and events.
pub struct MerchantFile {
    pub merchant: Merchant,
    pub secrets: Vec<SecretRow>,
    /// Submissions, newest first.
    pub kyc: Vec<Submission>,
    pub recent_orders: Vec<Order>,
    pub recent_events: Vec<Event>,
    /// When the merchant's newest accepted webhook arrived (unix ms).
    pub last_accepted_ms: Option<i64>,
}

/// How many orders and events a merchant file shows.
const RECENT: u32 = 20;

/// One merchant's file, read in one transaction.
pub async fn merchant_file(state: &AppState, merchant_id: &str) -> AppResult<MerchantFile> {
    let id = merchant_id.to_string();
    state
        .store
        .read(move |c| {
            let Some(merchant) = accounts::get(c, &id)? else {
                return Ok(None);
            };
            let events_filter = EventFilter {
                merchant_id: Some(id.clone()),
                ..Default::default()
            };
            let accepted = EventFilter {
                outcome: Some("accepted".into()),
                ..events_filter.clone()
            };
            Ok(Some(MerchantFile {
                secrets: secrets::for_merchant(c, &id)?,
                kyc: kyc::history(c, &id)?,
                recent_orders: orders::list(c, &id, None, RECENT, None)?,
                recent_events: orders::list_events(c, &events_filter, RECENT)?,
                last_accepted_ms: orders::list_events(c, &accepted, 1)?
                    .first()
                    .map(|e| e.received_at_ms),
                merchant,
            }))
        })
        .await?
        .ok_or(Error::NotFound(Missing::Merchant))
}
