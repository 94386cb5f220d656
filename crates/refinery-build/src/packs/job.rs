//! One pack build inside a runner, and the checks that it made static libraries only.

use std::path::{Path, PathBuf};

use crate::runner::{Mount, RunSpec, Runner};

use super::{
    bin_dirs, build_env, source_url, Pack, PackError, PackRecipe, GUEST_PACKS_DIR, GUEST_WORK,
    UNPACK,
};

/// One pack build: what it makes, what it links, and where.
pub(super) struct PackJob<'a> {
    pub(super) recipe: &'a PackRecipe,
    pub(super) pack: &'a Pack,
    pub(super) dependencies: &'a [Pack],
    pub(super) packs_dir: &'a Path,
    pub(super) work: &'a Path,
    pub(super) log_path: &'a Path,
    /// The run's compile budget (`None`: `$JOBS` is every core).
    pub(super) budget: Option<crate::compile_jobs::CompileBudget>,
    /// Set to stop the build at once.
    pub(super) stop: Option<&'a std::sync::atomic::AtomicBool>,
}

impl PackJob<'_> {
    /// Fetch the source into the work folder and build it in the environment.
    pub(super) fn make(
        &self,
        runner: &dyn Runner,
        download: &dyn Fn(&str, &str, &Path) -> Result<PathBuf, PackError>,
    ) -> Result<(), PackError> {
        let recipe = self.recipe;
        std::fs::create_dir_all(self.work.join("out"))
            .map_err(PackError::io("create", self.work))?;
        // Made first, so that a source that cannot be fetched is in it too.
        let log = crate::exec::Log::create(self.log_path, crate::exec::DEFAULT_LOG_CAP)
            .map_err(PackError::io("create the log", self.log_path))?;
        let fetch = |url: &str, sha256: &str| {
            let url = source_url(url);
            log.line(&format!("[refinery] fetching {url} (sha256 {sha256})"));
            download(&url, sha256, self.work).map_err(|e| {
                log.line(&format!("[refinery] {e}"));
                PackError::SourceUnavailable {
                    name: recipe.name.to_string(),
                    version: recipe.version.to_string(),
                    log: self.log_path.to_path_buf(),
                    source: Box::new(e),
                }
            })
        };
        let tarball = fetch(recipe.url, recipe.sha256)?;
        let mut tools = String::new();
        for (i, tool) in recipe.tools.iter().enumerate() {
            let wheel = fetch(tool.url, tool.sha256)?;
            let wheel = wheel.file_name().map(|n| n.to_string_lossy().into_owned());
            // zipfile keeps no file modes: the programs are made executable again.
            tools.push_str(&format!(
                "{python} -m zipfile -e '{wheel}' tool{i}\nchmod +x tool{i}/{bin}/*\nPATH=\"$WORK/tool{i}/{bin}:$PATH\"\n",
                python = runner.python(),
                wheel = wheel.unwrap_or_default(),
                bin = tool.bin,
            ));
        }
        let work_mount = Mount::rw(self.work, GUEST_WORK);
        let guest_work = runner.guest_path(&work_mount);
        let script = format!(
            "set -e\ncd \"$WORK\"\n{tools}{python} -c {unpack} {tarball}\ncd {folder}\n{build}\n",
            python = runner.python(),
            unpack = UNPACK,
            tarball = tarball
                .file_name()
                .map_or_else(|| recipe.file_name().into(), |n| n.to_string_lossy()),
            folder = recipe.folder,
            build = recipe.build,
        );
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let jobs = match self.budget {
            Some(budget) => {
                log.line(&format!(
                    "[refinery] compile jobs: {} per build ({budget}); sets JOBS={}",
                    budget.jobs, budget.jobs
                ));
                budget.jobs
            }
            None => cores,
        };
        let mut env = vec![
            ("WORK".into(), guest_work.clone()),
            ("PREFIX".into(), self.pack.guest_prefix()),
            ("DESTDIR".into(), format!("{guest_work}/out")),
            ("JOBS".into(), jobs.to_string()),
            ("HOME".into(), format!("{guest_work}/out")),
        ];
        let mut mounts = vec![work_mount];
        if !self.dependencies.is_empty() {
            env.extend(build_env(self.dependencies, None));
            env.extend(self.dependencies.iter().map(|d| {
                (
                    format!("PACK_{}", d.name.to_ascii_uppercase().replace('-', "_")),
                    d.guest_prefix(),
                )
            }));
            mounts.push(Mount::ro(self.packs_dir, GUEST_PACKS_DIR));
        }
        let spec = RunSpec {
            argv: vec!["sh".into(), "-c".into(), script],
            env,
            mounts,
            workdir: guest_work,
            network: false,
            accelerate: true,
            zig: true,
            rust: None,
            path_prepend: bin_dirs(self.dependencies),
        };
        match crate::exec::run_logged(runner.command(&spec), &log, None, self.stop) {
            Ok(crate::exec::Outcome::Success) => Ok(()),
            Ok(crate::exec::Outcome::Stopped) => Err(PackError::Stopped {
                name: recipe.name.to_string(),
                version: recipe.version.to_string(),
            }),
            Ok(other) => Err(PackError::BuildFailed {
                name: recipe.name.to_string(),
                version: recipe.version.to_string(),
                outcome: format!("{other:?}"),
                log: self.log_path.to_path_buf(),
            }),
            Err(source) => Err(PackError::Start { source }),
        }
    }
}

/// A pack whose build succeeded but installed no `lib/*.a` (e.g. a build system that
/// put it elsewhere) would be reused by every later run and fail their links: refused. A
/// header-only pack ([`PackRecipe::header_only`]) must have installed something under
/// `include` instead.
pub(super) fn has_installed(recipe: &PackRecipe, prefix: &Path) -> Result<(), PackError> {
    let any = |dir: &Path, wanted: &dyn Fn(&Path) -> bool| {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| wanted(&e.path()))
    };
    let (lib, include) = (prefix.join("lib"), prefix.join("include"));
    if recipe.header_only {
        if any(&include, &|_| true) {
            return Ok(());
        }
        return Err(PackError::NoHeaders { include });
    }
    if any(&lib, &|p| p.extension().is_some_and(|x| x == "a")) {
        Ok(())
    } else {
        Err(PackError::NoStaticLibrary { lib })
    }
}

/// A pack holds static libraries only, so what a `.pc` file keeps for static linking
/// (`Libs.private`, `Requires.private`) is what every user needs: `pkg-config --libs
/// libxml-2.0` must then say `-lz -lm` too, or the extension is left with undefined zlib
/// symbols. Rewrites every `.pc` file of `dir` (none: nothing to do).
pub(super) fn static_pkg_config_files(dir: &Path) -> Result<(), PackError> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "pc") {
            let text = std::fs::read_to_string(&path).map_err(PackError::io("read", &path))?;
            std::fs::write(&path, static_pkg_config(&text))
                .map_err(PackError::io("write", &path))?;
        }
    }
    Ok(())
}

/// `text` (a pkg-config file) with `Libs.private` appended to `Libs` and
/// `Requires.private` to `Requires` (comma separated), the private fields removed.
pub(super) fn static_pkg_config(text: &str) -> String {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(str::trim))
            .filter(|v| !v.is_empty())
    };
    let libs_private = field("Libs.private:");
    let requires_private = field("Requires.private:");
    let mut out = String::new();
    let mut has_requires = false;
    for line in text.lines() {
        if line.starts_with("Libs.private:") || line.starts_with("Requires.private:") {
            continue;
        }
        if let (Some(rest), Some(extra)) = (line.strip_prefix("Libs:"), libs_private) {
            out.push_str(&format!("Libs: {} {extra}\n", rest.trim()));
        } else if let Some(rest) = line.strip_prefix("Requires:") {
            has_requires = true;
            let all: Vec<&str> = [rest.trim()]
                .into_iter()
                .chain(requires_private)
                .filter(|v| !v.is_empty())
                .collect();
            out.push_str(&format!("Requires: {}\n", all.join(", ")));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if let (false, Some(extra)) = (has_requires, requires_private) {
        out.push_str(&format!("Requires: {extra}\n"));
    }
    out
}
