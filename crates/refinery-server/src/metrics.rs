//! Prometheus metrics in the text exposition format (version 0.0.4): queue depth by
//! state, builds by status, the build duration histogram, worker heartbeats, lease
//! expiries, and HTTP requests.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::{blocking, AppState};

/// Upper bounds of the build duration histogram, seconds.
pub const BUILD_BUCKETS: [f64; 10] = [
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];
/// Upper bounds of the HTTP latency histogram, seconds.
const HTTP_BUCKETS: [f64; 8] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5];

/// Counters kept in memory by this process.
#[derive(Default)]
pub struct Metrics {
    requests_2xx: AtomicU64,
    requests_3xx: AtomicU64,
    requests_4xx: AtomicU64,
    requests_5xx: AtomicU64,
    latency_buckets: [AtomicU64; 8],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
    leases_requeued: AtomicU64,
    leases_failed: AtomicU64,
}

impl Metrics {
    pub fn lease_expired(&self, requeued: bool) {
        if requeued {
            self.leases_requeued.fetch_add(1, Ordering::Relaxed);
        } else {
            self.leases_failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn observe(&self, status: u16, seconds: f64) {
        let counter = match status {
            200..=299 => &self.requests_2xx,
            300..=399 => &self.requests_3xx,
            400..=499 => &self.requests_4xx,
            _ => &self.requests_5xx,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        for (bound, bucket) in HTTP_BUCKETS.iter().zip(&self.latency_buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }
}

/// Middleware: counts requests and their latency.
pub async fn track(State(state): State<Arc<AppState>>, req: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(req).await;
    state
        .metrics
        .observe(response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let s = state.clone();
    let text = blocking(move || render(&s)).await?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

fn render(state: &AppState) -> Result<String, ApiError> {
    let mut out = String::new();
    let stats = state.store.stats()?;
    let _ = writeln!(out, "# HELP refinery_queue_jobs Build jobs by state.");
    let _ = writeln!(out, "# TYPE refinery_queue_jobs gauge");
    for (status, count) in &stats.by_status {
        let _ = writeln!(
            out,
            "refinery_queue_jobs{{state=\"{}\"}} {count}",
            label(status)
        );
    }
    let _ = writeln!(
        out,
        "# HELP refinery_queue_depth Jobs waiting for a worker (pending + retry)."
    );
    let _ = writeln!(out, "# TYPE refinery_queue_depth gauge");
    let _ = writeln!(out, "refinery_queue_depth {}", stats.depth);
    let _ = writeln!(
        out,
        "# HELP refinery_queue_active Jobs held by a worker (leased + building)."
    );
    let _ = writeln!(out, "# TYPE refinery_queue_active gauge");
    let _ = writeln!(out, "refinery_queue_active {}", stats.active);
    let _ = writeln!(
        out,
        "# HELP refinery_job_restarts_total Lease expiries recorded on jobs."
    );
    let _ = writeln!(out, "# TYPE refinery_job_restarts_total counter");
    let _ = writeln!(out, "refinery_job_restarts_total {}", stats.restarts);
    let _ = writeln!(out, "# HELP refinery_lease_expirations_total Leases this server's reaper took back, by outcome.");
    let _ = writeln!(out, "# TYPE refinery_lease_expirations_total counter");
    let _ = writeln!(
        out,
        "refinery_lease_expirations_total{{outcome=\"requeued\"}} {}",
        state.metrics.leases_requeued.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "refinery_lease_expirations_total{{outcome=\"failed\"}} {}",
        state.metrics.leases_failed.load(Ordering::Relaxed)
    );

    let (attempts, histogram) = state.history.with(|h| {
        Ok((
            h.attempt_status_counts()?,
            h.duration_histogram(&BUILD_BUCKETS)?,
        ))
    })?;
    let _ = writeln!(
        out,
        "# HELP refinery_build_attempts_total Build attempts by status."
    );
    let _ = writeln!(out, "# TYPE refinery_build_attempts_total counter");
    for (status, count) in &attempts {
        let _ = writeln!(
            out,
            "refinery_build_attempts_total{{status=\"{}\"}} {count}",
            status.as_str()
        );
    }
    let (cumulative, count, sum) = histogram;
    let _ = writeln!(
        out,
        "# HELP refinery_build_duration_seconds Duration of build attempts."
    );
    let _ = writeln!(out, "# TYPE refinery_build_duration_seconds histogram");
    for (bound, n) in BUILD_BUCKETS.iter().zip(&cumulative) {
        let _ = writeln!(
            out,
            "refinery_build_duration_seconds_bucket{{le=\"{bound}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "refinery_build_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(out, "refinery_build_duration_seconds_sum {sum}");
    let _ = writeln!(out, "refinery_build_duration_seconds_count {count}");

    let workers = state.store.workers()?;
    let now = refinery_store::queue::now_ms();
    let _ = writeln!(out, "# HELP refinery_worker_last_heartbeat_seconds Unix time of each worker's last heartbeat or claim.");
    let _ = writeln!(out, "# TYPE refinery_worker_last_heartbeat_seconds gauge");
    for w in &workers {
        let _ = writeln!(
            out,
            "refinery_worker_last_heartbeat_seconds{{worker=\"{}\"}} {}",
            label(&w.id),
            w.last_seen_ms as f64 / 1000.0
        );
    }
    let _ = writeln!(
        out,
        "# HELP refinery_workers_active Workers seen in the last 60 seconds."
    );
    let _ = writeln!(out, "# TYPE refinery_workers_active gauge");
    let _ = writeln!(
        out,
        "refinery_workers_active {}",
        workers
            .iter()
            .filter(|w| now - w.last_seen_ms <= crate::liveness::LIVENESS_WINDOW_MS)
            .count()
    );

    let snapshot = state.index.current();
    let _ = writeln!(
        out,
        "# HELP refinery_index_wheels Wheels listed by /simple."
    );
    let _ = writeln!(out, "# TYPE refinery_index_wheels gauge");
    let _ = writeln!(out, "refinery_index_wheels {}", snapshot.wheels);
    let _ = writeln!(
        out,
        "# HELP refinery_index_projects Projects listed by /simple."
    );
    let _ = writeln!(out, "# TYPE refinery_index_projects gauge");
    let _ = writeln!(out, "refinery_index_projects {}", snapshot.projects);

    let m = &state.metrics;
    let _ = writeln!(
        out,
        "# HELP refinery_http_requests_total HTTP requests served, by status class."
    );
    let _ = writeln!(out, "# TYPE refinery_http_requests_total counter");
    for (class, counter) in [
        ("2xx", &m.requests_2xx),
        ("3xx", &m.requests_3xx),
        ("4xx", &m.requests_4xx),
        ("5xx", &m.requests_5xx),
    ] {
        let _ = writeln!(
            out,
            "refinery_http_requests_total{{code=\"{class}\"}} {}",
            counter.load(Ordering::Relaxed)
        );
    }
    let _ = writeln!(
        out,
        "# HELP refinery_http_request_duration_seconds HTTP request latency."
    );
    let _ = writeln!(
        out,
        "# TYPE refinery_http_request_duration_seconds histogram"
    );
    for (bound, bucket) in HTTP_BUCKETS.iter().zip(&m.latency_buckets) {
        let _ = writeln!(
            out,
            "refinery_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
            bucket.load(Ordering::Relaxed)
        );
    }
    let count = m.latency_count.load(Ordering::Relaxed);
    let _ = writeln!(
        out,
        "refinery_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
    );
    let _ = writeln!(
        out,
        "refinery_http_request_duration_seconds_sum {}",
        m.latency_sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "refinery_http_request_duration_seconds_count {count}");
    Ok(out)
}
