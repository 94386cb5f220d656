//! The checked-in OpenAPI document (`ui/openapi.json`), from which the dashboard's
//! TypeScript types are generated, is the one the server serves: a change to the contract
//! types fails here until the copy (and then the types, `scripts/ui.sh types`) are
//! regenerated. `UPDATE_OPENAPI=1 cargo test -p refinery-server --test openapi` rewrites it.

mod common;

use std::path::PathBuf;

use common::{write_wheel, TestServer};
use serde_json::{json, Value};

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ui/openapi.json")
}

#[test]
fn checked_in_document_is_the_served_one() {
    let doc = refinery_server::openapi::document();
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    let path = checked_in();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == text,
        "{} is not the document the server serves; run `UPDATE_OPENAPI=1 cargo test -p \
         refinery-server --test openapi`, then `scripts/ui.sh types`",
        path.display()
    );
}

#[test]
fn schemas_come_from_the_contract_types() {
    let doc = refinery_server::openapi::document();
    let claim = &doc["paths"]["/api/worker/claim"]["post"];
    assert_eq!(
        claim["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ClaimRequest"
    );
    assert_eq!(
        claim["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ClaimReply"
    );
    let schemas = &doc["components"]["schemas"];
    // Every referenced schema exists.
    let text = doc.to_string();
    for name in text
        .split("#/components/schemas/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
    {
        assert!(
            schemas[name].is_object(),
            "{name} is referenced but not defined"
        );
    }
    let required = schemas["ClaimRequest"]["required"].as_array().unwrap();
    assert_eq!(required, &[serde_json::json!("worker")]);
    assert_eq!(
        schemas["ErrorBody"]["properties"]["error"]["$ref"],
        "#/components/schemas/ErrorDetail"
    );
}

/// The media type of an answer, without parameters (`text/plain` of
/// `text/plain; charset=utf-8`).
fn media_type(response: &reqwest::blocking::Response) -> Option<String> {
    let value = response.headers().get(reqwest::header::CONTENT_TYPE)?;
    let media = value.to_str().unwrap().split(';').next().unwrap().trim();
    Some(media.to_ascii_lowercase())
}

/// Checks that the document names `status` among the answers of `method path`, with the
/// real answer's media type (a JSON schema exactly when it is JSON, a body exactly when
/// it has one), and returns the real answer's body: JSON parsed, text as a string. An
/// event stream is not read (it stays open): its body is `null`.
fn check_documented(
    doc: &Value,
    method: &str,
    path: &str,
    response: reqwest::blocking::Response,
) -> Value {
    let status = response.status().as_u16().to_string();
    let media = media_type(&response);
    let documented = doc["paths"][path][method]["responses"][&status].clone();
    if media.as_deref() == Some("text/event-stream") {
        assert!(
            documented["content"]["text/event-stream"]["schema"].is_object(),
            "{method} {path} {status}: answered an event stream, documented as {documented}"
        );
        return Value::Null;
    }
    let text = response.text().unwrap();
    assert!(
        documented.is_object(),
        "{method} {path} answered {status} ({text}), which the document does not name: {}",
        doc["paths"][path][method]["responses"]
    );
    if text.is_empty() && media.is_none() {
        assert!(
            documented["content"].is_null(),
            "{method} {path} {status}: documented with {}, answered nothing",
            documented["content"]
        );
        return Value::Null;
    }
    let media = media.unwrap_or_else(|| panic!("{method} {path} {status}: a body without a type"));
    assert!(
        documented["content"][&media]["schema"].is_object(),
        "{method} {path} {status}: answered {media} ({text}), documented as {}",
        documented["content"]
    );
    if media != "application/json" {
        assert_eq!(
            documented["content"][&media]["schema"]["type"], "string",
            "{method} {path} {status}: {media} is documented as a string"
        );
        return Value::String(text);
    }
    let schema = &documented["content"]["application/json"]["schema"]["$ref"];
    assert!(
        schema.is_string(),
        "{method} {path} {status}: answered {text}, documented without a schema"
    );
    let name = schema.as_str().unwrap().rsplit('/').next().unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    for key in doc["components"]["schemas"][name]["required"]
        .as_array()
        .unwrap()
    {
        let key = key.as_str().unwrap();
        assert!(
            body.get(key).is_some(),
            "{method} {path} {status}: {name} requires `{key}`: {text}"
        );
    }
    body
}

#[test]
fn documented_success_statuses_are_the_real_ones() {
    let doc = refinery_server::openapi::document();
    let t = TestServer::start(|_| {});
    let dir = tempfile::tempdir().unwrap();
    let wheel = write_wheel(dir.path(), "tinypure", "2.0", "py3-none-any", None);
    let uploaded = t.upload(
        "/api/wheels/upload",
        "tinypure-2.0-py3-none-any.whl",
        "application/octet-stream",
        &std::fs::read(&wheel).unwrap(),
    );
    assert_eq!(uploaded.status(), 201);
    check_documented(&doc, "post", "/api/wheels/upload", uploaded);
    let uploaded = t.upload(
        "/api/requirements/upload",
        "requirements.txt",
        "text/plain",
        b"six==1.16.0\n",
    );
    assert_eq!(uploaded.status(), 201);
    check_documented(&doc, "post", "/api/requirements/upload", uploaded);

    let job = json!({"package": "six", "version": "1.16.0"});
    let created = t.post("/api/queue/enqueue", job.clone());
    assert_eq!(created.status(), 201);
    check_documented(&doc, "post", "/api/queue/enqueue", created);
    let again = t.post("/api/queue/enqueue", job);
    assert_eq!(again.status(), 200);
    let body = check_documented(&doc, "post", "/api/queue/enqueue", again);
    assert_eq!(body["created"], false);

    let claimed = t.post("/api/worker/claim", json!({"worker": "w1"}));
    assert_eq!(claimed.status(), 200);
    let job = check_documented(&doc, "post", "/api/worker/claim", claimed)["job"].clone();
    let none = t.post("/api/worker/claim", json!({"worker": "w1"}));
    assert_eq!(none.status(), 204);
    check_documented(&doc, "post", "/api/worker/claim", none);

    let added = t.post(
        "/api/hints",
        json!({"pattern": "gdbm\\.h: No such file", "packages": ["libgdbm-dev"], "note": "gdbm"}),
    );
    assert_eq!(added.status(), 201);
    let hint = check_documented(&doc, "post", "/api/hints", added)["hint"].clone();
    let deleted = t
        .client
        .delete(t.url(&format!("/api/hints/{}", hint["id"])))
        .send()
        .unwrap();
    assert_eq!(deleted.status(), 204);
    check_documented(&doc, "delete", "/api/hints/{id}", deleted);

    // Text answers: a job's log, the latest build log of a package, metrics, the index.
    let id = &job["id"];
    let appended = t.post(
        &format!("/api/jobs/{id}/logs"),
        json!({"attempt": job["attempt"], "data": "hello\n"}),
    );
    check_documented(&doc, "post", "/api/jobs/{id}/logs", appended);
    let log = t.get(&format!("/api/jobs/{id}/logs"));
    assert_eq!(log.status(), 200);
    assert_eq!(
        check_documented(&doc, "get", "/api/jobs/{id}/logs", log),
        "hello\n"
    );
    let latest = t.get("/api/logs/six/1.16.0");
    assert_eq!(latest.status(), 200);
    check_documented(&doc, "get", "/api/logs/{name}/{version}", latest);
    let metrics = t.get("/metrics");
    assert_eq!(metrics.status(), 200);
    check_documented(&doc, "get", "/metrics", metrics);
    // The index root, as HTML and as PEP 691 JSON.
    let page = t.get("/simple/");
    assert_eq!(page.status(), 200);
    check_documented(&doc, "get", "/simple/", page);
    let json = t
        .client
        .get(t.url("/simple/"))
        .header("Accept", "application/vnd.pypi.simple.v1+json")
        .send()
        .unwrap();
    assert_eq!(
        media_type(&json).as_deref(),
        Some("application/vnd.pypi.simple.v1+json")
    );
    check_documented(&doc, "get", "/simple/", json);

    // Live logs: server-sent events.
    for (path, documented) in [
        (
            format!("/api/jobs/{id}/logs/stream"),
            "/api/jobs/{id}/logs/stream",
        ),
        (format!("/api/logs/stream?job={id}"), "/api/logs/stream"),
        (
            "/api/logs/six/1.16.0/stream".to_string(),
            "/api/logs/{name}/{version}/stream",
        ),
    ] {
        let stream = t.get(&path);
        assert_eq!(stream.status(), 200, "{path}");
        assert_eq!(media_type(&stream).as_deref(), Some("text/event-stream"));
        check_documented(&doc, "get", documented, stream);
    }

    // Dropping the session cookie answers `{"ok": true}`.
    let dropped = t.client.delete(t.url("/api/session/token")).send().unwrap();
    assert_eq!(dropped.status(), 200);
    assert_eq!(
        check_documented(&doc, "delete", "/api/session/token", dropped),
        json!({"ok": true})
    );
}

/// Every answer the document names has a media type the handler really sends, and the
/// non-JSON ones say which: text, event streams, HTML and bytes are not left to the summary.
#[test]
fn text_and_stream_answers_name_their_media_types() {
    let doc = refinery_server::openapi::document();
    let content = |method: &str, path: &str| {
        doc["paths"][path][method]["responses"]["200"]["content"].clone()
    };
    for path in [
        "/api/logs/{name}/{version}",
        "/api/jobs/{id}/logs",
        "/metrics",
    ] {
        assert_eq!(
            content("get", path)["text/plain"]["schema"]["type"],
            "string",
            "{path}"
        );
    }
    for path in [
        "/api/logs/{name}/{version}/stream",
        "/api/logs/stream",
        "/api/jobs/{id}/logs/stream",
    ] {
        assert_eq!(
            content("get", path)["text/event-stream"]["schema"]["type"],
            "string",
            "{path}"
        );
    }
    assert_eq!(
        content("get", "/api/packs/{key}")["application/gzip"]["schema"]["contentMediaType"],
        "application/gzip"
    );
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let answers = op["responses"].as_object().unwrap();
            assert!(
                answers.keys().any(|status| status.starts_with('2')),
                "{method} {path} names no success answer"
            );
        }
    }
}
