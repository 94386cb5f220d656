//! The meson cross file of a native meson-python build.
//!
//! Without one, meson takes the machine running it (the x86_64 host) for the machine the
//! extension runs on: `host_machine.cpu_family()` is `x86_64` and `endian()` `little`, so
//! numpy 2.4.4 built natively chose x86 SIMD targets and lost its s390x dispatch (VX, VXE,
//! VXE2) that the emulated build has. With this file meson knows the build is a cross build
//! (meson's "Cross compilation" manual): the host machine is big-endian s390x, the host
//! compilers are the sandbox's s390x compilers (the accelerator's gcc cross or the Zig
//! wrappers, the same ones the emulated frontend uses), and the configure tests that run
//! a compiled program (numpy's `longdouble_format` probe, `cc.run`) run it through binfmt,
//! so no exe wrapper is needed.
//!
//! meson-python takes the file as `-Csetup-args=--cross-file=PATH` (its "Cross
//! compilation" documentation); the tags still come from the target's sysconfig that the
//! native frontend's `sitecustomize` selects.

/// The cross file's name in the attempt's cross folder.
pub const CROSS_FILE: &str = "meson-cross.ini";

/// numpy's name for s390x's `long double` (IEEE 754 binary128, big-endian), answered in
/// the cross file as its meson build asks (`longdouble_format` external property) so the
/// probe's answer never depends on the emulator.
pub const S390X_LONGDOUBLE_FORMAT: &str = "IEEE_QUAD_BE";

/// The tools a cross build must name for the host machine: meson looks only in the cross
/// file for them (`env` variable, default program). Cython and CMake run on the build
/// machine but meson still resolves them as host-machine tools.
const BINARIES: &[(&str, &str, &str)] = &[
    ("c", "CC", "cc"),
    ("cpp", "CXX", "c++"),
    ("fortran", "FC", "gfortran"),
    ("ar", "AR", "ar"),
    ("strip", "STRIP", "strip"),
    ("pkg-config", "PKG_CONFIG", "pkg-config"),
    ("cmake", "CMAKE", "cmake"),
    ("cython", "CYTHON", "cython"),
];

/// The file name, in the cross folder, of the program the cross file names as the host
/// machine's `python`: a shell script that runs the build environment's interpreter
/// (`$VIRTUAL_ENV/bin/python3`, as uv sets `VIRTUAL_ENV` for the hooks; else `python3`). Meson records
/// that program's path in the build configuration numpy, scipy and contourpy install
/// (`python_path` in `__config__.py`); the build environment's own path is random per
/// build (uv's `builds-v0/.tmpXXXXXX`), this one is not.
pub const PYTHON_WRAPPER: &str = "meson-python-interpreter";

/// The text of [`PYTHON_WRAPPER`] (mode 0755).
pub const PYTHON_WRAPPER_SCRIPT: &str = r#"#!/bin/sh
# Written by the refinery: the build environment's Python under a fixed path.
exec "${VIRTUAL_ENV:+$VIRTUAL_ENV/bin/}python3" "$@"
"#;

/// The text of the cross file for a build whose environment is `env` (the build step's
/// variables: a `CC` set by the Zig toolchain wins over the default names, which the
/// accelerator binds to the s390x cross tools inside the sandbox). A value with several
/// words (`CC="ccache gcc"`) becomes a meson array, split as a POSIX shell would.
/// `properties` are more `[properties]` entries (name, string value), e.g.
/// [`super::target_numpy::PROPERTY`]; `python`, when given, is the host machine's Python
/// (the guest path of [`PYTHON_WRAPPER`]).
pub fn cross_file(
    env: &[(String, String)],
    properties: &[(&str, String)],
    python: Option<&str>,
) -> String {
    let lookup = |key: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    };
    let mut text =
        String::from("# Written by the refinery for a native meson-python build.\n[binaries]\n");
    for (name, variable, default) in BINARIES {
        let value = lookup(variable).unwrap_or(default);
        let words = shlex::split(value).unwrap_or_else(|| vec![value.to_string()]);
        text.push_str(&format!("{name} = {}\n", meson_array(&words)));
    }
    if let Some(python) = python {
        text.push_str(&format!(
            "python = {}\n",
            meson_array(&[python.to_string()])
        ));
    }
    text.push_str(&format!(
        "\n[host_machine]\nsystem = 'linux'\ncpu_family = 's390x'\ncpu = 's390x'\nendian = 'big'\n\n\
         [properties]\n\
         # binfmt runs s390x programs inside the sandbox.\n\
         needs_exe_wrapper = false\n\
         longdouble_format = '{S390X_LONGDOUBLE_FORMAT}'\n"
    ));
    for (name, value) in properties {
        text.push_str(&format!("{name} = {}\n", meson_string(value)));
    }
    text
}

/// `'text'` with meson's string escapes (`\\`, `\'`).
fn meson_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `['a', 'b']` with meson's string escapes (`\\`, `\'`).
fn meson_array(words: &[String]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| meson_string(w)).collect();
    format!("[{}]", quoted.join(", "))
}

/// The config setting that hands meson-python the cross file at `guest_path`.
pub fn setup_args(guest_path: &str) -> String {
    format!("setup-args=--cross-file={guest_path}")
}
