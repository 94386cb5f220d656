//! The folder of a static index (`<out>/simple/`) kept to what it lists: pages of projects
//! that the index written before listed and this one does not are removed, so pip never
//! finds a project page the root index does not name. Only pages the earlier root index
//! named, holding nothing but our page files, are touched: other folders stay.

use std::collections::BTreeSet;
use std::path::Path;

/// The files a project folder of a static index holds (ours; nothing else is removed).
const PAGE_FILES: [&str; 2] = ["index.html", "index.json"];

/// The projects the root page `simple/index.html` lists (its `<a href="name/">` links, as
/// [`crate::render_root_index`] writes them); empty when there is none.
pub fn listed_projects(simple: &Path) -> BTreeSet<String> {
    let Ok(page) = std::fs::read_to_string(simple.join("index.html")) else {
        return BTreeSet::new();
    };
    page.split("<a href=\"")
        .skip(1)
        .filter_map(|rest| rest.split_once("/\"").map(|(name, _)| name))
        .filter(|name| !name.is_empty() && !name.contains(['/', '\\', '<', '&']) && *name != "..")
        .map(str::to_string)
        .collect()
}

/// Removes every `simple/<project>/` folder that `before` (the root page's projects before
/// this write, see [`listed_projects`]) names and `listed` does not, when it holds nothing
/// but our pages; returns how many went.
///
/// # Errors
/// An I/O error reading a folder or removing a page, naming neither (the caller does).
pub fn prune_project_pages(
    simple: &Path,
    before: &BTreeSet<String>,
    listed: &BTreeSet<String>,
) -> std::io::Result<usize> {
    let mut removed = 0;
    for name in before.difference(listed) {
        let folder = simple.join(name);
        if !folder.is_dir() {
            continue;
        }
        let files: Vec<String> = std::fs::read_dir(&folder)?
            .map(|f| f.map(|f| f.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        if files.iter().all(|f| PAGE_FILES.contains(&f.as_str())) {
            std::fs::remove_dir_all(&folder)?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_the_last_index_listed_and_this_one_does_not_go_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let simple = dir.path().join("simple");
        for (project, files) in [
            ("kept", &["index.html", "index.json"][..]),
            ("stale", &["index.html", "index.json"][..]),
            ("someone-elses", &["index.html", "notes.txt"][..]),
            ("never-ours", &["index.html"][..]),
        ] {
            std::fs::create_dir_all(simple.join(project)).unwrap();
            for file in files {
                std::fs::write(simple.join(project).join(file), "x").unwrap();
            }
        }
        let root = crate::render_root_index(&[
            "kept".to_string(),
            "stale".to_string(),
            "someone-elses".to_string(),
        ]);
        std::fs::write(simple.join("index.html"), root).unwrap();
        let before = listed_projects(&simple);
        assert_eq!(before.len(), 3, "{before:?}");
        let listed: BTreeSet<String> = ["kept".to_string()].into();
        assert_eq!(prune_project_pages(&simple, &before, &listed).unwrap(), 1);
        assert!(simple.join("kept/index.html").is_file());
        assert!(!simple.join("stale").exists());
        assert!(simple.join("someone-elses/notes.txt").is_file());
        // Not named by our last root page: not ours to remove.
        assert!(simple.join("never-ours/index.html").is_file());
        // No index yet: nothing listed, nothing to do.
        assert!(listed_projects(&dir.path().join("none")).is_empty());
    }
}
