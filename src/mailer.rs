//! A small SMTP client for the outbox: plain SMTP with optional AUTH PLAIN, as spoken by a local
//! relay (Postfix, OpenSMTPD, a provider's relay on a private network). It has no TLS: point
//! `--smtp-url` at a relay on the same host or private network, which handles TLS onward.

use crate::config::SmtpUrl;
use base64::{Engine, engine::general_purpose::STANDARD};
use std::time::Duration;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
    time::timeout,
};

/// One SMTP session may take this long.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// Send one plain-text email. The error says which step failed, for the outbox's last_error.
pub async fn send(smtp: &SmtpUrl, to: &str, subject: &str, body: &str) -> Result<(), String> {
    timeout(SESSION_TIMEOUT, session(smtp, to, subject, body))
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

async fn session(smtp: &SmtpUrl, to: &str, subject: &str, body: &str) -> Result<(), String> {
    if [to, subject].iter().any(|s| s.contains(['\r', '\n'])) {
        return Err("header injection refused".into());
    }
    let stream = TcpStream::connect((smtp.host.as_str(), smtp.port))
        .await
        .map_err(|e| format!("connect {}:{}: {e}", smtp.host, smtp.port))?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    expect(&mut read, 220, "greeting").await?;
    command(&mut write, &mut read, "EHLO hookgate", 250).await?;
    if let (Some(user), Some(pass)) = (&smtp.username, &smtp.password) {
        let token = STANDARD.encode(format!("\0{user}\0{pass}"));
        command(&mut write, &mut read, &format!("AUTH PLAIN {token}"), 235).await?;
    }
    let from = sender(smtp);
    command(&mut write, &mut read, &format!("MAIL FROM:<{from}>"), 250).await?;
    command(&mut write, &mut read, &format!("RCPT TO:<{to}>"), 250).await?;
    command(&mut write, &mut read, "DATA", 354).await?;
    let date = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    let mut message = format!(
        "From: hookgate <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\nDate: {date}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n"
    );
    for line in body.lines() {
        // Dot-stuffing (RFC 5321 4.5.2).
        if line.starts_with('.') {
            message.push('.');
        }
        message.push_str(line);
        message.push_str("\r\n");
    }
    message.push_str(".\r\n");
    write
        .write_all(message.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    expect(&mut read, 250, "end of data").await?;
    let _ = command(&mut write, &mut read, "QUIT", 221).await;
    Ok(())
}

async fn command<W, R>(write: &mut W, read: &mut R, line: &str, code: u16) -> Result<(), String>
where
    W: AsyncWriteExt + Unpin,
    R: AsyncBufReadExt + Unpin,
{
    write
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let verb = line.split(' ').next().unwrap_or(line);
    expect(read, code, verb).await
}

/// Read a (possibly multi-line) reply and check its code.
async fn expect<R: AsyncBufReadExt + Unpin>(
    read: &mut R,
    code: u16,
    step: &str,
) -> Result<(), String> {
    loop {
        let mut line = String::new();
        let n = read
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err(format!("{step}: connection closed"));
        }
        let got: u16 = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
        if line.as_bytes().get(3) == Some(&b'-') {
            continue; // more lines follow
        }
        if got != code {
            return Err(format!("{step}: server answered {}", line.trim_end()));
        }
        return Ok(());
    }
}
