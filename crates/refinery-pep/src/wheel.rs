//! Wheel filenames (PEP 427, PEP 491):
//! `{name}-{version}(-{build tag})?-{python tag}-{abi tag}-{platform tag}.whl`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::tags::Tag;

/// A parsed wheel filename.
///
/// `Display` is the canonical form: the normalized name with `_` instead of `-`, the
/// normalized version, the build tag if any, the tag sets joined with `.` in the order
/// they were given, and `.whl`. Serde goes through that string form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct WheelFilename {
    pub name: PackageName,
    pub version: Version,
    pub build_tag: Option<BuildTag>,
    pub python_tags: Vec<String>,
    pub abi_tags: Vec<String>,
    pub platform_tags: Vec<String>,
}

/// The optional build tag of a wheel: a number followed by an optional suffix, e.g. `1`, `1abc`.
///
/// Ordered like pip: by the number first, then by the suffix as a string. Leading zeros of
/// the number are not kept (`01` displays as `1`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BuildTag {
    pub number: u64,
    pub suffix: String,
}

impl Ord for BuildTag {
    fn cmp(&self, other: &Self) -> Ordering {
        self.number
            .cmp(&other.number)
            .then_with(|| self.suffix.cmp(&other.suffix))
    }
}

impl PartialOrd for BuildTag {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for BuildTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.number, self.suffix)
    }
}

/// A build tag that does not start with a digit, or whose number does not fit.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid build tag `{input}`: {reason}")]
pub struct BuildTagError {
    pub input: String,
    pub reason: String,
}

impl FromStr for BuildTag {
    type Err = BuildTagError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(BuildTagError {
                input: s.to_string(),
                reason: "a build tag must start with a digit".to_string(),
            });
        }
        let number = s[..digits].parse::<u64>().map_err(|_| BuildTagError {
            input: s.to_string(),
            reason: "the build number is too large".to_string(),
        })?;
        let suffix = &s[digits..];
        if let Some(c) = suffix
            .chars()
            .find(|c| !(c.is_alphanumeric() || *c == '_' || *c == '.'))
        {
            return Err(BuildTagError {
                input: s.to_string(),
                reason: format!("unexpected character `{c}`"),
            });
        }
        Ok(BuildTag {
            number,
            suffix: suffix.to_string(),
        })
    }
}

/// Why a string is not a wheel filename. Every variant carries the filename as given.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WheelFilenameError {
    #[error("`{filename}` is not a wheel filename: it must end with `.whl`")]
    MissingExtension { filename: String },
    #[error(
        "`{filename}` is not a wheel filename: expected 5 or 6 `-`-separated parts \
         (name-version[-build]-python-abi-platform.whl), found {parts}"
    )]
    WrongPartCount { filename: String, parts: usize },
    #[error("invalid package name `{name}` in wheel filename `{filename}`: {message}")]
    InvalidName {
        filename: String,
        name: String,
        message: String,
    },
    #[error("invalid version `{version}` in wheel filename `{filename}`: {message}")]
    InvalidVersion {
        filename: String,
        version: String,
        message: String,
    },
    #[error("invalid build tag `{build_tag}` in wheel filename `{filename}`: {message}")]
    InvalidBuildTag {
        filename: String,
        build_tag: String,
        message: String,
    },
    #[error("invalid {kind} tag set `{tags}` in wheel filename `{filename}`: {message}")]
    InvalidTags {
        filename: String,
        kind: &'static str,
        tags: String,
        message: String,
    },
}

impl WheelFilenameError {
    /// The filename that failed to parse, as given.
    #[must_use]
    pub fn filename(&self) -> &str {
        match self {
            WheelFilenameError::MissingExtension { filename }
            | WheelFilenameError::WrongPartCount { filename, .. }
            | WheelFilenameError::InvalidName { filename, .. }
            | WheelFilenameError::InvalidVersion { filename, .. }
            | WheelFilenameError::InvalidBuildTag { filename, .. }
            | WheelFilenameError::InvalidTags { filename, .. } => filename,
        }
    }
}

fn parse_tag_set(
    filename: &str,
    kind: &'static str,
    tags: &str,
) -> Result<Vec<String>, WheelFilenameError> {
    let err = |message: &str| WheelFilenameError::InvalidTags {
        filename: filename.to_string(),
        kind,
        tags: tags.to_string(),
        message: message.to_string(),
    };
    if tags.is_empty() {
        return Err(err("the tag set is empty"));
    }
    let mut out = Vec::new();
    for tag in tags.split('.') {
        if tag.is_empty() {
            return Err(err("empty tag between `.` separators"));
        }
        if let Some(c) = tag
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_'))
        {
            return Err(err(&format!("tag `{tag}` contains the character `{c}`")));
        }
        out.push(tag.to_string());
    }
    Ok(out)
}

impl FromStr for WheelFilename {
    type Err = WheelFilenameError;

    fn from_str(filename: &str) -> Result<Self, Self::Err> {
        let stem =
            filename
                .strip_suffix(".whl")
                .ok_or_else(|| WheelFilenameError::MissingExtension {
                    filename: filename.to_string(),
                })?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, py, abi, plat) = match parts.as_slice() {
            [name, version, py, abi, plat] => (*name, *version, None, *py, *abi, *plat),
            [name, version, build, py, abi, plat] => {
                (*name, *version, Some(*build), *py, *abi, *plat)
            }
            _ => {
                return Err(WheelFilenameError::WrongPartCount {
                    filename: filename.to_string(),
                    parts: parts.len(),
                })
            }
        };
        let name_parsed =
            crate::parse_package_name(name).map_err(|e| WheelFilenameError::InvalidName {
                filename: filename.to_string(),
                name: name.to_string(),
                message: e.to_string(),
            })?;
        let version_parsed =
            Version::from_str(version).map_err(|e| WheelFilenameError::InvalidVersion {
                filename: filename.to_string(),
                version: version.to_string(),
                message: e.to_string(),
            })?;
        let build_tag = build
            .map(|b| {
                b.parse::<BuildTag>()
                    .map_err(|e| WheelFilenameError::InvalidBuildTag {
                        filename: filename.to_string(),
                        build_tag: b.to_string(),
                        message: e.reason,
                    })
            })
            .transpose()?;
        Ok(WheelFilename {
            name: name_parsed,
            version: version_parsed,
            build_tag,
            python_tags: parse_tag_set(filename, "python", py)?,
            abi_tags: parse_tag_set(filename, "abi", abi)?,
            platform_tags: parse_tag_set(filename, "platform", plat)?,
        })
    }
}

impl fmt::Display for WheelFilename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.name.as_dist_info_name(), self.version)?;
        if let Some(build) = &self.build_tag {
            write!(f, "-{build}")?;
        }
        write!(
            f,
            "-{}-{}-{}.whl",
            self.python_tags.join("."),
            self.abi_tags.join("."),
            self.platform_tags.join(".")
        )
    }
}

impl WheelFilename {
    /// All tag triples the wheel claims: the cartesian product of the compressed tag sets,
    /// in the order python, abi, platform (as `packaging.tags.parse_tag`).
    #[must_use]
    pub fn tags(&self) -> Vec<Tag> {
        let mut out = Vec::with_capacity(
            self.python_tags.len() * self.abi_tags.len() * self.platform_tags.len(),
        );
        for py in &self.python_tags {
            for abi in &self.abi_tags {
                for plat in &self.platform_tags {
                    out.push(Tag::new(py.as_str(), abi.as_str(), plat.as_str()));
                }
            }
        }
        out
    }

    /// True if the wheel is pure Python for any interpreter (`*-none-any`).
    #[must_use]
    pub fn is_pure(&self) -> bool {
        self.abi_tags.iter().all(|a| a == "none") && self.platform_tags.iter().all(|p| p == "any")
    }
}

impl Serialize for WheelFilename {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WheelFilename {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for BuildTag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BuildTag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap()
    }

    #[test]
    fn parse_valid() {
        // (input, name, version, build, py, abi, plat, canonical display)
        #[allow(clippy::type_complexity)]
        let table: &[(
            &str,
            &str,
            &str,
            Option<(u64, &str)>,
            &[&str],
            &[&str],
            &[&str],
            &str,
        )] = &[
            (
                "six-1.16.0-py2.py3-none-any.whl",
                "six",
                "1.16.0",
                None,
                &["py2", "py3"],
                &["none"],
                &["any"],
                "six-1.16.0-py2.py3-none-any.whl",
            ),
            (
                "foo-1.0-1-py3-none-any.whl",
                "foo",
                "1.0",
                Some((1, "")),
                &["py3"],
                &["none"],
                &["any"],
                "foo-1.0-1-py3-none-any.whl",
            ),
            (
                "foo-1.0-1abc-py3-none-any.whl",
                "foo",
                "1.0",
                Some((1, "abc")),
                &["py3"],
                &["none"],
                &["any"],
                "foo-1.0-1abc-py3-none-any.whl",
            ),
            (
                "cryptography-42.0.5-cp37-abi3-manylinux_2_17_s390x.manylinux2014_s390x.whl",
                "cryptography",
                "42.0.5",
                None,
                &["cp37"],
                &["abi3"],
                &["manylinux_2_17_s390x", "manylinux2014_s390x"],
                "cryptography-42.0.5-cp37-abi3-manylinux_2_17_s390x.manylinux2014_s390x.whl",
            ),
            (
                "MarkupSafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
                "markupsafe",
                "2.1.5",
                None,
                &["cp311"],
                &["cp311"],
                &["manylinux_2_17_x86_64", "manylinux2014_x86_64"],
                "markupsafe-2.1.5-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            ),
            (
                "zope.interface-6.0-cp311-cp311-linux_s390x.whl",
                "zope-interface",
                "6.0",
                None,
                &["cp311"],
                &["cp311"],
                &["linux_s390x"],
                "zope_interface-6.0-cp311-cp311-linux_s390x.whl",
            ),
            (
                "typing_extensions-4.12.2-py3-none-any.whl",
                "typing-extensions",
                "4.12.2",
                None,
                &["py3"],
                &["none"],
                &["any"],
                "typing_extensions-4.12.2-py3-none-any.whl",
            ),
            (
                // Non-normalized version and local version segment.
                "torch-2.3.0+cpu-cp311-cp311-linux_x86_64.whl",
                "torch",
                "2.3.0+cpu",
                None,
                &["cp311"],
                &["cp311"],
                &["linux_x86_64"],
                "torch-2.3.0+cpu-cp311-cp311-linux_x86_64.whl",
            ),
            (
                "numpy-2.0.0rc1-cp312-cp312-macosx_14_0_arm64.whl",
                "numpy",
                "2.0.0rc1",
                None,
                &["cp312"],
                &["cp312"],
                &["macosx_14_0_arm64"],
                "numpy-2.0.0rc1-cp312-cp312-macosx_14_0_arm64.whl",
            ),
            (
                "Pillow-10.0.0-2_sp1-cp311-cp311-win_amd64.whl",
                "pillow",
                "10.0.0",
                Some((2, "_sp1")),
                &["cp311"],
                &["cp311"],
                &["win_amd64"],
                "pillow-10.0.0-2_sp1-cp311-cp311-win_amd64.whl",
            ),
        ];
        for (input, name, version, build, py, abi, plat, display) in table {
            let w: WheelFilename = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(w.name.as_ref(), *name, "{input}");
            assert_eq!(w.version, v(version), "{input}");
            assert_eq!(
                w.build_tag,
                build.map(|(n, s)| BuildTag {
                    number: n,
                    suffix: s.to_string()
                }),
                "{input}"
            );
            assert_eq!(w.python_tags, *py, "{input}");
            assert_eq!(w.abi_tags, *abi, "{input}");
            assert_eq!(w.platform_tags, *plat, "{input}");
            assert_eq!(w.to_string(), *display, "{input}");
            // Canonical form parses back to the same value.
            assert_eq!(display.parse::<WheelFilename>().unwrap(), w, "{input}");
        }
    }

    #[test]
    fn parse_invalid() {
        // (input, substring expected in the error message)
        let table: &[(&str, &str)] = &[
            ("foo-1.0-py3-none.whl", "found 4"),
            ("foo-py3-none-any.whl", "found 4"),
            ("foo-1.0-1-2-py3-none-any.whl", "found 7"),
            ("foo-1.0-py3-none-any", "must end with `.whl`"),
            ("foo-1.0-py3-none-any.zip", "must end with `.whl`"),
            ("foo-1.0-py3-none-any.WHL", "must end with `.whl`"),
            (
                "foo-notaversion-py3-none-any.whl",
                "invalid version `notaversion`",
            ),
            ("foo-1.0-abc-py3-none-any.whl", "must start with a digit"),
            ("foo-1.0--py3-none-any.whl", "must start with a digit"),
            ("_foo-1.0-py3-none-any.whl", "invalid package name `_foo`"),
            ("foo-1.0-py3.-none-any.whl", "empty tag"),
            ("foo-1.0-py3--any.whl", "tag set is empty"),
            ("foo-1.0-py3-none-any+x.whl", "contains the character `+`"),
            (
                "foo-1.0-99999999999999999999999-py3-none-any.whl",
                "too large",
            ),
        ];
        for (input, needle) in table {
            let err = input
                .parse::<WheelFilename>()
                .expect_err(&format!("{input} should not parse"));
            let msg = err.to_string();
            assert!(msg.contains(needle), "{input}: {msg}");
            assert!(msg.contains(input), "error must name the file: {msg}");
            assert_eq!(err.filename(), *input);
        }
    }

    #[test]
    fn expanded_tags() {
        let w: WheelFilename = "foo-1.0-py2.py3-none-any.whl".parse().unwrap();
        let tags: Vec<String> = w.tags().iter().map(ToString::to_string).collect();
        assert_eq!(tags, ["py2-none-any", "py3-none-any"]);
        assert!(w.is_pure());

        let w: WheelFilename =
            "foo-1.0-cp37.cp38-abi3.none-manylinux_2_17_s390x.manylinux2014_s390x.whl"
                .parse()
                .unwrap();
        let tags: Vec<String> = w.tags().iter().map(ToString::to_string).collect();
        assert_eq!(
            tags,
            [
                "cp37-abi3-manylinux_2_17_s390x",
                "cp37-abi3-manylinux2014_s390x",
                "cp37-none-manylinux_2_17_s390x",
                "cp37-none-manylinux2014_s390x",
                "cp38-abi3-manylinux_2_17_s390x",
                "cp38-abi3-manylinux2014_s390x",
                "cp38-none-manylinux_2_17_s390x",
                "cp38-none-manylinux2014_s390x",
            ]
        );
        assert!(!w.is_pure());
    }

    #[test]
    fn build_tag_order() {
        let mut tags: Vec<BuildTag> = ["10", "2", "1abc", "1", "2a", "01b"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        tags.sort();
        let shown: Vec<String> = tags.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["1", "1abc", "1b", "2", "2a", "10"]);
        assert!("x1".parse::<BuildTag>().is_err());
    }

    #[test]
    fn serde_via_string() {
        let w: WheelFilename = "six-1.16.0-py2.py3-none-any.whl".parse().unwrap();
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(json, "\"six-1.16.0-py2.py3-none-any.whl\"");
        let back: WheelFilename = serde_json::from_str(&json).unwrap();
        assert_eq!(back, w);
        let err = serde_json::from_str::<WheelFilename>("\"six-1.16.0.whl\"").unwrap_err();
        assert!(err.to_string().contains("six-1.16.0.whl"), "{err}");
    }
}
