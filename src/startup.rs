//! Building the application (bind, open storage, load keys) separately from running it, so that
//! tests start exactly what `main` starts, on port 0.

use crate::{
    app,
    clock::{Clock, SystemClock},
    config::Config,
    data_dir, http, jobs,
    state::AppState,
};
use actix_web::{App, HttpServer, dev::Server, web};
use std::{fmt, net::TcpListener, sync::Arc};

/// Why the application could not start.
#[derive(Debug)]
pub struct StartupError(pub String);

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Bind the listener and prepare everything; nothing is served until `run`.
    pub fn build(config: Config) -> Result<Application, StartupError> {
        Application::build_with_clock(config, Arc::new(SystemClock))
    }

    /// Like `build`, with the clock the application reads time from (tests move it).
    pub fn build_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, StartupError> {
        let (store, crypto) = data_dir::open(&config).map_err(|e| StartupError(e.0))?;
        let listener = TcpListener::bind(config.bind)
            .map_err(|e| StartupError(format!("--bind {}: {e}", config.bind)))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError(e.to_string()))?
            .port();
        let state = AppState::new(config, store, crypto, clock);
        let app_state = state.clone();
        let https = state.config.is_https();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(app_state.clone()))
                .configure(|cfg| http::configure(cfg, https))
        })
        .listen(listener)
        .map_err(|e| StartupError(format!("cannot listen: {e}")))?
        .run();
        Ok(Application {
            port,
            server,
            state,
        })
    }

    /// The bound port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serve until stopped (Ctrl-C / SIGTERM), running the background jobs alongside.
    pub async fn run(self) -> std::io::Result<()> {
        if let Err(e) = app::maintenance::resume_metrics(&self.state).await {
            tracing::warn!(error = %e, "could not resume metrics");
        }
        let jobs = jobs::spawn_all(self.state.clone());
        let result = self.server.await;
        for job in jobs {
            job.abort();
        }
        // Keep the last counts of this hour.
        if let Err(e) = app::maintenance::roll_up_metrics(&self.state).await {
            tracing::warn!(error = %e, "final metrics roll-up failed");
        }
        result
    }

    /// The lines printed on start when no admin exists yet (with a fresh one-time setup link,
    /// valid one hour), or `None` when an admin exists.
    pub async fn first_admin_hint(&self) -> Result<Option<String>, app::Error> {
        if app::admins::count(&self.state).await? > 0 {
            return Ok(None);
        }
        let token = app::admins::issue_setup_token(&self.state).await?;
        Ok(Some(format!(
            "No admin exists yet. Open this one-time link (valid for 1 hour) to create the first one:\n  \
             {}/admin/setup?token={token}\nor run:\n  hookgate --data-dir {} admin create --email you@example.com",
            self.state.config.public_url,
            self.state.config.data_dir.display()
        )))
    }
}
