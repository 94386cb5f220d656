//! A build provenance record per built wheel, kept in the cache: an in-toto Statement v1
//! (`https://in-toto.io/Statement/v1`) whose predicate is SLSA Provenance v1
//! (`https://slsa.dev/provenance/v1`). The subject is the wheel (file name, sha256); the
//! resolved dependencies are the sdist (URL or input path, sha256) and the packs linked in;
//! the run details name the builder (the Refinery and its version), the run id and the build
//! environment. The record is not signed; its sha256 is kept in the manifest
//! (`metadata.provenance`), so a changed record is detected.

use std::path::Path;

use refinery_pep::Target;
use refinery_plan::PlanNode;
use refinery_store::{write_atomic, ManifestMetadata};
use serde_json::{json, Value};

use crate::write_error::WriteFileError;

/// Folder of the records under `--cache`.
pub const PROVENANCE_DIR: &str = "provenance/v1";

/// Everything the record says besides the node and the build metadata.
pub struct Subject<'a> {
    pub wheel_file: &'a str,
    pub wheel_sha256: &'a str,
    pub run_id: &'a str,
    pub packs: &'a [String],
}

/// The in-toto statement for a wheel of `node` built with `metadata`.
pub fn statement(
    node: &PlanNode,
    metadata: &ManifestMetadata,
    target: &Target,
    subject: &Subject<'_>,
) -> Value {
    let mut dependencies = Vec::new();
    if let Some(source) = &node.source {
        let mut sdist = json!({
            "name": source.filename,
            "uri": source.url.clone().or(source.path.clone()).unwrap_or_default(),
        });
        if let Some(sha) = &source.sha256 {
            sdist["digest"] = json!({"sha256": sha.to_ascii_lowercase()});
        }
        dependencies.push(sdist);
    }
    for name in subject.packs {
        if let Some(recipe) = crate::packs::recipe(name) {
            dependencies.push(json!({
                "name": format!("pack {} {}", recipe.name, recipe.version),
                "uri": recipe.url,
                "digest": {"sha256": recipe.sha256},
            }));
        }
    }
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": subject.wheel_file, "digest": {"sha256": subject.wheel_sha256}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://github.com/s390x-wheel-refinery/refinery/build/v1",
                "externalParameters": {
                    "package": node.name,
                    "version": node.version_str(),
                    "python": target.python_str(),
                    "platformTag": target.platform_tag(),
                },
                "internalParameters": {
                    "variant": metadata.variant,
                    "builtWith": metadata.built_with,
                    "environment": metadata.environment,
                    "systemPackages": metadata.system_packages,
                    "actions": metadata.actions,
                    "rustToolchain": metadata.rust_toolchain,
                    "reachedTag": metadata.reached_tag,
                },
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {
                    "id": "https://github.com/s390x-wheel-refinery/refinery",
                    "version": {"refinery": env!("CARGO_PKG_VERSION")},
                },
                "metadata": {"invocationId": subject.run_id},
            },
        },
    })
}

/// Write the record to `<cache>/provenance/v1/<wheel sha256>.intoto.json` (atomically).
/// Returns `"<path relative to the cache> sha256:<digest of the record>"` for the manifest.
pub fn write_record(
    cache: &Path,
    node: &PlanNode,
    metadata: &ManifestMetadata,
    target: &Target,
    subject: &Subject<'_>,
) -> Result<String, WriteFileError> {
    write_statement(
        cache,
        subject.wheel_sha256,
        &statement(node, metadata, target, subject),
    )
}

/// The record of the wheel `from_sha256` written again for the same build published as
/// `wheel_file` with `wheel_sha256` (a build number taken after the record was written
/// changed the wheel's WHEEL and RECORD, so its bytes): only the subject changes. Returns
/// the manifest's link to the new record, or `None` when there is no readable record.
///
/// # Errors
/// [`WriteFileError`] naming the record that could not be written.
pub fn record_for_renamed(
    cache: &Path,
    from_sha256: &str,
    wheel_file: &str,
    wheel_sha256: &str,
) -> Result<Option<String>, WriteFileError> {
    let old = cache.join(format!("{PROVENANCE_DIR}/{from_sha256}.intoto.json"));
    let Some(mut statement) = std::fs::read(old)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
    else {
        return Ok(None);
    };
    statement["subject"] = json!([{"name": wheel_file, "digest": {"sha256": wheel_sha256}}]);
    write_statement(cache, wheel_sha256, &statement).map(Some)
}

/// Writes `statement` as the record of the wheel `wheel_sha256`, atomically; returns the
/// manifest's link to it.
fn write_statement(
    cache: &Path,
    wheel_sha256: &str,
    statement: &Value,
) -> Result<String, WriteFileError> {
    const WHAT: &str = "provenance record";
    let bytes = serde_json::to_vec_pretty(statement)
        .map_err(|source| WriteFileError::Encode { what: WHAT, source })?;
    let relative = format!("{PROVENANCE_DIR}/{wheel_sha256}.intoto.json");
    let path = cache.join(&relative);
    write_atomic(&path, &bytes).map_err(WriteFileError::io(WHAT, &path))?;
    Ok(format!(
        "{relative} sha256:{}",
        refinery_store::sha256_hex(&bytes)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use refinery_plan::{Action, Source, SourceKind};
    use sha2::{Digest, Sha256};

    #[test]
    fn the_record_names_the_wheel_the_sdist_and_the_build_and_its_hash_is_kept() {
        let node = PlanNode {
            id: "a==1".into(),
            name: "a".parse().unwrap(),
            version: Some("1".parse().unwrap()),
            action: Action::Build,
            reason: String::new(),
            source: Some(Source {
                kind: SourceKind::IndexSdist,
                filename: "a-1.tar.gz".into(),
                url: Some("https://files.example/a-1.tar.gz".into()),
                path: None,
                sha256: Some("CD".repeat(32)),
                checked_hash: None,
            }),
            steps: Vec::new(),
            build_requires: Vec::new(),
            direct: true,
            overrides: None,
        };
        let metadata = ManifestMetadata {
            environment: Some("rootfs-bookworm".into()),
            ..ManifestMetadata::default()
        };
        let target = Target::new("3.11", "manylinux2014_s390x").unwrap();
        let wheel_sha = "ab".repeat(32);
        let subject = Subject {
            wheel_file: "a-1-cp311-cp311-manylinux2014_s390x.whl",
            wheel_sha256: &wheel_sha,
            run_id: "run-1",
            packs: &["libffi".to_string()],
        };
        let dir = tempfile::tempdir().unwrap();
        let link = write_record(dir.path(), &node, &metadata, &target, &subject).unwrap();
        let (relative, digest) = link.split_once(" sha256:").unwrap();
        let bytes = std::fs::read(dir.path().join(relative)).unwrap();
        assert_eq!(digest, hex::encode(Sha256::digest(&bytes)));
        let record: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(record["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(record["subject"][0]["digest"]["sha256"], wheel_sha);
        let deps = &record["predicate"]["buildDefinition"]["resolvedDependencies"];
        assert_eq!(deps[0]["digest"]["sha256"], "cd".repeat(32));
        assert_eq!(deps[0]["uri"], "https://files.example/a-1.tar.gz");
        assert_eq!(
            deps[1]["digest"]["sha256"],
            crate::packs::recipe("libffi").unwrap().sha256
        );
        assert_eq!(
            record["predicate"]["runDetails"]["metadata"]["invocationId"],
            "run-1"
        );

        // The same build published under a build number: only the subject changes.
        let renamed_sha = "ef".repeat(32);
        let link = record_for_renamed(
            dir.path(),
            &wheel_sha,
            "a-1-1-cp311-cp311-manylinux2014_s390x.whl",
            &renamed_sha,
        )
        .unwrap()
        .unwrap();
        assert!(link.starts_with(&format!("{PROVENANCE_DIR}/{renamed_sha}.intoto.json")));
        let (relative, _) = link.split_once(" sha256:").unwrap();
        let renamed: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(relative)).unwrap()).unwrap();
        assert_eq!(
            renamed["subject"][0]["name"],
            "a-1-1-cp311-cp311-manylinux2014_s390x.whl"
        );
        assert_eq!(renamed["subject"][0]["digest"]["sha256"], renamed_sha);
        assert_eq!(renamed["predicate"], record["predicate"]);
        // No record, nothing to carry over.
        assert_eq!(
            record_for_renamed(dir.path(), &"00".repeat(32), "x.whl", &renamed_sha).unwrap(),
            None
        );
    }
}
