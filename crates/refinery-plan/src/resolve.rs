//! Resolution for the target through uv: a proven resolver, run universally (all
//! platforms at once) and then narrowed to the target by evaluating each pin's marker
//! for s390x Linux. uv has no s390x `--python-platform`, so a host-specific resolution
//! would silently evaluate `platform_machine` for x86_64.

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
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("cannot run the resolver `{program}`: {source}\nhint: install uv {UV_VERSION} (`pip install uv=={UV_VERSION}`) or point the UV environment variable at its binary")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("no consistent set of versions satisfies the requirements for CPython {python} on s390x (index {index}):\n{message}")]
    NoSolution {
        python: String,
        index: String,
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

/// The uv program to run: `$UV` or `uv` from `PATH`.
pub fn uv_program() -> String {
    std::env::var("UV").unwrap_or_else(|_| "uv".to_string())
}

/// Resolve `request` for `target` with uv, using `work_dir` for temporary inputs and
/// `uv_cache` as uv's cache.
pub fn resolve(
    request: &ResolveRequest,
    target: &Target,
    index: &IndexConfig,
    work_dir: &Path,
    uv_cache: &Path,
) -> Result<Vec<ResolvedPin>, ResolveError> {
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
    let program = uv_program();
    let mut cmd = Command::new(&program);
    cmd.arg("pip")
        .arg("compile")
        .arg(&requirements)
        .args(["--universal", "--no-header", "--quiet", "--no-config"])
        .args(["--python-version", &target.python_str()])
        .args(["--index-strategy", "unsafe-best-match"])
        .arg("--cache-dir")
        .arg(uv_cache)
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
    // Index URLs travel in the environment, not argv, so credentials stay out of `ps`.
    cmd.env("UV_INDEX_URL", authenticated_url(index, &index.index_url));
    let extras: Vec<String> = index
        .extra_index_urls
        .iter()
        .map(|u| authenticated_url(index, u))
        .collect();
    cmd.env("UV_EXTRA_INDEX_URL", extras.join(" "));
    for link in index
        .find_links
        .iter()
        .map(PathBuf::from)
        .chain(request.find_links.iter().cloned())
    {
        cmd.arg("--find-links").arg(link);
    }
    for host in &index.trusted_hosts {
        cmd.args(["--allow-insecure-host", host]);
    }
    if index.offline {
        cmd.arg("--offline");
    }
    if let Some(cert) = &index.cert_file {
        cmd.env("SSL_CERT_FILE", cert);
    }
    tracing::debug!(?cmd, "running the resolver");
    let output = cmd.output().map_err(|source| ResolveError::Spawn {
        program: program.clone(),
        source,
    })?;
    if !output.status.success() {
        return Err(ResolveError::NoSolution {
            python: target.python_str(),
            index: redact_url(&index.index_url),
            message: redact_url(String::from_utf8_lossy(&output.stderr).trim()),
        });
    }
    let pins = parse_compiled(&String::from_utf8_lossy(&output.stdout))?;
    Ok(pins
        .into_iter()
        .filter(|(_, marker)| {
            marker
                .as_ref()
                .is_none_or(|m| target.evaluate_marker(m, &[]))
        })
        .map(|(pin, _)| pin)
        .collect())
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
/// followed by `# via` comments.
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
                pin.via.insert(via_name(via));
            }
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

/// `-r requirements.in` / `-c constraints.txt` mean "asked for directly".
fn via_name(via: &str) -> String {
    if via.starts_with("-r") || via.starts_with("-c") || via.starts_with("--override") {
        "-r".to_string()
    } else {
        PackageName::new(via.to_string()).map_or_else(|_| via.to_string(), |n| n.to_string())
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
    fn rejects_a_line_that_is_not_a_pin() {
        assert!(matches!(
            parse_compiled("requests>=2\n"),
            Err(ResolveError::Output { .. })
        ));
    }
}
