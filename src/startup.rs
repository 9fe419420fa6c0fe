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

/// File descriptors kept for everything but client connections: SQLite (the writer and the
/// read pool, each with its WAL and shared memory), the log, backups, outbound mail.
const RESERVED_FDS: u64 = 256;

/// Raise the soft open-file limit to the hard one (as systemd's `LimitNOFILE` does; at most
/// 2^20), and return the limit in force.
fn raise_open_file_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    const CEILING: u64 = 1 << 20;
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(CEILING);
    let target = limit.maximum.unwrap_or(CEILING).min(CEILING);
    if target > soft {
        let raised = Rlimit {
            current: Some(target),
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return target;
        }
    }
    soft
}

/// Connections each worker accepts, so that all workers together stay `RESERVED_FDS` below
/// the open-file limit (and never fewer than 16 each): past the cap, new connections wait in
/// the listen backlog instead of failing `accept` and everything else that opens a file.
pub fn connections_per_worker(fd_limit: u64, workers: usize) -> usize {
    let workers = workers.max(1) as u64;
    let usable = fd_limit.saturating_sub(RESERVED_FDS);
    (usable / workers).max(16) as usize
}

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
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let fd_limit = raise_open_file_limit();
        let per_worker = connections_per_worker(fd_limit, workers);
        tracing::debug!(
            fd_limit,
            max_connections = per_worker * workers,
            "connection cap set below the open-file limit"
        );
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(app_state.clone()))
                .configure(|cfg| http::configure(cfg, https))
        })
        .workers(workers)
        .max_connections(per_worker)
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
        // Stops the delivery worker when this future ends or is dropped.
        let _deliveries = jobs::deliver::spawn(self.state.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_stay_below_the_open_file_limit() {
        // The common default of 1024: 768 connections in all, shared by the workers.
        assert_eq!(connections_per_worker(1024, 2), 384);
        assert_eq!(connections_per_worker(65_536, 2), 32_640);
        assert_eq!(connections_per_worker(65_536, 0), 65_280);
        // A tiny limit still serves something.
        assert_eq!(connections_per_worker(100, 4), 16);
    }

    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_limit() {
        use rustix::process::{Resource, getrlimit};
        let before = getrlimit(Resource::Nofile);
        let now = raise_open_file_limit();
        let after = getrlimit(Resource::Nofile);
        assert_eq!(
            after.current,
            Some(now),
            "the limit returned is the one in force"
        );
        assert_eq!(after.maximum, before.maximum, "the hard limit is untouched");
        assert!(now >= before.current.unwrap_or(0).min(1 << 20));
    }
}
