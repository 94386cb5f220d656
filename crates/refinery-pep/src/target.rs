//! The target the Refinery builds for: CPython `X.Y` on Linux s390x with a given glibc
//! baseline, expressed as a platform tag.
//!
//! Decisions:
//! - Only CPython 3.3+ is supported, and only the default (GIL, non-debug) ABI. Free-threaded
//!   (`3.13t`) targets are rejected.
//! - `supported_tags` mirrors `packaging.tags.cpython_tags` + `compatible_tags` (as
//!   `sys_tags` calls them) with the platform list
//!   `manylinux_2_N_s390x` for N from the target glibc down to 17, `manylinux2014_s390x` right
//!   after `manylinux_2_17_s390x`, then `linux_s390x` when linux tags are enabled. Legacy
//!   `manylinux1`/`manylinux2010` never exist for s390x (packaging's oldest glibc for
//!   non-x86 arches is 2.17). musllinux tags are never produced: the target is glibc.
//!   packaging 26.3 moved `linux_*` *before* the manylinux tags; pip's vendored packaging
//!   (and every packaging before 26.3) puts it last, which is what we follow.
//! - A `linux_s390x` target means "wheels built for one machine": it always accepts
//!   `linux_s390x` and, conservatively, only manylinux wheels up to glibc 2.17
//!   (manylinux2014), since the real glibc of that machine is unknown.
//! - The marker environment uses `python_full_version = "X.Y.0"` (like uv does for a
//!   `--python-version X.Y` without patch): markers that need a particular patch release
//!   evaluate as for the first release of the series.

use std::collections::HashMap;
use std::fmt;

use pep508_rs::{ExtraName, MarkerEnvironment, MarkerEnvironmentBuilder, MarkerTree};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::tags::{legacy_manylinux_alias, Platform, Tag};
use crate::wheel::WheelFilename;

/// The architecture the Refinery targets.
pub const ARCH: &str = "s390x";
/// The oldest glibc with a manylinux tag on s390x (manylinux2014, PEP 599).
pub const MIN_GLIBC: (u16, u16) = (2, 17);

/// CPython `X.Y` on Linux s390x with a platform tag.
///
/// Serde goes through the fields `python` (`"3.11"`), `platform_tag` and `linux_tag`, and is
/// validated again when deserializing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TargetRepr", into = "TargetRepr")]
pub struct Target {
    python: (u8, u8),
    platform_tag: String,
    glibc: (u16, u16),
    linux_tag: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetRepr {
    python: String,
    platform_tag: String,
    #[serde(default)]
    linux_tag: bool,
}

impl From<Target> for TargetRepr {
    fn from(t: Target) -> Self {
        TargetRepr {
            python: t.python_str(),
            platform_tag: t.platform_tag,
            linux_tag: t.linux_tag,
        }
    }
}

impl TryFrom<TargetRepr> for Target {
    type Error = TargetError;

    fn try_from(r: TargetRepr) -> Result<Self, Self::Error> {
        Ok(Target::new(&r.python, &r.platform_tag)?.with_linux_tag(r.linux_tag))
    }
}

/// Why a Python version or platform tag cannot be a target. Carries the input as given.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    #[error("invalid target Python version `{input}`: {reason}")]
    InvalidPython { input: String, reason: String },
    #[error(
        "platform tag `{input}` is for {arch}, not s390x: use e.g. `manylinux2014_s390x` or \
         `manylinux_2_28_s390x`"
    )]
    NotS390x { input: String, arch: String },
    #[error("invalid target platform tag `{input}`: {reason}")]
    InvalidPlatform { input: String, reason: String },
}

/// Whether a wheel installs on a [`Target`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Compatibility {
    /// `priority` is the index of the wheel's best tag in [`Target::supported_tags`]:
    /// lower is better, as pip prefers it.
    Compatible { priority: usize },
    /// `reason` says in words why not, e.g. `platform linux_x86_64 is not s390x`.
    Incompatible { reason: String },
}

impl Compatibility {
    #[must_use]
    pub fn is_compatible(&self) -> bool {
        matches!(self, Compatibility::Compatible { .. })
    }
}

fn parse_python(input: &str) -> Result<(u8, u8), TargetError> {
    let err = |reason: &str| TargetError::InvalidPython {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let s = input.trim();
    if s.ends_with('t') {
        return Err(err(
            "free-threaded CPython is not supported; give the version without `t`",
        ));
    }
    let Some((major, minor)) = s.split_once('.') else {
        return Err(err("expected `major.minor`, e.g. `3.11`"));
    };
    let parse = |p: &str| -> Option<u8> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            p.parse().ok()
        }
    };
    let (Some(major), Some(minor)) = (parse(major), parse(minor)) else {
        return Err(err(
            "expected `major.minor` with numbers only, e.g. `3.11` (no patch version)",
        ));
    };
    if major != 3 {
        return Err(err("only Python 3 is supported"));
    }
    if minor < 3 {
        return Err(err("Python versions before 3.3 are not supported"));
    }
    Ok((major, minor))
}

/// Normalize a platform tag like packaging does (`-` and `.` become `_`, lower case).
fn normalize_platform(tag: &str) -> String {
    tag.trim()
        .chars()
        .map(|c| match c {
            '-' | '.' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Closeness ranks of incompatibility reasons: the reason of the closest tag is reported.
const RANK_PLATFORM_OK: u8 = 5;
const RANK_GLIBC: u8 = 4;

fn glibc_tag(glibc: (u16, u16)) -> String {
    format!("manylinux_{}_{}_{ARCH}", glibc.0, glibc.1)
}

/// Parsed python tag: interpreter abbreviation and optional (major, minor).
struct PyTag<'a> {
    interp: &'a str,
    major: Option<u32>,
    minor: Option<u32>,
}

fn parse_py_tag(tag: &str) -> PyTag<'_> {
    let split = tag.find(|c: char| c.is_ascii_digit()).unwrap_or(tag.len());
    let (interp, digits) = tag.split_at(split);
    let (major, minor) = if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        (None, None)
    } else {
        let major = digits[..1].parse().ok();
        let minor = if digits.len() > 1 {
            digits[1..].parse().ok()
        } else {
            None
        };
        (major, minor)
    };
    PyTag {
        interp,
        major,
        minor,
    }
}

impl Target {
    /// A target from a Python version (`"3.11"`) and a platform tag
    /// (`"manylinux2014_s390x"`, `"manylinux_2_28_s390x"` or `"linux_s390x"`).
    ///
    /// # Errors
    ///
    /// [`TargetError::InvalidPython`] for a Python version that is not `3.X`,
    /// [`TargetError::InvalidPlatform`] for a tag that is not a manylinux or linux one,
    /// [`TargetError::NotS390x`] for another machine's tag.
    pub fn new(python: &str, platform_tag: &str) -> Result<Target, TargetError> {
        let python = parse_python(python)?;
        let tag = normalize_platform(platform_tag);
        let invalid = |reason: String| TargetError::InvalidPlatform {
            input: platform_tag.to_string(),
            reason,
        };
        let not_s390x = |arch: &str| TargetError::NotS390x {
            input: platform_tag.to_string(),
            arch: arch.to_string(),
        };
        let (glibc, linux_tag) = match Platform::parse(&tag) {
            Platform::Manylinux {
                glibc,
                arch,
                legacy,
            } => {
                if arch != ARCH {
                    return Err(not_s390x(&arch));
                }
                if glibc.0 != 2 {
                    return Err(invalid(format!(
                        "glibc {}.{} does not exist; manylinux tags are `manylinux_2_N_s390x`",
                        glibc.0, glibc.1
                    )));
                }
                if glibc < MIN_GLIBC {
                    let name = legacy
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("manylinux_{}_{}", glibc.0, glibc.1));
                    return Err(invalid(format!(
                        "{name} (glibc {}.{}) does not exist for s390x: s390x manylinux starts at \
                         manylinux2014 (glibc 2.17); use `manylinux2014_s390x` or newer",
                        glibc.0, glibc.1
                    )));
                }
                (glibc, false)
            }
            Platform::Linux { arch } => {
                if arch != ARCH {
                    return Err(not_s390x(&arch));
                }
                (MIN_GLIBC, true)
            }
            Platform::Musllinux { arch, .. } => {
                if arch != ARCH {
                    return Err(not_s390x(&arch));
                }
                return Err(invalid(
                    "musllinux targets are not supported: the Refinery builds for glibc; use \
                     `manylinux2014_s390x` or `manylinux_2_N_s390x`"
                        .to_string(),
                ));
            }
            Platform::Any => {
                return Err(invalid(
                    "`any` is not a target platform; use e.g. `manylinux2014_s390x`".to_string(),
                ))
            }
            Platform::MacOs | Platform::Windows | Platform::Other => {
                return Err(invalid(
                    "not a Linux platform tag; use e.g. `manylinux2014_s390x`, \
                     `manylinux_2_28_s390x` or `linux_s390x`"
                        .to_string(),
                ))
            }
        };
        Ok(Target {
            python,
            platform_tag: tag,
            glibc,
            linux_tag,
        })
    }

    /// Whether plain `linux_s390x` wheels (local, unrepaired builds) are accepted. Off by
    /// default; always on for a `linux_s390x` target, where `with_linux_tag(false)` has no
    /// effect.
    #[must_use]
    pub fn with_linux_tag(mut self, include: bool) -> Self {
        self.linux_tag = include || self.is_linux_target();
        self
    }

    fn is_linux_target(&self) -> bool {
        self.platform_tag == format!("linux_{ARCH}")
    }

    /// Whether `linux_s390x` wheels are accepted.
    #[must_use]
    pub fn linux_tag(&self) -> bool {
        self.linux_tag
    }

    /// `(3, 11)`.
    #[must_use]
    pub fn python(&self) -> (u8, u8) {
        self.python
    }

    /// `"3.11"`.
    #[must_use]
    pub fn python_str(&self) -> String {
        format!("{}.{}", self.python.0, self.python.1)
    }

    /// `X.Y.0`: the Python version that markers (`python_full_version`) and
    /// `Requires-Python` are evaluated against, as uv's `--python-version X.Y` takes it.
    #[must_use]
    pub fn python_full_version(&self) -> pep440_rs::Version {
        pep440_rs::Version::new([u64::from(self.python.0), u64::from(self.python.1), 0])
    }

    /// Whether a `Requires-Python` value (core metadata, PEP 345) admits the target's
    /// [`Self::python_full_version`]; an unparsable one admits, as pip treats it.
    #[must_use]
    pub fn admits_requires_python(&self, spec: &str) -> bool {
        spec.parse::<pep440_rs::VersionSpecifiers>()
            .map_or(true, |s| s.contains(&self.python_full_version()))
    }

    /// `"cp311"`.
    #[must_use]
    pub fn cpython_tag(&self) -> String {
        format!("cp{}{}", self.python.0, self.python.1)
    }

    /// The ABI tag of the target interpreter: `cp311`, or `cp37m` before 3.8.
    #[must_use]
    pub fn abi_tag(&self) -> String {
        if self.python.1 < 8 {
            format!("{}m", self.cpython_tag())
        } else {
            self.cpython_tag()
        }
    }

    /// The platform tag as given, normalized (lower case, `_` separators).
    #[must_use]
    pub fn platform_tag(&self) -> &str {
        &self.platform_tag
    }

    /// The newest glibc a wheel may need: `manylinux2014` → (2, 17), `manylinux_2_28` →
    /// (2, 28), `linux_s390x` → (2, 17) (conservative, see the module docs).
    #[must_use]
    pub fn glibc(&self) -> (u16, u16) {
        self.glibc
    }

    /// The platform tags in priority order: `manylinux_2_N_s390x` from the target glibc down
    /// to 2.17, `manylinux2014_s390x` after `manylinux_2_17_s390x`, then `linux_s390x` if
    /// accepted.
    #[must_use]
    pub fn platforms(&self) -> Vec<String> {
        let mut out = Vec::new();
        for minor in (MIN_GLIBC.1..=self.glibc.1).rev() {
            let glibc = (2, minor);
            out.push(glibc_tag(glibc));
            if let Some(alias) = legacy_manylinux_alias(glibc) {
                out.push(format!("{alias}_{ARCH}"));
            }
        }
        if self.linux_tag {
            out.push(format!("linux_{ARCH}"));
        }
        out
    }

    /// Every tag the target interpreter accepts, best first, as `packaging.tags.sys_tags()`
    /// yields them for CPython X.Y on s390x with this glibc.
    #[must_use]
    pub fn supported_tags(&self) -> Vec<Tag> {
        let (major, minor) = self.python;
        let platforms = self.platforms();
        let cp = self.cpython_tag();
        let mut out = Vec::new();
        // cpython_tags
        let abi = self.abi_tag();
        for abi in [abi.as_str(), "abi3", "none"] {
            for p in &platforms {
                out.push(Tag::new(cp.as_str(), abi, p.as_str()));
            }
        }
        for older in (2..minor).rev() {
            for p in &platforms {
                out.push(Tag::new(format!("cp{major}{older}"), "abi3", p.as_str()));
            }
        }
        // compatible_tags
        let mut py_range = vec![format!("py{major}{minor}"), format!("py{major}")];
        py_range.extend((0..minor).rev().map(|m| format!("py{major}{m}")));
        for py in &py_range {
            for p in &platforms {
                out.push(Tag::new(py.as_str(), "none", p.as_str()));
            }
        }
        out.push(Tag::new(cp.as_str(), "none", "any"));
        for py in &py_range {
            out.push(Tag::new(py.as_str(), "none", "any"));
        }
        out
    }

    /// Whether `wheel` installs on the target and, if so, how preferred it is.
    #[must_use]
    pub fn compatibility(&self, wheel: &WheelFilename) -> Compatibility {
        let tags = wheel.tags();
        let supported = self.supported_tags();
        let index: HashMap<&Tag, usize> = supported
            .iter()
            .enumerate()
            .rev()
            .map(|(i, t)| (t, i))
            .collect();
        if let Some(priority) = tags.iter().filter_map(|t| index.get(t).copied()).min() {
            return Compatibility::Compatible { priority };
        }
        Compatibility::Incompatible {
            reason: self.incompatibility_reason(&tags),
        }
    }

    fn incompatibility_reason(&self, tags: &[Tag]) -> String {
        let mut best: Option<(u8, String)> = None;
        for tag in tags {
            let (rank, reason) = match self.platform_problem(&tag.platform) {
                None => (
                    RANK_PLATFORM_OK,
                    self.python_problem(tag)
                        .unwrap_or_else(|| self.generic(tag)),
                ),
                Some((RANK_GLIBC, plat)) => match self.python_problem(tag) {
                    Some(py) => (RANK_GLIBC, format!("{plat}; also {py}")),
                    None => (RANK_GLIBC, plat),
                },
                Some(problem) => problem,
            };
            if best.as_ref().is_none_or(|(r, _)| rank > *r) {
                best = Some((rank, reason));
            }
        }
        best.map(|(_, r)| r)
            .unwrap_or_else(|| "the wheel has no tags".to_string())
    }

    fn generic(&self, tag: &Tag) -> String {
        format!(
            "tag {tag} is not supported by CPython {} on {}",
            self.python_str(),
            self.platform_tag
        )
    }

    fn target_desc(&self) -> String {
        let (a, b) = self.glibc;
        if legacy_manylinux_alias(self.glibc).is_some() && self.platform_tag.contains("manylinux") {
            format!("{a}.{b} ({})", self.platform_tag)
        } else {
            format!("{a}.{b} ({})", glibc_tag(self.glibc))
        }
    }

    /// `None` if the platform is accepted; else (closeness rank, reason).
    fn platform_problem(&self, plat: &str) -> Option<(u8, String)> {
        if plat == "any" || self.platforms().iter().any(|p| p == plat) {
            return None;
        }
        Some(match Platform::parse(plat) {
            Platform::Any => unreachable!("handled above"),
            Platform::Windows => (
                0,
                format!("Windows wheel ({plat}) does not run on Linux s390x"),
            ),
            Platform::MacOs => (
                0,
                format!("macOS wheel ({plat}) does not run on Linux s390x"),
            ),
            Platform::Other => (0, format!("platform {plat} is not Linux s390x")),
            Platform::Manylinux { arch, .. }
            | Platform::Musllinux { arch, .. }
            | Platform::Linux { arch }
                if arch != ARCH =>
            {
                (1, format!("platform {plat} is not s390x"))
            }
            Platform::Musllinux { .. } => (
                2,
                format!(
                    "{plat} is built for musl libc, but the target is glibc ({})",
                    self.platform_tag
                ),
            ),
            Platform::Linux { .. } => (
                3,
                format!(
                    "{plat} is a local, unrepaired build that is only guaranteed to work where \
                     it was built; the target {} needs a manylinux wheel (repair it with \
                     auditwheel, or enable linux tags)",
                    self.platform_tag
                ),
            ),
            Platform::Manylinux { glibc, .. } if glibc < MIN_GLIBC => (
                3,
                format!(
                    "{plat} is not a valid s390x tag: s390x manylinux starts at manylinux2014 \
                     (glibc 2.17)"
                ),
            ),
            Platform::Manylinux { glibc, .. } => (
                RANK_GLIBC,
                format!(
                    "needs glibc {}.{} ({plat}) but the target allows up to {}",
                    glibc.0,
                    glibc.1,
                    self.target_desc()
                ),
            ),
        })
    }

    /// Why the python/abi pair of `tag` does not fit the target interpreter, or `None` if it
    /// does (for the platform kind of `tag`).
    fn python_problem(&self, tag: &Tag) -> Option<String> {
        let (tmaj, tmin) = (u32::from(self.python.0), u32::from(self.python.1));
        let target = format!("CPython {}", self.python_str());
        let any = tag.platform == "any";
        let py = parse_py_tag(&tag.python);
        let version_str = |maj: u32, min: Option<u32>| match min {
            Some(m) => format!("{maj}.{m}"),
            None => maj.to_string(),
        };
        match py.interp {
            "cp" | "py" => {}
            "pp" => {
                return Some(format!(
                    "built for PyPy ({}) but the target is {target}",
                    tag.python
                ))
            }
            _ => {
                return Some(format!(
                    "built for the interpreter `{}` but the target is {target}",
                    tag.python
                ))
            }
        }
        let Some(major) = py.major else {
            return Some(format!(
                "python tag `{}` is not understood; the target is {target}",
                tag.python
            ));
        };
        if major != tmaj {
            return Some(format!(
                "Python {} wheel ({}) does not run on {target}",
                version_str(major, py.minor),
                tag.python
            ));
        }
        let abi = tag.abi.as_str();
        if py.interp == "cp" {
            let Some(minor) = py.minor else {
                return Some(format!(
                    "python tag `{}` has no minor version; the target is {target}",
                    tag.python
                ));
            };
            if abi == "abi3" {
                if minor > tmin {
                    return Some(format!(
                        "abi3 wheel for cp{major}{minor}+ does not run on {target}"
                    ));
                }
                if minor < 2 {
                    return Some(format!("abi3 does not exist for cp{major}{minor}"));
                }
                if any {
                    return Some(format!(
                        "abi3 wheel without a platform ({tag}) is not accepted by {target}"
                    ));
                }
                return None;
            }
            if minor != tmin {
                return Some(format!(
                    "built for {} but the target is {target}",
                    tag.python
                ));
            }
            if abi == "none" || (abi == self.abi_tag() && !any) {
                return None;
            }
            if abi == self.abi_tag() {
                return Some(format!(
                    "a compiled ABI ({abi}) with platform `any` is not valid"
                ));
            }
            return Some(format!(
                "ABI {abi} does not match the target's ABI {} (debug and free-threaded builds \
                 are not supported)",
                self.abi_tag()
            ));
        }
        // "py": generic Python versions.
        if let Some(minor) = py.minor {
            if minor > tmin {
                return Some(format!(
                    "needs Python {major}.{minor} or newer ({}) but the target is {target}",
                    tag.python
                ));
            }
        }
        if abi != "none" {
            return Some(format!(
                "ABI {abi} with a generic python tag ({}) is not supported by {target}",
                tag.python
            ));
        }
        None
    }

    /// The environment markers are evaluated in: CPython X.Y on Linux s390x
    /// (`python_full_version` = `X.Y.0`, `platform_release`/`platform_version` empty).
    #[must_use]
    pub fn marker_environment(&self) -> MarkerEnvironment {
        let python_version = self.python_str();
        let full = self.python_full_version().to_string();
        MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: &full,
            os_name: "posix",
            platform_machine: ARCH,
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: &full,
            python_version: &python_version,
            sys_platform: "linux",
        })
        .expect("X.Y and X.Y.0 are valid versions")
    }

    /// Evaluate `marker` for the target (never for the host), with the given extras active.
    #[must_use]
    pub fn evaluate_marker(&self, marker: &MarkerTree, extras: &[ExtraName]) -> bool {
        marker.evaluate(&self.marker_environment(), extras)
    }
}

impl fmt::Display for Target {
    /// `CPython 3.11 on manylinux2014_s390x` (`+ linux_s390x` when linux tags are accepted
    /// on a manylinux target).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CPython {} on {}", self.python_str(), self.platform_tag)?;
        if self.linux_tag && !self.is_linux_target() {
            write!(f, " + linux_{ARCH}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
