//! Configuration as a plain value: flags > environment > TOML file > defaults.

mod parse;

pub use parse::{format_duration, parse_duration, parse_rate, parse_size, parse_smtp_url};
pub use rustls::pki_types::CertificateDer;

use crate::{
    cli::GlobalOptions,
    domain::net::{IpNet, parse_nets},
};
use parse::{
    parse_bind, parse_log_format, parse_positive_duration, parse_public_url, read_smtp_ca,
};
use serde::{Deserialize, Deserializer};
use std::{fmt, net::SocketAddr, num::NonZeroU32, path::PathBuf, time::Duration};

/// Fully resolved configuration of one process.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// Where `data_dir` came from, so that "no data here" can say where it looked and why.
    pub data_dir_from: DataDirFrom,
    pub bind: SocketAddr,
    pub public_url: String,
    pub secret_ttl: Duration,
    pub secret_grace: Duration,
    pub rotate_before: Duration,
    pub timestamp_tolerance: Duration,
    pub max_body: usize,
    pub merchant_rate: Rate,
    pub ip_rate: Rate,
    pub retention: Duration,
    pub smtp_url: Option<SmtpUrl>,
    /// Certificates the mailer trusts besides the webpki roots (`--smtp-ca`); empty = none.
    pub smtp_ca: Vec<CertificateDer<'static>>,
    pub log_format: LogFormat,
    pub jobs_interval: Duration,
    /// Time allowed for a request body to arrive (`--body-timeout`), before the allowance for
    /// its declared size.
    pub body_timeout: Duration,
    /// Peers whose forwarding headers are believed (`--trusted-proxy`); empty = none.
    pub trusted_proxies: Vec<IpNet>,
    /// Networks deliveries may reach although private or loopback (`--destination-allow`).
    pub destination_allow: Vec<IpNet>,
    /// Delivery attempts in flight at once (`--delivery-concurrency`).
    pub delivery_concurrency: usize,
    /// Whether accepted orders may email their shoppers at all (`--order-emails`); each
    /// merchant can also turn them off for their own orders.
    pub order_emails: bool,
}

/// The origin of the data dir setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataDirFrom {
    /// `--data-dir` on the command line.
    Flag,
    /// The `HOOKGATE_DATA_DIR` environment variable.
    Env,
    /// `data_dir` in this `--config` file.
    File(PathBuf),
    /// Nothing was given: the platform's data dir for "hookgate".
    Default,
}

impl fmt::Display for DataDirFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataDirFrom::Flag => f.write_str("given with --data-dir"),
            DataDirFrom::Env => f.write_str("from HOOKGATE_DATA_DIR"),
            DataDirFrom::File(path) => write!(f, "data_dir in {}", path.display()),
            DataDirFrom::Default => f.write_str(
                "the default: neither --data-dir, HOOKGATE_DATA_DIR nor data_dir in a --config file is set",
            ),
        }
    }
}

/// A rate such as `100/s`: `count` per `per`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Duration,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Parsed `smtp://user:pass@host:port` (or `smtps://`, `smtp+plain://`).
#[derive(Clone, PartialEq)]
pub struct SmtpUrl {
    pub security: SmtpSecurity,
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl fmt::Debug for SmtpUrl {
    // Never print the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}:{}",
            self.security.scheme(),
            self.host,
            self.port
        )
    }
}

impl SmtpUrl {
    /// Whether the host is this machine by name or loopback address, where mail never crosses
    /// a network and plain SMTP is acceptable. Decided on the literal host, never on what a
    /// name resolves to, so DNS cannot turn TLS off.
    pub fn is_local(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// How the mailer protects its connection, from the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtp://`: STARTTLS required; to a local host, used when offered.
    StartTls,
    /// `smtps://`: TLS from the first byte (port 465).
    Tls,
    /// `smtp+plain://`: never TLS, chosen explicitly.
    Plain,
}

impl SmtpSecurity {
    /// The URL scheme that selects this.
    pub fn scheme(self) -> &'static str {
        match self {
            SmtpSecurity::StartTls => "smtp",
            SmtpSecurity::Tls => "smtps",
            SmtpSecurity::Plain => "smtp+plain",
        }
    }
}

/// A configuration problem, naming the option at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub option: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env = format!("HOOKGATE_{}", self.option.to_uppercase().replace('-', "_"));
        write!(f, "--{} ({env}): {}", self.option, self.message)
    }
}

/// The TOML file: same names as the flags, with underscores.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOptions {
    data_dir: Option<PathBuf>,
    bind: Option<String>,
    public_url: Option<String>,
    secret_ttl: Option<String>,
    secret_grace: Option<String>,
    rotate_before: Option<String>,
    timestamp_tolerance: Option<String>,
    max_body: Option<String>,
    merchant_rate: Option<String>,
    ip_rate: Option<String>,
    retention: Option<String>,
    smtp_url: Option<String>,
    smtp_ca: Option<String>,
    log_format: Option<String>,
    jobs_interval: Option<String>,
    body_timeout: Option<String>,
    /// A string like the flag's, or an array of strings.
    #[serde(default, deserialize_with = "string_or_list")]
    trusted_proxy: Option<String>,
    #[serde(default, deserialize_with = "string_or_list")]
    destination_allow: Option<String>,
    delivery_concurrency: Option<String>,
    order_emails: Option<String>,
}

/// A TOML value that is a string or an array of strings, the latter joined with commas.
fn string_or_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged, expecting = "a string or an array of strings")]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(Option::<OneOrMany>::deserialize(d)?.map(|v| match v {
        OneOrMany::One(s) => s,
        OneOrMany::Many(items) => items.join(","),
    }))
}

impl Config {
    /// Resolve options; returns every problem found, not just the first.
    pub fn resolve(opts: &GlobalOptions) -> Result<Config, Vec<ConfigError>> {
        let file = match &opts.config {
            None => FileOptions::default(),
            Some(path) => match load_file(path) {
                Ok(f) => f,
                Err(e) => return Err(vec![e]),
            },
        };
        let mut errors = Vec::new();
        macro_rules! pick {
            ($name:ident, $flag:literal, $default:expr, $parse:expr) => {{
                let raw: Option<String> = opts.$name.clone().or(file.$name.clone());
                let raw = raw.unwrap_or_else(|| String::from($default));
                match $parse(raw.trim()) {
                    Ok(v) => Some(v),
                    Err(message) => {
                        errors.push(ConfigError {
                            option: $flag,
                            message,
                        });
                        None
                    }
                }
            }};
        }
        let bind = pick!(bind, "bind", "127.0.0.1:8080", parse_bind);
        let secret_ttl = pick!(secret_ttl, "secret-ttl", "90d", parse_positive_duration);
        let secret_grace = pick!(secret_grace, "secret-grace", "24h", parse_duration);
        let rotate_before = pick!(rotate_before, "rotate-before", "14d", parse_duration);
        let timestamp_tolerance = pick!(
            timestamp_tolerance,
            "timestamp-tolerance",
            "5m",
            parse_positive_duration
        );
        let max_body = pick!(max_body, "max-body", "1MiB", parse_size);
        let merchant_rate = pick!(merchant_rate, "merchant-rate", "100/s", parse_rate);
        let ip_rate = pick!(ip_rate, "ip-rate", "50/s", parse_rate);
        let retention = pick!(retention, "retention", "30d", parse_positive_duration);
        let log_format = pick!(log_format, "log-format", "text", parse_log_format);
        let jobs_interval = pick!(
            jobs_interval,
            "jobs-interval",
            "30s",
            parse_positive_duration
        );
        let body_timeout = pick!(body_timeout, "body-timeout", "10s", parse_positive_duration);
        let trusted_proxies = pick!(trusted_proxy, "trusted-proxy", "", parse_nets);
        let destination_allow = pick!(destination_allow, "destination-allow", "", parse_nets);
        let delivery_concurrency = pick!(
            delivery_concurrency,
            "delivery-concurrency",
            "64",
            parse_concurrency
        );
        let order_emails = pick!(order_emails, "order-emails", "on", parse_on_off);
        let smtp_ca = pick!(smtp_ca, "smtp-ca", "", read_smtp_ca);
        let smtp_url = match opts.smtp_url.clone().or(file.smtp_url.clone()) {
            None => Some(None),
            Some(raw) => match parse_smtp_url(raw.trim()) {
                Ok(v) => Some(Some(v)),
                Err(message) => {
                    errors.push(ConfigError {
                        option: "smtp-url",
                        message,
                    });
                    None
                }
            },
        };
        // clap merges the flag and the variable; the same value in the variable means it came
        // from there (or from both, which says the same).
        let data_dir_from = match (&opts.data_dir, &file.data_dir, &opts.config) {
            (Some(dir), _, _)
                if std::env::var_os("HOOKGATE_DATA_DIR").is_some_and(|v| *dir == v) =>
            {
                DataDirFrom::Env
            }
            (Some(_), _, _) => DataDirFrom::Flag,
            (None, Some(_), Some(path)) => DataDirFrom::File(path.clone()),
            _ => DataDirFrom::Default,
        };
        let data_dir = match opts.data_dir.clone().or(file.data_dir.clone()) {
            Some(dir) => Some(dir),
            None => match default_data_dir() {
                Some(dir) => Some(dir),
                None => {
                    errors.push(ConfigError {
                        option: "data-dir",
                        message: "no default data directory on this platform (is HOME set?); \
                                  give one explicitly"
                            .into(),
                    });
                    None
                }
            },
        };
        let public_url = match (opts.public_url.clone().or(file.public_url.clone()), bind) {
            (Some(url), _) => match parse_public_url(url.trim()) {
                Ok(u) => Some(u),
                Err(message) => {
                    errors.push(ConfigError {
                        option: "public-url",
                        message,
                    });
                    None
                }
            },
            (None, Some(addr)) => Some(format!("http://{addr}")),
            (None, None) => None,
        };
        if let (Some(ttl), Some(before)) = (secret_ttl, rotate_before)
            && before >= ttl
        {
            errors.push(ConfigError {
                option: "rotate-before",
                message: format!(
                    "must be shorter than --secret-ttl ({}), or secrets would rotate forever",
                    format_duration(ttl)
                ),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Every field is Some when no error was recorded.
        let missing = |option| {
            vec![ConfigError {
                option,
                message: "missing".into(),
            }]
        };
        Ok(Config {
            data_dir: data_dir.ok_or_else(|| missing("data-dir"))?,
            data_dir_from,
            bind: bind.ok_or_else(|| missing("bind"))?,
            public_url: public_url.ok_or_else(|| missing("public-url"))?,
            secret_ttl: secret_ttl.ok_or_else(|| missing("secret-ttl"))?,
            secret_grace: secret_grace.ok_or_else(|| missing("secret-grace"))?,
            rotate_before: rotate_before.ok_or_else(|| missing("rotate-before"))?,
            timestamp_tolerance: timestamp_tolerance
                .ok_or_else(|| missing("timestamp-tolerance"))?,
            max_body: max_body.ok_or_else(|| missing("max-body"))?,
            merchant_rate: merchant_rate.ok_or_else(|| missing("merchant-rate"))?,
            ip_rate: ip_rate.ok_or_else(|| missing("ip-rate"))?,
            retention: retention.ok_or_else(|| missing("retention"))?,
            smtp_url: smtp_url.ok_or_else(|| missing("smtp-url"))?,
            smtp_ca: smtp_ca.ok_or_else(|| missing("smtp-ca"))?,
            log_format: log_format.ok_or_else(|| missing("log-format"))?,
            jobs_interval: jobs_interval.ok_or_else(|| missing("jobs-interval"))?,
            body_timeout: body_timeout.ok_or_else(|| missing("body-timeout"))?,
            trusted_proxies: trusted_proxies.ok_or_else(|| missing("trusted-proxy"))?,
            destination_allow: destination_allow.ok_or_else(|| missing("destination-allow"))?,
            delivery_concurrency: delivery_concurrency
                .ok_or_else(|| missing("delivery-concurrency"))?,
            order_emails: order_emails.ok_or_else(|| missing("order-emails"))?,
        })
    }

    /// Whether the public URL is https (Secure cookies, HSTS).
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// A configuration for tests and tools: defaults with the given data dir and an ephemeral port.
    pub fn for_data_dir(data_dir: PathBuf) -> Config {
        let opts = GlobalOptions {
            data_dir: Some(data_dir),
            bind: Some("127.0.0.1:0".into()),
            ..Default::default()
        };
        // The defaults are valid by construction; a failure here is a bug in this file.
        Config::resolve(&opts).expect("built-in defaults are valid")
    }
}

/// The platform's data dir for "hookgate" (`~/.local/share/hookgate` on Linux), if it has one.
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "hookgate").map(|dirs| dirs.data_dir().to_path_buf())
}

/// A number of concurrent deliveries: 1 to 4096.
fn parse_concurrency(raw: &str) -> Result<usize, String> {
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=4096).contains(n))
        .ok_or_else(|| format!("'{raw}' must be a whole number from 1 to 4096"))
}

/// A switch: `on` or `off`.
fn parse_on_off(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("'{raw}' must be on or off")),
    }
}

fn load_file(path: &std::path::Path) -> Result<FileOptions, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        option: "config",
        message: format!("cannot read {}: {e}", path.display()),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError {
        option: "config",
        message: format!(
            "{} is not a valid config file: {}",
            path.display(),
            e.message()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_option_is_reported_by_name() {
        let opts = GlobalOptions {
            data_dir: Some("/tmp/x".into()),
            secret_ttl: Some("banana".into()),
            ip_rate: Some("fast".into()),
            ..Default::default()
        };
        let errors = Config::resolve(&opts).unwrap_err();
        let names: Vec<_> = errors.iter().map(|e| e.option).collect();
        assert_eq!(names, ["secret-ttl", "ip-rate"]);
        assert!(errors[0].to_string().contains("HOOKGATE_SECRET_TTL"));
    }

    #[test]
    fn rotate_before_must_be_shorter_than_the_ttl() {
        let opts = GlobalOptions {
            data_dir: Some("/tmp/x".into()),
            secret_ttl: Some("10s".into()),
            ..Default::default()
        };
        let errors = Config::resolve(&opts).unwrap_err();
        assert_eq!(errors[0].option, "rotate-before");
    }

    #[test]
    fn trusted_proxies_are_a_list_of_networks_and_a_bad_one_is_named() {
        assert!(
            Config::for_data_dir("/tmp/x".into())
                .trusted_proxies
                .is_empty()
        );
        let opts = |raw: &str| GlobalOptions {
            data_dir: Some("/tmp/x".into()),
            trusted_proxy: Some(raw.into()),
            ..Default::default()
        };
        let c = Config::resolve(&opts("127.0.0.1, ::1,10.0.0.0/8")).unwrap();
        let shown: Vec<_> = c.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]);
        for bad in ["10.0.0.0/33", "abc", "10.0.0.1/8"] {
            let errors = Config::resolve(&opts(bad)).unwrap_err();
            assert_eq!(errors[0].option, "trusted-proxy", "{bad}");
            let text = errors[0].to_string();
            assert!(
                text.contains("HOOKGATE_TRUSTED_PROXY") && text.contains(bad),
                "{text}"
            );
        }
    }

    #[test]
    fn the_file_takes_trusted_proxies_as_a_string_or_an_array() {
        let file: FileOptions = toml::from_str(r#"trusted_proxy = ["127.0.0.1", "::1"]"#).unwrap();
        assert_eq!(file.trusted_proxy.as_deref(), Some("127.0.0.1,::1"));
        let file: FileOptions = toml::from_str(r#"trusted_proxy = "10.0.0.0/8""#).unwrap();
        assert_eq!(file.trusted_proxy.as_deref(), Some("10.0.0.0/8"));
        let err = toml::from_str::<FileOptions>("trusted_proxy = 1").unwrap_err();
        assert!(
            err.message().contains("a string or an array of strings"),
            "{err}"
        );
    }

    #[test]
    fn order_emails_are_on_unless_switched_off_and_take_only_on_or_off() {
        assert!(Config::for_data_dir("/tmp/x".into()).order_emails);
        let opts = |raw: &str| GlobalOptions {
            data_dir: Some("/tmp/x".into()),
            order_emails: Some(raw.into()),
            ..Default::default()
        };
        assert!(!Config::resolve(&opts("off")).unwrap().order_emails);
        assert!(Config::resolve(&opts("ON")).unwrap().order_emails);
        let errors = Config::resolve(&opts("no")).unwrap_err();
        assert_eq!(errors[0].option, "order-emails");
        assert!(errors[0].to_string().contains("HOOKGATE_ORDER_EMAILS"));
        let file: FileOptions = toml::from_str(r#"order_emails = "off""#).unwrap();
        assert_eq!(file.order_emails.as_deref(), Some("off"));
    }

    #[test]
    fn public_url_defaults_to_the_bind_address() {
        let c = Config::for_data_dir("/tmp/x".into());
        assert_eq!(c.public_url, "http://127.0.0.1:0");
        assert!(!c.is_https());
    }
}
