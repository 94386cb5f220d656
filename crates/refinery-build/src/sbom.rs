//! A software bill of materials in every built wheel (PEP 770): a CycloneDX 1.6 JSON
//! document at `<name>-<version>.dist-info/sboms/refinery.cdx.json`, listed in RECORD.
//!
//! It names the wheel (`pkg:pypi/…` purl), the sdist it was built from (URL or input path,
//! sha256), the libraries auditwheel grafted into `<package>.libs/` (file name, sha256), the
//! native library packs linked into it (name, version, source tarball URL and sha256, see
//! [`crate::packs`]), and the build: environment, toolchain, system packages, platform tag
//! reached, the Refinery's version. The manifest's `metadata.sbom` names the member.

use std::io::{Read, Write};
use std::path::Path;

use refinery_pep::Target;
use refinery_plan::PlanNode;
use refinery_store::ManifestMetadata;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// File name of the SBOM inside `.dist-info/sboms/`.
pub const SBOM_NAME: &str = "refinery.cdx.json";

/// PyPI package URL (purl spec: lower case, `_` as `-`).
fn purl(name: &str, version: &str) -> String {
    format!(
        "pkg:pypi/{}@{version}",
        name.to_ascii_lowercase().replace('_', "-")
    )
}

fn property(name: &str, value: impl Into<String>) -> Value {
    json!({"name": format!("refinery:{name}"), "value": value.into()})
}

/// The CycloneDX document for a wheel of `node` built with `metadata`; `grafted` are the
/// `(member path, sha256)` of the libraries in the wheel's `.libs/` folders and
/// `sdist_sha256` the digest of the source file.
pub fn render(
    node: &PlanNode,
    metadata: &ManifestMetadata,
    target: &Target,
    grafted: &[(String, String)],
    sdist_sha256: Option<&str>,
    packs: &[String],
) -> Value {
    let wheel_ref = purl(node.name.as_str(), node.version_str());
    let mut wheel_properties = vec![
        property("python", target.python_str()),
        property("platform-tag", target.platform_tag()),
    ];
    if let Some(tag) = &metadata.reached_tag {
        wheel_properties.push(property("reached-tag", tag.clone()));
    }
    let mut components = Vec::new();
    let mut depends = Vec::new();
    if let Some(source) = &node.source {
        let mut sdist = json!({
            "type": "library",
            "bom-ref": "sdist",
            "name": node.name,
            "version": node.version_str(),
            "purl": wheel_ref,
            "description": format!("the source distribution {} the wheel was built from", source.filename),
            "properties": [property("source-file", source.filename.clone())],
        });
        if let Some(sha) = sdist_sha256 {
            sdist["hashes"] = json!([{"alg": "SHA-256", "content": sha}]);
        }
        if let Some(url) = &source.url {
            sdist["externalReferences"] = json!([{"type": "distribution", "url": url}]);
        } else if let Some(path) = &source.path {
            sdist["properties"]
                .as_array_mut()
                .expect("an array")
                .push(property("input-path", path.clone()));
        }
        if let Some(checked) = &source.checked_hash {
            sdist["properties"]
                .as_array_mut()
                .expect("an array")
                .push(property("requirements-hash", checked.clone()));
        }
        components.push(sdist);
        depends.push("sdist".to_string());
    }
    for (path, sha) in grafted {
        let file = path.rsplit('/').next().unwrap_or(path);
        let bom_ref = format!("grafted:{path}");
        components.push(json!({
            "type": "library",
            "bom-ref": bom_ref,
            "name": file,
            "description": "a shared library auditwheel grafted into the wheel",
            "hashes": [{"alg": "SHA-256", "content": sha}],
            "properties": [property("wheel-path", path.clone())],
        }));
        depends.push(bom_ref);
    }
    for name in packs {
        let Some(recipe) = crate::packs::recipe(name) else {
            continue;
        };
        let bom_ref = format!("pack:{}", recipe.name);
        components.push(json!({
            "type": "library",
            "bom-ref": bom_ref,
            "name": recipe.name,
            "version": recipe.version,
            "description": "a native library pack built from this source and linked into the wheel",
            "hashes": [{"alg": "SHA-256", "content": recipe.sha256}],
            "externalReferences": [{"type": "distribution", "url": recipe.url}],
        }));
        depends.push(bom_ref);
    }
    let mut build = vec![];
    for (name, value) in [
        ("environment", metadata.environment.clone()),
        ("built-with", metadata.built_with.clone()),
        ("variant", metadata.variant.clone()),
        ("rust-toolchain", metadata.rust_toolchain.clone()),
    ] {
        if let Some(value) = value {
            build.push(property(name, value));
        }
    }
    for package in &metadata.system_packages {
        build.push(property("system-package", package.clone()));
    }
    components.push(json!({
        "type": "platform",
        "bom-ref": "build-environment",
        "name": metadata.environment.clone().unwrap_or_else(|| "build environment".into()),
        "description": "where and with what the wheel was built",
        "properties": build,
    }));
    depends.push("build-environment".to_string());
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "version": 1,
        "metadata": {
            "tools": {"components": [{
                "type": "application",
                "name": "s390x-wheel-refinery",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {
                "type": "library",
                "bom-ref": wheel_ref,
                "name": node.name,
                "version": node.version_str(),
                "purl": wheel_ref,
                "properties": wheel_properties,
            },
        },
        "components": components,
        "dependencies": [{"ref": wheel_ref, "dependsOn": depends}],
    })
}

/// Why the SBOM could not be added; each names the wheel (io errors name their path).
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("{} is not a zip: {source}", wheel.display())]
    NotZip {
        wheel: std::path::PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{} has no .dist-info/RECORD", wheel.display())]
    NoRecord { wheel: std::path::PathBuf },
    #[error(transparent)]
    Zip(#[from] zip::result::ZipError),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// Writing the rewritten wheel failed (it is left as it was).
    #[error("cannot add the SBOM to {}: {source}", wheel.display())]
    Write {
        wheel: std::path::PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// Write the SBOM into `wheel` (rewritten in place through a temporary file next to it):
/// the document under `.dist-info/sboms/` and its line in RECORD. Returns the member path.
///
/// # Errors
/// [`SbomError`]; on a failed rewrite the wheel is left as it was.
pub fn add_sbom(
    wheel: &Path,
    node: &PlanNode,
    metadata: &ManifestMetadata,
    target: &Target,
    packs: &[String],
) -> Result<String, SbomError> {
    let file = fs_err::File::open(wheel)?;
    let mut archive = zip::ZipArchive::new(file).map_err(|source| SbomError::NotZip {
        wheel: wheel.to_path_buf(),
        source,
    })?;
    let record = archive
        .file_names()
        .find(|n| n.ends_with(".dist-info/RECORD") && n.matches('/').count() == 1)
        .map(str::to_string)
        .ok_or_else(|| SbomError::NoRecord {
            wheel: wheel.to_path_buf(),
        })?;
    let dist_info = record.trim_end_matches("RECORD").to_string();
    let member = format!("{dist_info}sboms/{SBOM_NAME}");
    let mut grafted = Vec::new();
    let mut record_text = String::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index)?;
        let path = entry.name().to_string();
        let in_libs = path
            .split('/')
            .next()
            .is_some_and(|top| top.ends_with(".libs"))
            && !path.ends_with('/');
        if in_libs || path == record {
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            if path == record {
                record_text = String::from_utf8_lossy(&bytes).into_owned();
            } else {
                grafted.push((path, refinery_store::sha256_hex(&bytes)));
            }
        }
    }
    // An SBOM line of an earlier run goes: the document is replaced.
    record_text = record_text
        .lines()
        .filter(|l| !l.starts_with(&format!("{member},")))
        .map(|l| format!("{l}\n"))
        .collect();
    let sdist_sha256 = sdist_digest(node);
    let document = render(
        node,
        metadata,
        target,
        &grafted,
        sdist_sha256.as_deref(),
        packs,
    );
    let bytes = serde_json::to_vec_pretty(&document)?;
    if !record_text.is_empty() && !record_text.ends_with('\n') {
        record_text.push('\n');
    }
    record_text.push_str(&format!(
        "{member},sha256={},{}\n",
        refinery_index::base64_encode(&Sha256::digest(&bytes), true),
        bytes.len()
    ));

    let dir = wheel.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.sbom-tmp",
        wheel.file_name().unwrap_or_default().to_string_lossy()
    ));
    let out = fs_err::File::create(&tmp)?;
    let mut writer = zip::ZipWriter::new(out);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let result = (|| -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        for index in 0..archive.len() {
            let entry = archive.by_index_raw(index)?;
            // RECORD goes last, with the SBOM's line; an SBOM of an earlier run is replaced.
            if entry.name() == record || entry.name() == member {
                continue;
            }
            crate::wheel_rewrite::copy_member(&mut writer, entry)?;
        }
        writer.start_file(member.as_str(), options)?;
        writer.write_all(&bytes)?;
        writer.start_file(record.as_str(), options)?;
        writer.write_all(record_text.as_bytes())?;
        writer.finish()?;
        Ok(())
    })();
    if let Err(source) = result {
        let _ = fs_err::remove_file(&tmp);
        return Err(SbomError::Write {
            wheel: wheel.to_path_buf(),
            source,
        });
    }
    fs_err::rename(&tmp, wheel)?;
    Ok(member)
}

/// The SBOM member of `wheel` if it carries one (a wheel built before, taken from the
/// cache).
pub fn sbom_member(wheel: &Path) -> Option<String> {
    let archive = zip::ZipArchive::new(fs_err::File::open(wheel).ok()?).ok()?;
    let suffix = format!(".dist-info/sboms/{SBOM_NAME}");
    let member = archive
        .file_names()
        .find(|n| n.ends_with(&suffix) && n.matches('/').count() == 2)
        .map(str::to_string);
    member
}

/// The sha256 of the node's source: the plan's (index files are hash-checked on download)
/// or, for an input sdist, its file's.
fn sdist_digest(node: &PlanNode) -> Option<String> {
    let source = node.source.as_ref()?;
    if let Some(sha) = &source.sha256 {
        return Some(sha.to_ascii_lowercase());
    }
    let path = source.path.as_ref()?;
    refinery_store::sha256_file(Path::new(path)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use refinery_plan::{Action, Source, SourceKind};
    use zip::write::SimpleFileOptions;

    fn wheel(dir: &Path) -> std::path::PathBuf {
        let path = dir.join("fast_add-1.0-cp311-cp311-manylinux2014_s390x.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        for (name, body) in [
            ("fast_add/__init__.py", "X = 1\n"),
            ("fast_add.libs/libffi-1a2b3c4d.so.8.1.0", "ELF..."),
            (
                "fast_add-1.0.dist-info/METADATA",
                "Metadata-Version: 2.1\nName: fast_add\nVersion: 1.0\n",
            ),
            (
                "fast_add-1.0.dist-info/RECORD",
                "fast_add/__init__.py,,\nfast_add-1.0.dist-info/RECORD,,",
            ),
        ] {
            zip.start_file(name, SimpleFileOptions::default()).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    #[test]
    fn the_sbom_names_the_sdist_the_grafted_libraries_and_the_build_and_is_in_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = wheel(dir.path());
        let node = PlanNode {
            id: "fast-add==1.0".into(),
            name: "fast-add".parse().unwrap(),
            version: Some("1.0".parse().unwrap()),
            action: Action::Build,
            reason: String::new(),
            source: Some(Source {
                kind: SourceKind::IndexSdist,
                filename: "fast_add-1.0.tar.gz".into(),
                url: Some("https://files.example/fast_add-1.0.tar.gz".into()),
                path: None,
                sha256: Some("AB".repeat(32)),
                checked_hash: Some("sha256:abab (requirements.txt:1)".into()),
            }),
            steps: Vec::new(),
            build_requires: Vec::new(),
            direct: true,
            overrides: None,
        };
        let metadata = ManifestMetadata {
            environment: Some("rootfs-bookworm-s390x-py3.11-abc".into()),
            built_with: Some("rootfs:bookworm accelerated".into()),
            system_packages: vec!["libffi-dev".into()],
            reached_tag: Some("manylinux2014_s390x".into()),
            ..ManifestMetadata::default()
        };
        let target = Target::new("3.11", "manylinux2014_s390x").unwrap();
        let packs = vec!["libffi".to_string()];
        let member = add_sbom(&path, &node, &metadata, &target, &packs).unwrap();
        assert_eq!(member, "fast_add-1.0.dist-info/sboms/refinery.cdx.json");
        // Twice: replaced, not duplicated.
        add_sbom(&path, &node, &metadata, &target, &packs).unwrap();

        assert_eq!(sbom_member(&path).as_deref(), Some(member.as_str()));
        let mut archive = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(archive.file_names().filter(|n| *n == member).count(), 1);
        let mut text = String::new();
        archive
            .by_name(&member)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let sbom: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(sbom["bomFormat"], "CycloneDX");
        assert_eq!(
            sbom["metadata"]["component"]["purl"],
            "pkg:pypi/fast-add@1.0"
        );
        let sdist = &sbom["components"][0];
        assert_eq!(sdist["hashes"][0]["content"], "ab".repeat(32));
        assert_eq!(
            sdist["externalReferences"][0]["url"],
            "https://files.example/fast_add-1.0.tar.gz"
        );
        let lib = &sbom["components"][1];
        assert_eq!(lib["name"], "libffi-1a2b3c4d.so.8.1.0");
        assert_eq!(
            lib["hashes"][0]["content"],
            hex::encode(Sha256::digest(b"ELF..."))
        );
        let pack = &sbom["components"][2];
        let recipe = crate::packs::recipe("libffi").unwrap();
        assert_eq!(pack["version"], recipe.version);
        assert_eq!(pack["hashes"][0]["content"], recipe.sha256);
        assert_eq!(pack["externalReferences"][0]["url"], recipe.url);
        let build = sbom["components"][3]["properties"].to_string();
        assert!(
            build.contains("libffi-dev") && build.contains("accelerated"),
            "{build}"
        );

        let mut record = String::new();
        archive
            .by_name("fast_add-1.0.dist-info/RECORD")
            .unwrap()
            .read_to_string(&mut record)
            .unwrap();
        let line = record.lines().find(|l| l.starts_with(&member)).unwrap();
        let digest = refinery_index::base64_encode(&Sha256::digest(text.as_bytes()), true);
        assert_eq!(line, format!("{member},sha256={digest},{}", text.len()));
        assert_eq!(record.lines().filter(|l| l.starts_with(&member)).count(), 1);
        assert!(record.contains("fast_add/__init__.py,,\n"));
    }
}
