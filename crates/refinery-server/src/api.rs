//! The routes and the JSON API handlers.

use std::collections::{BTreeSet, VecDeque};
use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::{Stream, StreamExt};
use refinery_store::queue::{
    InputStatus, Job, JobFilter, JobSpec, JobStatus, Outcome, Recipe, Settings,
};
use refinery_store::{Attempt, Event};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::{auth, blocking, metrics, openapi, planning, simple, AppState};

type ApiResult<T> = Result<T, ApiError>;

/// All routes, with auth, JSON errors and request metrics.
pub fn router(state: Arc<AppState>) -> Router {
    let uploads_req = DefaultBodyLimit::max(state.config.max_requirements_bytes + 64 * 1024);
    let uploads_whl = DefaultBodyLimit::max(state.config.max_wheel_bytes + 64 * 1024);
    let router = Router::new()
        .route("/", get(ui_page))
        .route("/healthz", get(health))
        .route("/api/health", get(health))
        .route("/metrics", get(metrics::metrics))
        .route("/api/openapi.json", get(openapi::openapi))
        // Observability.
        .route("/api/events", get(events))
        .route("/api/status-counts", get(status_counts))
        .route("/api/statuses", get(statuses))
        .route("/api/packages", get(packages))
        .route("/api/packages/{name}", get(package))
        .route("/api/top-failures", get(top_failures))
        .route("/api/top-slowest", get(top_slowest))
        .route("/api/hints", get(hints).post(add_hint))
        .route("/api/hints/validate", get(validate_hint))
        .route("/api/hints/{id}", put(update_hint).delete(delete_hint))
        .route("/api/logs/{name}/{version}", get(log_text))
        .route("/api/logs/{name}/{version}/chunks", get(log_chunks))
        .route("/api/logs/{name}/{version}/stream", get(log_stream))
        // The user guide's spellings of the same two.
        .route("/api/logs/stream", get(log_stream_by_query))
        .route("/api/logs/chunks/{name}/{version}", get(log_chunks))
        // Queue.
        .route("/api/queue", get(queue_list))
        .route("/api/queue/stats", get(queue_stats))
        .route("/api/queue/enqueue", post(queue_enqueue))
        .route("/api/queue/retry", post(queue_retry))
        .route("/api/queue/clear", post(queue_clear))
        .route("/api/jobs/{id}", get(job_get))
        .route("/api/jobs/{id}/cancel", post(job_cancel))
        .route(
            "/api/jobs/{id}/logs",
            get(job_log_text).post(job_append_log),
        )
        .route("/api/jobs/{id}/logs/chunks", get(job_log_chunks))
        .route("/api/jobs/{id}/logs/stream", get(job_log_stream))
        // Worker protocol.
        .route("/api/worker/claim", post(worker_claim))
        .route("/api/worker/trigger", post(worker_trigger))
        .route("/api/workers", get(workers))
        .route("/api/jobs/{id}/start", post(job_start))
        .route("/api/jobs/{id}/heartbeat", post(job_heartbeat))
        .route("/api/jobs/{id}/complete", post(job_complete))
        .route("/api/jobs/{id}/history", post(job_history))
        .route(
            "/api/jobs/{id}/wheel",
            put(crate::uploads::job_wheel).layer(uploads_whl),
        )
        // Inputs and plans.
        .route(
            "/api/requirements/upload",
            post(crate::uploads::upload_requirements).layer(uploads_req),
        )
        .route(
            "/api/wheels/upload",
            post(crate::uploads::upload_wheel).layer(uploads_whl),
        )
        .route("/api/pending-inputs", get(inputs))
        .route("/api/pending-inputs/{id}", get(input))
        .route("/api/pending-inputs/{id}/enqueue-plan", post(input_plan))
        .route("/api/plans", get(plans))
        .route("/api/plans/{id}", get(plan))
        .route("/api/plans/{id}/enqueue-builds", post(plan_enqueue_builds))
        .route("/api/plans/{id}/enqueue-build", post(plan_enqueue_build))
        .route("/api/settings", get(settings_get).put(settings_put))
        .route(
            "/api/session/token",
            get(session_state)
                .post(session_token)
                .delete(session_logout),
        )
        // The index.
        .route("/simple", get(simple::root))
        .route("/simple/", get(simple::root))
        .route("/simple/{name}/", get(simple::project))
        .route("/simple/{name}", get(simple::project_no_slash))
        .route("/files/{sha}/{filename}", get(simple::file))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::guard,
        ))
        // Before the token check: a forged host or another site's write never gets to
        // try a token.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::origin::guard,
        ))
        .layer(axum::middleware::from_fn(crate::error::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ));
    // Outermost, so that preflight requests are answered before the token check.
    let origins: Vec<_> = state
        .config
        .cors_origins
        .iter()
        .filter_map(|o| crate::cors::parse_origin(o).ok())
        .collect();
    let router = if origins.is_empty() {
        router
    } else {
        router.layer(crate::cors::layer(origins))
    };
    router.with_state(state)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}

/// `/`: the web dashboard (or, built without it, a page that says how to build it).
async fn ui_page() -> Response {
    crate::ui::serve("/").unwrap_or_else(|| ApiError::not_found("no UI").into_response())
}

/// Unknown paths: the dashboard answers GETs outside the API (deep links such as
/// `/packages/six` work on reload); everything else is a JSON 404.
async fn fallback(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    let path = uri.path();
    if matches!(method, axum::http::Method::GET | axum::http::Method::HEAD)
        && !crate::ui::is_server_path(path)
    {
        if let Some(response) = crate::ui::serve(path) {
            return response;
        }
    }
    not_found(uri).await.into_response()
}

/// `/api/health`: 200 while the queue database answers and is still the file the server
/// opened; 503 otherwise (a deleted or replaced SQLite file is logged as an error).
/// `GET /api/health`: 200 only if the queue answers, the history file is still the one
/// opened, and the cache folder takes a write (a full disk answers 503).
async fn health(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    let s = state.clone();
    blocking(move || {
        if let Err(e) = s.store.ping() {
            if matches!(e, refinery_store::QueueError::Replaced { .. }) {
                tracing::error!("health: {e}");
            }
            return Err(e.into());
        }
        if let Err(e) = s.history.check_same_file() {
            tracing::error!("health: {e}");
            return Err(e.into());
        }
        probe_write_at_most_every_second(&s)
    })
    .await?;
    Ok(Json(json!({
        "status": "ok",
        "queue": state.store.backend(),
        "version": env!("CARGO_PKG_VERSION"),
    })))
}

/// [`probe_write`], at most once a second (a load balancer or a load test may ask for
/// health hundreds of times a second; each probe syncs a file): later calls within the
/// second get the last answer.
fn probe_write_at_most_every_second(state: &AppState) -> ApiResult<()> {
    let mut last = state.last_write_probe.lock().expect("write probe");
    if let Some((at, result)) = &*last {
        if at.elapsed() < Duration::from_secs(1) {
            return result.clone();
        }
    }
    let result = probe_write(&state.config.cache);
    *last = Some((std::time::Instant::now(), result.clone()));
    result
}

/// Writes, syncs and removes a small file in `<cache>/tmp`: 503 `cache_unwritable` when
/// the cache cannot take writes (a full disk, a read-only mount).
fn probe_write(cache: &std::path::Path) -> ApiResult<()> {
    let result = (|| -> std::io::Result<()> {
        let dir = cache.join("tmp");
        fs_err::create_dir_all(&dir)?;
        let mut probe = tempfile::Builder::new()
            .prefix(".health-")
            .tempfile_in(&dir)?;
        std::io::Write::write_all(&mut probe, &[0u8; 4096])?;
        probe.as_file().sync_all()
    })();
    result.map_err(|e| {
        tracing::error!("health: the cache folder cannot be written: {e}");
        let why = if crate::error::is_disk_full(&e) {
            "its disk is full"
        } else {
            "see the server's log"
        };
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "cache_unwritable",
            format!("the server cannot write to its cache folder ({why}); builds and uploads fail until it can"),
        )
    })
}

// ---------------------------------------------------------------------------------------
// Validation of names in URLs and bodies.

fn name_re() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,200}[A-Za-z0-9])?$").expect("regex")
    })
}

fn version_re() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,100}$").expect("regex"))
}

/// A package name as PEP 508 allows it; rejects `../`, slashes and the like.
pub fn check_name(name: &str) -> ApiResult<()> {
    if name_re().is_match(name) && !name.contains("..") {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "`{}` is not a valid package name",
            name.chars().take(100).collect::<String>()
        )))
    }
}

pub fn check_version(version: &str) -> ApiResult<()> {
    if version_re().is_match(version) && !version.contains("..") {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "`{}` is not a valid version",
            version.chars().take(100).collect::<String>()
        )))
    }
}

pub(crate) fn parse_id(id: &str, what: &str) -> ApiResult<i64> {
    id.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::bad_request(format!("`{id}` is not a valid {what} id")))
}

fn clamp_limit(limit: Option<usize>, default: usize) -> usize {
    limit.unwrap_or(default).clamp(1, 1000)
}

// ---------------------------------------------------------------------------------------
// Observability.

#[derive(Deserialize, Default)]
struct EventsQuery {
    limit: Option<usize>,
    before: Option<i64>,
    package: Option<String>,
    /// Event kind (`built`, `failure`, `plan`, …); `status` is an alias.
    kind: Option<String>,
    status: Option<String>,
}

async fn events(
    State(state): State<Arc<AppState>>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<Value>> {
    if let Some(p) = &q.package {
        check_name(p)?;
    }
    let limit = clamp_limit(q.limit, 50);
    let kind = q.kind.or(q.status);
    let events = blocking(move || {
        state
            .history
            .with(|h| h.events_page(q.package.as_deref(), kind.as_deref(), q.before, limit))
            .map_err(ApiError::from)
    })
    .await?;
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(Json(json!({ "events": events, "next_before": next })))
}

async fn status_counts(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    let counts = blocking(move || {
        state
            .history
            .with(|h| Ok((h.status_counts()?, h.attempt_status_counts()?)))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(json!({ "events": counts.0, "attempts": counts.1 })))
}

/// The status glossary (`refinery_store::glossary`): every status, its class and meaning.
async fn statuses() -> Json<Value> {
    Json(json!({ "statuses": refinery_store::glossary::glossary() }))
}

/// Job counts by status class (`refinery_store::glossary::StatusClass`), every class present.
fn counts_by_class(by_status: &std::collections::BTreeMap<String, u64>) -> Value {
    let mut out: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for status in JobStatus::ALL {
        *out.entry(status.class().as_str()).or_default() +=
            by_status.get(status.as_str()).copied().unwrap_or(0);
    }
    json!(out)
}

#[derive(Deserialize, Default)]
struct LimitQuery {
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn packages(
    State(state): State<Arc<AppState>>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<Value>> {
    let limit = clamp_limit(q.limit, 200);
    let packages = blocking(move || {
        let (summaries, events) = state.history.with(|h| {
            let mut events = Vec::new();
            for kind in [
                "reuse",
                "cached",
                "missing",
                "skipped_known_failure",
                "verified",
                "broken",
            ] {
                events.extend(h.events_page(None, Some(kind), None, 1000)?);
            }
            events.sort_by_key(|e| std::cmp::Reverse(e.id));
            Ok((h.packages(100_000)?, events))
        })?;
        let jobs = state.store.jobs(&JobFilter {
            limit: 100_000,
            ..JobFilter::default()
        })?;
        let mut rows = crate::package_status::package_rows(&summaries, &jobs, &events);
        rows.truncate(limit);
        Ok::<_, ApiError>(rows)
    })
    .await?;
    Ok(Json(json!({ "packages": packages })))
}

async fn package(
    State(state): State<Arc<AppState>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    check_name(&name)?;
    blocking(move || {
        let (attempts, variants, events) = state.history.with(|h| {
            Ok((
                h.attempts_for(&name, 100)?,
                h.variant_stats(&name)?,
                h.events_for(&name, 100)?,
            ))
        })?;
        let jobs = state.store.jobs(&JobFilter {
            package: Some(name.clone()),
            limit: 50,
            ..JobFilter::default()
        })?;
        if attempts.is_empty() && events.is_empty() && jobs.is_empty() {
            return Err(ApiError::not_found(format!(
                "nothing is known about package `{name}`"
            )));
        }
        let failures: Vec<_> = attempts
            .iter()
            .filter(|a| refinery_store::history::is_failure_status(&a.status))
            .cloned()
            .collect();
        let hints: BTreeSet<String> = attempts.iter().flat_map(|a| a.hints.clone()).collect();
        let durations: Vec<f64> = attempts
            .iter()
            .filter(|a| a.status == "success")
            .map(|a| a.duration_secs)
            .collect();
        let average =
            (!durations.is_empty()).then(|| durations.iter().sum::<f64>() / durations.len() as f64);
        Ok(Json(json!({
            "name": refinery_index::normalize_name(&name),
            "attempts": attempts,
            "variants": variants,
            "events": events,
            "failures": failures,
            "hints": hints,
            "average_duration_secs": average,
            "jobs": jobs,
        })))
    })
    .await
}

async fn top_failures(
    State(state): State<Arc<AppState>>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<Value>> {
    let limit = clamp_limit(q.limit, 10);
    let rows = blocking(move || {
        state
            .history
            .with(|h| h.top_failures(limit))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(json!({ "top_failures": rows })))
}

async fn top_slowest(
    State(state): State<Arc<AppState>>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<Value>> {
    let limit = clamp_limit(q.limit, 10);
    let rows = blocking(move || {
        state
            .history
            .with(|h| h.top_slowest(limit))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(json!({ "top_slowest": rows })))
}

async fn hints(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    blocking(move || {
        let mut catalog = refinery_build::hints::Catalog::builtin();
        let mut origin = "built-in hints/catalog.toml".to_string();
        if let Some(path) = &state.config.hints_catalog {
            catalog.extend_from_file(path).map_err(ApiError::internal)?;
            origin = format!("{origin} + {}", path.display());
        }
        Ok(Json(json!({
            "catalog": { "origin": origin, "hints": catalog.hints().collect::<Vec<_>>() },
            "user": state.store.hints()?,
        })))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewHint {
    pattern: String,
    #[serde(default)]
    packages: Vec<String>,
    #[serde(default)]
    note: String,
}

impl NewHint {
    /// A usable pattern and plain package names, or what is wrong.
    fn validate(&self) -> Result<(), ApiError> {
        if self.pattern.trim().is_empty() || self.pattern.len() > 500 {
            return Err(ApiError::bad_request(
                "a hint needs a pattern (a regular expression, at most 500 characters)",
            ));
        }
        regex::Regex::new(&self.pattern).map_err(|e| {
            ApiError::bad_request(format!(
                "the pattern is not a valid regular expression: {e}"
            ))
        })?;
        let pkg_re = regex::Regex::new(r"^[A-Za-z0-9][A-Za-z0-9.+_:-]{0,100}$").expect("regex");
        if let Some(bad) = self.packages.iter().find(|p| !pkg_re.is_match(p)) {
            return Err(ApiError::bad_request(format!(
                "`{bad}` is not a system package name"
            )));
        }
        Ok(())
    }
}

/// (Unknown fields are allowed: a client may send its token as `?token=`.)
#[derive(Deserialize)]
struct ValidateHintQuery {
    pattern: String,
    /// System package names, separated by spaces or commas.
    #[serde(default)]
    packages: String,
}

/// `GET /api/hints/validate?pattern=…&packages=…`: would adding this hint succeed? The same
/// checks as adding one (Rust's `regex` syntax, package names), without storing anything.
/// Always 200: `{valid: true}` or `{valid: false, message}`, so a form can ask on every
/// keystroke without filling the browser's console with errors.
async fn validate_hint(Query(q): Query<ValidateHintQuery>) -> Json<Value> {
    let hint = NewHint {
        pattern: q.pattern,
        packages: q
            .packages
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect(),
        note: String::new(),
    };
    Json(match hint.validate() {
        Ok(()) => json!({ "valid": true }),
        Err(e) => json!({ "valid": false, "message": e.message }),
    })
}

async fn add_hint(
    State(state): State<Arc<AppState>>,
    Json(body): Json<NewHint>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    body.validate()?;
    let hint = blocking(move || {
        state
            .store
            .add_hint(&body.pattern, &body.packages, body.note.trim())
            .map_err(ApiError::from)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(json!({ "hint": hint }))))
}

/// Hints added through the API can be changed in place; the catalog's come from files.
async fn update_hint(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<NewHint>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "hint")?;
    body.validate()?;
    let hint = blocking(move || {
        state
            .store
            .update_hint(id, &body.pattern, &body.packages, body.note.trim())
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(json!({ "hint": hint })))
}

async fn delete_hint(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<StatusCode> {
    let id = parse_id(&id, "hint")?;
    blocking(move || state.store.delete_hint(id).map_err(ApiError::from)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------
// Logs.

#[derive(Deserialize, Default)]
struct LogQuery {
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

async fn log_text(
    State(state): State<Arc<AppState>>,
    UrlPath((name, version)): UrlPath<(String, String)>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Response> {
    check_name(&name)?;
    check_version(&version)?;
    blocking(move || {
        if q.attempt.is_none() {
            if let Some(job) = state.store.latest_job(&name, &version)? {
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

async fn log_chunks(
    State(state): State<Arc<AppState>>,
    UrlPath((name, version)): UrlPath<(String, String)>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Value>> {
    check_name(&name)?;
    check_version(&version)?;
    blocking(move || {
        let job = state
            .store
            .latest_job(&name, &version)?
            .ok_or_else(|| ApiError::not_found(format!("no job for {name} {version}")))?;
        chunks_json(&state, &job, q)
    })
    .await
}

fn chunks_json(state: &AppState, job: &Job, q: LogQuery) -> ApiResult<Json<Value>> {
    let chunks = state
        .store
        .log_chunks(job.id, q.after.unwrap_or(0), clamp_limit(q.limit, 500))?;
    let next = chunks.last().map_or(q.after.unwrap_or(0), |c| c.seq);
    Ok(Json(json!({
        "job_id": job.id,
        "status": job.status,
        "done": job.status.is_terminal(),
        "chunks": chunks,
        "next_after": next,
    })))
}

async fn log_stream(
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
struct StreamQuery {
    job: Option<String>,
    package: Option<String>,
    version: Option<String>,
    after: Option<i64>,
}

/// `GET /api/logs/stream?job=ID` or `?package=NAME&version=V`: the live log of a job, or of
/// the newest job of a package version (the same stream as `/api/jobs/{id}/logs/stream`).
async fn log_stream_by_query(
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

struct SseState {
    state: Arc<AppState>,
    job: i64,
    after: i64,
    queued: VecDeque<SseEvent>,
    done: bool,
}

/// Log chunks as `log` events (`id` = chunk number, so `Last-Event-ID` resumes), then one
/// `end` event when the job is finished; pings every 5 s; ends when the server shuts down.
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
                            s.queued.push_back(
                                SseEvent::default().event("end").data(
                                    json!({"job_id": current.id, "status": current.status, "detail": current.detail})
                                        .to_string(),
                                ),
                            );
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
                            .data(json!({"job_id": s.job, "status": "gone"}).to_string()),
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

async fn job_log_text(
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

async fn job_log_chunks(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<LogQuery>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "job")?;
    blocking(move || {
        let job = state.store.job(id)?;
        chunks_json(&state, &job, q)
    })
    .await
}

async fn job_log_stream(
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

// ---------------------------------------------------------------------------------------
// The queue.

#[derive(Deserialize, Default)]
struct QueueQuery {
    status: Option<String>,
    package: Option<String>,
    plan: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

async fn queue_list(
    State(state): State<Arc<AppState>>,
    Query(q): Query<QueueQuery>,
) -> ApiResult<Json<Value>> {
    let statuses = match &q.status {
        Some(list) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<JobStatus>())
            .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    if let Some(p) = &q.package {
        check_name(p)?;
    }
    let filter = JobFilter {
        statuses,
        package: q.package,
        version: None,
        plan_id: q.plan,
        limit: clamp_limit(q.limit, 100),
        offset: q.offset.unwrap_or(0),
    };
    blocking(move || {
        Ok(Json(json!({
            "jobs": state.store.jobs(&filter)?,
            "stats": state.store.stats()?,
        })))
    })
    .await
}

async fn queue_stats(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    blocking(move || {
        let stats = state.store.stats()?;
        let workers = crate::liveness::worker_views(state.store.as_ref())?;
        Ok(Json(json!({
            "depth": stats.depth,
            "active": stats.active,
            "by_class": counts_by_class(&stats.by_status),
            "by_status": stats.by_status,
            "restarts": stats.restarts,
            "total": stats.total,
            "workers": workers,
            "draining": state.draining.load(Ordering::Relaxed),
        })))
    })
    .await
}

/// `POST /api/queue/enqueue` body (the seeds' retry request).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnqueueBody {
    package: String,
    version: String,
    /// `3.11`
    python: Option<String>,
    /// `cp311` (alternative to `python`)
    python_tag: Option<String>,
    platform_tag: Option<String>,
    #[serde(default)]
    recipe: Option<Recipe>,
    /// Recipe steps (alternative to `recipe.steps`).
    #[serde(default)]
    steps: Vec<String>,
    #[serde(default)]
    priority: i64,
}

fn python_from_tag(tag: &str) -> ApiResult<String> {
    let digits = tag
        .strip_prefix("cp")
        .or_else(|| tag.strip_prefix("py"))
        .filter(|d| d.len() >= 2 && d.chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| ApiError::bad_request(format!("python_tag `{tag}` is not like cp311")))?;
    Ok(format!("{}.{}", &digits[..1], &digits[1..]))
}

async fn queue_enqueue(
    State(state): State<Arc<AppState>>,
    Json(body): Json<EnqueueBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_name(&body.package)?;
    check_version(&body.version)?;
    let python = match (&body.python, &body.python_tag) {
        (Some(p), _) => p.clone(),
        (None, Some(tag)) => python_from_tag(tag)?,
        (None, None) => state.config.python.clone(),
    };
    let platform_tag = body
        .platform_tag
        .clone()
        .unwrap_or_else(|| state.config.platform_tag.clone());
    refinery_pep::Target::new(&python, &platform_tag)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let mut recipe = body.recipe.unwrap_or_default();
    recipe.steps.extend(body.steps);
    // The same rules as the hint catalog (hardening item 13).
    refinery_build::fixes::check_recipe(
        recipe.variant.as_deref(),
        &recipe.system_packages,
        &recipe.env,
    )
    .map_err(|e| ApiError::bad_request(format!("the recipe is not valid: {e}")))?;
    let spec = JobSpec {
        package: body.package,
        version: body.version,
        python,
        platform_tag,
        recipe,
        priority: body.priority,
        ..JobSpec::default()
    };
    let (job, created) =
        blocking(move || state.store.enqueue(&spec).map_err(ApiError::from)).await?;
    Ok((
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(json!({ "job": job, "created": created })),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct IdsBody {
    #[serde(default)]
    ids: Vec<i64>,
    #[serde(default)]
    statuses: Vec<JobStatus>,
}

async fn queue_retry(
    State(state): State<Arc<AppState>>,
    body: Option<Json<IdsBody>>,
) -> ApiResult<Json<Value>> {
    let ids = body.map(|b| b.0.ids).unwrap_or_default();
    let n = blocking(move || state.store.retry(&ids).map_err(ApiError::from)).await?;
    Ok(Json(json!({ "retried": n })))
}

async fn queue_clear(
    State(state): State<Arc<AppState>>,
    body: Option<Json<IdsBody>>,
) -> ApiResult<Json<Value>> {
    let body = body.map(|b| b.0).unwrap_or_default();
    let statuses = if body.ids.is_empty() && body.statuses.is_empty() {
        JobStatus::ALL
            .into_iter()
            .filter(|s| !s.is_active())
            .collect()
    } else {
        body.statuses
    };
    let n = blocking(move || {
        state
            .store
            .clear(&body.ids, &statuses)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(json!({ "cleared": n })))
}

async fn job_get(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "job")?;
    let job = blocking(move || state.store.job(id).map_err(ApiError::from)).await?;
    Ok(Json(json!({ "job": job })))
}

async fn job_cancel(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "job")?;
    let job = blocking(move || state.store.cancel(id).map_err(ApiError::from)).await?;
    Ok(Json(json!({ "job": job })))
}

async fn workers(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    let workers = blocking(move || {
        crate::liveness::worker_views(state.store.as_ref()).map_err(ApiError::from)
    })
    .await?;
    Ok(Json(json!({
        "workers": workers,
        "liveness_window_secs": crate::liveness::LIVENESS_WINDOW_MS / 1000,
    })))
}

// ---------------------------------------------------------------------------------------
// The worker protocol (remote workers: `refinery worker --server URL`).

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimBody {
    worker: String,
    #[serde(default)]
    host: String,
    lease_secs: Option<u64>,
}

fn lease_of(secs: Option<u64>) -> Duration {
    Duration::from_secs(secs.unwrap_or(60).clamp(5, 3600))
}

fn check_worker_id(id: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > 200 || id.chars().any(|c| c.is_control()) {
        return Err(ApiError::bad_request(
            "a worker id is 1 to 200 printable characters",
        ));
    }
    Ok(())
}

async fn worker_claim(
    State(state): State<Arc<AppState>>,
    Json(body): Json<ClaimBody>,
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
        Some(job) => Json(json!({ "job": job })).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttemptBody {
    attempt: i64,
    lease_secs: Option<u64>,
}

async fn job_start(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<AttemptBody>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "job")?;
    blocking(move || state.store.start(id, body.attempt).map_err(ApiError::from)).await?;
    Ok(Json(json!({ "ok": true })))
}

async fn job_heartbeat(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<AttemptBody>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "job")?;
    let reply = blocking(move || {
        state
            .store
            .heartbeat(id, body.attempt, lease_of(body.lease_secs))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(
        json!({ "cancel": reply.cancel, "lease_expires_ms": reply.lease_expires_ms }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogBody {
    attempt: i64,
    data: String,
}

async fn job_append_log(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<LogBody>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "job")?;
    let seq = blocking(move || {
        state
            .store
            .append_log(id, body.attempt, &body.data)
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(json!({ "seq": seq })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompleteBody {
    attempt: i64,
    status: JobStatus,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    result: Value,
}

async fn job_complete(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<CompleteBody>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({ "job": job })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryBody {
    attempt: i64,
    #[serde(default)]
    events: Vec<Event>,
    #[serde(default)]
    attempts: Vec<Attempt>,
}

/// Fails unless `attempt` holds the job's lease.
pub(crate) fn check_lease(state: &AppState, id: i64, attempt: i64) -> ApiResult<Job> {
    let job = state.store.job(id)?;
    if job.attempt != attempt || !job.status.is_active() {
        return Err(refinery_store::QueueError::LeaseLost { job: id, attempt }.into());
    }
    Ok(job)
}

async fn job_history(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<HistoryBody>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "job")?;
    if body.events.len() > 1000 || body.attempts.len() > 100 {
        return Err(ApiError::bad_request(
            "too many events or attempts in one request",
        ));
    }
    let n = blocking(move || {
        check_lease(&state, id, body.attempt)?;
        state
            .history
            .with(|h| {
                for event in &body.events {
                    h.record_event(event)?;
                }
                for attempt in &body.attempts {
                    h.record_attempt(attempt)?;
                }
                Ok(body.events.len() + body.attempts.len())
            })
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(json!({ "recorded": n })))
}

/// Runs a drain now: through `WORKER_WEBHOOK_URL`, or in this process.
pub async fn trigger_drain(state: Arc<AppState>) -> ApiResult<Value> {
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
        return Ok(json!({ "mode": "webhook", "webhook_status": status }));
    }
    let Some(options) = state.config.local_worker.clone() else {
        return Err(ApiError::conflict(
            "no worker runs in this process: start `refinery worker`, or set WORKER_WEBHOOK_URL",
        ));
    };
    if state.draining.swap(true, Ordering::SeqCst) {
        return Ok(
            json!({ "mode": "local", "started": false, "reason": "a drain is already running" }),
        );
    }
    let s = state.clone();
    std::thread::spawn(move || {
        let source = crate::worker::LocalSource::new(s.store.clone(), &options.cache);
        let mut options = options;
        options.keep_polling = false;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        if let Err(e) = crate::worker::run_worker(&options, &source, &stop) {
            tracing::warn!("in-process drain: {e}");
        }
        s.index.invalidate();
        s.draining.store(false, Ordering::SeqCst);
    });
    Ok(json!({ "mode": "local", "started": true }))
}

async fn worker_trigger(
    State(state): State<Arc<AppState>>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let value = trigger_drain(state).await?;
    Ok((StatusCode::ACCEPTED, Json(value)))
}

// ---------------------------------------------------------------------------------------
// Inputs and plans.

async fn inputs(
    State(state): State<Arc<AppState>>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<Value>> {
    let (limit, offset) = (clamp_limit(q.limit, 100), q.offset.unwrap_or(0));
    let inputs =
        blocking(move || state.store.inputs(limit, offset).map_err(ApiError::from)).await?;
    Ok(Json(json!({ "inputs": inputs })))
}

async fn input(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    let id = parse_id(&id, "input")?;
    let input = blocking(move || state.store.input(id).map_err(ApiError::from)).await?;
    Ok(Json(json!({ "input": input })))
}

#[derive(Deserialize, Default)]
struct WaitQuery {
    wait: Option<bool>,
}

async fn input_plan(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<WaitQuery>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let id = parse_id(&id, "input")?;
    if q.wait.unwrap_or(false) {
        let s = state.clone();
        let (plan, jobs) = blocking(move || s.plan_queue.plan_and_wait(id)).await?;
        let input = blocking(move || state.store.input(id).map_err(ApiError::from)).await?;
        return Ok((
            StatusCode::OK,
            Json(json!({ "input": input, "plan": plan, "jobs": jobs })),
        ));
    }
    // Refuse at once what cannot be planned; plan in the background.
    let s = state.clone();
    let input = blocking(move || s.store.input(id).map_err(ApiError::from)).await?;
    if !matches!(input.status, InputStatus::Pending | InputStatus::Failed) {
        return Err(ApiError::conflict(format!(
            "input {id} is `{}`; only pending or failed inputs can be planned",
            input.status.as_str()
        )));
    }
    state.plan_queue.submit(id)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "input": input, "planning": true })),
    ))
}

async fn plans(
    State(state): State<Arc<AppState>>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<Value>> {
    let (limit, offset) = (clamp_limit(q.limit, 100), q.offset.unwrap_or(0));
    let plans = blocking(move || state.store.plans(limit, offset).map_err(ApiError::from)).await?;
    Ok(Json(json!({ "plans": plans })))
}

fn check_plan_id(id: &str) -> ApiResult<()> {
    if id.is_empty()
        || id.len() > 128
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(ApiError::bad_request(format!(
            "`{}` is not a plan id",
            id.chars().take(100).collect::<String>()
        )));
    }
    Ok(())
}

async fn plan(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<Value>> {
    check_plan_id(&id)?;
    blocking(move || {
        let plan = state.store.plan(&id)?;
        let jobs = state.store.jobs(&JobFilter {
            plan_id: Some(id),
            limit: 1000,
            ..JobFilter::default()
        })?;
        Ok(Json(json!({ "plan": plan, "jobs": jobs })))
    })
    .await
}

fn stored_plan(state: &AppState, id: &str) -> ApiResult<(refinery_plan::Plan, Option<i64>)> {
    let stored = state.store.plan(id)?;
    let plan: refinery_plan::Plan = serde_json::from_value(stored.body)
        .map_err(|e| ApiError::internal(format!("plan {id} cannot be read: {e}")))?;
    Ok((plan, stored.input_id))
}

async fn plan_enqueue_builds(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_plan_id(&id)?;
    let since = refinery_store::queue::now_ms();
    let jobs = blocking(move || {
        let (plan, input) = stored_plan(&state, &id)?;
        planning::enqueue_plan(&state, &plan, None, input)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(enqueued(jobs, since))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OneNode {
    /// `name==version` or a package name.
    node: Option<String>,
    package: Option<String>,
}

async fn plan_enqueue_build(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<OneNode>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_plan_id(&id)?;
    let node = body.node.or(body.package).ok_or_else(|| {
        ApiError::bad_request(
            "say which node: {\"node\": \"name==version\"} or {\"package\": \"name\"}",
        )
    })?;
    let since = refinery_store::queue::now_ms();
    let jobs = blocking(move || {
        let (plan, input) = stored_plan(&state, &id)?;
        planning::enqueue_plan(&state, &plan, Some(&node), input)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(enqueued(jobs, since))))
}

/// The answer of the plan enqueue endpoints: every job of the nodes, and how many of them
/// this request created (`created`; the others were already queued or finished).
fn enqueued(jobs: Vec<Job>, since_ms: i64) -> Value {
    let created = jobs.iter().filter(|j| j.created_ms >= since_ms).count();
    json!({ "jobs": jobs, "created": created })
}

async fn settings_get(State(state): State<Arc<AppState>>) -> ApiResult<Json<Settings>> {
    Ok(Json(
        blocking(move || state.store.settings().map_err(ApiError::from)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    auto_plan: Option<bool>,
    auto_build: Option<bool>,
}

async fn settings_put(
    State(state): State<Arc<AppState>>,
    Json(body): Json<SettingsBody>,
) -> ApiResult<Json<Settings>> {
    Ok(Json(
        blocking(move || {
            let mut settings = state.store.settings()?;
            if let Some(v) = body.auto_plan {
                settings.auto_plan = v;
            }
            if let Some(v) = body.auto_build {
                settings.auto_build = v;
            }
            state.store.put_settings(&settings)?;
            Ok(settings)
        })
        .await?,
    ))
}

#[derive(Deserialize, Default)]
struct TokenBody {
    token: Option<String>,
}

async fn session_token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    extensions: axum::http::Extensions,
    body: Option<Json<TokenBody>>,
) -> ApiResult<Response> {
    let (worker, read) = (
        state.config.worker_token.clone(),
        state.config.read_token.clone(),
    );
    if worker.is_none() && read.is_none() {
        return Err(ApiError::bad_request(
            "this server has no WORKER_TOKEN and no read token: there is nothing to log in to",
        ));
    }
    let presented = body
        .and_then(|b| b.0.token)
        .or_else(|| auth::presented_token(&headers, uri.query()));
    let Some(token) = presented else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the token as ?token=, the X-Worker-Token header or {\"token\": …}",
        ));
    };
    // The worker token acts; a read token (--read-token) only reads.
    let tokens: Vec<(&str, &str)> = [(worker.as_deref(), "write"), (read.as_deref(), "read")]
        .into_iter()
        .filter_map(|(token, access)| Some((token?, access)))
        .collect();
    let expected: Vec<&str> = tokens.iter().map(|(token, _)| *token).collect();
    let access = match auth::check_token(&state, auth::peer_ip(&extensions), &token, &expected) {
        Ok(Some(i)) => tokens[i].1,
        Ok(None) => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the token is not valid",
            ))
        }
        Err(wait) => return Ok(auth::too_many_failures(wait)),
    };
    let cookie: String = token
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    // Without a WORKER_TOKEN every action is open: a read token still acts.
    let access = if worker.is_none() { "write" } else { access };
    let mut response = Json(json!({ "ok": true, "access": access })).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&format!(
            "worker_token={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000"
        ))
        .map_err(|e| ApiError::internal(e.to_string()))?,
    );
    Ok(response)
}

/// `GET /api/session/token`: what this server asks for and what the browser's cookie (or
/// header) gives, always 200 so a page load logs no error: `{worker_token, read_token}`
/// (which tokens the server has) and `access`: `none` (no token presented), `write`,
/// `read` or `invalid`. A wrong token counts as a failed guess, as everywhere.
async fn session_state(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    extensions: axum::http::Extensions,
) -> Response {
    let (worker, read) = (
        state.config.worker_token.as_deref(),
        state.config.read_token.as_deref(),
    );
    let access = match auth::presented_token(&headers, uri.query()) {
        None => "none",
        Some(_) if worker.is_none() && read.is_none() => "write",
        Some(token) => {
            let tokens: Vec<(&str, &str)> = [(worker, "write"), (read, "read")]
                .into_iter()
                .filter_map(|(token, access)| Some((token?, access)))
                .collect();
            let expected: Vec<&str> = tokens.iter().map(|(token, _)| *token).collect();
            match auth::check_token(&state, auth::peer_ip(&extensions), &token, &expected) {
                // Without a WORKER_TOKEN every action is open: a read token still acts.
                Ok(Some(_)) if worker.is_none() => "write",
                Ok(Some(i)) => tokens[i].1,
                Ok(None) => "invalid",
                Err(wait) => return auth::too_many_failures(wait),
            }
        }
    };
    Json(json!({
        "worker_token": worker.is_some(),
        "read_token": read.is_some(),
        "access": access,
    }))
    .into_response()
}

/// `DELETE /api/session/token`: drops the `worker_token` cookie (the UI cannot: it is
/// HttpOnly).
async fn session_logout() -> Response {
    let mut response = Json(json!({ "ok": true })).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("worker_token=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        for ok in ["six", "zope.interface", "A_b-c", "x"] {
            check_name(ok).unwrap();
        }
        for bad in [
            "../../etc/passwd",
            "..",
            "a/b",
            "",
            "-x",
            "a..b",
            "a\0b",
            "x y",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for ok in ["1.0", "2024.11.6", "1.0rc1", "1!2.0+local.1"] {
            check_version(ok).unwrap();
        }
        for bad in ["..", "../1", "1/2", ""] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
        assert_eq!(python_from_tag("cp311").unwrap(), "3.11");
        assert!(python_from_tag("311").is_err());
    }
}
