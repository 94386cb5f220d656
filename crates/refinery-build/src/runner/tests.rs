use super::*;

fn args(cmd: &Command) -> Vec<String> {
    cmd.get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// The value the command gives the sandboxed process for `key`.
fn env_of(cmd: &Command, key: &str) -> Option<String> {
    cmd.get_envs()
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
}

fn spec(network: bool) -> RunSpec {
    RunSpec {
        argv: vec!["python3".into(), "-m".into(), "pip".into()],
        env: vec![(
            "PIP_INDEX_URL".into(),
            "https://u:secret@example/simple".into(),
        )],
        mounts: vec![Mount::ro("/in", "/input"), Mount::rw("/b", "/build")],
        workdir: "/build".into(),
        network,
        accelerate: false,
        zig: false,
        rust: None,
        path_prepend: Vec::new(),
    }
}

#[test]
fn bwrap_mounts_rootfs_read_only_and_cuts_the_network_on_request() {
    let runner = BwrapRunner {
        rootfs: "/envs/r".into(),
        label: "rootfs".into(),
        ca_bundle: Some("/ca.pem".into()),
        accelerator: None,
        zig: None,
        python: "python3".into(),
        host_python: None,
    };
    let offline_cmd = runner.command(&spec(false));
    let offline = args(&offline_cmd);
    assert_eq!(&offline[..3], ["--ro-bind", "/envs/r", "/"]);
    assert!(offline.contains(&"--unshare-net".to_string()));
    let joined = offline.join(" ");
    assert!(joined.contains("--ro-bind /in /input"));
    assert!(joined.contains("--bind /b /build"));
    assert!(joined.contains(&format!("--ro-bind /ca.pem {GUEST_CA_BUNDLE}")));
    assert_eq!(
        env_of(&offline_cmd, "PIP_CERT").as_deref(),
        Some(GUEST_CA_BUNDLE)
    );
    assert!(joined.ends_with("-- python3 -m pip"));
    // Secrets go through bwrap's environment, never its command line (`ps` shows that),
    // and nothing of ours leaks into the sandbox.
    assert!(
        !joined.contains("secret") && !joined.contains("--setenv"),
        "{joined}"
    );
    assert_eq!(
        env_of(&offline_cmd, "PIP_INDEX_URL").as_deref(),
        Some("https://u:secret@example/simple")
    );
    // bwrap starts with only these (`env -i` in std's rendering of a command whose
    // environment was cleared): nothing of the refinery's own environment is handed on.
    let rendered = format!("{offline_cmd:?}");
    assert!(rendered.contains("env -i "), "{rendered}");
    let online = args(&runner.command(&spec(true)));
    assert!(!online.contains(&"--unshare-net".to_string()));
    assert!(env_of(&offline_cmd, "PATH")
        .unwrap()
        .starts_with("/usr/local/bin:/usr/bin:"));
    // The packs' bin folders come before the environment's own.
    let mut with_packs = spec(false);
    with_packs.path_prepend = vec!["/opt/packs/a/bin".into(), "/opt/packs/b/bin".into()];
    let path = env_of(&runner.command(&with_packs), "PATH").unwrap();
    assert!(
        path.starts_with("/opt/packs/a/bin:/opt/packs/b/bin:/usr/local/bin:/usr/bin:"),
        "{path}"
    );
}

#[test]
fn only_steps_that_ask_for_it_get_the_cross_compilers() {
    use crate::accelerate::{Accelerator, CrossToolchain, Language, GUEST_SHIM_DIR};
    let (host, rootfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::create_dir_all(rootfs.path().join("usr/bin")).unwrap();
    std::fs::write(rootfs.path().join("usr/bin/s390x-linux-gnu-gcc"), b"s390x").unwrap();
    let accelerator = Accelerator {
        toolchain: CrossToolchain {
            root: host.path().to_path_buf(),
            tools: vec![
                "s390x-linux-gnu-gcc".into(),
                "s390x-linux-gnu-gfortran".into(),
            ],
            default_major: Some(12),
            compilers: vec![(Language::C, 12), (Language::Fortran, 12)],
            support_dirs: vec!["/usr/lib/gcc-cross".into()],
            host_lib_dirs: vec!["/usr/lib/x86_64-linux-gnu".into()],
            loader: "/lib64/ld-linux-x86-64.so.2".into(),
        },
        major: 12,
        rootfs_major: Some(12),
        break_compilers: false,
        uv: Some(host.path().join("uv")),
    };
    let runner = BwrapRunner {
        rootfs: rootfs.path().to_path_buf(),
        label: "rootfs:bookworm emulated".into(),
        ca_bundle: None,
        accelerator: Some(accelerator),
        zig: None,
        python: "python3".into(),
        host_python: None,
    };
    assert_eq!(runner.describe(), "rootfs:bookworm emulated+cross");
    assert_eq!(runner.describe_attempt(false), "rootfs:bookworm emulated");
    assert_eq!(
        runner.native_frontend().as_deref(),
        Some(crate::accelerate::GUEST_UV)
    );
    let plain = args(&runner.command(&spec(false))).join(" ");
    assert!(
        !plain.contains("gcc-cross") && !plain.contains(GUEST_SHIM_DIR),
        "{plain}"
    );
    let mut build = spec(true);
    build.accelerate = true;
    let fast_cmd = runner.command(&build);
    let fast = args(&fast_cmd).join(" ");
    let h = host.path().display();
    assert!(
        fast.contains(&format!(
            "--ro-bind {h}/usr/lib/gcc-cross /usr/lib/gcc-cross"
        )),
        "{fast}"
    );
    assert!(
        fast.contains(&format!(
            "--ro-bind {h}/usr/bin/s390x-linux-gnu-gcc /usr/bin/s390x-linux-gnu-gcc"
        )),
        "{fast}"
    );
    // The host's uv is there too.
    let uv_bind = format!("--ro-bind {h}/uv {}", crate::accelerate::GUEST_UV);
    assert!(fast.contains(&uv_bind), "{fast}");
    // gfortran is not in the rootfs: it comes from the shim folder, first on PATH.
    assert!(
        fast.contains(&format!("{GUEST_SHIM_DIR}/bin/gfortran")),
        "{fast}"
    );
    let path = env_of(&fast_cmd, "PATH").unwrap();
    assert!(
        path.starts_with(&format!("{GUEST_SHIM_DIR}/bin:/usr/local/bin")),
        "{path}"
    );
    // The mount points exist in the read-only rootfs now.
    assert!(
        rootfs.path().join("lib64").is_dir() && rootfs.path().join("usr/lib/gcc-cross").is_dir()
    );
    // auditwheel may graft the cross toolchain's s390x runtime libraries.
    std::fs::create_dir_all(host.path().join("usr/s390x-linux-gnu/lib")).unwrap();
    assert_eq!(
        runner.library_paths().last().unwrap(),
        &host.path().join("usr/s390x-linux-gnu/lib")
    );
}

#[test]
fn container_command_has_limits_mounts_env_and_image() {
    let runner = ContainerRunner {
        engine: "podman".into(),
        image: preset_image("rocky").unwrap(),
        cpus: Some("2".into()),
        memory: Some("4g".into()),
        python: "python3.11".into(),
        ca_bundle: Some("/ca.pem".into()),
        accelerator: None,
    };
    let cmd = runner.command(&spec(false));
    assert_eq!(cmd.get_program(), "podman");
    let a = args(&cmd);
    let joined = a.join(" ");
    assert!(
        joined.starts_with("run --rm --platform linux/s390x --network=none --cpus=2 --memory=4g"),
        "{joined}"
    );
    assert!(joined.contains("-v /in:/input:ro"));
    assert!(joined.contains("-v /b:/build:rw"));
    assert!(joined.contains(&format!("-v /ca.pem:{GUEST_CA_BUNDLE}:ro")));
    assert!(joined.contains("-w /build"));
    assert!(joined.contains("-e PIP_INDEX_URL"));
    assert!(
        !joined.contains("secret"),
        "secrets stay out of argv: {joined}"
    );
    assert!(joined.ends_with("localhost/refinery-builder-rocky:latest python3 -m pip"));
    assert!(preset_image("arch").is_err());
}

#[test]
fn accelerated_container_steps_mount_the_cross_tools_read_only() {
    use crate::accelerate::{Accelerator, CrossToolchain, Language, GUEST_SHIM_DIR};
    let toolchain = CrossToolchain {
        root: "/".into(),
        tools: vec!["s390x-linux-gnu-gcc-12".into()],
        default_major: Some(12),
        compilers: vec![(Language::C, 12)],
        support_dirs: vec!["/usr/lib/gcc-cross".into()],
        host_lib_dirs: vec!["/usr/lib/x86_64-linux-gnu".into()],
        loader: "/lib64/ld-linux-x86-64.so.2".into(),
    };
    let runner = ContainerRunner {
        engine: "docker".into(),
        image: "img".into(),
        cpus: None,
        memory: None,
        python: "python3.11".into(),
        ca_bundle: None,
        accelerator: Some(Accelerator {
            toolchain,
            major: 12,
            rootfs_major: Some(12),
            break_compilers: false,
            uv: None,
        }),
    };
    assert_eq!(runner.describe(), "docker:img+cross");
    assert_eq!(runner.describe_attempt(false), "docker:img");
    assert_eq!(runner.native_frontend(), None, "no uv on this host");
    let plain = args(&runner.command(&spec(false))).join(" ");
    assert!(!plain.contains(GUEST_SHIM_DIR), "{plain}");
    let mut build = spec(true);
    build.accelerate = true;
    let cmd = runner.command(&build);
    let fast = args(&cmd).join(" ");
    assert!(
        fast.contains(&format!(
            "-v /usr/bin/s390x-linux-gnu-gcc-12:{GUEST_SHIM_DIR}/bin/gcc:ro"
        )),
        "{fast}"
    );
    assert!(
        fast.contains(&format!(
            "-v /usr/lib/gcc-cross:{GUEST_SHIM_DIR}/lib/gcc-cross:ro"
        )),
        "{fast}"
    );
    assert!(fast.contains("-v /lib64/ld-linux-x86-64.so.2:/lib64/ld-linux-x86-64.so.2:ro"));
    // The container's PATH starts with the tools; the engine's own PATH is untouched.
    assert!(
        fast.contains(&format!("-e PATH={GUEST_SHIM_DIR}/bin:")),
        "{fast}"
    );
    assert!(cmd.get_envs().all(|(k, _)| k != "PATH"));
}

#[test]
fn every_preset_has_a_containerfile_that_builds_its_image() {
    for preset in ["rocky", "fedora", "ubuntu"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../containers")
            .join(preset)
            .join("Containerfile");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            text.contains(&preset_image(preset).unwrap()),
            "{preset}: the build command names the image"
        );
        assert!(text.contains("linux/s390x"), "{preset}: an s390x image");
    }
}

#[test]
fn installs_go_through_apt_in_a_writable_layer_and_only_bwrap_has_layers() {
    let dir = tempfile::tempdir().unwrap();
    let cmd = apt_install_command(dir.path(), &["libffi-dev".into(), "g++".into()]);
    let joined = args(&cmd).join(" ");
    assert!(
        joined.starts_with(&format!("--bind {} /", dir.path().display())),
        "{joined}"
    );
    assert!(
        joined.contains("install -y --no-install-recommends libffi-dev g++;"),
        "{joined}"
    );
    let runner = BwrapRunner {
        rootfs: dir.path().to_path_buf(),
        label: "rootfs".into(),
        ca_bundle: None,
        accelerator: None,
        zig: None,
        python: "python3".into(),
        host_python: None,
    };
    let layer = dir.path().join("layer");
    let over = runner.over_rootfs(&layer).unwrap();
    assert_eq!(over.rootfs(), Some(layer.as_path()));
    assert_eq!(over.label(), "rootfs");
    let container = ContainerRunner {
        engine: "podman".into(),
        image: "img".into(),
        cpus: None,
        memory: None,
        python: "python3.11".into(),
        ca_bundle: None,
        accelerator: None,
    };
    assert!(container.rootfs().is_none() && container.over_rootfs(&layer).is_none());
}

#[test]
fn toolchains_bind_as_plain_mounts_zig_first_then_rust() {
    use crate::rust_toolchain::{recipes, RustToolchain, GUEST_CARGO_HOME, GUEST_RUST_BIN};
    use crate::zig::{ZigToolchain, GUEST_ZIG_BIN, GUEST_ZIG_CACHE, GUEST_ZIG_DIR};
    let rootfs = tempfile::tempdir().unwrap();
    let zig = ZigToolchain {
        dir: "/z/zig".into(),
        glibc: (2, 17),
        wrappers: "/z/wrappers".into(),
        compilers: "wrappers-2.17-0".into(),
        cache: "/z/cache".into(),
        version: "0.17.0".into(),
    };
    let rust = RustToolchain {
        recipe: recipes()[0].clone(),
        dir: "/r/tree".into(),
        cargo_home: "/r/cargo-home".into(),
        zig_dir: Some("/z/zig".into()),
        zig_cache: "/z/cache".into(),
    };
    let runner = BwrapRunner {
        rootfs: rootfs.path().into(),
        label: "rootfs".into(),
        ca_bundle: None,
        accelerator: None,
        zig: Some(zig.binds()),
        python: "python3".into(),
        host_python: None,
    };
    let mut both = spec(false);
    both.zig = true;
    // The glibc-targeted compiler binds Zig already: the Rust toolchain does not again.
    both.rust = Some(rust.binds(false));
    let both_cmd = runner.command(&both);
    let joined = args(&both_cmd).join(" ");
    let binds = format!(
        "--ro-bind /z/zig {GUEST_ZIG_DIR} --bind /z/cache {GUEST_ZIG_CACHE} --ro-bind /z/wrappers {GUEST_ZIG_BIN} --ro-bind /r/tree {} --bind /r/cargo-home {GUEST_CARGO_HOME} --chdir",
        crate::rust_toolchain::GUEST_RUST_DIR
    );
    assert!(joined.contains(&binds), "{joined}");
    let path = env_of(&both_cmd, "PATH").unwrap();
    assert!(
        path.starts_with(&format!("{GUEST_RUST_BIN}:{GUEST_ZIG_BIN}:/usr/local/bin")),
        "{path}"
    );
    // Zig's variables, Rust's and the step's own.
    for key in ["CC", "RUSTC", "PIP_INDEX_URL"] {
        assert!(env_of(&both_cmd, key).is_some(), "{key}: {joined}");
    }
    // A step that does not ask for the glibc-targeted compiler does not get it.
    let joined = args(&runner.command(&spec(false))).join(" ");
    assert!(!joined.contains(GUEST_ZIG_DIR), "{joined}");
}

#[test]
fn a_host_program_is_the_first_executable_of_its_name_on_path() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a"), dir.path().join("b"));
    for folder in [&first, &second] {
        std::fs::create_dir(folder).unwrap();
        std::fs::write(folder.join("tool"), "#!/bin/sh\n").unwrap();
    }
    // The first is not executable (a stray file): the shell would skip it too.
    std::fs::set_permissions(first.join("tool"), std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(second.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths([&first, &second]).unwrap();
    assert_eq!(find_on_path("tool", Some(&path)), second.join("tool"));
    assert_eq!(
        find_on_path("nothing", Some(&path)),
        PathBuf::from("nothing")
    );
    assert_eq!(find_on_path("tool", None), PathBuf::from("tool"));
}
