//! An SMTP server on 127.0.0.1 that the tests start, speaking enough of RFC 5321 for the mailer:
//! EHLO, STARTTLS with a certificate from a CA made for the test, AUTH PLAIN (only once
//! encrypted, as real submission servers do), MAIL/RCPT/DATA/QUIT. With STARTTLS it refuses
//! MAIL on a plain connection, so a message it records went through TLS.

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// The credentials the server accepts.
pub const SMTP_USER: &str = "mailer@acme.example";
const SMTP_PASSWORD: &str = "s3cret pass";

/// One message the server accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Whether the session had switched to TLS.
    pub tls: bool,
    /// The user of AUTH PLAIN, if the client authenticated.
    pub user: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A running test SMTP server.
pub struct SmtpServer {
    pub port: u16,
    /// PEM of the CA that issued the server's certificate (for `--smtp-ca`); empty without TLS.
    pub ca_pem: String,
    received: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpServer {
    /// What the server accepted so far.
    pub fn received(&self) -> Vec<Mail> {
        self.received.lock().unwrap().clone()
    }
}

/// A server that offers STARTTLS and requires it before MAIL.
pub async fn smtp_server_with_starttls() -> SmtpServer {
    let (ca_pem, acceptor) = tls_acceptor();
    start(Some(Tls::StartTls(acceptor)), ca_pem).await
}

/// A server without TLS that accepts mail in plain text.
pub async fn smtp_server_without_tls() -> SmtpServer {
    start(None, String::new()).await
}

/// A server that speaks TLS from the first byte, as on port 465.
pub async fn smtp_server_with_implicit_tls() -> SmtpServer {
    let (ca_pem, acceptor) = tls_acceptor();
    start(Some(Tls::Implicit(acceptor)), ca_pem).await
}

/// How a server uses TLS.
#[derive(Clone)]
enum Tls {
    StartTls(TlsAcceptor),
    Implicit(TlsAcceptor),
}

async fn start(tls: Option<Tls>, ca_pem: String) -> SmtpServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(connection(stream, tls.clone(), store.clone()));
        }
    });
    SmtpServer {
        port,
        ca_pem,
        received,
    }
}

/// A CA, and an acceptor presenting a certificate it issued for localhost and 127.0.0.1.
fn tls_acceptor() -> (String, TlsAcceptor) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert.der().to_vec())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .unwrap();
    (ca_cert.pem(), TlsAcceptor::from(Arc::new(config)))
}

/// What ended a dialogue.
enum End {
    Quit,
    StartTls,
}

async fn connection(stream: TcpStream, tls: Option<Tls>, store: Arc<Mutex<Vec<Mail>>>) {
    let tls = match tls {
        Some(Tls::Implicit(acceptor)) => {
            let Ok(secure) = acceptor.accept(stream).await else {
                return;
            };
            let mut secure = BufReader::new(secure);
            if secure.write_all(b"220 test ESMTP\r\n").await.is_ok() {
                dialogue(&mut secure, true, false, &store).await;
            }
            return;
        }
        Some(Tls::StartTls(acceptor)) => Some(acceptor),
        None => None,
    };
    let mut plain = BufReader::new(stream);
    if plain.write_all(b"220 test ESMTP\r\n").await.is_err() {
        return;
    }
    let offer = tls.is_some();
    if let (Some(End::StartTls), Some(acceptor)) =
        (dialogue(&mut plain, false, offer, &store).await, tls)
    {
        // The client waits for our 220 before its handshake, so nothing is left buffered.
        let Ok(secure) = acceptor.accept(plain.into_inner()).await else {
            return; // the client refused the certificate
        };
        dialogue(&mut BufReader::new(secure), true, false, &store).await;
    }
}

/// One session over `stream`: `None` when the client went away.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    secure: bool,
    offer_starttls: bool,
    store: &Mutex<Vec<Mail>>,
) -> Option<End> {
    let mut mail: Option<Mail> = None;
    let mut user = None;
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
        let reply = match verb.as_str() {
            "EHLO" => {
                let mut r = String::from("250-test.example\r\n");
                if offer_starttls {
                    r.push_str("250-STARTTLS\r\n");
                }
                if secure || !offer_starttls {
                    r.push_str("250-AUTH PLAIN\r\n");
                }
                r.push_str("250 8BITMIME\r\n");
                r
            }
            "STARTTLS" if offer_starttls => {
                stream
                    .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                    .await
                    .ok()?;
                return Some(End::StartTls);
            }
            "AUTH" => match auth_plain(line) {
                Some(u) => {
                    user = Some(u);
                    "235 2.7.0 Authentication successful\r\n".into()
                }
                None => "535 5.7.8 Authentication credentials invalid\r\n".into(),
            },
            "MAIL" if offer_starttls && !secure => {
                "530 5.7.0 Must issue a STARTTLS command first\r\n".into()
            }
            "MAIL" => {
                mail = Some(Mail {
                    tls: secure,
                    user: user.clone(),
                    from: address(line),
                    to: Vec::new(),
                    data: String::new(),
                });
                "250 2.1.0 Ok\r\n".into()
            }
            "RCPT" => match &mut mail {
                Some(m) => {
                    m.to.push(address(line));
                    "250 2.1.5 Ok\r\n".into()
                }
                None => "503 5.5.1 MAIL first\r\n".into(),
            },
            "DATA" => {
                let Some(mut m) = mail.take() else {
                    stream.write_all(b"503 5.5.1 MAIL first\r\n").await.ok()?;
                    continue;
                };
                stream
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await
                    .ok()?;
                loop {
                    let mut data = String::new();
                    if stream.read_line(&mut data).await.ok()? == 0 {
                        return None;
                    }
                    if data == ".\r\n" {
                        break;
                    }
                    m.data.push_str(&data);
                }
                let mut all = store.lock().unwrap();
                all.push(m);
                format!("250 2.0.0 Ok: queued as TEST{}\r\n", all.len())
            }
            "RSET" => {
                mail = None;
                "250 2.0.0 Ok\r\n".into()
            }
            "NOOP" => "250 2.0.0 Ok\r\n".into(),
            "QUIT" => {
                let _ = stream.write_all(b"221 2.0.0 Bye\r\n").await;
                return Some(End::Quit);
            }
            _ => "502 5.5.2 Command not recognized\r\n".into(),
        };
        stream.write_all(reply.as_bytes()).await.ok()?;
    }
}

/// The user of a correct `AUTH PLAIN <base64>` line.
fn auth_plain(line: &str) -> Option<String> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let token = line.strip_prefix("AUTH PLAIN ")?;
    let decoded = String::from_utf8(STANDARD.decode(token).ok()?).ok()?;
    let mut parts = decoded.split('\0').skip(1);
    let (user, pass) = (parts.next()?, parts.next()?);
    (user == SMTP_USER && pass == SMTP_PASSWORD).then(|| user.to_string())
}

/// The address in `MAIL FROM:<a@b> ...` or `RCPT TO:<a@b>`.
fn address(line: &str) -> String {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a.to_string())
        .unwrap_or_default()
}
