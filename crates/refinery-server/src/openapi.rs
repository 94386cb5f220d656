//! `GET /api/openapi.json`: an OpenAPI 3.1 description of the API.

use axum::Json;
use serde_json::{json, Map, Value};

/// (method, path, summary, needs the worker token, request body schema name)
const OPERATIONS: &[(&str, &str, &str, bool, Option<&str>)] = &[
    ("get", "/healthz", "Liveness and database round trip", false, None),
    ("get", "/metrics", "Prometheus metrics (text exposition format 0.0.4)", false, None),
    ("get", "/api/events", "History events, newest first; ?limit, ?before (id), ?package, ?kind", false, None),
    ("get", "/api/status-counts", "Events per kind and attempts per status", false, None),
    ("get", "/api/packages", "Every package in the status glossary's words (status from its jobs, else its attempts, else reuse/missing events) with attempt counts and its verification (level, outcome, the first failing check)", false, None),
    ("get", "/api/packages/{name}", "A package: attempts, variants, events, failures, hints, jobs", false, None),
    ("get", "/api/top-failures", "Packages by failed attempts; ?limit", false, None),
    ("get", "/api/top-slowest", "Packages by mean successful build time; ?limit", false, None),
    ("get", "/api/hints", "The hint catalog (hints/catalog.toml) and hints added through the API", false, None),
    ("post", "/api/hints", "Add a hint {pattern, packages, note}", true, Some("Hint")),
    ("put", "/api/hints/{id}", "Change an added hint {pattern, packages, note}", true, Some("Hint")),
    ("delete", "/api/hints/{id}", "Delete an added hint", true, None),
    ("get", "/api/logs/{name}/{version}", "The latest build log (text); ?attempt=N for a log file", false, None),
    ("get", "/api/logs/{name}/{version}/chunks", "Log chunks of the latest job; ?after=seq", false, None),
    ("get", "/api/logs/{name}/{version}/stream", "Live log over SSE (events `log`, `end`; Last-Event-ID resumes)", false, None),
    ("get", "/api/logs/stream", "Live log over SSE of ?job=ID or ?package=NAME&version=V (alias)", false, None),
    ("get", "/api/logs/chunks/{name}/{version}", "Log chunks of the latest job (alias of /api/logs/{name}/{version}/chunks)", false, None),
    ("get", "/api/queue", "Jobs; ?status=a,b ?package ?plan ?limit ?offset", false, None),
    ("get", "/api/queue/stats", "Queue depth, counts by status, workers", false, None),
    ("post", "/api/queue/enqueue", "Enqueue a build {package, version, python|python_tag, platform_tag, recipe, steps, priority}", true, Some("Enqueue")),
    ("post", "/api/queue/retry", "Retry jobs {ids} (empty: every failed job)", true, Some("Ids")),
    ("post", "/api/queue/clear", "Delete jobs that are not running {ids, statuses} (empty: all)", true, Some("Ids")),
    ("get", "/api/jobs/{id}", "One job", false, None),
    ("post", "/api/jobs/{id}/cancel", "Cancel a waiting job, or ask its worker to stop", true, None),
    ("get", "/api/jobs/{id}/logs", "The job's log (text)", false, None),
    ("post", "/api/jobs/{id}/logs", "Worker: append a log chunk {attempt, data}", true, Some("Log")),
    ("get", "/api/jobs/{id}/logs/chunks", "The job's log chunks; ?after=seq", false, None),
    ("get", "/api/jobs/{id}/logs/stream", "The job's live log over SSE", false, None),
    ("post", "/api/worker/claim", "Worker: claim the next job {worker, host, lease_secs}; 204 when none", true, Some("Claim")),
    ("post", "/api/jobs/{id}/start", "Worker: leased → building {attempt}", true, Some("Attempt")),
    ("post", "/api/jobs/{id}/heartbeat", "Worker: extend the lease {attempt, lease_secs}; replies {cancel}", true, Some("Attempt")),
    ("post", "/api/jobs/{id}/complete", "Worker: finish {attempt, status, detail, result}", true, Some("Complete")),
    ("post", "/api/jobs/{id}/history", "Worker: forward history {attempt, events, attempts}", true, None),
    ("put", "/api/jobs/{id}/wheel", "Worker: upload the built wheel; ?attempt ?filename ?origin", true, None),
    ("post", "/api/worker/trigger", "Drain the queue now (in-process or WORKER_WEBHOOK_URL)", true, None),
    ("get", "/api/hints/validate", "Checks a hint pattern (Rust regex syntax) and package names as adding it would, storing nothing: {valid, message}", false, None),
    ("get", "/api/statuses", "The status glossary: every job status with its class (waiting, running, built, reused, failed, skipped, cancelled) and meaning", false, None),
    ("get", "/api/workers", "Workers with their state: building (seen within liveness_window_secs and holding an active lease; job names it), idle (seen, no active job) or offline (not seen within the window)", false, None),
    ("post", "/api/requirements/upload", "Upload a requirements.txt (multipart field `file`) as a pending input", true, None),
    ("post", "/api/wheels/upload", "Upload a wheel (multipart field `file`) as a pending input", true, None),
    ("get", "/api/pending-inputs", "Pending inputs", false, None),
    ("get", "/api/pending-inputs/{id}", "One input", false, None),
    ("post", "/api/pending-inputs/{id}/enqueue-plan", "Plan the input (202; ?wait=true plans before answering)", true, None),
    ("get", "/api/plans", "Plans, newest first", false, None),
    ("get", "/api/plans/{id}", "A plan with its DAG and jobs", false, None),
    ("post", "/api/plans/{id}/enqueue-builds", "Enqueue every node of the plan: {jobs, created} (created: how many this call made)", true, None),
    ("post", "/api/plans/{id}/enqueue-build", "Enqueue one node {node: name==version | package}: {jobs, created}", true, Some("Node")),
    ("get", "/api/settings", "AUTO_PLAN and AUTO_BUILD", false, None),
    ("put", "/api/settings", "Change {auto_plan, auto_build}", true, Some("Settings")),
    ("get", "/api/session/token", "What the token cookie gives, always 200: {worker_token, read_token, access: none|read|write|invalid}", false, None),
    ("post", "/api/session/token", "Set the worker_token cookie (?token= or {token})", false, None),
    ("delete", "/api/session/token", "Drop the worker_token cookie", false, None),
    ("get", "/simple/", "PEP 503/691 root page (Accept: application/vnd.pypi.simple.v1+json for JSON)", false, None),
    ("get", "/simple/{name}/", "PEP 503/691 project page with sha256, requires-python and PEP 658 metadata", false, None),
    ("get", "/files/{sha256}/{filename}", "A wheel from the content-addressed store (`.metadata` suffix: its METADATA)", false, None),
];

fn schemas() -> Value {
    json!({
        "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}}}}},
        "Hint": {"type": "object", "required": ["pattern"], "properties": {
            "pattern": {"type": "string"}, "packages": {"type": "array", "items": {"type": "string"}},
            "note": {"type": "string"}}},
        "Enqueue": {"type": "object", "required": ["package", "version"], "properties": {
            "package": {"type": "string"}, "version": {"type": "string"},
            "python": {"type": "string", "example": "3.11"}, "python_tag": {"type": "string", "example": "cp311"},
            "platform_tag": {"type": "string", "example": "manylinux2014_s390x"},
            "recipe": {"type": "object", "properties": {"steps": {"type": "array", "items": {"type": "string"}},
                "variant": {"type": "string"}, "system_packages": {"type": "array", "items": {"type": "string"}},
                "env": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "steps": {"type": "array", "items": {"type": "string"}}, "priority": {"type": "integer"}}},
        "Ids": {"type": "object", "properties": {"ids": {"type": "array", "items": {"type": "integer"}},
            "statuses": {"type": "array", "items": {"$ref": "#/components/schemas/JobStatus"}}}},
        "JobStatus": {"type": "string", "enum": ["pending", "leased", "building", "retry", "built", "failed",
            "cached", "reused", "missing", "skipped_known_failure", "system_recipe_failed", "cancelled", "broken"]},
        "Log": {"type": "object", "required": ["attempt", "data"], "properties": {
            "attempt": {"type": "integer"}, "data": {"type": "string"}}},
        "Claim": {"type": "object", "required": ["worker"], "properties": {
            "worker": {"type": "string"}, "host": {"type": "string"}, "lease_secs": {"type": "integer"}}},
        "Attempt": {"type": "object", "required": ["attempt"], "properties": {
            "attempt": {"type": "integer", "description": "the fencing token from the claim"},
            "lease_secs": {"type": "integer"}}},
        "Complete": {"type": "object", "required": ["attempt", "status"], "properties": {
            "attempt": {"type": "integer"}, "status": {"$ref": "#/components/schemas/JobStatus"},
            "detail": {"type": "string"}, "result": {}}},
        "Node": {"type": "object", "properties": {"node": {"type": "string"}, "package": {"type": "string"}}},
        "Settings": {"type": "object", "properties": {"auto_plan": {"type": "boolean"}, "auto_build": {"type": "boolean"}}},
    })
}

/// The document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for (method, path, summary, token, body) in OPERATIONS {
        let mut op = json!({
            "summary": summary,
            "responses": {
                "200": {"description": "OK"},
                "4XX": {"description": "Client error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "5XX": {"description": "Server error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        });
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if *token {
            op["security"] = json!([{"workerToken": []}, {"bearer": []}]);
        }
        if let Some(schema) = body {
            op["requestBody"] = json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
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
