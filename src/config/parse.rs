//! Parsers of the option values people type: durations (`90d`), sizes (`1MiB`), rates
//! (`100/s`), addresses and URLs. Each error says what was expected.

use super::{CertificateDer, LogFormat, Rate, SmtpSecurity, SmtpUrl};
use rustls::pki_types::pem::PemObject;
use std::{net::SocketAddr, num::NonZeroU32, time::Duration};

pub(super) fn parse_bind(raw: &str) -> Result<SocketAddr, String> {
    raw.parse()
        .map_err(|_| format!("'{raw}' is not an address like 127.0.0.1:8080"))
}

pub(super) fn parse_public_url(raw: &str) -> Result<String, String> {
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or_else(|| format!("'{raw}' must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(format!("'{raw}' is not a URL"));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

/// Parse `90d`, `24h`, `5m`, `3s`, `250ms`, or combinations like `1h30m`.
/// Longest duration accepted: 100 years, so that every time computed from one (an expiry, a
/// retention cut-off) stays within what RFC 3339 can show.
pub const MAX_DURATION: Duration = Duration::from_secs(36_500 * 86_400);

pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let bad = || format!("'{raw}' is not a duration like 90d, 24h, 5m or 3s");
    if raw.is_empty() {
        return Err(bad());
    }
    if raw == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = raw;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86_400),
            "w" => Duration::from_secs(7 * 86_400),
            _ => return Err(bad()),
        };
        let n = u32::try_from(n).map_err(|_| bad())?;
        total = total
            .checked_add(unit.checked_mul(n).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    if total > MAX_DURATION {
        return Err(format!("'{raw}' is longer than 36500d (100 years)"));
    }
    Ok(total)
}

pub(super) fn parse_positive_duration(raw: &str) -> Result<Duration, String> {
    let d = parse_duration(raw)?;
    if d.is_zero() {
        return Err(format!("'{raw}' must be longer than zero"));
    }
    Ok(d)
}

/// Format a duration in the same human form the options take.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    if d.subsec_millis() != 0 || s == 0 {
        return format!("{}ms", d.as_millis());
    }
    for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s.is_multiple_of(len) {
            return format!("{}{unit}", s / len);
        }
    }
    format!("{s}s")
}

/// Parse `1MiB`, `512KiB`, `1MB`, `1000` (bytes).
pub fn parse_size(raw: &str) -> Result<usize, String> {
    let bad = || format!("'{raw}' is not a size like 1MiB, 512KiB or 65536");
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let n: usize = raw[..split].parse().map_err(|_| bad())?;
    let mult: usize = match raw[split..].trim() {
        "" | "B" => 1,
        "KiB" => 1024,
        "MiB" => 1024 * 1024,
        "GiB" => 1024 * 1024 * 1024,
        "KB" | "kB" => 1000,
        "MB" => 1_000_000,
        _ => return Err(bad()),
    };
    let size = n.checked_mul(mult).ok_or_else(bad)?;
    if size == 0 {
        return Err(format!("'{raw}' must be larger than zero"));
    }
    Ok(size)
}

/// Parse `100/s`, `6000/m`, `10/h`.
pub fn parse_rate(raw: &str) -> Result<Rate, String> {
    let bad = || format!("'{raw}' is not a rate like 100/s or 6000/m");
    let (count, unit) = raw.split_once('/').ok_or_else(bad)?;
    let count: u32 = count.trim().parse().map_err(|_| bad())?;
    let count = NonZeroU32::new(count).ok_or_else(|| format!("'{raw}' must be above zero"))?;
    let per = match unit.trim() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        _ => return Err(bad()),
    };
    Ok(Rate { count, per })
}

pub(super) fn parse_log_format(raw: &str) -> Result<LogFormat, String> {
    match raw {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("'{raw}' must be text or json")),
    }
}

/// Parse `smtp://[user[:pass]@]host[:port]`, or the same with `smtps://` (port 465 by default)
/// or `smtp+plain://` (percent-escapes in user and password allowed).
pub fn parse_smtp_url(raw: &str) -> Result<SmtpUrl, String> {
    let (security, rest) = [
        SmtpSecurity::StartTls,
        SmtpSecurity::Tls,
        SmtpSecurity::Plain,
    ]
    .into_iter()
    .find_map(|s| Some((s, raw.strip_prefix(s.scheme())?.strip_prefix("://")?)))
    .ok_or_else(|| {
        "must look like smtp://user:pass@host:port (STARTTLS), smtps://... (TLS) \
             or smtp+plain://... (no TLS)"
            .to_string()
    })?;
    let default_port = match security {
        SmtpSecurity::Tls => 465,
        SmtpSecurity::StartTls | SmtpSecurity::Plain => 25,
    };
    let rest = rest.trim_end_matches('/');
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("port '{p}' is not a number"))?,
        ),
        None => (hostport, default_port),
    };
    if host.is_empty() {
        return Err("has no host".into());
    }
    let (username, password) = match userinfo {
        None => (None, None),
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => (Some(percent_decode(user)?), Some(percent_decode(pass)?)),
            None => (Some(percent_decode(u)?), None),
        },
    };
    Ok(SmtpUrl {
        security,
        host: host.to_string(),
        port,
        username,
        password,
    })
}

/// Read the PEM certificates of `--smtp-ca`; empty = none given.
pub(super) fn read_smtp_ca(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path} is not a PEM certificate file: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{path} holds no PEM certificate (BEGIN CERTIFICATE)"
        ));
    }
    Ok(certs)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("has a broken %-escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "has a broken %-escape")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "is not UTF-8 after %-decoding".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_accept_human_forms() {
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in [
            "",
            "d",
            "5",
            "5x",
            "-1s",
            "1.5h",
            "s5",
            "100000000d",
            "36501d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(parse_duration("36500d"), Ok(MAX_DURATION));
    }

    #[test]
    fn durations_format_back_to_the_same_form() {
        for s in ["90d", "1d", "25h", "5m", "3s", "250ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }

    #[test]
    fn sizes_and_rates_parse() {
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("512KiB"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        let r = parse_rate("100/s").unwrap();
        assert_eq!((r.count.get(), r.per), (100, Duration::from_secs(1)));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("100").is_err());
    }

    #[test]
    fn smtp_urls_parse_and_never_print_the_password() {
        let u = parse_smtp_url("smtp://me%40x.io:p%3Ass@mail.example.com:587").unwrap();
        assert_eq!(u.host, "mail.example.com");
        assert_eq!(u.port, 587);
        assert_eq!(u.username.as_deref(), Some("me@x.io"));
        assert_eq!(u.password.as_deref(), Some("p:ss"));
        assert!(!format!("{u:?}").contains("p:ss"));
        assert_eq!(parse_smtp_url("smtp://localhost").unwrap().port, 25);
        assert!(parse_smtp_url("http://x").is_err());
        assert!(parse_smtp_url("smtpx://x").is_err());
    }

    #[test]
    fn the_scheme_chooses_tls_and_the_default_port() {
        let at = |raw| {
            let u = parse_smtp_url(raw).unwrap();
            (u.security, u.port)
        };
        assert_eq!(at("smtp://mail.example.com"), (SmtpSecurity::StartTls, 25));
        assert_eq!(
            at("smtp://mail.example.com:587"),
            (SmtpSecurity::StartTls, 587)
        );
        assert_eq!(at("smtps://mail.example.com"), (SmtpSecurity::Tls, 465));
        assert_eq!(at("smtp+plain://relay.lan"), (SmtpSecurity::Plain, 25));
        assert_eq!(
            format!(
                "{:?}",
                parse_smtp_url("smtps://u:secret@mx.example.com").unwrap()
            ),
            "smtps://mx.example.com:465"
        );
    }

    #[test]
    fn only_this_machine_counts_as_local() {
        let local = |raw| parse_smtp_url(raw).unwrap().is_local();
        assert!(local("smtp://localhost:25"));
        assert!(local("smtp://127.0.0.1:2525"));
        assert!(local("smtp://[::1]:25"));
        assert!(!local("smtp://mail.example.com"));
        assert!(!local("smtp://10.0.0.5"));
        assert!(!local("smtp://localhost.example.com"));
    }
}
