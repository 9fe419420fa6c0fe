//! The single writer: one thread owns the read-write connection. Handlers send closures over a
//! bounded channel; the writer drains what is queued (up to `MAX_BATCH`), runs each closure inside
//! its own SAVEPOINT within one `BEGIN IMMEDIATE` transaction, commits once (one fsync for the
//! group) and only then replies to each sender. A closure that fails rolls back its own savepoint
//! without disturbing the rest of the group; a failed commit fails every member of the group.

use super::{StoreError, StoreResult};
use rusqlite::Connection;
use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    time::Instant,
};
use tokio::sync::oneshot;

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 512;
/// Jobs that may wait for the writer before callers get 503s (backpressure).
const QUEUE_CAPACITY: usize = 8192;

/// A unit of work for the writer, type-erased.
trait Job: Send {
    /// Run inside the group transaction.
    fn run(&mut self, conn: &Connection);
    /// Deliver the outcome once the group's fate is known.
    fn finish(self: Box<Self>, committed: &StoreResult<()>);
}

struct TypedJob<T, E, F> {
    work: Option<F>,
    outcome: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Job for TypedJob<T, E, F>
where
    T: Send,
    E: From<StoreError> + Send,
    F: FnOnce(&Connection) -> Result<T, E> + Send,
{
    fn run(&mut self, conn: &Connection) {
        let Some(work) = self.work.take() else { return };
        if let Err(e) = cached(conn, "SAVEPOINT job") {
            self.outcome = Some(Err(StoreError::from(e).into()));
            return;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| work(conn))).unwrap_or_else(|_| {
            Err(StoreError::Internal("a write panicked; it was rolled back".into()).into())
        });
        let end = if outcome.is_ok() {
            cached(conn, "RELEASE job")
        } else {
            cached(conn, "ROLLBACK TO job").and_then(|()| cached(conn, "RELEASE job"))
        };
        self.outcome = Some(match (end, outcome) {
            (Ok(()), outcome) => outcome,
            // The job's own error explains more than a failed rollback (after SQLITE_FULL the
            // savepoint may already be gone with the whole transaction).
            (Err(_), Err(own)) => Err(own),
            (Err(e), Ok(_)) => Err(StoreError::from(e).into()),
        });
    }

    fn finish(self: Box<Self>, committed: &StoreResult<()>) {
        let result = match (self.outcome, committed) {
            (Some(Ok(_)), Err(e)) => Err(e.clone().into()),
            (Some(outcome), _) => outcome,
            (None, Err(e)) => Err(e.clone().into()),
            (None, Ok(())) => Err(StoreError::Internal("job was never run".into()).into()),
        };
        // The caller may have gone away (client disconnected); the write stands regardless.
        let _ = self.reply.send(result);
    }
}

/// Run a parameterless statement through the statement cache (no re-parsing per job).
fn cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Counters describing the writer, for metrics.
#[derive(Debug, Default)]
pub struct WriterStats {
    pub queued: AtomicU64,
    pub batches: AtomicU64,
    pub jobs: AtomicU64,
    pub failed_commits: AtomicU64,
    pub last_batch_size: AtomicU64,
    pub commit_micros_total: AtomicU64,
    pub last_commit_micros: AtomicU64,
}

/// Handle for sending work to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::SyncSender<Box<dyn Job>>,
    stats: Arc<WriterStats>,
}

impl Writer {
    /// Spawn the writer thread owning `conn`.
    pub fn start(conn: Connection) -> StoreResult<Writer> {
        let (tx, rx) = mpsc::sync_channel::<Box<dyn Job>>(QUEUE_CAPACITY);
        let stats = Arc::new(WriterStats::default());
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name("hookgate-writer".into())
            .spawn(move || run_writer(conn, rx, &thread_stats))
            .map_err(|e| StoreError::Internal(format!("cannot start writer thread: {e}")))?;
        Ok(Writer { tx, stats })
    }

    /// Queue `work`; resolves once its group has committed (or failed).
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(TypedJob {
            work: Some(work),
            outcome: None,
            reply,
        });
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.tx.try_send(job) {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            let reason = match e {
                mpsc::TrySendError::Full(_) => "write queue is full",
                mpsc::TrySendError::Disconnected(_) => "writer thread has stopped",
            };
            return Err(StoreError::Unavailable(reason.into()).into());
        }
        answer.await.unwrap_or_else(|_| {
            Err(StoreError::Unavailable("writer thread has stopped".into()).into())
        })
    }

    /// The writer's counters.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }
}

fn run_writer(conn: Connection, rx: mpsc::Receiver<Box<dyn Job>>, stats: &WriterStats) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats
            .queued
            .fetch_sub(batch.len() as u64, Ordering::Relaxed);
        let started = Instant::now();
        let committed = run_group(&conn, &mut batch);
        let micros = started.elapsed().as_micros() as u64;
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
        stats
            .last_batch_size
            .store(batch.len() as u64, Ordering::Relaxed);
        stats
            .commit_micros_total
            .fetch_add(micros, Ordering::Relaxed);
        stats.last_commit_micros.store(micros, Ordering::Relaxed);
        if let Err(e) = &committed {
            stats.failed_commits.fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, jobs = batch.len(), "write group failed");
        }
        for job in batch.drain(..) {
            job.finish(&committed);
        }
    }
    tracing::debug!("writer thread stopping: all handles dropped");
}

fn run_group(conn: &Connection, batch: &mut [Box<dyn Job>]) -> StoreResult<()> {
    cached(conn, "BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        job.run(conn);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back on its own (disk full, I/O error): nothing
            // of this group stands, so every member fails, including those that already ran.
            return Err(StoreError::Unavailable(
                "the transaction was rolled back by SQLite (disk full or I/O error)".into(),
            ));
        }
    }
    if let Err(e) = cached(conn, "COMMIT") {
        // Leave the connection usable for the next group.
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (tempfile::TempDir, Writer, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = super::super::open_connection(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
            .unwrap();
        (dir, Writer::start(conn).unwrap(), path)
    }

    fn count(path: &std::path::Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_grouped_and_all_committed() {
        let (_dir, w, path) = writer();
        let mut handles = Vec::new();
        for i in 0..500 {
            let w = w.clone();
            handles.push(tokio::spawn(async move {
                w.write(move |c| {
                    c.execute("INSERT INTO t (v) VALUES (?1)", [format!("v{i}")])
                        .map_err(StoreError::from)
                })
                .await
            }));
        }
        for h in handles {
            assert_eq!(h.await.unwrap().unwrap(), 1);
        }
        assert_eq!(count(&path), 500);
        assert_eq!(w.stats().jobs.load(Ordering::Relaxed), 500);
        assert!(w.stats().batches.load(Ordering::Relaxed) <= 500);
    }

    #[tokio::test]
    async fn a_failing_job_rolls_back_alone() {
        let (_dir, w, path) = writer();
        let ok = w.write(|c| {
            c.execute("INSERT INTO t (v) VALUES ('a')", [])
                .map_err(StoreError::from)
        });
        let bad = w.write(|c| {
            c.execute("INSERT INTO t (v) VALUES ('b')", [])?;
            c.execute("INSERT INTO t (v) VALUES ('a')", [])
                .map_err(StoreError::from)
        });
        let (ok, bad) = tokio::join!(ok, bad);
        assert!(ok.is_ok());
        assert!(bad.is_err());
        assert_eq!(
            count(&path),
            1,
            "the failed job's first insert was rolled back too"
        );
    }

    #[tokio::test]
    async fn a_full_disk_fails_the_write_as_unavailable_and_the_writer_recovers() {
        let (_dir, w, path) = writer();
        // Cap the database at its current size: the next page allocation hits SQLITE_FULL.
        w.write(|c| {
            let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
            c.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
        let big = "x".repeat(64 * 1024);
        let full = w
            .write(move |c| {
                c.execute("INSERT INTO t (v) VALUES (?1)", [big])
                    .map_err(StoreError::from)
            })
            .await;
        assert!(
            matches!(full, Err(StoreError::Unavailable(ref m)) if m.contains("full")),
            "{full:?}"
        );
        // Space comes back: the same writer commits again.
        w.write(|c| {
            c.query_row("PRAGMA max_page_count = 1000000", [], |_| Ok(()))?;
            c.execute("INSERT INTO t (v) VALUES ('after')", [])
                .map_err(StoreError::from)
        })
        .await
        .unwrap();
        assert_eq!(count(&path), 1);
    }

    #[tokio::test]
    async fn a_panicking_job_does_not_kill_the_writer() {
        let (_dir, w, path) = writer();
        let r: StoreResult<()> = w.write(|_| panic!("boom")).await;
        assert!(matches!(r, Err(StoreError::Internal(_))));
        w.write(|c| {
            c.execute("INSERT INTO t (v) VALUES ('x')", [])
                .map_err(StoreError::from)
        })
        .await
        .unwrap();
        assert_eq!(count(&path), 1);
    }
}
