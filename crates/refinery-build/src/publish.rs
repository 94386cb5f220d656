//! Publish the output folder as a static PEP 503 index (`<output>/simple/`).

use std::collections::BTreeMap;
use std::path::Path;

use refinery_index::{render_project_page_html, render_root_index};
use refinery_store::{manifest::normalize_name, write_atomic, Manifest};

/// Write `simple/index.html` and `simple/<project>/index.html` for every wheel of the manifest.
pub fn write_simple_index(output: &Path, manifest: &Manifest) -> Result<(), String> {
    let mut projects: BTreeMap<String, Vec<(String, String, String, Option<String>)>> =
        BTreeMap::new();
    for entry in &manifest.entries {
        if let (Some(path), Some(sha)) = (&entry.path, &entry.sha256) {
            projects
                .entry(normalize_name(&entry.name))
                .or_default()
                .push((path.clone(), format!("../../{path}"), sha.clone(), None));
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
        let page = render_project_page_html(project, files);
        write_atomic(&simple.join(project).join("index.html"), page.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
