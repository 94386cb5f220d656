//! The folder of a static index (`<out>/simple/`) kept to what it lists: pages of projects
//! an earlier run listed and this one does not are removed, so pip never finds a project
//! page the root index does not name.

use std::collections::BTreeSet;
use std::path::Path;

/// The files a project folder of a static index holds (ours; nothing else is removed).
const PAGE_FILES: [&str; 2] = ["index.html", "index.json"];

/// Removes every `simple/<project>/` folder whose name is not in `listed` and that holds
/// nothing but our pages (`index.html`, `index.json`); returns how many went. A folder with
/// any other file is left alone (not ours).
///
/// # Errors
/// An I/O error reading `simple` or removing a page, naming neither (the caller does).
pub fn prune_project_pages(simple: &Path, listed: &BTreeSet<String>) -> std::io::Result<usize> {
    let Ok(entries) = std::fs::read_dir(simple) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type()?.is_dir() || listed.contains(&name) {
            continue;
        }
        let files: Vec<String> = std::fs::read_dir(entry.path())?
            .map(|f| f.map(|f| f.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        if files.iter().all(|f| PAGE_FILES.contains(&f.as_str())) {
            std::fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_of_projects_no_longer_listed_go_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let simple = dir.path().join("simple");
        for (project, files) in [
            ("kept", &["index.html", "index.json"][..]),
            ("stale", &["index.html", "index.json"][..]),
            ("stale-html", &["index.html"][..]),
            ("someone-elses", &["index.html", "notes.txt"][..]),
        ] {
            std::fs::create_dir_all(simple.join(project)).unwrap();
            for file in files {
                std::fs::write(simple.join(project).join(file), "x").unwrap();
            }
        }
        std::fs::write(simple.join("index.html"), "root").unwrap();
        let listed: BTreeSet<String> = ["kept".to_string()].into();
        assert_eq!(prune_project_pages(&simple, &listed).unwrap(), 2);
        assert!(simple.join("kept/index.html").is_file());
        assert!(!simple.join("stale").exists() && !simple.join("stale-html").exists());
        assert!(simple.join("someone-elses/notes.txt").is_file());
        assert!(simple.join("index.html").is_file());
        // No index folder yet: nothing to do.
        assert_eq!(
            prune_project_pages(&dir.path().join("none"), &listed).unwrap(),
            0
        );
    }
}
