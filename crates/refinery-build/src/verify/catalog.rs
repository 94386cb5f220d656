//! The smoke-test catalog (`verify/catalog.toml`, extended with `--smoke-tests FILE`):
//! per package and PEP 440 version range, a short Python snippet that exercises what
//! breaks on big-endian s390x (byte order, integer widths, floats, strings) and the
//! package's main function, and optionally the package's own self-test.
//!
//! ```toml
//! [[smoke]]
//! id = "orjson"               # unique; an extending file replaces entries by id
//! package = "orjson"          # distribution name (compared PEP 503-normalized)
//! versions = ">=3"            # PEP 440 specifiers; empty or absent: every version
//! snippet = '''
//! import orjson
//! assert orjson.dumps(2**63) == b"9223372036854775808"
//! '''
//! tests = "…"                 # optional: the package's self-test (`--verify tests`)
//! timeout_secs = 60           # optional: limit of each snippet (default: --verify-timeout)
//! checked = "…"               # what the snippet was checked against
//! ```

use std::path::Path;
use std::str::FromStr;

use refinery_pep::{ProjectVersion, VersionSpecifiers};
use serde::Deserialize;

/// The catalog shipped with the refinery (`verify/catalog.toml`).
pub const DEFAULT_CATALOG: &str = include_str!("../../../../verify/catalog.toml");

/// Longest limit an entry may ask for, in seconds.
pub const MAX_ENTRY_TIMEOUT_SECS: u64 = 3600;

/// One entry as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    package: String,
    #[serde(default)]
    versions: String,
    snippet: String,
    #[serde(default)]
    tests: Option<String>,
    #[serde(default)]
    timeout_secs: Option<u64>,
    #[serde(default)]
    checked: Option<String>,
}

/// One checked entry of the catalog.
#[derive(Debug, Clone)]
pub struct SmokeTest {
    pub id: String,
    /// PEP 503-normalized distribution name.
    pub package: String,
    /// The versions it applies to (`None`: every version).
    pub versions: Option<VersionSpecifiers>,
    /// Python source run as a script in the verification venv.
    pub snippet: String,
    /// Python source of the package's own self-test, run for `--verify tests`.
    pub tests: Option<String>,
    /// Limit of each snippet in seconds, when the entry sets one.
    pub timeout_secs: Option<u64>,
    /// What the snippet was checked against (documentation only).
    pub checked: Option<String>,
}

impl SmokeTest {
    /// Whether this entry applies to `version` of its package. No version only matches
    /// entries without a range.
    #[must_use]
    pub fn applies_to(&self, version: Option<&ProjectVersion>) -> bool {
        match (&self.versions, version) {
            (None, _) => true,
            (Some(range), Some(v)) => range.contains(v.version()),
            (Some(_), None) => false,
        }
    }
}

/// The compiled catalog.
/// Why a smoke-test catalog (`verify/catalog.toml` or `--smoke-tests`) was refused; each
/// names the file (`origin`) and, for a bad entry, the entry (its `id`, else `#position`).
#[derive(Debug, thiserror::Error)]
pub enum SmokeCatalogError {
    /// `source` (from `fs_err`) names the path.
    #[error("cannot read the smoke-test catalog: {source}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin} is not a valid smoke-test catalog (TOML): {source}")]
    Toml {
        origin: String,
        #[source]
        source: toml::de::Error,
    },
    /// The file's layout is wrong (`problem` says how).
    #[error("{origin}: {problem}")]
    Shape { origin: String, problem: String },
    /// One entry is wrong; `problem` starts with its separator (`: …` or ` …`).
    #[error("{origin}: smoke test {name}{problem}")]
    Entry {
        origin: String,
        name: String,
        problem: String,
    },
}

#[derive(Debug, Clone, Default)]
pub struct SmokeCatalog {
    entries: Vec<SmokeTest>,
}

impl SmokeCatalog {
    /// The built-in catalog.
    ///
    /// # Panics
    ///
    /// When the built-in `verify/catalog.toml` does not parse (a unit test checks it does).
    #[must_use]
    pub fn builtin() -> SmokeCatalog {
        SmokeCatalog::parse(DEFAULT_CATALOG, "the built-in verify/catalog.toml")
            .expect("the built-in smoke-test catalog is valid")
    }

    /// Parse a catalog. Errors name `origin` and the entry (its `id`, else its position)
    /// and say what is wrong with it.
    ///
    /// # Errors
    ///
    /// [`SmokeCatalogError::Toml`] when `text` is not TOML, [`SmokeCatalogError::Shape`]
    /// when it has no `[[smoke]]` array of tables, [`SmokeCatalogError::Entry`] for an
    /// entry with a missing or invalid field.
    pub fn parse(text: &str, origin: &str) -> Result<SmokeCatalog, SmokeCatalogError> {
        let table: toml::Table =
            toml::from_str(text).map_err(|source| SmokeCatalogError::Toml {
                origin: origin.to_string(),
                source,
            })?;
        let shape = |problem: String| SmokeCatalogError::Shape {
            origin: origin.to_string(),
            problem,
        };
        if let Some(key) = table.keys().find(|k| k.as_str() != "smoke") {
            return Err(shape(format!(
                "unknown top-level key {key:?}; entries are [[smoke]] tables"
            )));
        }
        let raw = match table.get("smoke") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items.clone(),
            Some(_) => {
                return Err(shape(
                    "`smoke` must be an array of tables ([[smoke]])".to_string(),
                ))
            }
        };
        let mut entries: Vec<SmokeTest> = Vec::new();
        for (index, value) in raw.into_iter().enumerate() {
            let name = value
                .get("id")
                .and_then(toml::Value::as_str)
                .map_or_else(|| format!("#{}", index + 1), |id| format!("{id:?}"));
            let entry_error = |problem: String| SmokeCatalogError::Entry {
                origin: origin.to_string(),
                name: name.clone(),
                problem,
            };
            let entry = RawEntry::deserialize(value)
                .map_err(|e| entry_error(format!(": {}", e.message())))
                .and_then(|raw| check(raw).map_err(|e| entry_error(format!(" {e}"))))?;
            if entries.iter().any(|e| e.id == entry.id) {
                return Err(entry_error(
                    " appears twice; ids must be unique".to_string(),
                ));
            }
            entries.push(entry);
        }
        Ok(SmokeCatalog { entries })
    }

    /// Add (or replace, by id) the entries of another catalog file.
    ///
    /// # Errors
    ///
    /// [`SmokeCatalogError::Read`] naming the file when it cannot be read, and the errors
    /// of [`SmokeCatalog::parse`] naming it as the origin.
    pub fn extend_from_file(&mut self, path: &Path) -> Result<(), SmokeCatalogError> {
        let text = fs_err::read_to_string(path).map_err(|source| SmokeCatalogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let extra = SmokeCatalog::parse(&text, &path.display().to_string())?;
        for entry in extra.entries {
            self.entries.retain(|e| e.id != entry.id);
            self.entries.push(entry);
        }
        Ok(())
    }

    /// Every entry, in catalog order.
    #[must_use]
    pub fn entries(&self) -> &[SmokeTest] {
        &self.entries
    }

    /// The entries for `package` (any spelling) at `version`, in catalog order.
    #[must_use]
    pub fn select(&self, package: &str, version: Option<&ProjectVersion>) -> Vec<&SmokeTest> {
        let key = refinery_index::normalize_name(package);
        self.entries
            .iter()
            .filter(|e| e.package == key && e.applies_to(version))
            .collect()
    }
}

/// Turn a raw entry into a checked one, or say (after the entry's name) what is wrong.
fn check(raw: RawEntry) -> Result<SmokeTest, String> {
    let id_ok = !raw.id.is_empty()
        && raw
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !id_ok {
        return Err("has an id that is not [A-Za-z0-9._-]+".into());
    }
    if raw.package.trim().is_empty() {
        return Err("names no package".into());
    }
    refinery_pep::PackageName::new(raw.package.clone())
        .map_err(|e| format!("names no valid package {:?}: {e}", raw.package))?;
    let versions = if raw.versions.trim().is_empty() {
        None
    } else {
        Some(VersionSpecifiers::from_str(&raw.versions).map_err(|e| {
            format!(
                "has a version range {:?} that is not PEP 440: {e}",
                raw.versions
            )
        })?)
    };
    if raw.snippet.trim().is_empty() {
        return Err("has an empty snippet".into());
    }
    if raw.tests.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err("has an empty `tests` snippet (leave it out instead)".into());
    }
    if let Some(t) = raw
        .timeout_secs
        .filter(|t| *t == 0 || *t > MAX_ENTRY_TIMEOUT_SECS)
    {
        return Err(format!(
            "asks for a time limit of {t} s; use 1 to {MAX_ENTRY_TIMEOUT_SECS}"
        ));
    }
    Ok(SmokeTest {
        id: raw.id,
        package: refinery_index::normalize_name(&raw.package),
        versions,
        snippet: raw.snippet,
        tests: raw.tests,
        timeout_secs: raw.timeout_secs,
        checked: raw.checked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_parses_and_covers_thirty_packages() {
        let catalog = SmokeCatalog::builtin();
        let packages: std::collections::BTreeSet<&str> = catalog
            .entries()
            .iter()
            .map(|e| e.package.as_str())
            .collect();
        assert!(packages.len() >= 30, "{packages:?}");
        for entry in catalog.entries() {
            assert!(
                entry.checked.is_some(),
                "{} says what it was checked against",
                entry.id
            );
        }
    }

    #[test]
    fn selects_by_normalized_name_and_version_range() {
        let catalog = SmokeCatalog::parse(
            r#"
[[smoke]]
id = "new"
package = "Pydantic_Core"
versions = ">=2.10"
snippet = "import pydantic_core"
[[smoke]]
id = "any"
package = "pydantic-core"
snippet = "pass"
"#,
            "test.toml",
        )
        .unwrap();
        let ids = |v: &str| -> Vec<String> {
            catalog
                .select("pydantic.core", v.parse().ok().as_ref())
                .iter()
                .map(|e| e.id.clone())
                .collect()
        };
        assert_eq!(ids("2.27.1"), ["new", "any"]);
        assert_eq!(ids("2.9.0"), ["any"]);
        assert_eq!(ids("not-a-version"), ["any"]);
        assert!(catalog
            .select("orjson", Some(&"3.10.9".parse().unwrap()))
            .is_empty());
    }

    #[test]
    fn an_entry_that_does_not_parse_is_named() {
        let cases = [
            // A misspelt key in the second entry: named by its id.
            (
                "[[smoke]]\nid = \"ok\"\npackage = \"a\"\nsnippet = \"pass\"\n[[smoke]]\nid = \"orjson-int\"\npackage = \"orjson\"\nsnipet = \"pass\"\n",
                "smoke test \"orjson-int\"",
                "snipet",
            ),
            // No id at all: named by its position.
            (
                "[[smoke]]\npackage = \"a\"\nsnippet = \"pass\"\n",
                "smoke test #1",
                "id",
            ),
            (
                "[[smoke]]\nid = \"r\"\npackage = \"a\"\nversions = \">=1.0,<<2\"\nsnippet = \"pass\"\n",
                "smoke test \"r\"",
                "PEP 440",
            ),
            (
                "[[smoke]]\nid = \"t\"\npackage = \"a\"\nsnippet = \"pass\"\ntimeout_secs = 0\n",
                "smoke test \"t\"",
                "time limit",
            ),
            (
                "[[smoke]]\nid = \"p\"\npackage = \"a b\"\nsnippet = \"pass\"\n",
                "smoke test \"p\"",
                "package",
            ),
            (
                "[[smoke]]\nid = \"d\"\npackage = \"a\"\nsnippet = \"pass\"\n[[smoke]]\nid = \"d\"\npackage = \"b\"\nsnippet = \"pass\"\n",
                "smoke test \"d\"",
                "twice",
            ),
            ("[smoke]\nid = 1\n", "my.toml", "array of tables"),
            ("[[hint]]\nid = \"x\"\n", "my.toml", "hint"),
        ];
        for (text, names, says) in cases {
            let err = SmokeCatalog::parse(text, "my.toml")
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("my.toml"), "{err}");
            assert!(err.contains(names), "{err}");
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn an_extending_file_replaces_entries_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(
            &path,
            "[[smoke]]\nid = \"orjson\"\npackage = \"orjson\"\nsnippet = \"import orjson\"\ntimeout_secs = 5\n[[smoke]]\nid = \"mypkg\"\npackage = \"mypkg\"\nsnippet = \"import mypkg\"\n",
        )
        .unwrap();
        let mut catalog = SmokeCatalog::builtin();
        let before = catalog.entries().len();
        catalog.extend_from_file(&path).unwrap();
        assert_eq!(catalog.entries().len(), before + 1);
        let orjson = catalog.select("orjson", Some(&"3.10.10".parse().unwrap()));
        assert_eq!(orjson.len(), 1);
        assert_eq!(orjson[0].timeout_secs, Some(5));
        let missing = catalog
            .extend_from_file(&dir.path().join("absent.toml"))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("absent.toml"), "{missing}");
    }
}
