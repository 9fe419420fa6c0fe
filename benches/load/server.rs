//! The server child process, the `hookgate` CLI run on its data dir, and onboarding one merchant.

use crate::client::{Conn, HEALTHZ};
use crate::options::{Options, Scenario};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running server; killed (and reaped) on drop, so no path out of this program leaves it.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub bin: PathBuf,
    pub data: tempfile::TempDir,
    pub log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ADMIN_EMAIL: &str = "admin@bench.local";
pub const PASSWORD: &str = "benchmark password 1";
/// The onboarded merchant, whose logins the login scenario measures.
pub const MERCHANT_EMAIL: &str = "shop@bench.local";

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().unwrap().port()
}

pub async fn start_server(o: &Options) -> Server {
    assert!(
        o.bin.exists(),
        "{} does not exist; run `cargo build --release` first",
        o.bin.display()
    );
    let data = tempfile::tempdir().expect("temporary data dir");
    let log_dir = tempfile::tempdir().expect("temporary log dir");
    let log = o
        .server_log
        .clone()
        .unwrap_or_else(|| log_dir.path().join("server.log"));
    let log_file = std::fs::File::create(&log).expect("server log file");
    let port = free_port();
    let mut command = Command::new(&o.bin);
    if let Some(retention) = &o.server_retention {
        command.args(["--retention", retention]);
    }
    if o.scenarios.contains(&Scenario::Deliveries) {
        // The sink listens on 127.0.0.1, a loopback address refused unless allowed.
        command.args(["--destination-allow", "127.0.0.1/32"]);
    }
    let child = command
        .arg("--data-dir")
        .arg(data.path())
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--merchant-rate", "1000000/s", "--ip-rate", "1000000/s"])
        .args(["--log-format", "json", "serve"])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", o.bin.display()));
    let mut server = Server {
        child,
        port,
        bin: o.bin.clone(),
        data,
        log,
        _log_dir: log_dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!(
                "the server exited ({status}):\n{}",
                log_tail(&server.log, 20)
            );
        }
        if let Ok(mut conn) = Conn::open(port).await
            && matches!(conn.exchange(HEALTHZ).await, Ok(200))
        {
            return server;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not answer /healthz within 30 s:\n{}",
            log_tail(&server.log, 20)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Run `hookgate --data-dir D ARGS` with `stdin`; returns its stdout, trimmed.
fn cli(server: &Server, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new(&server.bin)
        .arg("--data-dir")
        .arg(server.data.path())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the hookgate CLI");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "hookgate {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

// ---------------------------------------------------------------------------------------------
// Onboarding through the real API (reqwest; not timed).

pub fn http_client() -> reqwest::Client {
    // no_proxy: an HTTP(S)_PROXY in the environment must not route these calls off the machine.
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub async fn expect_json(response: reqwest::Response, what: &str) -> serde_json::Value {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: {e}: {text}"))
}

/// Onboard one merchant; returns (key id, signing key, admin token).
pub async fn onboard(server: &Server) -> (String, Vec<u8>, String) {
    cli(
        server,
        &[
            "admin",
            "create",
            "--email",
            ADMIN_EMAIL,
            "--password-stdin",
        ],
        PASSWORD,
    );
    let admin = cli(server, &["admin", "token", "--email", ADMIN_EMAIL], "");
    let base = format!("http://127.0.0.1:{}", server.port);
    let http = http_client();
    let email = MERCHANT_EMAIL;

    let registered = expect_json(
        http.post(format!("{base}/api/v1/auth/register"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD, "business_name": "Bench Shop"}))
            .send()
            .await
            .unwrap(),
        "register",
    )
    .await;
    let merchant_id = registered["merchant_id"].as_str().unwrap().to_string();

    let outbox = expect_json(
        http.get(format!("{base}/api/v1/admin/outbox?to={email}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        "outbox",
    )
    .await;
    let code = outbox
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["subject"].as_str())
        .find_map(|s| s.strip_prefix("Your hookgate verification code: "))
        .unwrap_or_else(|| panic!("no verification code in the outbox: {outbox}"))
        .to_string();
    expect_json(
        http.post(format!("{base}/api/v1/auth/verify-email"))
            .json(&serde_json::json!({"email": email, "code": code}))
            .send()
            .await
            .unwrap(),
        "verify-email",
    )
    .await;
    let token = expect_json(
        http.post(format!("{base}/api/v1/auth/token"))
            .json(&serde_json::json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap(),
        "token",
    )
    .await;
    let token = token["access_token"].as_str().unwrap().to_string();

    let form = reqwest::multipart::Form::new()
        .text("legal_name", "Bench Shop Ltd")
        .text("registration_number", "RC-100001")
        .text("country", "NG")
        .text("address", "1 Bench Street, Lagos")
        .text("contact_phone", "+2348123456789")
        .part(
            "document",
            reqwest::multipart::Part::bytes(b"%PDF-1.4\n% hookgate bench\n".to_vec())
                .file_name("incorporation.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    expect_json(
        http.post(format!("{base}/api/v1/kyc"))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await
            .unwrap(),
        "kyc",
    )
    .await;
    let pending = expect_json(
        http.get(format!("{base}/api/v1/admin/kyc?status=pending"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap(),
        "kyc queue",
    )
    .await;
    let kyc_id = pending
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["merchant_id"] == merchant_id.as_str())
        .and_then(|k| k["kyc_id"].as_str())
        .unwrap_or_else(|| panic!("the submission is not in the queue: {pending}"))
        .to_string();
    expect_json(
        http.post(format!("{base}/api/v1/admin/kyc/{kyc_id}/approve"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap(),
        "approve",
    )
    .await;
    let secret = expect_json(
        http.get(format!("{base}/api/v1/webhook/secret/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        "secret",
    )
    .await;
    let key_id = secret["key_id"].as_str().unwrap().to_string();
    let key = hookgate::domain::WebhookSecret::parse(secret["secret_key"].as_str().unwrap())
        .expect("a whsec_ secret")
        .key()
        .to_vec();
    (key_id, key, admin)
}
