//! History read side: events, status counts, the status glossary, packages, top lists.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Query, State};
use axum::Json;
use refinery_contract::{
    EventsPage, PackageDetail, PackagesReply, StatusCounts, StatusGlossary, TopFailures, TopSlowest,
};
use refinery_store::queue::JobFilter;
use refinery_store::EventKind;
use serde::Deserialize;

use super::{clamp_limit, ApiResult, LimitQuery};
use crate::error::ApiError;
use crate::validate::parse_name;
use crate::{blocking, AppState};

#[derive(Deserialize, Default)]
pub(super) struct EventsQuery {
    limit: Option<usize>,
    before: Option<i64>,
    package: Option<String>,
    /// Event kind (`built`, `failure`, `plan`, …; see [`EventKind`]); `status` is an alias.
    /// A kind the history does not know is a 400 that lists the known ones.
    kind: Option<String>,
    status: Option<String>,
}

pub(super) async fn events(
    State(state): State<Arc<AppState>>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<EventsPage>> {
    let package = q.package.as_deref().map(parse_name).transpose()?;
    let limit = clamp_limit(q.limit, 50);
    let kind = q
        .kind
        .or(q.status)
        .map(|k| k.parse::<EventKind>())
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let events = blocking(move || {
        state
            .history
            .with(|h| h.events_page(package.as_ref(), kind, q.before, limit))
            .map_err(ApiError::from)
    })
    .await?;
    let next = (events.len() == limit)
        .then(|| events.last().map(|e| e.id))
        .flatten();
    Ok(Json(EventsPage {
        events,
        next_before: next,
    }))
}

pub(super) async fn status_counts(
    State(state): State<Arc<AppState>>,
) -> ApiResult<Json<StatusCounts>> {
    let (events, attempts) = blocking(move || {
        state
            .history
            .with(|h| Ok((h.status_counts()?, h.attempt_status_counts()?)))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(StatusCounts { events, attempts }))
}

/// The status glossary (`refinery_store::glossary`): every status, its class and meaning.
pub(super) async fn statuses() -> Json<StatusGlossary> {
    Json(StatusGlossary {
        statuses: refinery_store::glossary::glossary(),
    })
}

pub(super) async fn packages(
    State(state): State<Arc<AppState>>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<PackagesReply>> {
    let limit = clamp_limit(q.limit, 200);
    let packages = blocking(move || {
        let (summaries, events) = state.history.with(|h| {
            let mut events = Vec::new();
            for kind in [
                EventKind::Reuse,
                EventKind::Cached,
                EventKind::Missing,
                EventKind::SkippedKnownFailure,
                EventKind::Verified,
                EventKind::Broken,
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
    Ok(Json(PackagesReply { packages }))
}

pub(super) async fn package(
    State(state): State<Arc<AppState>>,
    UrlPath(name): UrlPath<String>,
) -> ApiResult<Json<PackageDetail>> {
    let package = parse_name(&name)?;
    blocking(move || {
        let (attempts, variants, events) = state.history.with(|h| {
            Ok((
                h.attempts_for(&package, 100)?,
                h.variant_stats(&package)?,
                h.events_for(&package, 100)?,
            ))
        })?;
        let jobs = state.store.jobs(&JobFilter {
            package: Some(name.clone()),
            limit: 50,
            ..JobFilter::default()
        })?;
        let package_key = refinery_index::normalize_name(&name);
        let plans = crate::planned::planned_in(state.store.as_ref(), &package_key)?;
        if attempts.is_empty() && events.is_empty() && jobs.is_empty() && plans.is_empty() {
            return Err(ApiError::not_found(format!(
                "nothing is known about package `{name}`"
            )));
        }
        let failures: Vec<_> = attempts
            .iter()
            .filter(|a| a.status.is_failure())
            .cloned()
            .collect();
        let hints: BTreeSet<String> = attempts.iter().flat_map(|a| a.hints.clone()).collect();
        let durations: Vec<f64> = attempts
            .iter()
            .filter(|a| a.status.is_success())
            .map(|a| a.duration_secs)
            .collect();
        let average =
            (!durations.is_empty()).then(|| durations.iter().sum::<f64>() / durations.len() as f64);
        Ok(Json(PackageDetail {
            name: package_key,
            attempts,
            variants,
            events,
            failures,
            hints,
            average_duration_secs: average,
            jobs,
            plans,
        }))
    })
    .await
}

pub(super) async fn top_failures(
    State(state): State<Arc<AppState>>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<TopFailures>> {
    let limit = clamp_limit(q.limit, 10);
    let rows = blocking(move || {
        state
            .history
            .with(|h| h.top_failures(limit))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(TopFailures { top_failures: rows }))
}

pub(super) async fn top_slowest(
    State(state): State<Arc<AppState>>,
    Query(q): Query<LimitQuery>,
) -> ApiResult<Json<TopSlowest>> {
    let limit = clamp_limit(q.limit, 10);
    let rows = blocking(move || {
        state
            .history
            .with(|h| h.top_slowest(limit))
            .map_err(ApiError::from)
    })
    .await?;
    Ok(Json(TopSlowest { top_slowest: rows }))
}
