//! A minimal W3C WebDriver client (reqwest + JSON) driving Debian's chromium through
//! chromedriver; just what the browser tests need, no extra crate.

use reqwest::Client;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver in its own process group; on drop the whole group (chromedriver and
/// every browser it started) is killed, also when a test panics half-way.
pub struct Driver {
    child: Child,
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where chromedriver is, or why the browser tests cannot run.
pub fn chromedriver_path() -> Result<String, String> {
    let path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if std::path::Path::new(&path).exists() {
        Ok(path)
    } else {
        Err(format!(
            "browser tests need chromedriver at {path}: `apt-get install chromium chromium-driver` \
             (or set CHROMEDRIVER, or HOOKGATE_SKIP_BROWSER_TESTS=1 to skip them knowingly)"
        ))
    }
}

impl Driver {
    pub async fn start() -> Driver {
        let path = chromedriver_path().unwrap_or_else(|e| panic!("{e}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let driver = Driver { child, url };
        let client = Client::new();
        for _ in 0..100 {
            if let Ok(r) = client.get(format!("{}/status", driver.url)).send().await
                && r.status().is_success()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not become ready");
    }

    /// A new headless browser with its own empty profile.
    pub async fn browser(&self) -> Browser {
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1280,900"]
            }
        }}});
        let client = Client::new();
        let res: Value = client
            .post(format!("{}/session", self.url))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_string();
        Browser {
            client,
            base: format!("{}/session/{id}", self.url),
        }
    }
}

/// One browser session.
pub struct Browser {
    client: Client,
    base: String,
}

/// An element handle.
pub struct Element(String);

impl Browser {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        if let Some(err) = res["value"].get("error") {
            panic!("webdriver {path}: {err} {}", res["value"]["message"]);
        }
        res["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    pub async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Find an element by CSS selector, waiting up to 5 s for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        for _ in 0..50 {
            let res: Value = self
                .client
                .post(format!("{}/element", self.base))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if let Some(id) = res["value"][ELEMENT].as_str() {
                return Element(id.to_string());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let source = self.source().await;
        panic!(
            "no element {css} on {}:\n{}",
            self.current_url().await,
            &source[..source.len().min(3000)]
        );
    }

    pub async fn click(&self, css: &str) {
        let Element(id) = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let Element(id) = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// The text of the first match, or None while it is absent or the page is changing.
    pub async fn try_text(&self, css: &str) -> Option<String> {
        let res: Value = self
            .client
            .post(format!("{}/element", self.base))
            .json(&json!({"using": "css selector", "value": css}))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let id = res["value"][ELEMENT].as_str()?;
        let text: Value = self
            .client
            .get(format!("{}/element/{id}/text", self.base))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        text["value"].as_str().map(str::to_string)
    }

    pub async fn text(&self, css: &str) -> String {
        let Element(id) = self.find(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn execute(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// The value of a cookie, if set.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        let all = self.call(reqwest::Method::GET, "/cookie", None).await;
        all.as_array()?
            .iter()
            .find(|c| c["name"] == name)
            .and_then(|c| c["value"].as_str())
            .map(str::to_string)
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// Save a PNG screenshot of the viewport (when a path is given).
    pub async fn screenshot(&self, path: Option<std::path::PathBuf>) {
        let Some(path) = path else { return };
        use base64::Engine;
        let b64 = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    pub async fn quit(self) {
        let _ = self.client.delete(&self.base).send().await;
    }
}
