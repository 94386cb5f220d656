//! The control plane of the s390x Wheel Refinery.
//!
//! * [`start`] / [`serve`]: one axum server with the JSON API (events, packages, top
//!   failures and slowest, hints, logs and live logs over SSE, inputs → plans → builds, the
//!   build queue and its worker protocol, settings), token auth, Prometheus `/metrics`,
//!   `/api/openapi.json`, and the pip-compatible `/simple/` index (PEP 503 HTML and PEP 691
//!   JSON, PEP 658 metadata) served from the content-addressed store.
//! * [`refinery_worker`]: the build worker (`refinery worker`, and the in-process drain): claims jobs from the store (or from
//!   a remote control plane over HTTP), builds each with the build engine, streams its log
//!   and heartbeats.
//! * [`ui`]: the web dashboard (`ui/`, React), embedded at compile time and served at `/`
//!   with a fallback to its `index.html` for deep links.
//! * [`simple::write_static_index`]: the same index as static files (`refinery index`).
//!
//! The store ([`refinery_store::queue`]) is SQLite under `--cache` by default and
//! PostgreSQL with `--database-url postgres://…`.

pub mod api;
pub mod auth;
pub mod cors;
pub mod error;
pub mod listen;
pub mod liveness;
pub mod metrics;
pub mod openapi;
pub mod origin;
pub mod package_status;
pub mod plan_queue;
pub mod planned;
pub mod planning;
pub mod recording;
pub mod simple;
pub mod token_throttle;
pub mod ui;
pub mod uploads;
pub mod validate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use refinery_index::IndexConfig;
use refinery_pep::Target;
use refinery_plan::Overrides;
use refinery_store::{Cas, History, HistoryError, QueueStore};
use tokio::net::TcpListener;

pub use error::ApiError;

/// Everything `refinery serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub cache: PathBuf,
    /// `None`: SQLite at `<cache>/queue.db`.
    pub database_url: Option<String>,
    /// The history: an SQLite file, or a PostgreSQL URL (`History::open` takes either).
    /// Left at the default `<cache>/history.db` while `database_url` is PostgreSQL,
    /// [`AppState::new`] puts the history in that database too.
    pub history_db: PathBuf,
    /// Guards mutating and worker endpoints.
    pub worker_token: Option<String>,
    /// Guards the reads, when set.
    pub read_token: Option<String>,
    /// Origins (`https://host:port`) whose pages may call the API from the browser, with
    /// the token cookie (a dashboard served from elsewhere). Empty: same origin only.
    pub cors_origins: Vec<String>,
    /// Host names (`NAME` or `NAME:PORT`) this server answers to besides `localhost`,
    /// its loopback and bound addresses: its name behind a reverse proxy or on the
    /// network. Other `Host` headers are refused (DNS rebinding; see [`origin`]).
    pub allowed_hosts: Vec<String>,
    /// Default target of uploads.
    pub python: String,
    pub platform_tag: String,
    /// The index that plans resolve against.
    pub index: IndexConfig,
    /// Per-package overrides applied to every plan.
    pub overrides: Overrides,
    /// Let uploaded requirements files name other indexes (`-i`, `--extra-index-url`,
    /// `-f`, `--trusted-host`).
    pub allow_index_options: bool,
    pub max_requirements_bytes: usize,
    /// Most requirements one uploaded file may hold (a 100,000-line file held the planner
    /// for 17 s and 394 MB).
    pub max_requirements: usize,
    pub max_wheel_bytes: usize,
    /// Most uploads (people's and workers') streaming to disk at once.
    pub max_concurrent_uploads: usize,
    /// How long an upload waits for a slot before it is answered 503 `uploads_busy`.
    pub upload_slot_wait: Duration,
    /// Bytes per second an upload must average after its first `upload_grace` (408 below).
    pub min_upload_rate: usize,
    pub upload_grace: Duration,
    /// Most inputs waiting for the planner; beyond it uploads with `AUTO_PLAN` and plan
    /// requests answer 503.
    pub max_queued_plans: usize,
    /// Longest time one plan may take; past it the input fails and says so.
    pub plan_timeout: Duration,
    /// How often expired leases are taken back.
    pub reap_interval: Duration,
    pub max_restarts: i64,
    /// Initial `AUTO_PLAN` / `AUTO_BUILD` (written to the stored settings at start when set).
    pub auto_plan: Option<bool>,
    pub auto_build: Option<bool>,
    /// `POST /api/worker/trigger` calls this instead of draining in-process.
    pub worker_webhook_url: Option<String>,
    /// Drain the queue in-process this often.
    pub worker_autorun_interval: Option<Duration>,
    /// The native library packs served to remote workers (`GET /api/packs/{key}`): the
    /// packs folder of the environments the in-process worker builds in (default
    /// `<cache>/envs/packs`).
    pub packs_dir: PathBuf,
    /// The hint catalog file (default `hints/catalog.toml` in the working folder).
    pub hints_catalog: Option<PathBuf>,
    /// How an in-process drain builds (None: `POST /api/worker/trigger` without a webhook
    /// is refused).
    pub local_worker: Option<refinery_worker::worker::WorkerOptions>,
    /// After SIGTERM / Ctrl-C, how long open requests may take to finish before their
    /// connections are dropped (live-log streams end at once).
    pub shutdown_grace: Duration,
    /// How long a client has to send a request head (also the keep-alive wait between
    /// requests): partial-header connections are closed after it.
    pub header_read_timeout: Duration,
    /// A connection that moves no byte either way for this long is closed (a stalled
    /// body, a client that stopped reading). Live-log streams ping every 5 s.
    pub idle_timeout: Duration,
    /// Most connections open at once; at the cap a new one pushes out the oldest idle one.
    pub max_connections: usize,
}

impl ServerConfig {
    /// Defaults for a cache folder.
    pub fn new(cache: PathBuf) -> ServerConfig {
        ServerConfig {
            history_db: cache.join("history.db"),
            database_url: None,
            worker_token: None,
            read_token: None,
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            python: "3.11".into(),
            platform_tag: "manylinux2014_s390x".into(),
            index: IndexConfig {
                cache_dir: Some(cache.join("http")),
                ..IndexConfig::default()
            },
            overrides: Overrides::new(),
            allow_index_options: false,
            max_requirements_bytes: 1024 * 1024,
            max_requirements: 5000,
            max_wheel_bytes: 512 * 1024 * 1024,
            max_concurrent_uploads: 8,
            upload_slot_wait: Duration::from_secs(10),
            min_upload_rate: 64 * 1024,
            upload_grace: Duration::from_secs(30),
            max_queued_plans: 1000,
            plan_timeout: Duration::from_secs(300),
            reap_interval: Duration::from_secs(5),
            max_restarts: refinery_store::queue::DEFAULT_MAX_RESTARTS,
            auto_plan: None,
            auto_build: None,
            worker_webhook_url: None,
            worker_autorun_interval: None,
            local_worker: None,
            hints_catalog: None,
            packs_dir: cache.join("envs").join("packs"),
            shutdown_grace: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            cache,
        }
    }

    pub fn target(&self) -> Result<Target, ApiError> {
        Target::new(&self.python, &self.platform_tag)
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }
}

/// A few history connections, reused (a [`History`] is not `Sync`). With an SQLite file
/// it remembers which file it opened first and refuses every call once the path names
/// another file or none ([`HistoryError::Replaced`]), as the queue store does.
pub struct HistoryPool {
    path: PathBuf,
    idle: Mutex<Vec<History>>,
    opened: OnceLock<refinery_store::file_id::FileId>,
}

impl HistoryPool {
    pub fn new(path: PathBuf) -> Self {
        HistoryPool {
            path,
            idle: Mutex::new(Vec::new()),
            opened: OnceLock::new(),
        }
    }

    /// Fails once the SQLite file opened first was deleted or replaced.
    pub fn check_same_file(&self) -> Result<(), HistoryError> {
        if refinery_store::history::is_postgres_url(&self.path.to_string_lossy()) {
            return Ok(());
        }
        match self.opened.get() {
            None => {
                if let Ok(id) = refinery_store::file_id::FileId::of(&self.path) {
                    let _ = self.opened.set(id);
                }
                Ok(())
            }
            Some(opened) => match opened.changed(&self.path) {
                None => Ok(()),
                Some(what) => Err(HistoryError::Replaced {
                    path: self.path.clone(),
                    what,
                }),
            },
        }
    }

    /// Runs `f` with a connection.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&History) -> Result<T, HistoryError>,
    ) -> Result<T, HistoryError> {
        self.check_same_file()?;
        let pooled = self.idle.lock().expect("history pool").pop();
        let history = match pooled {
            Some(h) => h,
            None => History::open(&self.path)?,
        };
        let result = f(&history);
        let mut idle = self.idle.lock().expect("history pool");
        if idle.len() < 8 {
            idle.push(history);
        }
        result
    }
}

/// Shared by every handler.
pub struct AppState {
    pub config: ServerConfig,
    pub store: Arc<dyn QueueStore>,
    pub history: HistoryPool,
    pub cas: Cas,
    pub metrics: metrics::Metrics,
    pub index: simple::IndexCache,
    /// When the cache last took health's write probe, and how it went.
    pub last_write_probe: Mutex<Option<(std::time::Instant, Result<(), ApiError>)>>,
    /// Wrong tokens per client address.
    pub token_throttle: token_throttle::TokenThrottle,
    /// Slots of the uploads streaming at once.
    pub uploads: tokio::sync::Semaphore,
    /// The one planner and its queue.
    pub plan_queue: plan_queue::PlanQueue,
    /// A drain in progress (trigger / autorun).
    pub draining: std::sync::atomic::AtomicBool,
    /// The address the server listens on, once bound (the `Host` check compares with it).
    pub bound: OnceLock<SocketAddr>,
    /// Cancelled when the server shuts down: long-lived responses (live logs) end.
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// Why the server did not start. Each names the flag, file or address concerned.
#[derive(Debug, thiserror::Error)]
pub enum ServerStartError {
    #[error(transparent)]
    CorsOrigin(#[from] cors::CorsOriginError),
    #[error(transparent)]
    AllowedHost(#[from] origin::AllowedHostError),
    #[error(transparent)]
    Queue(#[from] refinery_store::QueueError),
    #[error(transparent)]
    History(#[from] HistoryError),
    /// `source` (from `fs_err`) names the cache folder.
    #[error("cannot create the cache folder: {source}")]
    Cache {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the server's runtime: {source}")]
    Runtime {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the server thread: {source}")]
    Thread {
        #[source]
        source: std::io::Error,
    },
    /// Giving back the inputs a stopped server left `planning` failed.
    #[error("{0}")]
    Recover(String),
}

impl AppState {
    pub fn new(mut config: ServerConfig) -> Result<Arc<AppState>, ServerStartError> {
        let store = refinery_store::open_queue(config.database_url.as_deref(), &config.cache)?;
        // Scale-out: with PostgreSQL the history is shared by every worker on every host.
        if let Some(url) = config
            .database_url
            .as_deref()
            .map(str::trim)
            .filter(|u| refinery_store::history::is_postgres_url(u))
        {
            if config.history_db == config.cache.join("history.db") {
                config.history_db = PathBuf::from(url);
            }
        }
        Self::with_store(config, store)
    }

    pub fn with_store(
        config: ServerConfig,
        store: Arc<dyn QueueStore>,
    ) -> Result<Arc<AppState>, ServerStartError> {
        for origin in &config.cors_origins {
            cors::parse_origin(origin)?;
        }
        for host in &config.allowed_hosts {
            origin::parse_allowed_host(host)?;
        }
        fs_err::create_dir_all(&config.cache)
            .map_err(|source| ServerStartError::Cache { source })?;
        // Open once so a broken history database is reported at start.
        History::open(&config.history_db)?;
        if config.auto_plan.is_some() || config.auto_build.is_some() {
            let mut settings = store.settings()?;
            if let Some(v) = config.auto_plan {
                settings.auto_plan = v;
            }
            if let Some(v) = config.auto_build {
                settings.auto_build = v;
            }
            store.put_settings(&settings)?;
        }
        let history = HistoryPool::new(config.history_db.clone());
        history.check_same_file()?;
        let state = Arc::new(AppState {
            cas: Cas::new(config.cache.join("cas").join("v1")),
            history,
            metrics: metrics::Metrics::default(),
            index: simple::IndexCache::default(),
            plan_queue: plan_queue::PlanQueue::default(),
            token_throttle: token_throttle::TokenThrottle::default(),
            last_write_probe: Mutex::new(None),
            uploads: tokio::sync::Semaphore::new(config.max_concurrent_uploads.max(1)),
            draining: std::sync::atomic::AtomicBool::new(false),
            bound: OnceLock::new(),
            shutdown: tokio_util::sync::CancellationToken::new(),
            store,
            config,
        });
        let spooled = uploads::clean_spool(&state.config.cache);
        if spooled > 0 {
            eprintln!("refinery serve: removed {spooled} partial upload(s) a stopped server left");
        }
        plan_queue::PlanQueue::start(&state);
        let recovered =
            plan_queue::recover(&state).map_err(|e| ServerStartError::Recover(e.message))?;
        if recovered > 0 {
            eprintln!(
                "refinery serve: {recovered} input(s) left `planning` by the last run are pending again"
            );
        }
        Ok(state)
    }
}

/// Runs blocking work (database, files) off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("a background task failed: {e}")))?
}

/// A server running in the background (tests, `refinery serve`).
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, finishes open requests, and waits.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Starts the server on its own runtime thread, bound to `addr` (port 0 picks one).
pub fn start(config: ServerConfig, addr: SocketAddr) -> Result<RunningServer, ServerStartError> {
    start_with_state(AppState::new(config)?, addr)
}

/// Like [`start`] with a store opened by the caller (e.g. a PostgreSQL schema per test).
pub fn start_with_store(
    config: ServerConfig,
    store: Arc<dyn QueueStore>,
    addr: SocketAddr,
) -> Result<RunningServer, ServerStartError> {
    start_with_state(AppState::with_store(config, store)?, addr)
}

fn start_with_state(
    state: Arc<AppState>,
    addr: SocketAddr,
) -> Result<RunningServer, ServerStartError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("refinery-server")
        .build()
        .map_err(|source| ServerStartError::Runtime { source })?;
    let listen = |source| ServerStartError::Listen { addr, source };
    let listener = runtime.block_on(TcpListener::bind(addr)).map_err(listen)?;
    let bound = listener.local_addr().map_err(listen)?;
    let _ = state.bound.set(bound);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread_state = state.clone();
    let thread = std::thread::Builder::new()
        .name("refinery-server".into())
        .spawn(move || {
            runtime.block_on(async move {
                spawn_background(thread_state.clone());
                let app = api::router(thread_state.clone());
                listen::run(listener, app, thread_state, async {
                    let _ = rx.await;
                })
                .await;
            });
            runtime.shutdown_timeout(Duration::from_secs(2));
        })
        .map_err(|source| ServerStartError::Thread { source })?;
    Ok(RunningServer {
        addr: bound,
        state,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

/// Runs the server in the foreground until Ctrl-C / SIGTERM, then shuts down within
/// [`ServerConfig::shutdown_grace`].
pub fn serve(config: ServerConfig, addr: SocketAddr) -> Result<(), ServerStartError> {
    let state = AppState::new(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| ServerStartError::Runtime { source })?;
    let grace = state.config.shutdown_grace;
    let result = runtime.block_on(serve_until_signal(state, addr));
    // Blocking work still running (a plan, a database call) must not hold the exit.
    runtime.shutdown_timeout(grace.min(Duration::from_secs(2)));
    result
}

async fn serve_until_signal(
    state: Arc<AppState>,
    addr: SocketAddr,
) -> Result<(), ServerStartError> {
    let listen = |source| ServerStartError::Listen { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(listen)?;
    let bound = listener.local_addr().map_err(listen)?;
    let _ = state.bound.set(bound);
    announce(&state, bound);
    spawn_background(state.clone());
    let drained = listen::run(
        listener,
        api::router(state.clone()),
        state.clone(),
        signal(),
    )
    .await;
    if drained.dropped > 0 {
        eprintln!(
            "refinery serve: closed {} connection(s) still open after the {} s grace period",
            drained.dropped,
            state.config.shutdown_grace.as_secs_f64()
        );
    }
    eprintln!("refinery serve: stopped");
    Ok(())
}

/// What the server says at start: where it listens, its stores, what is open.
fn announce(state: &AppState, bound: SocketAddr) {
    eprintln!(
        "refinery serve: listening on http://{bound} (queue: {} {}, history: {})",
        state.store.backend(),
        state.store.location(),
        refinery_store::history::display_location(&state.config.history_db)
    );
    eprintln!(
        "refinery serve: {}",
        auth::exposure(
            state.config.worker_token.as_deref(),
            state.config.read_token.as_deref()
        )
    );
    eprintln!(
        "refinery serve: {}",
        origin::describe_hosts(bound, &state.config.allowed_hosts)
    );
    if let Some(warning) = ui::missing_warning() {
        eprintln!("refinery serve: warning: {warning}");
    }
    for warning in auth::token_warnings(
        state.config.worker_token.as_deref(),
        state.config.read_token.as_deref(),
    ) {
        eprintln!("refinery serve: {warning}");
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    eprintln!("refinery serve: shutting down");
}

/// Takes back expired leases, and puts each attempt lost with its worker into the
/// history (status `lost`), so the package's history shows it.
fn reap_and_record(
    state: &AppState,
) -> Result<Vec<refinery_store::queue::ReapedJob>, refinery_store::queue::QueueError> {
    let reaped = state.store.reap(state.config.max_restarts)?;
    if !reaped.is_empty() {
        let recorded = state.history.with(|h| {
            reaped.iter().try_for_each(|job| {
                h.record_attempt(&refinery_store::Attempt::lost(job))
                    .map(drop)
            })
        });
        if let Err(e) = recorded {
            tracing::warn!("reaper: the lost attempts are not in the history: {e}");
        }
    }
    Ok(reaped)
}

/// The reaper, the index refresher and the autorun drain.
fn spawn_background(state: Arc<AppState>) {
    let reaper = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(reaper.config.reap_interval);
        loop {
            tick.tick().await;
            let s = reaper.clone();
            let result = tokio::task::spawn_blocking(move || reap_and_record(&s)).await;
            match result {
                Ok(Ok(reaped)) => {
                    for job in &reaped {
                        reaper.metrics.lease_expired(job.requeued);
                        // The worker's name as it is (`?` when the job had no owner),
                        // not Rust's `Some("…")`.
                        tracing::warn!(
                            job = job.id,
                            worker = %job.worker.as_deref().unwrap_or("?"),
                            requeued = job.requeued,
                            "lease expired"
                        );
                    }
                }
                Ok(Err(e)) => tracing::warn!("reaper: {e}"),
                Err(e) => tracing::warn!("reaper task: {e}"),
            }
        }
    });
    let refresher = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            let s = refresher.clone();
            let _ = tokio::task::spawn_blocking(move || simple::refresh(&s)).await;
        }
    });
    if let Some(interval) = state.config.worker_autorun_interval {
        let drainer = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.tick().await;
            loop {
                tick.tick().await;
                let _ = api::trigger_drain(drainer.clone()).await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With a PostgreSQL database URL (and the default history path), the server's history
    /// lives in that database: what one handle writes, any other opened on the URL reads.
    #[test]
    fn postgres_database_url_moves_the_history_there() {
        let Some(base) = refinery_test_support::test_database_url() else {
            return;
        };
        let schema = format!(
            "refinery_server_history_{}_{}",
            std::process::id(),
            refinery_store::queue::now_ms()
        );
        let mut admin = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE SCHEMA \"{schema}\""))
            .unwrap();
        // Queue and history both land in the test's schema.
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
        let dir = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(dir.path().to_path_buf());
        config.database_url = Some(url.clone());
        let result = std::panic::catch_unwind(|| {
            let state = AppState::new(config).unwrap();
            assert_eq!(state.config.history_db, PathBuf::from(&url));
            state
                .history
                .with(|h| {
                    assert!(h.is_postgres());
                    h.record_event(&refinery_store::Event::new(
                        refinery_store::EventKind::Plan,
                        "from the server",
                    ))
                })
                .unwrap();
            let other = History::open_url(&url).unwrap();
            let events = other.recent_events(10).unwrap();
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].detail, "from the server");
            assert!(!dir.path().join("history.db").exists());
        });
        let _ = admin.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"));
        if let Err(panic) = result {
            std::panic::resume_unwind(panic);
        }
    }
}
