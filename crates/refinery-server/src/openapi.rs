//! `GET /api/openapi.json`: an `OpenAPI` 3.1 description of the API. The schemas are
//! derived from the contract's types ([`refinery_contract`], through `utoipa`); the
//! checked-in copy `ui/openapi.json` is what the dashboard's TypeScript types are
//! generated from (`scripts/ui.sh types`).

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::Json;
use refinery_contract::*;
use serde_json::{json, Map, Value};
use utoipa::{OpenApi, ToSchema};

/// Every endpoint: (method, path, summary, needs the worker token), with the contract
/// types of its JSON body, query and answer where [`refinery_contract`] has them.
fn operations() -> Vec<Operation> {
    vec![
        op("get", "/healthz", "Liveness and database round trip", false).reply::<Health>(),
        op("get", "/metrics", "Prometheus metrics (text exposition format 0.0.4)", false).text(TEXT),
        op("get", "/api/events", "History events, newest first; ?limit, ?before (id), ?package, ?kind", false).reply::<EventsPage>(),
        op("get", "/api/status-counts", "Events per kind and attempts per status", false).reply::<StatusCounts>(),
        op("get", "/api/packages", "Every package in the status glossary's words (status from its jobs, else its attempts, else reuse/missing events) with attempt counts and its verification (level, outcome, the first failing check)", false).reply::<PackagesReply>(),
        op("get", "/api/packages/{name}", "A package: attempts, variants, events, failures, hints, jobs", false).reply::<PackageDetail>(),
        op("get", "/api/top-failures", "Packages by failed attempts; ?limit", false).reply::<TopFailures>(),
        op("get", "/api/top-slowest", "Packages by mean successful build time; ?limit", false).reply::<TopSlowest>(),
        op("get", "/api/hints", "The hint catalog (hints/catalog.toml) and hints added through the API", false).reply::<HintsReply>(),
        op("post", "/api/hints", "Add a hint {pattern, packages, note}", true).body::<HintRequest>().reply_status::<HintReply>(StatusCode::CREATED),
        op("put", "/api/hints/{id}", "Change an added hint {pattern, packages, note}", true).body::<HintRequest>().reply::<HintReply>(),
        op("delete", "/api/hints/{id}", "Delete an added hint", true).empty(StatusCode::NO_CONTENT),
        op("get", "/api/logs/{name}/{version}", "The latest build log (text); ?attempt=N for a log file", false).text(TEXT),
        op("get", "/api/logs/{name}/{version}/chunks", "Log chunks of the latest job; ?after=seq", false).reply::<LogChunks>(),
        op("get", "/api/logs/{name}/{version}/stream", "Live log over SSE (events `log`, then `end` with a LogEnd; Last-Event-ID resumes)", false).text(EVENT_STREAM),
        op("get", "/api/logs/stream", "Live log over SSE of ?job=ID or ?package=NAME&version=V (alias)", false).text(EVENT_STREAM),
        op("get", "/api/logs/chunks/{name}/{version}", "Log chunks of the latest job (alias of /api/logs/{name}/{version}/chunks)", false).reply::<LogChunks>(),
        op("get", "/api/queue", "Jobs, cleared ones included; ?status=a,b ?package ?plan ?hide_cleared=true ?limit ?offset", false).reply::<QueueList>(),
        op("get", "/api/queue/stats", "Queue depth, counts by status (cleared jobs included), workers, what the worker trigger can do", false).reply::<QueueStatsReply>(),
        op("post", "/api/queue/enqueue", "Enqueue a build {package, version, python|python_tag, platform_tag, recipe, steps, priority}", true).body::<EnqueueRequest>().reply_status::<EnqueueReply>(StatusCode::CREATED).reply::<EnqueueReply>(),
        op("post", "/api/queue/retry", "Retry jobs {ids} (empty: every failed job)", true).body::<IdsRequest>().reply::<Retried>(),
        op("post", "/api/queue/clear", "Clear jobs that are not running from the Builds list {ids, statuses} (empty: every finished job); nothing is deleted, waiting ones are cancelled", true).body::<IdsRequest>().reply::<Cleared>(),
        op("get", "/api/jobs/{id}", "One job", false).reply::<JobReply>(),
        op("post", "/api/jobs/{id}/cancel", "Cancel a waiting job, or ask its worker to stop", true).reply::<JobReply>(),
        op("get", "/api/jobs/{id}/logs", "The job's log (text)", false).text(TEXT),
        op("post", "/api/jobs/{id}/logs", "Worker: append a log chunk {attempt, data}", true).body::<LogRequest>().reply::<LogAppended>(),
        op("get", "/api/jobs/{id}/logs/chunks", "The job's log chunks; ?after=seq", false).reply::<LogChunks>(),
        op("get", "/api/jobs/{id}/logs/stream", "The job's live log over SSE", false).text(EVENT_STREAM),
        op("post", "/api/worker/claim", "Worker: claim the next job {worker, host, lease_secs}; 204 when none", true).body::<ClaimRequest>().reply::<ClaimReply>().empty(StatusCode::NO_CONTENT),
        op("post", "/api/jobs/{id}/start", "Worker: leased → building {attempt}", true).body::<AttemptRequest>().reply::<Done>(),
        op("post", "/api/jobs/{id}/heartbeat", "Worker: extend the lease {attempt, lease_secs}; replies {cancel}", true).body::<AttemptRequest>().reply::<HeartbeatReply>(),
        op("post", "/api/jobs/{id}/complete", "Worker: finish {attempt, status, detail, result}", true).body::<CompleteRequest>().reply::<JobReply>(),
        op("post", "/api/jobs/{id}/history", "Worker: forward history {attempt, events, attempts}", true).body::<HistoryRequest>().reply::<HistoryRecorded>(),
        op("put", "/api/jobs/{id}/wheel", "Worker: upload the built wheel; ?attempt ?filename ?origin", true).reply::<PublishedReply>(),
        op("get", "/api/packs/{key}", "Worker: a finished native library pack of the server's store as .tar.gz, its sha256 in the X-Refinery-Pack-Sha256 header; 404 when the server has none", false).binary("application/gzip"),
        op("post", "/api/worker/trigger", "Drain the queue now (in-process or WORKER_WEBHOOK_URL)", true).reply_status::<DrainTriggered>(StatusCode::ACCEPTED),
        op("get", "/api/hints/validate", "Checks a hint pattern (Rust regex syntax) and package names as adding it would, storing nothing: {valid, message}", false).reply::<HintValidation>(),
        op("get", "/api/statuses", "The status glossary: every job status with its class (waiting, running, built, reused, failed, skipped, cancelled) and meaning", false).reply::<StatusGlossary>(),
        op("get", "/api/workers", "Workers with their state: building (seen within liveness_window_secs and holding an active lease; job names it), idle (seen, no active job) or offline (not seen within the window)", false).reply::<WorkersReply>(),
        op("post", "/api/requirements/upload", "Upload a requirements.txt (multipart field `file`) as a pending input", true).reply_status::<InputUploaded>(StatusCode::CREATED),
        op("post", "/api/wheels/upload", "Upload a wheel (multipart field `file`) as a pending input", true).reply_status::<InputUploaded>(StatusCode::CREATED),
        op("get", "/api/pending-inputs", "Pending inputs", false).reply::<InputsReply>(),
        op("get", "/api/pending-inputs/{id}", "One input", false).reply::<InputReply>(),
        op("post", "/api/pending-inputs/{id}/enqueue-plan", "Plan the input (202; ?wait=true plans before answering)", true).reply_status::<InputPlanReply>(StatusCode::ACCEPTED).reply::<InputPlanReply>(),
        op("get", "/api/plans", "Plans, newest first", false).reply::<PlansReply>(),
        op("get", "/api/plans/{id}", "A plan with its DAG and jobs", false).reply::<PlanReply>(),
        op("post", "/api/plans/{id}/enqueue-builds", "Enqueue every node of the plan: {jobs, created} (created: how many this call made)", true).reply_status::<PlanEnqueued>(StatusCode::CREATED),
        op("post", "/api/plans/{id}/enqueue-build", "Enqueue one node {node: name==version | package}: {jobs, created}", true).body::<NodeRequest>().reply_status::<PlanEnqueued>(StatusCode::CREATED),
        op("get", "/api/settings", "AUTO_PLAN and AUTO_BUILD", false).reply::<Settings>(),
        op("put", "/api/settings", "Change {auto_plan, auto_build}", true).body::<SettingsPatch>().reply::<Settings>(),
        op("get", "/api/session/token", "What the token cookie gives, always 200: {worker_token, read_token, access: none|read|write|invalid}", false).reply::<SessionState>(),
        op("post", "/api/session/token", "Set the worker_token cookie (?token= or {token})", false).body::<TokenRequest>().reply::<SessionSet>(),
        op("delete", "/api/session/token", "Drop the worker_token cookie", false).reply::<Done>(),
        op("get", "/simple/", "PEP 503/691 root page (Accept: application/vnd.pypi.simple.v1+json for JSON)", false).text(HTML).text(SIMPLE_HTML).text(SIMPLE_JSON),
        op("get", "/simple/{name}/", "PEP 503/691 project page with sha256, requires-python and PEP 658 metadata", false).text(HTML).text(SIMPLE_HTML).text(SIMPLE_JSON),
        op("get", "/files/{sha256}/{filename}", "A wheel from the content-addressed store (`.metadata` suffix: its METADATA)", false).binary("application/octet-stream").text(TEXT),
    ]
}

/// Plain text (logs, metrics, a wheel's METADATA).
const TEXT: &str = "text/plain";
/// Server-sent events (live logs).
const EVENT_STREAM: &str = "text/event-stream";
/// PEP 503 pages for browsers and pip.
const HTML: &str = "text/html";
/// PEP 691 pages.
const SIMPLE_HTML: &str = "application/vnd.pypi.simple.v1+html";
const SIMPLE_JSON: &str = "application/vnd.pypi.simple.v1+json";

/// What a success answer carries.
enum Content {
    /// A JSON body of this schema (a [`refinery_contract`] type).
    Json(Cow<'static, str>),
    /// A body of these media types (without parameters such as `charset`), each with its
    /// schema (a string, or binary bytes).
    Media(Vec<(&'static str, Value)>),
    /// No body (e.g. `204 No Content`).
    Empty,
}

/// One endpoint of [`operations`].
struct Operation {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    /// Needs the worker token (every write when `WORKER_TOKEN` is set).
    token: bool,
    /// The JSON body's schema name (a [`refinery_contract`] type).
    body: Option<Cow<'static, str>>,
    /// The success answers: status and what its body is. Every operation names at least one.
    replies: Vec<(StatusCode, Content)>,
}

fn op(method: &'static str, path: &'static str, summary: &'static str, token: bool) -> Operation {
    Operation {
        method,
        path,
        summary,
        token,
        body: None,
        replies: Vec::new(),
    }
}

impl Operation {
    fn body<T: ToSchema>(mut self) -> Operation {
        self.body = Some(T::name());
        self
    }

    /// A `200 OK` answer with a `T` body.
    fn reply<T: ToSchema>(self) -> Operation {
        self.reply_status::<T>(StatusCode::OK)
    }

    /// A success answer of this status with a `T` body, as the handler really sends it.
    fn reply_status<T: ToSchema>(mut self, status: StatusCode) -> Operation {
        self.replies.push((status, Content::Json(T::name())));
        self
    }

    /// A success answer of this status without a body (e.g. `204 No Content`).
    fn empty(mut self, status: StatusCode) -> Operation {
        self.replies.push((status, Content::Empty));
        self
    }

    /// A `200 OK` answer whose body is text of this media type (`text/plain`, the
    /// `text/event-stream` of SSE, HTML); several calls name the alternatives the
    /// handler chooses among (by `Accept` or by path).
    fn text(self, media: &'static str) -> Operation {
        self.media(media, json!({"type": "string"}))
    }

    /// A `200 OK` answer whose body is bytes of this media type.
    fn binary(self, media: &'static str) -> Operation {
        self.media(media, json!({"type": "string", "contentMediaType": media}))
    }

    fn media(mut self, media: &'static str, schema: Value) -> Operation {
        match self
            .replies
            .iter_mut()
            .find(|(status, _)| *status == StatusCode::OK)
        {
            Some((_, Content::Media(types))) => types.push((media, schema)),
            Some(_) => panic!(
                "{} {}: a 200 answer is JSON or media, not both",
                self.method, self.path
            ),
            None => self
                .replies
                .push((StatusCode::OK, Content::Media(vec![(media, schema)]))),
        }
        self
    }
}

/// The schemas of the contract, derived from its types.
#[derive(OpenApi)]
#[openapi(components(schemas(
    AttemptRequest,
    ClaimReply,
    ClaimRequest,
    Cleared,
    CompleteRequest,
    Done,
    DrainTriggered,
    EnqueueReply,
    EnqueueRequest,
    ErrorBody,
    ErrorDetail,
    EventsPage,
    Health,
    HeartbeatReply,
    HintReply,
    HintRequest,
    HintValidation,
    HintsReply,
    HistoryRecorded,
    HistoryRequest,
    IdsRequest,
    InputPlanReply,
    InputReply,
    InputUploaded,
    InputsReply,
    JobReply,
    LogAppended,
    LogChunks,
    LogEnd,
    LogRequest,
    NodeRequest,
    PackageDetail,
    PackagesReply,
    PlanEnqueued,
    PlanReply,
    PlansReply,
    PublishedReply,
    QueueList,
    QueueStatsReply,
    Retried,
    SessionSet,
    SessionState,
    Settings,
    SettingsPatch,
    StatusCounts,
    StatusGlossary,
    TokenRequest,
    TopFailures,
    TopSlowest,
    WheelQuery,
    WorkersReply,
)))]
struct Contract;

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The components' schemas, as utoipa derives them from the contract's types.
fn schemas() -> Value {
    let derived =
        serde_json::to_value(Contract::openapi()).expect("the OpenAPI document serializes");
    derived["components"]["schemas"].clone()
}

/// The document (`OpenAPI` 3.1): the operations of [`operations`], their bodies and
/// answers as schemas derived from [`refinery_contract`].
///
/// # Panics
///
/// When an operation names no success answer or both a JSON and a media body for one
/// status (mistakes in [`operations`], which the tests catch), or the derived schemas do
/// not serialize.
#[must_use]
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    let error = schema_ref(&ErrorBody::name());
    for Operation {
        method,
        path,
        summary,
        token,
        body,
        replies,
    } in operations()
    {
        assert!(!replies.is_empty(), "{method} {path}: no success answer");
        let mut responses = Map::new();
        for (status, content) in replies {
            let description = status.canonical_reason().unwrap_or("Success");
            let answer = match content {
                Content::Json(name) => {
                    json!({"description": description, "content": {"application/json": {"schema": schema_ref(&name)}}})
                }
                Content::Media(types) => {
                    let content: Map<String, Value> = types
                        .into_iter()
                        .map(|(media, schema)| (media.to_string(), json!({"schema": schema})))
                        .collect();
                    json!({"description": description, "content": content})
                }
                Content::Empty => json!({"description": description}),
            };
            responses.insert(status.as_str().to_string(), answer);
        }
        responses.insert(
            "4XX".into(),
            json!({"description": "Client error", "content": {"application/json": {"schema": error}}}),
        );
        responses.insert(
            "5XX".into(),
            json!({"description": "Server error", "content": {"application/json": {"schema": error}}}),
        );
        let mut op = json!({
            "summary": summary,
            "responses": responses,
        });
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if token {
            op["security"] = json!([{"workerToken": []}, {"bearer": []}]);
        }
        if let Some(name) = body {
            op["requestBody"] =
                json!({"content": {"application/json": {"schema": schema_ref(&name)}}});
        }
        paths
            .entry(path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("path item")
            .insert(method.to_string(), op);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "s390x Wheel Refinery control plane",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Inputs, plans, the build queue and its workers, live logs, metrics and a PEP 503/691 index of s390x wheels. With WORKER_TOKEN set, every mutating endpoint needs the token (X-Worker-Token header, Authorization: Bearer, ?token= or the worker_token cookie); errors are JSON {error: {code, message}}.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {
                "workerToken": {"type": "apiKey", "in": "header", "name": "X-Worker-Token"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    })
}

pub async fn openapi() -> Json<Value> {
    Json(document())
}
