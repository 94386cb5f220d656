//! What the steps of a run share: the run's settings, the context every build borrows
//! (with the [`Recorder`] it reports to), and the small steps that both the run
//! ([`crate::pipeline`]) and a package's build ([`crate::package_build`]) take: artifact
//! keys, reusing a wheel, copying files into place, backoff.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use refinery_index::{DistFile, IndexClient};
use refinery_pep::Target;
use refinery_plan::{Plan, PlanNode, Source, SourceKind};
use refinery_store::{
    sha256_file, Attempt, Cas, Event, ManifestEntry, PackageRecord, Recorder, Status,
};

use crate::builder::AttemptSettings;
use crate::environment::{EnvironmentChoice, EnvironmentError, OpenedEnvironment};
use crate::hints::Catalog;
use crate::packs::PackStore;
use crate::rust_toolchain::RustStore;
use crate::schedule::Schedule;
use crate::zig::ZigToolchain;
use crate::{RecipePolicy, Reporter};

/// Everything a run needs besides the plan.
#[derive(Debug, Clone)]
pub struct RunSettings {
    pub output: PathBuf,
    pub cache: PathBuf,
    pub manifest_path: PathBuf,
    pub history_db: PathBuf,
    pub target: Target,
    pub environment: EnvironmentChoice,
    pub attempt_timeout: Option<Duration>,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// pip settings for builds (index URLs, may hold credentials).
    pub pip_env: Vec<(String, String)>,
    pub auditwheel: String,
    /// `auditwheel repair --strip`: the debug information leaves the built wheel's ELF
    /// files and the libraries grafted into it, their symbol tables stay (see
    /// `builder::strip`; setuptools compiles with the interpreter's `-g`: grpcio 1.85.3's
    /// `cygrpc` is 268 MB with it, 22.5 MB without). `false` (`--no-strip`) keeps it.
    pub strip: bool,
    pub run_id: String,
    /// Also write a PEP 503 `simple/` index into the output.
    pub simple_index: bool,
    /// Builds run at once.
    pub jobs: usize,
    /// Memory one compiler is assumed to take, in bytes: with `jobs` and the host's cores
    /// and free memory it sets how many compilers each build runs at once (see
    /// [`crate::compile_jobs`]; default [`crate::compile_jobs::DEFAULT_COMPILER_MEMORY`]).
    pub compiler_memory: u64,
    /// Whether hints may install system packages.
    pub recipes: RecipePolicy,
    pub catalog: Catalog,
    /// Plans a build dependency on demand (dependency expansion while building).
    pub expander: Option<Expander>,
    pub schedule: Schedule,
    /// Set from another thread to stop the run: the running step's processes are
    /// killed and nothing more starts (a cancelled job, a lost lease).
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// What verification does, for built and reused wheels (see [`crate::verify`]).
    pub verify: crate::verify::VerifySettings,
    /// `--fallback-latest`: a reused wheel that verifies broken gives way to the nearest
    /// newer version whose wheel for the target passes (see [`crate::verify_reused`]).
    pub fallback_latest: bool,
    /// `--build-frontend`: who runs the PEP 517 hooks (see [`crate::native_frontend`]).
    pub build_frontend: crate::native_frontend::FrontendMode,
    /// Where a missing native library pack is asked for before it is built (a remote
    /// worker's control plane); `None`: packs are built here.
    pub pack_mirror: Option<PackMirrorHandle>,
}

/// A [`crate::packs::PackMirror`] shared by the run's builds.
#[derive(Clone)]
pub struct PackMirrorHandle(pub std::sync::Arc<dyn crate::packs::PackMirror>);

impl std::fmt::Debug for PackMirrorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PackMirror")
    }
}

/// Why one requirement could not be planned: the planner's own error (a
/// `refinery_plan::PlanError`, an index or IO error), boxed, as the binary and the server
/// plan with their own settings.
pub type PlanRequirementError = Box<dyn std::error::Error + Send + Sync>;

/// A function that plans one requirement for the run's target.
pub type PlanRequirement = dyn Fn(&str) -> Result<Plan, PlanRequirementError> + Send + Sync;

/// Makes a plan for one requirement, for the target of the run.
#[derive(Clone)]
pub struct Expander(pub std::sync::Arc<PlanRequirement>);

impl std::fmt::Debug for Expander {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Expander")
    }
}

/// What every build needs, borrowed for the run.
pub(crate) struct BuildContext<'a> {
    pub environment: Result<&'a OpenedEnvironment, &'a EnvironmentError>,
    pub attempt_settings: &'a AttemptSettings,
    pub settings: &'a RunSettings,
    pub sdist_dir: &'a Path,
    pub logs_dir: &'a Path,
    pub client: &'a IndexClient,
    pub cas: &'a Cas,
    pub reporter: &'a dyn Reporter,
    /// Where events, attempts, build log files and final statuses go.
    pub recorder: &'a dyn Recorder,
    /// The plan the run carries out.
    pub plan_id: &'a str,
    pub catalog: &'a Catalog,
    /// Entries of packages built or reused on demand, for the manifest.
    pub extra_entries: Mutex<Vec<ManifestEntry>>,
}

impl BuildContext<'_> {
    /// The glibc-targeted compiler, when the environment has one.
    pub fn zig(&self) -> Option<&ZigToolchain> {
        self.environment.ok().and_then(|e| e.zig.as_ref())
    }

    /// Where native Rust toolchains come from, when the environment can bind one in.
    pub fn rust_store(&self) -> Option<&RustStore> {
        self.environment.ok().and_then(|e| e.rust.as_ref())
    }

    /// Where native library packs are kept, when the environment builds with the
    /// glibc-targeted compiler.
    pub fn pack_store(&self) -> Option<&PackStore> {
        self.environment.ok().and_then(|e| e.packs.as_ref())
    }

    /// Reports that a package reached its final status: to the reporter, and to the
    /// recorder with the time its work started (`started_ms`, Unix milliseconds).
    pub fn finished(&self, entry: &ManifestEntry, started_ms: i64) {
        self.reporter.finished(entry);
        record_package(
            self.recorder,
            self.reporter,
            self.settings,
            self.plan_id,
            entry,
            started_ms,
        );
    }

    /// Records an event of the run; a failure is a warning (the build goes on).
    pub fn record_event(&self, event: Event) {
        let event = event.with_run(&self.settings.run_id);
        if let Err(e) = self.recorder.event(&event) {
            self.reporter.message(&format!(
                "warning: cannot record an event in the history: {e}"
            ));
        }
    }

    /// Records a build attempt; a failure is a warning (the build goes on).
    pub fn record_attempt(&self, attempt: &Attempt) {
        if let Err(e) = self.recorder.attempt(attempt) {
            self.reporter.message(&format!(
                "warning: cannot record an attempt in the history: {e}"
            ));
        }
    }
}

/// Records that `entry` reached its final status in the run of `plan_id`; a failure is a
/// warning (the run goes on).
pub(crate) fn record_package(
    recorder: &dyn Recorder,
    reporter: &dyn Reporter,
    settings: &RunSettings,
    plan_id: &str,
    entry: &ManifestEntry,
    started_ms: i64,
) {
    let python = settings.target.python_str();
    let record = PackageRecord {
        entry,
        python: &python,
        platform_tag: settings.target.platform_tag(),
        plan_id,
        run_id: &settings.run_id,
        started_ms,
        finished_ms: refinery_store::queue::now_ms(),
    };
    if let Err(e) = recorder.package(&record) {
        reporter.message(&format!(
            "warning: cannot record {} {} for the dashboard: {e}",
            entry.name,
            entry.version_str()
        ));
    }
}

/// What identifies a built wheel: package, version, interpreter, platform tag, the
/// exact sdist it came from and whether repair removed its debug information.
pub(crate) fn artifact_key(node: &PlanNode, target: &Target, strip: bool) -> String {
    let source = node
        .source
        .as_ref()
        .map(|s| s.sha256.clone().unwrap_or_else(|| s.filename.clone()))
        .unwrap_or_default();
    // Wheels built before stripping came in kept their debug information: no mark.
    let stripped = if strip { "|stripped" } else { "" };
    format!(
        "{}=={}|{}|{}|{}{stripped}",
        node.name,
        node.version_str(),
        target.cpython_tag(),
        target.platform_tag(),
        source
    )
}

/// Copy a reused wheel into the output unchanged (never renamed).
pub(crate) fn reuse(
    node: &PlanNode,
    settings: &RunSettings,
    client: &IndexClient,
) -> ManifestEntry {
    let mut entry = ManifestEntry::new(node.name.clone(), node.version.clone(), Status::Reused);
    entry.metadata.python = Some(settings.target.python_str());
    entry.metadata.platform_tag = Some(settings.target.platform_tag().to_string());
    let Some(source) = &node.source else {
        entry.status = Status::Missing;
        entry.detail = "the plan gives no source for this wheel".into();
        return entry;
    };
    entry.metadata.source = Some(
        source
            .url
            .clone()
            .or(source.path.clone())
            .unwrap_or_default(),
    );
    let result = match source.kind {
        SourceKind::InputWheel => copy_into(
            Path::new(source.path.as_deref().unwrap_or_default()),
            &settings.output,
        ),
        _ => client
            .download(&dist_file(source), &settings.output)
            .map_err(|e| e.to_string()),
    };
    match result.and_then(|path| {
        sha256_file(&path)
            .map(|sha| (path, sha))
            .map_err(|e| e.to_string())
    }) {
        Ok((path, sha)) => {
            entry.path = Some(file_name(&path));
            entry.sha256 = Some(sha);
            entry.detail = node.reason.clone();
        }
        Err(message) => {
            entry.status = Status::Missing;
            entry.detail = format!("cannot fetch {}: {message}", source.filename);
        }
    }
    entry
}

pub(crate) fn dist_file(source: &Source) -> DistFile {
    DistFile {
        filename: source.filename.clone(),
        url: source.url.clone().unwrap_or_default(),
        sha256: source.sha256.clone(),
        requires_python: None,
        yanked: false,
        has_metadata: false,
        index: String::new(),
    }
}

/// Exponential backoff: base * 2^(n-1), capped.
pub fn backoff(base: Duration, max: Duration, retry: u32) -> Duration {
    let factor = 2u32.saturating_pow(retry.saturating_sub(1));
    base.saturating_mul(factor).min(max)
}

fn copy_into(src: &Path, dir: &Path) -> Result<PathBuf, String> {
    let dest = dir.join(src.file_name().ok_or("no file name")?);
    refinery_store::copy_atomic(src, &dest)
        .map_err(|e| format!("cannot copy {} to {}: {e}", src.display(), dest.display()))?;
    Ok(dest)
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(10);
        assert_eq!(backoff(base, max, 1), Duration::from_secs(2));
        assert_eq!(backoff(base, max, 2), Duration::from_secs(4));
        assert_eq!(backoff(base, max, 3), Duration::from_secs(8));
        assert_eq!(backoff(base, max, 4), Duration::from_secs(10));
        assert_eq!(backoff(base, max, 40), Duration::from_secs(10));
    }

    #[test]
    fn a_stripped_wheel_and_one_with_debug_information_have_different_keys() {
        let node = PlanNode {
            id: "fastadd==1.0".into(),
            name: "fastadd".parse().unwrap(),
            version: Some("1.0".parse().unwrap()),
            action: refinery_plan::Action::Build,
            reason: String::new(),
            source: Some(Source {
                kind: SourceKind::IndexSdist,
                filename: "fastadd-1.0.tar.gz".into(),
                url: Some("https://example.org/fastadd-1.0.tar.gz".into()),
                path: None,
                sha256: Some("ab".repeat(32)),
                checked_hash: None,
            }),
            steps: Vec::new(),
            build_requires: Vec::new(),
            direct: true,
            overrides: None,
        };
        let target = Target::new("3.11", "manylinux2014_s390x").unwrap();
        let kept = artifact_key(&node, &target, false);
        // The key of the wheels built before stripping came in: they kept everything.
        assert_eq!(
            kept,
            format!("fastadd==1.0|cp311|manylinux2014_s390x|{}", "ab".repeat(32))
        );
        assert_eq!(
            artifact_key(&node, &target, true),
            format!("{kept}|stripped")
        );
    }
}
