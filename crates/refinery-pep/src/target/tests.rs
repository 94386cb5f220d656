use super::*;
use std::str::FromStr;

fn target(py: &str, plat: &str) -> Target {
    Target::new(py, plat).unwrap()
}

fn tags_str(t: &Target) -> Vec<String> {
    t.supported_tags().iter().map(ToString::to_string).collect()
}

#[test]
fn new_valid() {
    // (python, platform, glibc, canonical platform, linux tag)
    let table = [
        (
            "3.11",
            "manylinux2014_s390x",
            (2, 17),
            "manylinux2014_s390x",
            false,
        ),
        (
            "3.12",
            "manylinux_2_28_s390x",
            (2, 28),
            "manylinux_2_28_s390x",
            false,
        ),
        (
            "3.11",
            "manylinux_2_17_s390x",
            (2, 17),
            "manylinux_2_17_s390x",
            false,
        ),
        ("3.13", "linux_s390x", (2, 17), "linux_s390x", true),
        (
            "3.9",
            "Manylinux-2.34-S390X",
            (2, 34),
            "manylinux_2_34_s390x",
            false,
        ),
        (
            "3.7",
            "manylinux2014_s390x",
            (2, 17),
            "manylinux2014_s390x",
            false,
        ),
    ];
    for (py, plat, glibc, canon, linux) in table {
        let t = target(py, plat);
        assert_eq!(t.glibc(), glibc, "{plat}");
        assert_eq!(t.platform_tag(), canon, "{plat}");
        assert_eq!(t.linux_tag(), linux, "{plat}");
        assert_eq!(t.python_str(), py);
    }
    let t = target("3.11", "manylinux2014_s390x");
    assert_eq!(t.python(), (3, 11));
    assert_eq!(t.cpython_tag(), "cp311");
    assert_eq!(t.abi_tag(), "cp311");
    assert_eq!(target("3.7", "linux_s390x").abi_tag(), "cp37m");
    assert_eq!(t.to_string(), "CPython 3.11 on manylinux2014_s390x");
    let t = t.with_linux_tag(true);
    assert!(t.linux_tag());
    assert_eq!(
        t.to_string(),
        "CPython 3.11 on manylinux2014_s390x + linux_s390x"
    );
    // A linux_s390x target keeps accepting linux_s390x.
    assert!(target("3.11", "linux_s390x")
        .with_linux_tag(false)
        .linux_tag());
}

#[test]
fn new_invalid() {
    let table = [
        ("3.11", "manylinux2014_x86_64", "for x86_64, not s390x"),
        ("3.11", "linux_aarch64", "for aarch64, not s390x"),
        ("3.11", "manylinux_2_28_ppc64le", "for ppc64le"),
        (
            "3.11",
            "manylinux1_s390x",
            "manylinux1 (glibc 2.5) does not exist for s390x",
        ),
        (
            "3.11",
            "manylinux2010_s390x",
            "manylinux2010 (glibc 2.12) does not exist",
        ),
        (
            "3.11",
            "manylinux_2_12_s390x",
            "manylinux_2_12 (glibc 2.12) does not exist",
        ),
        (
            "3.11",
            "musllinux_1_2_s390x",
            "musllinux targets are not supported",
        ),
        ("3.11", "macosx_11_0_arm64", "not a Linux platform tag"),
        ("3.11", "win_amd64", "not a Linux platform tag"),
        ("3.11", "any", "not a target platform"),
        ("3.11", "manylinux_3_0_s390x", "glibc 3.0 does not exist"),
        ("3", "manylinux2014_s390x", "expected `major.minor`"),
        ("3.11.4", "manylinux2014_s390x", "no patch version"),
        ("2.7", "manylinux2014_s390x", "only Python 3"),
        ("3.2", "manylinux2014_s390x", "before 3.3"),
        ("3.13t", "manylinux2014_s390x", "free-threaded"),
        ("cp311", "manylinux2014_s390x", "expected `major.minor`"),
        ("3.x", "manylinux2014_s390x", "numbers only"),
    ];
    for (py, plat, needle) in table {
        let err = Target::new(py, plat).expect_err(&format!("{py} {plat}"));
        let msg = err.to_string();
        assert!(msg.contains(needle), "{py} {plat}: {msg}");
        // The original input is in the message.
        assert!(msg.contains(py) || msg.contains(plat), "{msg}");
    }
}

#[test]
fn platforms_order() {
    assert_eq!(
        target("3.11", "manylinux2014_s390x").platforms(),
        ["manylinux_2_17_s390x", "manylinux2014_s390x"]
    );
    assert_eq!(
        target("3.11", "manylinux_2_19_s390x")
            .with_linux_tag(true)
            .platforms(),
        [
            "manylinux_2_19_s390x",
            "manylinux_2_18_s390x",
            "manylinux_2_17_s390x",
            "manylinux2014_s390x",
            "linux_s390x"
        ]
    );
    assert_eq!(
        target("3.11", "linux_s390x").platforms(),
        ["manylinux_2_17_s390x", "manylinux2014_s390x", "linux_s390x"]
    );
}

#[test]
fn supported_tags_shape() {
    let t = target("3.11", "manylinux2014_s390x");
    let tags = tags_str(&t);
    assert_eq!(
        &tags[..6],
        [
            "cp311-cp311-manylinux_2_17_s390x",
            "cp311-cp311-manylinux2014_s390x",
            "cp311-abi3-manylinux_2_17_s390x",
            "cp311-abi3-manylinux2014_s390x",
            "cp311-none-manylinux_2_17_s390x",
            "cp311-none-manylinux2014_s390x",
        ]
    );
    assert_eq!(tags[6], "cp310-abi3-manylinux_2_17_s390x");
    let cp32 = tags
        .iter()
        .position(|t| t == "cp32-abi3-manylinux2014_s390x")
        .unwrap();
    assert_eq!(tags[cp32 + 1], "py311-none-manylinux_2_17_s390x");
    assert!(!tags.iter().any(|t| t.starts_with("cp31-")));
    assert_eq!(tags.last().unwrap(), "py30-none-any");
    let any = tags.iter().position(|t| t == "cp311-none-any").unwrap();
    assert_eq!(tags[any - 1], "py30-none-manylinux2014_s390x");
    assert_eq!(tags[any + 1], "py311-none-any");
    assert_eq!(tags[any + 2], "py3-none-any");
    assert!(!tags.iter().any(|t| t.ends_with("-linux_s390x")));
}

/// Each fixture holds what Python's `packaging` computes (see
/// `tests/fixtures/gen_supported_tags.py`), one tag per line.
#[test]
fn supported_tags_match_packaging() {
    let fixtures: [(&str, &str, bool, &str); 4] = [
        (
            "3.11",
            "manylinux2014_s390x",
            false,
            include_str!("../../tests/fixtures/tags-cp311-manylinux2014_s390x.txt"),
        ),
        (
            "3.11",
            "manylinux2014_s390x",
            true,
            include_str!("../../tests/fixtures/tags-cp311-manylinux2014_s390x-linux.txt"),
        ),
        (
            "3.12",
            "manylinux_2_28_s390x",
            false,
            include_str!("../../tests/fixtures/tags-cp312-manylinux_2_28_s390x.txt"),
        ),
        (
            "3.7",
            "manylinux_2_20_s390x",
            true,
            include_str!("../../tests/fixtures/tags-cp37-manylinux_2_20_s390x-linux.txt"),
        ),
    ];
    for (py, plat, linux, expected) in fixtures {
        let t = target(py, plat).with_linux_tag(linux);
        let expected: Vec<&str> = expected.lines().filter(|l| !l.is_empty()).collect();
        let actual = tags_str(&t);
        assert_eq!(actual.len(), expected.len(), "{py} {plat} {linux}");
        for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
            assert_eq!(a, e, "{py} {plat} {linux}: tag #{i}");
        }
    }
}

fn compat(t: &Target, wheel: &str) -> Compatibility {
    t.compatibility(&WheelFilename::from_str(wheel).unwrap())
}

#[test]
fn compatible_wheels() {
    let t2014 = target("3.11", "manylinux2014_s390x");
    let t228 = target("3.11", "manylinux_2_28_s390x");
    let table: &[(&Target, &str)] = &[
        (&t2014, "six-1.16.0-py2.py3-none-any.whl"),
        (&t2014, "foo-1.0-py3-none-any.whl"),
        (&t2014, "foo-1.0-py311-none-any.whl"),
        (&t2014, "foo-1.0-cp311-none-any.whl"),
        (
            &t2014,
            "cryptography-42.0.5-cp37-abi3-manylinux_2_17_s390x.manylinux2014_s390x.whl",
        ),
        (&t2014, "foo-1.0-cp311-cp311-manylinux2014_s390x.whl"),
        (&t2014, "foo-1.0-cp311-cp311-manylinux_2_17_s390x.whl"),
        (&t228, "foo-1.0-cp311-cp311-manylinux_2_28_s390x.whl"),
        (&t228, "foo-1.0-cp311-cp311-manylinux2014_s390x.whl"),
        (&t228, "foo-1.0-cp39-abi3-manylinux_2_24_s390x.whl"),
        (&t2014, "foo-1.0-py3-none-manylinux2014_s390x.whl"),
    ];
    for (t, wheel) in table {
        let c = compat(t, wheel);
        assert!(c.is_compatible(), "{wheel} on {t}: {c:?}");
    }
}

#[test]
fn priority_prefers_specific_wheels() {
    let t = target("3.11", "manylinux_2_28_s390x");
    let prio = |w: &str| match compat(&t, w) {
        Compatibility::Compatible { priority } => priority,
        other => panic!("{w}: {other:?}"),
    };
    let native = prio("foo-1.0-cp311-cp311-manylinux_2_28_s390x.whl");
    let older_glibc = prio("foo-1.0-cp311-cp311-manylinux2014_s390x.whl");
    let abi3 = prio("foo-1.0-cp37-abi3-manylinux2014_s390x.whl");
    let pure = prio("foo-1.0-py3-none-any.whl");
    assert_eq!(native, 0);
    assert!(native < older_glibc && older_glibc < abi3 && abi3 < pure);
    // The best of a compressed tag set counts.
    assert_eq!(
        prio("foo-1.0-cp311-cp311-manylinux_2_17_s390x.manylinux_2_28_s390x.whl"),
        0
    );
}

#[test]
fn incompatible_wheels_say_why() {
    let t2014 = target("3.11", "manylinux2014_s390x");
    let t228 = target("3.11", "manylinux_2_28_s390x");
    let tlinux = target("3.11", "linux_s390x");
    let table: &[(&Target, &str, &str)] = &[
        (
            &t2014,
            "foo-1.0-cp311-cp311-linux_x86_64.whl",
            "platform linux_x86_64 is not s390x",
        ),
        (
            &t2014,
            "foo-1.0-cp311-cp311-manylinux1_x86_64.whl",
            "platform manylinux1_x86_64 is not s390x",
        ),
        (
            &t2014,
            "foo-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
            "platform manylinux_2_17_x86_64 is not s390x",
        ),
        (
            &t2014,
            "foo-1.0-cp311-cp311-macosx_11_0_arm64.whl",
            "macOS wheel (macosx_11_0_arm64)",
        ),
        (
            &t2014,
            "foo-1.0-cp311-cp311-win_amd64.whl",
            "Windows wheel (win_amd64)",
        ),
        (
            &t2014,
            "foo-1.0-cp311-cp311-win32.whl",
            "Windows wheel (win32)",
        ),
        (
            &t2014,
            "foo-1.0-cp312-cp312-manylinux2014_s390x.whl",
            "built for cp312 but the target is CPython 3.11",
        ),
        (
            &t2014,
            "foo-1.0-cp310-cp310-manylinux2014_s390x.whl",
            "built for cp310 but the target is CPython 3.11",
        ),
        (
            &t2014,
            "foo-1.0-cp312-abi3-manylinux2014_s390x.whl",
            "abi3 wheel for cp312+ does not run on CPython 3.11",
        ),
        (
            &t2014,
            "foo-1.0-cp311-cp311-manylinux_2_28_s390x.whl",
            "needs glibc 2.28 (manylinux_2_28_s390x) but the target allows up to 2.17 \
                 (manylinux2014_s390x)",
        ),
        (
            &t228,
            "foo-1.0-cp311-cp311-manylinux_2_34_s390x.whl",
            "needs glibc 2.34 (manylinux_2_34_s390x) but the target allows up to 2.28 \
                 (manylinux_2_28_s390x)",
        ),
        (
            &tlinux,
            "foo-1.0-cp311-cp311-manylinux_2_28_s390x.whl",
            "up to 2.17 (manylinux_2_17_s390x)",
        ),
        (
            &t2014,
            "foo-1.0-cp312-cp312-manylinux_2_28_s390x.whl",
            "needs glibc 2.28 (manylinux_2_28_s390x) but the target allows up to 2.17 \
                 (manylinux2014_s390x); also built for cp312",
        ),
        (
            &t2014,
            "foo-1.0-cp311-cp311-linux_s390x.whl",
            "linux_s390x is a local, unrepaired build",
        ),
        (
            &t2014,
            "foo-1.0-cp311-cp311-musllinux_1_2_s390x.whl",
            "musllinux_1_2_s390x is built for musl libc",
        ),
        (
            &t2014,
            "foo-1.0-cp311-cp311-manylinux1_s390x.whl",
            "manylinux1_s390x is not a valid s390x tag",
        ),
        (
            &t2014,
            "foo-1.0-pp310-pypy310_pp73-manylinux2014_s390x.whl",
            "built for PyPy (pp310)",
        ),
        (
            &t2014,
            "foo-1.0-py2-none-any.whl",
            "Python 2 wheel (py2) does not run",
        ),
        (
            &t2014,
            "foo-1.0-py312-none-any.whl",
            "needs Python 3.12 or newer (py312)",
        ),
        (
            &t2014,
            "foo-1.0-cp310-none-any.whl",
            "built for cp310 but the target is CPython 3.11",
        ),
        (
            &t2014,
            "foo-1.0-cp311-cp311d-manylinux2014_s390x.whl",
            "ABI cp311d does not match the target's ABI cp311",
        ),
        (
            &t2014,
            "foo-1.0-cp313-cp313t-manylinux2014_s390x.whl",
            "built for cp313 but the target is CPython 3.11",
        ),
        (
            &t2014,
            "foo-1.0-cp311-cp311-android_21_arm64_v8a.whl",
            "platform android_21_arm64_v8a is not Linux s390x",
        ),
    ];
    for (t, wheel, needle) in table {
        match compat(t, wheel) {
            Compatibility::Incompatible { reason } => {
                assert!(
                    reason.contains(needle),
                    "{wheel} on {t}:\n  got  {reason}\n  want {needle}"
                );
            }
            c => panic!("{wheel} on {t} should be incompatible: {c:?}"),
        }
    }
    // linux_s390x is accepted once enabled, and always by a linux_s390x target.
    assert!(compat(
        &t2014.clone().with_linux_tag(true),
        "foo-1.0-cp311-cp311-linux_s390x.whl"
    )
    .is_compatible());
    assert!(compat(&tlinux, "foo-1.0-cp311-cp311-linux_s390x.whl").is_compatible());
}

#[test]
fn markers_are_evaluated_for_the_target() {
    let t = target("3.11", "manylinux2014_s390x");
    let table = [
        (r#"platform_machine == "s390x""#, true),
        (r#"platform_machine == "x86_64""#, false),
        (r#"sys_platform == "win32""#, false),
        (r#"sys_platform == "linux""#, true),
        (r#"python_version < "3.12""#, true),
        (r#"python_version >= "3.12""#, false),
        (r#"python_full_version >= "3.11.0""#, true),
        (r#"platform_system == "Linux" and os_name == "posix""#, true),
        (r#"implementation_name == "cpython""#, true),
        (r#"platform_python_implementation == "PyPy""#, false),
        (r#"extra == "test""#, false),
    ];
    for (marker, expected) in table {
        let tree = MarkerTree::from_str(marker).unwrap();
        assert_eq!(t.evaluate_marker(&tree, &[]), expected, "{marker}");
    }
    let tree = MarkerTree::from_str(r#"extra == "test""#).unwrap();
    let extra: ExtraName = "test".parse().unwrap();
    assert!(t.evaluate_marker(&tree, &[extra]));
    let env = t.marker_environment();
    assert_eq!(env.python_full_version().to_string(), "3.11.0");
    assert_eq!(env.platform_machine(), "s390x");
}

#[test]
fn serde_roundtrip() {
    let t = target("3.11", "manylinux2014_s390x").with_linux_tag(true);
    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(
        json,
        r#"{"python":"3.11","platform_tag":"manylinux2014_s390x","linux_tag":true}"#
    );
    assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), t);
    let err = serde_json::from_str::<Target>(
        r#"{"python":"3.11","platform_tag":"manylinux2014_x86_64"}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("x86_64"), "{err}");
    let c = Compatibility::Compatible { priority: 3 };
    assert_eq!(
        serde_json::to_string(&c).unwrap(),
        r#"{"status":"compatible","priority":3}"#
    );
}
