//! The browser tests' driver: starts Debian's chromedriver and wraps a fantoccini session in the
//! few calls the tests use. The WebDriver protocol itself is fantoccini's; chromedriver listens on
//! plain HTTP on 127.0.0.1, so the client is built on hyper's HttpConnector without any TLS.

use fantoccini::{Client, ClientBuilder, Locator, elements::Element, error::CmdError};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long `find` waits for an element to appear, and how often it looks.
const FIND_TIMEOUT: Duration = Duration::from_secs(5);
const FIND_EVERY: Duration = Duration::from_millis(100);

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
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        // chromedriver accepts sessions once it listens.
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
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
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--window-size=1280,900"]
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("no session: {e}"));
        Browser { client }
    }
}

/// One browser session.
pub struct Browser {
    client: Client,
}

impl Browser {
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("webdriver goto {url}: {e}"));
    }

    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .unwrap_or_else(|e| panic!("webdriver current url: {e}"))
            .to_string()
    }

    /// Find an element by CSS selector, waiting up to 5 s for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        let found = self
            .client
            .wait()
            .at_most(FIND_TIMEOUT)
            .every(FIND_EVERY)
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(element) => element,
            Err(e) => {
                let why = match e {
                    CmdError::WaitTimeout => format!("none after {FIND_TIMEOUT:?}"),
                    e => e.to_string(),
                };
                let source = self.source().await;
                panic!(
                    "no element {css} on {} ({why}):\n{}",
                    self.current_url().await,
                    &source[..source.len().min(3000)]
                );
            }
        }
    }

    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("webdriver click {css}: {e}"));
    }

    /// Replace the value of a field; for a file input, `text` is the path of the file to upload.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("webdriver clear {css}: {e}"));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("webdriver send keys to {css}: {e}"));
    }

    /// The text of the first match, or None while it is absent or the page is changing.
    pub async fn try_text(&self, css: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("webdriver text of {css}: {e}"))
    }

    pub async fn source(&self) -> String {
        self.client
            .source()
            .await
            .unwrap_or_else(|e| panic!("webdriver source: {e}"))
    }

    pub async fn execute(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("webdriver execute {script}: {e}"))
    }

    /// The value of a cookie, if set.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_all_cookies()
            .await
            .unwrap_or_else(|e| panic!("webdriver cookies: {e}"))
            .into_iter()
            .find(|c| c.name() == name)
            .map(|c| c.value().to_string())
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .unwrap_or_else(|e| panic!("webdriver resize to {width}x{height}: {e}"));
    }

    /// Save a PNG screenshot of the viewport (when a path is given).
    pub async fn screenshot(&self, path: Option<std::path::PathBuf>) {
        let Some(path) = path else { return };
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("webdriver screenshot: {e}"));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }

    pub async fn quit(self) {
        let _ = self.client.close().await;
    }
}
