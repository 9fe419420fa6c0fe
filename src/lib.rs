//! hookgate: a self-hosted webhook gateway in one binary.

pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod emails;
pub mod error;
pub mod http;
pub mod jobs;
pub mod mailer;
pub mod metrics;
pub mod startup;
pub mod store;
pub mod telemetry;
