//! The routes and the JSON API handlers.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;

use refinery_contract::Health;

use crate::error::ApiError;
use crate::{auth, blocking, metrics, openapi, simple, AppState};

mod hints;
mod logs;
mod observability;
mod packs;
mod plans;
mod queue;
mod session;
mod worker_protocol;

pub use worker_protocol::trigger_drain;

pub(crate) type ApiResult<T> = Result<T, ApiError>;

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
        .route("/api/events", get(observability::events))
        .route("/api/status-counts", get(observability::status_counts))
        .route("/api/statuses", get(observability::statuses))
        .route("/api/packages", get(observability::packages))
        .route("/api/packages/{name}", get(observability::package))
        .route("/api/top-failures", get(observability::top_failures))
        .route("/api/top-slowest", get(observability::top_slowest))
        .route("/api/hints", get(hints::hints).post(hints::add_hint))
        .route("/api/hints/validate", get(hints::validate_hint))
        .route(
            "/api/hints/{id}",
            put(hints::update_hint).delete(hints::delete_hint),
        )
        .route("/api/logs/{name}/{version}", get(logs::log_text))
        .route("/api/logs/{name}/{version}/chunks", get(logs::log_chunks))
        .route("/api/logs/{name}/{version}/stream", get(logs::log_stream))
        // The user guide's spellings of the same two.
        .route("/api/logs/stream", get(logs::log_stream_by_query))
        .route("/api/logs/chunks/{name}/{version}", get(logs::log_chunks))
        // Queue.
        .route("/api/queue", get(queue::queue_list))
        .route("/api/queue/stats", get(queue::queue_stats))
        .route("/api/queue/enqueue", post(queue::queue_enqueue))
        .route("/api/queue/retry", post(queue::queue_retry))
        .route("/api/queue/clear", post(queue::queue_clear))
        .route("/api/jobs/{id}", get(queue::job_get))
        .route("/api/jobs/{id}/cancel", post(queue::job_cancel))
        .route(
            "/api/jobs/{id}/logs",
            get(logs::job_log_text).post(worker_protocol::job_append_log),
        )
        .route("/api/jobs/{id}/logs/chunks", get(logs::job_log_chunks))
        .route("/api/jobs/{id}/logs/stream", get(logs::job_log_stream))
        // Worker protocol.
        .route("/api/worker/claim", post(worker_protocol::worker_claim))
        .route("/api/worker/trigger", post(worker_protocol::worker_trigger))
        .route("/api/workers", get(queue::workers))
        .route("/api/jobs/{id}/start", post(worker_protocol::job_start))
        .route(
            "/api/jobs/{id}/heartbeat",
            post(worker_protocol::job_heartbeat),
        )
        .route(
            "/api/jobs/{id}/complete",
            post(worker_protocol::job_complete),
        )
        .route("/api/jobs/{id}/history", post(worker_protocol::job_history))
        .route("/api/packs/{key}", get(packs::pack))
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
        .route("/api/pending-inputs", get(plans::inputs))
        .route("/api/pending-inputs/{id}", get(plans::input))
        .route(
            "/api/pending-inputs/{id}/enqueue-plan",
            post(plans::input_plan),
        )
        .route("/api/plans", get(plans::plans))
        .route("/api/plans/{id}", get(plans::plan))
        .route(
            "/api/plans/{id}/enqueue-builds",
            post(plans::plan_enqueue_builds),
        )
        .route(
            "/api/plans/{id}/enqueue-build",
            post(plans::plan_enqueue_build),
        )
        .route(
            "/api/settings",
            get(plans::settings_get).put(plans::settings_put),
        )
        .route(
            "/api/session/token",
            get(session::session_state)
                .post(session::session_token)
                .delete(session::session_logout),
        )
        // The index.
        .route("/simple", get(simple::root_no_slash))
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
async fn health(State(state): State<Arc<AppState>>) -> ApiResult<Json<Health>> {
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
    Ok(Json(Health {
        status: "ok".into(),
        queue: state.store.backend().to_string(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
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

#[derive(Deserialize, Default)]
/// `?limit` and `?offset` of the list endpoints.
pub(crate) struct LimitQuery {
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// `limit` (or `default`) within 1..=1000.
pub(crate) fn clamp_limit(limit: Option<usize>, default: usize) -> usize {
    limit.unwrap_or(default).clamp(1, 1000)
}
