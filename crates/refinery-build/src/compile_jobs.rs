//! How many compilers one build runs at once: the run's per-build budget, chosen from the
//! cores, the builds running at once (`--jobs`) and the memory the host has free, and the
//! variables through which build systems read it.
//!
//! Left alone, every build system picks its own parallelism: ninja (meson) runs cores + 2
//! jobs, cargo one per core, make and CMake what the package says. With `--jobs 2` on two
//! cores, two scipy builds then run eight C++ compilers, and a compiler the kernel's OOM
//! killer ends shows in the log as `Killed signal terminated program cc1plus`.

use std::fmt;

/// One gibibyte, in bytes.
pub const GIB: u64 = 1 << 30;

/// The memory one compiler process is assumed to take at its peak, in bytes: 2 GiB. An
/// estimate, not measured here: GCC's `cc1plus` on template-heavy C++ (scipy's
/// `_sparsetools`, Boost.Math and pybind11 modules, pyarrow) is commonly reported at 1–2 GiB
/// resident, and `ld` of a large extension about as much. Overridden with
/// `--compiler-memory` (GiB) or `COMPILER_MEMORY`.
pub const DEFAULT_COMPILER_MEMORY: u64 = 2 * GIB;

/// A variable of a build's own settings (an override's `env`, a recipe, a hint) that sets
/// its compile jobs, in place of the run's budget. The out-of-memory hint sets it to 1.
pub const OVERRIDE_VAR: &str = "REFINERY_COMPILE_JOBS";

/// The variables build systems read their parallelism from, and how each writes `N`:
/// GNU make (`MAKEFLAGS`, also under setuptools' and autotools' own make calls), CMake ≥ 3.12
/// (`CMAKE_BUILD_PARALLEL_LEVEL`, which scikit-build-core passes on), cargo
/// (`CARGO_BUILD_JOBS`, also under maturin and setuptools-rust), numpy.distutils
/// (`NPY_NUM_BUILD_JOBS`), PyTorch-style `setup.py` files (`MAX_JOBS`) and grpcio's and
/// grpcio-tools' `setup.py` (`GRPC_PYTHON_BUILD_EXT_COMPILER_JOBS`: their
/// `_parallel_compile_patch` runs `os.cpu_count()` compilers without it, however many
/// builds share the cores).
pub const VARIABLES: &[&str] = &[
    "MAKEFLAGS",
    "CMAKE_BUILD_PARALLEL_LEVEL",
    "CARGO_BUILD_JOBS",
    "NPY_NUM_BUILD_JOBS",
    "MAX_JOBS",
    "GRPC_PYTHON_BUILD_EXT_COMPILER_JOBS",
];

/// meson-python's config setting for the arguments of its `ninja` call.
pub const MESON_COMPILE_ARGS: &str = "compile-args";

/// pip's (and, through [`crate::accelerate::uv_build`], uv's) list of config settings.
const CONFIG_SETTINGS: &str = "PIP_CONFIG_SETTINGS";

/// The build's `PIP_CONFIG_SETTINGS` (the last value in `env`) with `key=value` added:
/// `Ok((variable, new value))`, or `Err(item)` with the build's own `key=…` item when it
/// sets that key already (the build's choice stays).
pub(crate) fn add_config_setting(
    env: &[(String, String)],
    key: &str,
    value: &str,
) -> Result<(String, String), String> {
    let settings = env
        .iter()
        .rev()
        .find(|(k, _)| k == CONFIG_SETTINGS)
        .map_or("", |(_, v)| v.trim());
    let prefix = format!("{key}=");
    if let Some(item) = settings.split_whitespace().find(|s| s.starts_with(&prefix)) {
        return Err(item.to_string());
    }
    let item = format!("{prefix}{value}");
    let value = if settings.is_empty() {
        item
    } else {
        format!("{settings} {item}")
    };
    Ok((CONFIG_SETTINGS.to_string(), value))
}

/// `NAME=value` for `N` compile jobs.
fn value(name: &str, jobs: usize) -> String {
    match name {
        "MAKEFLAGS" => format!("-j{jobs}"),
        _ => jobs.to_string(),
    }
}

/// The run's compile jobs per build, and what they were chosen from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileBudget {
    /// Compilers one build may run at once (`N`, at least 1).
    pub jobs: usize,
    /// The host's cores.
    pub cores: usize,
    /// Builds the run runs at once (`--jobs`).
    pub builds: usize,
    /// The memory builds may use when the run started, in bytes: `MemAvailable` capped by
    /// the process's memory cgroups ([`crate::host_memory::read_mem_available`]; `None`: unknown,
    /// then only the cores count).
    pub mem_available: Option<u64>,
    /// Memory one compiler is assumed to take, in bytes ([`DEFAULT_COMPILER_MEMORY`]).
    pub per_compiler: u64,
}

impl CompileBudget {
    /// `max(1, min(cores / builds, mem_available / (per_compiler × builds)))`: the
    /// builds share the cores and the free memory alike.
    pub fn new(
        cores: usize,
        builds: usize,
        mem_available: Option<u64>,
        per_compiler: u64,
    ) -> CompileBudget {
        let builds = builds.max(1);
        let per_compiler = per_compiler.max(1);
        let by_cores = cores / builds;
        let by_memory = mem_available
            .and_then(|mem| compilers_that_fit(mem, per_compiler).map(|n| n / builds))
            .unwrap_or(usize::MAX);
        CompileBudget {
            jobs: by_cores.min(by_memory).max(1),
            cores,
            builds,
            mem_available,
            per_compiler,
        }
    }

    /// The budget on this host: its cores (`available_parallelism`) and the memory builds
    /// may use (`MemAvailable`, capped by a container's or unit's cgroup limit).
    pub fn for_this_host(builds: usize, per_compiler: u64) -> CompileBudget {
        CompileBudget::new(
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            builds,
            crate::host_memory::read_mem_available(),
            per_compiler,
        )
    }
}

impl Default for CompileBudget {
    /// One build on one core.
    fn default() -> CompileBudget {
        CompileBudget::new(1, 1, None, DEFAULT_COMPILER_MEMORY)
    }
}

/// `2 cores / 2 builds at once → 1; 22.9 GiB available / (2.0 GiB per compiler × 2 builds) → 5`.
impl fmt::Display for CompileBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        write!(
            f,
            "{} core{} / {} build{} at once → {}",
            self.cores,
            plural(self.cores),
            self.builds,
            plural(self.builds),
            self.cores / self.builds.max(1)
        )?;
        let gib = |bytes: u64| bytes as f64 / GIB as f64;
        match self.mem_available {
            Some(mem) => write!(
                f,
                "; {:.1} GiB available / ({:.1} GiB per compiler × {} build{}) → {}",
                gib(mem),
                gib(self.per_compiler),
                self.builds,
                plural(self.builds),
                compilers_that_fit(mem, self.per_compiler).unwrap_or(0) / self.builds.max(1)
            ),
            None => f.write_str("; free memory unknown"),
        }
    }
}

/// How many compilers of `per_compiler` bytes fit in `mem_available` bytes (`None` for a
/// per-compiler memory of 0).
pub fn compilers_that_fit(mem_available: u64, per_compiler: u64) -> Option<usize> {
    mem_available
        .checked_div(per_compiler)
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

/// Whether a process's exit status (as [`std::process::ExitStatus`] prints it) says it was
/// killed by SIGKILL, the out-of-memory killer's signal: `signal: 9 (SIGKILL)`, or
/// `exit status: 137` (128 + 9) from bubblewrap, which exits with that status when the
/// process it runs was killed by a signal.
pub fn killed_by_sigkill(status: &str) -> bool {
    status.starts_with("signal: 9 ") || status == "signal: 9" || status == "exit status: 137"
}

/// What one build's environment gets from the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildParallelism {
    /// Compilers the build runs at once.
    pub jobs: usize,
    /// Variables to add to the build's environment (after its own: the last value wins).
    pub env: Vec<(String, String)>,
    /// The log line that says `N`, why, and what the build's own settings kept.
    pub log_line: String,
}

/// The parallelism variables for a build whose own settings are `env` (pip settings,
/// overrides, recipes, hints; the last value of a name wins): `N` is the value of
/// [`OVERRIDE_VAR`] there, else `budget.jobs`; each of [`VARIABLES`] the build does not set
/// itself gets `N`, and a meson-python build (`meson_python`) gets `compile-args=-jN` in
/// `PIP_CONFIG_SETTINGS` unless that already has compile-args. Other backends get no
/// compile-args: scikit-build-core refuses config settings it does not know.
pub fn for_build(
    budget: &CompileBudget,
    env: &[(String, String)],
    meson_python: bool,
) -> BuildParallelism {
    let own = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let chosen = own(OVERRIDE_VAR).and_then(|v| v.trim().parse::<usize>().ok().filter(|n| *n > 0));
    let jobs = chosen.unwrap_or(budget.jobs);
    let why = match chosen {
        Some(_) => format!("{OVERRIDE_VAR}={jobs} in the build's settings (an override, recipe or hint); the run's budget: {budget}"),
        None => budget.to_string(),
    };
    let mut added = Vec::new();
    let mut kept = Vec::new();
    for name in VARIABLES {
        match own(name) {
            Some(v) => kept.push(format!("{name}={v}")),
            None => added.push((name.to_string(), value(name, jobs))),
        }
    }
    if meson_python {
        match add_config_setting(env, MESON_COMPILE_ARGS, &format!("-j{jobs}")) {
            Ok(setting) => added.push(setting),
            Err(item) => kept.push(format!("meson-python {item}")),
        }
    }
    let mut sets: Vec<String> = added
        .iter()
        .filter(|(k, _)| k != CONFIG_SETTINGS)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if added.iter().any(|(k, _)| k == CONFIG_SETTINGS) {
        sets.push(format!("meson-python {MESON_COMPILE_ARGS}=-j{jobs}"));
    }
    let mut log_line = format!(
        "[refinery] compile jobs: {jobs} per build ({why}); sets {}",
        if sets.is_empty() {
            "nothing".to_string()
        } else {
            sets.join(" ")
        }
    );
    if !kept.is_empty() {
        log_line.push_str(&format!(
            "; kept from the build's settings: {}",
            kept.join(" ")
        ));
    }
    BuildParallelism {
        jobs,
        env: added,
        log_line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_budget_shares_cores_and_memory_between_the_builds() {
        // This machine: 2 cores, about 22 GiB free, 2 GiB per compiler.
        let mem = Some(22 * GIB);
        assert_eq!(CompileBudget::new(2, 2, mem, 2 * GIB).jobs, 1);
        assert_eq!(CompileBudget::new(2, 1, mem, 2 * GIB).jobs, 2);
        // Memory binds: 64 cores, 16 GiB free, 4 builds → 2 compilers each.
        assert_eq!(CompileBudget::new(64, 4, Some(16 * GIB), 2 * GIB).jobs, 2);
        // Never below one, even with more builds than cores or no memory to spare.
        assert_eq!(CompileBudget::new(2, 8, mem, 2 * GIB).jobs, 1);
        assert_eq!(CompileBudget::new(8, 1, Some(GIB), 2 * GIB).jobs, 1);
        // Unknown memory: the cores alone.
        assert_eq!(CompileBudget::new(16, 2, None, 2 * GIB).jobs, 8);
        // Degenerate inputs do not divide by zero.
        assert_eq!(CompileBudget::new(0, 0, Some(0), 0).jobs, 1);
    }

    #[test]
    fn the_budget_says_what_it_was_chosen_from() {
        let budget = CompileBudget::new(2, 2, Some(22 * GIB), 2 * GIB);
        assert_eq!(
            budget.to_string(),
            "2 cores / 2 builds at once → 1; 22.0 GiB available / (2.0 GiB per compiler × 2 builds) → 5"
        );
        assert_eq!(
            CompileBudget::new(1, 1, None, GIB).to_string(),
            "1 core / 1 build at once → 1; free memory unknown"
        );
    }

    #[test]
    fn every_variable_gets_the_budget_unless_the_build_sets_it() {
        let budget = CompileBudget::new(8, 2, None, 2 * GIB);
        let got = for_build(&budget, &env(&[("PIP_INDEX_URL", "x")]), false);
        assert_eq!(got.jobs, 4);
        assert_eq!(
            got.env,
            env(&[
                ("MAKEFLAGS", "-j4"),
                ("CMAKE_BUILD_PARALLEL_LEVEL", "4"),
                ("CARGO_BUILD_JOBS", "4"),
                ("NPY_NUM_BUILD_JOBS", "4"),
                ("MAX_JOBS", "4"),
                ("GRPC_PYTHON_BUILD_EXT_COMPILER_JOBS", "4"),
            ])
        );
        assert!(got.log_line.starts_with("[refinery] compile jobs: 4 per build (8 cores / 2 builds at once → 4; free memory unknown); sets MAKEFLAGS=-j4 "), "{}", got.log_line);
        // The user's (or a recipe's) value wins and is named.
        let got = for_build(
            &budget,
            &env(&[("MAKEFLAGS", "-j1"), ("MAKEFLAGS", "-j16")]),
            false,
        );
        assert!(!got.env.iter().any(|(k, _)| k == "MAKEFLAGS"));
        assert!(
            got.log_line
                .ends_with("; kept from the build's settings: MAKEFLAGS=-j16"),
            "{}",
            got.log_line
        );
    }

    #[test]
    fn meson_python_gets_compile_args_beside_its_other_settings() {
        let budget = CompileBudget::new(4, 1, None, 2 * GIB);
        let got = for_build(&budget, &[], true);
        assert!(got
            .env
            .contains(&("PIP_CONFIG_SETTINGS".into(), "compile-args=-j4".into())));
        assert!(got.log_line.contains("meson-python compile-args=-j4"));
        // A hint's setup-args stay; the compile-args are added to the list.
        let own = env(&[("PIP_CONFIG_SETTINGS", "setup-args=-Db_lto=false")]);
        let got = for_build(&budget, &own, true);
        assert!(got.env.contains(&(
            "PIP_CONFIG_SETTINGS".into(),
            "setup-args=-Db_lto=false compile-args=-j4".into()
        )));
        // The build's own compile-args win.
        let own = env(&[("PIP_CONFIG_SETTINGS", "compile-args=-j2")]);
        let got = for_build(&budget, &own, true);
        assert!(!got.env.iter().any(|(k, _)| k == "PIP_CONFIG_SETTINGS"));
        assert!(got
            .log_line
            .contains("kept from the build's settings: meson-python compile-args=-j2"));
        // Other backends never see compile-args.
        let got = for_build(&budget, &[], false);
        assert!(!got.env.iter().any(|(k, _)| k == "PIP_CONFIG_SETTINGS"));
    }

    #[test]
    fn sigkill_shows_as_a_signal_or_as_bubblewraps_status() {
        use std::os::unix::process::ExitStatusExt;
        let killed = std::process::ExitStatus::from_raw(9).to_string();
        assert!(killed_by_sigkill(&killed), "{killed}");
        assert!(killed_by_sigkill("exit status: 137"));
        assert!(!killed_by_sigkill("exit status: 1"));
        assert!(!killed_by_sigkill(
            &std::process::ExitStatus::from_raw(15).to_string()
        ));
    }

    #[test]
    fn the_override_variable_sets_n_for_one_build() {
        let budget = CompileBudget::new(8, 1, None, 2 * GIB);
        let got = for_build(&budget, &env(&[(OVERRIDE_VAR, "1")]), true);
        assert_eq!(got.jobs, 1);
        assert!(got.env.contains(&("MAKEFLAGS".into(), "-j1".into())));
        assert!(got.env.contains(&("MAX_JOBS".into(), "1".into())));
        assert!(got
            .env
            .contains(&("PIP_CONFIG_SETTINGS".into(), "compile-args=-j1".into())));
        assert!(got.log_line.starts_with(
            "[refinery] compile jobs: 1 per build (REFINERY_COMPILE_JOBS=1 in the build's settings"
        ));
        // A value that is not a positive number is ignored.
        assert_eq!(
            for_build(&budget, &env(&[(OVERRIDE_VAR, "0")]), false).jobs,
            8
        );
        assert_eq!(
            for_build(&budget, &env(&[(OVERRIDE_VAR, "x")]), false).jobs,
            8
        );
    }
}
