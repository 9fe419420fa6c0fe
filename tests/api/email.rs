//! Email delivery over SMTP from the outbox, with retries.

use crate::helpers::*;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A minimal SMTP server: refuses the first MAIL FROM with a temporary error, accepts the rest,
/// and records each message (envelope and data).
async fn fake_smtp() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    tokio::spawn(async move {
        let mut session = 0;
        while let Ok((stream, _)) = listener.accept().await {
            session += 1;
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
            let mut message = String::new();
            let mut in_data = false;
            while let Ok(Some(line)) = lines.next_line().await {
                if in_data {
                    if line == "." {
                        in_data = false;
                        store.lock().unwrap().push(std::mem::take(&mut message));
                        write.write_all(b"250 queued\r\n").await.unwrap();
                    } else {
                        message.push_str(&line);
                        message.push('\n');
                    }
                    continue;
                }
                let reply: &[u8] = match line.split(' ').next().unwrap_or("") {
                    "EHLO" => b"250-fake\r\n250 AUTH PLAIN\r\n",
                    "AUTH" if line == "AUTH PLAIN AHVzZXIAcGFzcw==" => b"235 ok\r\n",
                    "AUTH" => b"535 bad credentials\r\n",
                    "MAIL" if session == 1 => b"451 try again later\r\n",
                    "MAIL" | "RCPT" => {
                        message.push_str(&line);
                        message.push('\n');
                        b"250 ok\r\n"
                    }
                    "DATA" => {
                        in_data = true;
                        b"354 go on\r\n"
                    }
                    "QUIT" => {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    }
                    _ => b"500 what\r\n",
                };
                write.write_all(reply).await.unwrap();
            }
        }
    });
    (port, received)
}

#[tokio::test]
async fn emails_are_delivered_over_smtp_and_retried_after_a_failure() {
    let (port, received) = fake_smtp().await;
    let app = spawn_app_with(|o| {
        o.smtp_url = Some(format!("smtp://user:pass@127.0.0.1:{port}"));
        o.jobs_interval = Some("100ms".into());
    })
    .await;
    let email = "mailme@acme.example";
    app.register(email).await;
    let code = app.latest_code(email).await;

    let message = eventually(
        "the email reached the SMTP server after a retry",
        || async { received.lock().unwrap().first().cloned() },
    )
    .await;
    assert!(message.contains(&format!("RCPT TO:<{email}>")), "{message}");
    assert!(
        message.contains(&code),
        "the code is in the delivered email"
    );
    assert!(message.contains("Subject: Your hookgate verification code"));

    let stored = eventually("sent_at recorded in the outbox", || async {
        let res = app
            .admin_get(&format!("/api/v1/admin/outbox?to={email}"))
            .await;
        (!res.body[0]["sent_at"].is_null()).then_some(res.body[0].clone())
    })
    .await;
    // Once sent, the one-time code is no longer kept.
    assert!(!stored.to_string().contains(&code), "{stored}");
    assert!(stored["subject"].as_str().unwrap().contains("redacted"));
}

#[tokio::test]
async fn the_outbox_sends_over_starttls_to_a_server_signed_by_the_smtp_ca() {
    let server = smtp_server_with_starttls().await;
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &server.ca_pem).unwrap();
    let app = spawn_app_with(|o| {
        o.smtp_url = Some(format!(
            "smtp://mailer%40acme.example:s3cret%20pass@127.0.0.1:{}",
            server.port
        ));
        o.smtp_ca = Some(ca.path().to_str().unwrap().into());
        o.jobs_interval = Some("100ms".into());
    })
    .await;
    let email = "tls@acme.example";
    app.register(email).await;
    let mail = eventually("the email reached the STARTTLS server", || async {
        server.received().into_iter().next()
    })
    .await;
    assert!(mail.tls, "sent inside TLS");
    assert_eq!(mail.user.as_deref(), Some(SMTP_USER));
    assert_eq!(mail.from, SMTP_USER);
    assert_eq!(mail.to, [email]);
    assert!(
        mail.data
            .contains("Subject: Your hookgate verification code")
    );
}

/// Run `hookgate ... email test --to <to>` with `args` before the command, off the runtime that
/// serves the test SMTP server.
async fn email_test(args: Vec<String>, to: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(BIN);
    command
        .env_remove("HOOKGATE_SMTP_URL")
        .env_remove("HOOKGATE_SMTP_CA")
        .arg("--data-dir")
        .arg(dir.path())
        .args(args)
        .args(["email", "test", "--to", to]);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn email_test_delivers_over_starttls_and_prints_the_servers_answer() {
    let server = smtp_server_with_starttls().await;
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &server.ca_pem).unwrap();
    let url = format!(
        "smtp://mailer%40acme.example:s3cret%20pass@127.0.0.1:{}",
        server.port
    );
    let out = email_test(
        vec![
            "--smtp-url".into(),
            url,
            "--smtp-ca".into(),
            ca.path().to_str().unwrap().into(),
        ],
        "ops@acme.example",
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("250 2.0.0 Ok: queued as TEST1"), "{stdout}");
    assert!(!stdout.contains("s3cret"), "no password printed: {stdout}");
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].tls);
    assert_eq!(received[0].user.as_deref(), Some(SMTP_USER));
    assert_eq!(received[0].to, ["ops@acme.example"]);
    assert!(received[0].data.contains("Subject: hookgate test email"));
}

#[tokio::test]
async fn email_test_speaks_tls_from_the_start_with_smtps() {
    let server = smtp_server_with_implicit_tls().await;
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &server.ca_pem).unwrap();
    let url = format!(
        "smtps://mailer%40acme.example:s3cret%20pass@localhost:{}",
        server.port
    );
    let out = email_test(
        vec![
            "--smtp-url".into(),
            url,
            "--smtp-ca".into(),
            ca.path().to_str().unwrap().into(),
        ],
        "ops@acme.example",
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("queued as TEST1"));
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].tls);
    assert_eq!(received[0].user.as_deref(), Some(SMTP_USER));
}

#[tokio::test]
async fn email_test_without_the_ca_fails_with_a_certificate_error() {
    let server = smtp_server_with_starttls().await;
    let url = format!("smtp://127.0.0.1:{}", server.port);
    let out = email_test(vec!["--smtp-url".into(), url], "ops@acme.example").await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("certificate") && stderr.contains("--smtp-ca"),
        "{stderr}"
    );
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn smtp_without_starttls_is_refused_unless_the_host_is_local_or_plain_is_asked_for() {
    let server = smtp_server_without_tls().await;
    let port = server.port;
    // 127.1 reaches the test server but is not literally this machine, as a remote relay
    // would not be: without STARTTLS nothing may go out in plain text.
    let out = email_test(
        vec!["--smtp-url".into(), format!("smtp://127.1:{port}")],
        "ops@acme.example",
    )
    .await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("does not offer STARTTLS") && stderr.contains("smtp+plain://"),
        "{stderr}"
    );
    assert!(server.received().is_empty(), "nothing was sent in plain");

    for url in [
        format!("smtp+plain://127.1:{port}"),
        format!("smtp://localhost:{port}"),
        format!("smtp://127.0.0.1:{port}"),
    ] {
        let out = email_test(vec!["--smtp-url".into(), url.clone()], "ops@acme.example").await;
        assert!(out.status.success(), "{url}: {}", text(&out.stderr));
    }
    let received = server.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|m| !m.tls));
}

#[tokio::test]
async fn email_test_names_a_missing_url_and_a_bad_ca_file() {
    let out = email_test(vec![], "ops@acme.example").await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--smtp-url"),
        "{}",
        text(&out.stderr)
    );

    let not_pem = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_pem.path(), "hello").unwrap();
    let out = email_test(
        vec![
            "--smtp-url".into(),
            "smtps://mail.example.com".into(),
            "--smtp-ca".into(),
            not_pem.path().to_str().unwrap().into(),
        ],
        "ops@acme.example",
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "a configuration error");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--smtp-ca") && stderr.contains("HOOKGATE_SMTP_CA"),
        "{stderr}"
    );
}
