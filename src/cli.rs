//! Command-line definitions. Every global option is also an environment variable
//! (`HOOKGATE_<NAME>`) and a key of the optional TOML file; see `config.rs` for the layering.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// hookgate: a self-hosted webhook gateway.
#[derive(Debug, Parser)]
#[command(name = "hookgate", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub options: GlobalOptions,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options shared by every command. `None` means "not given here", so that the TOML file and the
/// built-in defaults can fill in.
#[derive(Debug, Default, Clone, Args)]
pub struct GlobalOptions {
    /// TOML file with any of the options below (keys with underscores, e.g. secret_ttl = "30d")
    #[arg(long, env = "HOOKGATE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Directory holding the database and the master key
    #[arg(long, env = "HOOKGATE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Listen address
    #[arg(long, env = "HOOKGATE_BIND", global = true)]
    pub bind: Option<String>,
    /// Base URL used in emails and snippets; https:// enables Secure cookies and HSTS
    #[arg(long, env = "HOOKGATE_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Lifetime of a webhook signing secret (e.g. 90d)
    #[arg(long, env = "HOOKGATE_SECRET_TTL", global = true)]
    pub secret_ttl: Option<String>,
    /// How long a superseded secret keeps verifying after a manual rotation
    #[arg(long, env = "HOOKGATE_SECRET_GRACE", global = true)]
    pub secret_grace: Option<String>,
    /// Issue the successor secret this long before the current one expires
    #[arg(long, env = "HOOKGATE_ROTATE_BEFORE", global = true)]
    pub rotate_before: Option<String>,
    /// Accepted clock skew of webhook-timestamp, past and future
    #[arg(long, env = "HOOKGATE_TIMESTAMP_TOLERANCE", global = true)]
    pub timestamp_tolerance: Option<String>,
    /// Largest accepted webhook body (e.g. 1MiB)
    #[arg(long, env = "HOOKGATE_MAX_BODY", global = true)]
    pub max_body: Option<String>,
    /// Per-merchant accepted-webhook rate (e.g. 100/s)
    #[arg(long, env = "HOOKGATE_MERCHANT_RATE", global = true)]
    pub merchant_rate: Option<String>,
    /// Per-client-IP rate for unauthenticated or failing requests (e.g. 50/s)
    #[arg(long, env = "HOOKGATE_IP_RATE", global = true)]
    pub ip_rate: Option<String>,
    /// How long events and their bodies are kept
    #[arg(long, env = "HOOKGATE_RETENTION", global = true)]
    pub retention: Option<String>,
    /// smtp://user:pass@host:port (STARTTLS required), smtps:// (TLS, port 465) or
    /// smtp+plain:// (no TLS); unset = emails stay in the outbox
    #[arg(long, env = "HOOKGATE_SMTP_URL", global = true)]
    pub smtp_url: Option<String>,
    /// PEM file of CA certificates the mailer trusts besides the public roots (a private CA)
    #[arg(long, env = "HOOKGATE_SMTP_CA", global = true)]
    pub smtp_ca: Option<String>,
    /// Log format: text or json
    #[arg(long, env = "HOOKGATE_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// How often background jobs (rotation, outbox, retention) run
    #[arg(long, env = "HOOKGATE_JOBS_INTERVAL", global = true)]
    pub jobs_interval: Option<String>,
    /// How long a request's body may take to arrive, plus one second per 64 KiB it declares
    #[arg(long, env = "HOOKGATE_BODY_TIMEOUT", global = true)]
    pub body_timeout: Option<String>,
    /// Reverse proxies whose X-Forwarded-For / Forwarded headers name the client: IP addresses
    /// or CIDRs, comma-separated (e.g. 127.0.0.1,::1); empty = the TCP peer is the client
    #[arg(long, env = "HOOKGATE_TRUSTED_PROXY", global = true)]
    pub trusted_proxy: Option<String>,
    /// Networks deliveries may reach although private or loopback: CIDRs, comma-separated
    /// (e.g. 127.0.0.1/32 for an app on the same host)
    #[arg(long, env = "HOOKGATE_DESTINATION_ALLOW", global = true)]
    pub destination_allow: Option<String>,
    /// Delivery attempts in flight at once, over all destinations (at most 8 per destination)
    #[arg(long, env = "HOOKGATE_DELIVERY_CONCURRENCY", global = true)]
    pub delivery_concurrency: Option<String>,
    /// Email shoppers about their orders (confirmation, status changes): on or off; off stops
    /// them for every merchant, whatever the merchant's own setting
    #[arg(long, env = "HOOKGATE_ORDER_EMAILS", global = true)]
    pub order_emails: Option<String>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default)
    Serve,
    /// Manage administrators
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Validate configuration, data dir, schema and integrity
    Check,
    /// Write a consistent online copy of the database
    Backup {
        /// Destination file (not in the data dir, not a directory), or - for standard output
        #[arg(long)]
        out: PathBuf,
        /// Replace the destination file if it exists
        #[arg(long)]
        force: bool,
    },
    /// Check the email settings
    #[command(subcommand)]
    Email(EmailCommand),
    /// Sign a body read from stdin; print the three Standard Webhooks headers
    Sign {
        /// The signing secret (whsec_...)
        #[arg(long)]
        secret: String,
        /// webhook-id (random when omitted)
        #[arg(long)]
        id: Option<String>,
        /// webhook-timestamp in unix seconds (now when omitted)
        #[arg(long)]
        timestamp: Option<i64>,
    },
}

/// `hookgate admin ...`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from stdin instead of prompting
        #[arg(long)]
        password_stdin: bool,
    },
    /// Mint an admin API token and print it once
    Token {
        #[arg(long)]
        email: String,
        /// A name to recognise the token by in listings (default: cli)
        #[arg(long)]
        name: Option<String>,
        /// Lifetime, e.g. 90d (default: never expires)
        #[arg(long)]
        expires: Option<String>,
    },
    /// List admin API tokens (of one admin with --email), or revoke one
    #[command(args_conflicts_with_subcommands = true)]
    Tokens {
        /// Only this admin's tokens
        #[arg(long)]
        email: Option<String>,
        #[command(subcommand)]
        action: Option<TokensCommand>,
    },
    /// Set an administrator's password; ends every session of that admin
    Password {
        #[arg(long)]
        email: String,
        /// Read the password from stdin instead of prompting
        #[arg(long)]
        password_stdin: bool,
    },
    /// List administrators
    List,
}

/// `hookgate admin tokens ...`
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Revoke a token by its id (tok_..., from the listing); it answers 401 from then on
    Revoke { id: String },
}

/// `hookgate email ...`
#[derive(Debug, Subcommand)]
pub enum EmailCommand {
    /// Send one message through --smtp-url now and print the server's answer
    Test {
        /// Recipient address
        #[arg(long)]
        to: String,
    },
}
