//! The command line: the default pipeline and the subcommands.

use std::path::PathBuf;

use clap::{ArgMatches, Args, Parser, Subcommand, ValueEnum};
use refinery_pep::{BinaryOption, PackageName};

#[derive(Debug, Parser)]
#[command(
    name = "refinery",
    version,
    about = "Rebuild Python wheels for IBM Z (s390x Linux): reuse what works, build the rest from sdists, repair to manylinux, verify imports, publish.",
    args_conflicts_with_subcommands = true,
    after_help = crate::env_vars::help_footer()
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The default pipeline (same as `refinery run`).
    #[command(flatten)]
    pub run: RunArgs,
    /// More log output (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No progress display.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum Command {
    /// Scan, plan, build, repair, verify and publish (the default).
    Run(RunArgs),
    /// Classify the wheels of an input folder: reuse, rebuild or invalid.
    Scan(ScanArgs),
    /// Resolve the inputs for the target and write the build plan.
    Plan(PlanArgs),
    /// Manage s390x build environments.
    #[command(subcommand)]
    Env(EnvCommand),
    /// Show the build history.
    History(HistoryArgs),
    /// Serve the JSON API, live logs, metrics and the /simple index (the control plane).
    Serve(ServeArgs),
    /// Run a build worker: claim jobs from the queue, build them, stream their logs.
    Worker(WorkerArgs),
    /// Print the build queue's length (and, with --list, its jobs).
    Queue(QueueArgs),
    /// Write the /simple index of the built wheels as static files.
    Index(IndexCmdArgs),
}

impl Cli {
    /// Record the order of `--no-binary` and `--only-binary` (pip applies them in order,
    /// and `:all:` in one clears the other), which the derived fields do not keep.
    pub fn order_binary_options(&mut self, matches: &ArgMatches) {
        let (args, matches): (&mut PlanArgs, Option<&ArgMatches>) = match &mut self.command {
            None => (&mut self.run.plan, Some(matches)),
            Some(Command::Run(run)) => (&mut run.plan, matches.subcommand_matches("run")),
            Some(Command::Plan(plan)) => (plan, matches.subcommand_matches("plan")),
            _ => return,
        };
        let Some(matches) = matches else { return };
        let mut ordered: Vec<(usize, BinaryOption, String)> = Vec::new();
        for (id, option) in [
            ("no_binary", BinaryOption::NoBinary),
            ("only_binary", BinaryOption::OnlyBinary),
        ] {
            if let (Some(indices), Some(values)) =
                (matches.indices_of(id), matches.get_many::<String>(id))
            {
                ordered.extend(indices.zip(values).map(|(i, v)| (i, option, v.clone())));
            }
        }
        ordered.sort_by_key(|(i, ..)| *i);
        args.binary_order = ordered.into_iter().map(|(_, o, v)| (o, v)).collect();
    }
}

/// Where the control plane keeps its state.
#[derive(Debug, Args, Clone, Default)]
pub struct StoreArgs {
    /// Folder for caches, logs, the history and (by default) the queue database.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Queue database: postgres://USER:PASS@HOST/DB for scale-out (default: SQLite
    /// <cache>/queue.db). [env: DATABASE_URL]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// The SQLite queue file (default <cache>/queue.db); short for --database-url sqlite:FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "database_url")]
    pub queue_path: Option<PathBuf>,
    /// History database: a file (default <cache>/history.db) or a postgres:// URL. [env: HISTORY_DB]
    #[arg(long, value_name = "FILE")]
    pub history_db: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Token that every read needs too (WORKER_TOKEN guards the writes). Shows in `ps`:
    /// prefer READ_TOKEN or --read-token-file. [env: READ_TOKEN]
    #[arg(long, value_name = "TOKEN")]
    pub read_token: Option<String>,
    /// File whose first line is the read token. [env: READ_TOKEN_FILE]
    #[arg(long, value_name = "FILE", conflicts_with = "read_token")]
    pub read_token_file: Option<PathBuf>,
    /// File whose first line is the worker token (instead of WORKER_TOKEN).
    /// [env: WORKER_TOKEN_FILE]
    #[arg(long, value_name = "FILE")]
    pub worker_token_file: Option<PathBuf>,
    /// Let a dashboard served from ORIGIN (https://host[:port]) call the API from the
    /// browser, with the token cookie; repeat for more. [env: CORS_ORIGINS, comma-separated]
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Answer to this host name too (NAME or NAME:PORT), e.g. the name behind a reverse
    /// proxy; besides localhost, the loopback and bound addresses (and a non-IP --host),
    /// other Host headers are refused (DNS rebinding); repeat for more.
    /// [env: REFINERY_ALLOWED_HOSTS, comma-separated]
    #[arg(long = "allowed-host", value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub index: IndexArgs,
    /// Let uploaded requirements files name other indexes (-i, --extra-index-url, -f).
    #[arg(long)]
    pub allow_index_options: bool,
    /// Largest wheel upload, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    pub max_upload_mib: usize,
    /// How often a job may lose its lease before it fails.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_restarts: i64,
    /// Extra hint catalog (TOML) on top of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub hints_file: Option<PathBuf>,
    /// Let POST /api/worker/trigger and WORKER_AUTORUN_INTERVAL build in this process.
    #[arg(long)]
    pub local_worker: bool,
    /// On SIGTERM / Ctrl-C, seconds open requests get to finish before their connections
    /// are dropped (live-log streams end at once).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub shutdown_grace: f64,
    /// Seconds a client has to send a request head (also the keep-alive wait).
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    pub header_read_timeout: f64,
    /// Seconds a connection may move no byte before it is closed.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub idle_timeout: f64,
    /// Most connections open at once; at the cap a new one pushes out the oldest idle one.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_connections: usize,
    /// Most requirements one uploaded requirements file may hold.
    #[arg(long, value_name = "N", default_value_t = 5000)]
    pub max_requirements: usize,
    /// Most inputs waiting for the planner; beyond it uploads that would plan answer 503.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub max_queued_plans: usize,
    /// Seconds one plan may take before its input fails (and says so).
    #[arg(long, value_name = "SECS", default_value_t = 300.0)]
    pub plan_timeout: f64,
    /// Most uploads (wheels, requirements files, workers' wheels) streaming at once.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_concurrent_uploads: usize,
    /// KiB per second an upload must average after its first 30 s (slower: 408).
    #[arg(long, value_name = "KIB", default_value_t = 64)]
    pub min_upload_kib_per_sec: usize,
}

#[derive(Debug, Args, Clone)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// A remote control plane to take jobs from (instead of the database). [env: REFINERY_SERVER]
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// This worker's name (default HOST-PID).
    #[arg(long, value_name = "ID")]
    pub worker_id: Option<String>,
    /// Seconds a claim holds a job without a heartbeat.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub lease_secs: u64,
    /// Seconds between heartbeats.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub heartbeat_secs: u64,
    /// Seconds between polls of an empty queue.
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    pub poll_secs: f64,
    /// Keep polling when the queue is empty (also AUTO_BUILD=true); default: drain and exit.
    #[arg(long)]
    pub watch: bool,
    /// Stop after this many jobs.
    #[arg(long, value_name = "N")]
    pub max_jobs: Option<usize>,
    #[command(flatten)]
    pub index: IndexArgs,
    /// Attempts per job.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub max_attempts: u32,
    /// Seconds before an attempt is killed.
    #[arg(long, value_name = "SECS", default_value_t = 3600)]
    pub attempt_timeout: u64,
    #[command(flatten)]
    pub environment: EnvironmentArgs,
    /// Extra hint catalog (TOML) on top of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub hints_file: Option<PathBuf>,
    #[command(flatten)]
    pub verification: VerifyArgs,
}

/// Where builds run: the s390x rootfs (default), a container image, or the host.
#[derive(Debug, Args, Clone, Default)]
pub struct EnvironmentArgs {
    /// Build in this container image (podman/docker) instead of the s390x rootfs.
    #[arg(long, value_name = "IMAGE")]
    pub container_image: Option<String>,
    /// Build in a preset container image.
    #[arg(long, value_enum)]
    pub container_preset: Option<ContainerPreset>,
    /// Container engine: podman or docker.
    #[arg(long, value_name = "ENGINE")]
    pub container_engine: Option<String>,
    /// CPU limit of build containers, e.g. 2.
    #[arg(long, value_name = "CPUS")]
    pub container_cpu: Option<String>,
    /// Memory limit of build containers, e.g. 4g.
    #[arg(long, value_name = "SIZE")]
    pub container_memory: Option<String>,
    /// Build directly on the host (only on an s390x host).
    #[arg(long)]
    pub host_build: bool,
    /// Run the compilers natively with the host's s390x cross toolchain (and the host's uv
    /// as the build frontend) while Python stays emulated, in the rootfs or a container:
    /// auto (where the toolchain matches the environment's GCC), cross (always), off.
    /// [default: auto]
    #[arg(long, value_enum, value_name = "MODE")]
    pub accelerate: Option<Accelerate>,
    /// Who runs the PEP 517 build hooks: native (a host CPython of the target's X.Y with
    /// the environment's sysconfig, in the same sandbox and with the same cross
    /// compilers; a failure fails the attempt), emulated (the environment's Python), or
    /// auto (native where the host has that CPython and the package has not failed that
    /// way before; a failed or wrong native build falls back to emulated in the same
    /// attempt and the history remembers). Needs accelerated builds. [default: auto]
    #[arg(long, value_enum, value_name = "FRONTEND")]
    pub build_frontend: Option<BuildFrontend>,
    /// Memory one compiler process may take, in GiB (e.g. 2 or 1.5). Each build runs
    /// max(1, min(cores / builds at once, MemAvailable / (this × builds at once)))
    /// compilers at once, through MAKEFLAGS, CMAKE_BUILD_PARALLEL_LEVEL, CARGO_BUILD_JOBS,
    /// NPY_NUM_BUILD_JOBS, MAX_JOBS, GRPC_PYTHON_BUILD_EXT_COMPILER_JOBS and meson-python's
    /// compile-args, unless the build's own settings set them; the default --jobs is
    /// capped by it too. [env: COMPILER_MEMORY]
    /// [default: 2]
    #[arg(long, value_name = "GIB")]
    pub compiler_memory: Option<f64>,
    /// Keep the debug information in the built wheels' ELF files. By default auditwheel
    /// repair --strip removes it from the extensions and the libraries it grafts (strip
    /// --strip-debug with the s390x binutils; symbol tables stay): setuptools compiles
    /// with the interpreter's -g, which makes grpcio's extension 268 MB instead of 22 MB.
    /// A host without a strip for s390x files fails such builds, naming the package to
    /// install. [env: REFINERY_STRIP=false]
    #[arg(long)]
    pub no_strip: bool,
}

/// `--build-frontend`.
#[derive(Debug, Copy, Clone, PartialEq, Eq, ValueEnum)]
pub enum BuildFrontend {
    Auto,
    Native,
    Emulated,
}

#[derive(Debug, Args, Clone)]
pub struct QueueArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Ask a running control plane instead of the database. [env: REFINERY_SERVER]
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Also list the jobs (newest first).
    #[arg(long)]
    pub list: bool,
    /// The counts, the workers (and the jobs with --list) as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct IndexCmdArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Folder to write simple/ and files/ into.
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
}

/// Which Python and platform the wheels are for.
#[derive(Debug, Args, Clone, Default)]
pub struct TargetArgs {
    /// Target CPython version, e.g. 3.11.
    #[arg(long, value_name = "X.Y")]
    pub python: Option<String>,
    /// Platform tag the wheels must carry, e.g. manylinux2014_s390x or manylinux_2_28_s390x.
    #[arg(long, value_name = "TAG")]
    pub platform_tag: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct ScanArgs {
    /// Folder of wheels (any platform) and sdists.
    #[arg(long, value_name = "DIR")]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Also accept plain linux_s390x wheels as reusable.
    #[arg(long)]
    pub accept_linux_tag: bool,
    /// One JSON object per file instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Configuration file (TOML or JSON) with defaults for these flags.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Copy, Clone, PartialEq, Eq, ValueEnum)]
pub enum UpgradeStrategy {
    Pinned,
    Eager,
}

#[derive(Debug, Copy, Clone, PartialEq, Eq, ValueEnum)]
pub enum Schedule {
    ShortestFirst,
    Fifo,
}

#[derive(Debug, Copy, Clone, PartialEq, Eq, ValueEnum)]
pub enum ContainerPreset {
    Rocky,
    Fedora,
    Ubuntu,
}

/// Index and resolution settings shared by `plan` and `run`.
#[derive(Debug, Args, Clone, Default)]
pub struct IndexArgs {
    /// Package index (PEP 503/691 simple API). [env: INDEX_URL]
    #[arg(long, value_name = "URL")]
    pub index_url: Option<String>,
    /// Further indexes (repeatable). [env: EXTRA_INDEX_URL, space separated]
    #[arg(long, value_name = "URL")]
    pub extra_index_url: Vec<String>,
    /// Local folders with wheels and sdists to use as well (repeatable).
    #[arg(long, value_name = "DIR")]
    pub find_links: Vec<String>,
    /// Hosts to reach over plain HTTP or without certificate checks (repeatable).
    #[arg(long, value_name = "HOST")]
    pub trusted_host: Vec<String>,
    /// Use only what is in the cache; no network.
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct PlanArgs {
    /// Folder with a requirements.txt and/or wheels and sdists.
    #[arg(long, value_name = "DIR")]
    pub input: Option<PathBuf>,
    /// Folder for caches, logs, plans and the history database.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub index: IndexArgs,
    /// pinned keeps the versions of input wheels; eager lets them move to the newest allowed.
    #[arg(long, value_enum)]
    pub upgrade_strategy: Option<UpgradeStrategy>,
    /// When a pinned version has no sdist and no s390x wheel, move to the newest that does;
    /// and when a reused wheel verifies broken on s390x, use the nearest newer version
    /// whose s390x wheel passes (at most 5 tried; see --verify-reused).
    #[arg(long)]
    pub fallback_latest: bool,
    /// Leave out package versions whose last build failed (from the history).
    #[arg(long)]
    pub skip_known_failures: bool,
    /// Allow pre-releases.
    #[arg(long)]
    pub pre: bool,
    /// pip's hash-checking mode: every package taken (reused wheel or sdist to build,
    /// dependencies included) needs a --hash in the requirements file, and must match it.
    /// On anyway when any requirement has a --hash (as in pip).
    #[arg(long)]
    pub require_hashes: bool,
    /// Do not use wheels for these packages: build them from their sdists, even when the
    /// index or the input has a wheel for the target (pip's syntax: names, :all: or
    /// :none:, comma-separated; repeatable).
    #[arg(long, value_name = "NAMES")]
    pub no_binary: Vec<String>,
    /// Do not build these packages from source: only wheels for the target (pip's
    /// syntax, as --no-binary).
    #[arg(long, value_name = "NAMES")]
    pub only_binary: Vec<String>,
    /// --no-binary and --only-binary in command-line order (set from the parsed matches).
    #[arg(skip)]
    pub binary_order: Vec<(refinery_pep::BinaryOption, String)>,
    /// History database: a file (default <cache>/history.db) or a postgres:// URL. [env: HISTORY_DB]
    #[arg(long, value_name = "FILE")]
    pub history_db: Option<PathBuf>,
    /// Configuration file (TOML or JSON) with defaults for these flags.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print the plan as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Where the wheels, manifest.json and the simple index go.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Manifest file (default <output>/manifest.json).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Also write a static PEP 503 index to <output>/simple.
    #[arg(long)]
    pub simple_index: bool,
    /// Let hints install system packages into the build environment.
    #[arg(long, overrides_with = "no_system_recipes")]
    pub allow_system_recipes: bool,
    /// Never install system packages, even when hints suggest them.
    #[arg(long)]
    pub no_system_recipes: bool,
    /// Print what system recipes would do without doing it.
    #[arg(long)]
    pub dry_run_recipes: bool,
    /// Apply the packages that hints suggest and retry once.
    #[arg(long)]
    pub auto_apply_suggestions: bool,
    /// Extra hint catalog (TOML) on top of the built-in one.
    #[arg(long, value_name = "FILE")]
    pub hints_file: Option<PathBuf>,
    /// Attempts per package.
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
    /// Seconds before an attempt is killed.
    #[arg(long, value_name = "SECS")]
    pub attempt_timeout: Option<u64>,
    /// Seconds to wait before the second attempt; doubles each time.
    #[arg(long, value_name = "SECS")]
    pub attempt_backoff_base: Option<f64>,
    /// Longest wait between attempts, in seconds.
    #[arg(long, value_name = "SECS")]
    pub attempt_backoff_max: Option<f64>,
    /// Packages built at once. [default: the number of CPU cores when the build frontend
    /// and the verify install may run natively (`--build-frontend` auto or native and
    /// `--verify-install native`, the defaults): then the emulated share of a build is
    /// small; else 1]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Order of ready builds: shortest-first (from past durations) or fifo (plan order).
    #[arg(long, value_enum)]
    pub schedule: Option<Schedule>,
    #[command(flatten)]
    pub environment: EnvironmentArgs,
    #[command(flatten)]
    pub verification: VerifyArgs,
}

/// What verification does (the main job and workers).
#[derive(Debug, Args, Clone, Default)]
pub struct VerifyArgs {
    /// What verification proves on s390x, under emulation: import (install, import the
    /// top-level modules and every compiled extension module), smoke (also run the
    /// smoke-test catalog's snippets for the package) or tests (also run the package's own
    /// self-test, else its sdist's tests/ folder with pytest). A wheel taken from the
    /// cache is verified again when its record (<cache>/verifications/v1) is of a weaker
    /// level or missing. [default: smoke]
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub verify: Option<VerifyLevel>,
    /// Seconds each verification process may run (install, imports, each smoke snippet,
    /// the self-test) before it is killed and reported `timed_out`. [default: 600]
    #[arg(long, value_name = "SECS")]
    pub verify_timeout: Option<u64>,
    /// Verify reused wheels that carry ELF files too; one that fails ends `broken`.
    /// [default: true]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub verify_reused: Option<bool>,
    /// Who installs the wheel and its runtime dependencies into the verify venv: native
    /// (the host's uv, for the target's platform and Python; the environment's pip when
    /// the host has no uv or uv fails) or emulated (the environment's pip).
    /// [default: native]
    #[arg(long, value_enum, value_name = "HOW")]
    pub verify_install: Option<VerifyInstall>,
    /// Extra smoke-test catalog (TOML) on top of the built-in verify/catalog.toml
    /// (entries with the same id replace the built-in ones).
    #[arg(long, value_name = "FILE")]
    pub smoke_tests: Option<PathBuf>,
}

/// `--verify-install`: who installs into the verify venv.
#[derive(Debug, Copy, Clone, PartialEq, Eq, ValueEnum)]
pub enum VerifyInstall {
    Native,
    Emulated,
}

/// `--verify`: how much verification does.
#[derive(Debug, Copy, Clone, PartialEq, Eq, ValueEnum)]
pub enum VerifyLevel {
    Import,
    Smoke,
    Tests,
}

#[derive(Debug, Copy, Clone, PartialEq, Eq, ValueEnum)]
pub enum Accelerate {
    Auto,
    Cross,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Create the s390x environment for a Python version (about 5 minutes, once).
    Create(EnvArgs),
    /// List the environments.
    List(EnvListArgs),
    /// Remove an environment (by name or Python version) with its layers, or one layer.
    Remove(EnvRemoveArgs),
    /// Remove layers unused for a while and leftovers of interrupted creations.
    Prune(EnvPruneArgs),
    /// Make (or reuse) the layer of these system packages over a base, e.g. to prepare it
    /// before builds that will ask for it.
    Layer(EnvLayerArgs),
    /// Check that s390x code can run here and what is installed.
    Doctor(EnvDoctorArgs),
}

#[derive(Debug, Args)]
pub struct EnvArgs {
    /// Folder for caches (environments go to <cache>/envs unless REFINERY_ENVS_DIR is set).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Target CPython version: 3.11, 3.13, 3.14 (Debian's), or 3.9 (built once from
    /// bullseye's source package into a bookworm rootfs).
    #[arg(long, value_name = "X.Y", default_value = "3.11")]
    pub python: String,
    /// Create it again even if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct EnvListArgs {
    /// Folder for caches (environments go to <cache>/envs unless REFINERY_ENVS_DIR is set).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EnvDoctorArgs {
    /// Folder for caches (environments go to <cache>/envs unless REFINERY_ENVS_DIR is set).
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// The CPython version whose environment's compilers are checked.
    #[arg(long, value_name = "X.Y", default_value = "3.11")]
    pub python: String,
}

#[derive(Debug, Args)]
pub struct EnvRemoveArgs {
    /// Environment name or Python version.
    pub name: String,
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnvLayerArgs {
    /// Debian packages for the layer.
    #[arg(required = true)]
    pub packages: Vec<String>,
    /// The base's CPython version.
    #[arg(long, value_name = "X.Y", default_value = "3.11")]
    pub python: String,
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EnvPruneArgs {
    /// Remove layers not used for this many days (0: every layer).
    #[arg(long, value_name = "DAYS", default_value_t = 14)]
    pub unused_days: u64,
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// History database. [env: HISTORY_DB]
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Cache folder whose history.db to read.
    #[arg(long, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Most recent events to show.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub recent: usize,
    /// Packages with the most failed attempts to show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top_failures: usize,
    /// Only this package's events and attempts.
    #[arg(long, value_name = "NAME")]
    pub package: Option<PackageName>,
    /// Events, attempts, top failures and status counts as one JSON object.
    #[arg(long)]
    pub json: bool,
}
