//! The worker protocol (remote workers: `refinery worker --server URL`): claim, start,
//! heartbeat, log chunks, complete, history; every call fenced by the job's attempt.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use refinery_store::queue::{Job, Outcome};
use refinery_store::Attempt;

use super::ApiResult;
use refinery_contract::{
    AttemptRequest, ClaimReply, ClaimRequest, CompleteRequest, Done, DrainTriggered,
    HeartbeatReply, HistoryRecorded, HistoryRequest, JobReply, LogAppended, LogRequest,
};

use crate::error::ApiError;
use crate::validate::parse_id;
use crate::{blocking, AppState};

fn lease_of(secs: Option<u64>) -> Duration {
    Duration::from_secs(secs.unwrap_or(60).clamp(5, 3600))
}

fn check_worker_id(id: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > 200 || id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "a worker id is 1 to 200 printable characters",
        ));
    }
    Ok(())
}

pub(super) async fn worker_claim(
    State(state): State<Arc<AppState>>,
    Json(body): Json<ClaimRequest>,
) -> ApiResult<Response> {
    check_worker_id(&body.worker)?;
    let job = blocking(move || {
        state
            .store
            .claim_as(&body.worker, &body.host, lease_of(body.lease_secs))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(match job {
        Some(job) => Json(ClaimReply { job }).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

pub(super) async fn job_start(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<AttemptRequest>,
) -> ApiResult<Json<Done>> {
    let id = parse_id(&id, "job")?;
    blocking(move || state.store.start(id, body.attempt).map_err(ApiError::from)).await?;
    Ok(Json(Done::default()))
}

pub(super) async fn job_heartbeat(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<AttemptRequest>,
) -> ApiResult<Json<HeartbeatReply>> {
    let id = parse_id(&id, "job")?;
    let reply = blocking(move || {
        state
            .store
            .heartbeat(id, body.attempt, lease_of(body.lease_secs))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(HeartbeatReply {
        cancel: reply.cancel,
        lease_expires_ms: reply.lease_expires_ms,
    }))
}

pub(super) async fn job_append_log(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<LogRequest>,
) -> ApiResult<Json<LogAppended>> {
    let id = parse_id(&id, "job")?;
    let seq = blocking(move || {
        state
            .store
            .append_log(id, body.attempt, &body.data)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(LogAppended { seq }))
}

pub(super) async fn job_complete(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<CompleteRequest>,
) -> ApiResult<Json<JobReply>> {
    let id = parse_id(&id, "job")?;
    let job = blocking(move || {
        state
            .store
            .complete(
                id,
                body.attempt,
                &Outcome {
                    status: body.status,
                    detail: body.detail,
                    result: body.result,
                },
            )
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(JobReply { job }))
}

/// Fails unless `attempt` holds the job's lease.
pub(crate) fn check_lease(state: &AppState, id: i64, attempt: i64) -> ApiResult<Job> {
    Ok(refinery_worker::worker::leased_job(
        &*state.store,
        id,
        attempt,
    )?)
}

/// `attempt` as the history keeps it: the build engine leaves its `worker` empty (it
/// does not know who runs it), and the worker that holds the job's lease ran it.
fn attributed(attempt: &Attempt, job: &Job) -> Attempt {
    let mut attempt = attempt.clone();
    if attempt.worker.as_deref().is_none_or(str::is_empty) {
        attempt.worker.clone_from(&job.lease_owner);
    }
    attempt
}

pub(super) async fn job_history(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<HistoryRequest>,
) -> ApiResult<Json<HistoryRecorded>> {
    let id = parse_id(&id, "job")?;
    if body.events.len() > 1000 || body.attempts.len() > 100 {
        return Err(ApiError::bad_request(
            "too many events or attempts in one request",
        ));
    }
    let n = blocking(move || {
        let job = check_lease(&state, id, body.attempt)?;
        state
            .history
            .with(|h| {
                for event in &body.events {
                    h.record_event(event)?;
                }
                for attempt in &body.attempts {
                    h.record_attempt(&attributed(attempt, &job))?;
                }
                Ok((body.events.len() + body.attempts.len()) as u64)
            })
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(HistoryRecorded { recorded: n }))
}

/// Runs a drain now: through `WORKER_WEBHOOK_URL`, or in this process.
pub async fn trigger_drain(state: Arc<AppState>) -> ApiResult<DrainTriggered> {
    if let Some(url) = state.config.worker_webhook_url.clone() {
        let token = state.config.worker_token.clone();
        let status = blocking(move || {
            let client = reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .map_err(|e| ApiError::internal(e.to_string()))?;
            let mut request = client.post(&url);
            if let Some(token) = token {
                request = request.header("X-Worker-Token", token);
            }
            let response = request.send().map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "webhook_failed",
                    format!(
                        "the worker webhook {} did not answer: {e}",
                        refinery_index::redact_url(&url)
                    ),
                )
            })?;
            Ok(response.status().as_u16())
        })
        .await?;
        return Ok(DrainTriggered::Webhook {
            webhook_status: status,
        });
    }
    let Some(options) = state.config.local_worker.clone() else {
        return Err(ApiError::conflict(
            "no worker runs in this process: start `refinery worker`, or set WORKER_WEBHOOK_URL",
        ));
    };
    if state.draining.swap(true, Ordering::SeqCst) {
        return Ok(DrainTriggered::Local {
            started: false,
            reason: Some("a drain is already running".into()),
        });
    }
    let s = state.clone();
    std::thread::spawn(move || {
        let source = refinery_worker::worker::LocalSource::new(s.store.clone(), &options.cache);
        let mut options = options;
        options.keep_polling = false;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let Err(e) = refinery_worker::worker::run_worker(&options, &source, &stop) {
            tracing::warn!("in-process drain: {e}");
        }
        s.index.invalidate();
        s.draining.store(false, Ordering::SeqCst);
    });
    Ok(DrainTriggered::Local {
        started: true,
        reason: None,
    })
}

pub(super) async fn worker_trigger(
    State(state): State<Arc<AppState>>,
) -> ApiResult<(StatusCode, Json<DrainTriggered>)> {
    let value = trigger_drain(state).await?;
    Ok((StatusCode::ACCEPTED, Json(value)))
}
