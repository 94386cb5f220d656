//! Storing a verified wheel in the CAS and the output under a name distinct from the
//! index's files and from what this cache published before.

use refinery_plan::PlanNode;
use refinery_store::{Event, EventKind, History, ManifestEntry, Status};

use crate::builder::BuiltWheel;
use crate::context::{file_name, BuildContext};
use crate::fixes::Fixes;

/// Store the verified wheel in the CAS and the output; remember the fix if one was needed.
#[allow(clippy::too_many_arguments)]
pub(super) fn publish(
    node: &PlanNode,
    key: &str,
    built: &BuiltWheel,
    fixes: &Fixes,
    context: &BuildContext<'_>,
    history: &History,
    mut entry: ManifestEntry,
) -> ManifestEntry {
    let settings = context.settings;
    // The tag is the truth: what auditwheel reached, and the symbols behind it.
    if let Ok(name) = file_name(&built.path).parse::<refinery_pep::WheelFilename>() {
        entry.metadata.reached_tag = Some(name.platform_tags.join("."));
    }
    entry.metadata.symbol_versions =
        crate::wheel_inspect::newest_symbol_versions(&built.path).unwrap_or_default();
    if built.repaired {
        let debug_info = if settings.strip { "stripped" } else { "kept" };
        entry.metadata.debug_info = Some(debug_info.to_string());
    }
    // PEP 770: the SBOM goes into the wheel before its bytes are stored and hashed.
    match crate::sbom::add_sbom(
        &built.path,
        node,
        &entry.metadata,
        &settings.target,
        &fixes.packs,
    ) {
        Ok(member) => entry.metadata.sbom = Some(member),
        Err(e) => context.reporter.message(&format!(
            "warning: {} {}: no SBOM in the wheel: {e}",
            node.name,
            node.version_str()
        )),
    }
    let wheel = distinct_name(&built.path, node, context, history);
    let stored = context.cas.put_file(&wheel).map_err(|e| e.to_string());
    let dest = settings.output.join(file_name(&wheel));
    let published = stored.and_then(|sha| {
        refinery_store::copy_atomic(&wheel, &dest)
            .map(|()| sha)
            .map_err(|e| e.to_string())
    });
    let _ = std::fs::remove_file(&wheel);
    match published {
        Ok(sha) => {
            let _ = history.record_artifact(key, &file_name(&dest), &sha);
            if let Some(verification) = &entry.metadata.verification {
                if let Err(e) = crate::verify::record::write(&settings.cache, &sha, verification) {
                    context.reporter.message(&format!("warning: {e}"));
                }
            }
            let subject = crate::provenance::Subject {
                wheel_file: &file_name(&dest),
                wheel_sha256: &sha,
                run_id: &settings.run_id,
                packs: &fixes.packs,
            };
            match crate::provenance::write_record(
                &settings.cache,
                node,
                &entry.metadata,
                &settings.target,
                &subject,
            ) {
                Ok(link) => entry.metadata.provenance = Some(link),
                Err(e) => context.reporter.message(&format!("warning: {e}")),
            }
            // For a later run that takes it from the cache.
            if let Err(e) = crate::build_record::write(&settings.cache, &sha, &entry.metadata) {
                context.reporter.message(&format!("warning: {e}"));
            }
            entry.status = Status::Built;
            entry.path = Some(file_name(&dest));
            entry.sha256 = Some(sha);
            if !fixes.is_empty() || !entry.metadata.hints.is_empty() {
                let mut fix = fixes.clone();
                fix.hints = entry.metadata.hints.clone();
                context.record_event(
                    Event::new(
                        EventKind::LearnedFix,
                        format!("{} builds with {}", node.name, fix.describe().join("; ")),
                    )
                    .with_package(node.name.as_str(), node.version_str())
                    .with_data(serde_json::to_value(&fix).unwrap_or_default()),
                );
            }
        }
        Err(message) => entry.detail = format!("built but cannot publish: {message}"),
    }
    entry
}

/// The wheel's path after making sure its name is neither an index file's nor one this
/// cache published with other bytes (see [`crate::naming`]); the reporter says when it
/// was renamed. An index that cannot be listed counts as listing nothing (the store still
/// refuses a second file under a published name).
fn distinct_name(
    wheel: &std::path::Path,
    node: &PlanNode,
    context: &BuildContext<'_>,
    history: &History,
) -> std::path::PathBuf {
    let index_files = context
        .client
        .project_files(node.name.as_str())
        .unwrap_or_default();
    let published = |filename: &str| history.artifact_sha256s(filename).unwrap_or_default();
    let taken = crate::naming::TakenNames {
        index_files: &index_files,
        published: &published,
    };
    let renamed = refinery_store::sha256_file(wheel)
        .map_err(|e| e.to_string())
        .and_then(|sha| {
            crate::naming::avoid_taken_name(wheel, &sha, &taken).map_err(|e| e.to_string())
        });
    match renamed {
        Ok(Some((path, avoided))) => {
            context.reporter.message(&format!(
                "{} {}: {avoided} is already another file (in the index or this cache); \
                 the rebuilt wheel is {}",
                node.name,
                node.version_str(),
                file_name(&path)
            ));
            path
        }
        Ok(None) => wheel.to_path_buf(),
        Err(e) => {
            context.reporter.message(&format!(
                "warning: {} {}: {e}",
                node.name,
                node.version_str()
            ));
            wheel.to_path_buf()
        }
    }
}
