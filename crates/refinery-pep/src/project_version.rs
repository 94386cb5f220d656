//! [`ProjectVersion`]: a version as the project (or a file name, or METADATA) spells it
//! (`1.0.0-beta1`), compared as PEP 440 says (`1.0.0b1`).

use std::str::FromStr;

use crate::Version;

/// A valid PEP 440 version that keeps its original spelling.
///
/// `Display`, `as_str` and serde use the spelling (`1.0.0-beta1`, `2021.10.23`,
/// `1.0.post0`), so the files the refinery writes (`manifest.json`, plans, locks) say what
/// the wheel or the index said; `Eq`, `Hash` and `Ord` use the parsed [`Version`], so
/// `1.0` and `1.0.0` are the same version and `1.0rc1 < 1.0 < 1.0.post1`. Parsing refuses
/// the empty string and anything `pep440_rs` refuses, with a [`ProjectVersionError`]
/// naming the input. A version that may be absent (a package that never resolved) is an
/// `Option<ProjectVersion>`; [`or_empty`] reads and writes it as `""`.
#[derive(Clone, Debug)]
pub struct ProjectVersion {
    spelling: String,
    parsed: Version,
}

/// Why a string is not a [`ProjectVersion`]; `input` is the rejected string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a version: {reason} (PEP 440, e.g. `1.0`, `2.3.1rc1`, `1.0.post2`)")]
pub struct ProjectVersionError {
    /// The string that was refused.
    pub input: String,
    /// What the parser found wrong with it.
    pub reason: String,
}

impl ProjectVersion {
    /// Parses `spelling`, keeping it as given.
    ///
    /// # Errors
    ///
    /// [`ProjectVersionError`] when `spelling` is empty or not a PEP 440 version.
    pub fn new(spelling: impl Into<String>) -> Result<Self, ProjectVersionError> {
        let spelling = spelling.into();
        if spelling.is_empty() {
            return Err(ProjectVersionError {
                input: spelling,
                reason: "the version is empty".to_string(),
            });
        }
        match Version::from_str(&spelling) {
            Ok(parsed) => Ok(ProjectVersion { spelling, parsed }),
            Err(e) => Err(ProjectVersionError {
                input: spelling,
                reason: e.to_string(),
            }),
        }
    }

    /// The version as spelled (what `Display` and serde write).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.spelling
    }

    /// The parsed PEP 440 version, for comparisons with specifiers.
    #[must_use]
    pub fn version(&self) -> &Version {
        &self.parsed
    }
}

crate::spelled::spelled_newtype!(ProjectVersion, parsed: Version, ProjectVersionError);

/// The spelling of a version that may be absent: `""` for `None`.
#[must_use]
pub fn spelling_or_empty(version: Option<&ProjectVersion>) -> &str {
    version.map_or("", ProjectVersion::as_str)
}

/// Parses a version that may be absent: `""` is `None`.
///
/// # Errors
///
/// [`ProjectVersionError`] when `spelling` is neither empty nor a PEP 440 version.
pub fn parse_or_empty(spelling: &str) -> Result<Option<ProjectVersion>, ProjectVersionError> {
    if spelling.is_empty() {
        Ok(None)
    } else {
        ProjectVersion::new(spelling).map(Some)
    }
}

/// Serde adapter for `Option<ProjectVersion>` written as a string that is empty when there
/// is no version (`"version": ""` of a package that never resolved), as the files have
/// always written it: `#[serde(with = "refinery_pep::project_version::or_empty")]`.
pub mod or_empty {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::ProjectVersion;

    /// Writes the spelling, or `""` for `None`.
    ///
    /// # Errors
    ///
    /// Whatever the serializer returns for a string.
    #[allow(clippy::ref_option)] // serde's `with` passes `&Option<T>`.
    pub fn serialize<S: Serializer>(
        version: &Option<ProjectVersion>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(super::spelling_or_empty(version.as_ref()))
    }

    /// Reads a string: `""` is `None`, anything else must be a PEP 440 version.
    ///
    /// # Errors
    ///
    /// The deserializer's error for a non-string, or a custom one naming an invalid version.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<ProjectVersion>, D::Error> {
        let spelling = String::deserialize(deserializer)?;
        super::parse_or_empty(&spelling).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn version(s: &str) -> ProjectVersion {
        s.parse().unwrap()
    }

    #[test]
    fn keeps_the_spelling() {
        for spelled in [
            "1.0.0-beta1",
            "2021.10.23",
            "1.0.post0",
            "1.0",
            "v1.2",
            "1.0-1",
        ] {
            let v = version(spelled);
            assert_eq!(v.to_string(), spelled);
            assert_eq!(v.as_str(), spelled);
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, format!("\"{spelled}\""));
            let back: ProjectVersion = serde_json::from_str(&json).unwrap();
            assert_eq!(back.as_str(), spelled);
        }
        assert_eq!(version("1.0.0-beta1").version().to_string(), "1.0.0b1");
    }

    #[test]
    fn compares_as_pep_440() {
        assert_eq!(version("1.0"), version("1.0.0"));
        assert_eq!(version("1.0.0-beta1"), version("1.0.0b1"));
        assert_eq!(version("1.0"), Version::from_str("1.0.0").unwrap());
        let set: HashSet<ProjectVersion> = [version("1.0"), version("1.0.0"), version("1")].into();
        assert_eq!(set.len(), 1);
        assert!(version("1.0rc1") < version("1.0"));
        assert!(version("1.0") < version("1.0.post1"));
        let mut sorted = [
            version("1.0.post1"),
            version("1.0"),
            version("1.0rc1"),
            version("0.9"),
            version("1.0.dev0"),
        ];
        sorted.sort();
        let spelled: Vec<&str> = sorted.iter().map(ProjectVersion::as_str).collect();
        assert_eq!(spelled, ["0.9", "1.0.dev0", "1.0rc1", "1.0", "1.0.post1"]);
    }

    #[test]
    fn from_a_parsed_version_spells_it_normalized() {
        let parsed = Version::from_str("1.0.0-BETA1").unwrap();
        assert_eq!(ProjectVersion::from(&parsed).as_str(), "1.0.0b1");
    }

    #[test]
    fn refuses_invalid_versions_naming_the_input() {
        for bad in ["", "1.0 beta", "not-a-version", "1..0", "==1.0"] {
            let err = bad.parse::<ProjectVersion>().unwrap_err();
            assert_eq!(err.input, bad);
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
        let err = serde_json::from_str::<ProjectVersion>("\"1.0 beta\"").unwrap_err();
        assert!(
            err.to_string().contains("`1.0 beta` is not a version"),
            "{err}"
        );
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Entry {
        #[serde(with = "or_empty")]
        version: Option<ProjectVersion>,
    }

    #[test]
    fn or_empty_reads_and_writes_the_empty_string() {
        let missing: Entry = serde_json::from_str(r#"{"version":""}"#).unwrap();
        assert_eq!(missing.version, None);
        assert_eq!(
            serde_json::to_string(&missing).unwrap(),
            r#"{"version":""}"#
        );
        let spelled: Entry = serde_json::from_str(r#"{"version":"1.0.0-beta1"}"#).unwrap();
        assert_eq!(spelled.version, Some(version("1.0.0b1")));
        assert_eq!(
            serde_json::to_string(&spelled).unwrap(),
            r#"{"version":"1.0.0-beta1"}"#
        );
        let err = serde_json::from_str::<Entry>(r#"{"version":"nope"}"#).unwrap_err();
        assert!(err.to_string().contains("`nope` is not a version"), "{err}");
        assert_eq!(spelling_or_empty(None), "");
        assert_eq!(parse_or_empty("").unwrap(), None);
    }
}
