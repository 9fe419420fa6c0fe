//! The delivery worker: its own thread with a single-threaded runtime (the outbound HTTP client is
//! not `Send`). It starts ready deliveries as slots free, and keeps one write under way that
//! reports what finished and claims the refill; it looks for deliveries that became due every
//! `TICK` and when an event queues some. It stops when its `Stop` guard is dropped (the server
//! stopped).

use crate::{
    app::{
        AppResult,
        dispatch::{self, Claims, Dispatcher, Done},
    },
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
use tokio::sync::Notify;

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
    // What the attempts and the write under way hand back, and the signal that they did.
    let finished: Rc<RefCell<Vec<Done>>> = Rc::default();
    let written: Rc<RefCell<Option<AppResult<Claims>>>> = Rc::default();
    let handed_back = Rc::new(Notify::new());
    let mut writing = false;
    let mut dispatcher = Dispatcher::default();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let wake = Arc::clone(&state.delivery_wake);
    while !stop.load(Ordering::Relaxed) {
        tokio::select! {
            // Time passed (a retry may be due) or an event queued deliveries: claim.
            _ = tick.tick() => dispatcher.nudge(),
            () = wake.notified() => dispatcher.nudge(),
            // An attempt finished (its slot is free) or the write is done.
            () = handed_back.notified() => {}
        }
        if let Some(result) = written.borrow_mut().take() {
            writing = false;
            dispatcher.written(result);
        }
        let done = std::mem::take(&mut *finished.borrow_mut());
        dispatcher.finish(&state, done);
        for job in dispatcher.launch(&state) {
            let (state, outbound, finished, handed_back) = (
                state.clone(),
                Rc::clone(&outbound),
                Rc::clone(&finished),
                Rc::clone(&handed_back),
            );
            tokio::task::spawn_local(async move {
                let done = dispatch::attempt(&state, &outbound, job).await;
                finished.borrow_mut().push(done);
                handed_back.notify_one();
            });
        }
        // One write at a time, while the attempts go on: it reports what finished since the
        // last one and claims the refill.
        if !writing {
            if let Err(e) = dispatcher.refresh(&state).await {
                tracing::warn!(error = %e, "could not read the destinations");
            }
            if let Some(write) = dispatcher.write(&state) {
                writing = true;
                let (written, handed_back) = (Rc::clone(&written), Rc::clone(&handed_back));
                tokio::task::spawn_local(async move {
                    *written.borrow_mut() = Some(write.await);
                    handed_back.notify_one();
                });
            }
        }
    }
    // Give back what was claimed and not started, with the outcomes not yet written.
    let done = std::mem::take(&mut *finished.borrow_mut());
    dispatcher.finish(&state, done);
    if let Some(write) = dispatcher.stop(&state)
        && let Err(e) = write.await
    {
        tracing::debug!(error = %e, "could not give back the claimed deliveries");
    }
}
