use std::io::Write;

use super::*;

/// A rootfs with Debian's layout: the sysconfig module (`VERSION` = `version`) under
/// `usr/lib/python{python}`, its symlinked second name, and the headers.
fn fake_rootfs(root: &Path, python: &str, version: &str) {
    let lib = root.join(format!("usr/lib/python{python}"));
    std::fs::create_dir_all(&lib).unwrap();
    let module = lib.join("_sysconfigdata__linux_s390x-linux-gnu.py");
    std::fs::write(
        &module,
        format!("build_time_vars = {{'CC': 's390x-linux-gnu-gcc', 'VERSION': '{version}'}}\n"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&module, lib.join("_sysconfigdata__s390x-linux-gnu.py")).unwrap();
    std::fs::write(lib.join("_sysconfigdata__x86_64-linux-gnu.py"), "x = 1\n").unwrap();
    let include = root.join(format!("usr/include/python{python}"));
    std::fs::create_dir_all(&include).unwrap();
    std::fs::write(include.join("Python.h"), "/* s390x */\n").unwrap();
}

fn host(version: &str) -> HostPython {
    HostPython {
        executable: PathBuf::from(format!("/opt/py/bin/python{version}")),
        prefix: PathBuf::from("/opt/py"),
        version: version.into(),
    }
}

#[test]
fn modes_parse_and_print_and_bad_ones_say_what_to_use() {
    for mode in ["auto", "native", "emulated"] {
        assert_eq!(mode.parse::<FrontendMode>().unwrap().to_string(), mode);
    }
    let err = "crossenv".parse::<FrontendMode>().unwrap_err();
    assert!(
        err.contains("\"crossenv\"") && err.contains("auto, native or emulated"),
        "{err}"
    );
    assert_eq!(FrontendMode::default(), FrontendMode::Auto);
}

#[test]
fn finds_the_s390x_sysconfig_module_and_its_version() {
    let root = tempfile::tempdir().unwrap();
    fake_rootfs(root.path(), "3.11", "3.11");
    let sysconfig = target_sysconfig(root.path(), "3.11").unwrap();
    assert_eq!(sysconfig.module, "_sysconfigdata__linux_s390x-linux-gnu");
    assert_eq!(sysconfig.version, "3.11");
    assert_eq!(
        sysconfig.include,
        root.path().join("usr/include/python3.11")
    );
    // Another Python, or no headers: refused with what is missing.
    let err = target_sysconfig(root.path(), "3.13")
        .unwrap_err()
        .to_string();
    assert!(err.contains("Python 3.13"), "{err}");
    std::fs::remove_file(root.path().join("usr/include/python3.11/Python.h")).unwrap();
    let err = target_sysconfig(root.path(), "3.11")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("Python.h") && err.contains("python3-dev"),
        "{err}"
    );
}

#[test]
fn a_sysconfig_of_another_python_is_refused_with_both_versions_named() {
    let root = tempfile::tempdir().unwrap();
    // The environment's python3.11 folder carries a 3.12 sysconfig (a broken rootfs).
    fake_rootfs(root.path(), "3.11", "3.12");
    let sysconfig = target_sysconfig(root.path(), "3.11").unwrap();
    let err = check_versions(&sysconfig, &host("3.11"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is for Python 3.12") && err.contains("is Python 3.11"),
        "{err}"
    );
    assert!(err.contains(HOST_PYTHON_ENV), "{err}");
    let matching = target_sysconfig(root.path(), "3.11").map(|mut s| {
        s.version = "3.11".into();
        s
    });
    assert!(check_versions(&matching.unwrap(), &host("3.11")).is_ok());
}

#[test]
fn the_cross_folder_selects_the_target_sysconfig_for_the_hooks_only() {
    let root = tempfile::tempdir().unwrap();
    fake_rootfs(root.path(), "3.11", "3.11");
    let frontend = NativeFrontend {
        host: host("3.11"),
        sysconfig: target_sysconfig(root.path(), "3.11").unwrap(),
    };
    let dir = tempfile::tempdir().unwrap();
    frontend.write_cross_dir(dir.path()).unwrap();
    let site = std::fs::read_to_string(dir.path().join("sitecustomize.py")).unwrap();
    assert!(
        site.contains(
            "os.environ['_PYTHON_SYSCONFIGDATA_NAME'] = \"_sysconfigdata__linux_s390x-linux-gnu\""
        ) && site.contains("os.environ['_PYTHON_HOST_PLATFORM'] = \"linux-s390x\""),
        "{site}"
    );
    assert!(dir
        .path()
        .join("_sysconfigdata__linux_s390x-linux-gnu.py")
        .is_file());
    // Only PYTHONPATH: uv's own interpreter query must not see the sysconfig variables.
    let env = frontend.env("/build/cross");
    assert_eq!(
        env,
        [("PYTHONPATH".to_string(), "/build/cross".to_string())]
    );
    // The host prefix at its own path, the environment's headers over its own.
    let mounts = frontend.mounts();
    assert_eq!(mounts[0], Mount::ro("/opt/py", "/opt/py"));
    assert_eq!(
        mounts[1],
        Mount::ro(
            root.path().join("usr/include/python3.11"),
            "/opt/py/include/python3.11"
        )
    );
}

#[test]
fn candidates_come_from_the_override_pyenv_newest_first_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let versions = dir.path().join("pyenv/versions");
    for v in ["3.11.2", "3.11.10", "3.12.1", "3.11.7-debug"] {
        let bin = versions.join(v).join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join(format!("python{}", &v[..4])), "").unwrap();
    }
    let path_bin = dir.path().join("bin");
    std::fs::create_dir_all(&path_bin).unwrap();
    std::fs::write(path_bin.join("python3.11"), "").unwrap();
    let chosen = dir.path().join("chosen");
    std::fs::write(&chosen, "").unwrap();
    let pyenv = Some(dir.path().join("pyenv"));
    let path = Some(std::env::join_paths([&path_bin, &dir.path().join("none")]).unwrap());
    let found = candidates_in(
        "3.11",
        Some(chosen.clone().into()),
        pyenv.clone(),
        path.clone(),
    );
    assert_eq!(
        found,
        [
            chosen,
            versions.join("3.11.10/bin/python3.11"),
            versions.join("3.11.2/bin/python3.11"),
            path_bin.join("python3.11"),
        ]
    );
    // Empty files do not run: the error names what was tried and how to get one.
    let found = candidates_in("3.11", None, pyenv, path);
    let err = first_matching("3.11", &found).unwrap_err().to_string();
    assert!(
        err.contains("no host CPython 3.11") && err.contains("pyenv install 3.11"),
        "{err}"
    );
    assert!(err.contains("3.11.10/bin/python3.11"), "{err}");
    let err = first_matching("3.14", &[]).unwrap_err().to_string();
    assert!(
        err.starts_with("no host CPython 3.14 for the native build frontend.\nhint:"),
        "{err}"
    );
}

#[test]
fn a_real_host_python_answers_with_its_version_and_prefix() {
    // The interpreter running the tooling of this machine, when there is one.
    let Some(python) = candidates_in("3", None, None, std::env::var_os("PATH"))
        .into_iter()
        .next()
    else {
        return;
    };
    let host = query_host_python(&python).unwrap();
    assert!(host.version.starts_with("3."), "{host:?}");
    assert!(
        host.executable.is_absolute() && host.prefix.is_dir(),
        "{host:?}"
    );
}

fn wheel_with(dir: &Path, name: &str, members: &[(&str, Vec<u8>)]) -> PathBuf {
    let path = dir.join(name);
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    for (member, bytes) in members {
        zip.start_file(*member, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
    path
}

/// An ELF header: `big_endian`, `machine`.
fn elf(big_endian: bool, machine: u16) -> Vec<u8> {
    let mut header = vec![0u8; 64];
    header[..4].copy_from_slice(b"\x7fELF");
    header[4] = 2;
    header[5] = if big_endian { 2 } else { 1 };
    let bytes = if big_endian {
        machine.to_be_bytes()
    } else {
        machine.to_le_bytes()
    };
    header[18..20].copy_from_slice(&bytes);
    header
}

#[test]
fn only_s390x_wheels_for_the_target_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::new("3.11", "manylinux2014_s390x").unwrap();
    let s390x = ("m/_s.cpython-311-s390x-linux-gnu.so", elf(true, 22));
    let good = wheel_with(
        dir.path(),
        "m-1-cp311-cp311-linux_s390x.whl",
        std::slice::from_ref(&s390x),
    );
    check_wheel(&good, &target).unwrap();
    // An x86_64 file in it: the build compiled (or copied) something for the host.
    let host_file = wheel_with(
        dir.path(),
        "h-1-cp311-cp311-linux_s390x.whl",
        &[s390x.clone(), ("h/helper.bin", elf(false, 62))],
    );
    let err = check_wheel(&host_file, &target).unwrap_err().to_string();
    assert!(
        err.contains(
            "h/helper.bin is not a big-endian s390x binary (ELF machine 62, little-endian)"
        ),
        "{err}"
    );
    // The host's platform or another interpreter in the tags.
    let platform = wheel_with(
        dir.path(),
        "p-1-cp311-cp311-linux_x86_64.whl",
        std::slice::from_ref(&s390x),
    );
    assert!(check_wheel(&platform, &target)
        .unwrap_err()
        .to_string()
        .contains("linux_x86_64, not linux_s390x"));
    let python = wheel_with(
        dir.path(),
        "q-1-cp312-cp312-linux_s390x.whl",
        std::slice::from_ref(&s390x),
    );
    assert!(check_wheel(&python, &target)
        .unwrap_err()
        .to_string()
        .contains("not the target's cp311"));
    // abi3 wheels name their minimum Python; pure wheels carry no ELF file.
    let abi3 = wheel_with(
        dir.path(),
        "r-1-cp38-abi3-linux_s390x.whl",
        std::slice::from_ref(&s390x),
    );
    check_wheel(&abi3, &target).unwrap();
    let pure = wheel_with(
        dir.path(),
        "s-1-py3-none-any.whl",
        &[("s.py", b"x".to_vec())],
    );
    check_wheel(&pure, &target).unwrap();
    let pure_elf = wheel_with(dir.path(), "t-1-py3-none-any.whl", &[s390x]);
    assert!(check_wheel(&pure_elf, &target)
        .unwrap_err()
        .to_string()
        .contains("tagged pure but carries ELF files"));
}

#[test]
fn the_choice_follows_the_mode_the_memory_and_what_is_available() {
    let root = tempfile::tempdir().unwrap();
    fake_rootfs(root.path(), "3.11", "3.11");
    let frontend = NativeFrontend {
        host: host("3.11"),
        sysconfig: target_sysconfig(root.path(), "3.11").unwrap(),
    };
    let ready = Ok(frontend.clone());
    // auto: native with fallback, unless the package failed that way before.
    assert_eq!(
        choose(FrontendMode::Auto, Some(&ready), true, None),
        FrontendChoice::Native {
            frontend: frontend.clone(),
            fallback: true
        }
    );
    let remembered = choose(
        FrontendMode::Auto,
        Some(&ready),
        true,
        Some("x.so is not a big-endian s390x binary".into()),
    );
    assert!(
        matches!(&remembered, FrontendChoice::Emulated { why } if why.contains("failed for this package before (x.so")),
        "{remembered:?}"
    );
    // native: no fallback, memory ignored; where it cannot run the attempt is refused.
    assert_eq!(
        choose(FrontendMode::Native, Some(&ready), true, Some("old".into()),),
        FrontendChoice::Native {
            frontend: frontend.clone(),
            fallback: false
        }
    );
    let missing: Result<NativeFrontend, NativeFrontendError> =
        Err(NativeFrontendError::NoHostPython {
            version: "3.14".into(),
            tried: Vec::new(),
        });
    assert!(matches!(
        choose(FrontendMode::Native, Some(&missing), true, None),
        FrontendChoice::Refused { why } if why.contains("--build-frontend native: no host CPython 3.14")
    ));
    // auto without a host Python or without accelerated builds: emulated, saying why.
    assert!(matches!(
        choose(FrontendMode::Auto, Some(&missing), true, None),
        FrontendChoice::Emulated { why } if why.starts_with("no host CPython 3.14")
    ));
    assert!(matches!(
        choose(FrontendMode::Auto, Some(&ready), false, None),
        FrontendChoice::Emulated { why } if why.contains("accelerated builds")
    ));
    assert!(matches!(
        choose(FrontendMode::Emulated, Some(&ready), true, None),
        FrontendChoice::Emulated { why } if why == "--build-frontend emulated"
    ));
}

#[test]
fn meson_python_sdists_are_recognised_by_their_top_build_backend() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, pyproject: &str| {
        let path = dir.path().join(format!("{name}-1.0.tar.gz"));
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        ));
        for (member, text) in [
            (format!("{name}-1.0/pyproject.toml"), pyproject),
            // A nested project's backend does not count.
            (
                format!("{name}-1.0/vendored/pyproject.toml"),
                "[build-system]\nbuild-backend = \"mesonpy\"\n",
            ),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, member, text.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap();
        path
    };
    let meson = write(
        "npish",
        "[build-system]\nrequires = [\"meson-python\"]\nbuild-backend = \"mesonpy\"\n",
    );
    assert!(is_meson_python(&meson));
    let setuptools = write(
        "plain",
        "[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n",
    );
    assert!(!is_meson_python(&setuptools));
    assert!(!is_meson_python(&dir.path().join("missing-1.0.tar.gz")));
}

#[test]
fn past_native_failures_are_read_from_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(&dir.path().join("h.db")).unwrap();
    assert_eq!(remembered_failure(&history, "archpkg"), None);
    history
        .record_event(
            &refinery_store::Event::new(
                refinery_store::EventKind::NativeFrontendFailed,
                "helper.bin is not s390x",
            )
            .with_package("ArchPkg", "1.0"),
        )
        .unwrap();
    assert_eq!(
        remembered_failure(&history, "archpkg").as_deref(),
        Some("helper.bin is not s390x")
    );
    assert_eq!(remembered_failure(&history, "other"), None);
}

#[test]
fn the_meson_cross_file_names_a_big_endian_s390x_host_and_the_sandbox_compilers() {
    // The Zig toolchain sets CC/CXX; a later value of a variable wins, as in the step.
    let env = vec![
        ("CC".to_string(), "cc".to_string()),
        (
            "CC".to_string(),
            "/opt/zig/bin/s390x-linux-gnu-gcc".to_string(),
        ),
        (
            "CXX".to_string(),
            "ccache /opt/zig/bin/s390x-linux-gnu-g++".to_string(),
        ),
        ("AR".to_string(), String::new()),
    ];
    let numpy = "/build/cross/target-numpy/numpy/_core/include".to_string();
    let text = meson::cross_file(
        &env,
        &[("numpy-include-dir", numpy)],
        Some("/build/cross/meson-python-interpreter"),
    );
    for line in [
        "c = ['/opt/zig/bin/s390x-linux-gnu-gcc']",
        "cpp = ['ccache', '/opt/zig/bin/s390x-linux-gnu-g++']",
        // An empty variable is not a program: the default name.
        "ar = ['ar']",
        "fortran = ['gfortran']",
        "pkg-config = ['pkg-config']",
        "cython = ['cython']",
        "cpu_family = 's390x'",
        "endian = 'big'",
        "needs_exe_wrapper = false",
        "longdouble_format = 'IEEE_QUAD_BE'",
        "numpy-include-dir = '/build/cross/target-numpy/numpy/_core/include'",
        "python = ['/build/cross/meson-python-interpreter']",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
    }
    // Quotes and backslashes survive meson's string syntax.
    let quoted = meson::cross_file(&[("CC".into(), r#""/a b/it's\\cc""#.into())], &[], None);
    assert!(quoted.contains(r"c = ['/a b/it\'s\\cc']"), "{quoted}");
    assert_eq!(
        meson::setup_args("/build/cross/meson-cross.ini"),
        "setup-args=--cross-file=/build/cross/meson-cross.ini"
    );
}

#[test]
fn a_config_setting_goes_before_the_sdist() {
    let mut command =
        crate::accelerate::uv_build("uv", "python3", "/out", "/src/x-1.tar.gz", false, &[])
            .unwrap();
    command.config_setting("setup-args=--cross-file=/c.ini");
    let tail: Vec<&str> = command
        .argv
        .iter()
        .rev()
        .take(3)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "--config-setting",
            "setup-args=--cross-file=/c.ini",
            "/src/x-1.tar.gz"
        ]
    );
}

#[test]
fn a_host_python_tree_counts_only_once_its_marker_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let tree = host_tree::tree_dir(dir.path(), "forky", "3.14");
    assert_eq!(
        tree.file_name().unwrap().to_string_lossy(),
        "host-python-amd64-forky-3.14"
    );
    std::fs::create_dir_all(tree.join("usr/bin")).unwrap();
    std::fs::write(tree.join("usr/bin/python3.14"), b"").unwrap();
    // A half-made tree (a killed run's) is not used.
    assert_eq!(host_tree::finished_interpreter(&tree, "3.14"), None);
    std::fs::write(tree.join("refinery-host-python.json"), b"{}").unwrap();
    assert_eq!(
        host_tree::finished_interpreter(&tree, "3.14"),
        Some(tree.join("usr/bin/python3.14"))
    );
}
