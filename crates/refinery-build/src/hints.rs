//! The hint catalog: patterns over build logs that name what is missing and which system
//! packages fix it, per distro family.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::runner::PackageFamily;

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
    /// PEP 508 constraints for the isolated build environment (pip's `PIP_CONSTRAINT`,
    /// uv's `--build-constraint`), e.g. an upper bound on a build dependency whose new
    /// major release broke an old `setup.py`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_constraints: Vec<String>,
    /// A toolchain the retry needs (one of [`TOOLCHAINS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toolchain: Option<String>,
    /// A native library pack (see [`crate::packs`]) that stands in for the system
    /// packages when the build targets an older glibc than the environment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// A build variant the retry should use (one of `variants::VARIANTS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// No variant or retry can change this failure (a big-endian assumption, a full disk,
    /// no network): the package ends after this attempt, without backoff.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_retry: bool,
    /// Packages whose builds take this entry's actions before their first attempt, without
    /// waiting for the pattern: builds that succeed without what the entry provides, only
    /// worse (numpy and scipy fall back to their own unoptimized LAPACK without a BLAS).
    /// PEP 508 requirements without extras, markers or URLs: a name takes every version,
    /// a name with version specifiers only those (`matplotlib>=3.11`: the releases whose
    /// build has the option); names compared normalized (PEP 503).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub up_front: Vec<String>,
}

/// Toolchains a hint may ask for.
/// - `rust-newest`: the newest Rust toolchain the refinery has for the target, for crates
///   whose MSRV or edition the default one does not meet.
pub const TOOLCHAINS: &[&str] = &["rust-newest"];

/// Variables a hint or recipe may never set: they would let a catalog entry or a queued
/// job run code of its choice or hide the build's own tools. The build's environment
/// also reaches the host's sandbox process (bubblewrap) before it enters the sandbox,
/// so glibc's own list of variables it ignores in privileged programs
/// (`sysdeps/generic/unsecvars.h`: loader, locale, resolver and allocator controls) is
/// here too, with every `LD_*` name ([`FORBIDDEN_ENV_PREFIXES`]).
pub const FORBIDDEN_ENV: &[&str] = &[
    "PATH",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "BASH_ENV",
    "ENV",
    "HOME",
    "GCONV_PATH",
    "GETCONF_DIR",
    "GLIBC_TUNABLES",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "MALLOC_TRACE",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TMPDIR",
    "TZDIR",
];

/// Prefixes of names a hint or recipe may never set: the dynamic loader's `LD_*`
/// (`LD_PRELOAD`, `LD_LIBRARY_PATH`, `LD_AUDIT`, `LD_DEBUG_OUTPUT`, ...).
pub const FORBIDDEN_ENV_PREFIXES: &[&str] = &["LD_"];

/// Whether `name` is a variable a hint or recipe may set: `[A-Za-z_][A-Za-z0-9_]*`,
/// not in [`FORBIDDEN_ENV`], not starting with one of [`FORBIDDEN_ENV_PREFIXES`].
pub fn is_allowed_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !FORBIDDEN_ENV.contains(&name)
        && !FORBIDDEN_ENV_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
}

/// A recipe's variables split into those a build may get and the names refused by
/// [`is_allowed_env_name`] (a job queued, or a fix learned, before a name was forbidden).
pub fn split_recipe_env(env: &[(String, String)]) -> (Vec<(String, String)>, Vec<String>) {
    let (allowed, refused): (Vec<_>, Vec<_>) = env
        .iter()
        .cloned()
        .partition(|(name, _)| is_allowed_env_name(name));
    (allowed, refused.into_iter().map(|(name, _)| name).collect())
}

/// One thing a hint asks the retry to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HintAction {
    /// System packages, installed into a layer of the environment.
    SystemPackages { packages: Vec<String> },
    /// An environment variable for the build.
    Env { name: String, value: String },
    /// A constraint for the isolated build environment.
    BuildConstraint { requirement: String },
    /// A toolchain (see [`TOOLCHAINS`]).
    Toolchain { toolchain: String },
    /// A native library pack (see [`crate::packs`]).
    Pack { pack: String },
    /// A build variant.
    Variant { variant: String },
}

/// The actions for these fixes, in a stable order: system packages (when there are
/// any), packs, environment variables, build constraints, toolchain, variant.
pub(crate) fn action_list(
    packages: &[String],
    packs: &[String],
    env: &BTreeMap<String, String>,
    build_constraints: &[String],
    toolchain: Option<&str>,
    variant: Option<&str>,
) -> Vec<HintAction> {
    let mut actions = Vec::new();
    if !packages.is_empty() {
        actions.push(HintAction::SystemPackages {
            packages: packages.to_vec(),
        });
    }
    actions.extend(
        packs
            .iter()
            .map(|pack| HintAction::Pack { pack: pack.clone() }),
    );
    actions.extend(env.iter().map(|(name, value)| HintAction::Env {
        name: name.clone(),
        value: value.clone(),
    }));
    actions.extend(
        build_constraints
            .iter()
            .map(|requirement| HintAction::BuildConstraint {
                requirement: requirement.clone(),
            }),
    );
    actions.extend(toolchain.map(|t| HintAction::Toolchain {
        toolchain: t.to_string(),
    }));
    actions.extend(variant.map(|v| HintAction::Variant {
        variant: v.to_string(),
    }));
    actions
}

impl std::fmt::Display for HintAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HintAction::SystemPackages { packages } => {
                write!(f, "system packages {}", packages.join(" "))
            }
            HintAction::Env { name, value } => write!(f, "env {name}={value}"),
            HintAction::BuildConstraint { requirement } => {
                write!(f, "build constraint {requirement}")
            }
            HintAction::Toolchain { toolchain } => write!(f, "toolchain {toolchain}"),
            HintAction::Pack { pack } => write!(f, "pack {pack}"),
            HintAction::Variant { variant } => write!(f, "variant {variant}"),
        }
    }
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

    /// Everything this hint asks for, system packages for `family` first (none when the
    /// environment cannot keep packages). With `prefer_packs` (the build targets an older
    /// glibc than the environment's), the hint's pack replaces its system packages.
    pub fn actions(&self, family: Option<PackageFamily>, prefer_packs: bool) -> Vec<HintAction> {
        let pack = self
            .pack
            .iter()
            .filter(|_| prefer_packs)
            .cloned()
            .collect::<Vec<_>>();
        let packages = match family {
            Some(f) if pack.is_empty() => self.packages(f),
            _ => &[][..],
        };
        action_list(
            packages,
            &pack,
            &self.env,
            &self.build_constraints,
            self.toolchain.as_deref(),
            self.variant.as_deref(),
        )
    }

    /// Why this entry cannot be used, if it cannot: a forbidden variable, a constraint
    /// that is not PEP 508, an unknown toolchain or variant, a package name with shell,
    /// an `up_front` entry that is not a name with optional version specifiers.
    fn check(&self) -> Result<(), String> {
        for entry in &self.up_front {
            UpFront::parse(entry)?;
        }
        if let Some(name) = self.env.keys().find(|k| !is_allowed_env_name(k)) {
            return Err(format!("may not set the environment variable {name:?}"));
        }
        for requirement in &self.build_constraints {
            refinery_pep::parse_requirement(requirement)
                .map_err(|e| format!("build constraint {requirement:?} {e}"))?;
        }
        if let Some(t) = self
            .toolchain
            .as_ref()
            .filter(|t| !TOOLCHAINS.contains(&t.as_str()))
        {
            return Err(format!(
                "asks for the unknown toolchain {t:?} (known: {})",
                TOOLCHAINS.join(", ")
            ));
        }
        if let Some(p) = self
            .pack
            .as_ref()
            .filter(|p| crate::packs::recipe(p).is_none())
        {
            return Err(format!(
                "asks for the unknown pack {p:?} (known: {})",
                crate::packs::names().join(", ")
            ));
        }
        let variants = crate::variants::VARIANTS;
        if let Some(v) = self
            .variant
            .as_ref()
            .filter(|v| !variants.contains(&v.as_str()))
        {
            return Err(format!(
                "asks for the unknown variant {v:?} (known: {})",
                variants.join(", ")
            ));
        }
        if let Some(p) = self
            .apt
            .iter()
            .chain(&self.dnf)
            .find(|p| !crate::layers::is_package_name(p))
        {
            return Err(format!("{p:?} is not a package name"));
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    hint: Vec<Hint>,
}

/// Why a hint catalog (`hints/catalog.toml` or `--hints-file`) was refused; each names the
/// file (`origin`) and, for a bad entry, its `id`.
#[derive(Debug, thiserror::Error)]
pub enum HintCatalogError {
    #[error("cannot read the hint catalog {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin} is not a valid hint catalog: {source}")]
    Toml {
        origin: String,
        #[source]
        source: toml::de::Error,
    },
    #[error("{origin}: hint {id:?} has a broken pattern: {source}")]
    Pattern {
        origin: String,
        id: String,
        #[source]
        source: regex::Error,
    },
    /// An entry that parses but asks for something not allowed (`problem` says what).
    #[error("{origin}: hint {id:?} {problem}")]
    Entry {
        origin: String,
        id: String,
        problem: String,
    },
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
    pub fn parse(text: &str, origin: &str) -> Result<Catalog, HintCatalogError> {
        let file: CatalogFile = toml::from_str(text).map_err(|source| HintCatalogError::Toml {
            origin: origin.to_string(),
            source,
        })?;
        let mut entries = Vec::new();
        for hint in file.hint {
            let regex =
                regex::Regex::new(&hint.pattern).map_err(|source| HintCatalogError::Pattern {
                    origin: origin.to_string(),
                    id: hint.id.clone(),
                    source,
                })?;
            hint.check().map_err(|problem| HintCatalogError::Entry {
                origin: origin.to_string(),
                id: hint.id.clone(),
                problem,
            })?;
            // Entries are found, replaced and recorded by id: a second one would be
            // shadowed without a word (as the first libpq entry shadowed the pack).
            if entries.iter().any(|(h, _): &(Hint, _)| h.id == hint.id) {
                return Err(HintCatalogError::Entry {
                    origin: origin.to_string(),
                    id: hint.id.clone(),
                    problem: "appears twice: give each entry its own id".into(),
                });
            }
            entries.push((hint, regex));
        }
        Ok(Catalog { entries })
    }

    /// Add (or replace, by id) the entries of another catalog file.
    pub fn extend_from_file(&mut self, path: &Path) -> Result<(), HintCatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| HintCatalogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let extra = Catalog::parse(&text, &path.display().to_string())?;
        for (hint, regex) in extra.entries {
            self.entries.retain(|(h, _)| h.id != hint.id);
            self.entries.push((hint, regex));
        }
        Ok(())
    }

    /// The compiled pattern of the entry `id`, if the catalog has it.
    pub fn pattern(&self, id: &str) -> Option<&regex::Regex> {
        self.entries
            .iter()
            .find(|(h, _)| h.id == id)
            .map(|(_, regex)| regex)
    }

    pub fn hints(&self) -> impl Iterator<Item = &Hint> {
        self.entries.iter().map(|(h, _)| h)
    }

    /// The entries whose actions a build of `package` at `version` takes before its first
    /// attempt: their `up_front` names it (PEP 503 normalized comparison) and its version
    /// specifiers, if any, contain `version` (an unknown version matches only entries
    /// without specifiers).
    pub fn up_front(&self, package: &str, version: Option<&refinery_pep::Version>) -> Vec<&Hint> {
        let Ok(package) = refinery_pep::PackageName::new(package.to_string()) else {
            return Vec::new();
        };
        self.entries
            .iter()
            .map(|(hint, _)| hint)
            .filter(|hint| {
                hint.up_front
                    .iter()
                    .any(|entry| UpFront::parse(entry).is_ok_and(|up| up.takes(&package, version)))
            })
            .collect()
    }

    /// The hints whose pattern occurs in `log`, in catalog order. Clang's (and so Zig's)
    /// missing-header errors are read as GCC's, which the patterns are written for.
    pub fn matches(&self, log: &str) -> Vec<&Hint> {
        let log = with_gcc_header_errors(log);
        self.entries
            .iter()
            .filter(|(_, regex)| regex.is_match(&log))
            .map(|(hint, _)| hint)
            .collect()
    }
}

/// `log` plus, for each clang line `x.c:1:10: fatal error: 'yaml.h' file not found`, the
/// GCC wording `x.c:1:10: fatal error: yaml.h: No such file or directory`.
fn with_gcc_header_errors(log: &str) -> std::borrow::Cow<'_, str> {
    static CLANG: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let clang = CLANG.get_or_init(|| {
        regex::Regex::new(r"(?m)^(.*error: )'([^']+)' file not found").expect("valid pattern")
    });
    if !clang.is_match(log) {
        return std::borrow::Cow::Borrowed(log);
    }
    let mut text = log.to_string();
    for c in clang.captures_iter(log) {
        text.push_str(&format!("\n{}{}: No such file or directory", &c[1], &c[2]));
    }
    std::borrow::Cow::Owned(text)
}

/// One `up_front` entry of a hint: a package name and the versions it applies to.
struct UpFront {
    name: refinery_pep::PackageName,
    /// Empty: every version.
    versions: refinery_pep::VersionSpecifiers,
}

impl UpFront {
    /// Parse `entry` as a PEP 508 requirement that has at most version specifiers.
    fn parse(entry: &str) -> Result<UpFront, String> {
        let requirement = refinery_pep::parse_requirement(entry)
            .map_err(|e| format!("up_front entry {entry:?} is no PEP 508 requirement: {e}"))?;
        let refuse = |what: &str| {
            format!("up_front entry {entry:?} {what}; give a name and at most version specifiers")
        };
        if !requirement.extras.is_empty() || !requirement.marker.is_true() {
            return Err(refuse("has extras or markers"));
        }
        let versions = match requirement.version_or_url {
            None => refinery_pep::VersionSpecifiers::empty(),
            Some(refinery_pep::VersionOrUrl::VersionSpecifier(specifiers)) => specifiers,
            Some(refinery_pep::VersionOrUrl::Url(_)) => return Err(refuse("names a URL")),
        };
        Ok(UpFront {
            name: requirement.name,
            versions,
        })
    }

    fn takes(
        &self,
        package: &refinery_pep::PackageName,
        version: Option<&refinery_pep::Version>,
    ) -> bool {
        self.name == *package
            && (self.versions.is_empty() || version.is_some_and(|v| self.versions.contains(v)))
    }
}

#[cfg(test)]
mod tests;
