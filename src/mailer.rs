//! The SMTP client of the outbox and of `hookgate email test`, on lettre with rustls.
//!
//! The URL's scheme decides the protection: `smtp://` upgrades with STARTTLS and refuses a server
//! that does not offer it (so a man in the middle cannot strip TLS), except towards this machine
//! where mail never crosses a network; `smtps://` speaks TLS from the first byte; `smtp+plain://`
//! never uses TLS, for a relay on a trusted private network, and must be asked for by name.
//! Certificates are checked against the webpki roots plus the `--smtp-ca` certificates.

use crate::config::{CertificateDer, SmtpSecurity, SmtpUrl};
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
    transport::smtp::{
        authentication::Credentials,
        client::{Certificate, Tls, TlsParameters},
    },
};
use std::time::Duration;
use tokio::time::timeout;

/// One SMTP session may take this long.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// Send one plain-text email. Returns the server's answer to the message (e.g. `250 2.0.0 Ok:
/// queued as 4BD2F`); the error says which step failed, for the outbox's last_error.
pub async fn send(
    smtp: &SmtpUrl,
    ca: &[CertificateDer<'static>],
    to: &str,
    subject: &str,
    body: &str,
) -> Result<String, String> {
    timeout(SESSION_TIMEOUT, session(smtp, ca, to, subject, body))
        .await
        .map_err(|_| "SMTP session timed out".to_string())?
}

/// The envelope sender: the SMTP user when it is an address, else hookgate@<relay host>.
pub fn sender(smtp: &SmtpUrl) -> String {
    match &smtp.username {
        Some(u) if u.contains('@') => u.clone(),
        _ => format!("hookgate@{}", smtp.host),
    }
}

async fn session(
    smtp: &SmtpUrl,
    ca: &[CertificateDer<'static>],
    to: &str,
    subject: &str,
    body: &str,
) -> Result<String, String> {
    if [to, subject].iter().any(|s| s.contains(['\r', '\n'])) {
        return Err("header injection refused".into());
    }
    let from = sender(smtp);
    let message = Message::builder()
        .from(Mailbox::new(
            Some("hookgate".into()),
            from.parse()
                .map_err(|e| format!("sender address {from}: {e}"))?,
        ))
        .to(Mailbox::new(
            None,
            to.parse().map_err(|e| format!("recipient {to}: {e}"))?,
        ))
        .subject(subject)
        .header(ContentType::TEXT_PLAIN)
        .body(body.to_string())
        .map_err(|e| format!("building the message: {e}"))?;
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .tls(tls(smtp, ca)?)
        .timeout(Some(SESSION_TIMEOUT));
    if let (Some(user), Some(pass)) = (&smtp.username, &smtp.password) {
        transport = transport.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    let response = transport
        .build()
        .send(message)
        .await
        .map_err(|e| explain(smtp, &e))?;
    let lines: Vec<&str> = response.message().collect();
    Ok(format!("{} {}", response.code(), lines.join(" ")))
}

/// The TLS mode the URL asks for, with the trusted roots.
fn tls(smtp: &SmtpUrl, ca: &[CertificateDer<'static>]) -> Result<Tls, String> {
    if smtp.security == SmtpSecurity::Plain {
        return Ok(Tls::None);
    }
    // rustls checks an IP address host against the certificate's IP addresses.
    let name = smtp.host.trim_start_matches('[').trim_end_matches(']');
    let mut params = TlsParameters::builder(name.to_string());
    for cert in ca {
        let cert = Certificate::from_der(cert.to_vec()).map_err(|e| format!("--smtp-ca: {e}"))?;
        params = params.add_root_certificate(cert);
    }
    let params = params
        .build_rustls()
        .map_err(|e| format!("TLS settings: {e}"))?;
    Ok(match smtp.security {
        SmtpSecurity::Tls => Tls::Wrapper(params),
        SmtpSecurity::StartTls if smtp.is_local() => Tls::Opportunistic(params),
        SmtpSecurity::StartTls => Tls::Required(params),
        SmtpSecurity::Plain => Tls::None,
    })
}

/// lettre's error with what to do about the two that a configuration can fix.
fn explain(smtp: &SmtpUrl, e: &lettre::transport::smtp::Error) -> String {
    let at = format!("{}:{}", smtp.host, smtp.port);
    // lettre nests the cause (a connection error around rustls's); the innermost says it all.
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let cause = cause.to_string();
    if cause.contains("STARTTLS is not supported") {
        format!(
            "{at} does not offer STARTTLS, so nothing was sent in plain text; use smtps:// if it \
             speaks TLS (usually port 465), or smtp+plain:// for a relay on a trusted network"
        )
    } else if cause.contains("certificate") {
        format!(
            "TLS with {at} failed, its certificate was not accepted: {cause}; if it comes from \
             a private CA, pass that CA's certificate with --smtp-ca"
        )
    } else {
        format!("{at}: {e}")
    }
}

#[cfg(test)]
mod tests {
    use super::tls;
    use crate::config::parse_smtp_url;

    #[test]
    fn the_scheme_and_the_host_choose_the_tls_mode() {
        let mode = |raw| format!("{:?}", tls(&parse_smtp_url(raw).unwrap(), &[]).unwrap());
        assert_eq!(mode("smtp://mail.example.com:587"), "Required");
        assert_eq!(mode("smtp://10.0.0.5"), "Required");
        assert_eq!(mode("smtp://localhost:25"), "Opportunistic");
        assert_eq!(mode("smtp://127.0.0.1:25"), "Opportunistic");
        assert_eq!(mode("smtps://mail.example.com"), "Wrapper");
        assert_eq!(mode("smtp+plain://relay.lan"), "None");
    }
}
