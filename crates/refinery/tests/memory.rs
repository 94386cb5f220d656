//! A build that runs out of memory: every build gets the run's compile-jobs budget through
//! the variables build systems read (the log says how many and why), and a compiler the
//! out-of-memory killer ended is retried with one compiler at a time.

mod common;

use common::*;
use refinery_index::testing::LocalIndex;

/// A setuptools sdist whose setup.py fails the way a C++ build the OOM killer hit fails
/// (GCC's line on stderr, exit 1) when `MAKEFLAGS` asks for two or more jobs, and builds
/// its C extension normally with `-j1`.
fn write_greedy_sdist(dir: &std::path::Path, version: &str) -> std::path::PathBuf {
    let setup_py = r#"import os, re, sys
from setuptools import setup, Extension
flags = os.environ.get("MAKEFLAGS", "")
print(f"refinery-test: MAKEFLAGS={flags!r}", flush=True)
jobs = re.search(r"-j\s*(\d+)", flags)
if jobs and int(jobs.group(1)) >= 2:
    print("c++: fatal error: Killed signal terminated program cc1plus", file=sys.stderr, flush=True)
    print("compilation terminated.", file=sys.stderr, flush=True)
    sys.exit(1)
setup(ext_modules=[Extension("greedy", ["greedy.c"])])
"#
    .to_string();
    write_setuptools_sdist(
        dir,
        "greedy",
        version,
        &["setuptools"],
        setup_py,
        [("greedy.c".to_string(), extension_source("greedy", false))],
    )
}

#[test]
#[ignore = "needs the s390x rootfs environment and 2 or more cores"]
fn an_out_of_memory_kill_is_retried_with_one_compiler() {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    assert!(
        cores >= 2,
        "this test needs 2 or more cores: with one, the budget is one compiler already"
    );
    let tmp = tempfile::tempdir().unwrap();
    let envs = envs_dir();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_greedy_sdist(&index_dir, "1.0");
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("requirements.txt"), "greedy==1.0\n").unwrap();
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("out");
    // `--jobs 2`, but one package to build: its build has every core, so the budget gives
    // it 2 or more compilers (memory permitting) and the first attempt "runs out of memory".
    let output = refinery(
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--index-url",
            &index.url,
            "--max-attempts",
            "1",
            "--jobs",
            "2",
        ],
        &[
            ("REFINERY_ENVS_DIR", envs.to_str().unwrap()),
            (
                "PLAN_OVERRIDES_JSON",
                r#"{"greedy": {"variant": "no-isolation"}}"#,
            ),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let m = manifest(&out);
    let e = entry(&m, "greedy");
    assert_eq!(e["status"], "built", "{e}");
    // The first attempt failed, the hint-based second one built.
    assert_eq!(e["metadata"]["attempt"], 2, "{e}");
    assert_eq!(
        e["metadata"]["actions"],
        serde_json::json!(["env REFINERY_COMPILE_JOBS=1"]),
        "{e}"
    );
    assert!(
        e["metadata"]["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().starts_with("out-of-memory: ")),
        "{e}"
    );
    assert!(
        stderr(&output).contains("retrying with env REFINERY_COMPILE_JOBS=1"),
        "{}",
        stderr(&output)
    );
    // Each attempt's log says its compile jobs once, and why.
    let log = |attempt: u32| attempt_log(&cache, "greedy-1.0", attempt);
    let first = log(1);
    let budget: Vec<&str> = first
        .lines()
        .filter(|l| l.starts_with("[refinery] compile jobs: "))
        .collect();
    assert_eq!(budget.len(), 1, "{first}");
    eprintln!("attempt 1: {}", budget[0]);
    assert!(
        budget[0].contains(&format!("{cores} cores / 1 build at once"))
            && budget[0].contains("GiB available")
            && budget[0].contains("GiB per compiler")
            && budget[0].contains("sets MAKEFLAGS=-j")
            && !budget[0].contains("MAKEFLAGS=-j1 "),
        "{}",
        budget[0]
    );
    assert!(
        first.contains("Killed signal terminated program cc1plus"),
        "{first}"
    );
    let second = log(2);
    eprintln!(
        "attempt 2: {}",
        second
            .lines()
            .find(|l| l.starts_with("[refinery] compile jobs: "))
            .unwrap_or_default()
    );
    assert!(
        second.contains("[refinery] compile jobs: 1 per build (REFINERY_COMPILE_JOBS=1")
            && second.contains("refinery-test: MAKEFLAGS='-j1'"),
        "{second}"
    );
}

/// A setuptools sdist with two C++ extensions, `heavy_a` and `heavy_b`, each one
/// translation unit of `functions` template-heavy functions (600 take Zig's clang 0.66 GB
/// at setuptools' `-g -O2`, measured), which setuptools compiles in
/// parallel when `MAKEFLAGS` asks for two or more jobs, as make-driven builds do.
fn write_heavy_sdist(dir: &std::path::Path, functions: usize) -> std::path::PathBuf {
    let unit = |name: &str| -> String {
        let mut code = String::from(
            "#include <Python.h>\n#include <map>\n#include <string>\n#include <tuple>\n#include <vector>\n\
             typedef std::map<std::string, std::vector<std::tuple<int, double, std::string>>> Table;\n",
        );
        for i in 0..functions {
            code.push_str(&format!(
                "static long f{i}(int x) {{ Table t; t[\"k{i}\"].push_back(std::make_tuple(x, {i}.5, std::string(\"s{i}\"))); return (long)t.size() + std::get<0>(t[\"k{i}\"][0]); }}\n"
            ));
        }
        code.push_str(
            "static PyObject *total(PyObject *self, PyObject *args) {\n    long t = 0;\n",
        );
        for i in 0..functions {
            code.push_str(&format!("    t += f{i}(1);\n"));
        }
        code.push_str(&format!(
            "    return PyLong_FromLong(t);\n}}\n\
             static PyMethodDef methods[] = {{{{\"total\", total, METH_NOARGS, \"2 per function\"}}, {{NULL, NULL, 0, NULL}}}};\n\
             static struct PyModuleDef module = {{PyModuleDef_HEAD_INIT, \"{name}\", NULL, -1, methods}};\n\
             PyMODINIT_FUNC PyInit_{name}(void) {{ return PyModule_Create(&module); }}\n"
        ));
        code
    };
    let setup_py = r#"import os, re
from setuptools import setup, Extension
from setuptools.command.build_ext import build_ext

class ParallelBuildExt(build_ext):
    # One extension per thread, as many as MAKEFLAGS' -jN says.
    def finalize_options(self):
        super().finalize_options()
        jobs = re.search(r"-j\s*(\d+)", os.environ.get("MAKEFLAGS", ""))
        self.parallel = int(jobs.group(1)) if jobs else 1
        print(f"refinery-test: {self.parallel} extension(s) at once", flush=True)

setup(
    ext_modules=[Extension("heavy_a", ["heavy_a.cc"]), Extension("heavy_b", ["heavy_b.cc"])],
    cmdclass={"build_ext": ParallelBuildExt},
)
"#;
    write_setuptools_sdist(
        dir,
        "heavy",
        "1.0",
        &["setuptools"],
        setup_py.to_string(),
        [
            ("heavy_a.cc".to_string(), unit("heavy_a")),
            ("heavy_b.cc".to_string(), unit("heavy_b")),
        ],
    )
}

/// A cgroup v1 memory cgroup for one test (the kind this machine's containers give root),
/// made inside the test's own memory cgroup so that the container's accounting still
/// covers it: `limit` bytes, no swap beyond it; removed when dropped (its processes have
/// exited).
struct MemoryCgroup(std::path::PathBuf);

impl MemoryCgroup {
    fn create(limit: u64) -> MemoryCgroup {
        let parent = refinery_build::host_memory::this_process_memory_cgroups()
            .into_iter()
            .find(|c| c.v1)
            .expect("this test needs a cgroup v1 memory hierarchy (/sys/fs/cgroup/memory)");
        let dir = parent
            .dir
            .join(format!("refinery-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| {
            panic!(
                "this test needs a writable cgroup v1 memory hierarchy (root): {}: {e}",
                dir.display()
            )
        });
        std::fs::write(dir.join("memory.limit_in_bytes"), limit.to_string()).unwrap();
        let memsw = dir.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            std::fs::write(memsw, limit.to_string()).unwrap();
        } else {
            // Without swap accounting, swap would absorb what the test needs killed.
            let swaps = std::fs::read_to_string("/proc/swaps").unwrap_or_default();
            assert!(
                swaps.lines().count() <= 1,
                "this test needs swap accounting (swapaccount=1) or no swap: {swaps}"
            );
        }
        MemoryCgroup(dir)
    }

    /// The `oom_kill` count of `memory.oom_control` (Linux >= 4.13).
    fn oom_kills(&self) -> u64 {
        refinery_build::host_memory::read_oom_kills(&self.0.join("memory.oom_control")).unwrap_or(0)
    }

    /// `command` run from a shell that first moves itself into this cgroup.
    fn wrap(&self, command: &std::process::Command) -> std::process::Command {
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg(r#"echo $$ > "$0/cgroup.procs" && exec "$@""#)
            .arg(&self.0)
            .arg(command.get_program())
            .args(command.get_args());
        for (name, value) in command.get_envs() {
            match value {
                Some(value) => cmd.env(name, value),
                None => cmd.env_remove(name),
            };
        }
        cmd
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
#[ignore = "needs the s390x rootfs environment, 2 or more cores and a writable cgroup v1 memory hierarchy (root)"]
fn a_compiler_the_kernel_kills_in_a_memory_limited_cgroup_is_retried_with_one_compiler() {
    const MIB: u64 = 1 << 20;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    assert!(cores >= 2, "this test needs 2 or more cores");
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_heavy_sdist(&index_dir, 600);
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let input = requirements(tmp.path(), "heavy==1.0\n");
    let (cache, out) = (tmp.path().join("cache"), tmp.path().join("out"));
    // Room for one compiler of this code (0.66 GB) and the build around it, not for two.
    let cgroup = MemoryCgroup::create(1200 * MIB);
    // Compilers assumed at 0.25 GiB, too little for this code (as the 2 GiB default can
    // be for a package), so the budget allows both cores and both extensions compile at
    // once; the kernel then kills a compiler, which leaves no message of its own.
    let command = refinery_command(
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--index-url",
            &index.url,
            "--platform-tag",
            "manylinux2014_s390x",
            "--max-attempts",
            "1",
            "--compiler-memory",
            "0.25",
        ],
        &[
            ("REFINERY_ENVS_DIR", envs_dir().to_str().unwrap()),
            (
                "PLAN_OVERRIDES_JSON",
                r#"{"heavy": {"variant": "no-isolation"}}"#,
            ),
        ],
    );
    let output = cgroup.wrap(&command).output().unwrap();
    let peak = std::fs::read_to_string(cgroup.0.join("memory.max_usage_in_bytes")).unwrap();
    eprintln!(
        "cgroup: {} OOM kill(s), peak {} MiB",
        cgroup.oom_kills(),
        peak.trim().parse::<u64>().unwrap_or(0) / MIB
    );
    let logs: Vec<String> = walk(&cache)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".log"))
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    assert!(
        output.status.success(),
        "{}\n{}",
        stderr(&output),
        logs.join("\n")
    );
    assert!(
        cgroup.oom_kills() >= 1,
        "nothing was killed: the limit is too high"
    );
    let e = entry(&manifest(&out), "heavy").clone();
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(e["metadata"]["attempt"], 2, "{e}");
    assert_eq!(
        e["metadata"]["actions"],
        serde_json::json!(["env REFINERY_COMPILE_JOBS=1"]),
        "{e}"
    );
    let log = |attempt: u32| attempt_log(&cache, "heavy-1.0", attempt);
    let first = log(1);
    // The budget saw the cgroup's room, not the machine's free memory.
    let budget = first
        .lines()
        .find(|l| l.starts_with("[refinery] compile jobs: "))
        .unwrap_or_default();
    eprintln!("attempt 1: {budget}");
    let available: f64 = budget
        .split(" GiB available")
        .next()
        .and_then(|before| before.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no available memory in {budget:?}"));
    assert!(available <= 1.2, "{budget}");
    assert!(
        first.contains("refinery-test: 2 extension(s) at once"),
        "{first}"
    );
    // Counted in the build's own cgroup, not machine-wide.
    let killed = first
        .lines()
        .find(|l| l.starts_with("[refinery] the kernel's out-of-memory killer ended "))
        .unwrap_or_else(|| panic!("no out-of-memory line in {first}"));
    assert!(
        killed.contains(&format!("{}/memory.oom_control", cgroup.0.display())),
        "{killed}"
    );
    let second = log(2);
    assert!(
        second.contains("refinery-test: 1 extension(s) at once"),
        "{second}"
    );
}

/// The log of attempt `attempt` of `name_version` (`greedy-1.0`) under `cache`.
fn attempt_log(cache: &std::path::Path, name_version: &str, attempt: u32) -> String {
    let prefix = format!("{name_version}-attempt{attempt}-");
    let path = walk(cache)
        .into_iter()
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(".log")
        })
        .unwrap_or_else(|| panic!("no log of attempt {attempt} of {name_version}"));
    std::fs::read_to_string(path).unwrap()
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
