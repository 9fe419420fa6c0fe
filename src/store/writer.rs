//! The single writer: one thread owns the read-write connection. Handlers send closures over a
//! bounded channel; the writer drains what is queued (up to `MAX_BATCH`), runs them one after
//! the other inside one `BEGIN IMMEDIATE` transaction, commits once (one fsync for the group) and
//! only then replies to each sender.
//!
//! Jobs run without savepoints: a savepoint per job costs about an eighth of the writer's time.
//! When a job fails (or panics), the group is rolled back and run again from the start with each
//! job inside its own SAVEPOINT, so the failure is rolled back alone and the others still commit.
//! That is why jobs are `FnMut`: a job may run twice, and only the last run's effects and answer
//! stand. A failed commit fails every member of the group.

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

/// How a job is run inside the group transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// Straight in the group transaction (the fast path).
    Shared,
    /// Inside its own savepoint, so a failure rolls back only this job (the re-run).
    Savepoint,
}

/// A unit of work for the writer, type-erased.
trait Job: Send {
    /// Run inside the group transaction; returns whether the work succeeded. May be called again
    /// after the group was rolled back, replacing the earlier outcome.
    fn run(&mut self, conn: &Connection, isolation: Isolation) -> bool;
    /// Deliver the outcome once the group's fate is known.
    fn finish(self: Box<Self>, committed: &StoreResult<()>);
}

struct TypedJob<T, E, F> {
    work: F,
    outcome: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> TypedJob<T, E, F>
where
    E: From<StoreError>,
    F: FnMut(&Connection) -> Result<T, E>,
{
    fn call(&mut self, conn: &Connection) -> Result<T, E> {
        catch_unwind(AssertUnwindSafe(|| (self.work)(conn))).unwrap_or_else(|_| {
            Err(StoreError::Internal("a write panicked; it was rolled back".into()).into())
        })
    }

    /// `call` inside its own savepoint, rolled back if it fails.
    fn call_in_savepoint(&mut self, conn: &Connection) -> Result<T, E> {
        cached(conn, "SAVEPOINT job").map_err(StoreError::from)?;
        let outcome = self.call(conn);
        let end = if outcome.is_ok() {
            cached(conn, "RELEASE job")
        } else {
            cached(conn, "ROLLBACK TO job").and_then(|()| cached(conn, "RELEASE job"))
        };
        match (end, outcome) {
            (Ok(()), outcome) => outcome,
            // The job's own error explains more than a failed rollback (after SQLITE_FULL the
            // savepoint may already be gone with the whole transaction).
            (Err(_), Err(own)) => Err(own),
            (Err(e), Ok(_)) => Err(StoreError::from(e).into()),
        }
    }
}

impl<T, E, F> Job for TypedJob<T, E, F>
where
    T: Send,
    E: From<StoreError> + Send,
    F: FnMut(&Connection) -> Result<T, E> + Send,
{
    fn run(&mut self, conn: &Connection, isolation: Isolation) -> bool {
        let outcome = match isolation {
            Isolation::Shared => self.call(conn),
            Isolation::Savepoint => self.call_in_savepoint(conn),
        };
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
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
    /// Groups run a second time, job by job in savepoints, because one of their jobs failed.
    pub reruns: AtomicU64,
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

    /// Queue `work`; resolves once its group has committed (or failed). `work` may run more than
    /// once (see the module comment), so it must have no effects outside the connection.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnMut(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(TypedJob {
            work,
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
    // Groups failed in a row (0 while storage is healthy).
    let mut failing_groups: u64 = 0;
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
        let committed = run_group(&conn, &mut batch, stats);
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
        // One log line per change of state, not one per failed group: a full disk under load
        // would otherwise write thousands of lines a second to the same disk.
        match &committed {
            Err(e) => {
                stats.failed_commits.fetch_add(1, Ordering::Relaxed);
                if failing_groups == 0 {
                    tracing::error!(error = %e, jobs = batch.len(),
                        "storage is failing: writes are answered 503 until it recovers");
                }
                failing_groups += 1;
            }
            Ok(()) if failing_groups > 0 => {
                tracing::warn!(failing_groups, "storage recovered: writes commit again");
                failing_groups = 0;
            }
            Ok(()) => {}
        }
        for job in batch.drain(..) {
            job.finish(&committed);
        }
    }
    tracing::debug!("writer thread stopping: all handles dropped");
}

fn run_group(
    conn: &Connection,
    batch: &mut [Box<dyn Job>],
    stats: &WriterStats,
) -> StoreResult<()> {
    cached(conn, "BEGIN IMMEDIATE")?;
    if !run_jobs(conn, batch, Isolation::Shared)? {
        // A job failed with the others' work around it: start over, isolating each job.
        stats.reruns.fetch_add(1, Ordering::Relaxed);
        cached(conn, "ROLLBACK")?;
        cached(conn, "BEGIN IMMEDIATE")?;
        run_jobs(conn, batch, Isolation::Savepoint)?;
    }
    if let Err(e) = cached(conn, "COMMIT") {
        // Leave the connection usable for the next group.
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e.into());
    }
    Ok(())
}

/// Run the group's jobs in order; `Ok(false)` when a shared-mode job failed (the rest are not
/// run), `Err` when SQLite itself ended the transaction.
fn run_jobs(
    conn: &Connection,
    batch: &mut [Box<dyn Job>],
    isolation: Isolation,
) -> StoreResult<bool> {
    for job in batch.iter_mut() {
        let ok = job.run(conn, isolation);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back on its own (disk full, I/O error): nothing
            // of this group stands, so every member fails, including those that already ran.
            return Err(StoreError::Unavailable(
                "the transaction was rolled back by SQLite (disk full or I/O error)".into(),
            ));
        }
        if !ok && isolation == Isolation::Shared {
            return Ok(false);
        }
    }
    Ok(true)
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
    async fn writes_queued_while_the_writer_is_busy_commit_as_one_group() {
        const QUEUED: u64 = 500;
        const _: () = assert!(QUEUED < MAX_BATCH as u64, "they fit in one group");
        let (_dir, w, path) = writer();
        let mut handles = Vec::new();
        queue_behind_gate(&w, QUEUED, || {
            for i in 0..QUEUED {
                let w = w.clone();
                handles.push(tokio::spawn(async move {
                    w.write(move |c| {
                        c.execute("INSERT INTO t (v) VALUES (?1)", [format!("v{i}")])
                            .map_err(StoreError::from)
                    })
                    .await
                }));
            }
        })
        .await;
        for h in handles {
            assert_eq!(h.await.unwrap().unwrap(), 1);
        }
        assert_eq!(count(&path), QUEUED as i64);
        let stats = w.stats();
        assert_eq!(
            stats.jobs.load(Ordering::Relaxed),
            QUEUED + 1,
            "the gate and the queued writes"
        );
        assert_eq!(
            stats.batches.load(Ordering::Relaxed),
            2,
            "one group for the gate, then one for everything queued behind it"
        );
        assert_eq!(stats.last_batch_size.load(Ordering::Relaxed), QUEUED);
        assert_eq!(
            stats.reruns.load(Ordering::Relaxed),
            0,
            "groups without failures run once"
        );
    }

    /// Hold the writer inside a job until `n` more writes are queued, so they form one group.
    async fn queue_behind_gate<F>(w: &Writer, n: u64, queue: F)
    where
        F: FnOnce(),
    {
        let (open, gate) = std::sync::mpsc::channel::<()>();
        let (entered, in_gate) = tokio::sync::oneshot::channel::<()>();
        let mut entered = Some(entered);
        let held = w.clone();
        let gate_job = tokio::spawn(async move {
            held.write(move |_| {
                if let Some(tx) = entered.take() {
                    let _ = tx.send(());
                }
                let _ = gate.recv();
                Ok::<_, StoreError>(())
            })
            .await
        });
        in_gate.await.unwrap();
        queue();
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while w.stats().queued.load(Ordering::Relaxed) < n {
            assert!(Instant::now() < deadline, "writes were not queued");
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        open.send(()).unwrap();
        gate_job.await.unwrap().unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_in_a_group_is_rolled_back_alone_and_the_others_commit() {
        let (_dir, w, path) = writer();
        w.write(|c| {
            c.execute("INSERT INTO t (v) VALUES ('taken')", [])
                .map_err(StoreError::from)
        })
        .await
        .unwrap();
        let insert = |w: &Writer, v: &'static str| {
            let w = w.clone();
            tokio::spawn(async move {
                w.write(move |c| {
                    c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                    Ok::<_, StoreError>(c.last_insert_rowid())
                })
                .await
            })
        };
        let mut handles = Vec::new();
        let mut bad = None;
        queue_behind_gate(&w, 4, || {
            handles.push(("x", insert(&w, "x")));
            let wb = w.clone();
            bad = Some(tokio::spawn(async move {
                wb.write(|c| {
                    c.execute("INSERT INTO t (v) VALUES ('partial')", [])?;
                    c.execute("INSERT INTO t (v) VALUES ('taken')", [])
                        .map_err(StoreError::from)
                })
                .await
            }));
            handles.push(("y", insert(&w, "y")));
            handles.push(("z", insert(&w, "z")));
        })
        .await;
        assert!(bad.unwrap().await.unwrap().is_err());
        let conn = Connection::open(&path).unwrap();
        for (v, handle) in handles {
            let answered = handle.await.unwrap().unwrap();
            let stored: i64 = conn
                .query_row("SELECT id FROM t WHERE v = ?1", [v], |r| r.get(0))
                .unwrap();
            assert_eq!(
                answered, stored,
                "{v}: the answer comes from the run that committed"
            );
        }
        let partial: i64 = conn
            .query_row("SELECT count(*) FROM t WHERE v = 'partial'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(partial, 0, "the failed job's first insert was rolled back");
        assert_eq!(count(&path), 4);
        assert_eq!(w.stats().reruns.load(Ordering::Relaxed), 1);
        assert_eq!(w.stats().failed_commits.load(Ordering::Relaxed), 0);
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
                c.execute("INSERT INTO t (v) VALUES (?1)", [big.as_str()])
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
