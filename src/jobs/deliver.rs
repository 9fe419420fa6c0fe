//! The delivery worker: its own thread with a single-threaded runtime (the outbound HTTP client is
//! not `Send`), ticking every `TICK`: claim what may go, attempt it concurrently, report what
//! finished. It stops when its `Stop` guard is dropped (the server stopped).

use crate::{
    app::dispatch::{self, Dispatcher, Done},
    outbound::Outbound,
    state::AppState,
};
use std::{
    cell::RefCell,
    rc::Rc,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

/// How often the worker looks for due deliveries and reports finished ones.
const TICK: Duration = Duration::from_millis(50);

/// Dropping it stops the worker.
pub struct Stop(Arc<AtomicBool>);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Start the worker thread.
pub fn spawn(state: AppState) -> Stop {
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let started = std::thread::Builder::new()
        .name("deliveries".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "the delivery worker could not start");
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, run(state, stopped));
        });
    if let Err(e) = started {
        tracing::error!(error = %e, "the delivery worker thread could not start");
    }
    Stop(stop)
}

async fn run(state: AppState, stop: Arc<AtomicBool>) {
    let outbound = Rc::new(Outbound::new(state.config.destination_allow.clone()));
    let finished: Rc<RefCell<Vec<Done>>> = Rc::default();
    let mut dispatcher = Dispatcher::default();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let wake = Arc::clone(&state.delivery_wake);
    while !stop.load(Ordering::Relaxed) {
        // Work as soon as an attempt finishes (its slot is free) or an event queued a delivery;
        // the tick is the fallback for deliveries that became due with time.
        tokio::select! {
            _ = tick.tick() => {}
            () = wake.notified() => {}
        }
        let done = std::mem::take(&mut *finished.borrow_mut());
        match dispatcher.cycle(&state, done).await {
            Ok(jobs) => {
                for job in jobs {
                    let (state, outbound, finished) =
                        (state.clone(), Rc::clone(&outbound), Rc::clone(&finished));
                    tokio::task::spawn_local(async move {
                        let done = dispatch::attempt(&state, &outbound, job).await;
                        finished.borrow_mut().push(done);
                        state.delivery_wake.notify_one();
                    });
                }
            }
            // The outcomes are lost with the write; their leases expire and they go again
            // (at least once).
            Err(e) => tracing::warn!(error = %e, "could not record outcomes or claim deliveries"),
        }
    }
}
