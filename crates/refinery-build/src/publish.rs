//! Publish the output folder as a static PEP 503 index (`<output>/simple/`).

use std::collections::BTreeMap;
use std::path::Path;

use refinery_index::render::{render_project_page_html_files, RenderFile};
use refinery_index::render_root_index;
use refinery_store::{manifest::normalize_name, write_atomic, Manifest};

/// Write `simple/index.html` and `simple/<project>/index.html` for every wheel of the manifest.
pub fn write_simple_index(output: &Path, manifest: &Manifest) -> Result<(), String> {
    let mut projects: BTreeMap<String, Vec<RenderFile>> = BTreeMap::new();
    for entry in &manifest.entries {
        if let (Some(path), Some(sha)) = (&entry.path, &entry.sha256) {
            projects
                .entry(normalize_name(&entry.name))
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
    write_atomic(
        &simple.join("index.html"),
        render_root_index(&names).as_bytes(),
    )
    .map_err(|e| e.to_string())?;
    for (project, files) in &projects {
        let page = render_project_page_html_files(project, files);
        write_atomic(&simple.join(project).join("index.html"), page.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
