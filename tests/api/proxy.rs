//! `--trusted-proxy`: behind a trusted reverse proxy the client is the address it forwarded,
//! for the recorded event and the per-IP limits; from anyone else forwarding headers are ignored.
//! The test client connects from 127.0.0.1, so it plays the proxy when that is trusted.

use crate::helpers::*;
use reqwest::StatusCode;
use std::process::Command;

/// A bad secret, for requests that fail verification.
const WRONG_SECRET: &str = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

impl TestApp {
    /// Send an order webhook signed with `secret`, carrying the extra (forwarding) headers.
    async fn send_forwarded(
        &self,
        s: &Sender,
        secret: &str,
        id: &str,
        forwarding: &[(&str, &str)],
    ) -> Res {
        let body = order_body(None, "PENDING");
        let ts = self.now();
        let mut headers = vec![
            ("X-API-Key", s.key_id.clone()),
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", sign(secret, id, ts, body.as_bytes())),
            ("Content-Type", "application/json".to_string()),
        ];
        headers.extend(forwarding.iter().map(|(n, v)| (*n, v.to_string())));
        self.post_webhook("/api/v1/webhooks/orders/", &headers, body)
            .await
    }

    /// The client IP recorded with the event of an accepted webhook.
    async fn recorded_ip(&self, accepted: &Res) -> String {
        assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
        let event_id = accepted.body["event_id"].as_str().unwrap();
        let event = self
            .admin_get(&format!("/api/v1/admin/events/{event_id}"))
            .await;
        assert_eq!(event.status, StatusCode::OK, "{}", event.body);
        event.body["client_ip"].as_str().unwrap().to_string()
    }
}

#[tokio::test]
async fn without_a_trusted_proxy_forwarding_headers_are_ignored() {
    let app = spawn_app_with(|o| o.ip_rate = Some("1/m".into())).await;
    let s = app.sender("direct@acme.example").await;
    let res = app
        .send_forwarded(&s, &s.secret, "d1", &[("X-Forwarded-For", "203.0.113.9")])
        .await;
    assert_eq!(app.recorded_ip(&res).await, "127.0.0.1");
    let res = app
        .send_forwarded(&s, &s.secret, "d2", &[("Forwarded", "for=203.0.113.9")])
        .await;
    assert_eq!(app.recorded_ip(&res).await, "127.0.0.1");

    // The failure budget is the peer's, whatever address each request claims.
    app.send_forwarded(
        &s,
        WRONG_SECRET,
        "d3",
        &[("X-Forwarded-For", "198.51.100.1")],
    )
    .await
    .assert_error(401, "invalid_signature");
    app.send_forwarded(
        &s,
        WRONG_SECRET,
        "d4",
        &[("X-Forwarded-For", "198.51.100.2")],
    )
    .await
    .assert_error(429, "rate_limited");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_recorded() {
    let app = spawn_app_with(|o| o.trusted_proxy = Some("127.0.0.1,::1".into())).await;
    let s = app.sender("proxied@acme.example").await;
    let res = app
        .send_forwarded(&s, &s.secret, "p1", &[("X-Forwarded-For", "203.0.113.9")])
        .await;
    assert_eq!(app.recorded_ip(&res).await, "203.0.113.9");
    // Without a forwarding header, the proxy itself is the client.
    let res = app.send_forwarded(&s, &s.secret, "p2", &[]).await;
    assert_eq!(app.recorded_ip(&res).await, "127.0.0.1");
    // A hop that is not an address ends the walk at the trusted proxy, never past it.
    let res = app
        .send_forwarded(
            &s,
            &s.secret,
            "p3",
            &[("X-Forwarded-For", "203.0.113.9, not-an-ip")],
        )
        .await;
    assert_eq!(app.recorded_ip(&res).await, "127.0.0.1");
}

#[tokio::test]
async fn a_spoofed_leftmost_entry_is_not_believed() {
    let app = spawn_app_with(|o| o.trusted_proxy = Some("127.0.0.1".into())).await;
    let s = app.sender("spoof@acme.example").await;
    let spoofed = [("X-Forwarded-For", "198.51.100.7, 203.0.113.9")];
    let res = app.send_forwarded(&s, &s.secret, "s1", &spoofed).await;
    assert_eq!(app.recorded_ip(&res).await, "203.0.113.9");
    // The same chain split over two header lines, as a second proxy may append it.
    let lines = [
        ("X-Forwarded-For", "198.51.100.7"),
        ("X-Forwarded-For", "203.0.113.9"),
    ];
    let res = app.send_forwarded(&s, &s.secret, "s2", &lines).await;
    assert_eq!(app.recorded_ip(&res).await, "203.0.113.9");
}

#[tokio::test]
async fn the_forwarded_header_is_read_when_x_forwarded_for_is_absent() {
    let app = spawn_app_with(|o| o.trusted_proxy = Some("127.0.0.1".into())).await;
    let s = app.sender("rfc7239@acme.example").await;
    let fwd = [(
        "Forwarded",
        r#"for=198.51.100.7, For="[2001:db8::1]:4711";proto=https"#,
    )];
    let res = app.send_forwarded(&s, &s.secret, "f1", &fwd).await;
    assert_eq!(app.recorded_ip(&res).await, "2001:db8::1");
    // An obfuscated identifier is not an address: the proxy is the client.
    let hidden = [("Forwarded", "for=_hidden")];
    let res = app.send_forwarded(&s, &s.secret, "f2", &hidden).await;
    assert_eq!(app.recorded_ip(&res).await, "127.0.0.1");
}

#[tokio::test]
async fn per_ip_limits_apply_to_the_forwarded_client() {
    // One failing request a minute per client IP: a second one is answered 429.
    let app = spawn_app_with(|o| {
        o.trusted_proxy = Some("127.0.0.1".into());
        o.ip_rate = Some("1/m".into());
    })
    .await;
    let s = app.sender("limits@acme.example").await;
    let from = |ip: &'static str| [("X-Forwarded-For", ip)];
    app.send_forwarded(&s, WRONG_SECRET, "l1", &from("203.0.113.9"))
        .await
        .assert_error(401, "invalid_signature");
    app.send_forwarded(&s, WRONG_SECRET, "l2", &from("203.0.113.9"))
        .await
        .assert_error(429, "rate_limited");
    // Even a valid request from that client waits...
    app.send_forwarded(&s, &s.secret, "l3", &from("203.0.113.9"))
        .await
        .assert_error(429, "rate_limited");
    // ...while another client behind the same proxy has its own budget.
    app.send_forwarded(&s, WRONG_SECRET, "l4", &from("198.51.100.7"))
        .await
        .assert_error(401, "invalid_signature");
    let res = app
        .send_forwarded(&s, &s.secret, "l5", &from("192.0.2.1"))
        .await;
    assert_eq!(app.recorded_ip(&res).await, "192.0.2.1");
}

#[test]
fn a_bad_trusted_proxy_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    // (flag, environment, the entry at fault)
    for (flag, env, bad) in [
        (Some("10.0.0.0/33"), None, "10.0.0.0/33"),
        (None, Some("127.0.0.1,abc"), "abc"),
    ] {
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir").arg(dir.path());
        cmd.env_remove("HOOKGATE_TRUSTED_PROXY");
        if let Some(flag) = flag {
            cmd.args(["--trusted-proxy", flag]);
        }
        if let Some(env) = env {
            cmd.env("HOOKGATE_TRUSTED_PROXY", env);
        }
        let out = cmd.arg("check").output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("--trusted-proxy (HOOKGATE_TRUSTED_PROXY)") && err.contains(bad),
            "{err}"
        );
    }
}

#[tokio::test]
async fn the_config_file_takes_trusted_proxies_as_an_array() {
    let app = spawn_app().await;
    let file = app.data_dir.with_file_name("hookgate.toml");
    std::fs::write(
        &file,
        "trusted_proxy = [\"127.0.0.1\", \"::1\", \"10.0.0.0/8\"]\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&file)
        .arg("--data-dir")
        .arg(&app.data_dir)
        .env_remove("HOOKGATE_TRUSTED_PROXY")
        .arg("check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
