//! The hint catalog: patterns over build logs that name what is missing and which system
//! packages fix it, per distro family.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The catalog shipped with the refinery (`hints/catalog.toml`).
pub const DEFAULT_CATALOG: &str = include_str!("../../../hints/catalog.toml");

/// One entry of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hint {
    pub id: String,
    pub pattern: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apt: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dnf: Vec<String>,
    /// Recipe steps: environment variables for the retry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

impl Hint {
    /// `libffi: the libffi development headers are missing (dnf: libffi-devel | apt: libffi-dev)`.
    pub fn summary(&self) -> String {
        let mut text = format!("{}: {}", self.id, self.message);
        if !self.apt.is_empty() || !self.dnf.is_empty() {
            text.push_str(&format!(
                " (dnf: {} | apt: {})",
                self.dnf.join(" "),
                self.apt.join(" ")
            ));
        }
        text
    }

    pub fn packages(&self, family: PackageFamily) -> &[String] {
        match family {
            PackageFamily::Apt => &self.apt,
            PackageFamily::Dnf => &self.dnf,
        }
    }
}

/// Which package manager an environment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageFamily {
    Apt,
    Dnf,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    hint: Vec<Hint>,
}

/// The compiled catalog.
#[derive(Debug, Clone)]
pub struct Catalog {
    entries: Vec<(Hint, regex::Regex)>,
}

impl Catalog {
    /// The default catalog.
    pub fn builtin() -> Catalog {
        Catalog::parse(DEFAULT_CATALOG, "the built-in hints/catalog.toml")
            .expect("the built-in catalog is valid")
    }

    /// Parse a catalog; a broken pattern is an error naming the entry and the file.
    pub fn parse(text: &str, origin: &str) -> Result<Catalog, String> {
        let file: CatalogFile = toml::from_str(text)
            .map_err(|e| format!("{origin} is not a valid hint catalog: {e}"))?;
        let mut entries = Vec::new();
        for hint in file.hint {
            let regex = regex::Regex::new(&hint.pattern)
                .map_err(|e| format!("{origin}: hint {:?} has a broken pattern: {e}", hint.id))?;
            entries.push((hint, regex));
        }
        Ok(Catalog { entries })
    }

    /// Add (or replace, by id) the entries of another catalog file.
    pub fn extend_from_file(&mut self, path: &Path) -> Result<(), String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the hint catalog {}: {e}", path.display()))?;
        let extra = Catalog::parse(&text, &path.display().to_string())?;
        for (hint, regex) in extra.entries {
            self.entries.retain(|(h, _)| h.id != hint.id);
            self.entries.push((hint, regex));
        }
        Ok(())
    }

    pub fn hints(&self) -> impl Iterator<Item = &Hint> {
        self.entries.iter().map(|(h, _)| h)
    }

    /// The hints whose pattern occurs in `log`, in catalog order.
    pub fn matches(&self, log: &str) -> Vec<&Hint> {
        self.entries
            .iter()
            .filter(|(_, regex)| regex.is_match(log))
            .map(|(hint, _)| hint)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_matches_real_log_lines() {
        let catalog = Catalog::builtin();
        let cases = [
            ("c/_cffi_backend.c:15:10: fatal error: ffi.h: No such file or directory", "libffi"),
            ("ext/_yaml.h:2:10: fatal error: yaml.h: No such file or directory", "libyaml"),
            ("src/x.c:1:10: fatal error: openssl/ssl.h: No such file or directory", "openssl"),
            ("error: can't find Rust compiler", "rust"),
            ("Error: pg_config executable not found.", "libpq"),
            ("gcc: fatal error: cannot execute 'cc1plus': error trying to exec 'cc1plus': execvp: No such file", "cxx"),
            ("numpy/meson.build: ERROR: Unknown compiler(s): [['gfortran']]", "fortran"),
            ("#error Unsupported endianness", "big-endian"),
            ("fatal error: libxml/xmlversion.h: No such file or directory", "libxml2"),
        ];
        for (line, id) in cases {
            let found: Vec<&str> = catalog
                .matches(line)
                .iter()
                .map(|h| h.id.as_str())
                .collect();
            assert!(
                found.contains(&id),
                "{line:?} should suggest {id}, got {found:?}"
            );
        }
        assert!(catalog.matches("Successfully built six").is_empty());
    }

    #[test]
    fn summary_names_both_families() {
        let catalog = Catalog::builtin();
        let hint = catalog.hints().find(|h| h.id == "libffi").unwrap();
        assert_eq!(
            hint.summary(),
            "libffi: the libffi development headers are missing (dnf: libffi-devel | apt: libffi-dev)"
        );
        assert_eq!(hint.packages(PackageFamily::Apt), ["libffi-dev"]);
    }

    #[test]
    fn a_broken_pattern_names_the_entry() {
        let err = Catalog::parse(
            "[[hint]]\nid = \"bad\"\npattern = \"(unclosed\"\nmessage = \"m\"\n",
            "my.toml",
        )
        .unwrap_err();
        assert!(err.contains("my.toml") && err.contains("\"bad\""), "{err}");
        let err = Catalog::parse(
            "[[hint]]\nid = \"x\"\npatern = \"a\"\nmessage = \"m\"\n",
            "my.toml",
        )
        .unwrap_err();
        assert!(err.contains("my.toml"), "{err}");
    }

    #[test]
    fn extending_replaces_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("extra.toml");
        std::fs::write(
            &path,
            "[[hint]]\nid = \"libffi\"\npattern = \"custom-ffi\"\nmessage = \"m\"\napt = [\"x\"]\n",
        )
        .unwrap();
        let mut catalog = Catalog::builtin();
        let before = catalog.hints().count();
        catalog.extend_from_file(&path).unwrap();
        assert_eq!(catalog.hints().count(), before);
        assert_eq!(catalog.matches("custom-ffi")[0].apt, ["x"]);
        assert!(catalog
            .matches("ffi.h: No such file or directory")
            .is_empty());
    }
}
