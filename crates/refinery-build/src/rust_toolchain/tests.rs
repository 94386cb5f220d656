use super::*;

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(m, t)| (m.to_string(), t.to_string()))
        .collect()
}

#[test]
fn versions_parse_like_cargo_writes_them() {
    assert_eq!(RustVersion::parse("1.70"), Some(RustVersion(1, 70, 0)));
    assert_eq!(RustVersion::parse(" 1.74.1 "), Some(RustVersion(1, 74, 1)));
    assert_eq!(RustVersion::parse("1"), None);
    assert_eq!(RustVersion::parse("1.70.0.1"), None);
    assert_eq!(RustVersion::parse("1.x"), None);
    assert_eq!(
        RustVersion::for_edition("2024"),
        Some(RustVersion(1, 85, 0))
    );
    assert_eq!(RustVersion::for_edition("2027"), None);
    assert!(RustVersion(1, 85, 0) < RustVersion(1, 97, 1));
}

#[test]
fn an_sdist_needs_rust_when_it_has_a_crate_or_a_rust_backend() {
    let plain = files(&[(
        "pkg-1.0/pyproject.toml",
        "[build-system]\nrequires = [\"setuptools\"]\n",
    )]);
    assert_eq!(CrateNeeds::from_files(&plain), None);
    let backend_only = files(&[(
        "pkg-1.0/pyproject.toml",
        "[build-system]\nrequires = [\"maturin>=1,<2\"]\n",
    )]);
    assert_eq!(
        CrateNeeds::from_files(&backend_only),
        Some(CrateNeeds::default())
    );
    let setuptools_rust = files(&[(
        "pkg-1.0/pyproject.toml",
        "[build-system]\nrequires = [\"setuptools_rust>=1.5.2\", \"wheel\"]\n",
    )]);
    assert!(CrateNeeds::from_files(&setuptools_rust).is_some());
}

#[test]
fn the_minimum_is_the_highest_rust_version_else_the_newest_edition() {
    let crates = files(&[
        (
            "pkg-1.0/Cargo.toml",
            "[package]\nname = \"a\"\nedition = \"2024\"\nrust-version = \"1.83\"\n",
        ),
        (
            "pkg-1.0/src/b/Cargo.toml",
            "[workspace.package]\nrust-version = \"1.86.2\"\n",
        ),
    ]);
    let needs = CrateNeeds::from_files(&crates).unwrap();
    assert_eq!(needs.minimum, Some(RustVersion(1, 86, 2)));
    assert_eq!(
        needs.because.as_deref(),
        Some("rust-version = \"1.86.2\" in pkg-1.0/src/b/Cargo.toml")
    );
    let editions = files(&[
        ("p/Cargo.toml", "[package]\nedition = \"2021\"\n"),
        ("p/x/Cargo.toml", "[package]\nedition = \"2024\"\n"),
        ("p/y/Cargo.toml", "not toml ["),
    ]);
    let needs = CrateNeeds::from_files(&editions).unwrap();
    assert_eq!(needs.minimum, Some(RustVersion(1, 85, 0)));
    assert_eq!(
        needs.because.as_deref(),
        Some("edition 2024 in p/x/Cargo.toml")
    );
}

#[test]
fn a_crate_newer_than_every_toolchain_is_refused_naming_both_versions() {
    let store = RustStore::new(Path::new("/nonexistent"));
    let newest = recipes().last().unwrap().clone();
    let fits = CrateNeeds {
        minimum: Some(RustVersion(1, 70, 0)),
        because: None,
    };
    assert_eq!(store.choose(&fits).unwrap(), recipes()[0]);
    let too_new = CrateNeeds {
        minimum: Some(RustVersion(9, 0, 0)),
        because: Some("rust-version = \"9.0.0\" in x/Cargo.toml".into()),
    };
    let error = store.choose(&too_new).unwrap_err();
    assert!(matches!(error, ToolchainError::TooOld { .. }), "{error:?}");
    let error = error.to_string();
    assert!(error.contains("Rust 9.0.0 or newer"), "{error}");
    assert!(
        error.contains("rust-version = \"9.0.0\" in x/Cargo.toml"),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "newest Rust toolchain this refinery has is {}",
            newest.rust
        )),
        "{error}"
    );
}

#[test]
fn builds_link_s390x_code_with_the_builds_compiler_and_host_code_with_zig() {
    let toolchain = RustToolchain {
        recipe: recipes()[0].clone(),
        dir: "/envs/v1/toolchains/t".into(),
        cargo_home: "/envs/cargo-home".into(),
        zig_dir: Some("/zig".into()),
        zig_cache: "/envs/zig/cache".into(),
    };
    let env: std::collections::HashMap<String, String> = toolchain.env().into_iter().collect();
    assert_eq!(env["CARGO_BUILD_TARGET"], "s390x-unknown-linux-gnu");
    assert!(toolchain.cross_compiles());
    assert_eq!(
        env["CARGO_TARGET_S390X_UNKNOWN_LINUX_GNU_LINKER"],
        "s390x-linux-gnu-gcc"
    );
    assert_eq!(
        env["CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER"],
        format!("{GUEST_RUST_BIN}/host-cc")
    );
    assert_eq!(env["RUSTC"], format!("{GUEST_RUST_BIN}/rustc"));
    let binds = toolchain.binds(true);
    assert_eq!(
        binds.mounts[..2],
        [
            Mount::ro("/envs/v1/toolchains/t", GUEST_RUST_DIR),
            Mount::rw("/envs/cargo-home", GUEST_CARGO_HOME),
        ]
    );
    assert!(binds
        .mounts
        .iter()
        .any(|m| m.guest == crate::zig::GUEST_ZIG_DIR));
    assert_eq!(binds.path, [GUEST_RUST_BIN]);
    assert_eq!(binds.env, toolchain.env());
    assert_eq!(toolchain.binds(false).mounts.len(), 2);
    assert_eq!(toolchain.label(), format!("rust({})", recipes()[0].rust));
}

#[test]
fn the_loader_path_fits_where_the_standard_one_was() {
    // patchelf rewrites `.interp` in place only when the new path is not longer.
    assert!(GUEST_LOADER.len() <= "/lib64/ld-linux-x86-64.so.2".len());
    assert!(GUEST_LOADER.starts_with(GUEST_RUST_DIR));
    for arch in [ToolchainArch::Amd64, ToolchainArch::S390x] {
        assert!(arch.guest_lib_dir().starts_with(GUEST_RUST_DIR));
    }
}

#[test]
fn an_s390x_tree_is_the_same_release_and_compiles_for_itself() {
    let native = recipes()
        .into_iter()
        .find(|r| r.upstream.is_none())
        .unwrap();
    // The amd64 recipe's JSON (and so its folder name) is what it was before trees had
    // an architecture: existing trees are found again.
    assert!(!serde_json::to_string(&native).unwrap().contains("arch"));
    assert!(native
        .key()
        .starts_with(&format!("rust-{}-{}-amd64-", native.rust, native.suite)));
    let emulated = native.for_arch(ToolchainArch::S390x);
    assert_eq!(emulated.rust, native.rust);
    assert!(emulated.key().contains("-s390x-"), "{}", emulated.key());
    assert_ne!(emulated.key(), native.key());
    assert_eq!(
        emulated.packages(),
        ["rustc", "cargo", "libstd-rust-dev"].map(|p| format!("{p}={}", native.debian_version))
    );
    let toolchain = RustToolchain {
        recipe: emulated,
        dir: "/envs/v1/toolchains/e".into(),
        cargo_home: "/envs/cargo-home".into(),
        zig_dir: None,
        zig_cache: "/envs/zig/cache".into(),
    };
    let env: std::collections::HashMap<String, String> = toolchain.env().into_iter().collect();
    assert!(!env.contains_key("CARGO_BUILD_TARGET"), "{env:?}");
    assert_eq!(env["RUSTC"], format!("{GUEST_RUST_BIN}/rustc"));
    assert!(!toolchain.cross_compiles());
    // No Zig to bind, asked or not.
    assert_eq!(toolchain.binds(true).mounts.len(), 2);
    assert_eq!(toolchain.label(), format!("rust({}, s390x)", native.rust));
    // A store that chooses s390x trees gives them for any crate.
    let dir = tempfile::tempdir().unwrap();
    let store = RustStore::new(dir.path()).choosing(ToolchainArch::S390x);
    assert_eq!(
        store.choose(&CrateNeeds::default()).unwrap().arch,
        ToolchainArch::S390x
    );
}

#[test]
fn pyo3_is_told_the_sysconfigdata_file_not_its_link() {
    let root = tempfile::tempdir().unwrap();
    let lib = root.path().join("usr/lib/python3.14");
    std::fs::create_dir_all(&lib).unwrap();
    // forky: the file has the `linux_` name and the short one is the link; bookworm has
    // them the other way round.
    std::fs::write(
        lib.join("_sysconfigdata__linux_s390x-linux-gnu.py"),
        "x = 1\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "_sysconfigdata__linux_s390x-linux-gnu.py",
        lib.join("_sysconfigdata__s390x-linux-gnu.py"),
    )
    .unwrap();
    let env: std::collections::HashMap<String, String> =
        python_env(Some(root.path()), "3.14").into_iter().collect();
    assert_eq!(env["PYO3_CROSS_LIB_DIR"], "/usr/lib/python3.14");
    assert_eq!(env["PYO3_CROSS_PYTHON_VERSION"], "3.14");
    assert_eq!(
        env["_PYTHON_SYSCONFIGDATA_NAME"],
        "_sysconfigdata__linux_s390x-linux-gnu"
    );
    // Without an environment to look into, the name is left to the search.
    assert!(!python_env(None, "3.14")
        .iter()
        .any(|(k, _)| k == "_PYTHON_SYSCONFIGDATA_NAME"));
}

#[test]
fn the_rust_projects_release_is_the_default_and_debians_the_newest() {
    let store = RustStore::new(Path::new("/nonexistent"));
    let default = store.choose(&CrateNeeds::default()).unwrap();
    let upstream = default.upstream.as_ref().expect("an upstream release");
    assert_eq!(default.rust, "1.95.0");
    assert_eq!(
        upstream.url(RUST_DIST_SERVER, &upstream.archives[3]),
        "https://static.rust-lang.org/dist/2026-04-16/rust-std-1.95.0-s390x-unknown-linux-gnu.tar.xz"
    );
    assert!(upstream.archives.iter().all(|a| a.sha256.len() == 64));
    assert!(
        default.key().starts_with("rust-1.95.0-rust-lang-amd64-"),
        "{}",
        default.key()
    );
    // Only the C run time comes from Debian.
    assert_eq!(default.packages(), ["libc6", "libgcc-s1", "zlib1g"]);
    // A crate that needs more than 1.95 gets Debian's 1.97.1, as does the rust-newest hint.
    let newer = CrateNeeds {
        minimum: Some(RustVersion(1, 96, 0)),
        because: None,
    };
    assert_eq!(store.choose(&newer).unwrap().rust, "1.97.1");
    assert_eq!(store.newest().rust, "1.97.1");
    assert!(store.newest().upstream.is_none());
    // s390x trees (emulated builds) are Debian's only; the upstream release maps to the
    // newest of those, so a build moved to the emulated variant keeps a release no older.
    let s390x = RustStore::new(Path::new("/nonexistent")).choosing(ToolchainArch::S390x);
    let emulated = s390x.choose(&CrateNeeds::default()).unwrap();
    assert!(emulated.upstream.is_none());
    assert_eq!(emulated.rust, "1.97.1");
    assert_eq!(default.for_arch(ToolchainArch::S390x), emulated);
    let toolchain = RustToolchain {
        recipe: default.clone(),
        dir: "/envs/v1/toolchains/t".into(),
        cargo_home: "/envs/cargo-home".into(),
        zig_dir: Some("/zig".into()),
        zig_cache: "/envs/zig/cache".into(),
    };
    assert_eq!(
        toolchain.describe(),
        "rustc 1.95.0 (rust-lang.org 2026-04-16, native amd64 → s390x-unknown-linux-gnu)"
    );
    assert_eq!(toolchain.label(), "rust(1.95.0)");
}

/// Collects what a run would print.
#[derive(Default)]
struct Said(std::sync::Mutex<Vec<String>>);

impl Reporter for Said {
    fn message(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_string());
    }
}

#[test]
fn a_toolchain_that_cannot_be_made_gives_way_to_the_next_saying_why() {
    let candidates = recipes();
    let said = Said::default();
    let mut tried = Vec::new();
    let made = first_made(
        &candidates,
        |recipe| {
            tried.push(recipe.rust.clone());
            if recipe.upstream.is_some() {
                Err(ToolchainError::Tree(TreeError::Download {
                    url: "https://static.rust-lang.org/dist/x.tar.xz".into(),
                    message: "connection refused".into(),
                }))
            } else {
                Ok(recipe.rust.clone())
            }
        },
        &said,
    );
    assert_eq!(made.unwrap(), "1.97.1");
    assert_eq!(tried, ["1.95.0", "1.97.1"]);
    let said = said.0.into_inner().unwrap();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].contains("connection refused") && said[0].contains(&candidates[1].key()),
        "{said:?}"
    );
    // A stop tries no other.
    let said = Said::default();
    let mut tried = 0;
    let stopped = first_made(
        &candidates,
        |_| -> Result<(), _> {
            tried += 1;
            Err(ToolchainError::Stopped)
        },
        &said,
    );
    assert!(matches!(stopped, Err(ToolchainError::Stopped)));
    assert_eq!(tried, 1);
    assert!(said.0.into_inner().unwrap().is_empty());
    // The last one's error is the answer when none can be made.
    let none = first_made(
        &candidates,
        |_| -> Result<(), _> {
            Err(ToolchainError::NoZig {
                message: "gone".into(),
            })
        },
        &Said::default(),
    );
    assert!(none.unwrap_err().to_string().contains("gone"));
}

#[test]
fn an_unreachable_distribution_server_fails_the_download_naming_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("http://127.0.0.1:{port}");
    let upstream = recipes()[0].upstream.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = refinery_index::IndexClient::new(refinery_index::IndexConfig::default()).unwrap();
    let error = tree::download_upstream(&upstream, &server, dir.path(), &client).unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains(&format!(
            "{server}/dist/2026-04-16/rustc-1.95.0-x86_64-unknown-linux-gnu.tar.xz"
        )),
        "{text}"
    );
    assert!(text.contains("RUSTUP_DIST_SERVER"), "{text}");
}

#[test]
fn listings_say_whose_build_and_what_it_runs_as() {
    let all = recipes();
    assert_eq!(all[0].kind(), "rust-lang.org, native amd64 → s390x");
    assert_eq!(all[1].kind(), "Debian forky, native amd64 → s390x");
    assert_eq!(
        all[1].for_arch(ToolchainArch::S390x).kind(),
        "Debian forky, s390x code (emulated)"
    );
}
