//! All SQL lives here: the connection set-up, migrations, the read pool and the single
//! group-commit writer. One file per table group.

pub mod accounts;
pub mod admins;
pub mod alerts;
pub mod audit;
pub mod deliveries;
pub mod delivery_stats;
pub mod destinations;
pub mod failures;
pub mod kyc;
pub mod maintenance;
pub mod metrics;
mod migrations;
pub mod orders;
pub mod outbox;
pub mod secrets;
pub mod sessions;
pub mod settings;
pub mod setup;
pub mod sources;
mod writer;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use std::{fmt, path::Path, time::Duration};

pub use migrations::SCHEMA_VERSION;
pub use writer::{Writer, WriterStats};

/// A storage failure, split by what the caller should tell its client.
#[derive(Debug, Clone)]
pub enum StoreError {
    /// Disk full, I/O error, database busy or locked beyond the timeout, writer gone: transient,
    /// answered 503 with Retry-After.
    Unavailable(String),
    /// Anything else (a bug or corrupt data): answered 500.
    Internal(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(r) => write!(f, "storage unavailable: {r}"),
            StoreError::Internal(r) => write!(f, "storage error: {r}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::*;
        match e.sqlite_error_code() {
            Some(
                DiskFull
                | SystemIoFailure
                | DatabaseBusy
                | DatabaseLocked
                | CannotOpen
                | ReadOnly
                | OutOfMemory
                | FileLockingProtocolFailed,
            ) => StoreError::Unavailable(e.to_string()),
            _ => StoreError::Internal(e.to_string()),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// Handle to the database: a read pool and the writer. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    reads: r2d2::Pool<SqliteConnectionManager>,
    writer: Writer,
}

/// How long a connection waits on a lock before SQLITE_BUSY.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Apply the per-connection settings every connection needs.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Open a read-write connection with the house pragmas (WAL is a property of the file).
pub fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Internal(format!(
            "could not enable WAL (journal_mode={mode})"
        )));
    }
    Ok(conn)
}

impl Store {
    /// Open (creating and migrating when needed) the database at `path` and start the writer.
    pub fn open(path: &Path) -> StoreResult<Store> {
        let mut conn = open_connection(path)?;
        let version: String = conn.query_row("SELECT sqlite_version()", [], |r| r.get(0))?;
        tracing::info!(sqlite_version = %version, path = %path.display(), "database opened");
        migrations::migrate(&mut conn)?;
        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| {
                c.busy_timeout(BUSY_TIMEOUT)?;
                c.pragma_update(None, "foreign_keys", "ON")
            });
        let reads = r2d2::Pool::builder()
            .max_size(8)
            .connection_timeout(Duration::from_secs(5))
            .build(manager)?;
        // A larger page cache for the writer: the hot index pages stay in memory.
        conn.pragma_update(None, "cache_size", -16_384)?;
        // Statement and savepoint journals (a re-run group has one per job) stay in memory.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        let writer = Writer::start(conn)?;
        Ok(Store { reads, writer })
    }

    /// Run a read on a pooled connection off the async executor.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = self.reads.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get()?;
            f(&conn)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }

    /// Run a write inside the writer's group transaction; answered after the group
    /// committed. `f` may run more than once; only its last run stands.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnMut(&Connection) -> Result<T, E> + Send + 'static,
    {
        self.writer.write(f).await
    }

    /// The writer, for its statistics.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }
}

/// Whether a query error means "no such row".
pub(crate) fn optional<T>(r: rusqlite::Result<T>) -> rusqlite::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A prefixed, time-ordered identifier such as `mer_0193c9...`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// A real, tiny write: proves the database file accepts commits (readiness).
pub fn probe_write(conn: &Connection, now: i64) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('ready_probe', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [now.to_string()],
    )?;
    Ok(())
}

/// `EXPLAIN QUERY PLAN` for the tests that hold queries to their indexes.
#[cfg(test)]
pub(crate) mod plan {
    use rusqlite::Connection;

    /// The plan's steps of `sql` (every parameter bound to 0).
    pub fn steps(conn: &Connection, sql: &str) -> Vec<String> {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let params = vec![0; stmt.parameter_count()];
        stmt.query_map(rusqlite::params_from_iter(params), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Fail unless `sql` runs without a table scan or a temporary sort.
    #[track_caller]
    pub fn assert_indexed(conn: &Connection, sql: &str) {
        let steps = steps(conn, sql);
        let scans: Vec<&String> = steps
            .iter()
            .filter(|s| s.starts_with("SCAN") || s.contains("TEMP B-TREE"))
            .collect();
        assert!(scans.is_empty(), "{sql}\nhas a scan or sort: {steps:#?}");
    }
}
