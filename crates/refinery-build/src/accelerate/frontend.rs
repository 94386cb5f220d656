//! The host's uv as the build frontend: finding it and the `uv build` command equivalent to
//! `pip wheel`.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::UvBuildError;

/// The host's uv binary (`$UV`, else `uv` on `PATH`) when it is a real executable; a
/// version manager's shim script (pyenv, asdf) is looked through with the `uv` Python
/// package. A shim cannot run inside the sandbox.
pub fn find_host_uv() -> Option<PathBuf> {
    let named = std::env::var_os("UV").map_or_else(|| PathBuf::from("uv"), PathBuf::from);
    let found = if named.components().count() > 1 {
        Some(named)
    } else {
        std::env::var_os("PATH")
            .and_then(|path| crate::host_tools::find_on_path(&named.to_string_lossy(), &path))
    }?;
    if is_elf(&found) {
        return std::fs::canonicalize(&found).ok();
    }
    let output = std::process::Command::new("python3")
        .args(["-c", "import uv; print(uv.find_uv_bin())"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    (output.status.success() && is_elf(&path)).then_some(path)
}

fn is_elf(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && &magic == b"\x7fELF"
}

/// A build frontend's command line and the variables it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontendCommand {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl FrontendCommand {
    /// Pass `setting` (`KEY=VALUE`) to the PEP 517 backend (`uv build -C`), before the
    /// sdist path that ends the command line.
    pub fn config_setting(&mut self, setting: &str) {
        let at = self.argv.len().saturating_sub(1);
        self.argv.splice(
            at..at,
            ["--config-setting".to_string(), setting.to_string()],
        );
    }
}

/// uv's variable for pip's: uv takes the first index with a project, pip the best match
/// across all indexes.
pub(crate) const PIP_INDEX_STRATEGY: (&str, &str) = ("UV_INDEX_STRATEGY", "unsafe-best-match");

/// The uv variable and value for one of pip's index settings (`PIP_INDEX_URL`,
/// `PIP_EXTRA_INDEX_URL`, `PIP_TRUSTED_HOST`); `None` for any other variable.
///
/// # Errors
/// [`UvBuildError::Several`] for several trusted hosts (uv takes one).
pub(crate) fn uv_index_setting(
    key: &str,
    value: &str,
) -> Option<Result<(String, String), UvBuildError>> {
    let (uv_key, uv_value) = match key {
        "PIP_INDEX_URL" => ("UV_INDEX_URL", Ok(value.to_string())),
        "PIP_EXTRA_INDEX_URL" => ("UV_EXTRA_INDEX_URL", Ok(value.to_string())),
        "PIP_TRUSTED_HOST" => ("UV_INSECURE_HOST", single(key, value, "hosts")),
        _ => return None,
    };
    Some(uv_value.map(|v| (uv_key.to_string(), v)))
}

/// `value` when it is one item; pip's variable `key` may list several `what`.
fn single(key: &str, value: &str, what: &str) -> Result<String, UvBuildError> {
    if value.split_whitespace().count() > 1 {
        Err(UvBuildError::Several {
            key: key.to_string(),
            what: what.to_string(),
        })
    } else {
        Ok(value.to_string())
    }
}

/// The `uv build` command line and environment that do what `pip wheel` with `env` does,
/// or why they cannot (a pip setting without a uv equivalent: then pip builds).
///
/// # Errors
/// [`UvBuildError`] naming the pip setting uv cannot take.
pub fn uv_build(
    uv: &str,
    python: &str,
    out_dir: &str,
    sdist: &str,
    no_isolation: bool,
    env: &[(String, String)],
) -> Result<FrontendCommand, UvBuildError> {
    // The last value of each variable wins, as with `--setenv`.
    let mut settings: Vec<(&str, &str)> = Vec::new();
    for (key, value) in env {
        settings.retain(|(k, _)| k != key);
        settings.push((key, value));
    }
    let mut uv_env: Vec<(String, String)> = [
        ("UV_NO_PROGRESS", "1"),
        ("UV_PYTHON_DOWNLOADS", "never"),
        ("UV_NO_CONFIG", "1"),
        ("UV_LINK_MODE", "copy"),
        // Build requirements as the published metadata names them: a source tree's
        // `tool.uv.sources` (workspace paths, Git) is not for a rebuild from an sdist.
        ("UV_NO_SOURCES", "1"),
        PIP_INDEX_STRATEGY,
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut no_isolation = no_isolation;
    let mut config_settings: Vec<String> = Vec::new();
    for (key, value) in settings {
        if let Some(setting) = uv_index_setting(key, value) {
            uv_env.push(setting?);
            continue;
        }
        let (uv_key, uv_value) = match key {
            "PIP_FIND_LINKS" => ("UV_FIND_LINKS", single(key, value, "locations")?),
            "PIP_CACHE_DIR" => (
                "UV_CACHE_DIR",
                format!("{}/uv", value.trim_end_matches('/')),
            ),
            "PIP_ONLY_BINARY" if value == ":all:" => ("UV_NO_BUILD", "1".to_string()),
            // pip reads PIP_NO_BUILD_ISOLATION=0 (or false, no, off) as --no-build-isolation.
            "PIP_NO_BUILD_ISOLATION" => {
                match value.to_ascii_lowercase().as_str() {
                    "0" | "false" | "no" | "off" => no_isolation = true,
                    "1" | "true" | "yes" | "on" => {}
                    _ => {
                        return Err(UvBuildError::NotABoolean {
                            key: key.to_string(),
                            value: value.to_string(),
                        })
                    }
                }
                continue;
            }
            // pip splits an append option's variable on whitespace: one `KEY=VALUE` each,
            // a key given twice is a list (meson-python's repeated `setup-args`).
            "PIP_CONFIG_SETTINGS" => {
                for item in value.split_whitespace() {
                    if !item.contains('=') {
                        return Err(UvBuildError::NotKeyValue {
                            key: key.to_string(),
                            item: item.to_string(),
                        });
                    }
                    config_settings.push(item.to_string());
                }
                continue;
            }
            "PIP_CERT" | "PIP_DISABLE_PIP_VERSION_CHECK" | "PIP_NO_INPUT" | "PIP_PROGRESS_BAR" => {
                continue
            }
            other if other.starts_with("PIP_") => {
                return Err(UvBuildError::NoEquivalent {
                    key: other.to_string(),
                })
            }
            _ => continue,
        };
        uv_env.push((uv_key.to_string(), uv_value));
    }
    let mut argv: Vec<String> = [
        uv,
        "build",
        "--wheel",
        "--python",
        python,
        "--out-dir",
        out_dir,
    ]
    .iter()
    .map(ToString::to_string)
    .collect();
    if no_isolation {
        argv.push("--no-build-isolation".to_string());
    }
    argv.push(sdist.to_string());
    let mut command = FrontendCommand { argv, env: uv_env };
    for setting in &config_settings {
        command.config_setting(setting);
    }
    Ok(command)
}
