//! In-memory cache of what webhook verification needs per key id: the merchant, its KYC state and
//! its opened secrets. Any committed change to KYC or secrets bumps the generation, so a
//! revocation or rotation is seen by the very next request.

use super::{AppResult, Error};
use crate::{
    domain::{KycStatus, WebhookSecret, secret::SecretTimes},
    state::AppState,
    store,
};
use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

/// Secrets of a merchant kept for verification (newest first; revoked ones too, so that a
/// refused merchant's correctly signed webhook can be told apart from a forgery).
const MAX_SECRETS: usize = 8;
/// Entries kept before the cache is cleared (bounds memory under key-id spraying).
const MAX_ENTRIES: usize = 100_000;

/// One opened secret.
pub struct OpenedSecret {
    pub id: String,
    pub times: SecretTimes,
    pub key: Vec<u8>,
}

/// What verification needs to know about a key id.
pub struct MerchantKeys {
    pub merchant_id: String,
    pub merchant_email: String,
    pub business_name: String,
    pub kyc_status: KycStatus,
    pub secrets: Vec<OpenedSecret>,
}

type Entry = (u64, Option<Arc<MerchantKeys>>);

/// The cache.
#[derive(Default)]
pub struct KeyCache {
    generation: AtomicU64,
    entries: RwLock<HashMap<String, Entry>>,
}

impl KeyCache {
    /// Forget everything cached: called (only by `app`) after committing any change to KYC
    /// state or secrets.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The merchant behind `key_id` with its opened secrets, or None for an unknown key id.
    pub async fn lookup(
        &self,
        state: &AppState,
        key_id: &str,
    ) -> AppResult<Option<Arc<MerchantKeys>>> {
        // Read the generation before loading, so a change committed meanwhile invalidates us.
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((g, entry)) = self
            .entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key_id)
            && *g == generation
        {
            return Ok(entry.clone());
        }
        let kid = key_id.to_string();
        let loaded = state
            .store
            .read(move |c| {
                let Some(m) = store::accounts::find_by_key_id(c, &kid)? else {
                    return Ok(None);
                };
                let secrets = store::secrets::for_merchant(c, &m.id)?;
                Ok(Some((m, secrets)))
            })
            .await?;
        let entry = match loaded {
            None => None,
            Some((m, rows)) => {
                let mut secrets = Vec::new();
                for row in rows.iter().take(MAX_SECRETS) {
                    let exposed = super::secrets::open(state, row)?;
                    let key = WebhookSecret::parse(&exposed).map_err(|_| Error::Internal)?;
                    secrets.push(OpenedSecret {
                        id: row.id.clone(),
                        times: row.times,
                        key: key.key().to_vec(),
                    });
                }
                Some(Arc::new(MerchantKeys {
                    merchant_id: m.id,
                    merchant_email: m.email,
                    business_name: m.business_name,
                    kyc_status: m.kyc_status,
                    secrets,
                }))
            }
        };
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key_id.to_string(), (generation, entry.clone()));
        Ok(entry)
    }
}
