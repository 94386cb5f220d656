//! One planner for the whole server, fed by a bounded queue.
//!
//! Uploads with `AUTO_PLAN` and `POST /api/pending-inputs/{id}/enqueue-plan` put the input's
//! id into the queue; one thread plans the inputs in order, so 300 uploads cost one
//! thread, not 300. A full queue answers 503 (try again later). Each plan gets
//! [`ServerConfig::plan_timeout`](crate::ServerConfig::plan_timeout): past it the input
//! fails with a message that says so, and the planner waits for the abandoned computation
//! to end before it starts the next one (it only writes its own work folder), so plans
//! never run side by side. At start the server gives back the inputs a previous run left
//! `planning` ([`recover`]).

use std::collections::HashSet;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::JoinHandle;

use axum::http::StatusCode;
use refinery_store::queue::{Job, StoredPlan};

use crate::error::ApiError;
use crate::planning;
use crate::AppState;

/// What a plan request gives back: the stored plan and the jobs `AUTO_BUILD` enqueued.
pub type Planned = Result<(StoredPlan, Vec<Job>), ApiError>;

struct Request {
    input: i64,
    /// Where the caller waits for the result (`?wait=true`), if it does.
    reply: Option<mpsc::Sender<Planned>>,
}

/// The queue in front of the planner thread.
#[derive(Default)]
pub struct PlanQueue {
    sender: OnceLock<SyncSender<Request>>,
    /// Inputs in the queue, not yet taken by the planner (a second request is a no-op).
    waiting: Mutex<HashSet<i64>>,
}

/// What [`PlanQueue::submit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    Queued,
    /// The input was already waiting for the planner.
    AlreadyQueued,
}

impl PlanQueue {
    /// Starts the planner thread for `state` (once; later calls do nothing). The thread
    /// holds the state weakly and ends when the server's state is dropped.
    pub fn start(state: &Arc<AppState>) {
        let (tx, rx) = mpsc::sync_channel(state.config.max_queued_plans.max(1));
        if state.plan_queue.sender.set(tx).is_err() {
            return;
        }
        let weak = Arc::downgrade(state);
        let spawned = std::thread::Builder::new()
            .name("refinery-planner".into())
            .spawn(move || run(&weak, &rx));
        if let Err(e) = spawned {
            tracing::error!("cannot start the planner thread: {e}");
        }
    }

    /// Queues input `id` for planning. 503 when the queue is full or the planner is not
    /// running.
    pub fn submit(&self, id: i64) -> Result<Submitted, ApiError> {
        if !self.waiting.lock().expect("plan queue").insert(id) {
            return Ok(Submitted::AlreadyQueued);
        }
        match self.send(Request {
            input: id,
            reply: None,
        }) {
            Ok(()) => Ok(Submitted::Queued),
            Err(e) => {
                self.waiting.lock().expect("plan queue").remove(&id);
                Err(e)
            }
        }
    }

    /// Queues input `id` and waits (blocking) until the planner has planned it.
    pub fn plan_and_wait(&self, id: i64) -> Planned {
        let (tx, rx) = mpsc::channel();
        self.send(Request {
            input: id,
            reply: Some(tx),
        })?;
        rx.recv()
            .unwrap_or_else(|_| Err(ApiError::unavailable("the planner stopped")))
    }

    /// Inputs waiting for the planner (not counting the one it is planning).
    pub fn waiting(&self) -> usize {
        self.waiting.lock().expect("plan queue").len()
    }

    /// 503 `planner_busy` when `capacity` inputs already wait: uploads that would be
    /// planned check it before they store anything.
    pub fn check_room(&self, capacity: usize) -> Result<(), ApiError> {
        if self.waiting() >= capacity {
            return Err(planner_busy());
        }
        Ok(())
    }

    fn send(&self, request: Request) -> Result<(), ApiError> {
        let Some(sender) = self.sender.get() else {
            return Err(ApiError::unavailable("the planner is not running"));
        };
        sender.try_send(request).map_err(|e| match e {
            TrySendError::Full(_) => planner_busy(),
            TrySendError::Disconnected(_) => ApiError::unavailable("the planner stopped"),
        })
    }
}

fn planner_busy() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "planner_busy",
        "the planner's queue is full; try again when it has planned some inputs \
         (the server's --max-queued-plans sets its length)",
    )
}

/// Gives back the inputs a previous run of the server left `planning` (it stopped while
/// planning them): they become `pending` with a note, and with `AUTO_PLAN` they are queued
/// again. Returns how many were recovered. One control plane per database: another
/// server's plan in progress would be taken back too.
pub fn recover(state: &Arc<AppState>) -> Result<usize, ApiError> {
    let stranded = state.store.recover_planning_inputs(
        "the server stopped while planning this input; it was given back at the next start",
    )?;
    if stranded.is_empty() {
        return Ok(0);
    }
    let auto_plan = state.store.settings()?.auto_plan;
    for input in &stranded {
        tracing::warn!(
            input = input.id,
            auto_plan,
            "input was left `planning` by a previous run; it is pending again"
        );
        if auto_plan {
            state.plan_queue.submit(input.id)?;
        }
    }
    Ok(stranded.len())
}

fn run(state: &Weak<AppState>, requests: &mpsc::Receiver<Request>) {
    // A computation abandoned at its deadline; waited for before the next one starts.
    let mut abandoned: Option<JoinHandle<()>> = None;
    while let Ok(request) = requests.recv() {
        let Some(state) = state.upgrade() else { break };
        state
            .plan_queue
            .waiting
            .lock()
            .expect("plan queue")
            .remove(&request.input);
        if let Some(previous) = abandoned.take() {
            let _ = previous.join();
        }
        let result = plan_one(&state, request.input, &mut abandoned);
        match request.reply {
            Some(reply) => {
                let _ = reply.send(result);
            }
            None => {
                if let Err(e) = result {
                    tracing::warn!("planning input {}: {e}", request.input);
                }
            }
        }
    }
}

fn plan_one(state: &Arc<AppState>, id: i64, abandoned: &mut Option<JoinHandle<()>>) -> Planned {
    let input = planning::start_planning(state, id)?;
    let (tx, rx) = mpsc::channel();
    let config = state.config.clone();
    let computation = std::thread::Builder::new()
        .name(format!("refinery-plan-{id}"))
        .spawn(move || {
            let _ = tx.send(planning::compute_plan(&config, &input));
        })
        .map_err(|e| ApiError::internal(format!("cannot start planning: {e}")));
    let computed = match computation {
        Err(e) => Err(e),
        Ok(handle) => match rx.recv_timeout(state.config.plan_timeout) {
            Ok(result) => {
                let _ = handle.join();
                result
            }
            Err(RecvTimeoutError::Timeout) => {
                *abandoned = Some(handle);
                Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "plan_timeout",
                    format!(
                        "planning took longer than {} s and was abandoned; split the \
                         requirements file, or start the server with a longer --plan-timeout",
                        state.config.plan_timeout.as_secs()
                    ),
                ))
            }
            Err(RecvTimeoutError::Disconnected) => Err(ApiError::internal(
                "planning stopped without a result (see the server's log)",
            )),
        },
    };
    planning::finish_planning(state, id, computed)
}
