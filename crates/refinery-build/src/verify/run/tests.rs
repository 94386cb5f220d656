//! Checks run with the host's python3 through the host runner: a hang is killed at its
//! limit, a crash is told from a failure, a cut network is named, and a whole
//! verification of a generated wheel installs, imports and runs its smoke test.

use std::io::Write;
use std::sync::Arc;

use super::*;
use crate::exec::DEFAULT_LOG_CAP;
use crate::runner::HostRunner;
use crate::verify::native::NativeInstall;
use crate::verify::sandbox::*;
use crate::verify::SmokeCatalog;

fn host() -> HostRunner {
    HostRunner {
        python: "python3".into(),
    }
}

fn sandbox<'a>(runner: &'a HostRunner, work: &Path) -> Sandbox<'a> {
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k == "PATH" || k == "HOME" || k.starts_with("PYENV"))
        .collect();
    env.push(("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()));
    Sandbox {
        runner,
        mounts: Vec::new(),
        env,
        work_host: work.to_path_buf(),
        work_guest: work.to_string_lossy().into_owned(),
        stop: None,
        native: None,
    }
}

fn check(code: &str, limit: Duration) -> (CheckResult, String) {
    let dir = tempfile::tempdir().unwrap();
    let runner = host();
    let sandbox = sandbox(&runner, dir.path());
    let log = Log::create(&dir.path().join("verify.log"), DEFAULT_LOG_CAP).unwrap();
    let script = write_script(&sandbox, "refinery_smoke_t.py", code);
    let result = run_check(
        &sandbox,
        "smoke:t",
        vec!["python3".into(), "-X".into(), "faulthandler".into(), script],
        limit,
        &log,
    );
    (result, log.read_all())
}

#[test]
fn a_hanging_snippet_is_killed_at_its_limit_and_reported_as_such() {
    let (result, log) = check("while True:\n    pass\n", Duration::from_secs(1));
    assert_eq!(result.outcome, CheckOutcome::TimedOut, "{result:?}");
    assert!(result.detail.contains("time limit of 1 s"), "{result:?}");
    assert!(log.contains("smoke:t: timed_out"), "{log}");
}

#[test]
fn a_crashing_interpreter_is_reported_with_its_signal() {
    let (result, _) = check(
        "import ctypes\nctypes.string_at(0)\n",
        Duration::from_secs(60),
    );
    assert_eq!(result.outcome, CheckOutcome::Crashed, "{result:?}");
    assert!(result.detail.contains("signal 11 (SIGSEGV)"), "{result:?}");
    // faulthandler's report is the evidence.
    assert!(
        result
            .evidence
            .iter()
            .any(|l| l.contains("Segmentation fault")),
        "{result:?}"
    );
}

#[test]
fn a_failing_snippet_says_why_and_a_passing_one_passes() {
    let (failed, _) = check(
        "import sys\nprint('dumps gave', b'128')\nassert sys.maxsize == 1, 'wrong width'\n",
        Duration::from_secs(60),
    );
    assert_eq!(failed.outcome, CheckOutcome::Failed, "{failed:?}");
    assert!(
        failed
            .detail
            .starts_with("exit status 1: AssertionError: wrong width"),
        "{failed:?}"
    );
    assert!(failed.evidence.iter().any(|l| l.contains("dumps gave")));
    let (passed, _) = check(
        "assert 2**63 == 9223372036854775808\n",
        Duration::from_secs(60),
    );
    assert_eq!(passed.outcome, CheckOutcome::Passed, "{passed:?}");
    assert!(passed.detail.is_empty());
}

#[test]
fn a_check_that_needs_the_network_is_named() {
    let (result, _) = check(
        "import socket\nsocket.getaddrinfo('refinery-test.invalid', 443)\n",
        Duration::from_secs(60),
    );
    assert_eq!(result.outcome, CheckOutcome::NeedsNetwork, "{result:?}");
    assert!(!result.outcome.is_failure());
}

/// A pure wheel `fastpkg` with one module and RECORD.
fn write_wheel(dir: &Path) -> PathBuf {
    let path = dir.join("fastpkg-1.0-py3-none-any.whl");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    for (name, text) in [
        (
            "fastpkg/__init__.py",
            "def dumps(n):\n    return str(n).encode()\n\ndef main():\n    print('fastpkg main')\n",
        ),
        (
            "fastpkg-1.0.dist-info/entry_points.txt",
            "[console_scripts]\nfastpkg-cli = fastpkg:main\n",
        ),
        (
            "fastpkg-1.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: fastpkg\nVersion: 1.0\n",
        ),
        (
            "fastpkg-1.0.dist-info/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        (
            "fastpkg-1.0.dist-info/RECORD",
            "fastpkg/__init__.py,,\nfastpkg-1.0.dist-info/entry_points.txt,,\nfastpkg-1.0.dist-info/METADATA,,\nfastpkg-1.0.dist-info/WHEEL,,\nfastpkg-1.0.dist-info/RECORD,,\n",
        ),
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    path
}

/// The generated wheel at `wheel` (in the folder `wheels`) as verification sees it on
/// the host runner: guest and host paths are the same.
fn fastpkg_under_test<'a>(
    wheel: &'a Path,
    wheels: &Path,
    version: &'a refinery_pep::ProjectVersion,
) -> WheelUnderTest<'a> {
    WheelUnderTest {
        name: "fastpkg",
        version: Some(version),
        host_path: wheel,
        guest_path: wheel.to_string_lossy().into_owned(),
        find_links: vec![wheels.to_string_lossy().into_owned()],
        host_find_links: vec![wheels.to_path_buf()],
        tolerate_missing_dependencies: false,
        sdist: None,
    }
}

#[test]
fn a_wheel_is_installed_imported_and_smoke_tested_per_level() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = dir.path().join("wheels");
    std::fs::create_dir_all(&wheels).unwrap();
    let wheel = write_wheel(&wheels);
    let catalog = SmokeCatalog::parse(
        r#"
[[smoke]]
id = "fastpkg"
package = "fastpkg"
versions = ">=1"
snippet = "import fastpkg\nassert fastpkg.dumps(2**63) == b'9223372036854775808'\n"
tests = "raise SystemExit('1 of 3 self-tests failed')"
"#,
        "test.toml",
    )
    .unwrap();
    let runner = host();
    for (level, want) in [
        (VerifyLevel::Import, vec!["install passed", "import passed"]),
        (
            VerifyLevel::Smoke,
            vec!["install passed", "import passed", "smoke:fastpkg passed"],
        ),
        (
            VerifyLevel::Tests,
            vec![
                "install passed",
                "import passed",
                "smoke:fastpkg passed",
                "tests:fastpkg failed",
            ],
        ),
    ] {
        let work = dir.path().join(format!("work-{level}"));
        std::fs::create_dir_all(&work).unwrap();
        let sandbox = sandbox(&runner, &work);
        let log = Log::create(&work.join("verify.log"), DEFAULT_LOG_CAP).unwrap();
        let settings = VerifySettings {
            level,
            catalog: Arc::new(catalog.clone()),
            ..VerifySettings::default()
        };
        let version: refinery_pep::ProjectVersion = "1.0".parse().unwrap();
        let under_test = fastpkg_under_test(&wheel, &wheels, &version);
        let v = verify_wheel(&sandbox, &under_test, &settings, &log).expect("not stopped");
        let got: Vec<String> = v
            .checks
            .iter()
            .map(|c| format!("{} {}", c.name, c.outcome))
            .collect();
        assert_eq!(got, want, "{}", log.read_all());
        assert_eq!(v.imported, ["fastpkg"]);
        assert_eq!(v.level, level.as_str());
        if level == VerifyLevel::Tests {
            let failure = v.first_failure().unwrap();
            assert!(
                failure.detail.contains("1 of 3 self-tests failed"),
                "{failure:?}"
            );
        }
    }
}

/// A smoke test stopped from outside (Ctrl-C, a cancelled job) while it runs: the
/// verification has no verdict, where its cut-short check would otherwise read
/// `skipped` and the wheel pass.
#[test]
fn a_verification_stopped_while_a_check_runs_has_no_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let wheels = dir.path().join("wheels");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&wheels).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let wheel = write_wheel(&wheels);
    let started_flag = dir.path().join("smoke-started");
    let catalog = SmokeCatalog::parse(
        &format!(
            "[[smoke]]\nid = \"fastpkg\"\npackage = \"fastpkg\"\nsnippet = \"\"\"\n\
             import pathlib, time\npathlib.Path({:?}).touch()\ntime.sleep(120)\n\"\"\"\n",
            started_flag.to_string_lossy()
        ),
        "test.toml",
    )
    .unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let runner = host();
    let sandbox = Sandbox {
        stop: Some(&stop),
        ..sandbox(&runner, &work)
    };
    let log = Log::create(&work.join("verify.log"), DEFAULT_LOG_CAP).unwrap();
    let settings = VerifySettings {
        level: VerifyLevel::Smoke,
        catalog: Arc::new(catalog),
        ..VerifySettings::default()
    };
    let version: refinery_pep::ProjectVersion = "1.0".parse().unwrap();
    let under_test = fastpkg_under_test(&wheel, &wheels, &version);
    let verdict = std::thread::scope(|scope| {
        scope.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !started_flag.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        verify_wheel(&sandbox, &under_test, &settings, &log)
    });
    let log = log.read_all();
    assert!(started_flag.exists(), "the smoke test never ran: {log}");
    assert_eq!(verdict, Err(VerifyStopped), "{log}");
    assert!(
        log.contains("[refinery-verify] stopped: no verdict"),
        "{log}"
    );
    assert!(!log.contains("[refinery-verify] ok"), "{log}");
}

#[test]
fn the_exception_line_is_the_detail_whatever_the_order_of_the_streams() {
    let text = "Traceback (most recent call last):\n  File \"x.py\", line 3\nAssertionError: wrong width\ndumps gave b'128'\n[refinery-verify] exit 1\n";
    assert_eq!(last_line(text), "AssertionError: wrong width");
    assert_eq!(
        last_line("Fatal Python error: Segmentation fault\n\nCurrent thread:\n"),
        "Fatal Python error: Segmentation fault"
    );
    assert_eq!(
        last_line("just output\n[refinery-verify] exit 3\n"),
        "just output"
    );
    assert_eq!(last_line(""), "no output");
}

/// The checks driver importing `modules` in `dir` (on `PYTHONPATH`) with the host's
/// python3, after `prelude` (Python run first, in the same interpreter): its output and
/// the import part's exit status from its end marker.
fn import_with_driver(dir: &Path, prelude: &str, modules: &[&str]) -> (String, Option<i32>) {
    std::fs::write(dir.join("driver.py"), super::super::checks::DRIVER).unwrap();
    let plan = serde_json::json!([{"name": "import", "limit": 60, "import": modules}]);
    std::fs::write(dir.join("plan.json"), plan.to_string()).unwrap();
    let code = format!(
        "import runpy, sys\n{prelude}\nsys.argv = ['driver.py', 'plan.json']\nrunpy.run_path('driver.py', run_name='__main__')\n"
    );
    let output = std::process::Command::new("python3")
        .args(["-c", &code])
        .current_dir(dir)
        .env("PYTHONPATH", dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let status = text.lines().find_map(|l| {
        l.strip_prefix("[refinery-verify] end import exit ")?
            .split(' ')
            .next()?
            .parse()
            .ok()
    });
    (text, status)
}

#[test]
fn a_module_needing_a_missing_stdlib_part_is_not_checked_but_a_missing_dependency_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("needs_tk.py"), "import tkinter\n").unwrap();
    std::fs::write(
        dir.path().join("needs_dep.py"),
        "import refinery_no_such_dep\n",
    )
    .unwrap();
    // matplotlib's _tkagg: its own ImportError, raised from tkinter's.
    std::fs::write(
        dir.path().join("wraps_tk.py"),
        "try:\n    import tkinter\nexcept ImportError as e:\n    raise ImportError('initialization failed') from e\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("fine.py"), "X = 1\n").unwrap();
    // tkinter made unimportable, as on a Debian Python without python3-tk.
    let (text, code) = import_with_driver(
        dir.path(),
        "sys.modules['tkinter'] = None",
        &["needs_tk", "wraps_tk", "fine", "needs_dep"],
    );
    assert!(
        text.contains("not checked needs_tk: it needs the standard library's tkinter"),
        "{text}"
    );
    assert!(
        text.contains("not checked wraps_tk: it needs the standard library's tkinter"),
        "{text}"
    );
    assert!(text.contains("imported fine"), "{text}");
    assert!(text.contains("cannot import needs_dep"), "{text}");
    assert_eq!(code, Some(1), "{text}");
}

#[test]
fn a_test_module_needing_a_test_only_dependency_is_not_checked_but_the_package_is() {
    let dir = tempfile::tempdir().unwrap();
    let tests = dir.path().join("pkg/tests");
    std::fs::create_dir_all(&tests).unwrap();
    std::fs::write(dir.path().join("pkg/__init__.py"), "").unwrap();
    std::fs::write(
        dir.path().join("pkg/core.py"),
        "import refinery_no_such_dep\n",
    )
    .unwrap();
    // greenlet's shape: the tests package imports psutil, which only its tests need.
    std::fs::write(tests.join("__init__.py"), "import refinery_no_such_dep\n").unwrap();
    std::fs::write(tests.join("_ext.py"), "X = 1\n").unwrap();
    let (text, code) = import_with_driver(dir.path(), "", &["pkg", "pkg.tests._ext", "pkg.core"]);
    assert!(text.contains("imported pkg from"), "{text}");
    assert!(
        text.contains("not checked pkg.tests._ext: a test module that needs refinery_no_such_dep"),
        "{text}"
    );
    // Outside a test package the same missing module is a failure.
    assert!(text.contains("cannot import pkg.core"), "{text}");
    assert_eq!(code, Some(1), "{text}");
    // With the dependency present, the test module is imported and checked.
    let (text, code) = import_with_driver(
        dir.path(),
        "sys.modules['refinery_no_such_dep'] = __import__('os')",
        &["pkg", "pkg.tests._ext"],
    );
    assert!(text.contains("imported pkg.tests._ext"), "{text}");
    assert_eq!(code, Some(0), "{text}");
    // A test module missing a part of the wheel itself is a failure.
    std::fs::write(tests.join("__init__.py"), "import pkg.gone\n").unwrap();
    let (text, code) = import_with_driver(dir.path(), "", &["pkg.tests._ext"]);
    assert!(text.contains("cannot import pkg.tests._ext"), "{text}");
    assert_eq!(code, Some(1), "{text}");
}

#[test]
fn pytest_summaries_are_read_from_the_last_lines() {
    let lines = |l: &[&str]| l.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert_eq!(
        pytest_summary(&lines(&[
            "....",
            "12 passed in 3.40s",
            "[refinery-verify] exit 0"
        ])),
        Some("12 passed in 3.40s".into())
    );
    assert_eq!(
        pytest_summary(&lines(&[
            "FAILED tests/test_x.py::test_order - assert 1 == 2",
            "========= 1 failed, 4 passed, 1 warning in 0.52s =========",
        ])),
        Some("1 failed, 4 passed, 1 warning in 0.52s".into())
    );
    assert_eq!(pytest_summary(&lines(&["no tests ran in 0.01s"])), None);
    assert_eq!(
        pytest_summary(&lines(&["ModuleNotFoundError: pytest"])),
        None
    );
}

#[test]
fn a_suite_with_errors_but_no_failed_test_gives_no_verdict() {
    assert!(only_errors("3 passed, 2 errors in 1.20s"));
    assert!(only_errors("1 error in 0.30s"));
    assert!(!only_errors("1 failed, 2 errors in 1.00s"));
    assert!(!only_errors("1 failed, 4 passed in 0.52s"));
    assert!(!only_errors("12 passed in 3.40s"));
}

/// Verify the generated wheel at the import level with `native` as the install.
fn verify_with(native: Option<NativeInstall>) -> (Verification, String, PathBuf) {
    let dir = tempfile::tempdir().unwrap().keep();
    let wheels = dir.join("wheels");
    let work = dir.join("work");
    std::fs::create_dir_all(&wheels).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let wheel = write_wheel(&wheels);
    let runner = host();
    let sandbox = Sandbox {
        native,
        ..sandbox(&runner, &work)
    };
    let log = Log::create(&work.join("verify.log"), DEFAULT_LOG_CAP).unwrap();
    let settings = VerifySettings {
        level: VerifyLevel::Import,
        ..VerifySettings::default()
    };
    let version: refinery_pep::ProjectVersion = "1.0".parse().unwrap();
    let under_test = fastpkg_under_test(&wheel, &wheels, &version);
    let v = verify_wheel(&sandbox, &under_test, &settings, &log).expect("not stopped");
    (v, log.read_all(), work)
}

fn host_target() -> refinery_pep::Target {
    let output = std::process::Command::new("python3")
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .unwrap();
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    refinery_pep::Target::new(&version, "manylinux2014_s390x").unwrap()
}

#[test]
fn the_hosts_uv_installs_natively_and_the_venv_imports_from_its_folder() {
    let uv = crate::accelerate::find_host_uv();
    if !refinery_test_support::tool_available("uv", uv.is_some(), "put uv on PATH or set UV") {
        return;
    }
    let uv = uv.unwrap();
    let native = NativeInstall::with_uv(uv, &host_target());
    let (v, log, work) = verify_with(Some(native));
    let got: Vec<String> = v
        .checks
        .iter()
        .map(|c| format!("{} {}", c.name, c.outcome))
        .collect();
    assert_eq!(got, ["install passed", "import passed"], "{log}");
    assert!(
        v.checks[0]
            .detail
            .starts_with("native: the host's uv installed it for s390x-manylinux_2_17"),
        "{:?}",
        v.checks[0]
    );
    let site = work.join(super::super::native::SITE_DIR);
    assert!(site.join("fastpkg/__init__.py").is_file(), "{log}");
    // Imported from the natively installed folder, not installed by pip into the venv.
    assert!(
        log.contains(&format!(
            "imported fastpkg from {}",
            site.join("fastpkg/__init__.py").display()
        )),
        "{log}"
    );
    assert!(!log.contains("-m pip"), "{log}");
    // The console script is in the venv's bin, runs with the venv's python and imports
    // the package through the site dir, as after a pip install.
    let script = work.join("venv/bin/fastpkg-cli");
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(
        text.starts_with(&format!("#!{}\n", work.join("venv/bin/python").display())),
        "{text}"
    );
    let out = std::process::Command::new(&script).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "fastpkg main",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(work.parent().unwrap());
}

#[test]
fn a_failed_native_install_falls_back_to_pip_and_says_why() {
    let native = NativeInstall::with_uv("/nonexistent/uv".into(), &host_target());
    let (v, log, work) = verify_with(Some(native));
    let got: Vec<String> = v
        .checks
        .iter()
        .map(|c| format!("{} {}", c.name, c.outcome))
        .collect();
    assert_eq!(got, ["install passed", "import passed"], "{log}");
    let detail = &v.checks[0].detail;
    assert!(
        detail.starts_with(
            "emulated: the host's uv could not install it: cannot run /nonexistent/uv"
        ),
        "{detail}"
    );
    assert!(log.contains("the native install failed"), "{log}");
    let _ = std::fs::remove_dir_all(work.parent().unwrap());
}

#[test]
fn a_module_whose_direct_import_is_circular_is_imported_after_its_importer() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("__init__.py"), "").unwrap();
    // scipy 1.16's shape: `triu` imports `sqrtm` first thing, `sqrtm` takes a name from
    // `triu`: importing `triu` first fails on every platform, `sqrtm` first works.
    std::fs::write(pkg.join("triu.py"), "import pkg.sqrtm\nX = 1\n").unwrap();
    std::fs::write(pkg.join("sqrtm.py"), "from pkg.triu import X\n").unwrap();
    // A cycle that fails in either order stays a failure.
    std::fs::write(pkg.join("c.py"), "from pkg.d import Y\nZ = 1\n").unwrap();
    std::fs::write(pkg.join("d.py"), "from pkg.c import Z\nY = 1\n").unwrap();
    let (text, code) = import_with_driver(dir.path(), "", &["pkg", "pkg.triu", "pkg.c"]);
    assert!(
        text.contains("imported pkg.triu from") && text.contains("after pkg.sqrtm: imported first"),
        "{text}"
    );
    assert!(text.contains("cannot import pkg.c"), "{text}");
    assert_eq!(code, Some(1), "{text}");
}
