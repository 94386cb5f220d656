//! Every catalog entry fed a real log line (see the `# log:` comments in
//! hints/catalog.toml for where each was seen), and a near miss it must not match.

use super::*;

/// The ids of the hints `catalog` suggests for `line`.
fn ids<'a>(catalog: &'a Catalog, line: &str) -> Vec<&'a str> {
    catalog
        .matches(line)
        .iter()
        .map(|h| h.id.as_str())
        .collect()
}

/// (log line as printed by a real build, the hint id it must suggest)
const REAL_LINES: &[(&str, &str)] = &[
    ("third_party/boringssl-with-bazel/src/include/openssl/base.h:122:2: error: #error \"Unknown target CPU\"", "grpcio-boringssl-s390x"),
    ("third_party/boringssl/include/openssl/base.h:106:2: error: #error \"Unknown target CPU\"", "grpcio-boringssl-s390x"),
    ("ModuleNotFoundError: No module named 'setuptools.command.test'", "setuptools-command-test"),
    ("ModuleNotFoundError: No module named 'setuptools.dep_util'", "setuptools-dep-util"),
    ("AttributeError: module 'distutils' has no attribute 'dep_util'. Did you mean: 'dir_util'?", "distutils-dep-util"),
    ("ModuleNotFoundError: No module named 'pkg_resources'", "setuptools-pkg-resources"),
    ("error in PyVCF setup command: use_2to3 is invalid.", "setuptools-use-2to3"),
    ("src/lxml/parser.pxi:938:35: Cannot assign type 'void (void *) except * nogil' to 'startDocumentSAXFunc'", "cython3-noexcept"),
    ("src/cysignals/tests.pyx:1263:37: Cannot assign type 'void *(void *) except? NULL nogil' to 'void *(*)(void *) noexcept nogil'. Exception values are incompatible. Suggest adding 'noexcept' to the type of 'func_thread_sig_block'.", "cython3-noexcept"),
    ("AttributeError: cython_sources", "cython3-cython-sources"),
    ("src/qoi/qoi.c:18849:39: error: ‘PyArray_Descr’ {aka ‘struct _PyArray_Descr’} has no member named ‘subarray’", "numpy2-descr-abi"),
    ("../dbfield.c:101:13: error: 'PyArray_Descr' {aka 'struct _PyArray_Descr'} has no member named 'elsize'", "numpy2-descr-abi"),
    ("ModuleNotFoundError: No module named 'numpy.distutils'", "numpy-distutils-removed"),
    ("feature `edition2024` is required", "rust-edition-too-new"),
    ("this version of Cargo is older than the `2021` edition, and only supports `2015` and `2018` editions.", "rust-edition-too-new"),
    ("error: package `bitstream-io v2.5.3` cannot be built because it requires rustc 1.79 or newer, while the currently active rustc version is 1.76.0", "rust-msrv"),
    ("error: rustc 1.81.0 is not supported by the following packages:", "rust-msrv"),
    ("lock file version `4` was found, but this version of Cargo does not understand this lock file, perhaps Cargo needs to be updated?", "cargo-lockfile-v4"),
    ("lock file version 4 requires `-Znext-lockfile-bump`", "cargo-lockfile-v4"),
    ("  download of config.json failed", "crate-registry-unreachable"),
    ("error: library dfftpack has Fortran sources but no Fortran compiler found", "fortran-numpy-distutils"),
    ("No CMAKE_Fortran_COMPILER could be found.", "fortran-cmake"),
    ("refinery: no libgfortran for glibc 2.17 on LIBRARY_PATH: linking Fortran code needs the libgfortran pack", "libgfortran"),
    ("CMake Error: CMAKE_Fortran_COMPILER not set, after EnableLanguage", "fortran-cmake"),
    ("Exception: Can not find valid pkg-config name.", "mysqlclient-pkg-config"),
    ("/bin/sh: 1: krb5-config: not found", "krb5-gssapi"),
    ("subprocess.CalledProcessError: Command 'krb5-config --libs gssapi' returned non-zero exit status 127", "krb5-gssapi"),
    ("__main__.ConfigurationError: Could not run curl-config: [Errno 2] No such file or directory: 'curl-config'", "libcurl-pycurl"),
    ("unable to execute 'swig': No such file or directory", "swig"),
    ("error: command 'swig.exe' failed: No such file or directory", "swig"),
    ("src/pyodbc.h:56:10: fatal error: sql.h: No such file or directory", "unixodbc"),
    ("Modules/common.h:15:10: fatal error: lber.h: No such file or directory", "openldap"),
    ("snappymodule.cc:31:22: error: snappy-c.h: No such file or directory", "snappy"),
    ("src/pyaudio/device_api.c:9:10: fatal error: portaudio.h: No such file or directory", "portaudio"),
    ("ERROR: Dependency \"cairo\" not found, tried pkgconfig and cmake", "cairo"),
    ("Package cairo was not found in the pkg-config search path.", "cairo"),
    ("error: xmlsec1 is not installed or not in path.", "xmlsec1"),
    ("Could not find xmlsec1 config. Are libxmlsec1-dev and pkg-config installed?", "xmlsec1"),
    ("configure: error: cannot run test program while cross compiling", "cross-run-target-binary"),
    ("./conftest: cannot execute binary file: Exec format error", "cross-run-target-binary"),
    ("Error: Please make sure the libxml2 and libxslt development packages are installed.", "libxslt"),
    ("ERROR: /bin/sh: 1: xslt-config: not found", "libxslt"),
    ("** make sure the development packages of libxml2 and libxslt are installed **", "libxslt"),
    ("WARNING: The C extension could not be compiled, speedups are not enabled.", "pure-python-fallback"),
    ("Error compiling module, falling back to pure Python", "pure-python-fallback"),
    ("Error: pg_config executable not found.", "libpq"),
    ("./psycopg/psycopg.h:36:10: fatal error: libpq-fe.h: No such file or directory", "libpq"),
    ("[refinery] the wheel has no compiled extension although the sdist is compiled (setup.py declares extension modules and it ships src/charset_normalizer/cd.pyx and 1 more sources)", "charset-normalizer-cython"),
    ("Plain-Python build succeeded.", "pure-python-fallback"),
    ("third_party/boringssl-with-bazel/include/openssl/target.h:76:2: error: \"Unknown target CPU\"", "grpcio-boringssl-s390x"),
    ("WARNING: failed to download with error: could not get https://download.savannah.nongnu.org/releases/freetype/freetype-old/freetype-2.6.1.tar.gz; is the internet available?. Trying after a delay...", "matplotlib-system-libraries"),
    ("[refinery] the wheel has no compiled extension although the sdist is compiled (setup.py declares extension modules and it ships src/_x.c)", "pure-python-fallback"),
    ("g++: fatal error: Killed signal terminated program cc1plus", "out-of-memory"),
    ("c++: fatal error: Killed signal terminated program cc1plus", "out-of-memory"),
    ("s390x-linux-gnu-gcc: fatal error: Killed signal terminated program cc1", "out-of-memory"),
    ("gcc: internal compiler error: Killed (program cc1plus)", "out-of-memory"),
    ("collect2: fatal error: ld terminated with signal 9 [Killed]", "out-of-memory"),
    ("  process didn't exit successfully: `rustc --crate-name http /root/.cargo/registry/src/github.com-1ecc6299db9ec823/http-0.1.18/src/lib.rs --crate-type lib` (signal: 9, SIGKILL: kill)", "out-of-memory"),
    ("[refinery] the build step was killed by SIGKILL (signal: 9 (SIGKILL)), most likely by the out-of-memory killer", "out-of-memory"),
    ("[refinery] the kernel's out-of-memory killer ended 2 processes while the build step ran (oom_kill in /proc/vmstat: 5 → 7)", "out-of-memory"),
];

/// (near miss, the hint id it must not suggest)
const NEAR_MISSES: &[(&str, &str)] = &[
    ("src/core/lib/gpr/arch.h:40:2: error: #error \"Unknown target CPU\"", "grpcio-boringssl-s390x"),
    ("ModuleNotFoundError: No module named 'setuptools.command.build'", "setuptools-command-test"),
    ("ModuleNotFoundError: No module named 'setuptools.modified'", "setuptools-dep-util"),
    ("AttributeError: module 'distutils' has no attribute 'msvccompiler'", "distutils-dep-util"),
    ("ImportError: cannot import name 'packaging' from 'pkg_resources.extern'", "setuptools-pkg-resources"),
    ("error in foo setup command: 'install_requires' must be a string or list of strings containing valid project/version requirement specifiers", "setuptools-use-2to3"),
    ("src/foo.pyx:12:8: Cannot assign type 'double' to 'int *'", "cython3-noexcept"),
    ("AttributeError: 'Extension' object has no attribute 'cython_directives'", "cython3-cython-sources"),
    ("error: ‘PyArrayObject’ {aka ‘struct tagPyArrayObject’} has no member named ‘data’", "numpy2-descr-abi"),
    ("ModuleNotFoundError: No module named 'numpy'", "numpy-distutils-removed"),
    ("error: failed to parse manifest at `/tmp/loquaz/Cargo.toml`", "rust-edition-too-new"),
    ("rustc 1.79.0 (129f3b996 2024-06-10)", "rust-msrv"),
    ("error: failed to parse lock file at: /app/Cargo.lock", "cargo-lockfile-v4"),
    ("  Downloaded pyo3 v0.26.0", "crate-registry-unreachable"),
    ("building 'dfftpack' library", "fortran-numpy-distutils"),
    ("CMake Error: CMAKE_CXX_COMPILER not set, after EnableLanguage", "fortran-cmake"),
    ("Trying pkg-config --exists mysqlclient", "mysqlclient-pkg-config"),
    ("checking for krb5-config... /usr/bin/krb5-config", "krb5-gssapi"),
    ("Using curl-config (libcurl 7.88.1)", "libcurl-pycurl"),
    ("error: command 'swig' failed with exit status 1", "swig"),
    ("fatal error: mysql.h: No such file or directory", "unixodbc"),
    ("fatal error C1083: Cannot open include file: 'lber.h': No such file or directory", "openldap"),
    ("snappymodule.cc:77: error: 'snappy_status' was not declared in this scope", "snappy"),
    ("include/md_portmidi.h:25:22: fatal error: portmidi.h: No such file or directory", "portaudio"),
    ("Run-time dependency cairo found: YES 1.16.0", "cairo"),
    ("xmlsec1 1.2.37 (openssl)", "xmlsec1"),
    ("checking whether we are cross compiling... yes", "cross-run-target-binary"),
    ("checking for libxslt... yes", "libxslt"),
    ("building 'markupsafe._speedups' extension", "pure-python-fallback"),
    ("Package libpq was found in the pkg-config search path.", "libpq"),
    ("[refinery] the wheel has no compiled extension although the sdist is compiled (setup.py declares extension modules and it ships src/markupsafe/_speedups.c)", "charset-normalizer-cython"),
    ("gcc: fatal error: cannot execute 'cc1plus': execvp: No such file or directory", "out-of-memory"),
    ("collect2: error: ld returned 1 exit status", "out-of-memory"),
    ("  process didn't exit successfully: `rustc --crate-name foo src/lib.rs` (signal: 11, SIGSEGV: invalid memory reference)", "out-of-memory"),
    ("[refinery] killed after 3600s (attempt timeout)", "out-of-memory"),
];

#[test]
fn builtin_catalog_matches_real_log_lines() {
    let catalog = Catalog::builtin();
    let cases = [
        ("c/_cffi_backend.c:15:10: fatal error: ffi.h: No such file or directory", "libffi"),
        ("ext/_yaml.h:2:10: fatal error: yaml.h: No such file or directory", "libyaml"),
        ("src/x.c:1:10: fatal error: openssl/ssl.h: No such file or directory", "openssl"),
        ("error: can't find Rust compiler", "rust"),
        ("Error: pg_config executable not found.", "libpq"),
        ("gcc: fatal error: cannot execute 'cc1plus': error trying to exec 'cc1plus': execvp: No such file", "cxx"),
        ("numpy/meson.build: ERROR: Unknown compiler(s): [['gfortran']]", "fortran"),
        ("#error Unsupported endianness", "big-endian"),
        ("fatal error: libxml/xmlversion.h: No such file or directory", "libxml2"),
        ("src/raqm.c:42:10: fatal error: hb.h: No such file or directory", "harfbuzz"),
        ("src/raqm.c:34:10: fatal error: SheenBidi/SheenBidi.h: No such file or directory", "sheenbidi"),
        ("/src/arrow/util/simd.h:23:10: fatal error: xsimd/xsimd.hpp: No such file or directory", "xsimd"),
        ("  Could not find a package configuration file provided by \"xsimd\" with any of", "xsimd"),
        ("src/arrow/json/rapidjson_defs.h:37:10: fatal error: rapidjson/document.h: No such file or directory", "rapidjson"),
        ("  Could NOT find RapidJSONAlt (missing: RAPIDJSON_INCLUDE_DIR) (Required is at", "rapidjson"),
    ];
    for (line, id) in cases {
        let found = ids(&catalog, line);
        assert!(
            found.contains(&id),
            "{line:?} should suggest {id}, got {found:?}"
        );
    }
    assert!(catalog.matches("Successfully built six").is_empty());
}

#[test]
fn summary_names_both_families() {
    let catalog = Catalog::builtin();
    let hint = catalog.hints().find(|h| h.id == "libffi").unwrap();
    assert_eq!(
        hint.summary(),
        "libffi: the libffi development headers are missing (dnf: libffi-devel | apt: libffi-dev)"
    );
    assert_eq!(hint.packages(PackageFamily::Apt), ["libffi-dev"]);
}

#[test]
fn a_broken_pattern_names_the_entry() {
    let err = Catalog::parse(
        "[[hint]]\nid = \"bad\"\npattern = \"(unclosed\"\nmessage = \"m\"\n",
        "my.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("my.toml") && err.contains("\"bad\""), "{err}");
    let err = Catalog::parse(
        "[[hint]]\nid = \"x\"\npatern = \"a\"\nmessage = \"m\"\n",
        "my.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("my.toml"), "{err}");
}

#[test]
fn extending_replaces_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("extra.toml");
    std::fs::write(
        &path,
        "[[hint]]\nid = \"libffi\"\npattern = \"custom-ffi\"\nmessage = \"m\"\napt = [\"x\"]\n",
    )
    .unwrap();
    let mut catalog = Catalog::builtin();
    let before = catalog.hints().count();
    catalog.extend_from_file(&path).unwrap();
    assert_eq!(catalog.hints().count(), before);
    assert_eq!(catalog.matches("custom-ffi")[0].apt, ["x"]);
    assert!(catalog
        .matches("ffi.h: No such file or directory")
        .is_empty());
}

#[test]
fn every_grounded_entry_matches_its_real_log_line_and_not_its_near_miss() {
    let catalog = Catalog::builtin();
    for (line, id) in REAL_LINES {
        let found = ids(&catalog, line);
        assert!(
            found.contains(id),
            "{line:?} should suggest {id}, got {found:?}"
        );
    }
    for (line, id) in NEAR_MISSES {
        let found = ids(&catalog, line);
        assert!(!found.contains(id), "{line:?} must not suggest {id}");
    }
}

#[test]
fn missing_xml_and_zlib_headers_select_packs_only_for_an_older_target() {
    let catalog = Catalog::builtin();
    let actions = |line: &str, prefer_packs: bool| -> Vec<String> {
        catalog
            .matches(line)
            .iter()
            .flat_map(|h| h.actions(Some(PackageFamily::Apt), prefer_packs))
            .map(|a| a.to_string())
            .collect()
    };
    let lxml =
        "Error: Please make sure the libxml2 and libxslt development packages are installed.";
    assert_eq!(actions(lxml, true), ["pack libxslt"]);
    assert_eq!(
        actions(lxml, false),
        ["system packages libxml2-dev libxslt1-dev"]
    );
    assert_eq!(
        actions(
            "fatal error: libxml/xmlversion.h: No such file or directory",
            true
        ),
        ["pack libxml2"]
    );
    assert_eq!(
        actions(
            "src/x.c:1:10: fatal error: zlib.h: No such file or directory",
            true
        ),
        ["pack zlib"]
    );
}

#[test]
fn each_action_kind_comes_from_a_real_line() {
    let catalog = Catalog::builtin();
    let actions = |line: &str| -> Vec<String> {
        catalog
            .matches(line)
            .iter()
            .flat_map(|h| h.actions(Some(PackageFamily::Apt), false))
            .map(|a| a.to_string())
            .collect()
    };
    // A vendored TLS library without s390x: an environment variable plus headers.
    let grpc = actions(
        r#"third_party/boringssl-with-bazel/src/include/openssl/base.h:122:2: error: #error "Unknown target CPU""#,
    );
    assert!(
        grpc.contains(&"env GRPC_PYTHON_BUILD_SYSTEM_OPENSSL=1".to_string()),
        "{grpc:?}"
    );
    assert!(
        grpc.contains(&"system packages libssl-dev".to_string()),
        "{grpc:?}"
    );
    // A build dependency whose new major release broke an old setup.py.
    assert_eq!(
        actions("ModuleNotFoundError: No module named 'setuptools.command.test'"),
        ["build constraint setuptools<72"]
    );
    // A Rust toolchain that is too old: a newer toolchain, never the same packages again.
    let rust = actions("error: failed to parse manifest: feature `edition2024` is required");
    assert_eq!(rust, ["toolchain rust-newest"]);
    // A program built for s390x that the build runs: the emulated variant.
    assert_eq!(
        actions("configure: error: cannot run test program while cross compiling"),
        ["variant emulated"]
    );
    // A missing Fortran compiler: the compiler's package.
    assert!(
        actions("error: library dfftpack has Fortran sources but no Fortran compiler found")
            .contains(&"system packages gfortran".to_string())
    );
}

#[test]
fn entries_that_could_run_code_or_name_nothing_real_are_refused() {
    for (entry, what) in [
        (r#"env = { LD_PRELOAD = "/x.so" }"#, "LD_PRELOAD"),
        (r#"env = { PATH = "/evil" }"#, "PATH"),
        (
            r#"build_constraints = ["setuptools<<72"]"#,
            "setuptools<<72",
        ),
        (r#"toolchain = "rust-ancient""#, "rust-ancient"),
        (r#"variant = "../../x""#, "../../x"),
        (r#"apt = ["curl; rm -rf /"]"#, "curl; rm -rf /"),
    ] {
        let text = format!("[[hint]]\nid = \"bad\"\npattern = \"x\"\nmessage = \"m\"\n{entry}\n");
        let err = Catalog::parse(&text, "extra.toml").unwrap_err().to_string();
        assert!(
            err.contains("extra.toml") && err.contains("\"bad\"") && err.contains(what),
            "{entry}: {err}"
        );
    }
}

#[test]
fn clang_and_zig_missing_header_errors_give_the_same_hints_as_gcc() {
    let catalog = Catalog::builtin();
    for (line, id) in [
        (
            "yamluser.c:3:10: fatal error: 'yaml.h' file not found",
            "libyaml",
        ),
        (
            "c/_cffi_backend.c:15:10: fatal error: 'ffi.h' file not found",
            "libffi",
        ),
        (
            "src/lxml/etree.c:96:10: fatal error: 'libxml/xmlversion.h' file not found",
            "libxml2",
        ),
    ] {
        let found = ids(&catalog, line);
        assert!(
            found.contains(&id),
            "{line:?} should suggest {id}, got {found:?}"
        );
    }
}

#[test]
fn missing_compression_image_and_blas_libraries_select_their_packs_for_an_older_target() {
    let catalog = Catalog::builtin();
    let actions = |line: &str, prefer_packs: bool| -> Vec<String> {
        catalog
            .matches(line)
            .iter()
            .flat_map(|h| h.actions(Some(PackageFamily::Apt), prefer_packs))
            .map(|a| a.to_string())
            .collect()
    };
    // pkgconf 1.8 (bookworm) names a missing package twice, in two wordings.
    for (lines, pack, apt) in [
        (
            [
                "Package openblas was not found in the pkg-config search path.",
                "blasuser.c:3:10: fatal error: cblas.h: No such file or directory",
            ],
            "openblas",
            "libopenblas-dev liblapack-dev",
        ),
        (
            [
                "Package sqlite3 was not found in the pkg-config search path.",
                "src/x.c:2:10: fatal error: sqlite3.h: No such file or directory",
            ],
            "sqlite",
            "libsqlite3-dev",
        ),
        (
            [
                "Package 'bzip2', required by 'virtual:world', not found",
                "src/x.c:2:10: fatal error: bzlib.h: No such file or directory",
            ],
            "bzip2",
            "libbz2-dev",
        ),
        (
            [
                "Package liblzma was not found in the pkg-config search path.",
                "src/x.c:2:10: fatal error: lzma.h: No such file or directory",
            ],
            "xz",
            "liblzma-dev",
        ),
        (
            [
                "Package 'libzstd', required by 'virtual:world', not found",
                "src/x.c:2:10: fatal error: zstd.h: No such file or directory",
            ],
            "zstd",
            "libzstd-dev",
        ),
        (
            [
                "Package liblz4 was not found in the pkg-config search path.",
                "src/x.c:2:10: fatal error: lz4frame.h: No such file or directory",
            ],
            "lz4",
            "liblz4-dev",
        ),
        (
            [
                "Package libpng16 was not found in the pkg-config search path.",
                "src/x.c:2:10: fatal error: png.h: No such file or directory",
            ],
            "libpng",
            "libpng-dev",
        ),
        (
            [
                "Package 'freetype2', required by 'virtual:world', not found",
                "src/x.c:2:10: fatal error: ft2build.h: No such file or directory",
            ],
            "freetype",
            "libfreetype-dev",
        ),
        (
            [
                "Package libwebpmux was not found in the pkg-config search path.",
                "src/x.c:2:10: fatal error: webp/decode.h: No such file or directory",
            ],
            "libwebp",
            "libwebp-dev",
        ),
        (
            [
                "Package 'libtiff-4', required by 'virtual:world', not found",
                "src/x.c:2:10: fatal error: tiffio.h: No such file or directory",
            ],
            "libtiff",
            "libtiff-dev",
        ),
    ] {
        for line in lines {
            assert_eq!(actions(line, true), [format!("pack {pack}")], "{line}");
            assert_eq!(
                actions(line, false),
                [format!("system packages {apt}")],
                "{line}"
            );
        }
    }
    // Near misses: another library whose name contains one of these (zlib.h is in
    // bzlib.h).
    assert!(
        !actions("fatal error: bzlib.h: No such file or directory", true)
            .contains(&"pack zlib".to_string())
    );
    assert!(actions("fatal error: pyzstd.h: No such file or directory", true).is_empty());
    assert!(actions("Package 'bzip2-extra', required by 'x', not found", true).is_empty());
}

#[test]
fn numpy_and_scipy_take_the_blas_entry_up_front_by_normalized_name() {
    let catalog = Catalog::builtin();
    for (name, want) in [
        ("numpy", &["openblas"][..]),
        ("NumPy", &["openblas"]),
        // scipy's Fortran links the libgfortran pack too.
        ("scipy", &["openblas", "libgfortran"]),
        ("SciPy", &["openblas", "libgfortran"]),
    ] {
        let ids: Vec<&str> = catalog
            .up_front(name, None)
            .iter()
            .map(|h| h.id.as_str())
            .collect();
        assert_eq!(ids, want, "{name}");
    }
    assert!(catalog.up_front("pandas", None).is_empty());
    let cython: Vec<&str> = catalog
        .up_front("Charset_Normalizer", None)
        .iter()
        .map(|h| h.id.as_str())
        .collect();
    assert_eq!(cython, ["charset-normalizer-cython"]);
    // matplotlib: both packs and the meson options that make it use them.
    let v = |s: &str| s.parse::<refinery_pep::Version>().unwrap();
    let matplotlib = catalog.up_front("matplotlib", Some(&v("3.10.9")));
    let ids: Vec<&str> = matplotlib.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["freetype", "matplotlib-system-libraries"]);
    assert_eq!(
        matplotlib[1]
            .actions(Some(PackageFamily::Apt), true)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        [
            "pack qhull",
            "env PIP_CONFIG_SETTINGS=setup-args=-Dsystem-freetype=true setup-args=-Dsystem-qhull=true setup-args=-Db_lto=false"
        ]
    );
    // 3.11 lays text out with libraqm: its entry (and meson option) only from 3.11 on.
    let ids = |version: Option<&refinery_pep::Version>| -> Vec<&str> {
        catalog
            .up_front("matplotlib", version)
            .iter()
            .map(|h| h.id.as_str())
            .collect()
    };
    assert_eq!(
        ids(Some(&v("3.11.2"))),
        [
            "freetype",
            "matplotlib-system-libraries",
            "matplotlib-system-libraqm"
        ]
    );
    assert_eq!(
        ids(None),
        ["freetype", "matplotlib-system-libraries"],
        "an unknown version takes only the entries for every version"
    );
    assert!(catalog.up_front("not a name!", None).is_empty());
    let openblas = catalog.up_front("numpy", None)[0];
    // An older glibc than the environment's: the pack; else the system packages.
    assert_eq!(
        openblas.actions(Some(PackageFamily::Apt), true),
        [HintAction::Pack {
            pack: "openblas".into()
        }]
    );
    assert!(matches!(
        &openblas.actions(Some(PackageFamily::Apt), false)[..],
        [HintAction::SystemPackages { packages }] if packages.contains(&"libopenblas-dev".to_string())
    ));
}

#[test]
fn an_id_used_twice_in_one_file_is_refused_naming_it() {
    let entry = "[[hint]]\nid = \"twice\"\npattern = \"a\"\nmessage = \"m\"\n";
    let err = Catalog::parse(&format!("{entry}{entry}"), "my.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("my.toml") && err.contains("\"twice\" appears twice"),
        "{err}"
    );
}

#[test]
fn an_up_front_entry_that_is_not_a_name_with_versions_is_refused() {
    for (entry, says) in [
        ("numpy; rm -rf /", "no PEP 508 requirement"),
        ("numpy[extra]", "has extras or markers"),
        ("numpy; python_version < '3.12'", "has extras or markers"),
        ("numpy @ https://example.org/numpy.tar.gz", "names a URL"),
    ] {
        let err = Catalog::parse(
            &format!(
                "[[hint]]\nid = \"x\"\npattern = \"a\"\nmessage = \"m\"\nup_front = [{entry:?}]\n"
            ),
            "my.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("my.toml") && err.contains(says) && err.contains("numpy"),
            "{entry}: {err}"
        );
    }
}

#[test]
fn an_out_of_memory_kill_retries_with_one_compiler_at_a_time() {
    let catalog = Catalog::builtin();
    let log = "building 'scipy.sparse._sparsetools' extension\n\
               c++: fatal error: Killed signal terminated program cc1plus\n\
               compilation terminated.\n\
               error: command '/usr/bin/s390x-linux-gnu-g++' failed with exit code 1";
    let hints = catalog.matches(log);
    assert_eq!(
        hints.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(),
        ["out-of-memory"]
    );
    // The retry's fix, as the attempt's record lists it.
    let retry = crate::fixes::outcome(
        &crate::fixes::Fixes::default(),
        &hints,
        Some(PackageFamily::Apt),
        false,
        crate::RecipePolicy::default(),
    );
    let crate::fixes::HintOutcome::Retry { fixes, new } = retry else {
        panic!("{retry:?}");
    };
    assert_eq!(fixes.describe(), ["env REFINERY_COMPILE_JOBS=1"]);
    assert_eq!(new.len(), 1);
    assert!(fixes.hints[0].starts_with("out-of-memory: "));
    // The retry's build then runs one compiler, in every build system, meson-python too,
    // however many the run's budget allows.
    let env: Vec<(String, String)> = fixes.env.into_iter().collect();
    let budget = crate::compile_jobs::CompileBudget::new(16, 1, None, 1 << 30);
    let parallelism = crate::compile_jobs::for_build(&budget, &env, true);
    assert_eq!(parallelism.jobs, 1);
    for (name, value) in [
        ("MAKEFLAGS", "-j1"),
        ("CMAKE_BUILD_PARALLEL_LEVEL", "1"),
        ("CARGO_BUILD_JOBS", "1"),
        ("NPY_NUM_BUILD_JOBS", "1"),
        ("MAX_JOBS", "1"),
        ("GRPC_PYTHON_BUILD_EXT_COMPILER_JOBS", "1"),
        ("PIP_CONFIG_SETTINGS", "compile-args=-j1"),
    ] {
        assert!(
            parallelism
                .env
                .contains(&(name.to_string(), value.to_string())),
            "{name}={value} in {:?}",
            parallelism.env
        );
    }
}

#[test]
fn a_recipe_env_loses_the_names_a_build_may_not_get() {
    let env: Vec<(String, String)> = [
        ("CFLAGS", "-O2"),
        ("GLIBC_TUNABLES", "glibc.malloc.check=3"),
        ("LD_DEBUG_OUTPUT", "/tmp/x"),
        ("MATURIN_PEP517_ARGS", "--features x"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (allowed, refused) = split_recipe_env(&env);
    let allowed: Vec<&str> = allowed.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(allowed, ["CFLAGS", "MATURIN_PEP517_ARGS"]);
    assert_eq!(refused, ["GLIBC_TUNABLES", "LD_DEBUG_OUTPUT"]);
}
