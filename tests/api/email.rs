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
