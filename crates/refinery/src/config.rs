//! Settings from flags, environment variables and the `--config` file, combined with
//! one precedence: flag > environment variable > config file > default.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use refinery_index::IndexConfig;
use refinery_pep::Target;
use refinery_plan::{parse_overrides, Overrides, Strategy, DEFAULT_MAX_DEPS};
use serde::Deserialize;

use crate::cli::{IndexArgs, PlanArgs, RunArgs, Schedule, TargetArgs, UpgradeStrategy};
use crate::env_vars::var;

pub const DEFAULT_PYTHON: &str = "3.11";
pub const DEFAULT_PLATFORM_TAG: &str = "manylinux2014_s390x";
pub const DEFAULT_INDEX_URL: &str = "https://pypi.org/simple";

/// The `--config` file. Keys are the long flag names (`platform-tag` or `platform_tag`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigFile {
    pub input: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub cache: Option<PathBuf>,
    pub python: Option<String>,
    pub platform_tag: Option<String>,
    pub index_url: Option<String>,
    #[serde(default)]
    pub extra_index_url: Vec<String>,
    #[serde(default)]
    pub find_links: Vec<String>,
    #[serde(default)]
    pub trusted_host: Vec<String>,
    pub upgrade_strategy: Option<String>,
    pub fallback_latest: Option<bool>,
    pub skip_known_failures: Option<bool>,
    pub pre: Option<bool>,
    /// pip's hash-checking mode (`--require-hashes`).
    pub require_hashes: Option<bool>,
    /// `--no-binary` values (pip's syntax); the flags replace them.
    #[serde(default)]
    pub no_binary: Vec<String>,
    /// `--only-binary` values (pip's syntax); the flags replace them.
    #[serde(default)]
    pub only_binary: Vec<String>,
    pub max_deps: Option<usize>,
    pub history_db: Option<PathBuf>,
    pub manifest: Option<PathBuf>,
    pub simple_index: Option<bool>,
    pub max_attempts: Option<u32>,
    pub attempt_timeout: Option<u64>,
    pub attempt_backoff_base: Option<f64>,
    pub attempt_backoff_max: Option<f64>,
    pub jobs: Option<usize>,
    pub schedule: Option<String>,
    pub container_image: Option<String>,
    pub container_preset: Option<String>,
    pub container_engine: Option<String>,
    pub container_cpu: Option<String>,
    pub container_memory: Option<String>,
    /// auto, cross or off (`--accelerate`).
    pub accelerate: Option<String>,
    /// auto, native or emulated (`--build-frontend`).
    pub build_frontend: Option<String>,
    /// GiB one compiler process may take (`--compiler-memory`).
    pub compiler_memory: Option<f64>,
    pub allow_system_recipes: Option<bool>,
    pub no_system_recipes: Option<bool>,
    pub dry_run_recipes: Option<bool>,
    pub auto_apply_suggestions: Option<bool>,
    /// Extra hint catalog (TOML) on top of the built-in one.
    pub hints_file: Option<PathBuf>,
    /// import, smoke or tests (`--verify`).
    pub verify: Option<String>,
    pub verify_timeout: Option<u64>,
    pub verify_reused: Option<bool>,
    /// native or emulated (`--verify-install`).
    pub verify_install: Option<String>,
    /// Extra smoke-test catalog (`--smoke-tests`).
    pub smoke_tests: Option<PathBuf>,
    /// Per-package overrides, as in `PLAN_OVERRIDES_JSON`.
    pub overrides: Option<serde_json::Value>,
}

impl ConfigFile {
    /// Read a TOML or JSON (by extension) config file; `None` gives the empty config.
    pub fn load(path: Option<&Path>) -> Result<ConfigFile> {
        let Some(path) = path else {
            return Ok(ConfigFile::default());
        };
        let text = fs_err::read_to_string(path).context("cannot read the --config file")?;
        let value: serde_json::Value = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", path.display()))?
        } else {
            let table: toml::Table = text
                .parse()
                .with_context(|| format!("{} is not valid TOML", path.display()))?;
            serde_json::to_value(table)?
        };
        let value = match value {
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k.replace('_', "-"), v))
                    .collect(),
            ),
            _ => bail!("{} must hold a table of settings", path.display()),
        };
        serde_json::from_value(value).with_context(|| {
            format!("{} has an unknown or mistyped setting; keys are the long flag names, e.g. platform-tag = \"manylinux2014_s390x\"", path.display())
        })
    }
}

pub fn target(args: &TargetArgs, config: &ConfigFile, accept_linux: bool) -> Result<Target> {
    let python = args
        .python
        .clone()
        .or(config.python.clone())
        .unwrap_or(DEFAULT_PYTHON.into());
    let platform = args
        .platform_tag
        .clone()
        .or(config.platform_tag.clone())
        .unwrap_or(DEFAULT_PLATFORM_TAG.into());
    Ok(Target::new(&python, &platform)?.with_linux_tag(accept_linux))
}

pub fn index_config(args: &IndexArgs, config: &ConfigFile, cache: &Path) -> IndexConfig {
    let extra_env: Vec<String> = var("EXTRA_INDEX_URL")
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let pick_list = |flag: &Vec<String>, env: Vec<String>, file: &Vec<String>| {
        if !flag.is_empty() {
            flag.clone()
        } else if !env.is_empty() {
            env
        } else {
            file.clone()
        }
    };
    IndexConfig {
        index_url: args
            .index_url
            .clone()
            .or_else(|| var("INDEX_URL"))
            .or(config.index_url.clone())
            .unwrap_or(DEFAULT_INDEX_URL.into()),
        extra_index_urls: pick_list(&args.extra_index_url, extra_env, &config.extra_index_url),
        find_links: pick_list(&args.find_links, Vec::new(), &config.find_links),
        trusted_hosts: pick_list(&args.trusted_host, Vec::new(), &config.trusted_host),
        username: var("INDEX_USERNAME"),
        password: var("INDEX_PASSWORD"),
        cert_file: var("SSL_CERT_FILE")
            .or_else(|| var("PIP_CERT"))
            .map(PathBuf::from),
        cache_dir: Some(cache.join("http")),
        offline: args.offline,
        ..IndexConfig::default()
    }
}

/// Everything `plan` needs.
#[derive(Debug, Clone)]
pub struct PlanSettings {
    pub input: PathBuf,
    pub cache: PathBuf,
    pub target: Target,
    pub index: IndexConfig,
    pub strategy: Strategy,
    pub fallback_latest: bool,
    pub skip_known_failures: bool,
    pub pre: bool,
    pub max_deps: usize,
    pub overrides: Overrides,
    pub requirements_path: Option<PathBuf>,
    pub constraints_path: Option<PathBuf>,
    pub history_db: PathBuf,
    /// `--require-hashes`, `--no-binary`, `--only-binary`.
    pub pip: refinery_plan::PipOptions,
}

pub fn plan_settings(args: &PlanArgs, config: &ConfigFile) -> Result<PlanSettings> {
    let input = args.input.clone().or(config.input.clone()).context(
        "no input folder: pass --input DIR (a folder with a requirements.txt and/or wheels)",
    )?;
    let cache = args.cache.clone().or(config.cache.clone()).context(
        "no cache folder: pass --cache DIR (it keeps environments, logs, plans and the history)",
    )?;
    let strategy = match (args.upgrade_strategy, config.upgrade_strategy.as_deref()) {
        (Some(UpgradeStrategy::Eager), _) | (None, Some("eager")) => Strategy::Eager,
        (Some(UpgradeStrategy::Pinned), _) | (None, Some("pinned") | None) => Strategy::Pinned,
        (None, Some(other)) => {
            bail!("upgrade-strategy {other:?} in the config file: use pinned or eager")
        }
    };
    let max_deps = match var("MAX_DEPS") {
        Some(v) => v
            .parse()
            .with_context(|| format!("MAX_DEPS={v:?} is not a number of packages"))?,
        None => config.max_deps.unwrap_or(DEFAULT_MAX_DEPS),
    };
    let mut overrides = match &config.overrides {
        Some(value) => parse_overrides(&value.to_string(), "the [overrides] of the config file")?,
        None => Overrides::new(),
    };
    if let Some(json) = var("PLAN_OVERRIDES_JSON") {
        overrides.extend(parse_overrides(&json, "PLAN_OVERRIDES_JSON")?);
    }
    let history_db = args
        .history_db
        .clone()
        .or_else(|| var("HISTORY_DB").map(PathBuf::from))
        .or(config.history_db.clone())
        .unwrap_or_else(|| cache.join("history.db"));
    Ok(PlanSettings {
        target: target(&args.target, config, false)?,
        index: index_config(&args.index, config, &cache),
        strategy,
        fallback_latest: args.fallback_latest || config.fallback_latest.unwrap_or(false),
        skip_known_failures: args.skip_known_failures
            || config.skip_known_failures.unwrap_or(false),
        pre: args.pre || config.pre.unwrap_or(false),
        max_deps,
        overrides,
        requirements_path: var("REQUIREMENTS_PATH").map(PathBuf::from),
        constraints_path: var("CONSTRAINTS_PATH").map(PathBuf::from),
        history_db,
        input,
        cache,
        pip: refinery_plan::PipOptions {
            require_hashes: args.require_hashes || config.require_hashes.unwrap_or(false),
            binary_options: binary_options(args, config),
        },
    })
}

/// `--no-binary`/`--only-binary` in command-line order (when the parser recorded it); the
/// config file's (no-binary, then only-binary) when no flag gives any.
fn binary_options(
    args: &PlanArgs,
    config: &ConfigFile,
) -> Vec<(refinery_pep::BinaryOption, String)> {
    if !args.binary_order.is_empty() {
        return args.binary_order.clone();
    }
    let (no_binary, only_binary) = if args.no_binary.is_empty() && args.only_binary.is_empty() {
        (&config.no_binary, &config.only_binary)
    } else {
        (&args.no_binary, &args.only_binary)
    };
    let tagged = |option, values: &Vec<String>| {
        values
            .iter()
            .map(move |v| (option, v.clone()))
            .collect::<Vec<_>>()
    };
    let mut all = tagged(refinery_pep::BinaryOption::NoBinary, no_binary);
    all.extend(tagged(refinery_pep::BinaryOption::OnlyBinary, only_binary));
    all
}

/// Where builds run (flag > config file > default).
#[derive(Debug, Clone, Default)]
pub struct EnvironmentOptions {
    pub container_image: Option<String>,
    pub container_preset: Option<String>,
    pub container_engine: Option<String>,
    pub container_cpu: Option<String>,
    pub container_memory: Option<String>,
    pub host_build: bool,
    pub accelerate: refinery_build::accelerate::AccelerateMode,
    pub build_frontend: refinery_build::native_frontend::FrontendMode,
    /// Memory one compiler process may take, in bytes (`--compiler-memory`).
    pub compiler_memory: u64,
    /// `auditwheel repair --strip`, debug information only (off with `--no-strip` or
    /// `REFINERY_STRIP=false`).
    pub strip: bool,
}

/// `--compiler-memory` (GiB) over `COMPILER_MEMORY` over the config file's
/// `compiler-memory` over [`refinery_build::compile_jobs::DEFAULT_COMPILER_MEMORY`], in
/// bytes.
///
/// # Errors
/// A value that is not a positive number of GiB, naming where it came from.
pub fn compiler_memory(flag: Option<f64>, config: &ConfigFile) -> Result<u64> {
    let (gib, from) = match (flag, var("COMPILER_MEMORY"), config.compiler_memory) {
        (Some(gib), _, _) => (gib, "--compiler-memory".to_string()),
        (None, Some(text), _) => (
            text.trim().parse::<f64>().map_err(|_| {
                anyhow::anyhow!("COMPILER_MEMORY={text:?} is not a number of GiB (e.g. 2 or 1.5)")
            })?,
            "COMPILER_MEMORY".to_string(),
        ),
        (None, None, Some(gib)) => (gib, "compiler-memory in the config file".to_string()),
        (None, None, None) => return Ok(refinery_build::compile_jobs::DEFAULT_COMPILER_MEMORY),
    };
    if !gib.is_finite() || gib <= 0.0 {
        bail!("{from} {gib} is not a positive number of GiB (e.g. 2 or 1.5)");
    }
    Ok((gib * refinery_build::compile_jobs::GIB as f64) as u64)
}

/// Whether repair removes debug information: not with `--no-strip` (`no_strip_flag`),
/// else `REFINERY_STRIP`, else yes.
///
/// # Errors
/// A `REFINERY_STRIP` that is not a boolean, naming it.
pub fn strip(no_strip_flag: bool) -> Result<bool> {
    Ok(!no_strip_flag && crate::env_vars::env_bool("REFINERY_STRIP")?.unwrap_or(true))
}

pub fn environment_options(
    args: &crate::cli::EnvironmentArgs,
    config: &ConfigFile,
) -> Result<EnvironmentOptions> {
    Ok(EnvironmentOptions {
        container_image: args
            .container_image
            .clone()
            .or(config.container_image.clone()),
        container_preset: args
            .container_preset
            .map(|p| format!("{p:?}").to_lowercase())
            .or(config.container_preset.clone()),
        container_engine: args
            .container_engine
            .clone()
            .or(config.container_engine.clone()),
        container_cpu: args.container_cpu.clone().or(config.container_cpu.clone()),
        container_memory: args
            .container_memory
            .clone()
            .or(config.container_memory.clone()),
        host_build: args.host_build,
        accelerate: match (args.accelerate, config.accelerate.as_deref()) {
            (Some(mode), _) => format!("{mode:?}")
                .to_lowercase()
                .parse()
                .map_err(anyhow::Error::msg)?,
            (None, Some(mode)) => mode.parse().map_err(|e: String| {
                anyhow::anyhow!("{e} (the accelerate setting of the config file)")
            })?,
            (None, None) => refinery_build::accelerate::AccelerateMode::Auto,
        },
        build_frontend: match (args.build_frontend, config.build_frontend.as_deref()) {
            (Some(mode), _) => format!("{mode:?}")
                .to_lowercase()
                .parse()
                .map_err(anyhow::Error::msg)?,
            (None, Some(mode)) => mode.parse().map_err(|e: String| {
                anyhow::anyhow!("{e} (the build_frontend setting of the config file)")
            })?,
            (None, None) => refinery_build::native_frontend::FrontendMode::Auto,
        },
        compiler_memory: compiler_memory(args.compiler_memory, config)?,
        strip: strip(args.no_strip)?,
    })
}

impl EnvironmentOptions {
    /// The environment: the host, a container, or the rootfs under `envs_dir`.
    pub fn choice(&self, envs_dir: PathBuf) -> Result<refinery_build::EnvironmentChoice> {
        use refinery_build::EnvironmentChoice;
        Ok(if self.host_build {
            EnvironmentChoice::Host
        } else if self.container_image.is_some() || self.container_preset.is_some() {
            EnvironmentChoice::container(
                self.container_engine.as_deref(),
                self.container_preset.as_deref(),
                self.container_image.as_deref(),
                self.container_cpu.clone(),
                self.container_memory.clone(),
                self.accelerate,
            )?
        } else {
            EnvironmentChoice::Rootfs {
                envs_dir,
                accelerate: self.accelerate,
                make_host_python: self.build_frontend
                    != refinery_build::native_frontend::FrontendMode::Emulated,
            }
        })
    }
}

/// Everything `run` needs on top of the plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub output: PathBuf,
    pub manifest: PathBuf,
    pub simple_index: bool,
    pub max_attempts: u32,
    pub attempt_timeout: Option<u64>,
    pub backoff_base: f64,
    pub backoff_max: f64,
    pub jobs: usize,
    pub schedule: Schedule,
    pub environment: EnvironmentOptions,
    pub recipes: refinery_build::RecipePolicy,
    pub catalog: refinery_build::hints::Catalog,
    pub verify: refinery_build::verify::VerifySettings,
}

pub fn run_options(args: &RunArgs, config: &ConfigFile) -> Result<RunOptions> {
    let output =
        args.output.clone().or(config.output.clone()).context(
            "no output folder: pass --output DIR (the wheels and manifest.json go there)",
        )?;
    let schedule = match (args.schedule, config.schedule.as_deref()) {
        (Some(s), _) => s,
        (None, Some("fifo")) => Schedule::Fifo,
        (None, Some("shortest-first") | None) => Schedule::ShortestFirst,
        (None, Some(other)) => {
            bail!("schedule {other:?} in the config file: use shortest-first or fifo")
        }
    };
    let environment = environment_options(&args.environment, config)?;
    let verify = verify_settings(&args.verification, config)?;
    Ok(RunOptions {
        manifest: args
            .manifest
            .clone()
            .or(config.manifest.clone())
            .unwrap_or_else(|| output.join("manifest.json")),
        simple_index: args.simple_index || config.simple_index.unwrap_or(false),
        max_attempts: args.max_attempts.or(config.max_attempts).unwrap_or(2),
        attempt_timeout: args
            .attempt_timeout
            .or(config.attempt_timeout)
            .or(Some(3600)),
        backoff_base: args
            .attempt_backoff_base
            .or(config.attempt_backoff_base)
            .unwrap_or(2.0),
        backoff_max: args
            .attempt_backoff_max
            .or(config.attempt_backoff_max)
            .unwrap_or(60.0),
        jobs: match args.jobs.or(config.jobs) {
            Some(jobs) => jobs.max(1),
            None => default_jobs(environment.build_frontend, verify.native_install, cores()).min(
                builds_that_fit(
                    refinery_build::host_memory::read_mem_available(),
                    environment.compiler_memory,
                ),
            ),
        },
        schedule,
        environment,
        catalog: {
            let mut catalog = refinery_build::hints::Catalog::builtin();
            if let Some(path) = args.hints_file.as_ref().or(config.hints_file.as_ref()) {
                catalog.extend_from_file(path)?;
            }
            catalog
        },
        verify,
        recipes: refinery_build::RecipePolicy {
            // --no-system-recipes wins over everything that would allow them.
            allowed: !(args.no_system_recipes || config.no_system_recipes.unwrap_or(false))
                && (args.allow_system_recipes
                    || args.auto_apply_suggestions
                    || config.allow_system_recipes.unwrap_or(false)
                    || config.auto_apply_suggestions.unwrap_or(false)),
            dry_run: args.dry_run_recipes || config.dry_run_recipes.unwrap_or(false),
            forbidden: args.no_system_recipes || config.no_system_recipes.unwrap_or(false),
        },
        output,
    })
}

/// The default of `--jobs`: every core when the build frontend and the verify install
/// may run natively, so that a package's emulated share is its import and smoke checks
/// (and configure tests); one build at a time, as before, when the PEP 517 hooks or the
/// installs are asked to run under emulation.
pub fn default_jobs(
    frontend: refinery_build::native_frontend::FrontendMode,
    native_install: bool,
    cores: usize,
) -> usize {
    if frontend != refinery_build::native_frontend::FrontendMode::Emulated && native_install {
        cores.max(1)
    } else {
        1
    }
}

/// The builds that may run at once when each runs at least one compiler of
/// `compiler_memory` bytes in `mem_available` bytes (at least 1; unbounded when the free
/// memory is unknown).
pub fn builds_that_fit(mem_available: Option<u64>, compiler_memory: u64) -> usize {
    mem_available
        .and_then(|mem| refinery_build::compile_jobs::compilers_that_fit(mem, compiler_memory))
        .map_or(usize::MAX, |n| n.max(1))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// `--verify`, `--verify-timeout`, `--verify-reused`, `--verify-install`, `--smoke-tests` over the config
/// file's keys over the defaults.
pub fn verify_settings(
    args: &crate::cli::VerifyArgs,
    config: &ConfigFile,
) -> Result<refinery_build::verify::VerifySettings> {
    use refinery_build::verify::{SmokeCatalog, VerifyLevel, VerifySettings};
    let defaults = VerifySettings::default();
    let level = match (args.verify, config.verify.as_deref()) {
        (Some(crate::cli::VerifyLevel::Import), _) => VerifyLevel::Import,
        (Some(crate::cli::VerifyLevel::Smoke), _) => VerifyLevel::Smoke,
        (Some(crate::cli::VerifyLevel::Tests), _) => VerifyLevel::Tests,
        (None, Some(text)) => text
            .parse()
            .map_err(|e: String| anyhow::anyhow!("verify in the config file: {e}"))?,
        (None, None) => defaults.level,
    };
    let mut catalog = SmokeCatalog::builtin();
    if let Some(path) = args.smoke_tests.as_ref().or(config.smoke_tests.as_ref()) {
        catalog.extend_from_file(path)?;
    }
    Ok(VerifySettings {
        level,
        timeout: args
            .verify_timeout
            .or(config.verify_timeout)
            .filter(|s| *s > 0)
            .map_or(defaults.timeout, std::time::Duration::from_secs),
        reused: args
            .verify_reused
            .or(config.verify_reused)
            .unwrap_or(defaults.reused),
        native_install: match (args.verify_install, config.verify_install.as_deref()) {
            (Some(crate::cli::VerifyInstall::Native), _) => true,
            (Some(crate::cli::VerifyInstall::Emulated), _) => false,
            (None, Some("native")) => true,
            (None, Some("emulated")) => false,
            (None, Some(other)) => anyhow::bail!(
                "verify_install in the config file: unknown value {other:?}: use native or emulated"
            ),
            (None, None) => defaults.native_install,
        },
        catalog: std::sync::Arc::new(catalog),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_default_to_the_cores_only_when_the_emulated_share_is_small() {
        use refinery_build::native_frontend::FrontendMode;
        assert_eq!(default_jobs(FrontendMode::Auto, true, 8), 8);
        assert_eq!(default_jobs(FrontendMode::Native, true, 2), 2);
        assert_eq!(default_jobs(FrontendMode::Emulated, true, 8), 1);
        assert_eq!(default_jobs(FrontendMode::Auto, false, 8), 1);
        assert_eq!(default_jobs(FrontendMode::Auto, true, 0), 1);
        // Capped by the compilers that fit in the free memory.
        let gib = refinery_build::compile_jobs::GIB;
        assert_eq!(builds_that_fit(Some(5 * gib), 2 * gib), 2);
        assert_eq!(builds_that_fit(Some(gib), 2 * gib), 1);
        assert_eq!(builds_that_fit(None, 2 * gib), usize::MAX);
    }

    #[test]
    fn config_keys_accept_both_spellings_and_reject_unknown_ones() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("c.toml");
        fs_err::write(
            &toml_path,
            "python = \"3.13\"\nplatform_tag = \"manylinux_2_28_s390x\"\nmax-attempts = 4\n",
        )
        .unwrap();
        let config = ConfigFile::load(Some(&toml_path)).unwrap();
        assert_eq!(config.python.as_deref(), Some("3.13"));
        assert_eq!(config.platform_tag.as_deref(), Some("manylinux_2_28_s390x"));
        assert_eq!(config.max_attempts, Some(4));
        let bad = dir.path().join("bad.json");
        fs_err::write(&bad, r#"{"pyton": "3.11"}"#).unwrap();
        let err = format!("{:#}", ConfigFile::load(Some(&bad)).unwrap_err());
        assert!(err.contains("bad.json"), "{err}");
    }

    #[test]
    fn compiler_memory_is_gib_from_the_flag_over_the_config_file_over_2() {
        use refinery_build::compile_jobs::{DEFAULT_COMPILER_MEMORY, GIB};
        // (COMPILER_MEMORY, between the two, is not set in the test's environment.)
        let config = ConfigFile {
            compiler_memory: Some(4.0),
            ..ConfigFile::default()
        };
        assert_eq!(compiler_memory(Some(1.5), &config).unwrap(), 3 * GIB / 2);
        assert_eq!(compiler_memory(None, &config).unwrap(), 4 * GIB);
        assert_eq!(
            compiler_memory(None, &ConfigFile::default()).unwrap(),
            DEFAULT_COMPILER_MEMORY
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let err = compiler_memory(Some(bad), &config).unwrap_err().to_string();
            assert!(err.contains("--compiler-memory"), "{err}");
        }
        let bad_file = ConfigFile {
            compiler_memory: Some(0.0),
            ..ConfigFile::default()
        };
        let err = compiler_memory(None, &bad_file).unwrap_err().to_string();
        assert!(err.contains("compiler-memory in the config file"), "{err}");
    }

    #[test]
    fn flags_beat_the_config_file_which_beats_defaults() {
        let config = ConfigFile {
            python: Some("3.13".into()),
            ..ConfigFile::default()
        };
        let from_config = target(&TargetArgs::default(), &config, false).unwrap();
        assert_eq!(from_config.python_str(), "3.13");
        let flag = TargetArgs {
            python: Some("3.11".into()),
            platform_tag: None,
        };
        let from_flag = target(&flag, &config, false).unwrap();
        assert_eq!(from_flag.python_str(), "3.11");
        assert_eq!(from_flag.platform_tag(), DEFAULT_PLATFORM_TAG);
    }

    #[test]
    fn binary_options_come_from_the_flags_in_order_else_from_the_config_file() {
        use refinery_pep::BinaryOption::{NoBinary, OnlyBinary};
        let config = ConfigFile {
            no_binary: vec![":all:".into()],
            only_binary: vec!["numpy".into()],
            ..ConfigFile::default()
        };
        let none = PlanArgs::default();
        assert_eq!(
            binary_options(&none, &config),
            [(NoBinary, ":all:".into()), (OnlyBinary, "numpy".into())]
        );
        let flags = PlanArgs {
            only_binary: vec!["x".into()],
            no_binary: vec!["y".into()],
            ..PlanArgs::default()
        };
        assert_eq!(
            binary_options(&flags, &config),
            [(NoBinary, "y".into()), (OnlyBinary, "x".into())]
        );
        let ordered = PlanArgs {
            binary_order: vec![(OnlyBinary, "x".into()), (NoBinary, "y".into())],
            ..flags
        };
        assert_eq!(
            binary_options(&ordered, &config),
            [(OnlyBinary, "x".into()), (NoBinary, "y".into())]
        );
    }
}
