//! Scan inputs, resolve for the target, and plan the builds.

pub mod build_requires;
pub mod foreign_elf;
pub mod hashes;
pub mod listings;
pub mod overrides;
pub mod plan;
pub mod resolve;
pub mod scan;
pub mod sdist_files;
pub use refinery_index::zip_members;

pub use overrides::{parse_overrides, Overrides, OverridesError, PackageOverride};
pub use plan::{
    make_plan, newer_target_wheels, summary, Action, EdgeKind, PipOptions, Plan, PlanEdge,
    PlanError, PlanNode, PlanOptions, Source, SourceKind, Strategy, DEFAULT_MAX_DEPS,
};
pub use resolve::{ResolveError, UV_VERSION};
pub use scan::{scan_dir, scan_file, Decision, FileKind, ScanError, ScannedFile};
