//! The build worker: claims a job, heartbeats while it builds, streams the build log,
//! publishes the wheel and completes the job (every call fenced by the job's attempt).
//!
//! A job is one `package==version` for one Python and platform. The worker plans that
//! single requirement with [`refinery_plan::make_plan`], keeps the node of that package,
//! and runs [`refinery_build::execute_plan`] on it with a [`JobRecorder`]: the build tells
//! it its events and attempts (forwarded to a control plane that does not share the
//! history) and each build log file it opens; those files are tailed while the build runs
//! and shipped to the store as numbered chunks, together with the reporter's lines.
//!
//! Jobs come from a [`JobSource`]: the store itself ([`LocalSource`], SQLite or
//! PostgreSQL) or a remote control plane over HTTP ([`crate::remote::RemoteSource`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use refinery_build::hints::Catalog;
use refinery_build::{execute_plan, EnvironmentChoice, RecipePolicy, Reporter, RunSettings};
use refinery_index::{IndexClient, IndexConfig};
use refinery_pep::{ProjectName, Target};
use refinery_plan::{
    make_plan, Overrides, PackageOverride, PipOptions, Plan, PlanOptions, Strategy,
    DEFAULT_MAX_DEPS,
};
use refinery_store::queue::{
    HeartbeatReply, Job, JobStatus, Outcome, PublishedFile, QueueError, ReapedJob,
};
use refinery_store::{Attempt, Cas, Event, QueueStore};

use crate::job_recorder::JobRecorder;

mod log_shipping;
mod retry;

use self::log_shipping::{ship_logs, StreamReporter};
use self::retry::{
    is_refusal, is_unreachable, source_unreachable, until_reachable, FIRST_RETRY_WAIT,
};

/// How a worker builds and talks to the queue.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub id: String,
    pub cache: PathBuf,
    /// The control plane's history: an SQLite file, or with a PostgreSQL control plane its
    /// database URL (`History::open` and the build engine's `RunSettings::history_db` take
    /// either), so builds on every host write to the shared history. Used when the job
    /// source shares the history; remote workers keep `<cache>/history.db` and forward.
    pub history_db: PathBuf,
    pub lease: Duration,
    pub heartbeat: Duration,
    /// Wait between polls of an empty queue.
    pub poll: Duration,
    /// Keep polling when the queue is empty (`AUTO_BUILD`); otherwise drain and stop.
    pub keep_polling: bool,
    /// Stop after this many jobs.
    pub max_jobs: Option<usize>,
    pub max_restarts: i64,
    pub index: IndexConfig,
    pub environment: EnvironmentChoice,
    pub max_attempts: u32,
    pub attempt_timeout: Option<Duration>,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub auditwheel: String,
    /// `auditwheel repair --strip`: debug information removed (see `RunSettings::strip`;
    /// `--no-strip` turns it off).
    pub strip: bool,
    pub pip_env: Vec<(String, String)>,
    pub recipes: RecipePolicy,
    /// The hint catalog builds are matched against.
    pub catalog: Catalog,
    /// What verification does (`--verify`, `--smoke-tests` …).
    pub verify: refinery_build::verify::VerifySettings,
    /// `--build-frontend` (see [`refinery_build::native_frontend`]).
    pub build_frontend: refinery_build::native_frontend::FrontendMode,
    /// Memory one compiler is assumed to take, in bytes (`--compiler-memory`): a job is one
    /// build, so its compilers share the host's cores and free memory alone (see
    /// [`refinery_build::compile_jobs`]).
    pub compiler_memory: u64,
}

impl WorkerOptions {
    /// Defaults for a cache folder: rootfs environments under `envs_dir`.
    pub fn new(cache: PathBuf, envs_dir: PathBuf) -> WorkerOptions {
        let host = hostname();
        WorkerOptions {
            id: format!("{host}-{}", std::process::id()),
            history_db: cache.join("history.db"),
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(10),
            poll: Duration::from_secs(2),
            keep_polling: false,
            max_jobs: None,
            max_restarts: refinery_store::queue::DEFAULT_MAX_RESTARTS,
            index: IndexConfig {
                cache_dir: Some(cache.join("http")),
                ..IndexConfig::default()
            },
            environment: EnvironmentChoice::Rootfs {
                envs_dir,
                accelerate: refinery_build::accelerate::AccelerateMode::Auto,
                make_host_python: true,
            },
            max_attempts: 1,
            attempt_timeout: Some(Duration::from_secs(3600)),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            auditwheel: refinery_build::host_tools::resolve(
                &std::env::var("AUDITWHEEL").unwrap_or_else(|_| "auditwheel".into()),
            ),
            strip: true,
            pip_env: Vec::new(),
            recipes: RecipePolicy::default(),
            catalog: Catalog::builtin(),
            verify: refinery_build::verify::VerifySettings::default(),
            build_frontend: refinery_build::native_frontend::FrontendMode::Auto,
            compiler_memory: refinery_build::compile_jobs::DEFAULT_COMPILER_MEMORY,
            cache,
        }
    }
}

/// This machine's name (for worker ids).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "worker".into())
}

/// Why a job's wheel or history could not be handed to the control plane.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The queue (a lost lease, an unreachable or refusing control plane).
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The wheel is not this job's, or could not be stored.
    #[error(transparent)]
    Publish(#[from] crate::publish::PublishError),
    /// The wheel could not be read (the error names the file).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Where jobs come from and where results go.
pub trait JobSource: Send + Sync {
    fn describe(&self) -> String;
    fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Job>, QueueError>;
    fn start(&self, job: &Job) -> Result<(), QueueError>;
    fn heartbeat(&self, job: &Job, lease: Duration) -> Result<HeartbeatReply, QueueError>;
    fn append_log(&self, job: &Job, data: &str) -> Result<(), QueueError>;
    fn complete(&self, job: &Job, outcome: &Outcome) -> Result<Job, QueueError>;
    /// Puts a built or reused wheel into the index.
    fn publish(&self, job: &Job, wheel: &Path, origin: &str) -> Result<PublishedFile, SourceError>;
    /// The history the build engine wrote locally for this job (remote sources forward
    /// it; local ones share the database already).
    fn record_history(
        &self,
        job: &Job,
        events: &[Event],
        attempts: &[Attempt],
    ) -> Result<(), SourceError>;
    /// Takes back expired leases (local sources; the server does it for remote ones) and
    /// returns the attempts lost that way.
    fn reap(&self, max_restarts: i64) -> Result<Vec<ReapedJob>, QueueError>;
    /// Whether the build writes into the control plane's own history database.
    fn shares_history(&self) -> bool;
    /// Where the builds ask for a native library pack before making it (a remote
    /// control plane serves its own; a local source shares the packs folder already).
    fn pack_mirror(&self) -> Option<std::sync::Arc<dyn refinery_build::packs::PackMirror>> {
        None
    }
    /// The stored plan `id` a job was enqueued from (its nodes say what the plan decided
    /// for the job's package); `None` when it cannot be read.
    fn plan(&self, id: &str) -> Option<Plan>;
}

/// Whether the plan `job` came from builds its package from the index's sdist (the plan's
/// `--no-binary`, or no wheel for the target): the worker's own one-line plan must then
/// not take a wheel the index has for it.
fn planned_from_sdist(source: &dyn JobSource, job: &Job) -> bool {
    let Some(plan) = job.plan_id.as_deref().and_then(|id| source.plan(id)) else {
        return false;
    };
    let package = refinery_index::normalize_name(&job.package);
    plan.nodes.iter().any(|node| {
        refinery_index::normalize_name(node.name.as_str()) == package
            && node.action == refinery_plan::Action::Build
            && node
                .source
                .as_ref()
                .is_some_and(|s| s.kind == refinery_plan::SourceKind::IndexSdist)
    })
}

/// The plan of a stored plan's body, if it reads as one.
pub(crate) fn plan_of(stored: &refinery_store::queue::StoredPlan) -> Option<Plan> {
    serde_json::from_value(stored.body.clone()).ok()
}

/// Job `id` when `attempt` still holds its lease (the fencing token of every worker call);
/// [`QueueError::LeaseLost`] when the job was taken back, finished or claimed again.
pub fn leased_job(store: &dyn QueueStore, id: i64, attempt: i64) -> Result<Job, QueueError> {
    let job = store.job(id)?;
    if job.attempt != attempt || !job.status.is_active() {
        return Err(QueueError::LeaseLost { job: id, attempt });
    }
    Ok(job)
}

/// Jobs straight from the store (same machine, or PostgreSQL).
pub struct LocalSource {
    store: Arc<dyn QueueStore>,
    cas: Cas,
}

impl LocalSource {
    pub fn new(store: Arc<dyn QueueStore>, cache: &Path) -> LocalSource {
        LocalSource {
            store,
            cas: Cas::new(cache.join("cas").join("v1")),
        }
    }
}

impl JobSource for LocalSource {
    fn describe(&self) -> String {
        format!("{} queue {}", self.store.backend(), self.store.location())
    }

    fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Job>, QueueError> {
        self.store.claim(worker, lease)
    }

    fn start(&self, job: &Job) -> Result<(), QueueError> {
        self.store.start(job.id, job.attempt)
    }

    fn heartbeat(&self, job: &Job, lease: Duration) -> Result<HeartbeatReply, QueueError> {
        self.store.heartbeat(job.id, job.attempt, lease)
    }

    fn append_log(&self, job: &Job, data: &str) -> Result<(), QueueError> {
        self.store.append_log(job.id, job.attempt, data).map(|_| ())
    }

    fn complete(&self, job: &Job, outcome: &Outcome) -> Result<Job, QueueError> {
        self.store.complete(job.id, job.attempt, outcome)
    }

    fn publish(&self, job: &Job, wheel: &Path, origin: &str) -> Result<PublishedFile, SourceError> {
        // Fenced like everything else: a worker that lost its lease publishes nothing.
        leased_job(&*self.store, job.id, job.attempt)?;
        let name = wheel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(crate::publish::publish_job_wheel(
            &*self.store,
            &self.cas,
            job,
            wheel,
            &name,
            origin,
        )?)
    }

    fn record_history(&self, _: &Job, _: &[Event], _: &[Attempt]) -> Result<(), SourceError> {
        Ok(())
    }

    fn reap(&self, max_restarts: i64) -> Result<Vec<ReapedJob>, QueueError> {
        self.store.reap(max_restarts)
    }

    fn plan(&self, id: &str) -> Option<Plan> {
        self.store.plan(id).ok().as_ref().and_then(plan_of)
    }

    fn shares_history(&self) -> bool {
        true
    }
}

/// What a worker did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorkerSummary {
    pub jobs: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Jobs whose lease was lost while they ran (their result was thrown away).
    pub lost: usize,
    /// Jobs stopped by the worker's own stop (SIGTERM, Ctrl-C) and put back in the queue.
    pub handed_back: usize,
}

/// Takes back expired leases; with a source whose history the builds share, the attempts
/// lost with their workers go into it (a remote control plane records its own).
fn record_lost_attempts(options: &WorkerOptions, source: &dyn JobSource) {
    let Ok(reaped) = source.reap(options.max_restarts) else {
        return;
    };
    if reaped.is_empty() || !source.shares_history() {
        return;
    }
    let recorded = refinery_store::History::open(&options.history_db).and_then(|history| {
        reaped
            .iter()
            .try_for_each(|job| history.record_attempt(&Attempt::lost(job)).map(drop))
    });
    if let Err(e) = recorded {
        eprintln!(
            "worker {}: the attempts lost with their workers are not in the history: {e}",
            options.id
        );
    }
}

/// Claims and builds jobs until the queue is empty (or forever with `keep_polling`), or
/// until `stop` is set. The error is the queue's, after three failed claims in a row
/// (without `keep_polling`).
pub fn run_worker(
    options: &WorkerOptions,
    source: &dyn JobSource,
    stop: &AtomicBool,
) -> Result<WorkerSummary, QueueError> {
    let mut summary = WorkerSummary::default();
    let mut failures_in_a_row = 0;
    loop {
        if stop.load(Ordering::SeqCst) || options.max_jobs.is_some_and(|m| summary.jobs >= m) {
            break;
        }
        record_lost_attempts(options, source);
        let job = match source.claim(&options.id, options.lease) {
            Ok(job) => {
                failures_in_a_row = 0;
                job
            }
            Err(e) => {
                failures_in_a_row += 1;
                eprintln!("worker {}: cannot claim a job: {e}", options.id);
                // A refusal (a wrong token, a queue that is not ours) does not get better
                // by asking again, even with --watch.
                if is_refusal(&e) || (!options.keep_polling && failures_in_a_row >= 3) {
                    return Err(e);
                }
                std::thread::sleep(options.poll.max(Duration::from_millis(500)));
                continue;
            }
        };
        let Some(job) = job else {
            if options.keep_polling {
                std::thread::sleep(options.poll);
                continue;
            }
            break;
        };
        summary.jobs += 1;
        match run_job(options, source, &job, stop) {
            JobEnd::Done(status) if status.is_success() => summary.succeeded += 1,
            JobEnd::Done(_) => summary.failed += 1,
            JobEnd::Lost => summary.lost += 1,
            JobEnd::HandedBack => summary.handed_back += 1,
        }
    }
    Ok(summary)
}

enum JobEnd {
    Done(JobStatus),
    Lost,
    HandedBack,
}

/// Runs one claimed job to its end. When `stop` is set while it builds (the worker is
/// shutting down), the build is stopped and the job is completed as `retry`: back in the
/// queue for another worker at once, not a failure of the package.
fn run_job(
    options: &WorkerOptions,
    source: &dyn JobSource,
    job: &Job,
    stop: &AtomicBool,
) -> JobEnd {
    if let Err(e) = source.start(job) {
        eprintln!("worker {}: job {}: {e}", options.id, job.id);
        return JobEnd::Lost;
    }
    eprintln!(
        "worker {}: job {} {} {} (python {}, {}, attempt {})",
        options.id, job.id, job.package, job.version, job.python, job.platform_tag, job.attempt
    );
    let done = AtomicBool::new(false);
    let lost = AtomicBool::new(false);
    // Cancelled by the control plane (the job ends `cancelled`) or stopped by this
    // worker's shutdown (the job goes back to the queue).
    let cancelled = AtomicBool::new(false);
    let stopping = AtomicBool::new(false);
    // Set on cancellation or a lost lease: the build's processes are killed at once.
    let cancel = Arc::new(AtomicBool::new(false));
    let log_files = Mutex::new(Vec::new());
    let (tx, rx) = mpsc::channel();
    let reporter = StreamReporter {
        tx: Mutex::new(tx),
        files: &log_files,
    };
    reporter.send(format!(
        "[worker] {} claimed job {} ({} {} for CPython {} {}), attempt {}\n",
        options.id, job.id, job.package, job.version, job.python, job.platform_tag, job.attempt
    ));
    let outcome = std::thread::scope(|scope| {
        // Heartbeats: extend the lease, learn about cancellation and lost leases.
        scope.spawn(|| {
            let mut last = Instant::now();
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
                if stop.load(Ordering::SeqCst) && !stopping.swap(true, Ordering::SeqCst) {
                    cancel.store(true, Ordering::SeqCst);
                    reporter.send(format!(
                        "[worker] {} is shutting down: the build is stopped and the job goes back to the queue\n",
                        options.id
                    ));
                }
                if last.elapsed() < options.heartbeat {
                    continue;
                }
                last = Instant::now();
                match source.heartbeat(job, options.lease) {
                    Ok(reply) => {
                        if reply.cancel {
                            cancelled.store(true, Ordering::SeqCst);
                        }
                        if reply.cancel && !cancel.swap(true, Ordering::SeqCst) {
                            reporter.send(
                                "[worker] cancellation requested; stopping the build\n".into(),
                            );
                        }
                    }
                    Err(QueueError::LeaseLost { .. }) => {
                        lost.store(true, Ordering::SeqCst);
                        // Another worker owns the job now: stop building it here.
                        cancel.store(true, Ordering::SeqCst);
                        eprintln!("worker {}: job {}: the lease was lost", options.id, job.id);
                        return;
                    }
                    Err(e) => eprintln!("worker {}: heartbeat: {e}", options.id),
                }
            }
        });
        let (files, done_ref, lost_ref) = (&log_files, &done, &lost);
        let shipper = scope.spawn(move || ship_logs(source, job, files, &rx, done_ref, lost_ref));
        let outcome = build(options, source, job, &reporter, &log_files, &cancel);
        // The shipper reads every file to its end once more after this, then stops.
        done.store(true, Ordering::SeqCst);
        let _ = shipper.join();
        outcome
    });
    if lost.load(Ordering::SeqCst) {
        eprintln!(
            "worker {}: job {}: lease lost; the result is not reported",
            options.id, job.id
        );
        return JobEnd::Lost;
    }
    // Stopped by this worker's shutdown, not finished: back to the queue (a result that
    // was reached before the stop is kept).
    let handed_back = stopping.load(Ordering::SeqCst)
        && !cancelled.load(Ordering::SeqCst)
        && !outcome.status.is_success();
    let outcome = if handed_back {
        Outcome {
            status: JobStatus::Retry,
            detail: format!(
                "worker {} shut down during the build; back in the queue",
                options.id
            ),
            result: serde_json::Value::Null,
        }
    } else {
        outcome
    };
    // A control plane that restarts while the build finishes: the result waits for it as
    // long as the lease would have held.
    let completed = until_reachable(options.lease, FIRST_RETRY_WAIT, is_unreachable, || {
        source.complete(job, &outcome)
    });
    match completed {
        Ok(done) => {
            eprintln!(
                "worker {}: job {} {} {}: {}",
                options.id, job.id, job.package, job.version, done.status
            );
            if handed_back {
                JobEnd::HandedBack
            } else {
                JobEnd::Done(done.status)
            }
        }
        Err(QueueError::LeaseLost { .. }) => JobEnd::Lost,
        Err(e) => {
            eprintln!(
                "worker {}: job {}: cannot complete: {e}",
                options.id, job.id
            );
            JobEnd::Lost
        }
    }
}

fn failed(detail: impl Into<String>) -> Outcome {
    Outcome {
        status: JobStatus::Failed,
        detail: detail.into(),
        result: serde_json::Value::Null,
    }
}

/// Plans and builds the job; never panics on bad input.
fn build(
    options: &WorkerOptions,
    source: &dyn JobSource,
    job: &Job,
    reporter: &StreamReporter<'_>,
    log_files: &Mutex<Vec<PathBuf>>,
    cancel: &Arc<AtomicBool>,
) -> Outcome {
    let target = match Target::new(&job.python, &job.platform_tag) {
        Ok(t) => t,
        Err(e) => return failed(format!("bad target: {e}")),
    };
    let work = options
        .cache
        .join("workers")
        .join(sanitize(&options.id))
        .join(format!("job-{}-{}", job.id, job.attempt));
    let _ = std::fs::remove_dir_all(&work);
    let input = work.join("input");
    let output = work.join("out");
    // As the plan decided: a package it builds from the sdist is not taken as a wheel.
    let no_binary = if planned_from_sdist(source, job) {
        format!("--no-binary {}\n", job.package)
    } else {
        String::new()
    };
    if let Err(e) = std::fs::create_dir_all(&input).and_then(|()| {
        std::fs::write(
            input.join("requirements.txt"),
            format!("{no_binary}{}=={}\n", job.package, job.version),
        )
    }) {
        return failed(format!("cannot prepare {}: {e}", work.display()));
    }
    let outcome = build_in(
        options, source, job, reporter, log_files, cancel, &target, &input, &output,
    );
    let _ = std::fs::remove_dir_all(&work);
    outcome
}

fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn build_in(
    options: &WorkerOptions,
    source: &dyn JobSource,
    job: &Job,
    reporter: &StreamReporter<'_>,
    log_files: &Mutex<Vec<PathBuf>>,
    cancel: &Arc<AtomicBool>,
    target: &Target,
    input: &Path,
    output: &Path,
) -> Outcome {
    let client = match IndexClient::new(options.index.clone()) {
        Ok(c) => c,
        Err(e) => return failed(format!("index client: {e}")),
    };
    let project = match job.package.parse::<ProjectName>() {
        Ok(project) => project,
        Err(e) => return failed(format!("the job's package: {e}")),
    };
    let mut overrides = Overrides::new();
    let recipe = &job.recipe;
    if recipe.variant.is_some() || !recipe.env.is_empty() || !recipe.system_packages.is_empty() {
        overrides.insert(
            project.normalized().to_string(),
            PackageOverride {
                pin: None,
                skip: false,
                variant: recipe.variant.clone(),
                system_packages: recipe.system_packages.clone(),
                env: recipe.env.clone(),
            },
        );
    }
    for step in &recipe.steps {
        reporter.send(format!("[worker] recipe step: {step}\n"));
    }
    let plan_options = PlanOptions {
        target: target.clone(),
        strategy: Strategy::Pinned,
        fallback_latest: false,
        max_deps: DEFAULT_MAX_DEPS,
        requirements_path: None,
        constraints_path: None,
        overrides,
        known_failures: Vec::new(),
        allow_prereleases: true,
        pip: PipOptions::default(),
    };
    reporter.message(&format!("planning {}=={}", job.package, job.version));
    // Each worker plans in its own folder: the planner's work folder is not shared.
    let plan_cache = options
        .cache
        .join("workers")
        .join(sanitize(&options.id))
        .join("plan-cache");
    let mut plan = match make_plan(input, &plan_cache, &plan_options, &options.index, &client) {
        Ok(plan) => plan,
        Err(e) => {
            let message = refinery_index::redact_url(&e.to_string());
            reporter.message(&format!("planning failed: {message}"));
            return failed(format!("planning failed: {message}"));
        }
    };
    plan.nodes.retain(|n| n.name == project);
    plan.edges.clear();
    let Some(node) = plan.nodes.first().cloned() else {
        return Outcome {
            status: JobStatus::Missing,
            detail: format!(
                "the plan for {}=={} has no node for it",
                job.package, job.version
            ),
            result: serde_json::Value::Null,
        };
    };
    if cancel.load(Ordering::SeqCst) {
        return Outcome {
            status: JobStatus::Cancelled,
            detail: "cancelled before the build started".into(),
            result: serde_json::Value::Null,
        };
    }
    let run_id = format!("job-{}-attempt-{}", job.id, job.attempt);
    let history_db = if source.shares_history() {
        options.history_db.clone()
    } else {
        options.cache.join("history.db")
    };
    let settings = RunSettings {
        output: output.to_path_buf(),
        cache: options.cache.clone(),
        manifest_path: output.join("manifest.json"),
        history_db: history_db.clone(),
        target: target.clone(),
        environment: options.environment.clone(),
        attempt_timeout: options.attempt_timeout,
        max_attempts: options.max_attempts.max(1),
        backoff_base: options.backoff_base,
        backoff_max: options.backoff_max,
        pip_env: options.pip_env.clone(),
        auditwheel: options.auditwheel.clone(),
        strip: options.strip,
        run_id: run_id.clone(),
        simple_index: false,
        jobs: 1,
        compiler_memory: options.compiler_memory,
        recipes: options.recipes,
        schedule: refinery_build::Schedule::Fifo,
        catalog: options.catalog.clone(),
        // One job is one package: dependencies are jobs of their own.
        expander: None,
        stop: Some(cancel.clone()),
        verify: options.verify.clone(),
        // As in the job's plan: the version asked for or nothing.
        fallback_latest: false,
        build_frontend: options.build_frontend,
        pack_mirror: source
            .pack_mirror()
            .map(refinery_build::context::PackMirrorHandle),
    };
    // The build tells the recorder what it does: history, forwarding, log files.
    let recorder = match JobRecorder::open(
        &history_db,
        !source.shares_history(),
        log_files,
        &options.id,
    ) {
        Ok(recorder) => recorder,
        Err(e) => {
            return failed(format!(
                "cannot open the history: {}",
                refinery_index::redact_url(&e.to_string())
            ))
        }
    };
    let started = Instant::now();
    let manifest = match execute_plan(&plan, &settings, &client, reporter, &recorder) {
        Ok(m) => m,
        // Redacted: the error may name the history database URL.
        Err(e) => {
            return failed(format!(
                "the build engine stopped: {}",
                refinery_index::redact_url(&e.to_string())
            ))
        }
    };
    let Some(entry) = manifest.get(node.name.as_str()).cloned() else {
        return failed("the build engine reported nothing for the package");
    };
    let (events, attempts) = recorder.take_forwarded();
    if !events.is_empty() || !attempts.is_empty() {
        let forward = || source.record_history(job, &events, &attempts);
        if let Err(e) =
            until_reachable(options.lease, FIRST_RETRY_WAIT, source_unreachable, forward)
        {
            eprintln!("worker: cannot send the history of job {}: {e}", job.id);
        }
    }
    if cancel.load(Ordering::SeqCst) && !entry.status.is_success() {
        return Outcome {
            status: JobStatus::Cancelled,
            detail: entry.detail,
            result: serde_json::Value::Null,
        };
    }
    let mut status = refinery_store::glossary::job_status_of(entry.status);
    let mut detail = entry.detail.clone();
    let mut published = None;
    let (mut wheel_name, mut wheel_sha256) = (entry.path.clone(), entry.sha256.clone());
    let mut metadata = entry.metadata.clone();
    if status.is_success() {
        if let Some(path) = &entry.path {
            let origin = status.as_str();
            // Our builds may take a build number; a reused wheel is published unchanged.
            let renamable = matches!(status, JobStatus::Built | JobStatus::Cached);
            let publish =
                || publish_under_a_free_name(source, job, &output.join(path), origin, renamable);
            match until_reachable(options.lease, FIRST_RETRY_WAIT, source_unreachable, publish) {
                Ok(file) => {
                    if let Some(built_sha256) = entry.sha256.as_deref() {
                        carry_records_over(&options.cache, built_sha256, &file, &mut metadata, job);
                    }
                    wheel_name = Some(file.filename.clone());
                    wheel_sha256 = Some(file.sha256.clone());
                    published = Some(file);
                }
                Err(e) => {
                    status = JobStatus::Failed;
                    detail = format!("built, but the wheel cannot be published: {e}");
                }
            }
        }
    }
    Outcome {
        status,
        detail,
        result: serde_json::json!({
            "wheel": wheel_name,
            "sha256": wheel_sha256,
            "published": published,
            "metadata": metadata,
            "worker": options.id,
            "run_id": run_id,
            "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        }),
    }
}

/// True when the index refused the wheel because its file name is published with other
/// bytes (local store or the server's `409 name_taken`).
fn name_taken(error: &SourceError) -> bool {
    matches!(
        error,
        SourceError::Queue(QueueError::NameTaken(_))
            | SourceError::Publish(crate::publish::PublishError::Store(QueueError::NameTaken(
                _
            )))
    )
}

/// The most renames tried when names keep being taken (another worker's rebuilds).
const MAX_RENAMES: usize = 5;

/// Publishes `wheel`; when its file name is already published with other bytes (another
/// worker built the same sdist with another pack or `--no-strip`, or an older run), takes
/// the next free build number (see `refinery_build::naming`: `Build: N` in WHEEL) and
/// publishes that, as a rebuild in one cache does. A wheel that is not `renamable` (a
/// reused wheel, whose bytes are the index's) is never rewritten: its refusal is the error.
fn publish_under_a_free_name(
    source: &dyn JobSource,
    job: &Job,
    wheel: &Path,
    origin: &str,
    renamable: bool,
) -> Result<PublishedFile, SourceError> {
    let mut wheel = wheel.to_path_buf();
    let refused = std::cell::RefCell::new(std::collections::HashSet::<String>::new());
    for _ in 0..MAX_RENAMES {
        let error = match source.publish(job, &wheel, origin) {
            Ok(file) => return Ok(file),
            Err(e) if renamable && name_taken(&e) => e,
            Err(e) => return Err(e),
        };
        let name = wheel.file_name().map(|n| n.to_string_lossy().into_owned());
        refused.borrow_mut().extend(name);
        // Every refused name counts as holding other bytes.
        let published = |filename: &str| {
            if refused.borrow().contains(filename) {
                vec![String::new()]
            } else {
                Vec::new()
            }
        };
        let taken = refinery_build::naming::TakenNames {
            index_files: &[],
            published: &published,
        };
        let sha = refinery_store::sha256_file(&wheel)?;
        match refinery_build::naming::avoid_taken_name(&wheel, &sha, &taken) {
            Ok(Some((renamed, _))) => wheel = renamed,
            _ => return Err(error),
        }
    }
    source.publish(job, &wheel, origin)
}

/// When the wheel was published under a build number (its name was taken), the build's
/// records in the worker's cache (verification, provenance, build record) follow it to the
/// published file, and `metadata` links the new provenance statement. A record that
/// cannot be written is a warning: the wheel is published.
fn carry_records_over(
    cache: &Path,
    built_sha256: &str,
    published: &PublishedFile,
    metadata: &mut refinery_store::ManifestMetadata,
    job: &Job,
) {
    if published.sha256 == built_sha256 {
        return;
    }
    if let Err(e) = refinery_build::renamed_records::carry_over(
        cache,
        built_sha256,
        &published.filename,
        &published.sha256,
        metadata,
    ) {
        eprintln!(
            "worker: job {}: {} is published, but its records were not carried over: {e}",
            job.id, published.filename
        );
    }
}

/// The catalog plus the hints added through the API (as `user-<id>` entries).
pub fn catalog_with_user_hints(mut catalog: Catalog, store: &dyn QueueStore) -> Catalog {
    let Ok(hints) = store.hints() else {
        return catalog;
    };
    if hints.is_empty() {
        return catalog;
    }
    let mut text = String::new();
    for hint in hints {
        let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
        let list = toml::Value::Array(
            hint.packages
                .iter()
                .map(|p| toml::Value::String(p.clone()))
                .collect(),
        )
        .to_string();
        text.push_str(&format!(
            "[[hint]]\nid = {}\npattern = {}\nmessage = {}\napt = {list}\ndnf = {list}\n\n",
            quote(&format!("user-{}", hint.id)),
            quote(&hint.pattern),
            quote(if hint.note.is_empty() {
                "added through the API"
            } else {
                &hint.note
            }),
        ));
    }
    let Ok(file) = tempfile::NamedTempFile::new() else {
        return catalog;
    };
    if std::fs::write(file.path(), text).is_ok() {
        if let Err(e) = catalog.extend_from_file(file.path()) {
            eprintln!("worker: hints added through the API are left out: {e}");
        }
    }
    catalog
}

#[cfg(test)]
mod tests {
    use super::log_shipping::split_chunks;
    use super::*;

    /// A pure wheel of `fastadd 1.0` whose module holds `body`.
    fn wheel(dir: &Path, body: &str) -> std::path::PathBuf {
        use std::io::Write;
        let path = dir.join("fastadd-1.0-py3-none-any.whl");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        for (name, text) in [
            ("fastadd/__init__.py", body),
            (
                "fastadd-1.0.dist-info/METADATA",
                "Metadata-Version: 2.1\nName: fastadd\nVersion: 1.0\n",
            ),
            (
                "fastadd-1.0.dist-info/WHEEL",
                "Wheel-Version: 1.0\nTag: py3-none-any\n",
            ),
            ("fastadd-1.0.dist-info/RECORD", ""),
        ] {
            zip.start_file(name, options).unwrap();
            zip.write_all(text.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    /// An SQLite queue in `dir` and the local job source on it.
    fn local_queue(dir: &Path) -> (Arc<dyn QueueStore>, LocalSource) {
        let store: Arc<dyn QueueStore> = Arc::new(
            refinery_store::queue::SqliteQueue::open_sqlite(&dir.join("queue.db")).unwrap(),
        );
        let source = LocalSource::new(store.clone(), dir);
        (store, source)
    }

    /// A job of `fastadd 1.0`, enqueued and claimed by `w1`.
    fn claimed_fastadd(store: &dyn QueueStore) -> Job {
        store
            .enqueue(&refinery_store::queue::JobSpec {
                package: "fastadd".into(),
                version: "1.0".into(),
                python: "3.11".into(),
                platform_tag: "manylinux2014_s390x".into(),
                ..Default::default()
            })
            .unwrap();
        store.claim("w1", Duration::from_secs(60)).unwrap().unwrap()
    }

    /// A control plane that refuses every claim with `refusal`, counting them.
    struct Refusing {
        refusal: fn() -> QueueError,
        claims: std::sync::atomic::AtomicUsize,
    }

    impl JobSource for Refusing {
        fn describe(&self) -> String {
            "refusing".into()
        }
        fn claim(&self, _: &str, _: Duration) -> Result<Option<Job>, QueueError> {
            self.claims.fetch_add(1, Ordering::SeqCst);
            Err((self.refusal)())
        }
        fn start(&self, _: &Job) -> Result<(), QueueError> {
            unreachable!("no job is claimed")
        }
        fn heartbeat(&self, _: &Job, _: Duration) -> Result<HeartbeatReply, QueueError> {
            unreachable!("no job is claimed")
        }
        fn append_log(&self, _: &Job, _: &str) -> Result<(), QueueError> {
            unreachable!("no job is claimed")
        }
        fn complete(&self, _: &Job, _: &Outcome) -> Result<Job, QueueError> {
            unreachable!("no job is claimed")
        }
        fn publish(&self, _: &Job, _: &Path, _: &str) -> Result<PublishedFile, SourceError> {
            unreachable!("no job is claimed")
        }
        fn record_history(&self, _: &Job, _: &[Event], _: &[Attempt]) -> Result<(), SourceError> {
            unreachable!("no job is claimed")
        }
        fn reap(&self, _: i64) -> Result<Vec<ReapedJob>, QueueError> {
            Ok(Vec::new())
        }
        fn shares_history(&self) -> bool {
            false
        }
        fn plan(&self, _: &str) -> Option<Plan> {
            None
        }
    }

    #[test]
    fn a_watching_worker_stops_at_a_refusal_and_waits_out_an_outage() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = WorkerOptions::new(dir.path().join("cache"), dir.path().join("envs"));
        options.keep_polling = true;
        options.poll = Duration::from_millis(1);
        let forbidden = Refusing {
            refusal: || QueueError::Invalid("403 Forbidden: the token is not valid".into()),
            claims: Default::default(),
        };
        let err = run_worker(&options, &forbidden, &AtomicBool::new(false)).unwrap_err();
        assert!(err.to_string().contains("403 Forbidden"), "{err}");
        assert_eq!(forbidden.claims.load(Ordering::SeqCst), 1);
        // Unreachable: a watching worker keeps trying (until its stop flag, here after a
        // few claims).
        let down = Refusing {
            refusal: || QueueError::Unavailable {
                location: "http://plane".into(),
                message: "connection refused".into(),
            },
            claims: Default::default(),
        };
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while down.claims.load(Ordering::SeqCst) < 3 {
                    std::thread::sleep(Duration::from_millis(5));
                }
                stop.store(true, Ordering::SeqCst);
            });
            let summary = run_worker(&options, &down, &stop).unwrap();
            assert_eq!(summary.jobs, 0);
        });
        assert!(down.claims.load(Ordering::SeqCst) >= 3);
    }

    #[test]
    fn a_name_published_with_other_bytes_moves_the_wheel_to_the_next_build_number() {
        let dir = tempfile::tempdir().unwrap();
        let (store, source) = local_queue(dir.path());
        // Another worker's build of the same sdist is published under the name first.
        let earlier = dir.path().join("earlier");
        std::fs::create_dir_all(&earlier).unwrap();
        crate::publish::publish_wheel(
            &*store,
            &source.cas,
            &wheel(&earlier, "x = 1\n"),
            "built",
            None,
        )
        .unwrap();
        let job = claimed_fastadd(&*store);
        let ours = dir.path().join("ours");
        std::fs::create_dir_all(&ours).unwrap();
        // A reused wheel (the index's bytes) is never rewritten: the refusal stands.
        let theirs = dir.path().join("theirs");
        std::fs::create_dir_all(&theirs).unwrap();
        let refused =
            publish_under_a_free_name(&source, &job, &wheel(&theirs, "x = 3\n"), "reused", false)
                .unwrap_err();
        assert!(name_taken(&refused), "{refused}");
        assert!(theirs.join("fastadd-1.0-py3-none-any.whl").is_file());
        let file =
            publish_under_a_free_name(&source, &job, &wheel(&ours, "x = 2\n"), "built", true)
                .unwrap();
        assert_eq!(file.filename, "fastadd-1.0-1-py3-none-any.whl");
        let names: Vec<String> = store
            .published()
            .unwrap()
            .into_iter()
            .map(|f| f.filename)
            .collect();
        assert_eq!(
            names.len(),
            2,
            "both builds are in the index, each under its own name: {names:?}"
        );
        // The build's records follow it to the published name.
        let cache = dir.path().join("cache");
        let built_sha = "ab".repeat(32);
        let statement = serde_json::json!({
            "subject": [{"name": "fastadd-1.0-py3-none-any.whl", "digest": {"sha256": built_sha}}],
            "predicate": {"buildDefinition": {"externalParameters": {"package": "fastadd"}}},
        });
        let provenance = cache.join(refinery_build::provenance::PROVENANCE_DIR);
        std::fs::create_dir_all(&provenance).unwrap();
        std::fs::write(
            provenance.join(format!("{built_sha}.intoto.json")),
            statement.to_string(),
        )
        .unwrap();
        let mut metadata = refinery_store::ManifestMetadata {
            variant: Some("default".into()),
            ..Default::default()
        };
        carry_records_over(&cache, &built_sha, &file, &mut metadata, &job);
        let link = metadata.provenance.clone().unwrap();
        assert!(link.contains(&file.sha256), "{link}");
        let (relative, _) = link.split_once(" sha256:").unwrap();
        let moved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(cache.join(relative)).unwrap()).unwrap();
        assert_eq!(moved["subject"][0]["name"], file.filename.as_str());
        assert_eq!(
            moved["subject"][0]["digest"]["sha256"],
            file.sha256.as_str()
        );
        let record = refinery_build::build_record::read(&cache, &file.sha256).unwrap();
        assert_eq!(record.variant.as_deref(), Some("default"));
        assert_eq!(record.provenance, metadata.provenance);

        // The same bytes again under the same name are simply accepted.
        let again = publish_under_a_free_name(
            &source,
            &job,
            &ours.join("fastadd-1.0-1-py3-none-any.whl"),
            "built",
            true,
        )
        .unwrap();
        assert_eq!(again.sha256, file.sha256);
    }

    #[test]
    fn a_reporter_line_follows_the_build_output_written_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let (store, source) = local_queue(dir.path());
        let job = claimed_fastadd(&*store);
        let build_log = dir.path().join("fastadd-1.0.log");
        std::fs::write(&build_log, "compiling\nlinking\n").unwrap();
        let files = Mutex::new(vec![build_log.clone()]);
        let (tx, rx) = mpsc::channel();
        let reporter = StreamReporter {
            tx: Mutex::new(tx),
            files: &files,
        };
        // The verdict is said after the build wrote two lines and before it wrote the
        // third; the shipper sees all three only later, in one round.
        reporter.message("failed fastadd 1.0");
        std::fs::write(&build_log, "compiling\nlinking\nafterwards").unwrap();
        drop(reporter);
        let (done, lost) = (AtomicBool::new(true), AtomicBool::new(false));
        log_shipping::ship_logs(&source, &job, &files, &rx, &done, &lost);
        let log: String = store
            .log_chunks(job.id, 0, 100)
            .unwrap()
            .into_iter()
            .map(|chunk| chunk.data)
            .collect();
        assert_eq!(
            log,
            "==> fastadd-1.0.log <==\ncompiling\nlinking\n[worker] failed fastadd 1.0\nafterwards"
        );
    }

    #[test]
    fn chunks_split_on_char_boundaries() {
        let text = "é".repeat(10);
        let parts = split_chunks(&text, 5);
        assert_eq!(parts.concat(), text);
        assert!(parts.iter().all(|p| p.len() <= 5));
        assert!(split_chunks("", 5).is_empty());
        assert_eq!(sanitize("host/1:2"), "host_1_2");
    }
}
