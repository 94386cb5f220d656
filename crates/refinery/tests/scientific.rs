//! The scientific stack built from source for `manylinux2014_s390x` (issue 16). Each build
//! takes tens of minutes under emulation, so every test here is named `long_*`: it runs in
//! `scripts/test-long.sh`, not in CI.

mod common;

use common::{
    assert_no_debug_sections, assert_s390x_python_prints, bookworm_rootfs, built_for_manylinux2014,
    elf_sections, unzip,
};

/// Asserts what a scientific-stack wheel must show: the manylinux2014 tag reached, no ELF
/// file needing a glibc symbol newer than 2.17 or any GLIBCXX version (C++ is linked
/// statically by the glibc-targeted toolchain), the debug information removed by repair,
/// and the smoke test passed under emulation.
fn reaches_manylinux2014_and_passes_its_smoke_test(e: &serde_json::Value) {
    let metadata = &e["metadata"];
    assert_eq!(
        metadata["reached_tag"], "manylinux2014_s390x.manylinux_2_17_s390x",
        "{e}"
    );
    let symbols = metadata["symbol_versions"]
        .as_object()
        .expect("symbol_versions");
    assert!(!symbols.is_empty(), "{e}");
    assert_eq!(metadata["debug_info"], "stripped", "{e}");
    for (object, versions) in symbols {
        for version in versions.as_array().unwrap() {
            let version = version.as_str().unwrap();
            let minor: u32 = version
                .strip_prefix("GLIBC_2.")
                .and_then(|m| m.split('.').next())
                .and_then(|m| m.parse().ok())
                .unwrap_or_else(|| panic!("{object} needs {version}"));
            assert!(minor <= 17, "{object} needs {version}");
        }
    }
    let smoke = metadata["verification"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str().is_some_and(|n| n.starts_with("smoke:")))
        .unwrap_or_else(|| panic!("no smoke check: {e}"));
    assert_eq!(smoke["outcome"], "passed", "{smoke}");
}

#[test]
#[ignore = "long (5-18 min with the native frontend, plus 15-40 min for the OpenBLAS pack cold): needs the real PyPI and the s390x rootfs environment"]
fn long_numpy_builds_with_the_openblas_pack_for_manylinux2014_and_works_on_s390x() {
    let work = tempfile::tempdir().unwrap();
    let (e, out) = built_for_manylinux2014(work.path(), "numpy==2.4.4\n", "numpy");
    reaches_manylinux2014_and_passes_its_smoke_test(&e);
    assert_eq!(e["metadata"]["build_frontend"], "native", "{e}");
    // The catalog's up-front entry gave it the pack: OpenBLAS is linked in, not grafted.
    let actions = e["metadata"]["actions"].as_array().unwrap();
    assert!(actions.iter().any(|a| a == "pack openblas"), "{e}");
    let unpacked = work.path().join("unpacked");
    unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    let grafted = walkdir::WalkDir::new(&unpacked)
        .into_iter()
        .filter_map(Result::ok)
        .any(|f| f.file_name().to_string_lossy().contains("openblas"));
    assert!(!grafted, "libopenblas was grafted instead of linked");
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    assert_s390x_python_prints(
        &rootfs,
        &unpacked,
        "import numpy as np; c = np.show_config(mode='dicts'); d = c['Build Dependencies']; \
         h = c['Machine Information']['host']; \
         print(d['blas']['name'], d['lapack']['name'], h['cpu'], h['endian'])",
        // meson built it for a big-endian s390x host machine (the native frontend's cross
        // file; before it, a native build said x86_64 little).
        "openblas openblas s390x big",
    );
}

#[test]
#[ignore = "long (about 80 minutes with numpy): needs the real PyPI and the s390x rootfs environment"]
fn long_pandas_builds_for_manylinux2014_with_numpy_and_its_groupby_works_on_s390x() {
    let work = tempfile::tempdir().unwrap();
    let (e, out) = built_for_manylinux2014(work.path(), "pandas==3.1.1\nnumpy==2.4.4\n", "pandas");
    reaches_manylinux2014_and_passes_its_smoke_test(&e);
    let numpy = common::entry(&common::manifest(&out), "numpy").clone();
    reaches_manylinux2014_and_passes_its_smoke_test(&numpy);
}

#[test]
#[ignore = "long (tens of minutes, plus about 15 min for the libgfortran pack and 15-40 min for the OpenBLAS pack cold): needs the real PyPI, Debian's source pool and the s390x rootfs environment"]
fn long_scipy_builds_with_the_libgfortran_and_openblas_packs_for_manylinux2014_and_works_on_s390x()
{
    let work = tempfile::tempdir().unwrap();
    let (e, out) = built_for_manylinux2014(work.path(), "scipy==1.16.3\nnumpy==2.4.4\n", "scipy");
    reaches_manylinux2014_and_passes_its_smoke_test(&e);
    // The catalog's up-front entries gave it both packs: Fortran compiled by the gfortran
    // cross, linked by Zig with the libgfortran pack; nothing grafted.
    let actions = e["metadata"]["actions"].as_array().unwrap();
    for pack in ["pack openblas", "pack libgfortran"] {
        assert!(actions.iter().any(|a| a == pack), "{pack}: {e}");
    }
    let unpacked = work.path().join("unpacked");
    unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    let grafted: Vec<String> = walkdir::WalkDir::new(&unpacked)
        .into_iter()
        .filter_map(Result::ok)
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("gfortran") || n.contains("openblas"))
        .collect();
    assert!(grafted.is_empty(), "grafted instead of linked: {grafted:?}");
    let numpy = common::entry(&common::manifest(&out), "numpy").clone();
    unzip(&out.join(numpy["path"].as_str().unwrap()), &unpacked);
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    // An f2py-wrapped Fortran routine (a BLAS wrapper's Fortran shim) answers.
    assert_s390x_python_prints(
        &rootfs,
        &unpacked,
        "import numpy as np; from scipy.linalg import blas; \
         print(blas.ddot(np.arange(4.0), np.ones(4)), blas.find_best_blas_type()[0])",
        "6.0 d",
    );
}

#[test]
#[ignore = "long (about 30 minutes with numpy, pillow, contourpy and kiwisolver): needs the real PyPI, Debian's source pool and the s390x rootfs environment"]
fn long_matplotlib_links_the_freetype_qhull_and_raqm_packs_for_manylinux2014_and_renders_on_s390x()
{
    let work = tempfile::tempdir().unwrap();
    let (e, _out) = built_for_manylinux2014(
        work.path(),
        "matplotlib==3.11.2\nnumpy==2.4.4\n",
        "matplotlib",
    );
    // The smoke test renders a PNG, draws text (laid out by libraqm with HarfBuzz and
    // SheenBidi, rendered by FreeType) and triangulates with Qhull.
    reaches_manylinux2014_and_passes_its_smoke_test(&e);
    let actions = e["metadata"]["actions"].as_array().unwrap();
    for action in ["pack freetype", "pack qhull", "pack raqm"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {e}");
    }
    for option in ["-Dsystem-qhull=true", "-Dsystem-libraqm=true"] {
        assert!(
            actions
                .iter()
                .any(|a| a.as_str().is_some_and(|a| a.contains(option))),
            "{option}: {e}"
        );
    }
}

#[test]
#[ignore = "long (about 2 hours with scipy and numpy): needs the real PyPI, Debian's source pool and the s390x rootfs environment"]
fn long_scikit_learn_builds_after_scipy_for_manylinux2014_and_fits_on_s390x() {
    let work = tempfile::tempdir().unwrap();
    let (e, out) = built_for_manylinux2014(
        work.path(),
        "scikit-learn==1.9.1\nscipy==1.16.3\nnumpy==2.4.4\n",
        "scikit-learn",
    );
    // The smoke test fits and predicts with Cython, liblinear, libsvm and k-means code.
    reaches_manylinux2014_and_passes_its_smoke_test(&e);
    let scipy = common::entry(&common::manifest(&out), "scipy").clone();
    reaches_manylinux2014_and_passes_its_smoke_test(&scipy);
    // The s390x strip reached every extension, the ones with Fortran and OpenBLAS linked
    // in (statically: nothing is grafted) too: no debug sections left, symbol tables kept.
    let unpacked = work.path().join("scipy-unpacked");
    unzip(&out.join(scipy["path"].as_str().unwrap()), &unpacked);
    let sections = elf_sections(&unpacked);
    assert_no_debug_sections(&sections);
    assert!(
        sections
            .iter()
            .any(|(f, s)| f.starts_with("_flapack.") && s == ".symtab"),
        "{sections:?}"
    );
}

#[test]
#[ignore = "long (Arrow C++ 25 as a pack, then pyarrow's 33 MB of Cython-generated C++): needs the real PyPI, Debian's pool and the s390x rootfs environment"]
fn long_pyarrow_links_the_static_arrow_cpp_pack_for_manylinux2014_and_round_trips_ipc_on_s390x() {
    let work = tempfile::tempdir().unwrap();
    let (e, out) = built_for_manylinux2014(work.path(), "pyarrow==25.0.0\n", "pyarrow");
    // The smoke test reads a little-endian IPC stream from x86_64, round-trips IPC streams
    // and LZ4/Zstandard IPC files, runs compute kernels, the CSV and JSON readers, and
    // raises an error message Arrow C++ formats.
    reaches_manylinux2014_and_passes_its_smoke_test(&e);
    let actions = e["metadata"]["actions"].as_array().unwrap();
    for action in ["pack arrow-cpp", "env PYARROW_WITH_PARQUET=0"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {e}");
    }
    // All of Arrow C++ is inside libarrow_python (one libc++ copy for it): no libarrow*.so
    // of its own was grafted, and without Parquet there is no _parquet module (its .pyx
    // and .pxd sources are in the wheel, as upstream ships them).
    let unpacked = work.path().join("unpacked");
    unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    let names: Vec<String> = walkdir::WalkDir::new(&unpacked)
        .into_iter()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("libarrow_python.so")),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("libarrow.so") || n.starts_with("libarrow_compute.so")),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("_parquet") && n.ends_with(".so")),
        "{names:?}"
    );
}
