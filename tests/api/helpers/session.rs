//! A cookie-keeping HTTP client for the HTML pages, and logging in through the login forms.

use super::{PASSWORD, TestApp};
use reqwest::{Client, StatusCode, cookie::Jar, multipart, redirect::Policy};
use std::sync::Arc;

/// A client that behaves like a browser tab: it keeps cookies and does not follow redirects.
pub struct BrowserSession {
    base: String,
    jar: Arc<Jar>,
    client: Client,
}

impl BrowserSession {
    /// A new session with an empty cookie jar against the server at `base`.
    pub fn new(base: &str) -> BrowserSession {
        let jar = Arc::new(Jar::default());
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .unwrap();
        BrowserSession {
            base: base.to_string(),
            jar,
            client,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// GET a page that must answer 200; its HTML.
    pub async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.text().await.unwrap()
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// POST a form with extra request headers (e.g. what a browser adds on its own).
    pub async fn post_form_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.client.post(self.url(path)).form(form);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.unwrap()
    }

    pub async fn post_multipart(&self, path: &str, form: multipart::Form) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// The value of the cookie `name` the jar would send to this server.
    pub fn cookie(&self, name: &str) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let header = self.jar.cookies(&self.base.parse().unwrap())?;
        header.to_str().unwrap().split("; ").find_map(|pair| {
            pair.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
                .map(str::to_string)
        })
    }

    /// Put a cookie into the jar, as if the server had set it (path `/`).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar.add_cookie_str(
            &format!("{name}={value}; Path=/"),
            &self.base.parse().unwrap(),
        );
    }

    /// Fill and submit a login form at `path` (GET for its CSRF token, then POST).
    pub async fn log_in(&self, path: &str, email: &str, password: &str) -> reqwest::Response {
        let form = self.get(path).await;
        assert_eq!(form.status(), StatusCode::OK, "GET {path}");
        assert!(
            form.cookies().any(|c| c.name() == "hookgate_pre"),
            "the login form sets a pre-login cookie"
        );
        let csrf = csrf_in(&form.text().await.unwrap());
        self.post_form(
            path,
            &[
                ("csrf", csrf.as_str()),
                ("email", email),
                ("password", password),
            ],
        )
        .await
    }
}

/// The CSRF token of the first form in `html`.
pub fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

impl TestApp {
    /// A browser session with no cookies yet.
    pub fn browser(&self) -> BrowserSession {
        BrowserSession::new(&self.address)
    }

    /// A browser session of the admin, logged in through the login form.
    pub async fn admin_browser(&self) -> BrowserSession {
        let b = self.browser();
        let res = b.log_in("/admin/login", "root@example.com", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let session = res
            .cookies()
            .find(|c| c.name() == "hookgate_admin")
            .expect("session cookie");
        assert!(
            session.http_only() && session.same_site_lax(),
            "the session cookie is HttpOnly and SameSite=Lax"
        );
        b
    }

    /// A browser session of a merchant, signed in through the login form.
    pub async fn merchant_browser(&self, email: &str) -> BrowserSession {
        let b = self.browser();
        let res = b.log_in("/login", email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert!(b.cookie("hookgate_merchant").is_some(), "session cookie");
        b
    }
}
