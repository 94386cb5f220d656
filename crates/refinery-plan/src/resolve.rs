//! Resolution for the target through uv: a proven resolver, run for the target itself with
//! `--python-platform s390x-manylinux_2_N` (the target's glibc level; uv accepts s390x
//! targets from 2.17 to 2.40 although `--help` hides them) and `--python-version X.Y`, so
//! markers are evaluated as pip evaluates them on s390x and a requirement that only another
//! platform needs does not have to resolve. Our own marker evaluation stays as a check: a
//! pin that uv still writes with a marker is kept only if the marker holds on the target.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use refinery_index::{redact_url, IndexConfig};
use refinery_pep::{MarkerTree, PackageName, Target, Version};

/// The uv release this refinery is tested with (`.ci/run` installs it).
pub const UV_VERSION: &str = "0.13.9";

/// One pin of the resolution that applies to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedPin {
    pub name: PackageName,
    pub version: Version,
    /// Normalized names of the packages that require this one; `-r` for direct requirements.
    pub via: BTreeSet<String>,
}

/// What to resolve.
#[derive(Debug, Clone, Default)]
pub struct ResolveRequest {
    /// PEP 508 requirement strings.
    pub requirements: Vec<String>,
    /// PEP 508 constraint strings (`-c`, `CONSTRAINTS_PATH`, known failures as `!=`).
    pub constraints: Vec<String>,
    /// Forced pins (`PLAN_OVERRIDES_JSON`, `--fallback-latest`).
    pub overrides: Vec<String>,
    /// Extra find-links folders, e.g. the input folder with its wheels.
    pub find_links: Vec<PathBuf>,
    pub allow_prereleases: bool,
    /// `--only-binary` values for uv (`:all:` or names): versions without a wheel for the
    /// target are not chosen, as in pip.
    pub only_binary: Vec<String>,
}

/// uv's `--python-platform` for `target`: `s390x-manylinux_2_N` with N the target's glibc
/// minor, from 17 up to 40 (the newest s390x level uv 0.13.9 knows; a newer glibc
/// resolves as 2.40, and the plan then still takes the newer wheels).
pub fn uv_python_platform(target: &Target) -> String {
    let (_, minor) = target.glibc();
    format!("s390x-manylinux_2_{}", minor.clamp(17, 40))
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("cannot run the resolver `{program}`: {source}\nhint: install uv {UV_VERSION} (`pip install uv=={UV_VERSION}`) or point the UV environment variable at its binary")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no consistent set of versions satisfies the requirements for CPython {python} on s390x (index {index}): {message}")]
    NoSolution {
        python: String,
        index: String,
        /// uv's explanation, on one line, credentials redacted.
        message: String,
    },
    /// uv failed for another reason than the requirements themselves: a page or file it
    /// could not fetch, a hash mismatch, an sdist it could not read...
    #[error("the resolver failed for CPython {python} on s390x (index {index}): {message}")]
    Failed {
        python: String,
        index: String,
        /// uv's explanation, on one line, credentials redacted.
        message: String,
    },
    #[error("resolver output line {line:?} is not a pin: {message}")]
    Output { line: String, message: String },
    #[error("cannot write the resolver's input files under {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ResolveError {
    /// For [`ResolveError::NoSolution`] and [`ResolveError::Failed`]: uv's explanation, and
    /// whether it is about the requirements (no solution) rather than something uv could
    /// not fetch or read.
    pub fn explanation(&self) -> Option<(&str, bool)> {
        match self {
            ResolveError::NoSolution { message, .. } => Some((message, true)),
            ResolveError::Failed { message, .. } => Some((message, false)),
            _ => None,
        }
    }
}

/// The uv program to run: `$UV` or `uv` from `PATH`.
pub fn uv_program() -> String {
    std::env::var("UV").unwrap_or_else(|_| "uv".to_string())
}

/// Environment variables of uv that are kept: transport settings only. Every other `UV_*`
/// variable is removed from uv's environment, so that a user's `UV_INDEX`,
/// `UV_DEFAULT_INDEX`, `UV_FIND_LINKS`, `UV_CONSTRAINT`, `UV_EXCLUDE_NEWER`... cannot change
/// what the plan resolves against (`--no-config` only covers the configuration files).
pub const UV_ENV_KEPT: &[&str] = &[
    "UV_HTTP_TIMEOUT",
    "UV_HTTP_RETRIES",
    "UV_REQUEST_TIMEOUT",
    "UV_NATIVE_TLS",
    "UV_CONCURRENT_DOWNLOADS",
];

/// Resolve `request` for `target` with uv, using `work_dir` for temporary inputs and
/// `uv_cache` as uv's cache: for the target platform first, universally (narrowed by our
/// marker evaluation) where the target has no solution.
#[tracing::instrument(skip_all, fields(requirements = request.requirements.len()))]
pub fn resolve(
    request: &ResolveRequest,
    target: &Target,
    index: &IndexConfig,
    work_dir: &Path,
    uv_cache: &Path,
) -> Result<Vec<ResolvedPin>, ResolveError> {
    match resolve_as(request, target, index, work_dir, uv_cache, Mode::Target) {
        // Where the target has no solution, e.g. a pinned version with wheels only for
        // other machines and no sdist: the universal resolution, narrowed by our marker
        // evaluation, still pins it, and the plan says why it is missing (or
        // --fallback-latest moves it), as before target resolution.
        Err(ResolveError::NoSolution { message, .. }) => {
            tracing::info!(%message, "no solution for the target platform; resolving universally");
            resolve_as(request, target, index, work_dir, uv_cache, Mode::Universal)
        }
        other => other,
    }
}

/// How uv is asked: for the target platform, or for every platform at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Target,
    Universal,
}

fn resolve_as(
    request: &ResolveRequest,
    target: &Target,
    index: &IndexConfig,
    work_dir: &Path,
    uv_cache: &Path,
    mode: Mode,
) -> Result<Vec<ResolvedPin>, ResolveError> {
    let program = uv_program();
    let mut cmd = uv_command(&program, request, target, index, work_dir, uv_cache, mode)?;
    // Not `?cmd`: its environment holds the index URLs with their credentials.
    tracing::debug!(command = %describe(&cmd), "running the resolver");
    let output = cmd.output().map_err(|source| ResolveError::Spawn {
        program: program.clone(),
        source,
    })?;
    if !output.status.success() {
        let python = target.python_str();
        let index = index_display(index);
        let message = one_line(&redact_url(String::from_utf8_lossy(&output.stderr).trim()));
        // uv exits with 1 when the requirements have no solution, 2 on other errors.
        return Err(if output.status.code() == Some(1) {
            ResolveError::NoSolution {
                python,
                index,
                message,
            }
        } else {
            ResolveError::Failed {
                python,
                index,
                message,
            }
        });
    }
    let pins = parse_compiled(&String::from_utf8_lossy(&output.stdout))?;
    let mut seen = BTreeSet::new();
    Ok(pins
        .into_iter()
        // The check: a resolution for the target writes no markers; one that is left must
        // hold by our own evaluation for s390x Linux, else the pin is not the target's.
        .filter(|(pin, marker)| {
            let holds = marker
                .as_ref()
                .is_none_or(|m| target.evaluate_marker(m, &[]));
            if !holds {
                tracing::warn!(
                    pin = %format!("{}=={}", pin.name, pin.version),
                    marker = ?marker,
                    "the resolver kept a pin whose marker does not hold on the target; left out"
                );
            }
            holds
        })
        .map(|(pin, _)| pin)
        // Should the resolver fork a package into versions with disjoint markers and two
        // apply, the first wins.
        .filter(|pin| seen.insert(pin.name.clone()))
        .collect())
}

/// The command line without its environment, credentials redacted, for logs.
fn describe(cmd: &Command) -> String {
    let mut text = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&redact_url(&arg.to_string_lossy()));
    }
    text
}

/// The indexes uv is given, redacted, for messages.
pub fn index_display(index: &IndexConfig) -> String {
    let mut all: Vec<String> = std::iter::once(&index.index_url)
        .chain(&index.extra_index_urls)
        .filter(|u| !u.trim().is_empty())
        .map(|u| redact_url(u))
        .collect();
    all.extend(index.find_links.iter().map(|l| redact_url(l)));
    if all.is_empty() {
        "no index".to_string()
    } else {
        all.join(", ")
    }
}

/// uv's report on one line: `error: X` / `cause: Y` lines (without colours) become
/// `X: Y`; the fancy form (`× X` / `╰─▶ Y`) and wrapped lines are joined as well.
fn one_line(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = line
            .trim()
            .trim_start_matches(['×', '╰', '─', '▶', '│', '├'])
            .trim();
        if line.is_empty() {
            continue;
        }
        let (cause, line) = match line.strip_prefix("cause:") {
            Some(rest) => (true, rest.trim()),
            None => (false, line.strip_prefix("error:").unwrap_or(line).trim()),
        };
        if !out.is_empty() {
            out.push_str(if cause && !out.ends_with(':') {
                ": "
            } else {
                " "
            });
        }
        out.push_str(line);
    }
    out
}

/// The uv command line for `request`: `uv pip compile` for the target's platform and
/// Python, indexes in the environment, everything else of the user's uv setup left out.
fn uv_command(
    program: &str,
    request: &ResolveRequest,
    target: &Target,
    index: &IndexConfig,
    work_dir: &Path,
    uv_cache: &Path,
    mode: Mode,
) -> Result<Command, ResolveError> {
    let write = |name: &str, lines: &[String]| -> Result<PathBuf, ResolveError> {
        let path = work_dir.join(name);
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(&path, text).map_err(|source| ResolveError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    };
    std::fs::create_dir_all(work_dir).map_err(|source| ResolveError::Io {
        path: work_dir.to_path_buf(),
        source,
    })?;
    let requirements = write("requirements.in", &request.requirements)?;
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("UV_") && !UV_ENV_KEPT.contains(&key.as_ref()) {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd.arg("pip")
        .arg("compile")
        .arg(absolute(&requirements))
        .args(match mode {
            Mode::Target => vec!["--python-platform".to_string(), uv_python_platform(target)],
            Mode::Universal => vec!["--universal".to_string()],
        })
        .args(["--no-header", "--quiet", "--no-config"])
        .args(["--color", "never", "--native-tls"])
        .args(["--python-version", &target.python_str()])
        .args(["--index-strategy", "unsafe-best-match"])
        .arg("--cache-dir")
        .arg(absolute(uv_cache))
        .current_dir(work_dir);
    if !request.constraints.is_empty() {
        cmd.arg("--constraint")
            .arg(write("constraints.txt", &request.constraints)?);
    }
    if !request.overrides.is_empty() {
        cmd.arg("--override")
            .arg(write("overrides.txt", &request.overrides)?);
    }
    if request.allow_prereleases {
        cmd.args(["--prerelease", "allow"]);
    }
    for value in &request.only_binary {
        cmd.args(["--only-binary", value]);
    }
    // Index URLs travel in the environment, not argv, so credentials stay out of `ps`.
    let mut urls = std::iter::once(&index.index_url)
        .chain(&index.extra_index_urls)
        .filter(|u| !u.trim().is_empty())
        .map(|u| authenticated_url(index, u));
    match urls.next() {
        Some(primary) => {
            cmd.env("UV_INDEX_URL", primary);
            let extras: Vec<String> = urls.collect();
            if !extras.is_empty() {
                cmd.env("UV_EXTRA_INDEX_URL", extras.join(" "));
            }
        }
        // No index at all: only find-links (never uv's default, PyPI).
        None => {
            cmd.arg("--no-index");
        }
    }
    // uv runs in `work_dir`: relative paths are made absolute against ours.
    for link in &index.find_links {
        if link.contains("://") || link.starts_with("file:") {
            cmd.arg("--find-links").arg(link);
        } else {
            cmd.arg("--find-links").arg(absolute(Path::new(link)));
        }
    }
    for link in &request.find_links {
        cmd.arg("--find-links").arg(absolute(link));
    }
    for host in &index.trusted_hosts {
        cmd.args(["--allow-insecure-host", host]);
    }
    if index.offline {
        cmd.arg("--offline");
    }
    if let Some(cert) = &index.cert_file {
        cmd.env("SSL_CERT_FILE", absolute(cert));
    }
    Ok(cmd)
}

/// `path` made absolute against the current directory (as it is when that fails).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `url` with `INDEX_USERNAME`/`INDEX_PASSWORD` as userinfo unless it carries its own.
fn authenticated_url(index: &IndexConfig, url: &str) -> String {
    let (Some(user), Ok(mut parsed)) = (&index.username, url::Url::parse(url)) else {
        return url.to_string();
    };
    if parsed.username().is_empty() {
        let _ = parsed.set_username(user);
        let _ = parsed.set_password(index.password.as_deref());
    }
    parsed.to_string()
}

/// Parse uv's annotated `requirements.txt` output: `name==version ; marker` lines, each
/// followed by `# via` comments (and `--hash` lines, which are skipped).
pub fn parse_compiled(text: &str) -> Result<Vec<(ResolvedPin, Option<MarkerTree>)>, ResolveError> {
    let mut pins: Vec<(ResolvedPin, Option<MarkerTree>)> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            let comment = comment.trim();
            let via = comment.strip_prefix("via").unwrap_or(comment).trim();
            if let (Some((pin, _)), false) = (pins.last_mut(), via.is_empty()) {
                if let Some(name) = via_name(via) {
                    pin.via.insert(name);
                }
            }
            continue;
        }
        let trimmed = trimmed.trim_end_matches('\\').trim_end();
        if trimmed.starts_with("--hash=") {
            continue;
        }
        let bad = |message: String| ResolveError::Output {
            line: trimmed.to_string(),
            message,
        };
        let (spec, marker) = match trimmed.split_once(';') {
            Some((spec, marker)) => (spec.trim(), Some(marker.trim())),
            None => (trimmed, None),
        };
        let (name, version) = spec
            .split_once("==")
            .ok_or_else(|| bad("expected name==version".into()))?;
        // `name[extra]==1.0`: the extra's dependencies are pins of their own.
        let name = name.split('[').next().unwrap_or(name);
        let name = PackageName::new(name.trim().to_string()).map_err(|e| bad(e.to_string()))?;
        let version: Version = version.trim().parse().map_err(|e| bad(format!("{e}")))?;
        let marker = marker
            .map(|m| m.parse::<MarkerTree>().map_err(|e| bad(e.to_string())))
            .transpose()?;
        pins.push((
            ResolvedPin {
                name,
                version,
                via: BTreeSet::new(),
            },
            marker,
        ));
    }
    Ok(pins)
}

/// `-r requirements.in` means "asked for directly" (`-r`); `-c constraints.txt` and
/// `--override overrides.txt` only shape a version, they ask for nothing (`None`);
/// `requests[socks]` is `requests`.
fn via_name(via: &str) -> Option<String> {
    if via.starts_with("-r") {
        Some("-r".to_string())
    } else if via.starts_with('-') {
        None
    } else {
        let name = via.split(['[', ' ', '(']).next().unwrap_or(via);
        Some(PackageName::new(name.to_string()).map_or_else(|_| via.to_string(), |n| n.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uv_annotations_and_markers() {
        let text = "certifi==2026.10.19.post1\n    # via requests\nnumpy==2.4.6 ; python_full_version < '3.12' and platform_machine == 's390x'\n    # via -r requirements.in\nrequests==2.34.2\n    # via\n    #   -r requirements.in\n    #   Foo_Bar\n";
        let pins = parse_compiled(text).unwrap();
        assert_eq!(pins.len(), 3);
        assert_eq!(pins[0].0.via, BTreeSet::from(["requests".to_string()]));
        assert!(pins[1].1.is_some());
        assert_eq!(
            pins[2].0.via,
            BTreeSet::from(["-r".to_string(), "foo-bar".to_string()])
        );
        let target = Target::new("3.11", "manylinux2014_s390x").unwrap();
        assert!(target.evaluate_marker(pins[1].1.as_ref().unwrap(), &[]));
    }

    #[test]
    fn overrides_and_constraints_ask_for_nothing_and_extras_name_their_package() {
        let text = "a==1.0 ; sys_platform == 'never'\n    # via\n    #   --override overrides.txt\n    #   b\nb[socks]==2.0\n    # via -r requirements.in\nc==1\n    # via\n    #   -c constraints.txt\n    #   b[socks]\n";
        let pins = parse_compiled(text).unwrap();
        assert_eq!(pins[0].0.via, BTreeSet::from(["b".to_string()]));
        assert_eq!(pins[1].0.name.as_ref(), "b");
        assert_eq!(pins[2].0.via, BTreeSet::from(["b".to_string()]));
        let target = Target::new("3.11", "manylinux2014_s390x").unwrap();
        assert!(!target.evaluate_marker(pins[0].1.as_ref().unwrap(), &[]));
    }

    #[test]
    fn uv_reports_become_one_line() {
        let plain = "error: Request failed after 3 retries\n  cause: Failed to fetch: http://127.0.0.1:1/simple/cext/\n  cause: Connection refused (os error 111)\n";
        assert_eq!(
            one_line(plain),
            "Request failed after 3 retries: Failed to fetch: http://127.0.0.1:1/simple/cext/: Connection refused (os error 111)"
        );
        let text = "  × No solution found when resolving dependencies:\n  ╰─▶ Because nope was not found in the package registry and you require nope, we can\n      conclude that your requirements are unsatisfiable.";
        assert_eq!(
            one_line(text),
            "No solution found when resolving dependencies: Because nope was not found in the package registry and you require nope, we can conclude that your requirements are unsatisfiable."
        );
    }

    #[test]
    fn uv_gets_only_our_indexes_and_no_user_uv_settings() {
        let dir = tempfile::tempdir().unwrap();
        let target = Target::new("3.11", "manylinux2014_s390x").unwrap();
        let request = ResolveRequest {
            requirements: vec!["six".into()],
            ..ResolveRequest::default()
        };
        let index = IndexConfig {
            index_url: "https://mirror.example/simple".into(),
            username: Some("u".into()),
            password: Some("s3cr3t-pw".into()),
            ..IndexConfig::default()
        };
        // Setting variables here would race with the other tests: every `UV_*` variable that
        // happens to be set must be removed (the integration tests set some on purpose).
        let cmd = uv_command(
            "uv",
            &request,
            &target,
            &index,
            dir.path(),
            dir.path(),
            Mode::Target,
        )
        .unwrap();
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for flag in ["--python-platform", "--no-config", "--python-version"] {
            assert!(args.iter().any(|a| a == flag), "{args:?}");
        }
        assert!(!args.iter().any(|a| a == "--universal"), "{args:?}");
        assert!(args
            .windows(2)
            .any(|w| w == ["--python-platform", "s390x-manylinux_2_17"]));
        assert!(
            !args.iter().any(|a| a.contains("s3cr3t")),
            "credentials stay out of argv"
        );
        assert!(!describe(&cmd).contains("s3cr3t"));
        assert!(describe(&cmd).starts_with("uv pip compile "));
        let envs: Vec<(String, Option<String>)> = cmd
            .get_envs()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    v.map(|v| v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        assert!(envs.contains(&(
            "UV_INDEX_URL".to_string(),
            Some("https://u:s3cr3t-pw@mirror.example/simple".to_string())
        )));
        for (key, _) in std::env::vars() {
            if key.starts_with("UV_") && !UV_ENV_KEPT.contains(&key.as_str()) {
                assert!(envs.contains(&(key.clone(), None)), "{key} reaches uv");
            }
        }
        let no_index = IndexConfig {
            index_url: String::new(),
            find_links: vec!["wheels".into(), "https://example.com/links.html".into()],
            ..IndexConfig::default()
        };
        let cmd = uv_command(
            "uv",
            &request,
            &target,
            &no_index,
            dir.path(),
            dir.path(),
            Mode::Target,
        )
        .unwrap();
        assert!(cmd.get_args().any(|a| a == "--no-index"));
        let here = std::env::current_dir().unwrap();
        assert!(cmd.get_args().any(|a| Path::new(a) == here.join("wheels")));
        assert!(cmd
            .get_args()
            .any(|a| a == "https://example.com/links.html"));
        assert!(!cmd.get_envs().any(|(k, _)| k == "UV_INDEX_URL"));
        let universal = uv_command(
            "uv",
            &request,
            &target,
            &index,
            dir.path(),
            dir.path(),
            Mode::Universal,
        )
        .unwrap();
        assert!(universal.get_args().any(|a| a == "--universal"));
        assert!(!universal.get_args().any(|a| a == "--python-platform"));
    }

    #[test]
    fn the_uv_platform_follows_the_target_glibc() {
        for (tag, platform) in [
            ("manylinux2014_s390x", "s390x-manylinux_2_17"),
            ("manylinux_2_28_s390x", "s390x-manylinux_2_28"),
            ("manylinux_2_36_s390x", "s390x-manylinux_2_36"),
            ("manylinux_2_41_s390x", "s390x-manylinux_2_40"),
        ] {
            let target = Target::new("3.13", tag).unwrap();
            assert_eq!(uv_python_platform(&target), platform, "{tag}");
        }
    }

    #[test]
    fn skips_hash_lines_and_continuations() {
        let text = "cext==1.0 \\\n    --hash=sha256:868C93 \\\n    --hash=sha256:aa11\n    # via -r r5.in\ndep==1.0 ; platform_machine == 's390x' \\\n    --hash=sha256:b46c\n    # via cext\n";
        let pins = parse_compiled(text).unwrap();
        assert_eq!(pins.len(), 2);
        assert_eq!(pins[0].0.via, BTreeSet::from(["-r".to_string()]));
        assert_eq!(pins[1].0.via, BTreeSet::from(["cext".to_string()]));
        assert!(pins[1].1.is_some());
    }

    #[test]
    fn rejects_a_line_that_is_not_a_pin() {
        assert!(matches!(
            parse_compiled("requests>=2\n"),
            Err(ResolveError::Output { .. })
        ));
    }
}
