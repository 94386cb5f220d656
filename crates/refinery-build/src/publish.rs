//! Publish the output folder as a static PEP 503 index (`<output>/simple/`).

use std::collections::BTreeMap;
use std::path::Path;

use refinery_index::render::{render_project_page_html_files, RenderFile};
use refinery_index::render_root_index;
use refinery_store::{write_atomic, Manifest};

use crate::write_error::WriteFileError;

/// Write `simple/index.html` and `simple/<project>/index.html` for every wheel of the
/// manifest, as the server's index does: `data-requires-python` from each wheel's METADATA
/// (PEP 503), and that METADATA beside the wheel as `<wheel>.metadata` with its sha256 in
/// `data-core-metadata` (PEP 658/714), so pip skips a wheel for another Python without
/// downloading it. A wheel whose METADATA cannot be read is listed without them.
///
/// # Errors
/// [`WriteFileError`] naming the page or the `.metadata` file that could not be written.
pub fn write_simple_index(output: &Path, manifest: &Manifest) -> Result<(), WriteFileError> {
    let mut projects: BTreeMap<String, Vec<RenderFile>> = BTreeMap::new();
    for entry in &manifest.entries {
        if let (Some(path), Some(sha)) = (&entry.path, &entry.sha256) {
            let metadata = refinery_index::wheel_metadata_bytes(
                &output.join(path),
                Some(entry.name.normalized().as_ref()),
            )
            .ok()
            .flatten();
            if let Some(bytes) = &metadata {
                let file = output.join(format!("{path}.metadata"));
                write_atomic(&file, bytes).map_err(WriteFileError::io("core metadata", &file))?;
            }
            projects
                .entry(entry.name.normalized().to_string())
                .or_default()
                .push(RenderFile {
                    filename: path.clone(),
                    href: format!("../../{path}"),
                    sha256: sha.clone(),
                    requires_python: metadata
                        .as_deref()
                        .and_then(|m| refinery_index::metadata_field(m, "Requires-Python"))
                        .filter(|r| !r.trim().is_empty()),
                    core_metadata_sha256: metadata.as_deref().map(refinery_store::sha256_hex),
                    yanked: None,
                });
        }
    }
    let simple = output.join("simple");
    let before = refinery_index::static_pages::listed_projects(&simple);
    let names: Vec<String> = projects.keys().cloned().collect();
    let root = simple.join("index.html");
    write_atomic(&root, render_root_index(&names).as_bytes())
        .map_err(WriteFileError::io("index page", &root))?;
    for (project, files) in &projects {
        let page = render_project_page_html_files(project, files);
        let path = simple.join(project).join("index.html");
        write_atomic(&path, page.as_bytes()).map_err(WriteFileError::io("index page", &path))?;
    }
    // An output folder used before: its other projects' pages go with them.
    let listed = projects.keys().cloned().collect();
    refinery_index::static_pages::prune_project_pages(&simple, &before, &listed)
        .map_err(WriteFileError::io("index folder", &simple))?;
    remove_orphan_metadata(output).map_err(WriteFileError::io("output folder", output))?;
    Ok(())
}

/// Removes each `<wheel>.metadata` of `output` whose wheel is no longer there (a wheel the
/// user removed from an output folder used before); returns how many went.
fn remove_orphan_metadata(output: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for file in std::fs::read_dir(output)? {
        let path = file?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if let Some(wheel) = name.strip_suffix(".metadata") {
            if wheel.ends_with(".whl") && !output.join(wheel).exists() {
                std::fs::remove_file(&path)?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use refinery_store::{ManifestEntry, Status};
    use std::io::Write;

    fn wheel(dir: &Path, filename: &str, metadata: Option<&str>) {
        let mut zip = zip::ZipWriter::new(std::fs::File::create(dir.join(filename)).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("old/__init__.py", options).unwrap();
        if let Some(text) = metadata {
            zip.start_file("old-1.0.dist-info/METADATA", options)
                .unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
    }

    #[test]
    fn pages_carry_requires_python_and_the_metadata_beside_each_wheel() {
        let dir = tempfile::tempdir().unwrap();
        let mut manifest = Manifest::new("3.11", "manylinux2014_s390x");
        for (filename, metadata) in [
            (
                "old-1.0-py3-none-any.whl",
                Some("Metadata-Version: 2.1\nName: old\nVersion: 1.0\nRequires-Python: <3.10\n"),
            ),
            ("bare-1.0-py3-none-any.whl", None),
        ] {
            wheel(dir.path(), filename, metadata);
            let name = filename.split('-').next().unwrap();
            let mut entry = ManifestEntry::new(
                name.parse().unwrap(),
                Some("1.0".parse().unwrap()),
                Status::Reused,
            );
            entry.path = Some(filename.into());
            entry.sha256 = Some("ab".repeat(32));
            manifest.upsert(entry);
        }
        write_simple_index(dir.path(), &manifest).unwrap();
        let page = std::fs::read_to_string(dir.path().join("simple/old/index.html")).unwrap();
        assert!(page.contains("data-requires-python=\"&lt;3.10\""), "{page}");
        let metadata = std::fs::read(dir.path().join("old-1.0-py3-none-any.whl.metadata")).unwrap();
        let digest = refinery_store::sha256_hex(&metadata);
        assert!(
            page.contains(&format!("data-core-metadata=\"sha256={digest}\"")),
            "{page}"
        );
        // Without METADATA: listed, without the attributes.
        let bare = std::fs::read_to_string(dir.path().join("simple/bare/index.html")).unwrap();
        // Written again without `old`: its page goes.
        manifest.entries.retain(|e| e.name.as_str() == "bare");
        write_simple_index(dir.path(), &manifest).unwrap();
        assert!(!dir.path().join("simple/old").exists());
        assert!(dir.path().join("simple/bare/index.html").is_file());
        assert!(
            bare.contains("bare-1.0-py3-none-any.whl") && !bare.contains("data-core-metadata"),
            "{bare}"
        );
        assert!(!dir
            .path()
            .join("bare-1.0-py3-none-any.whl.metadata")
            .exists());
        // The metadata of a wheel that left the folder goes; a wheel still there keeps its.
        std::fs::write(dir.path().join("gone-1.0-py3-none-any.whl.metadata"), "x").unwrap();
        write_simple_index(dir.path(), &manifest).unwrap();
        assert!(!dir
            .path()
            .join("gone-1.0-py3-none-any.whl.metadata")
            .exists());
        assert!(dir
            .path()
            .join("old-1.0-py3-none-any.whl.metadata")
            .is_file());
    }
}
