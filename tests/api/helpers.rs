//! Spawning the application, moving its clock, walking merchants through onboarding, and a
//! cookie-keeping client for the HTML pages.

use hookgate::{
    cli::GlobalOptions,
    clock::{Clock, ShiftedClock},
    config::Config,
    startup::Application,
};
use reqwest::{Client, StatusCode, multipart};
use serde_json::{Value, json};
use std::{future::Future, io::Write, path::PathBuf, process::Command, sync::Arc, time::Duration};

mod session;
mod sink;
mod smtp;
pub use session::{BrowserSession, csrf_in};
pub use sink::{NO_ANSWER, Received, Sink, deliveries_of, destination, spawn};
pub use smtp::{
    SMTP_USER, smtp_server_with_implicit_tls, smtp_server_with_starttls, smtp_server_without_tls,
};

/// The hookgate binary built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_hookgate");

/// A password that satisfies the policy.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server with its data dir, an admin token and the clock it reads.
pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub data_dir: PathBuf,
    pub admin_token: String,
    /// The server's clock: the wall clock plus whatever the test advanced it by.
    pub clock: Arc<ShiftedClock>,
    _dir: tempfile::TempDir,
}

/// Start the app with default options.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Start the app with options adjusted by `adjust` (data dir and port 0 are set already).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut GlobalOptions)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let mut opts = GlobalOptions {
        data_dir: Some(data_dir.clone()),
        bind: Some("127.0.0.1:0".into()),
        ..Default::default()
    };
    adjust(&mut opts);
    let config = Config::resolve(&opts).expect("valid test config");
    let clock = Arc::new(ShiftedClock::default());
    let app = Application::build_with_clock(config, clock.clone()).expect("application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    let admin_token = create_admin(&data_dir, "root@example.com");
    TestApp {
        address,
        client: Client::new(),
        data_dir,
        admin_token,
        clock,
        _dir: dir,
    }
}

pub fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

pub fn hours(n: u64) -> Duration {
    Duration::from_secs(n * 3600)
}

pub fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// How long `eventually` keeps trying, and the pause between tries.
const POLL_LIMIT: Duration = Duration::from_secs(10);
const POLL_PAUSE: Duration = Duration::from_millis(50);

/// Call `f` until it gives `Some`, pausing briefly between tries; `None` once `POLL_LIMIT` has
/// passed. For work the server does in the background (jobs, the mailer, deferred writes).
pub async fn poll<T, F, Fut>(mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + POLL_LIMIT;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(POLL_PAUSE).await;
    }
}

/// Like `poll`, panicking with `what` if it never happens.
pub async fn eventually<T, F, Fut>(what: &str, f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    poll(f)
        .await
        .unwrap_or_else(|| panic!("timed out after {POLL_LIMIT:?} waiting for: {what}"))
}

/// Create an admin and mint a token through the real CLI.
pub fn create_admin(data_dir: &std::path::Path, email: &str) -> String {
    let mut child = Command::new(BIN)
        .args(["--data-dir"])
        .arg(data_dir)
        .args(["admin", "create", "--email", email, "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run hookgate admin create");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "admin create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["admin", "token", "--email", email])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "admin token failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A response's status and JSON body.
pub struct Res {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Res {
    pub async fn from(r: reqwest::Response) -> Res {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Res {
            status,
            headers,
            body,
        }
    }

    /// The `field` of every violation, in order.
    pub fn violation_fields(&self) -> Vec<&str> {
        self.body["violations"]
            .as_array()
            .map(|v| v.iter().filter_map(|v| v["field"].as_str()).collect())
            .unwrap_or_default()
    }

    /// Assert the status and the contract's error code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["error"], code, "body: {}", self.body);
        assert!(self.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The server's current time, unix seconds: what webhooks are signed with.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Move the server's clock forward, as if `by` had passed.
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by)
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Res {
        Res::from(
            self.client
                .post(self.url(path))
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn get_as(&self, path: &str, token: &str) -> Res {
        Res::from(
            self.client
                .get(self.url(path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn post_as(&self, path: &str, token: &str, body: Value) -> Res {
        Res::from(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn admin_get(&self, path: &str) -> Res {
        self.get_as(path, &self.admin_token).await
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> Res {
        self.post_as(path, &self.admin_token, body).await
    }

    pub async fn admin_patch(&self, path: &str, body: Value) -> Res {
        Res::from(
            self.client
                .patch(self.url(path))
                .bearer_auth(&self.admin_token)
                .json(&body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn register(&self, email: &str) -> Res {
        self.post_json(
            "/api/v1/auth/register",
            json!({"email": email, "password": PASSWORD, "business_name": "Acme Stores"}),
        )
        .await
    }

    /// The newest verification code emailed to `email`, read from the outbox.
    pub async fn latest_code(&self, email: &str) -> String {
        let res = self
            .admin_get(&format!("/api/v1/admin/outbox?to={email}"))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let subject = res
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["subject"].as_str().unwrap().to_string())
            .find(|s| s.contains("verification code"))
            .expect("a verification email in the outbox");
        subject.rsplit(' ').next().unwrap().to_string()
    }

    pub async fn verify(&self, email: &str, code: &str) -> Res {
        self.post_json(
            "/api/v1/auth/verify-email",
            json!({"email": email, "code": code}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Res {
        self.post_json(
            "/api/v1/auth/token",
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// A fresh bearer token for a verified merchant (tokens live 12 h of server time).
    pub async fn token_for(&self, email: &str) -> String {
        let res = self.login(email, PASSWORD).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.body["access_token"].as_str().unwrap().to_string()
    }

    /// Register, verify and log in; returns the merchant's bearer token.
    pub async fn verified_merchant(&self, email: &str) -> String {
        assert_eq!(self.register(email).await.status, StatusCode::CREATED);
        let code = self.latest_code(email).await;
        assert_eq!(self.verify(email, &code).await.status, StatusCode::OK);
        self.token_for(email).await
    }

    /// Submit KYC with the given document bytes.
    pub async fn submit_kyc(&self, token: &str, document: Vec<u8>) -> Res {
        let form = kyc_form().part(
            "document",
            multipart::Part::bytes(document)
                .file_name("registration.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
        self.submit_kyc_form(token, form).await
    }

    pub async fn submit_kyc_form(&self, token: &str, form: multipart::Form) -> Res {
        Res::from(
            self.client
                .post(self.url("/api/v1/kyc"))
                .bearer_auth(token)
                .multipart(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// A verified merchant with approved KYC; returns (token, merchant_id, key_id).
    pub async fn approved_merchant(&self, email: &str) -> (String, String, String) {
        let token = self.verified_merchant(email).await;
        let res = self.submit_kyc(&token, pdf()).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        let kyc_id = res.body["kyc_id"].as_str().unwrap().to_string();
        let res = self
            .admin_post(&format!("/api/v1/admin/kyc/{kyc_id}/approve"), json!({}))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        let me = self.get_as("/api/v1/me", &token).await;
        let merchant_id = me.body["merchant_id"].as_str().unwrap().to_string();
        let key_id = me.body["key_id"].as_str().unwrap().to_string();
        (token, merchant_id, key_id)
    }

    /// Every byte of the database files (main, WAL), for leak checks.
    pub fn database_bytes(&self) -> Vec<u8> {
        let mut all = Vec::new();
        for name in ["hookgate.db", "hookgate.db-wal"] {
            if let Ok(bytes) = std::fs::read(self.data_dir.join(name)) {
                all.extend(bytes);
            }
        }
        all
    }
}

/// The text fields of a valid KYC form.
pub fn kyc_form() -> multipart::Form {
    multipart::Form::new()
        .text("legal_name", "Acme Stores Limited")
        .text("registration_number", "RC-1234567")
        .text("country", "NG")
        .text("address", "123 Main St, Lagos")
        .text("contact_phone", "+2348123456789")
}

/// A small but real PDF.
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec()
}

/// Whether `haystack` contains `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A Standard Webhooks signer written independently of the crate (ring HMAC-SHA256 over
/// "id.timestamp.body", key = base64 after `whsec_`).
pub fn sign(secret: &str, id: &str, ts: i64, body: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64
        .decode(secret.trim_start_matches("whsec_"))
        .expect("secret is base64");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let mut msg = format!("{id}.{ts}.").into_bytes();
    msg.extend_from_slice(body);
    format!("v1,{}", b64.encode(ring::hmac::sign(&key, &msg).as_ref()))
}

/// An order body in the contract's shape.
pub fn order_body(reference: Option<&str>, status: &str) -> String {
    let mut v = json!({
        "customer_details": {"name": "John Doe", "email": "john@example.com", "phone": "+2348123456789"},
        "item_summary": "iPhone 15 x2",
        "address": "123 Main St, Lagos",
        "tracking_status": status,
    });
    if let Some(r) = reference {
        v["merchant_reference"] = json!(r);
    }
    v.to_string()
}

/// The value of one series (name with its labels) in a Prometheus exposition.
pub fn metric_value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("{series} missing in\n{text}"))
}

/// A merchant able to send webhooks.
pub struct Sender {
    pub token: String,
    pub merchant_id: String,
    pub key_id: String,
    pub secret: String,
}

impl TestApp {
    /// An approved merchant and its current secret.
    pub async fn sender(&self, email: &str) -> Sender {
        let (token, merchant_id, key_id) = self.approved_merchant(email).await;
        let secret = self.get_as("/api/v1/webhook/secret/", &token).await.body["secret_key"]
            .as_str()
            .unwrap()
            .to_string();
        Sender {
            token,
            merchant_id,
            key_id,
            secret,
        }
    }

    /// POST a webhook with explicit headers.
    pub async fn post_webhook(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: impl Into<Vec<u8>>,
    ) -> Res {
        let mut req = self.client.post(self.url(path)).body(body.into());
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        Res::from(req.send().await.unwrap()).await
    }

    /// The `/metrics` exposition (admin token).
    pub async fn metrics_text(&self) -> String {
        let res = self
            .client
            .get(self.url("/metrics"))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        res.text().await.unwrap()
    }

    /// Sign `body` with `secret` as webhook `id` at `ts` and POST it.
    pub async fn send_signed(
        &self,
        s: &Sender,
        secret: &str,
        id: &str,
        ts: i64,
        body: &str,
    ) -> Res {
        let headers = [
            ("X-API-Key", s.key_id.clone()),
            ("webhook-id", id.to_string()),
            ("webhook-timestamp", ts.to_string()),
            ("webhook-signature", sign(secret, id, ts, body.as_bytes())),
            ("Content-Type", "application/json".to_string()),
        ];
        self.post_webhook("/api/v1/webhooks/orders/", &headers, body.to_string())
            .await
    }

    /// Send `n` fresh orders with ids `{prefix}-0..n`, 16 at a time; each must be created.
    pub async fn send_orders(&self, s: &Sender, prefix: &str, n: usize) {
        use futures_util::StreamExt;
        let body = order_body(None, "PENDING");
        futures_util::stream::iter(0..n)
            .for_each_concurrent(16, |i| {
                let body = &body;
                async move {
                    let res = self.send_order(s, &format!("{prefix}-{i}"), body).await;
                    assert_eq!(res.status, reqwest::StatusCode::CREATED, "{}", res.body);
                }
            })
            .await;
    }

    /// Send a fresh order signed with the sender's current secret.
    pub async fn send_order(&self, s: &Sender, id: &str, body: &str) -> Res {
        self.send_signed(s, &s.secret, id, self.now(), body).await
    }
}
