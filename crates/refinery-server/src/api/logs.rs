//! Build logs: the latest log of a package version or a job, its chunks, and live SSE.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::{Stream, StreamExt};
use refinery_contract::{LogChunks, LogEnd};
use refinery_store::queue::{Job, JobStatus};
use serde::Deserialize;

use super::{clamp_limit, ApiResult};
use crate::error::ApiError;
use crate::validate::{check_name, check_version, parse_id};
use crate::{blocking, AppState};

#[derive(Deserialize, Default)]
pub(super) struct LogQuery {
    attempt: Option<u32>,
    after: Option<i64>,
    limit: Option<usize>,
}

/// The newest log file of a package version under `<cache>/logs` (CLI runs).
fn log_file(state: &AppState, name: &str, version: &str, attempt: Option<u32>) -> Option<PathBuf> {
    let logs = state.config.cache.join("logs");
    let prefix = match attempt {
        Some(n) => format!("{name}-{version}-attempt{n}-"),
        None => format!("{name}-{version}-attempt"),
    };
    let canonical_logs = logs.canonicalize().ok()?;
    fs_err::read_dir(&logs)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            file.starts_with(&prefix) && file.ends_with(".log")
        })
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            let path = e.path().canonicalize().ok()?;
            path.starts_with(&canonical_logs)
                .then_some((modified, path))
        })
        .max()
        .map(|(_, path)| path)
}

fn text_response(text: String) -> Response {
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The job whose log a package version shows: the newest, or, when that one wrote no log
/// and is finished (a later run took the wheel `cached`, or reused it), the newest job of
/// that version that has one (the build that made the wheel).
fn log_job(state: &AppState, name: &str, version: &str) -> ApiResult<Option<Job>> {
    let Some(latest) = state.store.latest_job(name, version)? else {
        return Ok(None);
    };
    let took_a_wheel = matches!(latest.status, JobStatus::Cached | JobStatus::Reused);
    if latest.log_bytes > 0 || !took_a_wheel {
        return Ok(Some(latest));
    }
    // The newest build of that version for the same target.
    let with_log = state
        .store
        .jobs(&refinery_store::queue::JobFilter {
            package: Some(name.to_string()),
            version: Some(version.to_string()),
            statuses: vec![JobStatus::Built],
            limit: 100,
            ..Default::default()
        })?
        .into_iter()
        .filter(|j| {
            j.log_bytes > 0 && j.python == latest.python && j.platform_tag == latest.platform_tag
        })
        .max_by_key(|j| j.id);
    Ok(Some(with_log.unwrap_or(latest)))
}

fn job_log(state: &AppState, id: i64) -> ApiResult<String> {
    let mut text = String::new();
    let mut after = 0;
    loop {
        let chunks = state.store.log_chunks(id, after, 1000)?;
        if chunks.is_empty() {
            break;
        }
        for chunk in &chunks {
            text.push_str(&chunk.data);
            after = chunk.seq;
        }
    }
    Ok(text)
}

pub(super) async fn log_text(
    State(state): State<Arc<AppState>>,
    UrlPath((name, version)): UrlPath<(String, String)>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Response> {
    check_name(&name)?;
    check_version(&version)?;
    blocking(move || {
        if q.attempt.is_none() {
            if let Some(job) = log_job(&state, &name, &version)? {
                if job.log_bytes > 0 {
                    return Ok(text_response(job_log(&state, job.id)?));
                }
            }
        }
        let path = log_file(&state, &name, &version, q.attempt)
            .ok_or_else(|| ApiError::not_found(format!("no build log of {name} {version} yet")))?;
        let text = fs_err::read(&path).map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(text_response(String::from_utf8_lossy(&text).into_owned()))
    })
    .await
}

pub(super) async fn log_chunks(
    State(state): State<Arc<AppState>>,
    UrlPath((name, version)): UrlPath<(String, String)>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<LogChunks>> {
    check_name(&name)?;
    check_version(&version)?;
    blocking(move || {
        let job = log_job(&state, &name, &version)?
            .ok_or_else(|| ApiError::not_found(format!("no job for {name} {version}")))?;
        chunks_json(&state, &job, q)
    })
    .await
}

fn chunks_json(state: &AppState, job: &Job, q: LogQuery) -> ApiResult<Json<LogChunks>> {
    let chunks = state
        .store
        .log_chunks(job.id, q.after.unwrap_or(0), clamp_limit(q.limit, 500))?;
    let next = chunks.last().map_or(q.after.unwrap_or(0), |c| c.seq);
    Ok(Json(LogChunks {
        job_id: job.id,
        status: job.status,
        done: job.status.is_terminal(),
        chunks,
        next_after: next,
    }))
}

pub(super) async fn log_stream(
    State(state): State<Arc<AppState>>,
    UrlPath((name, version)): UrlPath<(String, String)>,
    Query(q): Query<LogQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    check_name(&name)?;
    check_version(&version)?;
    let s = state.clone();
    let job = blocking(move || s.store.latest_job(&name, &version).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::not_found("no job for this package version yet"))?;
    Ok(sse(state, job.id, resume_from(&headers, q.after)))
}

#[derive(Deserialize)]
pub(super) struct StreamQuery {
    job: Option<String>,
    package: Option<String>,
    version: Option<String>,
    after: Option<i64>,
}

/// `GET /api/logs/stream?job=ID` or `?package=NAME&version=V`: the live log of a job, or of
/// the newest job of a package version (the same stream as `/api/jobs/{id}/logs/stream`).
pub(super) async fn log_stream_by_query(
    State(state): State<Arc<AppState>>,
    Query(q): Query<StreamQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let s = state.clone();
    let id = match (q.job, q.package, q.version) {
        (Some(job), _, _) => {
            let id = parse_id(&job, "job")?;
            blocking(move || s.store.job(id).map_err(ApiError::from)).await?;
            id
        }
        (None, Some(name), Some(version)) => {
            check_name(&name)?;
            check_version(&version)?;
            blocking(move || s.store.latest_job(&name, &version).map_err(ApiError::from))
                .await?
                .ok_or_else(|| ApiError::not_found("no job for this package version yet"))?
                .id
        }
        _ => {
            return Err(ApiError::bad_request(
                "name the log: ?job=ID, or ?package=NAME&version=VERSION",
            ))
        }
    };
    Ok(sse(state, id, resume_from(&headers, q.after)))
}

fn resume_from(headers: &HeaderMap, after: Option<i64>) -> i64 {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .or(after)
        .unwrap_or(0)
}

pub(super) struct SseState {
    state: Arc<AppState>,
    job: i64,
    after: i64,
    queued: VecDeque<SseEvent>,
    done: bool,
}

/// Log chunks as `log` events (`id` = chunk number, so `Last-Event-ID` resumes), then one
/// `end` event when the job is finished; pings every 5 s; ends when the server shuts down.
/// The data line of an `end` event.
fn end_data(end: &LogEnd) -> String {
    serde_json::to_string(end).expect("a LogEnd serializes")
}

fn sse(
    state: Arc<AppState>,
    job: i64,
    after: i64,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let shutdown = state.shutdown.clone();
    let start = SseState {
        state,
        job,
        after,
        queued: VecDeque::new(),
        done: false,
    };
    let stream = futures_util::stream::unfold(start, |mut s| async move {
        loop {
            if let Some(event) = s.queued.pop_front() {
                return Some((Ok(event), s));
            }
            if s.done {
                return None;
            }
            let store = s.state.store.clone();
            let (job, after) = (s.job, s.after);
            let fetched = tokio::task::spawn_blocking(move || {
                let chunks = store.log_chunks(job, after, 500)?;
                let current = store.job(job)?;
                Ok::<_, refinery_store::QueueError>((chunks, current))
            })
            .await;
            match fetched {
                Ok(Ok((chunks, current))) => {
                    let finished = current.status.is_terminal();
                    if chunks.is_empty() {
                        if finished {
                            s.queued
                                .push_back(SseEvent::default().event("end").data(end_data(
                                    &LogEnd::finished(current.id, current.status, current.detail),
                                )));
                            s.done = true;
                            continue;
                        }
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        continue;
                    }
                    for chunk in chunks {
                        s.after = chunk.seq;
                        s.queued.push_back(
                            SseEvent::default()
                                .id(chunk.seq.to_string())
                                .event("log")
                                .data(chunk.data.replace('\r', "")),
                        );
                    }
                }
                Ok(Err(refinery_store::QueueError::NotFound { .. })) => {
                    s.queued.push_back(
                        SseEvent::default()
                            .event("end")
                            .data(end_data(&LogEnd::gone(s.job))),
                    );
                    s.done = true;
                }
                _ => {
                    // The database is away: keep the stream and try again.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    // A shutting-down server ends the stream (the client's EventSource reconnects and
    // resumes from `Last-Event-ID`) instead of waiting for the job to finish.
    let stream = stream.take_until(shutdown.cancelled_owned());
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(5)))
}

pub(super) async fn job_log_text(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Response> {
    let id = parse_id(&id, "job")?;
    blocking(move || {
        state.store.job(id)?;
        Ok(text_response(job_log(&state, id)?))
    })
    .await
}

pub(super) async fn job_log_chunks(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<LogChunks>> {
    let id = parse_id(&id, "job")?;
    blocking(move || {
        let job = state.store.job(id)?;
        chunks_json(&state, &job, q)
    })
    .await
}

pub(super) async fn job_log_stream(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<LogQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let id = parse_id(&id, "job")?;
    let s = state.clone();
    blocking(move || s.store.job(id).map_err(ApiError::from)).await?;
    Ok(sse(state, id, resume_from(&headers, q.after)))
}
