//! Publish the output folder as a static PEP 503 index (`<output>/simple/`).

use std::collections::BTreeMap;
use std::path::Path;

use refinery_index::render::{render_project_page_html_files, RenderFile};
use refinery_index::render_root_index;
use refinery_store::{write_atomic, Manifest};

use crate::write_error::WriteFileError;

/// Write `simple/index.html` and `simple/<project>/index.html` for every wheel of the manifest.
pub fn write_simple_index(output: &Path, manifest: &Manifest) -> Result<(), WriteFileError> {
    let mut projects: BTreeMap<String, Vec<RenderFile>> = BTreeMap::new();
    for entry in &manifest.entries {
        if let (Some(path), Some(sha)) = (&entry.path, &entry.sha256) {
            projects
                .entry(entry.name.normalized().to_string())
                .or_default()
                .push(RenderFile {
                    filename: path.clone(),
                    href: format!("../../{path}"),
                    sha256: sha.clone(),
                    requires_python: None,
                    core_metadata_sha256: None,
                    yanked: None,
                });
        }
    }
    let simple = output.join("simple");
    let names: Vec<String> = projects.keys().cloned().collect();
    let root = simple.join("index.html");
    write_atomic(&root, render_root_index(&names).as_bytes())
        .map_err(WriteFileError::io("index page", &root))?;
    for (project, files) in &projects {
        let page = render_project_page_html_files(project, files);
        let path = simple.join(project).join("index.html");
        write_atomic(&path, page.as_bytes()).map_err(WriteFileError::io("index page", &path))?;
    }
    Ok(())
}
