//! Build environments, runners, and the build → repair → verify pipeline.

pub mod accelerate;
pub mod build_record;
pub mod builder;
pub mod compile_jobs;
pub mod context;
pub mod cpython;
pub mod debian_tree;
pub mod emulation;
pub mod environment;
pub mod exec;
pub mod fixes;
pub mod hints;
pub mod host_memory;
pub mod host_tools;
pub mod layers;
pub mod lock;
pub mod naming;
pub mod native_frontend;
pub mod package_build;
pub mod packs;
pub mod pipeline;
pub mod plan_record;
pub mod provenance;
pub mod publish;
pub mod renamed_records;
pub mod reproducible;
pub mod rootfs;
pub mod runner;
pub mod rust_toolchain;
pub mod sbom;
pub mod schedule;
pub mod sha_records;
pub mod source_tree;
pub mod variants;
pub mod verify;
pub mod verify_reused;
pub mod wheel_inspect;
pub mod wheel_rewrite;
pub mod write_error;
pub mod zig;

pub use environment::{open_environment, EnvironmentChoice};
pub use pipeline::{check_output_writable, execute_plan, RunError, RunSettings};
pub use rootfs::{EnvStore, RootfsRecipe};
pub use schedule::Schedule;

use refinery_store::ManifestEntry;

/// What hints may do to a build environment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecipePolicy {
    /// Install the system packages that hints suggest, then retry once.
    pub allowed: bool,
    /// Only say what would be installed.
    pub dry_run: bool,
    /// `--no-system-recipes`: not even recipes given explicitly (overrides, a queued
    /// job's recipe) install system packages.
    pub forbidden: bool,
}

impl RecipePolicy {
    /// Whether system packages named explicitly (an override, a job's recipe) may be
    /// installed: yes unless recipes are forbidden or only tried dry.
    pub fn explicit_allowed(self) -> bool {
        !self.forbidden && !self.dry_run
    }
}

/// How libraries report progress; only the binary draws it.
pub trait Reporter: Send + Sync {
    /// A free-form progress line.
    fn message(&self, message: &str);
    /// Work on a package started.
    fn started(&self, _name: &str, _version: &str, _what: &str) {}
    /// A package reached its final status.
    fn finished(&self, _entry: &ManifestEntry) {}
}

/// Reports nothing.
pub struct SilentReporter;

impl Reporter for SilentReporter {
    fn message(&self, _message: &str) {}
}
