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

/// Checks that the document names `status` among the answers of `method path`, with a
/// JSON body exactly when the real answer has one, and returns the real answer's body.
fn check_documented(
    doc: &Value,
    method: &str,
    path: &str,
    response: reqwest::blocking::Response,
) -> Value {
    let status = response.status().as_u16().to_string();
    let text = response.text().unwrap();
    let documented = &doc["paths"][path][method]["responses"][&status];
    assert!(
        documented.is_object(),
        "{method} {path} answered {status} ({text}), which the document does not name: {}",
        doc["paths"][path][method]["responses"]
    );
    let schema = &documented["content"]["application/json"]["schema"]["$ref"];
    if text.is_empty() {
        assert!(
            schema.is_null(),
            "{method} {path} {status}: documented with {schema}, answered nothing"
        );
        return Value::Null;
    }
    assert!(
        schema.is_string(),
        "{method} {path} {status}: answered {text}, documented without a body"
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
    check_documented(&doc, "post", "/api/worker/claim", claimed);
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
}
