//! Building the application (bind, open storage, load keys) separately from running it, so that
//! tests start exactly what `main` starts, on port 0.

use crate::{config::Config, crypto::Crypto, http, jobs, store::Store};
use actix_web::{App, HttpServer, dev::Server, web};
use std::{fmt, net::TcpListener, path::PathBuf, sync::Arc};

/// Shared state of every request handler.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub crypto: Arc<Crypto>,
    pub limits: Arc<http::limits::Limits>,
    pub keys: Arc<http::keys::KeyCache>,
    pub metrics: Arc<crate::metrics::Metrics>,
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

/// Paths inside the data dir.
pub struct DataPaths {
    pub dir: PathBuf,
    pub database: PathBuf,
    pub master_key: PathBuf,
}

impl DataPaths {
    pub fn new(config: &Config) -> DataPaths {
        DataPaths {
            dir: config.data_dir.clone(),
            database: config.data_dir.join("hookgate.db"),
            master_key: config.data_dir.join("master.key"),
        }
    }
}

/// Open (creating on first start) the data dir, database and master key.
pub fn open_data(config: &Config) -> Result<(Store, Arc<Crypto>), StartupError> {
    let paths = DataPaths::new(config);
    create_private_dir(&paths.dir).map_err(|e| {
        StartupError(format!(
            "--data-dir {}: cannot create: {e}",
            paths.dir.display()
        ))
    })?;
    let crypto = Crypto::load_or_create(&paths.master_key)
        .map_err(|e| StartupError(format!("master key {}: {e}", paths.master_key.display())))?;
    let store = Store::open(&paths.database)
        .map_err(|e| StartupError(format!("database {}: {e}", paths.database.display())))?;
    Ok((store, Arc::new(crypto)))
}

fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Bind the listener and prepare everything; nothing is served until `run`.
    pub fn build(config: Config) -> Result<Application, StartupError> {
        let (store, crypto) = open_data(&config)?;
        let listener = TcpListener::bind(config.bind)
            .map_err(|e| StartupError(format!("--bind {}: {e}", config.bind)))?;
        let port = listener
            .local_addr()
            .map_err(|e| StartupError(e.to_string()))?
            .port();
        let state = AppState {
            limits: Arc::new(http::limits::Limits::new(&config)),
            config: Arc::new(config),
            store,
            crypto,
            keys: Arc::new(http::keys::KeyCache::default()),
            metrics: Arc::new(crate::metrics::Metrics::default()),
        };
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
        jobs::resume_metrics(&self.state).await;
        let jobs = jobs::spawn_all(self.state.clone());
        let result = self.server.await;
        for job in jobs {
            job.abort();
        }
        // Keep the last counts of this hour.
        jobs::roll_up_metrics(&self.state).await;
        result
    }
}

impl Application {
    /// How many admins exist (to decide whether to print first-run instructions).
    pub async fn admin_count(&self) -> Result<i64, crate::store::StoreError> {
        self.state.store.read(crate::store::admins::count).await
    }

    /// Issue a one-time setup link (valid one hour, replacing any earlier one) and return the
    /// lines printed on start when no admin exists.
    pub async fn first_admin_hint(&self) -> Result<String, crate::store::StoreError> {
        let token = self.state.crypto.new_token("");
        let hash = crate::crypto::token_hash(&token);
        let expires_at = crate::clock::now() + 3600;
        self.state
            .store
            .write(move |c| crate::store::sessions::set_setup_token(c, &hash, expires_at))
            .await?;
        Ok(format!(
            "No admin exists yet. Open this one-time link (valid for 1 hour) to create the first one:\n  \
             {}/admin/setup?token={token}\nor run:\n  hookgate --data-dir {} admin create --email you@example.com",
            self.state.config.public_url,
            self.state.config.data_dir.display()
        ))
    }
}
