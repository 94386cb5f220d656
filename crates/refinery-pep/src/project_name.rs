//! [`ProjectName`]: a project's name as the project spells it (`PyYAML`), compared by its
//! PEP 503 normalized form (`pyyaml`).

use crate::PackageName;

/// A valid PEP 508 project name that keeps its original spelling.
///
/// `Display`, `as_str` and serde use the spelling (`PyYAML`, `ruamel.yaml`), so files that
/// show names to people keep them as the project writes them; `Eq`, `Hash` and `Ord` use the
/// PEP 503 normalized [`PackageName`] (`pyyaml`, `ruamel-yaml`), so `Foo.Bar_baz` and
/// `foo-bar-baz` are the same project. Parsing refuses the empty string and anything
/// `pep508_rs` refuses (characters other than ASCII letters, digits, `-`, `_`, `.`, or a
/// separator at either end), with a [`ProjectNameError`] naming the input.
#[derive(Clone, Debug)]
pub struct ProjectName {
    spelling: String,
    normalized: PackageName,
}

/// Why a string is not a [`ProjectName`]; `input` is the rejected string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a project name: a name is ASCII letters, digits, `-`, `_` and `.`, \
     starting and ending with a letter or digit (PEP 508)"
)]
pub struct ProjectNameError {
    /// The string that was refused.
    pub input: String,
}

impl ProjectName {
    /// Parses `spelling`, keeping it as given.
    ///
    /// # Errors
    ///
    /// [`ProjectNameError`] when `spelling` is empty or not a PEP 508 name.
    pub fn new(spelling: impl Into<String>) -> Result<Self, ProjectNameError> {
        let spelling = spelling.into();
        match crate::parse_package_name(&spelling) {
            Ok(normalized) => Ok(ProjectName {
                spelling,
                normalized,
            }),
            Err(_) => Err(ProjectNameError { input: spelling }),
        }
    }

    /// The name as spelled by the project (what `Display` and serde write).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.spelling
    }

    /// The PEP 503 normalized name, e.g. `ruamel-yaml` for `ruamel.yaml`.
    #[must_use]
    pub fn normalized(&self) -> &PackageName {
        &self.normalized
    }
}

crate::spelled::spelled_newtype!(ProjectName, normalized: PackageName, ProjectNameError);

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn name(s: &str) -> ProjectName {
        s.parse().unwrap()
    }

    #[test]
    fn keeps_the_spelling_and_compares_normalized() {
        let yaml = name("PyYAML");
        assert_eq!(yaml.to_string(), "PyYAML");
        assert_eq!(yaml.as_str(), "PyYAML");
        assert_eq!(yaml.normalized().as_ref(), "pyyaml");
        assert_eq!(yaml, name("pyyaml"));
        assert_ne!(yaml, name("py-yaml"));
        assert_eq!(name("Foo.Bar_baz"), name("foo-bar-baz"));
        assert_eq!(name("Foo.Bar_baz").normalized().as_ref(), "foo-bar-baz");
        assert_eq!(name("A-_.b"), name("a-b"));
        assert_eq!(
            name("ruamel.yaml"),
            PackageName::new("ruamel-yaml".into()).unwrap()
        );
        let set: HashSet<ProjectName> = [name("Zope.Interface"), name("zope_interface")].into();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn orders_by_normalized_name() {
        let mut names = [
            name("zstandard"),
            name("PyYAML"),
            name("Cffi"),
            name("attrs"),
        ];
        names.sort();
        let spelled: Vec<&str> = names.iter().map(ProjectName::as_str).collect();
        assert_eq!(spelled, ["attrs", "Cffi", "PyYAML", "zstandard"]);
    }

    #[test]
    fn serde_round_trip_keeps_the_spelling() {
        let json = serde_json::to_string(&name("Foo.Bar_baz")).unwrap();
        assert_eq!(json, "\"Foo.Bar_baz\"");
        let back: ProjectName = serde_json::from_str(&json).unwrap();
        assert_eq!(back.as_str(), "Foo.Bar_baz");
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }

    #[test]
    fn from_package_name_spells_it_normalized() {
        let normalized = PackageName::new("Charset_Normalizer".into()).unwrap();
        assert_eq!(
            ProjectName::from(&normalized).as_str(),
            "charset-normalizer"
        );
    }

    #[test]
    fn refuses_invalid_names_naming_the_input() {
        for bad in ["", "-lead", "trail.", "sp ace", "ünï", "a/b"] {
            let err = bad.parse::<ProjectName>().unwrap_err();
            assert_eq!(err.input, bad);
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
        let err = serde_json::from_str::<ProjectName>("\"not valid\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("`not valid` is not a project name"),
            "{err}"
        );
    }
}
