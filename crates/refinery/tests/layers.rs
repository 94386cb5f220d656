//! Environments never drift: a recipe goes into a layer, the base stays byte-for-byte the
//! same, a package that needs the same library fails with the hint unless it asks for the
//! layer, and asking again reuses the layer without installing.

mod common;

use common::*;
use refinery_index::testing::LocalIndex;

#[test]
#[ignore = "needs the s390x rootfs environment and Debian's package mirror"]
fn recipes_go_into_layers_and_never_change_the_base() {
    let envs = envs_dir();
    let envs_var = ("REFINERY_ENVS_DIR", envs.to_str().unwrap());
    // Opening the environment once makes its mount points: from then on it is fixed.
    let created = refinery(&["env", "create", "--python", "3.11"], &[envs_var]);
    assert!(created.status.success(), "{}", stderr(&created));
    let base = bookworm_rootfs().expect("the bookworm environment");
    let before = tree_digest(&base);

    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_libyaml_sdist(&index_dir, "yamluser", "1.0");
    write_libyaml_sdist(&index_dir, "yamlother", "1.0");
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let cache = tmp.path().join("cache");
    let run = |requirement: &str, out: &str, flags: &[&str]| {
        std::fs::write(input.join("requirements.txt"), requirement).unwrap();
        let out = tmp.path().join(out);
        let mut args = vec![
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
            "--platform-tag",
            "manylinux_2_36_s390x",
        ];
        args.extend_from_slice(flags);
        let output = refinery(
            &args,
            &[
                envs_var,
                (
                    "PLAN_OVERRIDES_JSON",
                    r#"{"yamluser": {"variant": "no-isolation"}, "yamlother": {"variant": "no-isolation"}}"#,
                ),
            ],
        );
        (output, manifest(&out))
    };

    // A: the recipe for yamluser goes into a layer; the base is untouched.
    let (output, m) = run("yamluser==1.0\n", "a", &["--auto-apply-suggestions"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let a = entry(&m, "yamluser");
    assert_eq!(a["status"], "built", "{a}");
    let layered = a["metadata"]["environment"].as_str().unwrap().to_string();
    let base_name = base.file_name().unwrap().to_str().unwrap();
    assert!(
        layered.starts_with(&format!("{base_name}+layer-")),
        "{layered}"
    );
    assert_eq!(a["metadata"]["system_packages"][0], "libyaml-dev", "{a}");
    let changes = tree_changes(&before, &tree_digest(&base));
    assert!(changes.is_empty(), "the base changed: {changes:#?}");

    // B: another package that needs libyaml, without auto-apply: it sees only the base.
    let (output, m) = run("yamlother==1.0\n", "b", &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let b = entry(&m, "yamlother");
    assert_eq!(b["status"], "failed", "{b}");
    assert_eq!(b["metadata"]["environment"], base_name, "{b}");
    assert!(
        b["metadata"]["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().contains("libyaml-dev")),
        "{b}"
    );

    // C: with auto-apply, the same layer is selected; nothing is installed again.
    let (output, m) = run("yamlother==1.0\n", "c", &["--auto-apply-suggestions"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let c = entry(&m, "yamlother");
    assert_eq!(c["status"], "built", "{c}");
    assert_eq!(c["metadata"]["environment"], layered.as_str(), "{c}");
    assert!(
        stderr(&output).contains("reused the environment layer"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("making the environment layer"));
    let changes = tree_changes(&before, &tree_digest(&base));
    assert!(changes.is_empty(), "the base changed: {changes:#?}");

    // The history names the environment of every attempt.
    let history = refinery_store::History::open(&cache.join("history.db")).unwrap();
    let attempts = history
        .attempts_for(&"yamlother".parse().unwrap(), 10)
        .unwrap();
    // Newest first: C's hint-based attempt in the layer, C's first and B's on the base.
    assert_eq!(attempts.len(), 3, "{attempts:#?}");
    assert_eq!(attempts[0].environment.as_deref(), Some(layered.as_str()));
    assert_eq!(attempts[1].environment.as_deref(), Some(base_name));
    assert_eq!(attempts[2].environment.as_deref(), Some(base_name));
}

#[test]
#[ignore = "needs the s390x rootfs environment and Debian's package mirror"]
fn explicit_recipes_honour_no_system_recipes() {
    let envs = envs_dir();
    let envs_var = ("REFINERY_ENVS_DIR", envs.to_str().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_libyaml_sdist(&index_dir, "yamluser", "1.0");
    let index = LocalIndex::serve_dir(&index_dir).unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("requirements.txt"), "yamluser==1.0\n").unwrap();
    let run = |name: &str, flags: &[&str]| {
        let out = tmp.path().join(name);
        // A cache per run: no history carries from one to the other.
        let cache = tmp.path().join(format!("cache-{name}"));
        let mut args = vec![
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
            "--platform-tag",
            "manylinux_2_36_s390x",
        ];
        args.extend_from_slice(flags);
        let output = refinery(
            &args,
            &[
                envs_var,
                (
                    "PLAN_OVERRIDES_JSON",
                    r#"{"yamluser": {"variant": "no-isolation", "system_packages": ["libyaml-dev"]}}"#,
                ),
            ],
        );
        (output, manifest(&out))
    };
    // The override names libyaml-dev, but --no-system-recipes forbids installing it.
    let (output, m) = run("forbidden", &["--no-system-recipes"]);
    let e = entry(&m, "yamluser");
    assert_eq!(e["status"], "failed", "{e}");
    assert!(
        stdout(&output).contains("would install libyaml-dev")
            || stderr(&output).contains("would install libyaml-dev"),
        "{}",
        stderr(&output)
    );
    assert!(
        !e["metadata"]["environment"]
            .as_str()
            .unwrap()
            .contains("+layer-"),
        "{e}"
    );
    // Without the flag the explicit recipe applies (no --auto-apply-suggestions needed).
    let (output, m) = run("allowed", &[]);
    let e = entry(&m, "yamluser");
    assert_eq!(e["status"], "built", "{}", stderr(&output));
    assert_eq!(e["metadata"]["system_packages"][0], "libyaml-dev", "{e}");
}
