use super::toolchain::{default_loader, elf_interpreter, host_multiarch, split_version};
use super::*;
use std::os::unix::fs::symlink;

fn touch(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"x").unwrap();
}

/// A host root with a Debian-like cross toolchain of GCC `major` (C and C++).
fn fake_host(root: &Path, major: u32) {
    let bin = root.join("usr/bin");
    for tool in ["gcc", "g++", "cpp"] {
        touch(&bin.join(format!("{TRIPLET}-{tool}-{major}")));
        // A second major keeps the first as the default.
        let _ = symlink(
            format!("{TRIPLET}-{tool}-{major}"),
            bin.join(format!("{TRIPLET}-{tool}")),
        );
    }
    for tool in ["ld", "ar", "as", "pkg-config"] {
        touch(&bin.join(format!("{TRIPLET}-{tool}")));
    }
    let cross = root.join(format!("usr/lib/gcc-cross/{TRIPLET}/{major}"));
    touch(&cross.join("cc1"));
    touch(&cross.join("cc1plus"));
    touch(&root.join(format!("usr/{TRIPLET}/lib/libc.so.6")));
    std::fs::create_dir_all(root.join(format!("usr/lib/{}", host_multiarch()))).unwrap();
}

/// An s390x rootfs like bookworm's: merged /usr, gcc-12 and the triplet names.
fn fake_rootfs(root: &Path, major: u32) {
    let bin = root.join("usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    symlink("usr/lib", root.join("lib")).unwrap();
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    for tool in ["gcc", "g++", "cpp"] {
        touch(&bin.join(format!("{TRIPLET}-{tool}-{major}")));
        symlink(
            format!("{TRIPLET}-{tool}-{major}"),
            bin.join(format!("{TRIPLET}-{tool}")),
        )
        .unwrap();
        symlink(
            format!("{TRIPLET}-{tool}-{major}"),
            bin.join(format!("{tool}-{major}")),
        )
        .unwrap();
        symlink(format!("{tool}-{major}"), bin.join(tool)).unwrap();
    }
    touch(&bin.join(format!("{TRIPLET}-ld")));
    symlink(format!("{TRIPLET}-ld"), bin.join("ld")).unwrap();
    // cc goes through an absolute link, as Debian's alternatives do.
    std::fs::create_dir_all(root.join("etc/alternatives")).unwrap();
    symlink("/usr/bin/gcc", root.join("etc/alternatives/cc")).unwrap();
    symlink("/etc/alternatives/cc", bin.join("cc")).unwrap();
}

fn host_tool(host: &Path, name: &str) -> String {
    host.join("usr/bin")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn modes_parse_and_print() {
    for mode in ["auto", "cross", "off"] {
        assert_eq!(mode.parse::<AccelerateMode>().unwrap().to_string(), mode);
    }
    assert!("fast"
        .parse::<AccelerateMode>()
        .unwrap_err()
        .contains("auto, cross or off"));
}

#[test]
fn detects_languages_majors_and_what_is_missing() {
    let host = tempfile::tempdir().unwrap();
    let err = CrossToolchain::detect(host.path()).unwrap_err().to_string();
    assert!(
        err.contains("apt-get install gcc-s390x-linux-gnu g++-s390x-linux-gnu"),
        "{err}"
    );
    fake_host(host.path(), 12);
    let tc = CrossToolchain::detect(host.path()).unwrap();
    assert_eq!(tc.default_major, Some(12));
    assert_eq!(tc.languages(12), [Language::C, Language::Cxx]);
    assert!(tc.languages(13).is_empty());
    assert!(
        !tc.tools.iter().any(|t| t.contains("pkg-config")),
        "{:?}",
        tc.tools
    );
    assert_eq!(
        tc.support_dirs,
        ["/usr/lib/gcc-cross", "/usr/s390x-linux-gnu"]
    );
    assert_eq!(tc.host_lib_dirs, [format!("/usr/lib/{}", host_multiarch())]);
    assert_eq!(tc.loader, default_loader(), "a fake gcc has no PT_INTERP");
    // No s390x C library: say which package brings it.
    std::fs::remove_file(host.path().join(format!("usr/{TRIPLET}/lib/libc.so.6"))).unwrap();
    let err = CrossToolchain::detect(host.path()).unwrap_err().to_string();
    assert!(err.contains("libc6-dev-s390x-cross"), "{err}");
}

#[test]
fn reads_the_loader_of_a_real_binary() {
    // Whatever runs this test is an ELF executable with an interpreter (or static).
    let exe = std::env::current_exe().unwrap();
    if let Some(interp) = elf_interpreter(&exe) {
        assert!(interp.starts_with('/') && interp.contains("ld"), "{interp}");
    }
    assert_eq!(elf_interpreter(Path::new("/nonexistent")), None);
}

#[test]
fn resolves_links_inside_the_rootfs_only() {
    let rootfs = tempfile::tempdir().unwrap();
    fake_rootfs(rootfs.path(), 12);
    let r = rootfs.path();
    assert_eq!(
        resolve_in(r, "/usr/bin/gcc").unwrap(),
        "/usr/bin/s390x-linux-gnu-gcc-12"
    );
    assert_eq!(
        resolve_in(r, "/usr/bin/cc").unwrap(),
        "/usr/bin/s390x-linux-gnu-gcc-12"
    );
    assert_eq!(resolve_in(r, "/lib/x").as_deref(), None);
    assert_eq!(resolve_in(r, "/lib").unwrap(), "/usr/lib");
    assert_eq!(rootfs_gcc_major(r), Some(12));
    assert_eq!(
        split_version("s390x-linux-gnu-gcc-12"),
        ("s390x-linux-gnu-gcc", Some(12))
    );
    assert_eq!(
        split_version("s390x-linux-gnu-ld.bfd"),
        ("s390x-linux-gnu-ld.bfd", None)
    );
}

#[test]
fn binds_libraries_support_folders_and_tools_over_the_rootfs_names() {
    let (host, rootfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fake_host(host.path(), 12);
    fake_rootfs(rootfs.path(), 12);
    let d = decide(
        AccelerateMode::Auto,
        host.path(),
        rootfs.path(),
        Execution::Emulated,
    )
    .unwrap();
    let acc = d.accelerator.expect(&d.note);
    assert!(d.note.contains("GCC 12, C, C++"), "{}", d.note);
    let binds = acc.sandbox(rootfs.path());
    let args = binds.args.join(" ");
    let h = |p: &str| {
        host.path()
            .join(p.trim_start_matches('/'))
            .display()
            .to_string()
    };
    // The loader folder the rootfs lacks, the host libraries, the compilers' folders.
    for dir in [
        "/lib64",
        &format!("/usr/lib/{}", host_multiarch()),
        "/usr/lib/gcc-cross",
        "/usr/s390x-linux-gnu",
    ] {
        assert!(
            args.contains(&format!("--ro-bind {} {dir}", h(dir))),
            "{dir}: {args}"
        );
        assert!(
            binds.mount_points.contains(&(dir.to_string(), false)),
            "{dir}"
        );
    }
    // Tools land on the real rootfs files; each real file is bound once.
    let gcc12 = format!("/usr/bin/{TRIPLET}-gcc-12");
    assert!(
        args.contains(&format!(
            "--ro-bind {} {gcc12}",
            host_tool(host.path(), &format!("{TRIPLET}-gcc-12"))
        )),
        "{args}"
    );
    assert_eq!(args.matches(&format!(" {gcc12}")).count(), 1, "{args}");
    assert!(args.contains(&format!(
        "--ro-bind {} /usr/bin/{TRIPLET}-ld",
        host_tool(host.path(), &format!("{TRIPLET}-ld"))
    )));
    // ar and as exist on the host only: they and their generic names go to the shim.
    let shim = format!("{GUEST_SHIM_DIR}/bin");
    assert!(
        args.contains(&format!("--tmpfs {GUEST_SHIM_DIR} --dir {shim}")),
        "{args}"
    );
    assert!(args.contains(&format!(
        "--ro-bind {} {shim}/{TRIPLET}-ar",
        host_tool(host.path(), &format!("{TRIPLET}-ar"))
    )));
    assert!(
        args.contains(&format!("--symlink {TRIPLET}-ar {shim}/ar")),
        "{args}"
    );
    assert!(
        !args.contains(&format!("{shim}/gcc")),
        "gcc exists in the rootfs: {args}"
    );
    assert_eq!(binds.path_prefix.as_deref(), Some(shim.as_str()));
    assert!(binds
        .mount_points
        .contains(&(GUEST_SHIM_DIR.to_string(), false)));
    // A driver in the shim (gfortran) finds f951 relative to itself.
    assert!(
        args.contains(&format!(
            "--ro-bind {} {GUEST_SHIM_DIR}/lib/gcc-cross",
            host.path().join("usr/lib/gcc-cross").display()
        )),
        "{args}"
    );
    // Nothing is taken from a pkg-config wrapper of the host.
    assert!(!args.contains("pkg-config"), "{args}");
}

#[test]
fn containers_get_one_relocated_tree_first_on_path() {
    let host = tempfile::tempdir().unwrap();
    fake_host(host.path(), 12);
    // The image's compiler is GCC 12 too (asked of the image by the caller).
    let mut acc = decide_for(
        AccelerateMode::Auto,
        host.path(),
        Some(12),
        Execution::Emulated,
    )
    .unwrap()
    .accelerator
    .unwrap();
    acc.uv = Some(host.path().join("uv"));
    let binds = acc.container_binds();
    let h = |p: &str| host.path().join(p.trim_start_matches('/'));
    let has = |host_path: PathBuf, guest: &str| {
        binds
            .volumes
            .contains(&(host_path.clone(), guest.to_string()))
    };
    let shim = format!("{GUEST_SHIM_DIR}/bin");
    // The loader and host libraries keep their paths; the compilers' folders move
    // next to the drivers, where GCC looks relative to its own bin folder.
    assert!(has(h(&acc.toolchain.loader), &acc.toolchain.loader));
    let libs = format!("/usr/lib/{}", host_multiarch());
    assert!(has(h(&libs), &libs));
    assert!(has(
        h("/usr/lib/gcc-cross"),
        &format!("{GUEST_SHIM_DIR}/lib/gcc-cross")
    ));
    assert!(has(
        h("/usr/s390x-linux-gnu"),
        &format!("{GUEST_SHIM_DIR}/s390x-linux-gnu")
    ));
    // Triplet names and generic names all run the host's GCC 12 drivers.
    let gcc12 = h(&format!("/usr/bin/{TRIPLET}-gcc-12"));
    for name in [format!("{TRIPLET}-gcc"), "gcc".into(), "cc".into()] {
        assert!(has(gcc12.clone(), &format!("{shim}/{name}")), "{name}");
    }
    let gxx12 = h(&format!("/usr/bin/{TRIPLET}-g++-12"));
    assert!(has(gxx12, &format!("{shim}/c++")));
    assert!(has(
        h(&format!("/usr/bin/{TRIPLET}-ar")),
        &format!("{shim}/ar")
    ));
    assert!(has(host.path().join("uv"), GUEST_UV));
    assert!(binds
        .volumes
        .iter()
        .all(|(_, g)| !g.starts_with("/usr/bin")));
    assert!(binds
        .env
        .iter()
        .any(|(k, v)| k == "PATH" && v.starts_with(&format!("{shim}:"))));
    // Without the compilers' folders (the fallback test), the drivers find no cc1.
    acc.break_compilers = true;
    assert!(acc
        .container_binds()
        .volumes
        .iter()
        .all(|(_, g)| !g.contains("gcc-cross")));
}

#[test]
fn broken_mode_leaves_out_the_compiler_folders() {
    let (host, rootfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fake_host(host.path(), 12);
    fake_rootfs(rootfs.path(), 12);
    let mut acc = decide(
        AccelerateMode::Auto,
        host.path(),
        rootfs.path(),
        Execution::Emulated,
    )
    .unwrap()
    .accelerator
    .unwrap();
    acc.break_compilers = true;
    let args = acc.sandbox(rootfs.path()).args.join(" ");
    assert!(!args.contains("gcc-cross"), "{args}");
    assert!(args.contains("/usr/s390x-linux-gnu"), "{args}");
}

#[test]
fn auto_accelerates_across_gcc_majors_only_where_zig_compiles_c_and_cxx() {
    let (host, rootfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fake_host(host.path(), 12);
    fake_rootfs(rootfs.path(), 14);
    let decide_zig = |mode, zig| {
        decide_with_zig(mode, host.path(), rootfs.path(), Execution::Emulated, zig).unwrap()
    };
    // Without Zig: as before, GCC 12 against the environment's 14 is off under auto.
    let plain = decide_zig(AccelerateMode::Auto, false);
    assert!(plain.accelerator.is_none(), "{}", plain.note);
    // With Zig compiling C and C++ for the target's glibc: on, with GCC 12, and said so.
    let zig = decide_zig(AccelerateMode::Auto, true);
    let acc = zig.accelerator.expect("accelerated");
    assert_eq!((acc.major, acc.rootfs_major), (12, Some(14)));
    assert!(
        zig.note
            .contains("compile with Zig for the target's glibc, so the host's cross compiler serves only the gcc-cross variant and Fortran"),
        "{}",
        zig.note
    );
    // `off` stays off, and a missing cross compiler stays off too.
    assert!(decide_zig(AccelerateMode::Off, true).accelerator.is_none());
    let bare = tempfile::tempdir().unwrap();
    let none = decide_with_zig(
        AccelerateMode::Auto,
        bare.path(),
        rootfs.path(),
        Execution::Emulated,
        true,
    )
    .unwrap();
    assert!(none.accelerator.is_none(), "{}", none.note);
    assert!(none.note.starts_with("acceleration off"), "{}", none.note);
}

#[test]
fn auto_needs_a_matching_gcc_major_and_cross_forces_it() {
    let (host, rootfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fake_host(host.path(), 13);
    fake_rootfs(rootfs.path(), 12);
    let auto = decide(
        AccelerateMode::Auto,
        host.path(),
        rootfs.path(),
        Execution::Emulated,
    )
    .unwrap();
    assert!(auto.accelerator.is_none());
    assert!(
        auto.note.contains("GCC 13") && auto.note.contains("GCC 12"),
        "{}",
        auto.note
    );
    assert!(
        auto.note
            .contains("apt-get install gcc-12-s390x-linux-gnu g++-12-s390x-linux-gnu"),
        "{}",
        auto.note
    );
    let forced = decide(
        AccelerateMode::Cross,
        host.path(),
        rootfs.path(),
        Execution::Emulated,
    )
    .unwrap();
    let acc = forced.accelerator.unwrap();
    assert_eq!(acc.major, 13);
    assert!(forced.note.contains("warning"), "{}", forced.note);
    // The host's GCC 13 lands on the rootfs's gcc-12 file, which its names lead to.
    let args = acc.sandbox(rootfs.path()).args.join(" ");
    assert!(
        args.contains(&format!(
            "{} /usr/bin/{TRIPLET}-gcc-12",
            host_tool(host.path(), &format!("{TRIPLET}-gcc-13"))
        )),
        "{args}"
    );
    // With a GCC 12 cross compiler installed next to 13, auto takes that one.
    fake_host(host.path(), 12);
    let acc = decide(
        AccelerateMode::Auto,
        host.path(),
        rootfs.path(),
        Execution::Emulated,
    )
    .unwrap()
    .accelerator
    .unwrap();
    assert_eq!(acc.major, 12);
    let args = acc.sandbox(rootfs.path()).args.join(" ");
    assert!(!args.contains("-13"), "{args}");
}

#[test]
fn off_native_and_missing_toolchains() {
    let (host, rootfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fake_rootfs(rootfs.path(), 12);
    let d = decide(
        AccelerateMode::Off,
        host.path(),
        rootfs.path(),
        Execution::Emulated,
    )
    .unwrap();
    assert!(d.accelerator.is_none() && d.note.contains("off"));
    let d = decide(
        AccelerateMode::Cross,
        host.path(),
        rootfs.path(),
        Execution::Native,
    )
    .unwrap();
    assert!(d.accelerator.is_none() && d.note.contains("s390x"));
    let d = decide(
        AccelerateMode::Auto,
        host.path(),
        rootfs.path(),
        Execution::Emulated,
    )
    .unwrap();
    assert!(
        d.accelerator.is_none() && d.note.contains("apt-get install gcc-s390x-linux-gnu"),
        "{}",
        d.note
    );
    let err = decide(
        AccelerateMode::Cross,
        host.path(),
        rootfs.path(),
        Execution::Emulated,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("--accelerate cross") && err.contains("apt-get install"),
        "{err}"
    );
}

#[test]
fn doctor_lists_languages_and_what_to_install() {
    let (host, rootfs) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fake_host(host.path(), 12);
    fake_rootfs(rootfs.path(), 12);
    let text = doctor_lines(host.path(), Some(rootfs.path())).join("\n");
    assert!(
        text.contains("C++      s390x-linux-gnu-g++ (GCC 12)"),
        "{text}"
    );
    assert!(
        text.contains("Fortran  missing: apt-get install gfortran-s390x-linux-gnu"),
        "{text}"
    );
    assert!(text.contains("--accelerate auto: on"), "{text}");
}

#[test]
fn uv_builds_with_the_pip_settings_or_says_why_not() {
    let env: Vec<(String, String)> = [
        ("HOME", "/build/home"),
        ("PIP_CACHE_DIR", "/pip-cache"),
        ("PIP_FIND_LINKS", "/wheels"),
        ("PIP_ONLY_BINARY", ":all:"),
        ("PIP_INDEX_URL", "https://u:secret@example/simple"),
        ("PIP_INDEX_URL", "https://example/other"),
        ("PIP_NO_INPUT", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let FrontendCommand { argv, env: uv_env } = uv_build(
        GUEST_UV,
        "python3",
        "/build/out",
        "/build/src/x-1.tar.gz",
        false,
        &env,
    )
    .unwrap();
    assert_eq!(
        argv.join(" "),
        format!(
            "{GUEST_UV} build --wheel --python python3 --out-dir /build/out /build/src/x-1.tar.gz"
        )
    );
    let get = |k: &str| {
        uv_env
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("UV_CACHE_DIR"), Some("/pip-cache/uv"));
    assert_eq!(get("UV_FIND_LINKS"), Some("/wheels"));
    assert_eq!(get("UV_NO_BUILD"), Some("1"));
    assert_eq!(
        get("UV_INDEX_URL"),
        Some("https://example/other"),
        "the last value wins"
    );
    assert_eq!(get("UV_PYTHON_DOWNLOADS"), Some("never"));
    // Credentials stay in the environment, never in argv.
    assert!(!argv.join(" ").contains("secret"));
    // pip's inverted PIP_NO_BUILD_ISOLATION=0 and the no-isolation variant.
    let mut no_iso = env.clone();
    no_iso.push(("PIP_NO_BUILD_ISOLATION".into(), "0".into()));
    assert!(uv_build("uv", "python3", "/o", "/s", false, &no_iso)
        .unwrap()
        .argv
        .contains(&"--no-build-isolation".to_string()));
    assert!(uv_build("uv", "python3", "/o", "/s", true, &env)
        .unwrap()
        .argv
        .contains(&"--no-build-isolation".to_string()));
    // A pip setting without a uv equivalent keeps pip.
    let mut odd = env.clone();
    odd.push(("PIP_CONSTRAINT".into(), "/c.txt".into()));
    assert!(uv_build("uv", "python3", "/o", "/s", false, &odd)
        .unwrap_err()
        .to_string()
        .contains("PIP_CONSTRAINT"));
    odd.pop();
    odd.push(("PIP_CONFIG_SETTINGS".into(), "setup-args".into()));
    assert!(uv_build("uv", "python3", "/o", "/s", false, &odd)
        .unwrap_err()
        .to_string()
        .contains("not KEY=VALUE"));
    odd.pop();
    odd.push(("PIP_FIND_LINKS".into(), "/a /b".into()));
    assert!(uv_build("uv", "python3", "/o", "/s", false, &odd)
        .unwrap_err()
        .to_string()
        .contains("several"));
}

#[test]
fn pip_config_settings_become_uv_config_settings_before_the_sdist() {
    // As pip reads PIP_CONFIG_SETTINGS: whitespace-separated KEY=VALUE items, a repeated
    // key kept (meson-python takes repeated setup-args as a list).
    let env = vec![(
        "PIP_CONFIG_SETTINGS".to_string(),
        "setup-args=-Dsystem-freetype=true  setup-args=-Dsystem-qhull=true".to_string(),
    )];
    let mut command = uv_build("uv", "python3", "/o", "/s.tar.gz", false, &env).unwrap();
    command.config_setting("setup-args=--cross-file=/c.ini");
    assert_eq!(
        command.argv[6..].join(" "),
        "/o --config-setting setup-args=-Dsystem-freetype=true \
         --config-setting setup-args=-Dsystem-qhull=true \
         --config-setting setup-args=--cross-file=/c.ini /s.tar.gz"
    );
    assert!(command
        .env
        .iter()
        .all(|(k, _)| !k.contains("CONFIG_SETTINGS")));
}

#[test]
fn toolchain_failures_are_told_apart_from_package_failures() {
    assert!(looks_toolchain_related(
        "gcc: fatal error: cannot execute 'cc1': execvp: No such file or directory"
    ));
    assert!(looks_toolchain_related(
        "ImportError: /lib/s390x-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.32' not found"
    ));
    assert!(looks_toolchain_related(
        "s390x-linux-gnu-gcc: error: unrecognized command-line option '-march=z17'"
    ));
    assert!(!looks_toolchain_related(
        "fatal error: ffi.h: No such file or directory"
    ));
    assert!(!looks_toolchain_related(
        "error: subprocess-exited-with-error"
    ));
}
