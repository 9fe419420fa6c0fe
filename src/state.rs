//! The application state every use case runs over: configuration, storage, keys, time, limits
//! and counters. Built once by `startup`, cloned cheaply into every handler and job.

use crate::{
    app::{
        destinations::Routes, failures::FailureLog, health::Readiness, keys::KeyCache,
        source_ingest::SourceCache,
    },
    clock::Clock,
    config::Config,
    crypto::Crypto,
    limits::Limits,
    metrics::Metrics,
    passwords::Passwords,
    store::Store,
};
use std::sync::Arc;

/// Shared state of the application.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub crypto: Arc<Crypto>,
    pub clock: Arc<dyn Clock>,
    pub keys: Arc<KeyCache>,
    pub limits: Arc<Limits>,
    pub metrics: Arc<Metrics>,
    pub readiness: Arc<Readiness>,
    pub passwords: Arc<Passwords>,
    pub sources: Arc<SourceCache>,
    pub routes: Arc<Routes>,
    /// Wakes the delivery worker: an event queued deliveries, or an attempt finished.
    pub delivery_wake: Arc<tokio::sync::Notify>,
    /// Webhooks refused before authentication, waiting to be written.
    pub failures: Arc<FailureLog>,
}

impl AppState {
    /// State over an opened store and master key.
    pub fn new(config: Config, store: Store, crypto: Arc<Crypto>, clock: Arc<dyn Clock>) -> Self {
        AppState {
            limits: Arc::new(Limits::new(&config)),
            config: Arc::new(config),
            store,
            crypto,
            clock,
            keys: Arc::new(KeyCache::default()),
            metrics: Arc::new(Metrics::default()),
            readiness: Arc::new(Readiness::default()),
            passwords: Arc::new(Passwords::for_this_machine()),
            sources: Arc::new(SourceCache::default()),
            routes: Arc::new(Routes::default()),
            delivery_wake: Arc::new(tokio::sync::Notify::new()),
            failures: Arc::new(FailureLog::default()),
        }
    }

    /// Current unix time in seconds, from the state's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Current unix time in milliseconds, from the state's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
}
