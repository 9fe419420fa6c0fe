//! Integration tests: the real server on port 0 with a temp data dir, driven over HTTP, and the
//! real binary for the CLI commands.

mod access;
mod accounts;
mod admin;
mod browser;
mod browser_accounts;
mod browser_debug;
mod browser_forms;
mod browser_phone;
mod cli;
mod debugging;
mod deliveries;
mod delivery_health;
mod email;
mod escaping;
mod exports;
mod hardening;
mod helpers;
mod kyc;
mod kyc_form;
mod logging;
mod metrics_exposition;
mod observability;
mod openapi;
mod order_emails;
mod orders;
mod packaging;
mod pages;
mod proxy;
mod recovery;
mod secrets;
mod sources;
mod webdriver;
mod webhooks;
