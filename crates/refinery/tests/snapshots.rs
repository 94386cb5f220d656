//! Snapshots (`insta`) of what a user reads: `--help` of every command, `scan`, `plan`, the
//! errors of bad input and the manifest of a run. Hermetic: generated wheels, a local index,
//! no s390x environment. A change to any of these texts shows up as a snapshot diff to review
//! (`cargo insta review`, or `INSTA_UPDATE=always` and `git diff`).

mod common;

use common::WheelSpec;
use refinery_index::testing::LocalIndex;
use refinery_test_support::TestContext;

fn context() -> TestContext {
    TestContext::new(env!("CARGO_BIN_EXE_refinery"))
}

fn arg(path: &std::path::Path) -> String {
    path.display().to_string()
}

#[test]
fn help_of_every_command() {
    let context = context();
    for command in [
        vec![],
        vec!["run"],
        vec!["scan"],
        vec!["plan"],
        vec!["env"],
        vec!["env", "create"],
        vec!["history"],
        vec!["serve"],
        vec!["worker"],
        vec!["queue"],
        vec!["index"],
    ] {
        let name = if command.is_empty() {
            "refinery".to_string()
        } else {
            command.join("_")
        };
        let mut args = command.clone();
        args.push("--help");
        let output = context.run(&args);
        insta::assert_snapshot!(format!("help_{name}"), context.render(&output));
    }
}

/// A folder with one wheel of each kind `scan` tells apart.
fn scan_folder(context: &TestContext) {
    let input = context.input();
    WheelSpec::new("six", "1.16.0", "py2.py3-none-any").write(&input);
    WheelSpec::new("fast", "2.0", "cp311-cp311-manylinux_2_17_s390x").write(&input);
    WheelSpec::new("psutil", "6.0", "cp311-cp311-manylinux_2_34_s390x").write(&input);
    WheelSpec::new(
        "regex",
        "2024.11.6",
        "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    )
    .write(&input);
    std::fs::write(input.join("broken-1.0-py3-none-any.whl"), b"not a zip").unwrap();
}

#[test]
fn scan_text_and_json() {
    let context = context();
    scan_folder(&context);
    let input = arg(&context.input());
    let args = [
        "scan",
        "--input",
        &input,
        "--python",
        "3.11",
        "--platform-tag",
        "manylinux2014_s390x",
    ];
    insta::assert_snapshot!("scan_text", context.render(&context.run(args)));
    let json: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    insta::assert_snapshot!("scan_json", context.render(&context.run(json)));
}

/// A local index with a pure wheel, its dependency and an sdist to build; the input asks for
/// the first and the sdist.
fn plan_inputs(context: &TestContext) -> LocalIndex {
    let files = context.root().join("index");
    std::fs::create_dir_all(&files).unwrap();
    WheelSpec::new("alpha", "1.0", "py3-none-any")
        .requires(&["beta>=2"])
        .write(&files);
    WheelSpec::new("beta", "2.0", "py3-none-any").write(&files);
    common::write_static_sdist(&files, "gamma", "0.3", &[], &["setuptools"]);
    WheelSpec::new("setuptools", "70.0.0", "py3-none-any").write(&files);
    std::fs::write(
        context.input().join("requirements.txt"),
        "alpha==1.0\ngamma==0.3\n",
    )
    .unwrap();
    LocalIndex::serve_dir(&files).unwrap()
}

#[test]
fn plan_summary_and_json() {
    let context = context();
    let index = plan_inputs(&context);
    let (input, cache) = (arg(&context.input()), arg(&context.cache()));
    let args = [
        "plan",
        "--input",
        &input,
        "--cache",
        &cache,
        "--index-url",
        &index.url,
        "--python",
        "3.11",
        "--platform-tag",
        "manylinux2014_s390x",
    ];
    insta::assert_snapshot!("plan_summary", context.render(&context.run(args)));
    let json: Vec<&str> = args.iter().copied().chain(["--json"]).collect();
    insta::assert_snapshot!("plan_json", context.render(&context.run(json)));
}

#[test]
fn errors_of_bad_input() {
    let mut context = context();
    let cache = arg(&context.cache());
    let missing = arg(&context.root().join("no-such-folder"));
    let cases: [(&str, Vec<&str>); 4] = [
        (
            "missing_input",
            vec!["plan", "--input", &missing, "--cache", &cache],
        ),
        (
            "bad_platform_tag",
            vec![
                "scan",
                "--input",
                &cache,
                "--platform-tag",
                "manylinux2014_sparc",
            ],
        ),
        (
            "bad_python",
            vec!["scan", "--input", &cache, "--python", "three"],
        ),
        ("unknown_flag", vec!["plan", "--frobnicate"]),
    ];
    for (name, args) in cases {
        insta::assert_snapshot!(format!("error_{name}"), context.render(&context.run(args)));
    }

    // A requirements file with a line pip would refuse: named with its line number.
    std::fs::write(
        context.input().join("requirements.txt"),
        "alpha==1.0\nbeta>=>2\n",
    )
    .unwrap();
    let input = arg(&context.input());
    let output = context.run(["plan", "--input", &input, "--cache", &cache]);
    insta::assert_snapshot!("error_broken_requirements", context.render(&output));

    // An index URL with a password, unreachable: the password never appears.
    std::fs::write(context.input().join("requirements.txt"), "alpha==1.0\n").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://alice:s3cr3t@127.0.0.1:{port}/simple");
    context.filter("s3cr3t", "[LEAKED PASSWORD]");
    let output = context.run([
        "plan",
        "--input",
        &input,
        "--cache",
        &cache,
        "--index-url",
        &url,
    ]);
    insta::assert_snapshot!("error_unreachable_index", context.render(&output));

    // A run against it changes nothing of the last run's output.
    let output_dir = context.output();
    std::fs::create_dir_all(&output_dir).unwrap();
    std::fs::write(output_dir.join("manifest.json"), "the last run's").unwrap();
    let out_arg = arg(&output_dir);
    let run = context.run([
        "--input",
        &input,
        "--cache",
        &cache,
        "--output",
        &out_arg,
        "--index-url",
        &url,
    ]);
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(output_dir.join("manifest.json")).unwrap(),
        "the last run's"
    );
    assert_eq!(std::fs::read_dir(&output_dir).unwrap().count(), 1);
}

#[test]
fn manifest_of_a_reuse_only_run() {
    let context = context();
    let index = plan_inputs(&context);
    std::fs::write(context.input().join("requirements.txt"), "alpha==1.0\n").unwrap();
    let (input, cache, output_dir) = (
        arg(&context.input()),
        arg(&context.cache()),
        arg(&context.output()),
    );
    let output = context.run([
        "--input",
        &input,
        "--cache",
        &cache,
        "--output",
        &output_dir,
        "--index-url",
        &index.url,
        "--python",
        "3.11",
        "--platform-tag",
        "manylinux2014_s390x",
    ]);
    insta::assert_snapshot!("run_reuse_only", context.render(&output));
    let manifest = std::fs::read_to_string(context.output().join("manifest.json")).unwrap();
    insta::assert_snapshot!("manifest_reuse_only", context.apply(&manifest));
}

/// Setup errors of `run` come before any work: an input that is a file before the
/// "resolving and planning" line, a Python no rootfs environment can have once the plan
/// has a build, before anything is built or written.
#[test]
fn run_errors_before_any_build() {
    let context = context();
    let index = plan_inputs(&context);
    let (input, cache, output_dir) = (
        arg(&context.input()),
        arg(&context.cache()),
        arg(&context.output()),
    );
    let file_input = arg(&context.input().join("requirements.txt"));
    let output = context.run([
        "--input",
        &file_input,
        "--cache",
        &cache,
        "--output",
        &output_dir,
    ]);
    insta::assert_snapshot!("run_error_input_is_a_file", context.render(&output));

    // gamma has only an sdist: the plan builds it, and 3.12 has no rootfs environment.
    let output = context.run([
        "--input",
        &input,
        "--cache",
        &cache,
        "--output",
        &output_dir,
        "--index-url",
        &index.url,
        "--python",
        "3.12",
        "--platform-tag",
        "manylinux2014_s390x",
    ]);
    assert_eq!(output.status.code(), Some(2));
    insta::assert_snapshot!(
        "run_error_python_without_environment",
        context.render(&output)
    );
    let written: Vec<_> = std::fs::read_dir(context.output())
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(written.is_empty(), "nothing is written: {written:?}");
}
