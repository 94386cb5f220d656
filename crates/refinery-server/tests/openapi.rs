//! The checked-in OpenAPI document (`ui/openapi.json`), from which the dashboard's
//! TypeScript types are generated, is the one the server serves: a change to the contract
//! types fails here until the copy (and then the types, `scripts/ui.sh types`) are
//! regenerated. `UPDATE_OPENAPI=1 cargo test -p refinery-server --test openapi` rewrites it.

use std::path::PathBuf;

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
