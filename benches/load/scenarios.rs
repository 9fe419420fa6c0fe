//! The load generators: a closed loop and a paced (open) loop over keep-alive connections.

use crate::client::{Conn, event_id};
use crate::tally::{IO_ERROR, Tally, micros};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

async fn open_all(port: u16, n: usize) -> Vec<Conn> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(Conn::open(port).await.expect("connect to the server"));
    }
    conns
}

/// Closed loop over `conns` connections: request `i` (0 ≤ i < count) is `requests[i % len]`,
/// taken from a shared counter by whichever connection is free; stops at `count` or `deadline`.
pub async fn closed_loop(
    port: u16,
    conns: usize,
    requests: Arc<Vec<Vec<u8>>>,
    count: usize,
    deadline: Option<Duration>,
) -> (Tally, Duration) {
    let connections = open_all(port, conns).await;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = deadline.map(|d| started + d);
    let per_conn = (count / conns).min(1 << 20) + 16;
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut conn| {
            let (requests, next) = (requests.clone(), next.clone());
            tokio::spawn(async move {
                let mut tally = Tally::with_capacity(per_conn);
                loop {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let request = &requests[i % requests.len()];
                    let sent = Instant::now();
                    let status = conn.exchange(request).await;
                    tally.record(status.as_ref().copied().unwrap_or(IO_ERROR), sent.elapsed());
                    if status.is_err() || conn.closed {
                        conn = match Conn::open(port).await {
                            Ok(c) => c,
                            Err(_) => break,
                        };
                    }
                }
                tally
            })
        })
        .collect();
    let mut all = Tally::default();
    for t in tasks {
        all.merge(t.await.expect("a load task panicked"));
    }
    (all, started.elapsed())
}

/// Open loop: request `i` is due at start + i/rate and goes out on connection i mod conns.
/// Latency counts from when it was due, so time a request spends waiting behind a slow one on
/// its connection is charged to the server, not silently skipped (coordinated omission).
///
/// With `acks`, each 2xx response's `event_id` is kept with the instant the response was read
/// (`Tally::acks`), for matching against what a destination receives.
///
/// The schedule is kept by a plain thread sleeping with `std::thread::sleep` (tens of
/// microseconds of slack) rather than tokio timers, which round every deadline up to the next
/// millisecond; that rounding would otherwise add up to a millisecond of client-made latency.
pub async fn paced(
    port: u16,
    conns: usize,
    rate: u64,
    requests: Arc<Vec<Vec<u8>>>,
    acks: bool,
) -> (Tally, Duration) {
    let total = requests.len();
    let connections = open_all(port, conns).await;
    let start = Instant::now() + Duration::from_millis(20);
    let due = move |i: usize| {
        start + Duration::from_nanos((i as u128 * 1_000_000_000 / rate as u128) as u64)
    };
    let mut senders = Vec::with_capacity(conns);
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|mut conn| {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
            senders.push(tx);
            let requests = requests.clone();
            tokio::spawn(async move {
                let n = total / conns + 1;
                let mut tally = Tally::with_capacity(n);
                tally.service.reserve(n);
                tally.lag.reserve(n);
                let mut last = start;
                let mut body = Vec::new();
                while let Some(i) = rx.recv().await {
                    let scheduled = due(i);
                    let sent = Instant::now();
                    let status = conn
                        .exchange_keeping(&requests[i], acks.then_some(&mut body))
                        .await;
                    let done = Instant::now();
                    if acks
                        && matches!(status, Ok(200..=299))
                        && let Some(id) = event_id(&body)
                    {
                        tally.acks.push((id.to_string(), done));
                    }
                    tally.record(
                        status.as_ref().copied().unwrap_or(IO_ERROR),
                        done - scheduled,
                    );
                    tally.service.push(micros(done - sent));
                    tally
                        .lag
                        .push(micros(sent.saturating_duration_since(scheduled)));
                    last = done;
                    if status.is_err() || conn.closed {
                        match Conn::open(port).await {
                            Ok(c) => conn = c,
                            Err(_) => break,
                        }
                    }
                }
                (tally, last)
            })
        })
        .collect();
    let pacer = std::thread::spawn(move || {
        for i in 0..total {
            let wait = due(i).saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            let _ = senders[i % conns].send(i);
        }
        // Dropping the senders ends the connection tasks once their queues are drained.
    });
    let mut all = Tally::default();
    let mut end = start;
    for t in tasks {
        let (tally, last) = t.await.expect("a paced task panicked");
        all.merge(tally);
        end = end.max(last);
    }
    pacer.join().expect("the pacer thread panicked");
    (all, end - start)
}
