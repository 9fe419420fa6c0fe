//! Logging set-up: human text or JSON lines, filtered by RUST_LOG (default `info`).
//!
//! Logging must never take the server down: a line that cannot be written (stderr on a full disk,
//! a closed pipe, `/dev/full`) is dropped and counted (`hookgate_log_lines_dropped_total`), and
//! the request goes on. Colour codes are written only to a terminal.

use crate::config::LogFormat;
use std::{
    io::{self, IsTerminal, Write},
    sync::atomic::{AtomicU64, Ordering},
};
use tracing_subscriber::{EnvFilter, fmt};

/// Log lines that could not be written since the process started.
static DROPPED_LINES: AtomicU64 = AtomicU64::new(0);

/// How many log lines were dropped because the log could not be written.
pub fn dropped_lines() -> u64 {
    DROPPED_LINES.load(Ordering::Relaxed)
}

/// The default filter: `info`, without actix's per-connection errors about malformed requests
/// (a client's mistake, answered and closed, is not an error of the server).
const DEFAULT_FILTER: &str = "info,actix_http::h1::dispatcher=off";

/// Install the global subscriber once; later calls (tests) are ignored.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = fmt()
        .with_env_filter(filter)
        .with_ansi(io::stderr().is_terminal())
        .with_writer(|| Lossy(io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// A writer that never fails: what cannot be written is counted and dropped.
pub struct Lossy<W>(pub W);

impl<W: Write> Write for Lossy<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.write_all(buf).is_err() {
            DROPPED_LINES.fetch_add(1, Ordering::Relaxed);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let _ = self.0.flush();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "no space left"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "no space left"))
        }
    }

    #[test]
    fn a_line_that_cannot_be_written_is_dropped_and_counted() {
        let before = dropped_lines();
        let mut w = Lossy(Full);
        assert_eq!(w.write(b"a log line\n").unwrap(), 11);
        assert!(w.flush().is_ok());
        assert!(dropped_lines() > before);
    }
}
