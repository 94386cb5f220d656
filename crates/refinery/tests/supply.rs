//! pip-compatible inputs and trustworthy outputs (issue 17): hash-checking mode, pip's
//! binary controls, requirements files in the encodings people save them in, the lock of
//! the result and a complete index. The real binary against a local index on 127.0.0.1;
//! the `#[ignore]`d tests build under emulation (and some need the real PyPI).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;
use refinery_index::testing::LocalIndex;
use serde_json::Value;

const PURE: &str = "py3-none-any";
const X86: &str = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64";
const NEEDS_ENV: &str = "needs the s390x rootfs environment";

/// An index folder served on 127.0.0.1 and a work folder (input, cache, output).
struct Fixture {
    index_dir: tempfile::TempDir,
    work: tempfile::TempDir,
    index: LocalIndex,
}

impl Fixture {
    fn new() -> Fixture {
        let index_dir = tempfile::tempdir().unwrap();
        let index = LocalIndex::serve_dir(index_dir.path()).unwrap();
        Fixture {
            index_dir,
            work: tempfile::tempdir().unwrap(),
            index,
        }
    }

    fn files(&self) -> &Path {
        self.index_dir.path()
    }

    fn wheel(&self, name: &str, version: &str, tag: &str, requires: &[&str]) -> PathBuf {
        WheelSpec::new(name, version, tag)
            .requires(requires)
            .write(self.files())
    }

    fn sdist(&self, name: &str, version: &str) -> PathBuf {
        write_static_sdist(self.files(), name, version, &[], &["setuptools"])
    }

    fn input(&self) -> PathBuf {
        let input = self.work.path().join("input");
        std::fs::create_dir_all(&input).unwrap();
        input
    }

    fn requirements(&self, text: &str) {
        std::fs::write(self.input().join("requirements.txt"), text).unwrap();
    }

    fn cache(&self) -> PathBuf {
        self.work.path().join("cache")
    }

    fn out(&self) -> PathBuf {
        self.work.path().join("out")
    }

    /// `refinery plan --json` against this index.
    fn plan(&self, extra: &[&str]) -> (Output, Option<Value>) {
        let (input, cache) = (self.input(), self.cache());
        let mut args = vec![
            "--input",
            input.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--index-url",
            &self.index.url,
        ];
        args.extend_from_slice(extra);
        plan_json(&args, &[])
    }

    /// The whole pipeline (`refinery run`) against this index.
    fn run(&self, extra: &[&str]) -> Output {
        let (input, cache, out) = (self.input(), self.cache(), self.out());
        let envs = envs_dir();
        let mut args = vec![
            "run",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--index-url",
            &self.index.url,
            "--python",
            "3.11",
            "--max-attempts",
            "1",
        ];
        args.extend_from_slice(extra);
        // The test sdists build with the environment's setuptools (no index for it here).
        refinery(
            &args,
            &[
                ("REFINERY_ENVS_DIR", envs.to_str().unwrap()),
                (
                    "PLAN_OVERRIDES_JSON",
                    r#"{"fastadd": {"variant": "no-isolation"}}"#,
                ),
            ],
        )
    }
}

fn sha256_of(path: &Path) -> String {
    refinery_plan::hashes::file_digest(path, "sha256").unwrap()
}

fn wheels_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".whl"))
                .collect()
        })
        .unwrap_or_default()
}

fn node<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan_node(plan, name)
}

#[test]
fn a_wrong_hash_fails_the_run_before_any_build_naming_the_file_and_both_hashes() {
    let f = Fixture::new();
    let sdist = f.sdist("cext", "1.0");
    f.wheel("cext", "1.0", X86, &[]);
    let wheel = f.wheel("purea", "1.0", PURE, &[]);
    let wrong = format!("{}1", "0".repeat(63));
    f.requirements(&format!(
        "cext==1.0 --hash=sha256:{wrong}\npurea==1.0 \\\n    --hash=sha256:{}\n",
        "f".repeat(64)
    ));
    let out = f.run(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("hash check failed, nothing was built"),
        "{err}"
    );
    for (file, got, allowed) in [
        ("cext-1.0.tar.gz", sha256_of(&sdist), wrong.clone()),
        (
            "purea-1.0-py3-none-any.whl",
            sha256_of(&wheel),
            "f".repeat(64),
        ),
    ] {
        let line = err
            .lines()
            .find(|l| l.contains(file))
            .unwrap_or_else(|| panic!("{file} not named: {err}"));
        assert!(line.contains(&format!("has sha256:{got}")), "{line}");
        assert!(
            line.contains(&format!("allows only sha256:{allowed}")),
            "{line}"
        );
        assert!(line.contains("requirements.txt:"), "{line}");
    }
    assert!(wheels_in(&f.out()).is_empty());
    assert!(!f.out().join("manifest.json").exists());
}

#[test]
fn right_hashes_in_any_allowed_algorithm_pass_and_the_plan_records_them() {
    let f = Fixture::new();
    let sdist = f.sdist("cext", "1.0");
    f.wheel("cext", "1.0", X86, &[]);
    let wheel = f.wheel("purea", "1.0", PURE, &[]);
    let sha512 = refinery_plan::hashes::file_digest(&wheel, "sha512").unwrap();
    f.requirements(&format!(
        "cext==1.0 --hash=sha256:{} --hash=sha256:{}\npurea==1.0 --hash=sha512:{}\n",
        "a".repeat(64),
        sha256_of(&sdist).to_uppercase(),
        sha512
    ));
    let (out, plan) = f.plan(&[]);
    let plan = plan.unwrap_or_else(|| panic!("{}", stderr(&out)));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(node(&plan, "cext")["action"], "build");
    let checked = node(&plan, "cext")["source"]["checked_hash"]
        .as_str()
        .unwrap();
    assert_eq!(
        checked,
        format!("sha256:{} (requirements.txt:1)", sha256_of(&sdist)).replace(
            "requirements.txt",
            &f.input().join("requirements.txt").display().to_string()
        )
    );
    assert_eq!(node(&plan, "purea")["action"], "reuse");
    let checked = node(&plan, "purea")["source"]["checked_hash"]
        .as_str()
        .unwrap();
    assert!(
        checked.starts_with(&format!("sha512:{sha512} (")),
        "{checked}"
    );
}

#[test]
fn require_hashes_needs_a_hash_for_every_package_and_says_which_to_add() {
    let f = Fixture::new();
    let top = f.wheel("top", "1.0", PURE, &["dep"]);
    let dep = f.wheel("dep", "2.0", PURE, &[]);
    // A hash on one line turns hash-checking on for all, as in pip.
    f.requirements(&format!("top==1.0 --hash=sha256:{}\n", sha256_of(&top)));
    let (out, _) = f.plan(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("`dep==2.0 --hash=sha256:{}`", sha256_of(&dep))),
        "{err}"
    );
    assert!(!err.contains("top 1.0"), "{err}");

    // --require-hashes, as a flag or in the file, with no hash at all.
    f.requirements("top==1.0\n");
    let (out, _) = f.plan(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (out, _) = f.plan(&["--require-hashes"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("top 1.0") && err.contains("dep 2.0"), "{err}");
    f.requirements("--require-hashes\ntop==1.0\n");
    let (out, _) = f.plan(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Every package with its hash: fine.
    f.requirements(&format!(
        "--require-hashes\ntop==1.0 --hash=sha256:{}\ndep==2.0 --hash=sha256:{}\n",
        sha256_of(&top),
        sha256_of(&dep)
    ));
    let (out, plan) = f.plan(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(node(&plan.unwrap(), "dep")["source"]["checked_hash"].is_string());
}

#[test]
fn an_input_wheel_is_checked_against_the_hashes_of_its_requirement() {
    let f = Fixture::new();
    let input = f.input();
    let wheel = WheelSpec::new("purea", "1.0", PURE).write(&input);
    f.requirements(&format!("purea==1.0 --hash=sha384:{}\n", "0".repeat(96)));
    let (out, _) = f.plan(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let got = refinery_plan::hashes::file_digest(&wheel, "sha384").unwrap();
    assert!(
        err.contains("purea-1.0-py3-none-any.whl") && err.contains(&format!("sha384:{got}")),
        "{err}"
    );
}

#[test]
fn md5_hashes_and_hashes_without_a_requirement_are_refused_like_pip() {
    let f = Fixture::new();
    f.wheel("purea", "1.0", PURE, &[]);
    for (text, needle) in [
        (
            "purea==1.0 --hash=md5:0123456789abcdef0123456789abcdef\n",
            "hash algorithm `md5` is not allowed; use sha256, sha384 or sha512",
        ),
        (
            "purea==1.0\n--hash=sha256:0123\n",
            "option `--hash` belongs to a requirement",
        ),
    ] {
        f.requirements(text);
        let (out, _) = f.plan(&[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(err.contains("requirements.txt:"), "{err}");
    }
}

#[test]
#[ignore = "needs the s390x rootfs environment"]
fn a_hash_checked_sdist_builds_and_the_manifest_says_the_wheel_hash_is_new() {
    let _ = bookworm_rootfs().expect(NEEDS_ENV);
    let f = Fixture::new();
    let sdist = write_extension_sdist(f.files(), "fastadd", "1.0", false);
    f.requirements(&format!(
        "fastadd==1.0 --hash=sha256:{}\n",
        sha256_of(&sdist)
    ));
    let out = f.run(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifest = manifest(&f.out());
    let entry = entry(&manifest, "fastadd");
    assert_eq!(entry["status"], "built");
    let note = entry["metadata"]["hash_check"].as_str().unwrap();
    assert!(
        note.contains(&format!(
            "fastadd-1.0.tar.gz matched sha256:{}",
            sha256_of(&sdist)
        )),
        "{note}"
    );
    assert!(note.contains("is new"), "{note}");
    assert!(note.contains(entry["sha256"].as_str().unwrap()), "{note}");

    // PEP 770: the wheel carries a CycloneDX SBOM naming the sdist's URL and sha256 and the
    // build; the manifest names the member.
    let member = entry["metadata"]["sbom"].as_str().unwrap();
    assert_eq!(member, "fastadd-1.0.dist-info/sboms/refinery.cdx.json");
    let wheel = f.out().join(entry["path"].as_str().unwrap());
    let unpacked = f.work.path().join("unpacked");
    unzip(&wheel, &unpacked);
    let sbom: Value =
        serde_json::from_slice(&std::fs::read(unpacked.join(member)).unwrap()).unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    let sdist_component = &sbom["components"][0];
    assert_eq!(sdist_component["hashes"][0]["content"], sha256_of(&sdist));
    assert_eq!(
        sdist_component["externalReferences"][0]["url"],
        f.index.file_url("fastadd-1.0.tar.gz")
    );
    let build = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["bom-ref"] == "build-environment")
        .unwrap()
        .to_string();
    assert!(build.contains("rootfs-bookworm-s390x-py3.11"), "{build}");
    let record = std::fs::read_to_string(unpacked.join("fastadd-1.0.dist-info/RECORD")).unwrap();
    assert!(record.contains(&format!("{member},sha256=")), "{record}");

    // The provenance record in the cache names the wheel and the sdist; the manifest keeps
    // its hash.
    let link = entry["metadata"]["provenance"].as_str().unwrap();
    let (relative, digest) = link.split_once(" sha256:").unwrap();
    let bytes = std::fs::read(f.cache().join(relative)).unwrap();
    assert_eq!(digest, sha256_of(&f.cache().join(relative)));
    let statement: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        entry["sha256"].as_str().unwrap()
    );
    assert_eq!(
        statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["sha256"],
        sha256_of(&sdist)
    );

    // Again: taken from the cache, with the same SBOM and provenance links.
    let again = f.run(&[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let manifest = common::manifest(&f.out());
    let cached = common::entry(&manifest, "fastadd");
    assert_eq!(cached["status"], "cached");
    assert_eq!(cached["metadata"]["sbom"], member);
    assert_eq!(cached["metadata"]["provenance"], link);
    assert!(
        stdout(&out).contains("not in the requirements"),
        "{}",
        stdout(&out)
    );
}

const S390X: &str = "cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x";

/// An index where `sx` has an s390x wheel and an sdist, `onlysrc` an sdist and an x86_64
/// wheel, and `purea` a pure wheel and an sdist.
fn binary_controls_fixture() -> Fixture {
    let f = Fixture::new();
    f.wheel("sx", "1.0", S390X, &[]);
    f.sdist("sx", "1.0");
    f.wheel("onlysrc", "1.0", X86, &[]);
    f.sdist("onlysrc", "1.0");
    f.wheel("purea", "1.0", PURE, &[]);
    f.sdist("purea", "1.0");
    f
}

fn actions(plan: &Value) -> Vec<(String, String)> {
    ["onlysrc", "purea", "sx"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                node(plan, n)["action"].as_str().unwrap().into(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn no_binary_and_only_binary_follow_pip_from_flags_and_the_file() {
    let f = binary_controls_fixture();
    f.requirements("sx==1.0\nonlysrc==1.0\npurea==1.0\n");
    let (_, plan) = f.plan(&[]);
    let plan = plan.unwrap();
    assert_eq!(
        actions(&plan),
        pairs(&[("onlysrc", "build"), ("purea", "reuse"), ("sx", "reuse")])
    );

    // --no-binary :all: builds even what has a wheel for the target, and says so.
    let (out, plan) = f.plan(&["--no-binary", ":all:"]);
    let plan = plan.unwrap_or_else(|| panic!("{}", stderr(&out)));
    assert_eq!(
        actions(&plan),
        pairs(&[("onlysrc", "build"), ("purea", "build"), ("sx", "build")])
    );
    let reason = node(&plan, "sx")["reason"].as_str().unwrap();
    assert!(
        reason.contains("--no-binary") && reason.contains("sx-1.0-cp311"),
        "{reason}"
    );
    assert_eq!(node(&plan, "sx")["source"]["filename"], "sx-1.0.tar.gz");

    // From the file, names comma-separated, normalized.
    f.requirements("--no-binary SX,other\nsx==1.0\nonlysrc==1.0\npurea==1.0\n");
    let (_, plan) = f.plan(&[]);
    assert_eq!(
        actions(&plan.unwrap()),
        pairs(&[("onlysrc", "build"), ("purea", "reuse"), ("sx", "build")])
    );

    // --only-binary: no source builds; a package with no wheel for the target is missing.
    f.requirements("--only-binary=:all:\nsx==1.0\nonlysrc==1.0\npurea==1.0\n");
    let (out, plan) = f.plan(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let plan = plan.unwrap();
    assert_eq!(
        actions(&plan),
        pairs(&[("onlysrc", "missing"), ("purea", "reuse"), ("sx", "reuse")])
    );
    let reason = node(&plan, "onlysrc")["reason"].as_str().unwrap();
    assert!(reason.contains("--only-binary"), "{reason}");

    // Order counts as in pip: the file's options come after the flags (its :all: clears
    // the flag's names), a name given to one option wins over :all: of the other, and
    // :none: empties its option.
    let (_, plan) = f.plan(&["--no-binary", "purea"]);
    assert_eq!(
        actions(&plan.unwrap()),
        pairs(&[("onlysrc", "missing"), ("purea", "reuse"), ("sx", "reuse")])
    );
    f.requirements("sx==1.0\nonlysrc==1.0\npurea==1.0\n");
    let (_, plan) = f.plan(&["--no-binary", ":all:", "--only-binary", "sx"]);
    assert_eq!(
        actions(&plan.unwrap()),
        pairs(&[("onlysrc", "build"), ("purea", "build"), ("sx", "reuse")])
    );
    let (_, plan) = f.plan(&["--only-binary", "sx", "--no-binary", ":all:"]);
    assert_eq!(
        actions(&plan.unwrap()),
        pairs(&[("onlysrc", "build"), ("purea", "build"), ("sx", "build")])
    );
    let (_, plan) = f.plan(&["--no-binary", ":all:", "--no-binary", ":none:"]);
    assert_eq!(
        actions(&plan.unwrap()),
        pairs(&[("onlysrc", "build"), ("purea", "reuse"), ("sx", "reuse")])
    );
}

#[test]
fn no_binary_rebuilds_input_wheels_and_bad_values_are_user_errors() {
    let f = Fixture::new();
    f.sdist("purea", "1.0");
    WheelSpec::new("purea", "1.0", PURE).write(&f.input());
    let (_, plan) = f.plan(&[]);
    assert_eq!(node(&plan.unwrap(), "purea")["action"], "reuse");
    let (_, plan) = f.plan(&["--no-binary", "purea"]);
    let plan = plan.unwrap();
    assert_eq!(node(&plan, "purea")["action"], "build");
    // No sdist anywhere: missing, with why.
    std::fs::remove_file(f.files().join("purea-1.0.tar.gz")).unwrap();
    let (_, plan) = f.plan(&["--no-binary", ":all:"]);
    let reason = node(&plan.unwrap(), "purea")["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("--no-binary") && reason.contains("no sdist"),
        "{reason}"
    );

    for (args, file) in [
        (vec!["--no-binary", "not a name"], ""),
        (vec![], "--only-binary ok,b@d\npurea==1.0\n"),
    ] {
        if !file.is_empty() {
            f.requirements(file);
        }
        let (out, _) = f.plan(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("is not a package name"), "{err}");
    }
}

#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn no_binary_all_builds_multidict_although_pypi_has_its_s390x_wheel() {
    let _ = bookworm_rootfs().expect(NEEDS_ENV);
    let work = tempfile::tempdir().unwrap();
    // multidict 7.2.1 has a cp311 manylinux2014 s390x wheel on PyPI and a small C extension.
    let input = requirements(work.path(), "multidict==7.2.1\n");
    let (out, output) = main_job(
        &input,
        work.path(),
        &[
            "--python",
            "3.11",
            "--max-attempts",
            "1",
            "--no-binary",
            ":all:",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifest = manifest(&output);
    let entry = entry(&manifest, "multidict");
    assert_eq!(entry["status"], "built", "{entry}");
    let source = entry["metadata"]["source"].as_str().unwrap_or_default();
    assert!(source.ends_with("multidict-7.2.1.tar.gz"), "{entry}");
}

/// `text` in UTF-16 with a byte order mark, as PowerShell's `>` writes it.
fn utf16_with_bom(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xfe, 0xff]
    } else {
        vec![0xff, 0xfe]
    };
    for unit in text.encode_utf16() {
        out.extend(if big_endian {
            unit.to_be_bytes()
        } else {
            unit.to_le_bytes()
        });
    }
    out
}

#[test]
fn requirements_files_in_utf8_utf16_with_boms_and_crlf_are_read_like_pip() {
    let f = Fixture::new();
    let top = f.wheel("top", "1.0", PURE, &[]);
    f.wheel("other", "2.0", PURE, &[]);
    // CRLF line ends, a continued line with a hash, a comment with non-ASCII text.
    let text = format!(
        "# Abhängigkeiten – café\r\ntop==1.0 \\\r\n    --hash=sha256:{}\r\nother==2.0 --hash=sha256:{}\r\n",
        sha256_of(&top),
        sha256_of(&f.files().join("other-2.0-py3-none-any.whl"))
    );
    let mut utf8_bom = b"\xef\xbb\xbf".to_vec();
    utf8_bom.extend(text.as_bytes());
    for (label, bytes) in [
        ("UTF-8", text.as_bytes().to_vec()),
        ("UTF-8 with BOM", utf8_bom),
        ("UTF-16LE with BOM", utf16_with_bom(&text, false)),
        ("UTF-16BE with BOM", utf16_with_bom(&text, true)),
    ] {
        std::fs::write(f.input().join("requirements.txt"), &bytes).unwrap();
        let (out, plan) = f.plan(&[]);
        assert_eq!(out.status.code(), Some(0), "{label}: {}", stderr(&out));
        let plan = plan.unwrap();
        for name in ["top", "other"] {
            assert_eq!(node(&plan, name)["action"], "reuse", "{label}");
            assert!(
                node(&plan, name)["source"]["checked_hash"].is_string(),
                "{label}"
            );
        }
    }

    // Undecodable: the byte offset and the encoding tried are named.
    let mut latin1 = b"top==1.0 # caf".to_vec();
    latin1.push(0xe9);
    latin1.extend(b"\r\n");
    std::fs::write(f.input().join("requirements.txt"), &latin1).unwrap();
    let (out, _) = f.plan(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("byte offset 14 is not valid UTF-8 (no byte order mark)"),
        "{err}"
    );
    assert!(err.contains("requirements.txt"), "{err}");
    let mut truncated = utf16_with_bom("top==1.0\n", false);
    truncated.push(b'x');
    std::fs::write(f.input().join("requirements.txt"), &truncated).unwrap();
    let (out, _) = f.plan(&[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("byte offset 20 is not valid UTF-16LE (byte order mark FF FE)"),
        "{err}"
    );
}

/// Starts `refinery serve` on a free port over `cache`; returns the process and its base URL.
fn serve(cache: &Path) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_refinery"))
        .args(["serve", "--port", "0", "--cache"])
        .arg(cache)
        .env_remove("DATABASE_URL")
        .env_remove("WORKER_TOKEN")
        .env_remove("READ_TOKEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufReader::new(stderr).lines();
    let url = loop {
        let line = lines.next().expect("serve says where it listens").unwrap();
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on it.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    (child, url)
}

/// GET `url` until it answers 200 with a body containing `needle` (the index refreshes
/// every 2 s), at most 30 s.
fn get_until(url: &str, needle: &str) -> String {
    let client = reqwest::blocking::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let last = client
            .get(url)
            .header("Accept", "text/html")
            .send()
            .map(|r| (r.status().as_u16(), r.text().unwrap_or_default()));
        if let Ok((200, body)) = &last {
            if body.contains(needle) {
                return body.clone();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url} never listed {needle}: {last:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

#[test]
fn reused_wheels_are_locked_and_listed_by_simple_under_their_own_names_and_bytes() {
    let f = Fixture::new();
    let purea = f.wheel("purea", "1.0", PURE, &["dep-b"]);
    let dep = f.wheel("Dep_B", "2.0", PURE, &[]);
    f.requirements("purea==1.0\n");
    // Only pure wheels: nothing is built, no s390x environment is needed.
    let out = f.run(&["--simple-index"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("pylock.toml"), "{}", stdout(&out));
    let output = f.out();
    for wheel in [&purea, &dep] {
        let name = wheel.file_name().unwrap();
        assert_eq!(
            std::fs::read(output.join(name)).unwrap(),
            std::fs::read(wheel).unwrap(),
            "reused wheels keep their bytes"
        );
    }

    // The locks name exactly these wheels.
    let lock = std::fs::read_to_string(output.join("requirements.lock.txt")).unwrap();
    assert!(
        lock.contains(&format!(
            "purea==1.0 \\\n    --hash=sha256:{}",
            sha256_of(&purea)
        )),
        "{lock}"
    );
    assert!(
        lock.contains(&format!(
            "dep-b==2.0 \\\n    --hash=sha256:{}",
            sha256_of(&dep)
        )),
        "{lock}"
    );
    let pylock: toml::Table = std::fs::read_to_string(output.join("pylock.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(pylock["lock-version"].as_str(), Some("1.0"));
    let packages = pylock["packages"].as_array().unwrap();
    let names: Vec<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dep-b", "purea"]);
    assert_eq!(
        packages[1]["wheels"][0]["hashes"]["sha256"].as_str(),
        Some(sha256_of(&purea).as_str())
    );
    assert_eq!(
        packages[1]["wheels"][0]["path"].as_str(),
        Some("./purea-1.0-py3-none-any.whl")
    );

    // --simple-index lists the reused wheels.
    let page = std::fs::read_to_string(output.join("simple/purea/index.html")).unwrap();
    assert!(
        page.contains(&format!(
            "purea-1.0-py3-none-any.whl#sha256={}",
            sha256_of(&purea)
        )),
        "{page}"
    );

    // `refinery serve` over the same cache lists them too, and serves their bytes.
    let (mut child, base) = serve(&f.cache());
    let page = get_until(
        &format!("{base}/simple/purea/"),
        "purea-1.0-py3-none-any.whl",
    );
    let href = page
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    assert!(href.contains(&sha256_of(&purea)), "{page}");
    let file_url = reqwest::Url::parse(&format!("{base}/simple/purea/"))
        .unwrap()
        .join(&href)
        .unwrap();
    let bytes = reqwest::blocking::get(file_url).unwrap().bytes().unwrap();
    assert_eq!(bytes.as_ref(), std::fs::read(&purea).unwrap().as_slice());
    get_until(
        &format!("{base}/simple/dep-b/"),
        "Dep_B-2.0-py3-none-any.whl",
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_read_only_output_folder_fails_before_planning_with_a_clear_error() {
    let f = Fixture::new();
    f.wheel("purea", "1.0", PURE, &[]);
    f.requirements("purea==1.0\n");
    std::fs::create_dir_all(f.out()).unwrap();
    // Root ignores permission bits: a read-only bind mount makes the folder read-only.
    let (input, cache, out) = (f.input(), f.cache(), f.out());
    let run_into = |output: &Path| {
        std::process::Command::new("bwrap")
            .args(["--dev-bind", "/", "/", "--ro-bind"])
            .arg(&out)
            .arg(&out)
            .arg(env!("CARGO_BIN_EXE_refinery"))
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(output)
            .arg("--cache")
            .arg(&cache)
            .args(["--index-url", &f.index.url])
            .output()
            .expect("bwrap runs (apt-get install bubblewrap)")
    };
    let run = run_into(&out);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!(
            "the output folder {} is not writable",
            out.display()
        )) && err.contains("Read-only file system")
            && err.contains("pylock.toml"),
        "{err}"
    );
    assert!(!err.contains("resolving"), "{err}");
    assert!(!cache.join("plans").exists(), "nothing was planned");

    // An output to be made inside it: the hint names the folder that needs fixing.
    let run = run_into(&out.join("new").join("deeper"));
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("or make {} writable", out.display())),
        "{err}"
    );
}

#[test]
fn a_run_that_stops_before_writing_leaves_no_output_folder() {
    let f = Fixture::new();
    f.requirements("purea==1.0\nbeta>=>2\n");
    let out = f.work.path().join("made").join("out");
    let (input, cache) = (f.input(), f.cache());
    let run = refinery(
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
            "--index-url",
            &f.index.url,
        ],
        &[],
    );
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("requirements.txt:2"), "{err}");
    assert!(!f.work.path().join("made").exists(), "{err}");
}

#[test]
#[ignore = "needs the s390x rootfs environment"]
fn pip_on_s390x_installs_the_lock_with_require_hashes_from_our_index() {
    let rootfs = bookworm_rootfs().expect(NEEDS_ENV);
    let f = Fixture::new();
    write_extension_sdist(f.files(), "fastadd", "1.0", false);
    // pip needs a RECORD to install a wheel.
    let mut spec = WheelSpec::new("purea", "1.0", PURE).requires(&["fastadd"]);
    spec.members.push((
        "purea-1.0.dist-info/RECORD".into(),
        b"purea/__init__.py,,\npurea-1.0.dist-info/METADATA,,\npurea-1.0.dist-info/WHEEL,,\npurea-1.0.dist-info/RECORD,,\n".to_vec(),
    ));
    let purea = spec.write(f.files());
    f.requirements(&format!("purea==1.0 --hash=sha256:{}\n", sha256_of(&purea)));
    // Hash-checking mode needs a hash for fastadd too: the run says which.
    let out = f.run(&["--simple-index"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let sdist = sha256_of(&f.files().join("fastadd-1.0.tar.gz"));
    assert!(err.contains(&format!("--hash=sha256:{sdist}")), "{err}");
    f.requirements(&format!(
        "purea==1.0 --hash=sha256:{}\nfastadd==1.0 --hash=sha256:{sdist}\n",
        sha256_of(&purea)
    ));
    let out = f.run(&["--simple-index"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifest = manifest(&f.out());
    let built = entry(&manifest, "fastadd");
    assert_eq!(built["status"], "built");
    let lock = std::fs::read_to_string(f.out().join("requirements.lock.txt")).unwrap();
    assert!(
        lock.contains(&format!(
            "fastadd==1.0 \\\n    --hash=sha256:{}",
            built["sha256"].as_str().unwrap()
        )),
        "{lock}"
    );

    // pip of the s390x rootfs, under emulation, from the static index of the output.
    let code = r#"
import subprocess, sys
r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-cache-dir",
    "--disable-pip-version-check", "--break-system-packages", "--require-hashes",
    "-r", "/tmp/w/out/requirements.lock.txt", "--index-url", "file:///tmp/w/out/simple",
    "--target", "/tmp/t"], capture_output=True, text=True)
if r.returncode:
    sys.exit(r.stdout + r.stderr)
sys.path.insert(0, "/tmp/t")
import fastadd, purea
print(fastadd.add(40, 2), purea.VALUE, sys.byteorder)
"#;
    assert_s390x_python_prints(&rootfs, f.work.path(), code, "42 1 big");

    // A lock whose hash does not match is refused by pip.
    let tampered = lock.replace(built["sha256"].as_str().unwrap(), &"0".repeat(64));
    std::fs::write(f.out().join("requirements.lock.txt"), tampered).unwrap();
    let run = run_s390x_python(&rootfs, f.work.path(), code);
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("THESE PACKAGES DO NOT MATCH THE HASHES"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn resolution_is_for_s390x_so_dependencies_of_other_machines_need_not_exist() {
    let f = Fixture::new();
    // `x86only` exists nowhere: a universal resolution fails on it; pip on s390x never
    // looks at it.
    f.wheel(
        "top",
        "1.0",
        PURE,
        &[
            "x86only ; platform_machine == 'x86_64'",
            "s390only ; platform_machine == 's390x'",
            "shared<2 ; platform_machine == 's390x'",
            "shared>=2 ; platform_machine != 's390x'",
        ],
    );
    f.wheel("s390only", "1.0", PURE, &[]);
    f.wheel("shared", "1.5", PURE, &[]);
    f.wheel("shared", "2.0", PURE, &[]);
    f.requirements("top\n");
    let (out, plan) = f.plan(&[]);
    let plan = plan.unwrap_or_else(|| panic!("{}", stderr(&out)));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for name in ["top", "s390only"] {
        assert_eq!(node(&plan, name)["action"], "reuse", "{plan:#}");
    }
    assert_eq!(node(&plan, "shared")["version"], "1.5");
    let names: Vec<&str> = plan["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"x86only"), "{names:?}");

    // The target's glibc level decides which wheels the resolver may take: with
    // --only-binary, a version whose only s390x wheel needs glibc 2.28 is skipped for
    // manylinux2014 and taken for manylinux_2_28.
    f.wheel("newer", "2.0", "cp311-cp311-manylinux_2_28_s390x", &[]);
    f.wheel("newer", "1.0", S390X, &[]);
    f.requirements("newer\n");
    let (out, plan) = f.plan(&["--only-binary", ":all:"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(node(&plan.unwrap(), "newer")["version"], "1.0");
    let (out, plan) = f.plan(&[
        "--only-binary",
        ":all:",
        "--platform-tag",
        "manylinux_2_28_s390x",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(node(&plan.unwrap(), "newer")["version"], "2.0");
}

#[test]
#[ignore = "needs the s390x rootfs environment"]
fn a_rebuilt_wheel_never_takes_the_name_of_an_index_file_with_other_bytes() {
    let _ = bookworm_rootfs().expect(NEEDS_ENV);
    let f = Fixture::new();
    write_extension_sdist(f.files(), "fastadd", "1.0", false);
    // The index's own s390x wheel, under the very name auditwheel gives ours.
    let theirs = f.wheel(
        "fastadd",
        "1.0",
        "cp311-cp311-manylinux2014_s390x.manylinux_2_17_s390x",
        &[],
    );
    f.requirements("fastadd==1.0\n");
    let out = f.run(&["--no-binary", "fastadd", "--simple-index"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let manifest = manifest(&f.out());
    let entry = entry(&manifest, "fastadd");
    assert_eq!(entry["status"], "built", "{entry}");
    let ours = entry["path"].as_str().unwrap();
    assert_eq!(
        ours,
        "fastadd-1.0-1-cp311-cp311-manylinux2014_s390x.manylinux_2_17_s390x.whl"
    );
    assert_ne!(sha256_of(&f.out().join(ours)), sha256_of(&theirs));
    assert!(
        stderr(&out).contains("is already another file (in the index or this cache)"),
        "{}",
        stderr(&out)
    );
    let page = std::fs::read_to_string(f.out().join("simple/fastadd/index.html")).unwrap();
    assert!(
        page.contains(ours)
            && !page.contains(&format!(
                ">{}<",
                theirs.file_name().unwrap().to_string_lossy()
            )),
        "{page}"
    );
}
