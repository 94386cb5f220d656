//! Pending inputs, plans and the settings (`AUTO_PLAN`, `AUTO_BUILD`).

use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::Json;
use refinery_store::queue::{InputStatus, Job, JobFilter};
use serde::Deserialize;

use super::{clamp_limit, ApiResult, LimitQuery};
use refinery_contract::{
    InputPlanReply, InputReply, InputsReply, NodeRequest, PlanEnqueued, PlanReply, PlansReply,
    Settings, SettingsPatch,
};

use crate::error::ApiError;
use crate::validate::parse_id;
use crate::{blocking, planning, AppState};

pub(super) async fn inputs(
    State(state): State<Arc<AppState>>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<InputsReply>> {
    let (limit, offset) = (clamp_limit(q.limit, 100), q.offset.unwrap_or(0));
    let inputs =
        blocking(move || state.store.inputs(limit, offset).map_err(ApiError::from)).await?;
    Ok(Json(InputsReply { inputs }))
}

pub(super) async fn input(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<InputReply>> {
    let id = parse_id(&id, "input")?;
    let input = blocking(move || state.store.input(id).map_err(ApiError::from)).await?;
    Ok(Json(InputReply { input }))
}

#[derive(Deserialize, Default)]
pub(super) struct WaitQuery {
    wait: Option<bool>,
}

pub(super) async fn input_plan(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Query(q): Query<WaitQuery>,
) -> ApiResult<(StatusCode, Json<InputPlanReply>)> {
    let id = parse_id(&id, "input")?;
    if q.wait.unwrap_or(false) {
        let s = state.clone();
        let (plan, jobs) = blocking(move || s.plan_queue.plan_and_wait(id)).await?;
        let input = blocking(move || state.store.input(id).map_err(ApiError::from)).await?;
        return Ok((
            StatusCode::OK,
            Json(InputPlanReply {
                input,
                plan: Some(plan),
                jobs: Some(jobs),
                planning: None,
            }),
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
        Json(InputPlanReply {
            input,
            plan: None,
            jobs: None,
            planning: Some(true),
        }),
    ))
}

pub(super) async fn plans(
    State(state): State<Arc<AppState>>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<PlansReply>> {
    let (limit, offset) = (clamp_limit(q.limit, 100), q.offset.unwrap_or(0));
    let plans = blocking(move || state.store.plans(limit, offset).map_err(ApiError::from)).await?;
    Ok(Json(PlansReply { plans }))
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

pub(super) async fn plan(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<Json<PlanReply>> {
    check_plan_id(&id)?;
    blocking(move || {
        let plan = state.store.plan(&id)?;
        let jobs = state.store.jobs(&JobFilter {
            plan_id: Some(id),
            limit: 1000,
            ..JobFilter::default()
        })?;
        Ok(Json(PlanReply { plan, jobs }))
    })
    .await
}

fn stored_plan(state: &AppState, id: &str) -> ApiResult<(refinery_plan::Plan, Option<i64>)> {
    let stored = state.store.plan(id)?;
    let plan: refinery_plan::Plan = serde_json::from_value(stored.body)
        .map_err(|e| ApiError::internal(format!("plan {id} cannot be read: {e}")))?;
    Ok((plan, stored.input_id))
}

pub(super) async fn plan_enqueue_builds(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
) -> ApiResult<(StatusCode, Json<PlanEnqueued>)> {
    check_plan_id(&id)?;
    let since = refinery_store::queue::now_ms();
    let jobs = blocking(move || {
        let (plan, input) = stored_plan(&state, &id)?;
        planning::enqueue_plan(&state, &plan, None, input)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(enqueued(jobs, since))))
}

pub(super) async fn plan_enqueue_build(
    State(state): State<Arc<AppState>>,
    UrlPath(id): UrlPath<String>,
    Json(body): Json<NodeRequest>,
) -> ApiResult<(StatusCode, Json<PlanEnqueued>)> {
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
fn enqueued(jobs: Vec<Job>, since_ms: i64) -> PlanEnqueued {
    let created = jobs.iter().filter(|j| j.created_ms >= since_ms).count() as u64;
    PlanEnqueued { jobs, created }
}

pub(super) async fn settings_get(State(state): State<Arc<AppState>>) -> ApiResult<Json<Settings>> {
    Ok(Json(
        blocking(move || state.store.settings().map_err(ApiError::from))
            .await?
            .into(),
    ))
}

pub(super) async fn settings_put(
    State(state): State<Arc<AppState>>,
    Json(body): Json<SettingsPatch>,
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
        .await?
        .into(),
    ))
}
