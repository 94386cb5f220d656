//! `refinery plan` end to end: the real binary, the real resolver (uv), and a local index on
//! 127.0.0.1 serving wheels and sdists generated here. No outside network.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{plan_json, plan_node, refinery, stderr, stdout, write_static_sdist, WheelSpec};
use refinery_index::testing::LocalIndex;
use serde_json::Value;

const PURE: &str = "py3-none-any";
const X86: &str = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64";
const S390X: &str = "cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x";

/// An index folder served on 127.0.0.1, an input folder and a cache folder.
struct Fixture {
    index_dir: tempfile::TempDir,
    input: tempfile::TempDir,
    cache: tempfile::TempDir,
    index: LocalIndex,
}

impl Fixture {
    fn new() -> Fixture {
        let index_dir = tempfile::tempdir().unwrap();
        let index = LocalIndex::serve_dir(index_dir.path()).unwrap();
        Fixture {
            index_dir,
            input: tempfile::tempdir().unwrap(),
            cache: tempfile::tempdir().unwrap(),
            index,
        }
    }

    fn files(&self) -> &Path {
        self.index_dir.path()
    }

    /// A wheel on the index.
    fn wheel(&self, name: &str, version: &str, tag: &str, requires: &[&str]) -> PathBuf {
        WheelSpec::new(name, version, tag)
            .requires(requires)
            .write(self.files())
    }

    /// An sdist (static PKG-INFO) on the index.
    fn sdist(&self, name: &str, version: &str, requires: &[&str], build: &[&str]) -> PathBuf {
        write_static_sdist(self.files(), name, version, requires, build)
    }

    fn requirements(&self, text: &str) {
        std::fs::write(self.input.path().join("requirements.txt"), text).unwrap();
    }

    fn input_dir(&self) -> &str {
        self.input.path().to_str().unwrap()
    }

    fn cache_dir(&self) -> &str {
        self.cache.path().to_str().unwrap()
    }

    /// `refinery plan --json` against this index, with more flags and environment.
    fn plan_with(&self, extra: &[&str], envs: &[(&str, &str)]) -> (Output, Value) {
        self.plan_on(&self.index.url, extra, envs)
    }

    fn plan_on(&self, index_url: &str, extra: &[&str], envs: &[(&str, &str)]) -> (Output, Value) {
        let mut args = vec![
            "--input",
            self.input_dir(),
            "--cache",
            self.cache_dir(),
            "--index-url",
            index_url,
        ];
        args.extend_from_slice(extra);
        let (out, plan) = plan_json(&args, envs);
        let plan = plan.unwrap_or_else(|| {
            panic!(
                "no plan JSON (exit {:?})\nstdout:\n{}\nstderr:\n{}",
                out.status.code(),
                stdout(&out),
                stderr(&out)
            )
        });
        (out, plan)
    }

    fn plan(&self) -> (Output, Value) {
        self.plan_with(&[], &[])
    }
}

fn action(plan: &Value, name: &str) -> String {
    plan_node(plan, name)["action"]
        .as_str()
        .unwrap()
        .to_string()
}

fn version(plan: &Value, name: &str) -> String {
    plan_node(plan, name)["version"]
        .as_str()
        .unwrap()
        .to_string()
}

fn reason(plan: &Value, name: &str) -> String {
    plan_node(plan, name)["reason"]
        .as_str()
        .unwrap()
        .to_string()
}

fn has_node(plan: &Value, name: &str) -> bool {
    plan["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["name"] == name)
}

fn has_edge(plan: &Value, from: &str, to: &str, kind: &str) -> bool {
    plan["edges"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["from"] == from && e["to"] == to && e["kind"] == kind)
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn reuses_wheels_that_work_builds_the_rest_and_honours_s390x_markers() {
    let f = Fixture::new();
    f.wheel(
        "purea",
        "1.0",
        PURE,
        &[
            "dep-s390 ; platform_machine == \"s390x\"",
            "dep-x86 ; platform_machine == \"x86_64\"",
            "dep-win ; sys_platform == \"win32\"",
            "dep-linux ; sys_platform == \"linux\" and python_version >= \"3.11\"",
        ],
    );
    for dep in ["dep-s390", "dep-x86", "dep-win", "dep-linux"] {
        f.wheel(dep, "1.0", PURE, &[]);
    }
    // x86_64 wheels only, and an sdist: a build.
    f.wheel("cext", "1.0", X86, &[]);
    let cext_sdist = f.sdist("cext", "1.0", &[], &["setuptools>=61"]);
    // An s390x wheel next to an sdist: reused, not built.
    f.wheel("fast", "2.0", S390X, &[]);
    f.wheel("fast", "2.0", X86, &[]);
    f.sdist("fast", "2.0", &[], &["setuptools"]);
    // x86_64 wheels and no sdist: missing.
    f.wheel("binonly", "1.0", X86, &[]);
    f.requirements("purea\ncext\nfast\nbinonly\n");

    let (out, plan) = f.plan();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(action(&plan, "purea"), "reuse");
    assert_eq!(plan_node(&plan, "purea")["source"]["kind"], "index_wheel");
    assert!(plan_node(&plan, "purea")["direct"].as_bool().unwrap());

    let cext = plan_node(&plan, "cext");
    assert_eq!(cext["action"], "build", "{cext:#}");
    assert_eq!(cext["source"]["kind"], "index_sdist");
    assert_eq!(cext["source"]["filename"], "cext-1.0.tar.gz");
    assert_eq!(cext["source"]["url"], f.index.file_url("cext-1.0.tar.gz"));
    assert_eq!(cext["source"]["sha256"], sha256_of(&cext_sdist));
    assert_eq!(
        cext["steps"],
        serde_json::json!(["build", "repair", "verify"])
    );
    assert_eq!(
        cext["build_requires"],
        serde_json::json!(["setuptools>=61"])
    );

    let fast = plan_node(&plan, "fast");
    assert_eq!(fast["action"], "reuse", "{fast:#}");
    assert_eq!(fast["source"]["kind"], "index_wheel");
    assert!(fast["source"]["filename"]
        .as_str()
        .unwrap()
        .contains("s390x"));

    assert_eq!(action(&plan, "binonly"), "missing");
    let why = reason(&plan, "binonly");
    assert!(why.contains("s390x") && why.contains("sdist"), "{why}");

    // Markers are evaluated for s390x Linux, CPython 3.11.
    assert!(has_node(&plan, "dep-s390"));
    assert!(has_node(&plan, "dep-linux"));
    assert!(!has_node(&plan, "dep-x86"), "{plan:#}");
    assert!(!has_node(&plan, "dep-win"), "{plan:#}");
    assert!(!plan_node(&plan, "dep-s390")["direct"].as_bool().unwrap());
    assert!(has_edge(&plan, "purea==1.0", "dep-s390==1.0", "runtime"));
    assert_eq!(plan["python"], "3.11");
    assert_eq!(plan["platform_tag"], "manylinux2014_s390x");
}

#[test]
fn constraints_from_the_requirements_file_and_constraints_path_apply() {
    let f = Fixture::new();
    for name in ["c-one", "c-two", "c-three"] {
        for v in ["1.0", "2.0"] {
            f.wheel(name, v, PURE, &[]);
        }
    }
    f.wheel("top", "1.0", PURE, &["c-three"]);
    std::fs::write(f.input.path().join("constraints.txt"), "c-one<2\n").unwrap();
    f.requirements("-c constraints.txt\nc-one\nc-two\ntop\n");
    let outside = tempfile::tempdir().unwrap();
    let constraints_path = outside.path().join("more-constraints.txt");
    std::fs::write(&constraints_path, "c-two==1.0\nc-three<2\n").unwrap();

    let (out, plan) = f.plan_with(
        &[],
        &[("CONSTRAINTS_PATH", constraints_path.to_str().unwrap())],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(version(&plan, "c-one"), "1.0");
    assert_eq!(version(&plan, "c-two"), "1.0");
    // A constraint on a dependency, not a requirement itself.
    assert_eq!(version(&plan, "c-three"), "1.0");
    assert!(!plan_node(&plan, "c-three")["direct"].as_bool().unwrap());

    let (out, plan) = f.plan();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(version(&plan, "c-one"), "1.0");
    assert_eq!(version(&plan, "c-two"), "2.0");
    assert_eq!(version(&plan, "c-three"), "2.0");
}

#[test]
fn a_conflict_marks_both_sides_missing_and_plans_the_rest() {
    let f = Fixture::new();
    f.wheel("shared", "1.0", PURE, &[]);
    f.wheel("shared", "2.0", PURE, &[]);
    f.wheel("left", "1.0", PURE, &["shared<2"]);
    f.wheel("right", "1.0", PURE, &["shared>=2"]);
    f.wheel("fine", "1.0", PURE, &[]);
    f.requirements("left\nfine\nright\n");
    let (out, plan) = f.plan();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(action(&plan, "fine"), "reuse");
    for name in ["left", "right"] {
        assert_eq!(action(&plan, name), "missing");
        let why = reason(&plan, name);
        assert!(why.contains("conflicts"), "{why}");
        // The resolver's own explanation names both sides and the shared dependency.
        assert!(
            why.contains("left") && why.contains("right") && why.contains("shared"),
            "{why}"
        );
        assert!(why.contains(&f.index.url), "names the index: {why}");
    }
}

#[test]
fn pinned_keeps_input_wheel_versions_eager_moves_them_to_the_newest() {
    let f = Fixture::new();
    WheelSpec::new("alpha", "1.0", PURE).write(f.input.path());
    f.wheel("alpha", "1.0", PURE, &[]);
    f.wheel("alpha", "2.0", PURE, &[]);

    let (out, plan) = f.plan();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(plan["strategy"], "pinned");
    assert_eq!(version(&plan, "alpha"), "1.0");
    let alpha = plan_node(&plan, "alpha");
    assert_eq!(alpha["action"], "reuse");
    assert_eq!(alpha["source"]["kind"], "input_wheel");
    assert!(alpha["direct"].as_bool().unwrap());

    let (out, plan) = f.plan_with(&["--upgrade-strategy", "eager"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(plan["strategy"], "eager");
    assert_eq!(version(&plan, "alpha"), "2.0");
    assert_eq!(plan_node(&plan, "alpha")["source"]["kind"], "index_wheel");
}

#[test]
fn fallback_latest_moves_to_the_newest_version_with_an_sdist_or_s390x_wheel() {
    let f = Fixture::new();
    // The input wheel pins 1.0, which exists for x86_64 only.
    WheelSpec::new("old", "1.0", X86).write(f.input.path());
    f.wheel("old", "1.0", X86, &[]);
    f.wheel("old", "2.0", X86, &[]);
    let sdist = f.sdist("old", "2.0", &[], &["setuptools"]);
    f.wheel("old", "3.0", X86, &[]);

    let (out, plan) = f.plan();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(version(&plan, "old"), "1.0");
    assert_eq!(action(&plan, "old"), "missing");
    assert!(reason(&plan, "old").contains("--fallback-latest"));

    let (out, plan) = f.plan_with(&["--fallback-latest"], &[]);
    assert!(out.status.success(), "{}\n{plan:#}", stderr(&out));
    let old = plan_node(&plan, "old");
    assert_eq!(old["version"], "2.0", "{plan:#}");
    assert_eq!(old["action"], "build");
    assert_eq!(old["source"]["sha256"], sha256_of(&sdist));
    let notes = plan["notes"].to_string();
    assert!(
        notes.contains("old 1.0") && notes.contains("2.0"),
        "{notes}"
    );
}

#[test]
fn max_deps_bounds_the_expansion_and_says_so() {
    let f = Fixture::new();
    f.wheel("chain-a", "1.0", PURE, &["chain-b"]);
    f.wheel("chain-b", "1.0", PURE, &["chain-c"]);
    f.wheel("chain-c", "1.0", PURE, &["chain-d"]);
    f.wheel("chain-d", "1.0", PURE, &[]);
    f.requirements("chain-a\n");

    let (out, plan) = f.plan_with(&[], &[("MAX_DEPS", "2")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(action(&plan, "chain-a"), "reuse");
    assert_eq!(action(&plan, "chain-b"), "reuse");
    for name in ["chain-c", "chain-d"] {
        assert_eq!(action(&plan, name), "missing");
        assert!(reason(&plan, name).contains("MAX_DEPS=2"), "{plan:#}");
    }
    let notes = plan["notes"].to_string();
    assert!(
        notes.contains("MAX_DEPS=2") && notes.contains("2 more"),
        "{notes}"
    );

    let (out, plan) = f.plan();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(action(&plan, "chain-d"), "reuse");
    assert!(plan["notes"].as_array().unwrap().is_empty());
}

#[test]
fn skip_known_failures_avoids_versions_that_failed_before() {
    let f = Fixture::new();
    f.wheel("flaky", "1.0", X86, &[]);
    f.sdist("flaky", "1.0", &[], &["setuptools"]);
    f.wheel("flaky", "2.0", X86, &[]);
    f.sdist("flaky", "2.0", &[], &["setuptools"]);
    f.wheel("steady", "1.0", PURE, &[]);
    f.requirements("flaky\nsteady\n");
    let history = refinery_store::History::open(&f.cache.path().join("history.db")).unwrap();
    history
        .record_attempt(&refinery_store::Attempt {
            package: "flaky".into(),
            version: "2.0".into(),
            python_tag: "cp311".into(),
            platform: "manylinux2014_s390x".into(),
            status: refinery_store::AttemptStatus::Failed,
            attempt: 1,
            ..Default::default()
        })
        .unwrap();
    // An unrelated failure is not listed in this plan.
    history
        .record_attempt(&refinery_store::Attempt {
            package: "elsewhere".into(),
            version: "9.9".into(),
            status: refinery_store::AttemptStatus::Failed,
            attempt: 1,
            ..Default::default()
        })
        .unwrap();
    drop(history);

    let (out, plan) = f.plan();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(version(&plan, "flaky"), "2.0");
    assert!(plan["skipped"].as_array().unwrap().is_empty());

    let (out, plan) = f.plan_with(&["--skip-known-failures"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(version(&plan, "flaky"), "1.0");
    assert_eq!(action(&plan, "flaky"), "build");
    let skipped = plan["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0]["name"], "flaky");
    assert_eq!(skipped[0]["version"], "2.0");
    assert!(skipped[0]["reason"]
        .as_str()
        .unwrap()
        .contains("--skip-known-failures"));
}

#[test]
fn plan_overrides_pin_and_skip_packages() {
    let f = Fixture::new();
    f.wheel("pinme", "1.0", PURE, &[]);
    f.wheel("pinme", "2.0", PURE, &[]);
    f.wheel("host", "1.0", PURE, &["winonly-dep"]);
    f.wheel(
        "winonly-dep",
        "1.0",
        "cp311-cp311-win_amd64",
        &["only-for-winonly"],
    );
    f.wheel("only-for-winonly", "1.0", PURE, &[]);
    f.wheel("dropme", "1.0", PURE, &[]);
    f.requirements("pinme\nhost\ndropme\n");
    let overrides = r#"{"pinme": {"pin": "1.0", "variant": "no-isolation"},
                        "Winonly_Dep": {"skip": true}, "dropme": {"skip": true}}"#;

    let (out, plan) = f.plan_with(&[], &[("PLAN_OVERRIDES_JSON", overrides)]);
    assert!(out.status.success(), "{}\n{plan:#}", stderr(&out));
    assert_eq!(version(&plan, "pinme"), "1.0");
    assert_eq!(
        plan_node(&plan, "pinme")["overrides"]["variant"],
        "no-isolation"
    );
    assert_eq!(action(&plan, "host"), "reuse");
    // Skipped as a requirement and as a dependency, with what only it needed.
    for gone in ["dropme", "winonly-dep", "only-for-winonly"] {
        assert!(!has_node(&plan, gone), "{gone} in {plan:#}");
    }
    let skipped: Vec<&str> = plan["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["dropme", "winonly-dep"]);

    // Without the overrides the dependency with no s390x wheel nor sdist is missing.
    let (out, plan) = f.plan();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(version(&plan, "pinme"), "2.0");
    assert_eq!(action(&plan, "winonly-dep"), "missing");

    let out = refinery(
        &[
            "plan",
            "--input",
            f.input_dir(),
            "--cache",
            f.cache_dir(),
            "--index-url",
            &f.index.url,
        ],
        &[("PLAN_OVERRIDES_JSON", r#"{"pinme": {"pinn": "1"}}"#)],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("PLAN_OVERRIDES_JSON"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_same_inputs_give_the_same_plan_saved_under_its_id() {
    let f = Fixture::new();
    f.wheel("purea", "1.0", PURE, &["dep-one"]);
    f.wheel("dep-one", "1.0", PURE, &[]);
    f.wheel("cext", "1.0", X86, &[]);
    f.sdist("cext", "1.0", &["dep-one"], &["setuptools"]);
    f.requirements("purea\ncext\n");
    let (out1, plan1) = f.plan();
    let sdist_downloads = || {
        f.index
            .requests()
            .iter()
            .filter(|r| r.as_str() == "/files/cext-1.0.tar.gz")
            .count()
    };
    assert_eq!(sdist_downloads(), 1);
    let (out2, plan2) = f.plan();
    assert!(out1.status.success() && out2.status.success());
    assert_eq!(plan1, plan2);
    // The sdist's build requirements are remembered by its sha256: no second download.
    assert_eq!(sdist_downloads(), 1);
    assert_eq!(stdout(&out1), stdout(&out2));
    let id = plan1["id"].as_str().unwrap();
    assert_eq!(id.len(), 16);
    let saved = f.cache.path().join("plans/v1").join(format!("{id}.json"));
    let saved: Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    assert_eq!(saved, plan1);
    // Another cache folder (cold caches) plans the same.
    let other_cache = tempfile::tempdir().unwrap();
    let (_, plan3) = plan_json(
        &[
            "--input",
            f.input_dir(),
            "--cache",
            other_cache.path().to_str().unwrap(),
            "--index-url",
            &f.index.url,
        ],
        &[],
    );
    assert_eq!(plan3.unwrap()["id"], plan1["id"]);
}

#[test]
fn without_json_a_summary_counts_actions_and_lists_builds() {
    let f = Fixture::new();
    f.wheel("purea", "1.0", PURE, &[]);
    f.wheel("cext", "1.0", X86, &[]);
    f.sdist("cext", "1.0", &[], &["setuptools"]);
    f.wheel("binonly", "1.0", X86, &[]);
    f.requirements("purea\ncext\nbinonly\n");
    let out = refinery(
        &[
            "plan",
            "--input",
            f.input_dir(),
            "--cache",
            f.cache_dir(),
            "--index-url",
            &f.index.url,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with("1 reuse, 1 build, 1 missing"),
        "{text}"
    );
    assert!(text.contains("build   cext 1.0"), "{text}");
    assert!(text.contains("missing binonly 1.0"), "{text}");
    assert!(!text.trim_start().starts_with('{'));
}

#[test]
fn build_system_requirements_that_are_builds_become_build_edges() {
    let f = Fixture::new();
    // `cext` needs `cbuild` to build; `cbuild` has no s390x wheel: it is built first.
    f.wheel("cext", "1.0", X86, &["purea"]);
    f.sdist(
        "cext",
        "1.0",
        &["purea"],
        &["setuptools>=61", "cbuild>=1.0"],
    );
    f.wheel("cbuild", "1.0", X86, &[]);
    f.sdist("cbuild", "1.0", &[], &["setuptools"]);
    f.wheel("purea", "1.0", PURE, &[]);
    f.requirements("cext\ncbuild\n");
    let (out, plan) = f.plan();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        plan_node(&plan, "cext")["build_requires"],
        serde_json::json!(["setuptools>=61", "cbuild>=1.0"])
    );
    assert!(
        has_edge(&plan, "cext==1.0", "cbuild==1.0", "build"),
        "{plan:#}"
    );
    assert!(
        has_edge(&plan, "cext==1.0", "purea==1.0", "runtime"),
        "{plan:#}"
    );
    assert!(!has_edge(&plan, "cbuild==1.0", "cext==1.0", "build"));
    let text = refinery(
        &[
            "plan",
            "--input",
            f.input_dir(),
            "--cache",
            f.cache_dir(),
            "--index-url",
            &f.index.url,
        ],
        &[],
    );
    let text = stdout(&text);
    let first = text.find("build   cbuild").unwrap();
    let second = text.find("build   cext").unwrap();
    assert!(first < second, "build-system dependencies first:\n{text}");
}

// ---------------------------------------------------------------------------------------
// Bad input: each a clear error naming the requirement and the index, a non-zero exit, the
// affected packages `missing`, the rest planned.

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_unknown_package_is_missing_and_the_rest_is_planned() {
    let f = Fixture::new();
    f.wheel("purea", "1.0", PURE, &[]);
    f.requirements("purea\nno-such-package>=1\n");
    let (out, plan) = f.plan();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(action(&plan, "purea"), "reuse");
    assert_eq!(action(&plan, "no-such-package"), "missing");
    let why = reason(&plan, "no-such-package");
    assert!(why.contains("`no-such-package>=1`"), "{why}");
    assert!(why.contains("not found"), "{why}");
    assert!(why.contains(&f.index.url), "{why}");
    assert!(!why.contains("pypi.org"), "{why}");
}

#[test]
fn an_impossible_constraint_is_missing_and_the_rest_is_planned() {
    let f = Fixture::new();
    f.wheel("purea", "1.0", PURE, &[]);
    f.wheel("fine", "1.0", PURE, &[]);
    std::fs::write(f.input.path().join("c.txt"), "purea>=5\n").unwrap();
    f.requirements("-c c.txt\npurea\nfine\n");
    let (out, plan) = f.plan();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(action(&plan, "fine"), "reuse");
    assert_eq!(action(&plan, "purea"), "missing");
    let why = reason(&plan, "purea");
    assert!(why.contains("`purea`") && why.contains("purea>=5"), "{why}");
    assert!(why.contains(&f.index.url), "{why}");
}

#[test]
fn an_index_that_is_down_marks_everything_missing_quickly() {
    let f = Fixture::new();
    f.requirements("purea\ncext==1.0\n");
    let url = format!("http://127.0.0.1:{}/simple", closed_port());
    let started = std::time::Instant::now();
    let (out, plan) = f.plan_on(&url, &[], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    for (name, requirement) in [("purea", "`purea`"), ("cext", "`cext==1.0`")] {
        assert_eq!(action(&plan, name), "missing");
        let why = reason(&plan, name);
        assert!(why.contains(requirement) && why.contains(&url), "{why}");
        assert!(why.contains("connect"), "{why}");
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn an_index_that_answers_garbage_or_html_for_json_is_named_in_the_reason() {
    for (content_type, body, needle) in [
        ("text/plain", "garbage \u{1}\u{2}", "garbage"),
        (
            "application/vnd.pypi.simple.v1+json",
            "<html><body><a href=\"x\">x</a></body></html>",
            "JSON",
        ),
        (
            "text/html",
            "<html><body><form>Please log in to the proxy</form></body></html>",
            "",
        ),
    ] {
        let f = Fixture::new();
        let bad = LocalIndex::serve_fixed(200, content_type, body).unwrap();
        f.requirements("purea\nfine==1.0\n");
        let (out, plan) = f.plan_on(&bad.url, &[], &[]);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{content_type}: {}",
            stderr(&out)
        );
        for (name, requirement) in [("purea", "`purea`"), ("fine", "`fine==1.0`")] {
            assert_eq!(action(&plan, name), "missing", "{content_type}");
            let why = reason(&plan, name);
            assert!(
                why.contains(requirement) && why.contains(&bad.url),
                "{content_type}: {why}"
            );
            assert!(
                why.to_lowercase().contains(&needle.to_lowercase()),
                "{content_type}: {why}"
            );
        }
    }
}

#[test]
fn a_hash_mismatch_on_the_sdist_makes_the_package_missing() {
    let f = Fixture::new();
    f.wheel("purea", "1.0", PURE, &[]);
    // The resolver reads the x86_64 wheel; the planner downloads the sdist and checks it.
    f.wheel("cext", "1.0", X86, &[]);
    f.sdist("cext", "1.0", &[], &["setuptools"]);
    let wrong = "0".repeat(64);
    f.index.announce_sha256("cext-1.0.tar.gz", &wrong);
    // The resolver itself downloads this sdist for its metadata and checks it.
    f.sdist("meta-only", "1.0", &[], &["setuptools"]);
    f.index.announce_sha256("meta_only-1.0.tar.gz", &wrong);
    f.requirements("purea\ncext\nmeta-only\n");

    let (out, plan) = f.plan();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(action(&plan, "purea"), "reuse");
    let cext = reason(&plan, "cext");
    assert_eq!(action(&plan, "cext"), "missing");
    assert!(
        cext.contains("sha256 mismatch") && cext.contains(&wrong),
        "{cext}"
    );
    assert!(cext.contains("cext-1.0.tar.gz"), "{cext}");
    let meta = reason(&plan, "meta-only");
    assert_eq!(action(&plan, "meta-only"), "missing");
    assert!(
        meta.contains("`meta-only`") && meta.contains(&f.index.url),
        "{meta}"
    );
    assert!(meta.to_lowercase().contains("hash"), "{meta}");
    // Nothing unverified is left in the cache.
    assert!(!f.cache.path().join("sdists/v1/cext-1.0.tar.gz").exists());
}

#[test]
fn url_and_editable_requirements_are_rejected_without_leaking_secrets() {
    let f = Fixture::new();
    let secret = "s3cr3t-Pa55";
    let index = LocalIndex::with_basic_auth(f.files(), "alice", secret).unwrap();
    f.wheel("purea", "1.0", PURE, &[]);
    f.requirements(&format!(
        "purea\nurlpkg @ https://bob:{secret}@files.example/urlpkg-1.0.tar.gz\n-e ./src/local\nno-such-package\n"
    ));
    let url = index.url_with_credentials("alice", secret);
    let (out, plan) = f.plan_on(&url, &[], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(action(&plan, "purea"), "reuse", "{plan:#}");
    // The source URL in the node carries no credentials either.
    assert!(plan_node(&plan, "purea")["source"]["url"]
        .as_str()
        .unwrap()
        .starts_with(&index.base_url()));

    let rejected = plan["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    let redacted_index = format!("http://alice:****@{}", &index.url["http://".len()..]);
    assert!(rejected[0]["input"]
        .as_str()
        .unwrap()
        .contains("urlpkg @ https://bob:****@"));
    assert!(rejected[1]["input"]
        .as_str()
        .unwrap()
        .contains("-e ./src/local"));
    for r in rejected {
        let why = r["reason"].as_str().unwrap();
        assert!(why.contains(&redacted_index), "{why}");
    }
    assert_eq!(action(&plan, "urlpkg"), "missing");
    let why = reason(&plan, "urlpkg");
    assert!(
        why.contains("urlpkg @") && why.contains(&redacted_index),
        "{why}"
    );
    let why = reason(&plan, "no-such-package");
    assert!(why.contains(&redacted_index), "{why}");

    // The password is nowhere: not in stdout, stderr, the saved plan, or the summary.
    let saved = std::fs::read_to_string(
        f.cache
            .path()
            .join("plans/v1")
            .join(format!("{}.json", plan["id"].as_str().unwrap())),
    )
    .unwrap();
    let summary = refinery(
        &[
            "plan",
            "--input",
            f.input_dir(),
            "--cache",
            f.cache_dir(),
            "--index-url",
            &url,
            "-vvv",
        ],
        &[],
    );
    for text in [
        stdout(&out),
        stderr(&out),
        saved,
        stdout(&summary),
        stderr(&summary),
    ] {
        assert!(!text.contains(secret), "the password leaked:\n{text}");
        // Nor as the basic-auth header value (base64 of `alice:s3cr3t-Pa55`).
        assert!(!text.contains("YWxpY2U6czNjcjN0LVBhNTU"), "{text}");
    }

    // INDEX_USERNAME / INDEX_PASSWORD work as well, and stay secret too.
    let (out, plan) = f.plan_on(
        &index.url,
        &[],
        &[("INDEX_USERNAME", "alice"), ("INDEX_PASSWORD", secret)],
    );
    assert_eq!(action(&plan, "purea"), "reuse", "{plan:#}");
    assert!(!stdout(&out).contains(secret) && !stderr(&out).contains(secret));
}

#[test]
fn uv_sees_only_the_configured_index_never_the_users_uv_settings_or_pypi() {
    let f = Fixture::new();
    f.wheel("purea", "1.0", PURE, &[]);
    let elsewhere_dir = tempfile::tempdir().unwrap();
    WheelSpec::new("sneaky", "1.0", PURE).write(elsewhere_dir.path());
    let elsewhere = LocalIndex::serve_dir(elsewhere_dir.path()).unwrap();
    // `six` is on PyPI; a proxy that does not exist makes any attempt to reach it fail.
    f.requirements("purea\nsneaky\nsix\n");
    let proxy = format!("http://127.0.0.1:{}", closed_port());
    let (out, plan) = f.plan_with(
        &[],
        &[
            ("UV_DEFAULT_INDEX", elsewhere.url.as_str()),
            ("UV_INDEX", elsewhere.url.as_str()),
            ("UV_EXTRA_INDEX_URL", elsewhere.url.as_str()),
            ("UV_FIND_LINKS", elsewhere_dir.path().to_str().unwrap()),
            ("UV_NO_INDEX", "0"),
            ("HTTPS_PROXY", proxy.as_str()),
            ("NO_PROXY", "127.0.0.1,localhost"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(action(&plan, "purea"), "reuse");
    for name in ["sneaky", "six"] {
        assert_eq!(action(&plan, name), "missing");
        let why = reason(&plan, name);
        assert!(
            why.contains("not found") && !why.contains("pypi.org"),
            "{why}"
        );
    }
    assert_eq!(elsewhere.request_count(), 0, "{:?}", elsewhere.requests());
}

// ---------------------------------------------------------------------------------------
// The real PyPI (CI runs ignored tests).

#[test]
#[ignore = "needs the real PyPI"]
fn plans_requests_six_regex_and_markupsafe_against_pypi() {
    let input = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(
        input.path().join("requirements.txt"),
        "requests\nsix\nregex==2021.10.23\nmarkupsafe==2.1.5\n",
    )
    .unwrap();
    let (out, plan) = plan_json(
        &[
            "--input",
            input.path().to_str().unwrap(),
            "--cache",
            cache.path().to_str().unwrap(),
            "--index-url",
            "https://pypi.org/simple",
        ],
        &[],
    );
    let plan = plan.unwrap_or_else(|| panic!("{}", stderr(&out)));
    assert!(out.status.success(), "{}\n{plan:#}", stderr(&out));
    for name in ["requests", "six", "idna", "certifi", "urllib3"] {
        let node = plan_node(&plan, name);
        assert_eq!(node["action"], "reuse", "{node:#}");
        assert!(node["source"]["filename"]
            .as_str()
            .unwrap()
            .ends_with("-none-any.whl"));
    }
    // charset-normalizer ships s390x wheels for some versions, pure ones for others.
    let charset = plan_node(&plan, "charset-normalizer");
    assert_eq!(charset["action"], "reuse", "{charset:#}");
    for (name, version, sdist) in [
        ("regex", "2021.10.23", "regex-2021.10.23.tar.gz"),
        ("markupsafe", "2.1.5", "MarkupSafe-2.1.5.tar.gz"),
    ] {
        let node = plan_node(&plan, name);
        assert_eq!(node["action"], "build", "{node:#}");
        assert_eq!(node["version"], version);
        assert_eq!(node["source"]["filename"], sdist);
        assert!(node["source"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://files.pythonhosted.org/"));
        assert_eq!(node["source"]["sha256"].as_str().unwrap().len(), 64);
    }
    assert!(has_edge(
        &plan,
        plan_node(&plan, "requests")["id"].as_str().unwrap(),
        plan_node(&plan, "urllib3")["id"].as_str().unwrap(),
        "runtime"
    ));
}

#[test]
fn relative_input_cache_and_find_links_paths_work() {
    let f = Fixture::new();
    f.wheel("purea", "1.0", PURE, &[]);
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("in")).unwrap();
    std::fs::create_dir_all(work.path().join("links")).unwrap();
    WheelSpec::new("linked", "1.0", PURE).write(&work.path().join("links"));
    std::fs::write(work.path().join("in/requirements.txt"), "purea\nlinked\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_refinery"))
        .current_dir(work.path())
        .args([
            "plan",
            "--input",
            "in",
            "--cache",
            "cache",
            "--find-links",
            "links",
            "--json",
            "--index-url",
            &f.index.url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(action(&plan, "purea"), "reuse");
    assert_eq!(action(&plan, "linked"), "reuse");
    assert!(work.path().join("cache/plans/v1").is_dir());
}

#[test]
fn requirements_file_pre_is_followed_and_its_index_options_are_noted() {
    let f = Fixture::new();
    f.wheel("prerel", "1.0", PURE, &[]);
    f.wheel("prerel", "2.0rc1", PURE, &[]);
    f.requirements("-i https://user:hunter2@other.example/simple\nprerel\n");
    let (out, plan) = f.plan();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(version(&plan, "prerel"), "1.0");
    let notes = plan["notes"].to_string();
    assert!(
        notes.contains("--index-url https://user:****@other.example/simple")
            && notes.contains("not followed")
            && !notes.contains("hunter2"),
        "{notes}"
    );

    f.requirements("--pre\nprerel\n");
    let (out, plan) = f.plan();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(version(&plan, "prerel"), "2.0rc1");
    let (_, plan) = f.plan_with(&["--pre"], &[]);
    assert_eq!(version(&plan, "prerel"), "2.0rc1");
}

#[test]
fn a_new_file_on_the_index_is_seen_by_the_next_plan() {
    let f = Fixture::new();
    f.wheel("cext", "1.0", X86, &[]);
    f.sdist("cext", "1.0", &[], &["setuptools"]);
    f.requirements("cext\n");
    let (_, plan) = f.plan();
    assert_eq!(action(&plan, "cext"), "build");
    // The cached listing of cext no longer matches what the index offers for 1.0.
    f.wheel("cext", "1.0", S390X, &[]);
    let (out, plan) = f.plan();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(action(&plan, "cext"), "reuse", "{plan:#}");
    assert!(plan_node(&plan, "cext")["source"]["filename"]
        .as_str()
        .unwrap()
        .contains("s390x"));
}

/// Hardening item 1: a marker nested 3,000 deep once aborted `refinery plan` (134, stack
/// overflow); it is a bad-input error now.
#[test]
fn a_deeply_nested_marker_is_bad_input_not_an_abort() {
    let f = Fixture::new();
    f.requirements(&format!(
        "six; {}python_version<'4'{}\n",
        "(".repeat(3000),
        ")".repeat(3000)
    ));
    let out = refinery(
        &[
            "plan",
            "--python",
            "3.11",
            "--input",
            f.input_dir(),
            "--cache",
            f.cache_dir(),
            "--index-url",
            &f.index.url,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("3000 deep"), "{}", stderr(&out));
}

#[test]
fn names_of_a_plan_are_prefetched_only_from_the_indexes_that_planned_them() {
    let f = Fixture::new();
    f.wheel("private-tool", "1.0", PURE, &["private-dep"]);
    f.wheel("private-dep", "1.0", PURE, &[]);
    f.requirements("private-tool\n");
    let (out, _) = f.plan();
    assert!(out.status.success(), "{}", stderr(&out));

    // Another index (say the public one), another requirements file, the same cache.
    let public_dir = tempfile::tempdir().unwrap();
    let public = LocalIndex::serve_dir(public_dir.path()).unwrap();
    WheelSpec::new("six", "1.17.0", PURE).write(public_dir.path());
    f.requirements("six\n");
    let (out, plan) = f.plan_on(&public.url, &[], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(action(&plan, "six"), "reuse");
    let leaked: Vec<String> = public
        .requests()
        .into_iter()
        .filter(|r| r.contains("private"))
        .collect();
    assert!(leaked.is_empty(), "names sent to another index: {leaked:?}");

    // Planning against the first index again lists its earlier names up front (here one
    // this plan does not need: only the prefetch asks for it).
    let before = f.index.requests().len();
    f.requirements("private-dep\n");
    let (out, _) = f.plan();
    assert!(out.status.success(), "{}", stderr(&out));
    let asked: Vec<String> = f.index.requests()[before..].to_vec();
    assert!(
        asked.iter().any(|r| r.contains("/simple/private-tool/")),
        "{asked:?}"
    );
}
