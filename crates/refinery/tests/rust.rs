//! Rust extensions for s390x: the native Rust toolchain (the Rust project's amd64 rustc
//! with its s390x standard library, or Debian's for crates that need a newer release)
//! compiles them, the build's C compiler links them, and the wheels work under emulation.

mod common;

use common::*;

#[test]
#[ignore = "needs the real PyPI, crates.io and the s390x rootfs environment"]
fn tiktoken_reaches_manylinux2014_and_encodes_on_s390x() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    let (e, out) = built_for_manylinux2014(tmp.path(), "tiktoken==0.14.0\n", "tiktoken");
    let file = e["path"].as_str().unwrap();
    assert!(file.contains("manylinux2014_s390x"), "{file}");
    let built_with = e["metadata"]["built_with"].as_str().unwrap();
    assert!(
        built_with.ends_with("+zig(glibc 2.17)+rust(1.95.0)"),
        "{built_with}"
    );
    // tiktoken asks for Rust 1.83: the default toolchain, the Rust project's own build.
    assert_eq!(
        e["metadata"]["rust_toolchain"],
        "rustc 1.95.0 (rust-lang.org 2026-04-16, native amd64 → s390x-unknown-linux-gnu)",
        "{e}"
    );
    let unpacked = tmp.path().join("unpacked");
    unzip(&out.join(file), &unpacked);
    // A byte-level BPE of our own (the published encodings are downloaded at run time):
    // merges, special tokens and the round trip go through the Rust core.
    let code = r#"import sys, tiktoken
ranks = {bytes([i]): i for i in range(256)}
for pair in [b"he", b"ll", b"hell", b"hello", b" w", b"or", b" wor", b" world"]:
    ranks[pair] = len(ranks)
enc = tiktoken.Encoding("refinery-test", pat_str=r"'s|\s?\w+|\s?[^\w\s]+|\s+", mergeable_ranks=ranks, special_tokens={"<|end|>": 1000})
tokens = enc.encode("hello world<|end|>", allowed_special="all")
assert tokens == [ranks[b"hello"], ranks[b" world"], 1000], tokens
text = "Grüße, s390x! " * 50
assert enc.decode(enc.encode(text)) == text
print(sys.byteorder)"#;
    assert_s390x_python_prints(&rootfs, &unpacked, code, "big");
}

#[test]
#[ignore = "needs the s390x rootfs environment"]
fn a_crate_newer_than_every_toolchain_fails_at_once_naming_both_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    write_tar_gz(
        &input,
        "futurecrate-1.0",
        [
            (
                "PKG-INFO".to_string(),
                "Metadata-Version: 2.2\nName: futurecrate\nVersion: 1.0\n".to_string(),
            ),
            (
                "pyproject.toml".to_string(),
                "[build-system]\nrequires = [\"maturin>=1,<2\"]\nbuild-backend = \"maturin\"\n\n[project]\nname = \"futurecrate\"\nversion = \"1.0\"\n".to_string(),
            ),
            (
                "Cargo.toml".to_string(),
                "[package]\nname = \"futurecrate\"\nversion = \"1.0.0\"\nedition = \"2024\"\nrust-version = \"9.0\"\n".to_string(),
            ),
        ],
    );
    let (output, out) = main_job(&input, tmp.path(), &["--max-attempts", "3"]);
    assert!(!output.status.success(), "{}", stdout(&output));
    let m = manifest(&out);
    let e = entry(&m, "futurecrate");
    assert_eq!(e["status"], "failed", "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(detail.contains("needs Rust 9.0.0 or newer"), "{detail}");
    assert!(
        detail.contains("rust-version = \"9.0.0\" in futurecrate-1.0/Cargo.toml"),
        "{detail}"
    );
    assert!(
        detail.contains("newest Rust toolchain this refinery has is 1.97.1"),
        "{detail}"
    );
    // No attempt ran: nothing could have changed the outcome.
    assert!(e["metadata"]["attempt"].is_null(), "{e}");
}

#[test]
#[ignore = "needs the real PyPI, crates.io, Debian and the s390x rootfs environment"]
fn cryptography_builds_with_openssl_from_a_layer_and_encrypts_on_s390x() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    let input = requirements(tmp.path(), "cryptography==50.0.2\n");
    // bookworm's OpenSSL 3.0 needs glibc 2.34: the target is the environment's level.
    let (output, out) = main_job(
        &input,
        tmp.path(),
        &[
            "--platform-tag",
            "manylinux_2_36_s390x",
            "--max-attempts",
            "1",
            "--auto-apply-suggestions",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let m = manifest(&out);
    let e = entry(&m, "cryptography");
    assert_eq!(e["status"], "built", "{e}");
    let built_with = e["metadata"]["built_with"].as_str().unwrap();
    // rust-version 1.83.0: the Rust project's 1.95.0.
    assert!(built_with.ends_with("+rust(1.95.0)"), "{built_with}");
    // The OpenSSL headers came from a layer the hint asked for, not from the base.
    assert!(
        e["metadata"]["system_packages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "libssl-dev"),
        "{e}"
    );
    let unpacked = tmp.path().join("unpacked");
    unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    for dependency in ["cffi", "pycparser"] {
        let d = entry(&m, dependency);
        unzip(&out.join(d["path"].as_str().unwrap()), &unpacked);
    }
    let code = r#"import sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
key = bytes(range(32)); nonce = bytes(12)
box = AESGCM(key)
sealed = box.encrypt(nonce, b"s390x is big-endian", b"header")
assert box.decrypt(nonce, sealed, b"header") == b"s390x is big-endian"
# A known answer: the tag must match any other platform's.
assert AESGCM(bytes(16)).encrypt(bytes(12), b"", None).hex() == "58e2fccefa7e3061367f1d57a4e7455a", "tag"
print(sys.byteorder)"#;
    assert_s390x_python_prints(&rootfs, &unpacked, code, "big");
}

#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn a_crate_registry_out_of_reach_fails_once_saying_so() {
    let tmp = tempfile::tempdir().unwrap();
    let input = requirements(tmp.path(), "tiktoken==0.14.0\n");
    // PyPI stays reachable for the build requirements; cargo alone gets an empty home and
    // a proxy nobody listens on.
    let overrides = r#"{"tiktoken": {"env": {"CARGO_HOME": "/build/tmp/cargo-home", "CARGO_HTTP_PROXY": "http://127.0.0.1:9", "CARGO_NET_RETRY": "0"}}}"#;
    let (output, out) = main_job_with_env(
        &input,
        tmp.path(),
        &[
            "--platform-tag",
            "manylinux2014_s390x",
            "--max-attempts",
            "3",
        ],
        &[("PLAN_OVERRIDES_JSON", overrides)],
    );
    assert!(!output.status.success(), "{}", stdout(&output));
    let m = manifest(&out);
    let e = entry(&m, "tiktoken");
    assert_eq!(e["status"], "failed", "{e}");
    let detail = e["detail"].as_str().unwrap();
    assert!(
        detail.contains("cargo could not reach the crate registry"),
        "{detail}"
    );
    assert!(detail.contains("not retried"), "{detail}");
    assert_eq!(e["metadata"]["attempt"], 1, "{e}");
}

/// A build script that compiles a C probe for s390x and runs it (through binfmt, inside
/// the build's sandbox): its answer flows into the extension, which reports the byte order
/// the probe saw.
#[test]
#[ignore = "needs the real PyPI, crates.io and the s390x rootfs environment"]
fn a_build_script_that_runs_target_code_works_through_binfmt() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    let build_rs = r##"use std::process::Command;
fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    let source = format!("{out}/probe.c");
    std::fs::write(&source, "#include <stdio.h>\nint main(void) { unsigned x = 1; printf(\"%d\", *(unsigned char *)&x == 0); return 0; }\n").unwrap();
    let binary = format!("{out}/probe");
    let compiled = Command::new("s390x-linux-gnu-gcc").args([&source, "-o", &binary]).status().expect("the target C compiler");
    assert!(compiled.success(), "the probe does not compile");
    let ran = Command::new(&binary).output().expect("the s390x probe runs");
    assert!(ran.status.success(), "the probe failed: {ran:?}");
    println!("cargo:rustc-env=PROBE_BIG_ENDIAN={}", String::from_utf8(ran.stdout).unwrap());
}
"##;
    let lib_rs = r#"use pyo3::prelude::*;

#[pyfunction]
fn probe_saw_big_endian() -> bool {
    env!("PROBE_BIG_ENDIAN") == "1"
}

#[pymodule]
fn targetprobe(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(probe_saw_big_endian, m)?)
}
"#;
    write_tar_gz(
        &input,
        "targetprobe-1.0",
        [
            (
                "PKG-INFO".to_string(),
                "Metadata-Version: 2.2\nName: targetprobe\nVersion: 1.0\n".to_string(),
            ),
            (
                "pyproject.toml".to_string(),
                "[build-system]\nrequires = [\"maturin>=1.8,<2\"]\nbuild-backend = \"maturin\"\n\n[project]\nname = \"targetprobe\"\nversion = \"1.0\"\n".to_string(),
            ),
            (
                "Cargo.toml".to_string(),
                "[package]\nname = \"targetprobe\"\nversion = \"1.0.0\"\nedition = \"2021\"\n\n[lib]\nname = \"targetprobe\"\ncrate-type = [\"cdylib\"]\n\n[dependencies]\npyo3 = { version = \"=0.29.3\", features = [\"extension-module\"] }\n".to_string(),
            ),
            ("build.rs".to_string(), build_rs.to_string()),
            ("src/lib.rs".to_string(), lib_rs.to_string()),
        ],
    );
    let (output, out) = main_job(
        &input,
        tmp.path(),
        &[
            "--platform-tag",
            "manylinux2014_s390x",
            "--max-attempts",
            "1",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let m = manifest(&out);
    let e = entry(&m, "targetprobe");
    assert_eq!(e["status"], "built", "{e}");
    let unpacked = tmp.path().join("unpacked");
    unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    assert_s390x_python_prints(
        &rootfs,
        &unpacked,
        "import targetprobe; print('big' if targetprobe.probe_saw_big_endian() else 'little')",
        "big",
    );
}

/// With `--accelerate off` every compiler runs as s390x code, Rust's too: the build gets
/// the s390x tree of the same Rust release (run under QEMU), not the environment's old
/// rustc. A small binary crate packaged by maturin is built and run under emulation.
#[test]
#[ignore = "needs the real PyPI, Debian and the s390x rootfs environment"]
fn without_acceleration_rust_runs_as_s390x_code_from_the_same_release() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    write_tar_gz(
        &input,
        "endianbin-1.0",
        [
            (
                "PKG-INFO".to_string(),
                "Metadata-Version: 2.2\nName: endianbin\nVersion: 1.0\n".to_string(),
            ),
            (
                "pyproject.toml".to_string(),
                "[build-system]\nrequires = [\"maturin>=1.8,<2\"]\nbuild-backend = \"maturin\"\n\n[project]\nname = \"endianbin\"\nversion = \"1.0\"\n\n[tool.maturin]\nbindings = \"bin\"\n".to_string(),
            ),
            (
                "Cargo.toml".to_string(),
                "[package]\nname = \"endianbin\"\nversion = \"1.0.0\"\nedition = \"2021\"\n".to_string(),
            ),
            (
                "src/main.rs".to_string(),
                "fn main() {\n    println!(\"{}\", if cfg!(target_endian = \"big\") { \"big\" } else { \"little\" });\n}\n".to_string(),
            ),
        ],
    );
    let (output, out) = main_job(
        &input,
        tmp.path(),
        // Without acceleration the environment's gcc links (glibc 2.36 of bookworm).
        &[
            "--accelerate",
            "off",
            "--platform-tag",
            "manylinux_2_36_s390x",
            "--max-attempts",
            "1",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let m = manifest(&out);
    let e = entry(&m, "endianbin");
    assert_eq!(e["status"], "built", "{e}");
    let toolchain = e["metadata"]["rust_toolchain"].as_str().unwrap();
    assert!(toolchain.contains("run as s390x code"), "{toolchain}");
    assert!(toolchain.starts_with("rustc 1.97.1 "), "{toolchain}");
    let unpacked = tmp.path().join("unpacked");
    unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    let script = walkdir::WalkDir::new(&unpacked)
        .into_iter()
        .filter_map(Result::ok)
        .find(|f| f.file_name() == "endianbin")
        .expect("the wheel carries the program")
        .into_path();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let code = format!(
        "import subprocess; print(subprocess.run(['/tmp/w/{}'], capture_output=True, text=True, check=True).stdout.strip())",
        script.strip_prefix(&unpacked).unwrap().display()
    );
    assert_s390x_python_prints(&rootfs, &unpacked, &code, "big");
}

/// The sdist's own manifests ask for nothing newer than the default toolchain (the Rust
/// project's 1.95.0), but a crate deep in its tree needs rustc 1.96: cargo refuses at
/// once, the `rust-msrv` hint retries with the newest toolchain (Debian's 1.97.1), and
/// the fix is learned, so the next version's build starts with it.
#[test]
#[ignore = "needs the real PyPI, crates.io, Debian and the s390x rootfs environment"]
fn a_crate_needing_a_newer_rustc_retries_with_the_newest_toolchain_and_the_fix_is_learned() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    let write = |version: &str| {
        let input = tmp.path().join(format!("input-{version}"));
        std::fs::create_dir_all(&input).unwrap();
        write_tar_gz(
            &input,
            &format!("msrvprobe-{version}"),
            [
                (
                    "PKG-INFO".to_string(),
                    format!("Metadata-Version: 2.2\nName: msrvprobe\nVersion: {version}\n"),
                ),
                (
                    "pyproject.toml".to_string(),
                    format!("[build-system]\nrequires = [\"maturin>=1.8,<2\"]\nbuild-backend = \"maturin\"\n\n[project]\nname = \"msrvprobe\"\nversion = \"{version}\"\n"),
                ),
                (
                    "Cargo.toml".to_string(),
                    format!("[package]\nname = \"msrvprobe\"\nversion = \"{version}.0\"\nedition = \"2021\"\n\n[lib]\nname = \"msrvprobe\"\ncrate-type = [\"cdylib\"]\n\n[dependencies]\npyo3 = {{ version = \"=0.29.3\", features = [\"extension-module\"] }}\nmsrvdep = {{ path = \"vendor/deep/x/msrvdep\" }}\n"),
                ),
                (
                    "src/lib.rs".to_string(),
                    "use pyo3::prelude::*;\n\n#[pyfunction]\nfn answer() -> u32 {\n    msrvdep::ANSWER\n}\n\n#[pymodule]\nfn msrvprobe(m: &Bound<'_, PyModule>) -> PyResult<()> {\n    m.add_function(wrap_pyfunction!(answer, m)?)\n}\n".to_string(),
                ),
                // Deeper than the manifests the refinery reads: only cargo sees it.
                (
                    "vendor/deep/x/msrvdep/Cargo.toml".to_string(),
                    "[package]\nname = \"msrvdep\"\nversion = \"0.1.0\"\nedition = \"2021\"\nrust-version = \"1.96\"\n".to_string(),
                ),
                (
                    "vendor/deep/x/msrvdep/src/lib.rs".to_string(),
                    "pub const ANSWER: u32 = 42;\n".to_string(),
                ),
            ],
        );
        input
    };
    let flags = ["--platform-tag", "manylinux2014_s390x"];
    let (output, out) = main_job(&write("1.0"), tmp.path(), &flags);
    assert!(output.status.success(), "{}", stderr(&output));
    let e = entry(&manifest(&out), "msrvprobe").clone();
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(e["metadata"]["attempt"], 2, "{e}");
    assert!(
        e["metadata"]["hints"].to_string().contains("rust-msrv"),
        "{e}"
    );
    let toolchain = e["metadata"]["rust_toolchain"].as_str().unwrap();
    assert!(
        toolchain.starts_with("rustc 1.97.1 (Debian forky"),
        "{toolchain}"
    );
    let first_log = std::fs::read_to_string(
        tmp.path()
            .join("cache/logs/msrvprobe-1.0-attempt1-default.log"),
    )
    .unwrap();
    assert!(first_log.contains("1.96"), "{first_log}");
    let unpacked = tmp.path().join("unpacked");
    unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    assert_s390x_python_prints(
        &rootfs,
        &unpacked,
        "import msrvprobe; print(msrvprobe.answer())",
        "42",
    );

    // The next version starts with what was learned: one attempt, the newest toolchain.
    let (output, out) = main_job(&write("1.1"), tmp.path(), &flags);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("applying the fix learned before"),
        "{}",
        stderr(&output)
    );
    let e = entry(&manifest(&out), "msrvprobe").clone();
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(e["version"], "1.1", "{e}");
    assert_eq!(e["metadata"]["attempt"], 1, "{e}");
    let toolchain = e["metadata"]["rust_toolchain"].as_str().unwrap();
    assert!(
        toolchain.starts_with("rustc 1.97.1 (Debian forky"),
        "{toolchain}"
    );
}
