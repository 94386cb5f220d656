//! Source distribution filenames: `{name}-{version}{extension}`.
//!
//! Modern sdists (PEP 625) are `{normalized_name}-{version}.tar.gz`, but indexes still serve
//! many older forms (`MarkupSafe-2.1.5.tar.gz`, `zope.interface-6.0.tar.gz`,
//! `python-dateutil-2.9.0.tar.gz`, `.zip`, `.tar.bz2`).

use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// The archive extensions recognised for sdists, longest first so `.tar.gz` wins over `.gz`.
pub const SDIST_EXTENSIONS: [&str; 8] = [
    ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tgz", ".tbz2", ".zip", ".tar",
];

/// A parsed source distribution filename.
///
/// `Display` is canonical: normalized name with `_` (PEP 625 style), normalized version and
/// the extension (lower case).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SdistFilename {
    pub name: PackageName,
    pub version: Version,
    /// `.tar.gz`, `.zip`, `.tar.bz2`, ... always lower case, with the leading dot.
    pub extension: String,
}

/// Why a string is not an sdist filename. Every variant carries the filename as given.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdistFilenameError {
    #[error(
        "`{filename}` is not a source distribution: unknown extension \
         (expected one of .tar.gz, .zip, .tar.bz2, .tar.xz, .tgz, ...)"
    )]
    UnknownExtension { filename: String },
    #[error("`{filename}` is not a source distribution: expected `name-version{extension}`, found no `-`")]
    MissingVersion { filename: String, extension: String },
    #[error("invalid package name `{name}` in sdist filename `{filename}`: {message}")]
    InvalidName {
        filename: String,
        name: String,
        message: String,
    },
    #[error("invalid version `{version}` in sdist filename `{filename}`: {message}")]
    InvalidVersion {
        filename: String,
        version: String,
        message: String,
    },
    #[error("sdist filename `{filename}` does not start with the package name `{expected}` followed by `-`")]
    NameMismatch { filename: String, expected: String },
}

fn split_extension(filename: &str) -> Result<(&str, String), SdistFilenameError> {
    let lower = filename.to_ascii_lowercase();
    for ext in SDIST_EXTENSIONS {
        if lower.ends_with(ext) && lower.len() > ext.len() {
            let stem = &filename[..filename.len() - ext.len()];
            return Ok((stem, ext.to_string()));
        }
    }
    Err(SdistFilenameError::UnknownExtension {
        filename: filename.to_string(),
    })
}

fn parse_version(filename: &str, version: &str) -> Result<Version, SdistFilenameError> {
    Version::from_str(version).map_err(|e| SdistFilenameError::InvalidVersion {
        filename: filename.to_string(),
        version: version.to_string(),
        message: e.to_string(),
    })
}

impl FromStr for SdistFilename {
    type Err = SdistFilenameError;

    /// Splits name and version at the last `-` of the stem. When the package name is known,
    /// prefer [`SdistFilename::parse_for`], which also handles versions that contain `-`.
    fn from_str(filename: &str) -> Result<Self, Self::Err> {
        let (stem, extension) = split_extension(filename)?;
        let (name, version) =
            stem.rsplit_once('-')
                .ok_or_else(|| SdistFilenameError::MissingVersion {
                    filename: filename.to_string(),
                    extension: extension.clone(),
                })?;
        let name_parsed =
            crate::parse_package_name(name).map_err(|e| SdistFilenameError::InvalidName {
                filename: filename.to_string(),
                name: name.to_string(),
                message: e.to_string(),
            })?;
        Ok(SdistFilename {
            name: name_parsed,
            version: parse_version(filename, version)?,
            extension,
        })
    }
}

impl SdistFilename {
    /// Parse a filename whose package name is known (e.g. from the index page it was listed
    /// on). The name may contain `-`, and the version may contain `-` too
    /// (`foo-bar-1.0-1.tar.gz` with name `foo-bar` gives version `1.0.post1`).
    ///
    /// # Errors
    ///
    /// [`SdistFilenameError::UnknownExtension`] for other than `.tar.gz` and `.zip`,
    /// [`SdistFilenameError::NameMismatch`] when the file is not named for `name`,
    /// [`SdistFilenameError::MissingVersion`] or [`SdistFilenameError::InvalidVersion`]
    /// when what follows the name is no PEP 440 version.
    pub fn parse_for(filename: &str, name: &PackageName) -> Result<Self, SdistFilenameError> {
        let (stem, extension) = split_extension(filename)?;
        for (i, _) in stem.match_indices('-') {
            let candidate = &stem[..i];
            if PackageName::new(candidate.to_string()).is_ok_and(|c| &c == name) {
                return Ok(SdistFilename {
                    name: name.clone(),
                    version: parse_version(filename, &stem[i + 1..])?,
                    extension,
                });
            }
        }
        Err(SdistFilenameError::NameMismatch {
            filename: filename.to_string(),
            expected: name.to_string(),
        })
    }
}

impl fmt::Display for SdistFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}{}",
            self.name.as_dist_info_name(),
            self.version,
            self.extension
        )
    }
}

impl Serialize for SdistFilename {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SdistFilename {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_valid() {
        // (input, normalized name, version, extension, display)
        let table: &[(&str, &str, &str, &str, &str)] = &[
            (
                "MarkupSafe-2.1.5.tar.gz",
                "markupsafe",
                "2.1.5",
                ".tar.gz",
                "markupsafe-2.1.5.tar.gz",
            ),
            (
                "backports.zoneinfo-0.2.1.tar.gz",
                "backports-zoneinfo",
                "0.2.1",
                ".tar.gz",
                "backports_zoneinfo-0.2.1.tar.gz",
            ),
            (
                "zope.interface-6.0.tar.gz",
                "zope-interface",
                "6.0",
                ".tar.gz",
                "zope_interface-6.0.tar.gz",
            ),
            (
                "python-dateutil-2.9.0.post0.tar.gz",
                "python-dateutil",
                "2.9.0.post0",
                ".tar.gz",
                "python_dateutil-2.9.0.post0.tar.gz",
            ),
            (
                "numpy-1.26.4.zip",
                "numpy",
                "1.26.4",
                ".zip",
                "numpy-1.26.4.zip",
            ),
            (
                "pycrypto-2.6.1.tar.bz2",
                "pycrypto",
                "2.6.1",
                ".tar.bz2",
                "pycrypto-2.6.1.tar.bz2",
            ),
            ("Foo-1.0.TGZ", "foo", "1.0", ".tgz", "foo-1.0.tgz"),
            (
                "pyyaml-6.0.2rc1.tar.xz",
                "pyyaml",
                "6.0.2rc1",
                ".tar.xz",
                "pyyaml-6.0.2rc1.tar.xz",
            ),
        ];
        for (input, name, version, ext, display) in table {
            let s: SdistFilename = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(s.name.as_ref(), *name, "{input}");
            assert_eq!(s.version, version.parse::<Version>().unwrap(), "{input}");
            assert_eq!(s.extension, *ext, "{input}");
            assert_eq!(s.to_string(), *display, "{input}");
        }
    }

    #[test]
    fn parse_invalid() {
        let table: &[(&str, &str)] = &[
            ("foo-1.0.whl", "unknown extension"),
            ("foo-1.0.tar.7z", "unknown extension"),
            (".tar.gz", "unknown extension"),
            ("foo.tar.gz", "no `-`"),
            ("foo-bar.tar.gz", "invalid version `bar`"),
            ("-1.0.tar.gz", "invalid package name ``"),
            ("foo$-1.0.zip", "invalid package name `foo$`"),
        ];
        for (input, needle) in table {
            let err = input
                .parse::<SdistFilename>()
                .expect_err(&format!("{input} should not parse"));
            let msg = err.to_string();
            assert!(msg.contains(needle), "{input}: {msg}");
            assert!(msg.contains(input), "{input}: {msg}");
        }
    }

    #[test]
    fn parse_for_known_name() {
        let name: PackageName = "python-dateutil".parse().unwrap();
        let s = SdistFilename::parse_for("python-dateutil-2.9.0.tar.gz", &name).unwrap();
        assert_eq!(s.version, "2.9.0".parse::<Version>().unwrap());

        let name: PackageName = "zope.interface".parse().unwrap();
        let s = SdistFilename::parse_for("zope.interface-6.0.tar.gz", &name).unwrap();
        assert_eq!(s.name, name);

        // A version with a dash: the last-dash rule gets it wrong, parse_for does not.
        let name: PackageName = "foo-bar".parse().unwrap();
        let s = SdistFilename::parse_for("foo-bar-1.0-1.tar.gz", &name).unwrap();
        assert_eq!(s.version, "1.0.post1".parse::<Version>().unwrap());
        assert_eq!(s.to_string(), "foo_bar-1.0.post1.tar.gz");
        let last_dash: SdistFilename = "foo-bar-1.0-1.tar.gz".parse().unwrap();
        assert_eq!(last_dash.name.as_ref(), "foo-bar-1-0");

        // Name spelled differently but equal after normalization.
        let name: PackageName = "markupsafe".parse().unwrap();
        assert!(SdistFilename::parse_for("MarkupSafe-2.1.5.tar.gz", &name).is_ok());

        let err = SdistFilename::parse_for("other-1.0.tar.gz", &name).unwrap_err();
        assert!(matches!(err, SdistFilenameError::NameMismatch { .. }));
        assert!(err.to_string().contains("other-1.0.tar.gz"));
        let err = SdistFilename::parse_for("markupsafe-x.tar.gz", &name).unwrap_err();
        assert!(err.to_string().contains("invalid version `x`"), "{err}");
    }

    #[test]
    fn serde_via_string() {
        let s: SdistFilename = "MarkupSafe-2.1.5.tar.gz".parse().unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "\"markupsafe-2.1.5.tar.gz\"");
        assert_eq!(serde_json::from_str::<SdistFilename>(&json).unwrap(), s);
    }
}
