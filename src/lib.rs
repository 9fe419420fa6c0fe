//! hookgate: a self-hosted webhook gateway in one binary.
//!
//! Layers (see docs/architecture.md): `http`, `jobs` and `commands` call `app` (the use cases),
//! which decides with `domain` and persists through `store`.

pub mod app;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod data_dir;
pub mod domain;
pub mod emails;
pub mod error;
pub mod http;
pub mod jobs;
pub mod limits;
pub mod mailer;
pub mod metrics;
pub mod outbound;
pub mod passwords;
pub mod startup;
pub mod state;
pub mod store;
pub mod telemetry;
