//! Per-package overrides (`PLAN_OVERRIDES_JSON` or `[overrides]` in `--config`).
//!
//! ```json
//! {"numpy": {"pin": "1.26.4", "variant": "no-isolation",
//!            "system_packages": ["libopenblas-dev"], "env": {"NPY_BLAS_ORDER": "openblas"}},
//!  "pywin32": {"skip": true}}
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageOverride {
    /// Force this exact version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// Leave the package out of the plan.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip: bool,
    /// Build variant to try first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// System packages to install in the build environment first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_packages: Vec<String>,
    /// Environment variables for the build.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// Overrides keyed by normalized package name.
pub type Overrides = BTreeMap<String, PackageOverride>;

/// Why overrides were refused; each names where they came from (`origin`).
#[derive(Debug, thiserror::Error)]
pub enum OverridesError {
    #[error("{origin} is not valid overrides JSON ({source}); expected {{\"package\": {{\"pin\": \"1.0\", \"skip\": false, \"variant\": \"...\", \"system_packages\": [...], \"env\": {{...}}}}}}")]
    Json {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{origin}: {name:?} is not a package name: {source}")]
    Name {
        origin: String,
        name: String,
        #[source]
        source: refinery_pep::InvalidNameError,
    },
}

/// Parse the JSON form, normalizing the package names.
pub fn parse_overrides(json: &str, origin: &str) -> Result<Overrides, OverridesError> {
    let raw: BTreeMap<String, PackageOverride> =
        serde_json::from_str(json).map_err(|source| OverridesError::Json {
            origin: origin.to_string(),
            source,
        })?;
    raw.into_iter()
        .map(|(name, value)| {
            let normalized = refinery_pep::PackageName::new(name.clone()).map_err(|source| {
                OverridesError::Name {
                    origin: origin.to_string(),
                    name: name.clone(),
                    source,
                }
            })?;
            Ok((normalized.to_string(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalizes() {
        let o = parse_overrides(
            r#"{"Foo_Bar": {"pin": "1.0", "env": {"A": "b"}}, "x": {"skip": true}}"#,
            "PLAN_OVERRIDES_JSON",
        )
        .unwrap();
        assert_eq!(o["foo-bar"].pin.as_deref(), Some("1.0"));
        assert!(o["x"].skip);
    }

    #[test]
    fn unknown_fields_are_an_error_naming_the_origin() {
        let err = parse_overrides(r#"{"x": {"pinn": "1"}}"#, "PLAN_OVERRIDES_JSON")
            .unwrap_err()
            .to_string();
        assert!(err.contains("PLAN_OVERRIDES_JSON"), "{err}");
    }
}
