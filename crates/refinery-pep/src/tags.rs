//! Platform compatibility tags (PEP 425) and a classification of platform tags.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// One `python-abi-platform` tag triple, e.g. `cp311-cp311-manylinux_2_17_s390x`.
///
/// `Display` writes the triple joined with `-`; `FromStr` parses exactly one triple
/// (no compressed tag sets such as `py2.py3`, see [`crate::WheelFilename::tags`] for those).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    pub python: String,
    pub abi: String,
    pub platform: String,
}

impl Tag {
    pub fn new(
        python: impl Into<String>,
        abi: impl Into<String>,
        platform: impl Into<String>,
    ) -> Tag {
        Tag {
            python: python.into(),
            abi: abi.into(),
            platform: platform.into(),
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.python, self.abi, self.platform)
    }
}

/// A string that is not a single `python-abi-platform` triple.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid tag `{input}`: {reason}")]
pub struct TagError {
    pub input: String,
    pub reason: String,
}

impl FromStr for Tag {
    type Err = TagError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| TagError {
            input: s.to_string(),
            reason: reason.to_string(),
        };
        let parts: Vec<&str> = s.split('-').collect();
        if parts.len() != 3 {
            return Err(err(&format!(
                "expected exactly three parts `python-abi-platform` separated by `-`, found {}",
                parts.len()
            )));
        }
        for (what, part) in ["python", "abi", "platform"].iter().zip(&parts) {
            if part.is_empty() {
                return Err(err(&format!("the {what} tag is empty")));
            }
            if part.contains('.') {
                return Err(err(&format!(
                    "the {what} tag `{part}` is a compressed tag set; give a single tag"
                )));
            }
            if part.chars().any(char::is_whitespace) {
                return Err(err(&format!("the {what} tag `{part}` contains whitespace")));
            }
        }
        Ok(Tag::new(parts[0], parts[1], parts[2]))
    }
}

impl Serialize for Tag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What a platform tag (the third part of a [`Tag`]) describes.
///
/// This is the "manylinux policy data" of the crate: legacy aliases map to glibc versions
/// as in PEP 513/571/599, `manylinux_X_Y_arch` is PEP 600, `musllinux_X_Y_arch` is PEP 656.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Platform {
    /// `any`: pure Python, runs everywhere.
    Any,
    /// `manylinux1_*`, `manylinux2010_*`, `manylinux2014_*`, `manylinux_X_Y_*`.
    Manylinux {
        glibc: (u16, u16),
        arch: String,
        /// `Some("manylinux2014")` when the tag used a legacy alias.
        legacy: Option<&'static str>,
    },
    /// `musllinux_X_Y_*`.
    Musllinux { musl: (u16, u16), arch: String },
    /// `linux_*`: a local, non-portable build.
    Linux { arch: String },
    /// `macosx_*`.
    MacOs,
    /// `win32`, `win_amd64`, `win_arm64`, ...
    Windows,
    /// Anything else (`android_*`, `ios_*`, `emscripten_*`, `freebsd_*`, ...).
    Other,
}

/// Legacy manylinux aliases and the glibc version each one stands for.
pub const LEGACY_MANYLINUX: [(&str, (u16, u16)); 3] = [
    ("manylinux2014", (2, 17)),
    ("manylinux2010", (2, 12)),
    ("manylinux1", (2, 5)),
];

/// The legacy alias (e.g. `manylinux2014`) for a glibc version, if there is one.
#[must_use]
pub fn legacy_manylinux_alias(glibc: (u16, u16)) -> Option<&'static str> {
    LEGACY_MANYLINUX
        .iter()
        .find(|(_, g)| *g == glibc)
        .map(|(name, _)| *name)
}

/// Parse `X_Y_arch` into `((X, Y), arch)`.
fn versioned_arch(rest: &str) -> Option<((u16, u16), String)> {
    let mut it = rest.splitn(3, '_');
    let major = it.next()?.parse().ok()?;
    let minor = it.next()?.parse().ok()?;
    let arch = it.next()?;
    if arch.is_empty() {
        return None;
    }
    Some(((major, minor), arch.to_string()))
}

impl Platform {
    /// Classify a platform tag. Never fails: unknown tags are [`Platform::Other`].
    #[must_use]
    pub fn parse(tag: &str) -> Platform {
        if tag == "any" {
            return Platform::Any;
        }
        if let Some(rest) = tag.strip_prefix("manylinux_") {
            if let Some((glibc, arch)) = versioned_arch(rest) {
                return Platform::Manylinux {
                    glibc,
                    arch,
                    legacy: None,
                };
            }
            return Platform::Other;
        }
        for (alias, glibc) in LEGACY_MANYLINUX {
            if let Some(arch) = tag
                .strip_prefix(alias)
                .and_then(|rest| rest.strip_prefix('_'))
            {
                if arch.is_empty() {
                    return Platform::Other;
                }
                return Platform::Manylinux {
                    glibc,
                    arch: arch.to_string(),
                    legacy: Some(alias),
                };
            }
        }
        if let Some(rest) = tag.strip_prefix("musllinux_") {
            if let Some((musl, arch)) = versioned_arch(rest) {
                return Platform::Musllinux { musl, arch };
            }
            return Platform::Other;
        }
        if let Some(arch) = tag.strip_prefix("linux_") {
            if !arch.is_empty() {
                return Platform::Linux {
                    arch: arch.to_string(),
                };
            }
            return Platform::Other;
        }
        if tag.starts_with("macosx_") {
            return Platform::MacOs;
        }
        if tag == "win32" || tag.starts_with("win_") {
            return Platform::Windows;
        }
        Platform::Other
    }

    /// The CPU architecture, for the Linux families.
    #[must_use]
    pub fn arch(&self) -> Option<&str> {
        match self {
            Platform::Manylinux { arch, .. }
            | Platform::Musllinux { arch, .. }
            | Platform::Linux { arch } => Some(arch),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_roundtrip() {
        for s in [
            "cp311-cp311-manylinux_2_17_s390x",
            "py3-none-any",
            "cp37-abi3-manylinux2014_s390x",
            "pp310-pypy310_pp73-linux_x86_64",
        ] {
            let tag: Tag = s.parse().unwrap();
            assert_eq!(tag.to_string(), s);
        }
        let tag: Tag = "cp311-cp311-manylinux_2_17_s390x".parse().unwrap();
        assert_eq!(tag.python, "cp311");
        assert_eq!(tag.abi, "cp311");
        assert_eq!(tag.platform, "manylinux_2_17_s390x");
    }

    #[test]
    fn tag_errors() {
        for (s, needle) in [
            ("py3-none", "three parts"),
            ("py3-none-any-extra", "three parts"),
            ("py2.py3-none-any", "compressed"),
            ("py3--any", "abi tag is empty"),
            ("", "three parts"),
        ] {
            let err = s.parse::<Tag>().unwrap_err();
            assert_eq!(err.input, s);
            assert!(err.to_string().contains(needle), "{s}: {err}");
        }
    }

    #[test]
    fn tag_serde() {
        let tag: Tag = "py3-none-any".parse().unwrap();
        let json = serde_json::to_string(&tag).unwrap();
        assert_eq!(json, "\"py3-none-any\"");
        let back: Tag = serde_json::from_str(&json).unwrap();
        assert_eq!(back, tag);
        assert!(serde_json::from_str::<Tag>("\"py3-none\"").is_err());
    }

    #[test]
    fn platform_classification() {
        let table: Vec<(&str, Platform)> = vec![
            ("any", Platform::Any),
            (
                "manylinux2014_s390x",
                Platform::Manylinux {
                    glibc: (2, 17),
                    arch: "s390x".into(),
                    legacy: Some("manylinux2014"),
                },
            ),
            (
                "manylinux_2_28_s390x",
                Platform::Manylinux {
                    glibc: (2, 28),
                    arch: "s390x".into(),
                    legacy: None,
                },
            ),
            (
                "manylinux1_x86_64",
                Platform::Manylinux {
                    glibc: (2, 5),
                    arch: "x86_64".into(),
                    legacy: Some("manylinux1"),
                },
            ),
            (
                "manylinux2010_i686",
                Platform::Manylinux {
                    glibc: (2, 12),
                    arch: "i686".into(),
                    legacy: Some("manylinux2010"),
                },
            ),
            (
                "musllinux_1_2_s390x",
                Platform::Musllinux {
                    musl: (1, 2),
                    arch: "s390x".into(),
                },
            ),
            (
                "linux_x86_64",
                Platform::Linux {
                    arch: "x86_64".into(),
                },
            ),
            ("macosx_11_0_arm64", Platform::MacOs),
            ("macosx_10_9_universal2", Platform::MacOs),
            ("win_amd64", Platform::Windows),
            ("win32", Platform::Windows),
            ("android_21_arm64_v8a", Platform::Other),
            ("manylinux_x_y_s390x", Platform::Other),
        ];
        for (tag, expected) in table {
            assert_eq!(Platform::parse(tag), expected, "{tag}");
        }
        assert_eq!(legacy_manylinux_alias((2, 17)), Some("manylinux2014"));
        assert_eq!(legacy_manylinux_alias((2, 28)), None);
    }
}
