//! The build queue: listing, stats, enqueue, retry, clear, one job, cancel, workers.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::Json;
use refinery_store::glossary::StatusClass;
use refinery_store::queue::{JobFilter, JobSpec, JobStatus};
use serde::Deserialize;

use super::{clamp_limit, ApiResult};
use refinery_contract::{
    Cleared, DrainTrigger, EnqueueReply, EnqueueRequest, IdsRequest, JobReply, QueueList,
    QueueStatsReply, Retried, WorkersReply,
};

use crate::error::ApiError;
use crate::validate::{check_name, check_version, parse_id};
use crate::{blocking, AppState};

#[derive(Deserialize, Default)]
pub(super) struct QueueQuery {
    status: Option<String>,
    package: Option<String>,
    plan: Option<String>,
    /// Leave out jobs cleared from the Builds list (`true` there; every other reader
    /// wants them: they still say what happened).
    hide_cleared: Option<bool>,
    limit: Option<usize>,
    offset: Option<usize>,
}

pub(super) async fn queue_list(
    State(state): State<Arc<AppState>>,
    Query(q): Query<QueueQuery>,
) -> ApiResult<Json<QueueList>> {
    let statuses = match &q.status {
        Some(list) => list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::parse::<JobStatus>)
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
        hide_cleared: q.hide_cleared.unwrap_or(false),
        limit: clamp_limit(q.limit, 100),
        offset: q.offset.unwrap_or(0),
    };
    blocking(move || {
        Ok(Json(QueueList {
            jobs: state.store.jobs(&filter)?,
            stats: state.store.stats()?,
        }))
    })
    .await
}

pub(super) async fn queue_stats(
    State(state): State<Arc<AppState>>,
) -> ApiResult<Json<QueueStatsReply>> {
    blocking(move || {
        let stats = state.store.stats()?;
        let workers = crate::liveness::worker_views(state.store.as_ref())?;
        Ok(Json(QueueStatsReply {
            depth: stats.depth,
            active: stats.active,
            by_class: counts_by_class(&stats.by_status),
            by_status: stats.by_status,
            restarts: stats.restarts,
            total: stats.total,
            workers,
            draining: state.draining.load(Ordering::Relaxed),
            cleared: stats.cleared_by_status.values().sum(),
            trigger: drain_trigger(&state.config),
        }))
    })
    .await
}

/// What `POST /api/worker/trigger` would do (see `worker_protocol::trigger_drain`).
fn drain_trigger(config: &crate::ServerConfig) -> DrainTrigger {
    if config.worker_webhook_url.is_some() {
        DrainTrigger::Webhook
    } else if config.local_worker.is_some() {
        DrainTrigger::Local
    } else {
        DrainTrigger::None
    }
}

fn python_from_tag(tag: &str) -> ApiResult<String> {
    let digits = tag
        .strip_prefix("cp")
        .or_else(|| tag.strip_prefix("py"))
        .filter(|d| d.len() >= 2 && d.chars().all(|c| c.is_ascii_digit()))
        .ok_or_else(|| ApiError::bad_request(format!("python_tag `{tag}` is not like cp311")))?;
    Ok(format!("{}.{}", &digits[..1], &digits[1..]))
}

pub(super) async fn queue_enqueue(
    State(state): State<Arc<AppState>>,
    Json(body): Json<EnqueueRequest>,
) -> ApiResult<(StatusCode, Json<EnqueueReply>)> {
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
        Json(EnqueueReply { job, created }),
    ))
}

pub(super) async fn queue_retry(
    State(state): State<Arc<AppState>>,
    body: Option<Json<IdsRequest>>,
) -> ApiResult<Json<Retried>> {
    let ids = body.map(|b| b.0.ids).unwrap_or_default();
    let n = blocking(move || state.store.retry(&ids).map_err(ApiError::from)).await?;
    Ok(Json(Retried { retried: n }))
}

pub(super) async fn queue_clear(
    State(state): State<Arc<AppState>>,
    body: Option<Json<IdsRequest>>,
) -> ApiResult<Json<Cleared>> {
    let body = body.map(|b| b.0).unwrap_or_default();
    // No ids and no statuses: "Clear finished"; waiting jobs stay in the queue.
    let statuses = if body.ids.is_empty() && body.statuses.is_empty() {
        JobStatus::ALL
            .into_iter()
            .filter(JobStatus::is_terminal)
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
    Ok(Json(Cleared { cleared: n }))
}

pub(super) async fn job_get(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<JobReply>> {
    let id = parse_id(&id, "job")?;
    let job = blocking(move || state.store.job(id).map_err(ApiError::from)).await?;
    Ok(Json(JobReply { job }))
}

pub(super) async fn job_cancel(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<JobReply>> {
    let id = parse_id(&id, "job")?;
    let job = blocking(move || state.store.cancel(id).map_err(ApiError::from)).await?;
    Ok(Json(JobReply { job }))
}

pub(super) async fn workers(State(state): State<Arc<AppState>>) -> ApiResult<Json<WorkersReply>> {
    let workers = blocking(move || {
        crate::liveness::worker_views(state.store.as_ref()).map_err(ApiError::from)
    })
    .await?;
    Ok(Json(WorkersReply {
        workers,
        liveness_window_secs: crate::liveness::LIVENESS_WINDOW_MS / 1000,
    }))
}

/// Job counts by status class (`refinery_store::glossary::StatusClass`), every class present.
fn counts_by_class(by_status: &BTreeMap<String, u64>) -> BTreeMap<StatusClass, u64> {
    let mut out = BTreeMap::new();
    for status in JobStatus::ALL {
        *out.entry(status.class()).or_default() +=
            by_status.get(status.as_str()).copied().unwrap_or(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_tags() {
        assert_eq!(python_from_tag("cp311").unwrap(), "3.11");
        assert!(python_from_tag("311").is_err());
    }
}
