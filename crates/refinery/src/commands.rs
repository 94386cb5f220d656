//! The subcommands: wiring from settings to the library crates, and output.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use refinery_build::{execute_plan, Reporter, RunSettings};
use refinery_index::IndexClient;
use refinery_plan::{make_plan, scan_dir, summary, Decision, Plan, PlanOptions};
use refinery_store::{History, Recorder, StoreRecorder};

use crate::cli::{HistoryArgs, PlanArgs, RunArgs, ScanArgs, Schedule};
use crate::config::{plan_settings, run_options, target, ConfigFile, PlanSettings};
use crate::env_vars::{env_bool, var};
use crate::report::TerminalReporter;

mod environments;
pub use self::environments::env;

pub fn scan(args: &ScanArgs) -> Result<ExitCode> {
    let config = ConfigFile::load(args.config.as_deref())?;
    let input = args
        .input
        .clone()
        .or(config.input.clone())
        .context("no input folder: pass --input DIR")?;
    let target = target(&args.target, &config, args.accept_linux_tag)?;
    let files = scan_dir(&input, &target)?;
    let invalid = files
        .iter()
        .filter(|f| f.decision == Decision::Invalid)
        .count();
    if args.json {
        for file in &files {
            println!("{}", serde_json::to_string(file)?);
        }
    } else {
        println!("{:<8} {:<60} REASON", "DECISION", "FILE");
        for file in &files {
            println!(
                "{:<8} {:<60} {}",
                file.decision.to_string(),
                file.file,
                file.reason
            );
        }
        let count = |d| files.iter().filter(|f| f.decision == d).count();
        println!(
            "{} files for CPython {} {}: {} reuse, {} rebuild, {} invalid",
            files.len(),
            target.python_str(),
            target.platform_tag(),
            count(Decision::Reuse),
            count(Decision::Rebuild),
            invalid
        );
    }
    // As a run would reject them: exit 1, and say why on stderr (stdout may be JSON).
    if invalid > 0 {
        eprintln!(
            "{}: a run rejects {them} (the reason says why); replace or remove {them}",
            crate::report::count(invalid, "invalid file"),
            them = if invalid == 1 { "it" } else { "them" }
        );
        return Ok(ExitCode::from(crate::exit_codes::INCOMPLETE));
    }
    Ok(ExitCode::SUCCESS)
}

/// The control plane's store of the cache (`<cache>/queue.db`, or `DATABASE_URL`), where a
/// run records its plan and packages so that `refinery serve` on the same cache lists
/// them. `None` (after `warn`) when it cannot be opened: the run goes on without it.
fn cache_queue(
    settings: &PlanSettings,
    warn: &dyn Fn(&str),
) -> Option<std::sync::Arc<dyn refinery_store::QueueStore>> {
    refinery_store::open_queue(var("DATABASE_URL").as_deref(), &settings.cache)
        .inspect_err(|e| {
            warn(&format!(
                "warning: the run is not recorded for `refinery serve` (Plans, Builds, the dashboard's counts): {e}"
            ));
        })
        .ok()
}

/// Saves `plan` under `<cache>/plans/v1/` (also as `latest.json`) and, with a queue
/// store, lists it under the dashboard's Plans.
fn save_plan(
    plan: &Plan,
    save: impl FnOnce(
        &refinery_store::PlanRecord,
    ) -> std::result::Result<(), refinery_store::RecordError>,
) -> Result<()> {
    let record = refinery_build::plan_record::plan_record(plan, None)?;
    save(&record).with_context(|| format!("cannot save the plan {}", plan.id))
}

/// Resolve and plan; `announce` is called once the input was found usable, before the
/// index is asked anything (a bad `--input` fails without a "planning" line before it).
fn make_run_plan(settings: &PlanSettings, announce: &dyn Fn()) -> Result<Plan> {
    if settings.input.is_file() && settings.requirements_path.is_none() {
        anyhow::bail!(
            "the input {} is a file, not a folder\nhint: pass the folder that holds it as --input, or name a requirements file with REQUIREMENTS_PATH={}",
            settings.input.display(),
            settings.input.display()
        );
    }
    if !settings.input.is_dir() && settings.requirements_path.is_none() {
        anyhow::bail!(
            "the input folder {} does not exist or is not a folder\nhint: pass --input DIR with a requirements.txt and/or wheels",
            settings.input.display()
        );
    }
    announce();
    let known_failures = if settings.skip_known_failures {
        History::open(&settings.history_db)
            .and_then(|h| h.known_failures())
            .with_context(|| {
                format!(
                    "cannot read known failures from {}",
                    refinery_store::history::display_location(&settings.history_db)
                )
            })?
    } else {
        Vec::new()
    };
    let client = IndexClient::new(settings.index.clone())?;
    let options = PlanOptions {
        target: settings.target.clone(),
        strategy: settings.strategy,
        fallback_latest: settings.fallback_latest,
        max_deps: settings.max_deps,
        requirements_path: settings.requirements_path.clone(),
        constraints_path: settings.constraints_path.clone(),
        overrides: settings.overrides.clone(),
        known_failures,
        allow_prereleases: settings.pre,
        pip: settings.pip.clone(),
    };
    Ok(make_plan(
        &settings.input,
        &settings.cache,
        &options,
        &settings.index,
        &client,
    )?)
}

/// For a run, a package index that cannot be reached at all is a broken setup, not a set
/// of missing packages: the run stops before it builds or writes anything (exit 2), so the
/// output of an earlier run (its manifest and locks) stays as it was. Asked again for one
/// missing package, so a project the index lacks stays a missing package. (`plan` shows
/// the plan with each package's reason instead.)
fn check_index_reachable(plan: &Plan, client: &IndexClient) -> Result<()> {
    let Some(missing) = plan
        .nodes
        .iter()
        .find(|node| node.action == refinery_plan::Action::Missing)
    else {
        return Ok(());
    };
    match client.project_files(missing.name.as_str()) {
        Err(e) if unreachable(&e) => anyhow::bail!(
            "the package index cannot be reached ({} is missing because of it): {e}\nhint: nothing was built or written; check --index-url (and --extra-index-url), the network and the proxy settings, then run again",
            missing.name
        ),
        _ => Ok(()),
    }
}

/// Whether `error` says no index answered at all (as opposed to an answer without the
/// project).
fn unreachable(error: &refinery_index::IndexError) -> bool {
    use refinery_index::IndexError;
    match error {
        IndexError::Connect { .. } | IndexError::Tls { .. } | IndexError::Timeout { .. } => true,
        IndexError::AllSourcesFailed { errors, .. } => errors.iter().all(unreachable),
        _ => false,
    }
}

pub fn plan(args: &PlanArgs) -> Result<ExitCode> {
    let config = ConfigFile::load(args.config.as_deref())?;
    let settings = plan_settings(args, &config)?;
    let plan = make_run_plan(&settings, &|| {})?;
    let queue = cache_queue(&settings, &|line| eprintln!("{line}"));
    save_plan(&plan, |record| {
        refinery_store::recorder::store_plan(
            queue.as_deref(),
            &refinery_store::recorder::plans_dir(&settings.cache),
            record,
            true,
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!("{}", summary(&plan));
    }
    let missing = plan.count(refinery_plan::Action::Missing);
    let incomplete = missing > 0 || !plan.rejected.is_empty();
    if incomplete && args.json {
        // The JSON goes to stdout; say on stderr why the exit code is not 0.
        eprintln!(
            "plan {}: {missing} missing, {} rejected (see the nodes' reasons)",
            plan.id,
            plan.rejected.len()
        );
    }
    Ok(if incomplete {
        ExitCode::from(crate::exit_codes::INCOMPLETE)
    } else {
        ExitCode::SUCCESS
    })
}

fn envs_dir(cache: &Path) -> std::path::PathBuf {
    var("REFINERY_ENVS_DIR").map_or_else(|| cache.join("envs"), std::path::PathBuf::from)
}

pub fn run(args: &RunArgs, quiet: bool) -> Result<ExitCode> {
    let config = ConfigFile::load(args.plan.config.as_deref())?;
    let settings = plan_settings(&args.plan, &config)?;
    let options = run_options(args, &config)?;
    // A read-only output folder fails now, not after the builds.
    refinery_build::check_output_writable(&options.output)?;
    let reporter = TerminalReporter::new(quiet);
    let plan = make_run_plan(&settings, &|| reporter.message("resolving and planning"))?;
    check_index_reachable(&plan, &IndexClient::new(settings.index.clone())?)?;
    let history = History::open(&settings.history_db).with_context(|| {
        format!(
            "cannot open the history database {}",
            refinery_store::history::display_location(&settings.history_db)
        )
    })?;
    let recorder = StoreRecorder::new(
        history,
        cache_queue(&settings, &|line| reporter.message(line)),
        &settings.cache,
    );
    reporter.message(summary(&plan).lines().next().unwrap_or_default());
    let environment = options.environment.choice(envs_dir(&settings.cache))?;
    if plan.count(refinery_plan::Action::Build) > 0 {
        // A Python no environment can have fails the run now, not every build, and
        // leaves no plan behind.
        environment.check_python(&settings.target.python_str())?;
    }
    save_plan(&plan, |record| recorder.plan(record))?;
    // Ctrl-C or SIGTERM: the running builds are stopped, the rest is not started, and the
    // manifest and locks say what was done.
    let stop = Arc::new(AtomicBool::new(false));
    refinery_worker::shutdown::stop_on_signal(
        stop.clone(),
        "refinery".into(),
        "the running builds are stopped; the manifest and locks are written for what is done",
    )
    .context("cannot watch for SIGTERM and Ctrl-C")?;
    let run_settings = RunSettings {
        output: options.output.clone(),
        cache: settings.cache.clone(),
        manifest_path: options.manifest.clone(),
        history_db: settings.history_db.clone(),
        target: settings.target.clone(),
        environment,
        attempt_timeout: options.attempt_timeout.map(Duration::from_secs),
        max_attempts: options.max_attempts,
        backoff_base: Duration::from_secs_f64(options.backoff_base.max(0.0)),
        backoff_max: Duration::from_secs_f64(options.backoff_max.max(0.0)),
        pip_env: settings.index.pip_env(),
        auditwheel: refinery_build::host_tools::resolve(
            &std::env::var("AUDITWHEEL").unwrap_or_else(|_| "auditwheel".into()),
        ),
        strip: options.environment.strip,
        run_id: run_id(),
        simple_index: options.simple_index,
        jobs: options.jobs,
        compiler_memory: options.environment.compiler_memory,
        recipes: options.recipes,
        catalog: options.catalog.clone(),
        expander: Some(expander(&settings)),
        schedule: match options.schedule {
            Schedule::ShortestFirst => refinery_build::Schedule::ShortestFirst,
            Schedule::Fifo => refinery_build::Schedule::Fifo,
        },
        stop: Some(stop.clone()),
        verify: options.verify.clone(),
        fallback_latest: settings.fallback_latest,
        build_frontend: options.environment.build_frontend,
        pack_mirror: None,
    };
    let client = IndexClient::new(settings.index.clone())?;
    let manifest = execute_plan(&plan, &run_settings, &client, &reporter, &recorder)?;
    drop(reporter);
    let counts: Vec<String> = manifest
        .summary()
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let counts = if counts.is_empty() {
        "nothing to do".to_string()
    } else {
        counts.join(", ")
    };
    println!(
        "{}: {counts}; wheels in {}, manifest {}",
        crate::report::count(manifest.entries.len(), "package"),
        options.output.display(),
        options.manifest.display()
    );
    if !manifest.rejected.is_empty() {
        println!(
            "{} rejected (not in the output; the manifest's `rejected` says why):",
            crate::report::count(manifest.rejected.len(), "input file")
        );
        for r in &manifest.rejected {
            println!("  {}: {}", r.input, r.reason);
        }
    }
    println!(
        "lock of the output: {} (PEP 751) and {} (pip install --require-hashes -r)",
        options.output.join(refinery_build::lock::PYLOCK).display(),
        options
            .output
            .join(refinery_build::lock::REQUIREMENTS_LOCK)
            .display()
    );
    let new_hashes = manifest
        .entries
        .iter()
        .filter(|e| e.metadata.hash_check.is_some() && e.status != refinery_store::Status::Reused)
        .count();
    if new_hashes > 0 {
        println!(
            "note: {new_hashes} wheels were built from hash-checked sdists: their sha256 are new and not in the requirements file (see hash_check in the manifest)"
        );
    }
    if stop.load(Ordering::SeqCst) {
        let unfinished = manifest
            .entries
            .iter()
            .filter(|e| e.metadata.interrupted)
            .count();
        eprintln!(
            "interrupted: {} stopped or not started (`interrupted` in the manifest); run the same command again to finish: what was built is taken from the cache",
            crate::report::count(unfinished, "package")
        );
        return Ok(ExitCode::from(crate::exit_codes::INTERRUPTED));
    }
    Ok(
        if manifest.has_failures() || !manifest.rejected.is_empty() {
            ExitCode::from(crate::exit_codes::INCOMPLETE)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// Plans one build dependency on demand, with the run's target, index and overrides.
fn expander(settings: &PlanSettings) -> refinery_build::pipeline::Expander {
    let settings = settings.clone();
    refinery_build::pipeline::Expander(std::sync::Arc::new(move |requirement: &str| {
        let work = tempfile::tempdir()?;
        std::fs::write(
            work.path().join("requirements.txt"),
            format!("{requirement}\n"),
        )?;
        let client = IndexClient::new(settings.index.clone())?;
        let options = PlanOptions {
            target: settings.target.clone(),
            strategy: settings.strategy,
            fallback_latest: settings.fallback_latest,
            max_deps: settings.max_deps,
            requirements_path: None,
            constraints_path: settings.constraints_path.clone(),
            overrides: settings.overrides.clone(),
            known_failures: Vec::new(),
            allow_prereleases: settings.pre,
            // Build requirements are not hash-checked (as in pip); the binary controls apply.
            pip: refinery_plan::PipOptions {
                require_hashes: false,
                binary_options: settings.pip.binary_options.clone(),
            },
        };
        make_plan(
            work.path(),
            &settings.cache,
            &options,
            &settings.index,
            &client,
        )
        .map_err(Into::into)
    }))
}

fn run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("run-{}-{}", now.as_secs(), std::process::id())
}

pub fn history(args: &HistoryArgs) -> Result<ExitCode> {
    let db = args
        .db
        .clone()
        .or_else(|| var("HISTORY_DB").map(Into::into))
        .or_else(|| args.cache.as_ref().map(|c| c.join("history.db")))
        .context("pass --db FILE or --cache DIR (or set HISTORY_DB)")?;
    let is_url = db
        .to_str()
        .is_some_and(refinery_store::history::is_postgres_url);
    if !is_url && !db.is_file() {
        anyhow::bail!(
            "no history database at {}: nothing has run with this cache yet",
            db.display()
        );
    }
    let history = History::open(&db)?;
    let (events, attempts) = match &args.package {
        Some(package) => (
            history.events_for(package, args.recent)?,
            history.attempts_for(package, args.recent)?,
        ),
        None => (
            history.recent_events(args.recent)?,
            history.recent_attempts(args.recent)?,
        ),
    };
    let failures = history.top_failures(args.top_failures)?;
    if args.json {
        let value = serde_json::json!({
            "recent": events,
            "attempts": attempts,
            "top_failures": failures,
            "status_counts": history.status_counts()?,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("Recent events:");
    for e in &events {
        println!(
            "  {} {:<10} {} {} {}",
            e.timestamp,
            e.kind,
            e.package.as_deref().unwrap_or("-"),
            e.version.as_deref().unwrap_or(""),
            e.detail
        );
    }
    if !attempts.is_empty() {
        println!("Recent build attempts:");
    }
    for a in &attempts {
        println!(
            "  {} {} attempt {} {:<8} {:.1}s {} {}",
            a.package,
            a.version,
            a.attempt,
            a.status,
            a.duration_secs,
            a.variant,
            a.log_path.as_deref().unwrap_or("")
        );
    }
    println!(
        "Top failures:{}",
        if failures.is_empty() { " none" } else { "" }
    );
    for f in &failures {
        println!(
            "  {:<24} {} failed attempts, last {}: {}",
            f.package, f.failures, f.last_version, f.last_detail
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Cache folder, queue database URL and history database of the control plane commands.
fn store_paths(
    store: &crate::cli::StoreArgs,
) -> Result<(std::path::PathBuf, Option<String>, std::path::PathBuf)> {
    let cache = store
        .cache
        .clone()
        .context("no cache folder: pass --cache DIR (it keeps the queue, logs, the history and the wheel store)")?;
    let database_url = store
        .database_url
        .clone()
        .or_else(|| {
            store
                .queue_path
                .as_ref()
                .map(|p| format!("sqlite:{}", p.display()))
        })
        .or_else(|| var("DATABASE_URL"));
    // With a PostgreSQL database URL the history lives there too, so every worker on every
    // host writes to the shared one: the URL travels as the history "path" (`History::open`
    // recognizes it). `--history-db`/`HISTORY_DB` still choose another place.
    let history_db = store
        .history_db
        .clone()
        .or_else(|| var("HISTORY_DB").map(Into::into))
        .unwrap_or_else(|| match database_url.as_deref().map(str::trim) {
            Some(url) if refinery_store::history::is_postgres_url(url) => url.into(),
            _ => cache.join("history.db"),
        });
    Ok((cache, database_url, history_db))
}

fn worker_options(
    cache: &Path,
    history_db: &Path,
    index: &crate::cli::IndexArgs,
    hints_file: Option<&Path>,
) -> Result<refinery_worker::worker::WorkerOptions> {
    let mut options =
        refinery_worker::worker::WorkerOptions::new(cache.to_path_buf(), envs_dir(cache));
    options.history_db = history_db.to_path_buf();
    options.index =
        crate::config::index_config(index, &crate::config::ConfigFile::default(), cache);
    options.pip_env = options.index.pip_env();
    // serve's in-process worker has no flag: the variable or the default.
    options.compiler_memory = crate::config::compiler_memory(None, &ConfigFile::default())?;
    options.strip = crate::config::strip(false)?;
    if let Some(path) = hints_file {
        options.catalog.extend_from_file(path)?;
    }
    Ok(options)
}

/// A repeatable flag's values, or else the comma-separated list in the variable `name`.
fn flag_or_list_var(values: &[String], name: &str) -> Vec<String> {
    if !values.is_empty() {
        return values.to_vec();
    }
    var(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// A non-negative, finite number of seconds given as `flag`.
fn seconds(flag: &str, value: f64) -> Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        anyhow::anyhow!("{flag} {value} is not a number of seconds (give 0 or more, e.g. 10)")
    })
}

/// `refinery serve`.
pub fn serve(args: &crate::cli::ServeArgs) -> Result<ExitCode> {
    let (cache, database_url, history_db) = store_paths(&args.store)?;
    let target = target(&args.target, &ConfigFile::default(), false)?;
    let mut config = refinery_server::ServerConfig::new(cache.clone());
    config.database_url = database_url;
    config.history_db = history_db.clone();
    config.worker_token = crate::env_vars::secret(
        "WORKER_TOKEN",
        args.worker_token_file.as_deref(),
        "WORKER_TOKEN_FILE",
    )?;
    config.read_token = match &args.read_token {
        Some(token) => {
            eprintln!(
                "refinery serve: warning: --read-token shows in `ps` to every user of this \
                 machine; prefer READ_TOKEN or --read-token-file"
            );
            Some(token.clone())
        }
        None => crate::env_vars::secret(
            "READ_TOKEN",
            args.read_token_file.as_deref(),
            "READ_TOKEN_FILE",
        )?,
    };
    config.cors_origins = flag_or_list_var(&args.cors_origins, "CORS_ORIGINS");
    config.allowed_hosts = flag_or_list_var(&args.allowed_hosts, "REFINERY_ALLOWED_HOSTS");
    // `--host NAME` is a name the server answers to.
    if args.host.parse::<std::net::IpAddr>().is_err() {
        config.allowed_hosts.push(args.host.clone());
    }
    config.python = target.python_str();
    config.platform_tag = target.platform_tag().to_string();
    config.index = crate::config::index_config(&args.index, &ConfigFile::default(), &cache);
    if let Some(json) = var("PLAN_OVERRIDES_JSON") {
        config.overrides = refinery_plan::parse_overrides(&json, "PLAN_OVERRIDES_JSON")?;
    }
    config.allow_index_options = args.allow_index_options;
    config.max_wheel_bytes = args.max_upload_mib.max(1) * 1024 * 1024;
    config.max_restarts = args.max_restarts.max(0);
    config.hints_catalog = args.hints_file.clone();
    config.packs_dir = envs_dir(&cache).join("packs");
    config.shutdown_grace = seconds("--shutdown-grace", args.shutdown_grace)?;
    config.header_read_timeout = seconds("--header-read-timeout", args.header_read_timeout)?;
    config.idle_timeout = seconds("--idle-timeout", args.idle_timeout)?;
    config.max_connections = args.max_connections.max(1);
    config.max_requirements = args.max_requirements.max(1);
    config.max_queued_plans = args.max_queued_plans.max(1);
    config.plan_timeout = seconds("--plan-timeout", args.plan_timeout)?.max(Duration::from_secs(1));
    config.max_concurrent_uploads = args.max_concurrent_uploads.max(1);
    config.min_upload_rate = args.min_upload_kib_per_sec.max(1) * 1024;
    config.auto_plan = env_bool("AUTO_PLAN")?;
    config.auto_build = env_bool("AUTO_BUILD")?;
    config.worker_webhook_url = var("WORKER_WEBHOOK_URL");
    config.worker_autorun_interval = match var("WORKER_AUTORUN_INTERVAL") {
        Some(v) => Some(Duration::from_secs_f64(
            v.parse::<f64>()
                .with_context(|| {
                    format!("WORKER_AUTORUN_INTERVAL={v:?} is not a number of seconds")
                })?
                .max(1.0),
        )),
        None => None,
    };
    if args.local_worker || config.worker_autorun_interval.is_some() {
        config.local_worker = Some(worker_options(
            &cache,
            &history_db,
            &args.index,
            args.hints_file.as_deref(),
        )?);
    }
    let addr = std::net::ToSocketAddrs::to_socket_addrs(&(args.host.as_str(), args.port))
        .with_context(|| format!("cannot resolve --host {}", args.host))?
        .next()
        .with_context(|| format!("--host {} has no address", args.host))?;
    refinery_server::serve(config, addr)?;
    Ok(ExitCode::SUCCESS)
}

/// `refinery worker`.
pub fn worker(args: &crate::cli::WorkerArgs) -> Result<ExitCode> {
    let (cache, database_url, history_db) = store_paths(&args.store)?;
    let mut options = worker_options(&cache, &history_db, &args.index, args.hints_file.as_deref())?;
    options.verify = crate::config::verify_settings(&args.verification, &ConfigFile::default())?;
    if let Some(id) = &args.worker_id {
        options.id = id.clone();
    }
    options.lease = Duration::from_secs(args.lease_secs.max(2));
    options.heartbeat = Duration::from_secs(args.heartbeat_secs.max(1)).min(options.lease / 2);
    options.poll = Duration::from_secs_f64(args.poll_secs.max(0.05));
    options.keep_polling = args.watch || env_bool("AUTO_BUILD")?.unwrap_or(false);
    options.max_jobs = args.max_jobs;
    options.max_attempts = args.max_attempts.max(1);
    options.attempt_timeout = Some(Duration::from_secs(args.attempt_timeout.max(1)));
    let environment =
        crate::config::environment_options(&args.environment, &ConfigFile::default())?;
    options.build_frontend = environment.build_frontend;
    options.compiler_memory = environment.compiler_memory;
    options.strip = environment.strip;
    options.environment = environment.choice(envs_dir(&cache))?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    refinery_worker::shutdown::stop_on_signal(
        stop.clone(),
        format!("worker {}", options.id),
        "the running build is stopped and its job goes back to the queue",
    )
    .context("cannot watch for SIGTERM and Ctrl-C")?;
    let server = args.server.clone().or_else(|| var("REFINERY_SERVER"));
    let summary = match server {
        Some(url) => {
            let source = refinery_worker::remote::RemoteSource::new(
                &url,
                crate::env_vars::secret("WORKER_TOKEN", None, "WORKER_TOKEN_FILE")?,
                options.lease,
            )?;
            eprintln!(
                "worker {}: jobs from {}",
                options.id,
                refinery_worker::worker::JobSource::describe(&source)
            );
            refinery_worker::worker::run_worker(&options, &source, &stop)
        }
        None => {
            let store = refinery_store::open_queue(database_url.as_deref(), &cache)?;
            options.catalog =
                refinery_worker::worker::catalog_with_user_hints(options.catalog.clone(), &*store);
            let source = refinery_worker::worker::LocalSource::new(store, &cache);
            eprintln!(
                "worker {}: jobs from {}",
                options.id,
                refinery_worker::worker::JobSource::describe(&source)
            );
            if database_url
                .as_deref()
                .is_some_and(refinery_store::history::is_postgres_url)
            {
                // The database is shared, the wheels' bytes are not: `serve` lists only
                // what its own store holds.
                eprintln!(
                    "worker {}: wheels are stored under {}: a server lists them only when that is its --cache folder too (this machine or a shared file system); otherwise run the worker with --server",
                    options.id,
                    cache.join("cas").display()
                );
            }
            refinery_worker::worker::run_worker(&options, &source, &stop)
        }
    }?;
    println!(
        "worker {}: {} jobs, {} succeeded, {} failed, {} lost their lease, {} handed back",
        options.id,
        summary.jobs,
        summary.succeeded,
        summary.failed,
        summary.lost,
        summary.handed_back
    );
    Ok(ExitCode::SUCCESS)
}

/// `refinery queue`.
pub fn queue(args: &crate::cli::QueueArgs) -> Result<ExitCode> {
    let server = args.server.clone().or_else(|| var("REFINERY_SERVER"));
    let value = match server {
        Some(url) => refinery_worker::remote::remote_queue(
            &url,
            crate::env_vars::secret("WORKER_TOKEN", None, "WORKER_TOKEN_FILE")?.as_deref(),
            args.list,
        )?,
        None => {
            let (cache, database_url, _) = store_paths(&args.store)?;
            let store = refinery_store::open_queue(database_url.as_deref(), &cache)?;
            let stats = store.stats()?;
            let mut value = serde_json::to_value(&stats)?;
            value["workers"] = serde_json::to_value(store.workers()?)?;
            if args.list {
                value["jobs"] =
                    serde_json::to_value(store.jobs(&refinery_store::queue::JobFilter {
                        limit: 1000,
                        ..Default::default()
                    })?)?;
            }
            value
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    let count = |status: &str| value["by_status"][status].as_u64().unwrap_or(0);
    println!(
        "queue length: {} (pending {}, retry {}; leased {}, building {}; built {}, failed {})",
        value["depth"].as_u64().unwrap_or(0),
        count("pending"),
        count("retry"),
        count("leased"),
        count("building"),
        count("built"),
        count("failed")
    );
    if let Some(jobs) = value["jobs"].as_array() {
        for job in jobs {
            println!(
                "  {:>6} {:<22} {} {} (python {}, attempt {}) {}",
                job["id"],
                job["status"].as_str().unwrap_or(""),
                job["package"].as_str().unwrap_or(""),
                job["version"].as_str().unwrap_or(""),
                job["python"].as_str().unwrap_or(""),
                job["attempt"],
                job["detail"].as_str().unwrap_or("")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `refinery index --output DIR`.
pub fn index(args: &crate::cli::IndexCmdArgs) -> Result<ExitCode> {
    let (cache, database_url, history_db) = store_paths(&args.store)?;
    // A mistyped --cache would index nothing, over an index written before.
    let history_exists = history_db.is_file()
        || history_db
            .to_str()
            .is_some_and(refinery_store::history::is_postgres_url);
    if database_url.is_none() && !cache.join("queue.db").is_file() && !history_exists {
        anyhow::bail!(
            "{} is not a refinery cache (it has no queue.db, and no history): nothing to index\n\
             hint: pass the --cache of a run or of `refinery serve`, or --database-url",
            cache.display()
        );
    }
    let store = refinery_store::open_queue(database_url.as_deref(), &cache)?;
    let cas = refinery_store::Cas::new(cache.join("cas").join("v1"));
    let refinery_server::simple::StaticIndex {
        projects,
        wheels,
        not_in_store,
    } = refinery_server::simple::write_static_index(
        &*store,
        &cas,
        Some(&history_db),
        &args.output,
    )?;
    for filename in &not_in_store {
        eprintln!(
            "warning: {filename} is published but not in {}'s store (a worker on the shared database with a --cache of its own): left out",
            cache.display()
        );
    }
    println!(
        "{projects} projects, {wheels} wheels: {}/simple/ (serve {} with any web server)",
        args.output.display(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
