//! Core metadata (`METADATA` in a wheel, `PKG-INFO` in an sdist): RFC 822 style headers.
//!
//! Headers end at the first blank line; what follows is the description and is ignored.
//! Header names are case-insensitive; a line starting with whitespace continues the previous
//! header; multi-use fields (`Requires-Dist`) are collected in order; for single-use fields
//! the first occurrence wins. Bytes that are not UTF-8 are replaced (old `PKG-INFO` files
//! may be Latin-1).

use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement};
use thiserror::Error;

/// The fields of core metadata the Refinery uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreMetadata {
    pub name: PackageName,
    pub version: Version,
    /// Raw `Requires-Dist` values, trimmed, in file order.
    pub requires_dist: Vec<String>,
    pub requires_python: Option<String>,
    pub summary: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetadataError {
    #[error("core metadata has no `{field}` field (headers found: {found})")]
    MissingField {
        field: &'static str,
        /// The header names that were present, comma separated.
        found: String,
    },
    #[error("invalid `Name: {value}` in core metadata: {message}")]
    InvalidName { value: String, message: String },
    #[error("invalid `Version: {value}` in core metadata: {message}")]
    InvalidVersion { value: String, message: String },
    #[error("core metadata line {line} is not a `Header: value` line: `{text}`")]
    Malformed { line: usize, text: String },
}

impl CoreMetadata {
    /// Parses core metadata (a wheel's `METADATA`, an sdist's `PKG-INFO`): its
    /// `Header: value` lines up to the first blank line.
    ///
    /// # Errors
    ///
    /// [`MetadataError::MissingField`] without `Name` or `Version`,
    /// [`MetadataError::InvalidName`] / [`MetadataError::InvalidVersion`] when they do
    /// not parse, [`MetadataError::Malformed`] for a line that is no header.
    pub fn parse(bytes: &[u8]) -> Result<CoreMetadata, MetadataError> {
        let text = String::from_utf8_lossy(bytes);
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let mut headers: Vec<(String, String)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                break;
            }
            if line.starts_with([' ', '\t']) {
                match headers.last_mut() {
                    Some((_, value)) => {
                        value.push('\n');
                        value.push_str(line.trim());
                    }
                    None => {
                        return Err(MetadataError::Malformed {
                            line: i + 1,
                            text: line.to_string(),
                        })
                    }
                }
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(MetadataError::Malformed {
                    line: i + 1,
                    text: line.to_string(),
                });
            };
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(MetadataError::Malformed {
                    line: i + 1,
                    text: line.to_string(),
                });
            }
            headers.push((name.to_string(), value.trim().to_string()));
        }

        let first = |field: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(field))
                .map(|(_, v)| v.clone())
        };
        let missing = |field: &'static str| MetadataError::MissingField {
            field,
            found: headers
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        };

        let name_raw = first("Name").ok_or_else(|| missing("Name"))?;
        if name_raw.is_empty() {
            return Err(missing("Name"));
        }
        let name =
            crate::parse_package_name(&name_raw).map_err(|e| MetadataError::InvalidName {
                value: name_raw.clone(),
                message: e.to_string(),
            })?;
        let version_raw = first("Version").ok_or_else(|| missing("Version"))?;
        let version =
            Version::from_str(&version_raw).map_err(|e| MetadataError::InvalidVersion {
                value: version_raw.clone(),
                message: e.to_string(),
            })?;
        let requires_dist = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Requires-Dist"))
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .collect();
        Ok(CoreMetadata {
            name,
            version,
            requires_dist,
            requires_python: first("Requires-Python").filter(|v| !v.is_empty()),
            summary: first("Summary").filter(|v| !v.is_empty()),
        })
    }

    /// The `Requires-Dist` entries that parse as PEP 508 requirements; the others are
    /// skipped (use [`CoreMetadata::requires_dist`] to see them all).
    #[must_use]
    pub fn requires_dist_parsed(&self) -> Vec<Requirement> {
        self.requires_dist
            .iter()
            .filter_map(|r| crate::bounded::parse_requirement(r).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUESTS: &str = "Metadata-Version: 2.1\n\
Name: requests\n\
Version: 2.32.3\n\
Summary: Python HTTP for Humans.\n\
Home-page: https://requests.readthedocs.io\n\
Requires-Python: >=3.8\n\
License: Apache-2.0\n\
Classifier: Development Status :: 5 - Production/Stable\n\
Requires-Dist: charset-normalizer <4,>=2\n\
Requires-Dist: idna <4,>=2.5\n\
Requires-Dist: urllib3 <3,>=1.21.1\n\
Requires-Dist: certifi >=2017.4.17\n\
Provides-Extra: socks\n\
Requires-Dist: PySocks !=1.5.7,>=1.5.6 ; extra == 'socks'\n\
Requires-Dist: this is not ( a requirement\n\
\n\
# Requests\n\
\n\
Name: not-the-name\n\
Requires-Dist: not-a-dependency\n\
Version: 0.0.0\n";

    #[test]
    fn parse_requests() {
        let m = CoreMetadata::parse(REQUESTS.as_bytes()).unwrap();
        assert_eq!(m.name.as_ref(), "requests");
        assert_eq!(m.version, "2.32.3".parse::<Version>().unwrap());
        assert_eq!(m.summary.as_deref(), Some("Python HTTP for Humans."));
        assert_eq!(m.requires_python.as_deref(), Some(">=3.8"));
        assert_eq!(
            m.requires_dist,
            [
                "charset-normalizer <4,>=2",
                "idna <4,>=2.5",
                "urllib3 <3,>=1.21.1",
                "certifi >=2017.4.17",
                "PySocks !=1.5.7,>=1.5.6 ; extra == 'socks'",
                "this is not ( a requirement",
            ]
        );
        let parsed = m.requires_dist_parsed();
        let names: Vec<&str> = parsed.iter().map(|r| r.name.as_ref()).collect();
        assert_eq!(
            names,
            [
                "charset-normalizer",
                "idna",
                "urllib3",
                "certifi",
                "pysocks"
            ]
        );
    }

    #[test]
    fn headers_are_flexible() {
        let m = CoreMetadata::parse(
            b"metadata-version: 2.3\r\nNAME: Zope.Interface\r\nversion: 6.0\r\nSummary: a\r\n  folded summary\r\nRequires-Dist: setuptools\r\n",
        )
        .unwrap();
        assert_eq!(m.name.as_ref(), "zope-interface");
        assert_eq!(m.summary.as_deref(), Some("a\nfolded summary"));
        assert_eq!(m.requires_dist, ["setuptools"]);
        assert_eq!(m.requires_python, None);
        // Latin-1 bytes do not fail the parse.
        let m = CoreMetadata::parse(b"Name: foo\nVersion: 1.0\nSummary: caf\xe9\n").unwrap();
        assert!(m.summary.unwrap().starts_with("caf"));
    }

    #[test]
    fn errors() {
        let table: &[(&[u8], &str)] = &[
            (
                b"Version: 1.0\nSummary: x\n",
                "no `Name` field (headers found: Version, Summary)",
            ),
            (b"\nName: foo\nVersion: 1.0\n", "no `Name` field"),
            (b"Name:\nVersion: 1.0\n", "no `Name` field"),
            (b"Name: foo\n", "no `Version` field"),
            (b"Name: foo bar\nVersion: 1.0\n", "invalid `Name: foo bar`"),
            (b"Name: foo\nVersion: one\n", "invalid `Version: one`"),
            (
                b"Name: foo\nthis is not a header\n",
                "line 2 is not a `Header: value` line",
            ),
            (b" leading continuation\n", "line 1"),
        ];
        for (input, needle) in table {
            let err = CoreMetadata::parse(input).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains(needle),
                "{:?}: {msg}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
