//! Verification: a wheel is good for s390x when it works there, not only when it imports.
//!
//! In a clean venv inside the s390x environment, offline and under emulation, with the
//! wheel's runtime dependencies from the output folder installed (natively by the host's
//! uv where it can, see [`native`]):
//! 1. import the top-level modules and every compiled extension module by its dotted
//!    name from RECORD ([`extensions`]);
//! 2. `smoke` (the default level): run the snippets of the smoke-test catalog for the
//!    package and version ([`catalog`]), each with a time limit;
//! 3. `tests`: also run the package's own self-test from the catalog, or, when it knows
//!    none, the `tests/` folder of the sdist a wheel was built from with pytest
//!    ([`sdist_tests`]; pytest is installed into the venv from the configured index).
//!
//! The imports, smoke tests and the catalog's self-test share one interpreter process
//! (an emulated start costs about half a second), each check killed at its own limit and
//! reported on its own ([`checks`], [`run`]); a hang, a crash (a signal) and a failure
//! are told apart. Built wheels are verified by the
//! attempt (see [`crate::builder`]), reused ones with ELF files by [`crate::verify_reused`], and so are
//! wheels taken from the cache whose [`record`] does not cover the level asked for. Builds that
//! silently dropped their extension are caught by [`purity`]; compiled code tagged pure is
//! retagged as a platform wheel for repair by [`retag`].

pub mod catalog;
mod checks;
pub mod extensions;
pub mod native;
pub mod purity;
pub mod record;
pub mod retag;
pub mod run;
pub mod sandbox;
pub mod sdist_tests;

use std::sync::Arc;
use std::time::Duration;

pub use catalog::{SmokeCatalog, SmokeTest};
pub use native::NativeInstall;
pub use run::{verify_wheel, VerifyStopped, WheelUnderTest};
pub use sandbox::Sandbox;

/// How much verification does (`--verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum VerifyLevel {
    /// Install and import the top-level and extension modules.
    Import,
    /// Also run the catalog's smoke tests (the default).
    #[default]
    Smoke,
    /// Also run the package's own self-test: the catalog's, else the sdist's `tests/`
    /// folder with pytest (built wheels only).
    Tests,
}

impl VerifyLevel {
    pub fn as_str(&self) -> &'static str {
        match self {
            VerifyLevel::Import => "import",
            VerifyLevel::Smoke => "smoke",
            VerifyLevel::Tests => "tests",
        }
    }
}

impl std::str::FromStr for VerifyLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "import" => Ok(VerifyLevel::Import),
            "smoke" => Ok(VerifyLevel::Smoke),
            "tests" => Ok(VerifyLevel::Tests),
            other => Err(format!(
                "unknown verification level {other:?}: use import, smoke or tests"
            )),
        }
    }
}

impl std::fmt::Display for VerifyLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The default limit of each verification process (install, imports, each snippet, the
/// self-test), in seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 600;

/// What verification does in a run.
#[derive(Debug, Clone)]
pub struct VerifySettings {
    pub level: VerifyLevel,
    /// Limit of each verification process; a catalog entry's `timeout_secs` overrides it
    /// for its snippets (`--verify-timeout`).
    pub timeout: Duration,
    /// Verify reused wheels that carry ELF files too (`--verify-reused`).
    pub reused: bool,
    /// Install into the verify venv with the host's uv where there is one (`--verify-install
    /// native`, the default) instead of the environment's pip under emulation (`emulated`).
    pub native_install: bool,
    pub catalog: Arc<SmokeCatalog>,
}

impl Default for VerifySettings {
    fn default() -> Self {
        VerifySettings {
            level: VerifyLevel::default(),
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            reused: true,
            native_install: true,
            catalog: Arc::new(SmokeCatalog::builtin()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order() {
        for level in [VerifyLevel::Import, VerifyLevel::Smoke, VerifyLevel::Tests] {
            assert_eq!(level.as_str().parse::<VerifyLevel>().unwrap(), level);
        }
        assert!(VerifyLevel::Import < VerifyLevel::Smoke);
        assert!(VerifyLevel::Smoke < VerifyLevel::Tests);
        let err = "all".parse::<VerifyLevel>().unwrap_err();
        assert!(err.contains("\"all\"") && err.contains("import, smoke or tests"));
    }
}
