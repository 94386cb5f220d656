//! Every environment variable the refinery reads, in one place.

/// (name, what it does). Shown by `refinery --help` and in the README.
pub const ENV_VARS: &[(&str, &str)] = &[
    (
        "REQUIREMENTS_PATH",
        "requirements.txt to plan from instead of <input>/requirements.txt",
    ),
    (
        "CONSTRAINTS_PATH",
        "constraints file applied to the resolution (pip's -c format)",
    ),
    (
        "INDEX_URL",
        "package index (PEP 503/691) to resolve and download from; default https://pypi.org/simple",
    ),
    ("EXTRA_INDEX_URL", "further indexes, separated by spaces"),
    ("INDEX_USERNAME", "user name for the indexes (basic auth)"),
    (
        "INDEX_PASSWORD",
        "password for the indexes (basic auth; never printed)",
    ),
    (
        "MAX_DEPS",
        "most packages the dependency expansion may add (default 1000)",
    ),
    (
        "PLAN_OVERRIDES_JSON",
        "per-package overrides as JSON: pin, skip, variant, system_packages, env",
    ),
    (
        "REFINERY_ZIG",
        "the zig binary for glibc-targeted builds (default: the ziglang package of the host's python3)",
    ),
    (
        "HISTORY_DB",
        "history database file (default <cache>/history.db)",
    ),
    (
        "WORKER_TOKEN",
        "token that protects the queue and worker endpoints of `refinery serve`",
    ),
    (
        "WORKER_TOKEN_FILE",
        "file holding WORKER_TOKEN (its first line), kept out of the environment and `ps`",
    ),
    (
        "READ_TOKEN",
        "token that `refinery serve` also requires for reads (like --read-token)",
    ),
    (
        "READ_TOKEN_FILE",
        "serve: file holding the read token (its first line; like --read-token-file)",
    ),
    (
        "CORS_ORIGINS",
        "serve: origins (https://host[:port], comma-separated) whose dashboards may call the API (like --cors-origin)",
    ),
    (
        "REFINERY_ALLOWED_HOSTS",
        "serve: host names (NAME or NAME:PORT, comma-separated) it answers to besides localhost and its addresses (like --allowed-host)",
    ),
    (
        "DATABASE_URL",
        "queue database of serve/worker/queue, and where a run records its plan and packages for serve: postgres://USER:PASS@HOST/DB (default SQLite <cache>/queue.db)",
    ),
    (
        "AUTO_PLAN",
        "serve: plan uploads as they arrive (true/false; changeable at /api/settings)",
    ),
    (
        "AUTO_BUILD",
        "serve: enqueue the builds of new plans; worker: keep polling the queue (true/false)",
    ),
    (
        "WORKER_WEBHOOK_URL",
        "serve: POST /api/worker/trigger calls this URL instead of draining in-process",
    ),
    (
        "WORKER_AUTORUN_INTERVAL",
        "serve: drain the queue in-process every N seconds",
    ),
    (
        "REFINERY_SERVER",
        "worker/queue: URL of a remote control plane (like --server)",
    ),
    (
        "REFINERY_ENVS_DIR",
        "where s390x build environments live (default <cache>/envs); share it between caches",
    ),
    (
        "COMPILER_MEMORY",
        "GiB one compiler process may take (like --compiler-memory; default 2): sets how many compilers each build runs at once",
    ),
    (
        "REFINERY_STRIP",
        "false keeps the debug information in built wheels (like --no-strip; default true: auditwheel repair --strip removes it)",
    ),
    (
        "REFINERY_HOST_PYTHON",
        "the host CPython the native build frontend runs (default: pyenv's newest X.Y, else pythonX.Y on PATH)",
    ),
    (
        "PYENV_ROOT",
        "where pyenv keeps its Pythons, searched by the native build frontend (default ~/.pyenv)",
    ),
    (
        "REFINERY_TEST_BREAK_CROSS",
        "tests only: break the cross compilers of accelerated builds (read by refinery-build) to exercise the fallback to the emulated variant",
    ),
    (
        "UV",
        "the uv binary used for resolution (default: uv on PATH)",
    ),
    (
        "AUDITWHEEL",
        "the auditwheel binary used for repair (default: auditwheel on PATH)",
    ),
    (
        "SSL_CERT_FILE",
        "CA bundle for HTTPS, also carried into every build environment",
    ),
    ("PIP_CERT", "CA bundle, when SSL_CERT_FILE is not set"),
    (
        "REFINERY_LOG",
        "tracing filter, e.g. debug or refinery_plan=trace (overrides --verbose)",
    ),
    (
        "HTTPS_PROXY",
        "proxy settings (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), carried into every build",
    ),
    (
        "SOURCE_DATE_EPOCH",
        "the built wheels' file times (Unix seconds; default: the sdist's newest file)",
    ),
    (
        "REFINERY_PACK_SOURCES",
        "mirror (https:// or file:// URL) of the packs' pinned sources",
    ),
    (
        "REFINERY_KEEP_ATTEMPT_DIRS",
        "set: keep each build attempt's folder (<cache>/builds) to look into",
    ),
];

/// The boolean in the variable `name` (1/true/yes/on, 0/false/no/off, any case), `None`
/// when unset or empty.
///
/// # Errors
/// Any other value, naming the variable.
pub fn env_bool(name: &str) -> anyhow::Result<Option<bool>> {
    match var(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(Some(true)),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(Some(false)),
        Some(v) => anyhow::bail!("{name}={v:?} is not a boolean: use true or false"),
    }
}

/// The value of `name`, treating an empty value as unset.
pub fn var(name: &str) -> Option<String> {
    debug_assert!(
        ENV_VARS.iter().any(|(n, _)| *n == name),
        "undeclared environment variable {name}"
    );
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A secret from the file `file` (a flag) names, else from the environment variable
/// `name`, else from the file `file_var` names: the command line wins, as everywhere. A
/// file's first line is the secret; an unreadable or empty file is an error that names
/// it; the secret itself is never printed.
pub fn secret(
    name: &str,
    file: Option<&std::path::Path>,
    file_var: &str,
) -> anyhow::Result<Option<String>> {
    let path = match file {
        Some(file) => file.to_path_buf(),
        None => {
            if let Some(value) = var(name) {
                return Ok(Some(value));
            }
            match var(file_var) {
                Some(file) => std::path::PathBuf::from(file),
                None => return Ok(None),
            }
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "cannot read the token file {} ({name}): {e}; give a readable file whose first \
             line is the token",
            path.display()
        )
    })?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    if token.is_empty() {
        anyhow::bail!(
            "the token file {} ({name}) is empty; its first line must be the token",
            path.display()
        );
    }
    Ok(Some(token))
}

/// The `--help` footer listing the variables.
pub fn help_footer() -> String {
    let mut text = String::from("Environment variables:\n");
    for (name, what) in ENV_VARS {
        text.push_str(&format!("  {name:<20} {what}\n"));
    }
    text.push_str(
        "\nPrecedence: command-line flag > environment variable > --config file > default.\n\n",
    );
    text.push_str(&crate::exit_codes::help_section());
    text
}
