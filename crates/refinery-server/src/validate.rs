//! Validation of names, versions and ids in URLs and bodies: bad input gets a 400 that
//! names it.

use std::sync::OnceLock;

use refinery_pep::PackageName;

use crate::error::ApiError;

fn name_re() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,200}[A-Za-z0-9])?$").expect("regex")
    })
}

fn version_re() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,100}$").expect("regex"))
}

/// A package name as PEP 508 allows it; rejects `../`, slashes and the like.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    if name_re().is_match(name) && !name.contains("..") {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "`{}` is not a valid package name",
            name.chars().take(100).collect::<String>()
        )))
    }
}

/// A package name from a URL or a query as a [`PackageName`]: [`check_name`], then PEP
/// 508's own rules.
///
/// # Errors
/// A 400 [`ApiError`] naming the input (its first 100 characters).
pub fn parse_name(name: &str) -> Result<PackageName, ApiError> {
    check_name(name)?;
    name.parse().map_err(|e| {
        ApiError::bad_request(format!(
            "`{}` is not a valid package name: {e}",
            name.chars().take(100).collect::<String>()
        ))
    })
}

pub fn check_version(version: &str) -> Result<(), ApiError> {
    if version_re().is_match(version) && !version.contains("..") {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "`{}` is not a valid version",
            version.chars().take(100).collect::<String>()
        )))
    }
}

pub(crate) fn parse_id(id: &str, what: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::bad_request(format!("`{id}` is not a valid {what} id")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions() {
        for ok in ["six", "zope.interface", "A_b-c", "x"] {
            check_name(ok).unwrap();
        }
        for bad in [
            "../../etc/passwd",
            "..",
            "a/b",
            "",
            "-x",
            "a..b",
            "a\0b",
            "x y",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        for ok in ["1.0", "2024.11.6", "1.0rc1", "1!2.0+local.1"] {
            check_version(ok).unwrap();
        }
        for bad in ["..", "../1", "1/2", ""] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_id("7", "job").unwrap(), 7);
        assert!(parse_id("0", "job").is_err());
    }
}
