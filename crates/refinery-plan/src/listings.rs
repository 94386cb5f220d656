//! Project listings from the index, fetched once per project and many at a time.
//!
//! The planner needs the files of every package in the resolution (to find a wheel for the
//! target or an sdist). One request after another would make planning a hundred packages
//! cost a hundred round trips on top of the resolver; these are fetched concurrently, and
//! the direct requirements' listings while the resolver runs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use refinery_index::{DistFile, IndexClient, IndexError};

/// Most requests in flight at once (the resolver itself uses tens).
pub const MAX_CONCURRENT_LISTINGS: usize = 16;

/// The files of one project, or why the index could not list them (the error's URLs are
/// redacted, see [`IndexError`]).
pub type Listing = Result<Vec<DistFile>, IndexError>;

/// Listings by normalized project name.
#[derive(Debug, Default)]
pub struct Listings {
    map: BTreeMap<String, Listing>,
}

impl Listings {
    /// The listing of `name`, if fetched.
    pub fn get(&self, name: &str) -> Option<&Listing> {
        self.map.get(name)
    }

    pub fn insert_all(&mut self, fetched: Vec<(String, Listing)>) {
        self.map.extend(fetched);
    }

    /// Fetch every name not fetched yet, concurrently.
    pub fn fetch(&mut self, client: &IndexClient, names: &[String]) {
        let wanted: Vec<String> = names
            .iter()
            .filter(|n| !self.map.contains_key(n.as_str()))
            .cloned()
            .collect();
        let fetched = fetch_listings(client, &wanted);
        self.insert_all(fetched);
    }
}

/// Fetch the listings of `names` (deduplicated) with up to [`MAX_CONCURRENT_LISTINGS`]
/// threads; results in the order of `names`.
pub fn fetch_listings(client: &IndexClient, names: &[String]) -> Vec<(String, Listing)> {
    let mut unique: Vec<String> = names.to_vec();
    unique.sort();
    unique.dedup();
    if unique.is_empty() {
        return Vec::new();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<BTreeMap<String, Listing>> = Mutex::new(BTreeMap::new());
    let workers = unique.len().min(MAX_CONCURRENT_LISTINGS);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(name) = unique.get(i) else { break };
                let listing = client.project_files(name);
                results
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(name.clone(), listing);
            });
        }
    });
    let mut results = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut out = Vec::new();
    for name in names {
        if let Some(listing) = results.remove(name) {
            out.push((name.clone(), listing));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use refinery_index::testing::{write_wheel, LocalIndex};
    use refinery_index::IndexConfig;

    fn client(url: &str) -> IndexClient {
        IndexClient::new(IndexConfig {
            index_url: url.to_string(),
            retries: 0,
            netrc_path: Some("".into()),
            ..IndexConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn fetches_each_name_once_and_keeps_errors() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a", "b", "c"] {
            write_wheel(dir.path(), &format!("{name}-1.0-py3-none-any.whl"), None).unwrap();
        }
        let index = LocalIndex::serve_dir(dir.path()).unwrap();
        let client = client(&index.url);
        let names: Vec<String> = ["a", "b", "c", "a", "nope"].map(String::from).to_vec();
        let fetched = fetch_listings(&client, &names);
        assert_eq!(fetched.len(), 4);
        assert_eq!(fetched[0].0, "a");
        assert_eq!(fetched[0].1.as_ref().unwrap().len(), 1);
        assert!(fetched[3].1.as_ref().unwrap().is_empty(), "404 is no files");
        let pages = index
            .requests()
            .iter()
            .filter(|r| r.starts_with("/simple/"))
            .count();
        assert_eq!(pages, 4);

        let mut listings = Listings::default();
        listings.insert_all(fetched);
        listings.fetch(&client, &names);
        assert_eq!(index.request_count(), 4, "nothing is fetched twice");

        let down = LocalIndex::serve_fixed(200, "text/plain", "garbage").unwrap();
        let bad = fetch_listings(&self::client(&down.url), &["a".to_string()]);
        assert!(
            matches!(&bad[0].1, Err(IndexError::Garbage { .. })),
            "{:?}",
            bad[0].1
        );
    }
}
