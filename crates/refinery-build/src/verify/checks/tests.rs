//! The driver run by the host's python3 through the host runner: each part gets the
//! verdict, detail and evidence it would have had alone; a crash, a hang and a failure
//! in one part neither hide the others' verdicts nor stop the parts after it.

use super::*;
use crate::exec::DEFAULT_LOG_CAP;
use crate::runner::HostRunner;

struct Run {
    results: Vec<CheckResult>,
    log: String,
    /// How many interpreters the driver was started in.
    processes: usize,
    elapsed: Duration,
}

/// Run the parts `(name, limit secs, code)` with a python3 "venv" in a temp work folder;
/// `code` starting with `import:` names modules to import, else it is a script.
fn run(parts: &[(&str, u64, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    // The venv's interpreter is the host's python3 (the runner runs it as is).
    std::fs::create_dir_all(work.join("venv/bin")).unwrap();
    let python3 = which("python3");
    std::os::unix::fs::symlink(python3, work.join("venv/bin/python")).unwrap();
    std::fs::write(work.join("goodmod.py"), "VALUE = 2**63\n").unwrap();
    let runner = HostRunner {
        python: "python3".into(),
    };
    let env: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k == "PATH" || k == "HOME")
        .chain([("PYTHONPATH".into(), work.to_string_lossy().into_owned())])
        .collect();
    let sandbox = Sandbox {
        runner: &runner,
        mounts: Vec::new(),
        env,
        work_host: work.to_path_buf(),
        work_guest: work.to_string_lossy().into_owned(),
        stop: None,
        native: None,
    };
    let parts: Vec<Part> = parts
        .iter()
        .map(|(name, limit, code)| Part {
            name: (*name).to_string(),
            limit: Duration::from_secs(*limit),
            code: match code.strip_prefix("import:") {
                Some(modules) => PartCode::Import(modules.split(' ').map(String::from).collect()),
                None => {
                    let file = format!("refinery_{}.py", name.replace(':', "_"));
                    PartCode::Script(write_script(&sandbox, &file, code))
                }
            },
        })
        .collect();
    let log = Log::create(&work.join("verify.log"), DEFAULT_LOG_CAP).unwrap();
    let started = Instant::now();
    let results = run_parts(&sandbox, &parts, None, &log);
    let elapsed = started.elapsed();
    let log = log.read_all();
    let processes = log.matches("in one interpreter:").count();
    Run {
        results,
        log,
        processes,
        elapsed,
    }
}

fn which(tool: &str) -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{tool} is not on PATH"))
}

fn verdicts(run: &Run) -> Vec<String> {
    run.results
        .iter()
        .map(|c| format!("{} {}", c.name, c.outcome))
        .collect()
}

#[test]
fn import_and_smoke_tests_share_one_interpreter_and_keep_their_own_verdicts() {
    let run = run(&[
        ("import", 60, "import:goodmod"),
        (
            "smoke:a",
            60,
            "import sys\nprint('dumps gave', b'128')\nassert sys.maxsize == 1, 'wrong width'\n",
        ),
        ("smoke:b", 60, "import goodmod\nprint('b ran')\n"),
        (
            "smoke:c",
            60,
            "raise SystemExit('1 of 3 self-tests failed')\n",
        ),
        ("smoke:d", 60, "import sys\nsys.exit(3)\n"),
    ]);
    assert_eq!(
        verdicts(&run),
        [
            "import passed",
            "smoke:a failed",
            "smoke:b passed",
            "smoke:c failed",
            "smoke:d failed"
        ],
        "{}",
        run.log
    );
    assert_eq!(run.processes, 1, "{}", run.log);
    let [import, a, b, c, d] = &run.results[..] else {
        unreachable!()
    };
    assert!(import.detail.is_empty(), "{import:?}");
    assert!(
        import
            .evidence
            .iter()
            .any(|l| l.contains("imported goodmod")),
        "{import:?}"
    );
    // The same detail as a script run alone, and only its own lines as evidence.
    assert_eq!(
        a.detail, "exit status 1: AssertionError: wrong width",
        "{a:?}"
    );
    assert!(a.evidence.iter().any(|l| l.contains("dumps gave")), "{a:?}");
    assert!(!a
        .evidence
        .iter()
        .any(|l| l.contains("b ran") || l.contains("imported")));
    // The traceback starts at the script, not in the driver.
    let trace = a.evidence.join("\n");
    assert!(trace.contains("refinery_smoke_a.py\", line 3"), "{trace}");
    assert!(
        !trace.contains("runpy") && !trace.contains("checks.py"),
        "{trace}"
    );
    assert_eq!(b.evidence, ["b ran"], "{b:?}");
    assert_eq!(c.detail, "exit status 1: 1 of 3 self-tests failed", "{c:?}");
    assert_eq!(d.detail, "exit status 3: no output", "{d:?}");
    // The log keeps each check's header and verdict.
    assert!(run
        .log
        .contains("[refinery-verify] --- smoke:b (limit 60 s) ---"));
    assert!(run.log.contains(
        "[refinery-verify] smoke:a: failed (exit status 1: AssertionError: wrong width)"
    ));
}

#[test]
fn a_crashing_smoke_test_is_reported_crashed_and_the_next_runs_in_a_new_interpreter() {
    let run = run(&[
        ("import", 60, "import:goodmod"),
        ("smoke:ok", 60, "print('first')\n"),
        (
            "smoke:crash",
            60,
            "print('before the crash')\nimport ctypes\nctypes.string_at(0)\n",
        ),
        ("smoke:after", 60, "import goodmod\nprint('after')\n"),
    ]);
    assert_eq!(
        verdicts(&run),
        [
            "import passed",
            "smoke:ok passed",
            "smoke:crash crashed",
            "smoke:after passed"
        ],
        "{}",
        run.log
    );
    assert_eq!(run.processes, 2, "{}", run.log);
    let crash = &run.results[2];
    assert!(crash.detail.contains("signal 11 (SIGSEGV)"), "{crash:?}");
    assert!(
        crash
            .evidence
            .iter()
            .any(|l| l.contains("before the crash")),
        "{crash:?}"
    );
    assert!(
        crash
            .evidence
            .iter()
            .any(|l| l.contains("Segmentation fault")),
        "{crash:?}"
    );
    assert!(!crash.evidence.iter().any(|l| l == "first"), "{crash:?}");
}

#[test]
fn a_hanging_smoke_test_is_killed_at_its_own_limit_not_the_imports() {
    let run = run(&[
        ("import", 600, "import:goodmod"),
        (
            "smoke:hang",
            1,
            "print('spinning')\nwhile True:\n    pass\n",
        ),
        ("smoke:after", 600, "print('after')\n"),
    ]);
    assert_eq!(
        verdicts(&run),
        [
            "import passed",
            "smoke:hang timed_out",
            "smoke:after passed"
        ],
        "{}",
        run.log
    );
    let hang = &run.results[1];
    assert!(hang.detail.contains("time limit of 1 s"), "{hang:?}");
    assert!(hang.evidence.iter().any(|l| l == "spinning"), "{hang:?}");
    assert!((0.9..30.0).contains(&hang.duration_secs), "{hang:?}");
    assert!(run.elapsed < Duration::from_secs(30), "{:?}", run.elapsed);
}

#[test]
fn a_failed_import_ends_the_checks() {
    let run = run(&[
        ("import", 60, "import:goodmod refinery_no_such_module"),
        ("smoke:never", 60, "print('ran')\n"),
    ]);
    assert_eq!(verdicts(&run), ["import failed"], "{}", run.log);
    let import = &run.results[0];
    assert!(import.detail.starts_with("exit status 1: "), "{import:?}");
    assert!(
        import.detail.contains("refinery_no_such_module"),
        "{import:?}"
    );
    assert!(!run.log.contains("--- smoke:never"), "{}", run.log);
    assert!(!run.log.contains("\nran\n"), "{}", run.log);
}

#[test]
fn a_crash_at_the_interpreters_exit_is_blamed_on_the_last_check_that_ran() {
    let run = run(&[
        ("import", 60, "import:goodmod"),
        (
            "smoke:exit",
            60,
            "import atexit, os\natexit.register(os.abort)\n",
        ),
    ]);
    assert_eq!(
        verdicts(&run),
        ["import passed", "smoke:exit crashed"],
        "{}",
        run.log
    );
    let exit = &run.results[1];
    assert!(
        exit.detail
            .starts_with("at the interpreter's exit: the interpreter died of signal 6 (SIGABRT)"),
        "{exit:?}"
    );
}

#[test]
fn the_end_marker_is_read_for_its_own_part_only() {
    let part = Part {
        name: "smoke:a".into(),
        limit: Duration::from_secs(5),
        code: PartCode::Script("/x.py".into()),
    };
    assert_eq!(
        part.end("[refinery-verify] end smoke:a exit 1 in 0.250 s"),
        Some((1, 0.25))
    );
    assert_eq!(
        part.end("[refinery-verify] end smoke:ab exit 1 in 0.250 s"),
        None
    );
    assert_eq!(
        part.end("[refinery-verify] end smoke:a exit x in 0.250 s"),
        None
    );
    assert_eq!(
        part.header(),
        "[refinery-verify] --- smoke:a (limit 5 s) ---"
    );
}

/// A sandbox over the host's python3 in `work` (as `run` makes it) for the tests of the
/// interpreter started ahead.
fn host_sandbox<'a>(work: &std::path::Path, runner: &'a HostRunner) -> Sandbox<'a> {
    std::fs::create_dir_all(work.join("venv/bin")).unwrap();
    std::os::unix::fs::symlink(which("python3"), work.join("venv/bin/python")).unwrap();
    Sandbox {
        runner,
        mounts: Vec::new(),
        env: std::env::vars()
            .filter(|(k, _)| k == "PATH" || k == "HOME")
            .collect(),
        work_host: work.to_path_buf(),
        work_guest: work.to_string_lossy().into_owned(),
        stop: None,
        native: None,
    }
}

#[test]
fn an_interpreter_started_before_the_install_imports_what_was_installed_after() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let runner = HostRunner {
        python: "python3".into(),
    };
    let sandbox = host_sandbox(work, &runner);
    let site = work.join("verify-site");
    let parts = vec![Part {
        name: "import".into(),
        limit: Duration::from_secs(60),
        code: PartCode::Import(vec!["latemod".into(), "fromdotpth".into()]),
    }];
    let log = Log::create(&work.join("verify.log"), DEFAULT_LOG_CAP).unwrap();
    let early = prestart(&sandbox, &parts, &site.to_string_lossy(), &log).expect("started");
    // The "install", after the interpreter started: a module, and a `.pth` file that adds
    // another folder, as a package's own `.pth` would.
    std::fs::create_dir_all(site.join("extra")).unwrap();
    std::fs::write(site.join("latemod.py"), "VALUE = 1\n").unwrap();
    std::fs::write(site.join("extra/fromdotpth.py"), "VALUE = 2\n").unwrap();
    std::fs::write(site.join("extra.pth"), "extra\n").unwrap();
    let results = run_parts(&sandbox, &parts, Some(early), &log);
    let text = log.read_all();
    assert_eq!(results.len(), 1, "{text}");
    assert_eq!(results[0].outcome, CheckOutcome::Passed, "{text}");
    assert!(
        text.contains("in one interpreter (started while the wheel was installed): import"),
        "{text}"
    );
    assert_eq!(text.matches("in one interpreter").count(), 1, "{text}");
    assert!(text.contains("imported fromdotpth from"), "{text}");
}

#[test]
fn a_cancelled_early_interpreter_runs_nothing_and_a_dead_one_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    let runner = HostRunner {
        python: "python3".into(),
    };
    let sandbox = host_sandbox(work, &runner);
    std::fs::write(work.join("goodmod.py"), "VALUE = 1\n").unwrap();
    let parts = vec![Part {
        name: "import".into(),
        limit: Duration::from_secs(60),
        code: PartCode::Import(vec!["goodmod".into()]),
    }];
    let site = work.to_string_lossy().into_owned();
    let log = Log::create(&work.join("verify.log"), DEFAULT_LOG_CAP).unwrap();
    // Cancelled (a failed install): it ends without running a check.
    prestart(&sandbox, &parts, &site, &log).unwrap().cancel();
    assert!(
        !log.read_all().contains("[refinery-verify] ---"),
        "{}",
        log.read_all()
    );
    // One that ended before its go (killed here): the checks start their own.
    let mut early = prestart(&sandbox, &parts, &site, &log).unwrap();
    crate::exec::kill_group(early.running_pid());
    // Until the kernel has ended it (the test's own wait, not the product's).
    let until = Instant::now() + Duration::from_secs(10);
    while !early.has_ended() {
        assert!(Instant::now() < until, "the killed interpreter did not end");
        std::thread::sleep(Duration::from_millis(10));
    }
    let results = run_parts(&sandbox, &parts, Some(early), &log);
    let text = log.read_all();
    assert_eq!(results[0].outcome, CheckOutcome::Passed, "{text}");
    assert!(
        text.contains("[refinery-verify] in one interpreter: import"),
        "{text}"
    );
}
