//! Reaching the target's manylinux level: for manylinux2014 (glibc 2.17) from a bookworm
//! environment (glibc 2.36, GCC 12), C and C++ extensions compile with the glibc-targeted
//! compiler, end tagged manylinux2014, use no symbol newer than `GLIBC_2.17`, need no
//! libstdc++, and work under emulation.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// The glibc and libstdc++ symbol versions every shared object of `dir` needs.
fn needed_versions(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (name, text) in readelf_shared_objects(dir, &["--version-info"]) {
        for word in text.split_whitespace() {
            if word.starts_with("GLIBC_") || word.starts_with("GLIBCXX_") {
                found.push((name.clone(), word.to_string()));
            }
        }
    }
    found
}

/// Asserts that the ELF files under `unpacked` need versioned symbols (some were read),
/// none newer than `GLIBC_2.17` and none of libstdc++ (C++ is linked statically).
fn assert_needs_at_most_glibc_2_17_and_no_libstdcxx(unpacked: &Path) {
    let versions = needed_versions(unpacked);
    assert!(!versions.is_empty(), "no versioned symbols read");
    for (object, version) in &versions {
        assert!(
            !version.starts_with("GLIBCXX_") && glibc_minor(version) <= 17,
            "{object} needs {version}"
        );
    }
}

fn glibc_minor(version: &str) -> u32 {
    version
        .trim_start_matches("GLIBC_2.")
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// `requirement` built for manylinux2014 with the pack `pack` selected by a hint: tagged
/// manylinux2014, no file named with one of `linked` grafted (the pack is linked in), no
/// glibc symbol newer than 2.17 and no libstdc++; returns the unpacked wheel's folder.
fn links_pack_and_reaches_manylinux2014(
    work: &Path,
    requirement: &str,
    name: &str,
    pack: &str,
    linked: &[&str],
) -> std::path::PathBuf {
    let (e, out) = built_for_manylinux2014(work, requirement, name);
    assert_eq!(
        e["metadata"]["reached_tag"], "manylinux2014_s390x.manylinux_2_17_s390x",
        "{e}"
    );
    let action = format!("pack {pack}");
    assert!(
        e["metadata"]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| *a == *action),
        "{e}"
    );
    let unpacked = work.join("unpacked");
    unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    let grafted: Vec<String> = walkdir::WalkDir::new(&unpacked)
        .into_iter()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| linked.iter().any(|l| n.starts_with(l)))
        .collect();
    assert!(grafted.is_empty(), "grafted, not linked: {grafted:?}");
    assert_needs_at_most_glibc_2_17_and_no_libstdcxx(&unpacked);
    unpacked
}

#[test]
#[ignore = "needs the real PyPI and the s390x rootfs environment"]
fn kiwisolver_and_msgpack_reach_manylinux2014_and_work_on_s390x() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(
        input.join("requirements.txt"),
        "kiwisolver==1.4.3\nmsgpack==1.0.8\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let envs = envs_dir();
    let output = refinery(
        &[
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--cache",
            tmp.path().join("cache").to_str().unwrap(),
            "--platform-tag",
            "manylinux2014_s390x",
            "--max-attempts",
            "2",
        ],
        &[("REFINERY_ENVS_DIR", envs.to_str().unwrap())],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let m = manifest(&out);
    let unpacked = tmp.path().join("unpacked");
    for name in ["kiwisolver", "msgpack"] {
        let e = entry(&m, name);
        assert_eq!(e["status"], "built", "{e}");
        let file = e["path"].as_str().unwrap();
        assert!(
            file.contains("manylinux2014_s390x.manylinux_2_17_s390x"),
            "{file}"
        );
        assert_eq!(
            e["metadata"]["built_with"], "rootfs:bookworm emulated+zig(glibc 2.17)",
            "{e}"
        );
        // The manifest records the tag reached and the newest symbol of every ELF file.
        assert_eq!(
            e["metadata"]["reached_tag"], "manylinux2014_s390x.manylinux_2_17_s390x",
            "{e}"
        );
        let recorded = e["metadata"]["symbol_versions"].as_object().unwrap();
        assert!(!recorded.is_empty(), "{e}");
        for (object, newest) in recorded {
            for version in newest.as_array().unwrap() {
                let version = version.as_str().unwrap();
                assert!(
                    version.starts_with("GLIBC_2.") && glibc_minor(version) <= 17,
                    "{object}: {version}"
                );
            }
        }
        let one = tmp.path().join(name);
        unzip(&out.join(file), &one);
        assert_needs_at_most_glibc_2_17_and_no_libstdcxx(&one);
        // Repair removed the debug information of the Zig-compiled extensions.
        assert_no_debug_sections(&elf_sections(&one));
        unzip(&out.join(file), &unpacked);
    }
    let code = "import kiwisolver as k, msgpack, sys\n\
                x = k.Variable('x'); s = k.Solver()\n\
                s.addConstraint(x + 2 == 20); s.updateVariables()\n\
                assert x.value() == 18.0, x.value()\n\
                data = {'a': [1, 2**40, -3], 'b': b'\\x00\\xff'}\n\
                assert msgpack.unpackb(msgpack.packb(data)) == data\n\
                assert msgpack.packb(2**40) == b'\\xcf\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00'\n\
                print(sys.byteorder)";
    assert_s390x_python_prints(&rootfs, &unpacked, code, "big");
}

#[test]
#[ignore = "needs the real PyPI, Debian's source pool and the s390x rootfs environment"]
fn cffi_links_the_libffi_pack_and_reaches_manylinux2014() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    let input = requirements(tmp.path(), "cffi==1.15.1\n");
    // No --auto-apply-suggestions: a pack is no system package, the hint applies it.
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
    let e = entry(&m, "cffi");
    assert_eq!(e["status"], "built", "{e}");
    let file = e["path"].as_str().unwrap();
    assert!(file.contains("manylinux2014_s390x"), "{file}");
    assert!(
        e["metadata"]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "pack libffi"),
        "{e}"
    );
    let unpacked = tmp.path().join("unpacked");
    unzip(&out.join(file), &unpacked);
    // libffi is linked in, not grafted from the environment.
    let grafted: Vec<String> = walkdir::WalkDir::new(&unpacked)
        .into_iter()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("libffi"))
        .collect();
    assert!(grafted.is_empty(), "{grafted:?}");
    for (object, version) in needed_versions(&unpacked) {
        assert!(glibc_minor(&version) <= 17, "{object} needs {version}");
    }
    let pycparser = entry(&m, "pycparser");
    unzip(&out.join(pycparser["path"].as_str().unwrap()), &unpacked);
    // A call through libffi and a callback back into Python (a libffi closure).
    let code = r#"import sys, cffi
ffi = cffi.FFI()
ffi.cdef("int abs(int); void qsort(void *, size_t, size_t, int (*)(const void *, const void *));")
libc = ffi.dlopen(None)
assert libc.abs(-5) == 5
@ffi.callback("int(const void *, const void *)")
def compare(a, b):
    x, y = ffi.cast("long *", a)[0], ffi.cast("long *", b)[0]
    return (x > y) - (x < y)
items = ffi.new("long[]", [3, 2**40, -7, 1])
libc.qsort(items, 4, ffi.sizeof("long"), compare)
assert list(items) == [-7, 1, 3, 2**40], list(items)
print(sys.byteorder)"#;
    assert_s390x_python_prints(&rootfs, &unpacked, code, "big");
}

#[test]
#[ignore = "needs the real PyPI, Debian's source pool and the s390x rootfs environment"]
fn lxml_links_the_libxml2_libxslt_and_zlib_packs_and_reaches_manylinux2014() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    let input = requirements(tmp.path(), "lxml==4.9.3\n");
    // Attempt 1 fails on the bare environment (no libxml2/libxslt); the hints select the
    // libxslt and libxml2 packs, which bring zlib along, for attempt 2.
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
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    let m = manifest(&out);
    let e = entry(&m, "lxml");
    assert_eq!(e["status"], "built", "{e}");
    let file = e["path"].as_str().unwrap();
    assert!(
        file.contains("manylinux2014_s390x.manylinux_2_17_s390x"),
        "{file}"
    );
    assert_eq!(
        e["metadata"]["reached_tag"], "manylinux2014_s390x.manylinux_2_17_s390x",
        "{e}"
    );
    let actions: Vec<&str> = e["metadata"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(actions.contains(&"pack libxslt"), "{actions:?}");
    // Every pack below libxslt is linked, and each is a finished pack in the store.
    for pack in [
        "zlib-1.2.13-glibc2.17-",
        "libxml2-2.9.14-glibc2.17-",
        "libxslt-1.1.35-glibc2.17-",
    ] {
        let line = log
            .lines()
            .find(|l| l.contains("links the native library pack") && l.contains(pack))
            .unwrap_or_else(|| panic!("{pack} not linked:\n{log}"));
        let key = line.rsplit(' ').next().unwrap();
        assert!(
            envs_dir()
                .join("packs")
                .join(key)
                .join("refinery-pack.json")
                .is_file(),
            "{key}"
        );
    }
    let unpacked = tmp.path().join("unpacked");
    unzip(&out.join(file), &unpacked);
    // The libraries are linked in, not grafted from the environment.
    let grafted: Vec<String> = walkdir::WalkDir::new(&unpacked)
        .into_iter()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("libxml2") || n.starts_with("libxslt") || n.starts_with("libz"))
        .collect();
    assert!(grafted.is_empty(), "{grafted:?}");
    let versions = needed_versions(&unpacked);
    assert!(!versions.is_empty(), "no versioned symbols read");
    for (object, version) in &versions {
        assert!(
            !version.starts_with("GLIBCXX_"),
            "{object} needs libstdc++ ({version})"
        );
        assert!(glibc_minor(version) <= 17, "{object} needs {version}");
    }
    // Parse, XPath, an XSLT transform (libxslt) and an EXSLT function (libexslt), and a
    // gzip-compressed document (zlib inside libxml2).
    let gz = tmp.path().join("unpacked").join("doc.xml.gz");
    {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        enc.write_all(b"<r><n>1</n><n>2</n></r>").unwrap();
        enc.finish().unwrap();
    }
    let code = r#"import sys
from lxml import etree
doc = etree.fromstring(b"<items><item n='3'>c</item><item n='1'>a</item><item n='2'>b</item></items>")
assert [i.text for i in doc.xpath("//item[@n > 1]")] == ["c", "b"]
xslt = etree.XSLT(etree.fromstring(b'''<xsl:stylesheet version="1.0"
  xmlns:xsl="http://www.w3.org/1999/XSL/Transform" xmlns:str="http://exslt.org/strings"
  extension-element-prefixes="str">
  <xsl:output method="text"/>
  <xsl:template match="/items">
    <xsl:for-each select="item"><xsl:sort select="@n" data-type="number"/><xsl:value-of select="str:padding(2, '-')"/><xsl:value-of select="."/></xsl:for-each>
  </xsl:template>
</xsl:stylesheet>'''))
assert str(xslt(doc)) == "--a--b--c", str(xslt(doc))
assert etree.LIBXML_VERSION == (2, 9, 14) and etree.LIBXSLT_VERSION == (1, 1, 35), (etree.LIBXML_VERSION, etree.LIBXSLT_VERSION)
assert [n.text for n in etree.parse("/tmp/w/doc.xml.gz").getroot()] == ["1", "2"]
print(sys.byteorder)"#;
    assert_s390x_python_prints(&rootfs, &unpacked, code, "big");
}

#[test]
#[ignore = "needs the real PyPI, Debian's source pool and the s390x rootfs environment"]
fn scrypt_links_the_openssl_pack_and_reaches_manylinux2014() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    // Attempt 1 fails on openssl/aes.h; the hint selects the OpenSSL pack for attempt 2.
    let unpacked = links_pack_and_reaches_manylinux2014(
        tmp.path(),
        "scrypt==0.8.27\n",
        "scrypt",
        "openssl",
        &["libcrypto", "libssl"],
    );
    // RFC 7914 section 12's second test vector, computed by libcrypto's PBKDF2 and the
    // scrypt core under emulation.
    let code = r#"import sys, scrypt
key = scrypt.hash(b"password", b"NaCl", N=1024, r=8, p=16, buflen=64)
assert key.hex() == "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640", key.hex()
print(sys.byteorder)"#;
    assert_s390x_python_prints(&rootfs, &unpacked, code, "big");
}

#[test]
#[ignore = "needs the real PyPI, Debian's source pool and the s390x rootfs environment"]
fn pillow_links_the_libjpeg_turbo_pack_built_with_cmake_and_reaches_manylinux2014() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    // Attempt 1 fails on "could not be found for jpeg"; the hint selects the libjpeg-turbo
    // pack (CMake from its PyPI wheel, emulated; the compiler native) for attempt 2.
    let unpacked = links_pack_and_reaches_manylinux2014(
        tmp.path(),
        "pillow==10.4.0\n",
        "pillow",
        "libjpeg-turbo",
        &["libjpeg"],
    );
    // A JPEG encoded and decoded by the linked libjpeg-turbo, and a PNG (zlib) round trip.
    let code = r#"import io, sys
from PIL import Image, features
assert features.check("jpg") and features.check_feature("libjpeg_turbo"), features.version("jpg")
assert features.version("libjpeg_turbo") == "2.1.5", features.version("libjpeg_turbo")
im = Image.new("RGB", (64, 48))
im.putdata([(x * 4, y * 5, 128) for y in range(48) for x in range(64)])
buf = io.BytesIO(); im.save(buf, "JPEG", quality=95)
back = Image.open(io.BytesIO(buf.getvalue())); back.load()
assert back.size == (64, 48) and back.mode == "RGB"
r, g, b = back.getpixel((40, 30))
assert abs(r - 160) < 12 and abs(g - 150) < 12 and abs(b - 128) < 12, (r, g, b)
buf = io.BytesIO(); im.save(buf, "PNG")
assert list(Image.open(io.BytesIO(buf.getvalue())).getdata()) == list(im.getdata())
print(sys.byteorder)"#;
    assert_s390x_python_prints(&rootfs, &unpacked, code, "big");
}

/// An sdist whose C extension finds OpenBLAS through `pkg-config openblas` (as numpy's
/// meson does) and calls CBLAS (dgemm, sgemm) and LAPACK (dgesv_). Without OpenBLAS,
/// pkg-config says "Package openblas was not found", which the catalog knows.
fn write_openblas_sdist(dir: &Path) -> std::path::PathBuf {
    let source = r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <cblas.h>

/* A[i][k] and B[k][j] of an n x n product: small integers, exact in float too. */
static double a_at(int i, int k) { return (i * 7 + k * 3) % 11 - 5; }
static double b_at(int k, int j) { return (k * 5 + j * 2) % 13 - 6; }

static PyObject *gemm(PyObject *self, PyObject *args) {
    int n, single;
    if (!PyArg_ParseTuple(args, "ip", &n, &single)) return NULL;
    double *a = malloc(sizeof(double) * n * n * 3);
    float *f = malloc(sizeof(float) * n * n * 3);
    double *b = a + n * n, *c = b + n * n;
    float *fb = f + n * n, *fc = fb + n * n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            a[i * n + j] = f[i * n + j] = a_at(i, j);
            b[i * n + j] = fb[i * n + j] = b_at(i, j);
        }
    if (single)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, f, n, fb, n, 0.0f, fc, n);
    else
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
    PyObject *out = PyList_New(n * n);
    for (int i = 0; i < n * n; i++)
        PyList_SET_ITEM(out, i, PyFloat_FromDouble(single ? fc[i] : c[i]));
    free(a); free(f);
    return out;
}

/* LAPACK's Fortran symbol, as numpy and scipy declare it. */
void dgesv_(const int *n, const int *nrhs, double *a, const int *lda, int *ipiv, double *b, const int *ldb, int *info);

/* 2x + y + z = 4, x + 3y + 2z = 5, x = 6: (6, 15, -23). Column-major. */
static PyObject *gesv(PyObject *self, PyObject *args) {
    double m[9] = {2, 1, 1, 1, 3, 0, 1, 2, 0}, rhs[3] = {4, 5, 6};
    int n = 3, one = 1, pivots[3], info = -1;
    dgesv_(&n, &one, m, &n, pivots, rhs, &n, &info);
    return Py_BuildValue("i(ddd)", info, rhs[0], rhs[1], rhs[2]);
}

static PyObject *config(PyObject *self, PyObject *args) {
    return Py_BuildValue("ss", openblas_get_config(), openblas_get_corename());
}

static PyMethodDef methods[] = {
    {"gemm", gemm, METH_VARARGS, "n x n product by cblas_dgemm or cblas_sgemm"},
    {"gesv", gesv, METH_NOARGS, "a 3 x 3 system by LAPACK dgesv"},
    {"config", config, METH_NOARGS, "OpenBLAS's build options and chosen core"},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "blasuser", NULL, -1, methods};
PyMODINIT_FUNC PyInit_blasuser(void) { return PyModule_Create(&module); }
"#;
    write_pkg_config_sdist(dir, "blasuser", &["openblas"], source)
}

#[test]
#[ignore = "long (the OpenBLAS pack takes 15-40 min cold): needs PyPI's file host (the OpenBLAS source) and the s390x rootfs environment; run by scripts/test-long.sh"]
fn long_the_openblas_pack_serves_cblas_and_lapack_through_pkg_config_for_manylinux2014() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_openblas_sdist(&index_dir);
    let index = refinery_index::testing::LocalIndex::serve_dir(&index_dir).unwrap();
    let input = requirements(tmp.path(), "blasuser==1.0\n");
    // Attempt 1 fails in pkg-config; the hint selects the OpenBLAS pack for attempt 2.
    // The environment's setuptools builds it (the local index has no setuptools).
    let (output, out) = main_job_with_env(
        &input,
        tmp.path(),
        &[
            "--index-url",
            &index.url,
            "--platform-tag",
            "manylinux2014_s390x",
            "--max-attempts",
            "1",
        ],
        &[(
            "PLAN_OVERRIDES_JSON",
            r#"{"blasuser": {"variant": "no-isolation"}}"#,
        )],
    );
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    let e = entry(&manifest(&out), "blasuser").clone();
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(
        e["metadata"]["reached_tag"], "manylinux2014_s390x.manylinux_2_17_s390x",
        "{e}"
    );
    assert!(
        e["metadata"]["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "pack openblas"),
        "{e}"
    );
    // The pack records the CPU level it was built for.
    let line = log
        .lines()
        .find(|l| l.contains("links the native library pack openblas-0.3.31-glibc2.17-"))
        .unwrap_or_else(|| panic!("openblas not linked:\n{log}"));
    let key = line.rsplit(' ').next().unwrap();
    let marker: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            envs_dir()
                .join("packs")
                .join(key)
                .join("refinery-pack.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        marker["cpu"].as_str().unwrap().starts_with("TARGET=Z13"),
        "{marker}"
    );
    let unpacked = tmp.path().join("unpacked");
    unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    let grafted: Vec<String> = walkdir::WalkDir::new(&unpacked)
        .into_iter()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("libopenblas") || n.starts_with("libgfortran"))
        .collect();
    assert!(grafted.is_empty(), "grafted, not linked: {grafted:?}");
    let versions = needed_versions(&unpacked);
    assert!(!versions.is_empty(), "no versioned symbols read");
    for (object, version) in &versions {
        assert!(
            !version.starts_with("GLIBCXX_") && glibc_minor(version) <= 17,
            "{object} needs {version}"
        );
    }
    // Products checked against Python's own arithmetic (large enough for OpenBLAS's
    // blocked kernels, not its small-matrix path), and a LAPACK solve.
    let code = r#"import sys, blasuser
n = 48
a = [[(i * 7 + k * 3) % 11 - 5 for k in range(n)] for i in range(n)]
b = [[(k * 5 + j * 2) % 13 - 6 for j in range(n)] for k in range(n)]
want = [float(sum(a[i][k] * b[k][j] for k in range(n))) for i in range(n) for j in range(n)]
assert blasuser.gemm(n, False) == want, "dgemm"
assert blasuser.gemm(n, True) == want, "sgemm"
assert blasuser.gesv() == (0, (6.0, 15.0, -23.0)), blasuser.gesv()
config, core = blasuser.config()
assert "Z13" in config and core.upper() == "Z13", (config, core)
print(sys.byteorder, core)"#;
    let run = run_s390x_python(&rootfs, &unpacked, code);
    let printed = String::from_utf8_lossy(&run.stdout).trim().to_string();
    assert!(
        printed.starts_with("big "),
        "{printed}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    eprintln!("OpenBLAS under emulation: {}", &printed[4..]);
}

/// An sdist whose C extension finds bzip2, liblzma, libzstd and liblz4 through one
/// `pkg-config` call and compresses with each. Without them pkgconf names every missing
/// package, so one failed attempt brings the four hints.
fn write_compression_sdist(dir: &Path) -> std::path::PathBuf {
    let source = r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <bzlib.h>
#include <lzma.h>
#include <zstd.h>
#include <lz4.h>

/* kind: "bz2", "xz", "zstd" (two worker threads) or "lz4"; compressed bytes. */
static PyObject *squeeze(PyObject *self, PyObject *args) {
    const char *kind; const char *in; Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "sy#", &kind, &in, &n)) return NULL;
    size_t cap = (size_t)n * 2 + 1024, size = 0;
    char *out = malloc(cap);
    int ok = 0;
    if (!strcmp(kind, "bz2")) {
        unsigned int len = (unsigned int)cap;
        ok = BZ2_bzBuffToBuffCompress(out, &len, (char *)in, (unsigned int)n, 9, 0, 0) == BZ_OK;
        size = len;
    } else if (!strcmp(kind, "xz")) {
        ok = lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, (const uint8_t *)in, n, (uint8_t *)out, &size, cap) == LZMA_OK;
    } else if (!strcmp(kind, "zstd")) {
        ZSTD_CCtx *cctx = ZSTD_createCCtx();
        ok = !ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, 2));
        if (ok) { size = ZSTD_compress2(cctx, out, cap, in, n); ok = !ZSTD_isError(size); }
        ZSTD_freeCCtx(cctx);
    } else if (!strcmp(kind, "lz4")) {
        int len = LZ4_compress_default(in, out, (int)n, (int)cap);
        ok = len > 0; size = len;
    }
    PyObject *result = ok ? PyBytes_FromStringAndSize(out, size) : NULL;
    if (!ok) PyErr_Format(PyExc_ValueError, "%s failed", kind);
    free(out);
    return result;
}

/* The inverse of squeeze for "bz2", "zstd" and "lz4", given the original size. */
static PyObject *unsqueeze(PyObject *self, PyObject *args) {
    const char *kind; const char *in; Py_ssize_t n, want;
    if (!PyArg_ParseTuple(args, "sy#n", &kind, &in, &n, &want)) return NULL;
    char *out = malloc(want + 1);
    long got = -1;
    if (!strcmp(kind, "bz2")) {
        unsigned int len = (unsigned int)want + 1;
        if (BZ2_bzBuffToBuffDecompress(out, &len, (char *)in, (unsigned int)n, 0, 0) == BZ_OK) got = len;
    } else if (!strcmp(kind, "zstd")) {
        size_t len = ZSTD_decompress(out, want + 1, in, n);
        if (!ZSTD_isError(len)) got = (long)len;
    } else if (!strcmp(kind, "lz4")) {
        got = LZ4_decompress_safe(in, out, (int)n, (int)want + 1);
    }
    PyObject *result = got >= 0 ? PyBytes_FromStringAndSize(out, got) : NULL;
    if (got < 0) PyErr_Format(PyExc_ValueError, "%s: corrupt input", kind);
    free(out);
    return result;
}

static PyObject *versions(PyObject *self, PyObject *args) {
    return Py_BuildValue("ssss", BZ2_bzlibVersion(), lzma_version_string(), ZSTD_versionString(), LZ4_versionString());
}

static PyMethodDef methods[] = {
    {"squeeze", squeeze, METH_VARARGS, "compress"},
    {"unsqueeze", unsqueeze, METH_VARARGS, "decompress"},
    {"versions", versions, METH_NOARGS, "library versions"},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "squeeze", NULL, -1, methods};
PyMODINIT_FUNC PyInit_squeeze(void) { return PyModule_Create(&module); }
"#;
    write_pkg_config_sdist(
        dir,
        "squeeze",
        &["bzip2", "liblzma", "libzstd", "liblz4"],
        source,
    )
}

/// A setuptools sdist `<name>-1.0` whose one extension, `<name>.c` (`source`), compiles and
/// links with what one `pkg-config --cflags --libs <pkg_config_args>` call says, as numpy's
/// meson finds its libraries (`-I` flags to the compiler, the rest to the linker).
fn write_pkg_config_sdist(
    dir: &Path,
    name: &str,
    pkg_config_args: &[&str],
    source: &str,
) -> std::path::PathBuf {
    let args: String = pkg_config_args.iter().map(|a| format!(", {a:?}")).collect();
    let setup_py = format!(
        r#"import subprocess
from setuptools import setup, Extension
flags = subprocess.run(["pkg-config", "--cflags", "--libs"{args}], check=True, stdout=subprocess.PIPE, text=True).stdout.split()
setup(ext_modules=[Extension("{name}", ["{name}.c"],
    extra_compile_args=[f for f in flags if f.startswith("-I")],
    extra_link_args=[f for f in flags if not f.startswith("-I")])])
"#
    );
    write_setuptools_sdist(
        dir,
        name,
        "1.0",
        &["setuptools"],
        setup_py,
        [(format!("{name}.c"), source.to_string())],
    )
}

/// Build the generated sdist `name==1.0` (written by `write_sdist` into a local index) for
/// manylinux2014 without build isolation, one attempt per variant: its first attempt fails
/// in pkg-config and the hints select `packs`. Asserts it ends `built`, tagged
/// manylinux2014, with a `pack …` action for each of `packs`, no shared library grafted
/// (the packs are linked in) and no symbol newer than `GLIBC_2.17` or from libstdc++.
/// Returns the bookworm rootfs and the unpacked wheel, for the checks under emulation.
fn generated_sdist_links_packs(
    work: &Path,
    write_sdist: fn(&Path) -> std::path::PathBuf,
    name: &str,
    packs: &[&str],
) -> (std::path::PathBuf, std::path::PathBuf) {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let index_dir = work.join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_sdist(&index_dir);
    let index = refinery_index::testing::LocalIndex::serve_dir(&index_dir).unwrap();
    let input = requirements(work, &format!("{name}==1.0\n"));
    let overrides = format!(r#"{{"{name}": {{"variant": "no-isolation"}}}}"#);
    let (output, out) = main_job_with_env(
        &input,
        work,
        &[
            "--index-url",
            &index.url,
            "--platform-tag",
            "manylinux2014_s390x",
            "--max-attempts",
            "1",
        ],
        &[("PLAN_OVERRIDES_JSON", &overrides)],
    );
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    let e = entry(&manifest(&out), name).clone();
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(
        e["metadata"]["reached_tag"], "manylinux2014_s390x.manylinux_2_17_s390x",
        "{e}"
    );
    let actions: Vec<&str> = e["metadata"]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for pack in packs {
        assert!(
            actions.contains(&format!("pack {pack}").as_str()),
            "{actions:?}"
        );
    }
    let unpacked = work.join("unpacked");
    unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    let grafted: Vec<String> = walkdir::WalkDir::new(&unpacked)
        .into_iter()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("lib") && n.contains(".so"))
        .collect();
    assert!(grafted.is_empty(), "grafted, not linked: {grafted:?}");
    assert_needs_at_most_glibc_2_17_and_no_libstdcxx(&unpacked);
    (rootfs, unpacked)
}

#[test]
#[ignore = "needs Debian's source pool and the s390x rootfs environment"]
fn the_bzip2_xz_zstd_and_lz4_packs_link_into_one_extension_for_manylinux2014() {
    let tmp = tempfile::tempdir().unwrap();
    // Attempt 1 fails in pkg-config, which names all four; their hints select the four
    // packs for attempt 2.
    let (rootfs, unpacked) = generated_sdist_links_packs(
        tmp.path(),
        write_compression_sdist,
        "squeeze",
        &["bzip2", "xz", "zstd", "lz4"],
    );
    // bz2 and xz output read back by Python's own bz2 and lzma modules (the
    // environment's libraries), zstd (two worker threads) and lz4 round trips.
    let code = r#"import bz2, lzma, sys, squeeze
data = b"".join(b"line %d of a big-endian test\n" % i for i in range(5000))
assert squeeze.versions() == ("1.0.8, 13-Jul-2019", "5.4.1", "1.5.4", "1.9.4"), squeeze.versions()
for kind in ("bz2", "xz", "zstd", "lz4"):
    packed = squeeze.squeeze(kind, data)
    assert len(packed) < len(data) // 4, (kind, len(packed))
    if kind == "xz":
        assert lzma.decompress(packed) == data
    else:
        assert squeeze.unsqueeze(kind, packed, len(data)) == data, kind
    if kind == "bz2":
        assert bz2.decompress(packed) == data
assert squeeze.squeeze("zstd", data)[:4] == b"\x28\xb5\x2f\xfd"
print(sys.byteorder)"#;
    assert_s390x_python_prints(&rootfs, &unpacked, code, "big");
}

/// An sdist whose extension lays text out with libraqm (SheenBidi's bidi, HarfBuzz's
/// shaping through FreeType) in a font given as bytes, linked with
/// `pkg-config --static raqm`, as a static build must (the packs' private libraries too).
fn write_text_layout_sdist(dir: &Path) -> std::path::PathBuf {
    let source = r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#include <hb.h>
#include <raqm.h>
#include <SheenBidi/SheenBidi.h>

/* (font bytes, UTF-8 text) -> (resolved paragraph direction, glyph indices in visual order) */
static PyObject *layout(PyObject *self, PyObject *args) {
    const char *font, *text; Py_ssize_t font_len, text_len;
    if (!PyArg_ParseTuple(args, "y#s#", &font, &font_len, &text, &text_len)) return NULL;
    FT_Library library; FT_Face face;
    if (FT_Init_FreeType(&library)) return PyErr_Format(PyExc_RuntimeError, "FT_Init_FreeType failed");
    int error = FT_New_Memory_Face(library, (const FT_Byte *)font, (FT_Long)font_len, 0, &face);
    if (error) {
        FT_Done_FreeType(library);
        return PyErr_Format(PyExc_ValueError, "FreeType refused the font: error %d", error);
    }
    FT_Set_Char_Size(face, 0, 16 * 64, 72, 72);
    raqm_t *rq = raqm_create();
    PyObject *result = NULL;
    if (rq && raqm_set_text_utf8(rq, text, (size_t)text_len) && raqm_set_freetype_face(rq, face)
        && raqm_set_par_direction(rq, RAQM_DIRECTION_DEFAULT) && raqm_layout(rq)) {
        size_t count;
        raqm_glyph_t *glyphs = raqm_get_glyphs(rq, &count);
        PyObject *indices = PyList_New((Py_ssize_t)count);
        for (size_t i = 0; i < count; i++)
            PyList_SET_ITEM(indices, (Py_ssize_t)i, PyLong_FromUnsignedLong(glyphs[i].index));
        result = Py_BuildValue("iN", (int)raqm_get_par_resolved_direction(rq), indices);
    } else {
        PyErr_SetString(PyExc_RuntimeError, "raqm_layout failed");
    }
    raqm_destroy(rq);
    FT_Done_Face(face);
    FT_Done_FreeType(library);
    return result;
}

static PyObject *versions(PyObject *self, PyObject *args) {
    FT_Library library; FT_Int major, minor, patch;
    FT_Init_FreeType(&library);
    FT_Library_Version(library, &major, &minor, &patch);
    FT_Done_FreeType(library);
    return Py_BuildValue("sss(iii)", raqm_version_string(), hb_version_string(), SBVersionGetString(), major, minor, patch);
}

static PyMethodDef methods[] = {
    {"layout", layout, METH_VARARGS, "lay text out"},
    {"versions", versions, METH_NOARGS, "library versions"},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "shaper", NULL, -1, methods};
PyMODINIT_FUNC PyInit_shaper(void) { return PyModule_Create(&module); }
"#;
    write_pkg_config_sdist(dir, "shaper", &["--static", "raqm"], source)
}

#[test]
#[ignore = "needs Debian's source pool and the s390x rootfs environment"]
fn the_raqm_harfbuzz_and_sheenbidi_packs_lay_out_mixed_direction_text_for_manylinux2014() {
    let tmp = tempfile::tempdir().unwrap();
    // Attempt 1 fails in pkg-config ("Package raqm was not found"); the raqm hint selects
    // its pack, which brings the HarfBuzz, SheenBidi, FreeType and zlib packs.
    let (rootfs, unpacked) =
        generated_sdist_links_packs(tmp.path(), write_text_layout_sdist, "shaper", &["raqm"]);
    // A TrueType font written with struct: a-z are glyphs 1-26, U+0621-U+064A (Arabic)
    // glyphs 27-68, every glyph empty. "ab سلام" is a left-to-right paragraph, "سلام ab" a
    // right-to-left one; in both the glyphs come in visual order, the Arabic run reversed
    // (meem, alef, lam, seen: 63, 33, 62, 45) and "ab" not; the space maps to no glyph (0).
    let code = r#"import math, struct, shaper
def checksum(data):
    data += b"\0" * (-len(data) % 4)
    return sum(struct.unpack(">%dI" % (len(data) // 4), data)) & 0xFFFFFFFF
def font(glyphs=69):
    segments = [(0x61, 0x7A, 1), (0x621, 0x64A, 27)]
    starts = [s for s, _, _ in segments] + [0xFFFF]
    ends = [e for _, e, _ in segments] + [0xFFFF]
    deltas = [(g - s) & 0xFFFF for s, _, g in segments] + [1]
    n = len(starts)
    search = 2 * 2 ** int(math.log2(n))
    body = struct.pack(">%dH" % n, *ends) + b"\0\0" + struct.pack(">%dH" % n, *starts) + struct.pack(">%dH" % n, *deltas) + b"\0\0" * n
    fmt4 = struct.pack(">7H", 4, 14 + len(body), 0, 2 * n, search, int(math.log2(search // 2)), 2 * n - search) + body
    tables = {
        b"head": struct.pack(">IIIIHHqqhhhhHHhhh", 0x10000, 0x10000, 0, 0x5F0F3CF5, 0, 1000, 0, 0, 0, -200, 500, 800, 0, 8, 2, 0, 0),
        b"hhea": struct.pack(">IhhhH11hH", 0x10000, 800, -200, 0, 500, 0, 0, 500, 1, 0, 0, 0, 0, 0, 0, 0, glyphs),
        b"maxp": struct.pack(">IH13H", 0x10000, glyphs, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0),
        b"hmtx": struct.pack(">Hh", 500, 0) * glyphs,
        b"loca": b"\0\0" * (glyphs + 1),
        b"glyf": b"\0" * 4,
        b"cmap": struct.pack(">HHHHI", 0, 1, 3, 1, 12) + fmt4,
        b"post": struct.pack(">IihhIIIII", 0x30000, 0, 0, 0, 0, 0, 0, 0, 0),
        b"name": struct.pack(">HHH", 0, 0, 6),
    }
    tags = sorted(tables)
    search = 16 * 2 ** int(math.log2(len(tags)))
    head = struct.pack(">IHHHH", 0x10000, len(tags), search, int(math.log2(len(tags))), 16 * len(tags) - search)
    offset, data = 12 + 16 * len(tags), b""
    for tag in tags:
        head += struct.pack(">4sIII", tag, checksum(tables[tag]), offset + len(data), len(tables[tag]))
        data += tables[tag] + b"\0" * (-len(tables[tag]) % 4)
    return head + data
f = font()
assert shaper.versions() == ("0.10.5", "10.2.0", "3.0.0", (2, 12, 1)), shaper.versions()
direction = {1: "rtl", 2: "ltr"}  # raqm_direction_t
for text in ("ab \u0633\u0644\u0627\u0645", "\u0633\u0644\u0627\u0645 ab"):
    resolved, glyphs = shaper.layout(f, text)
    print(direction[resolved], glyphs)"#;
    assert_s390x_python_prints(
        &rootfs,
        &unpacked,
        code,
        "ltr [1, 2, 0, 63, 33, 62, 45]\nrtl [1, 2, 0, 63, 33, 62, 45]",
    );
}

/// An sdist whose extension calls Fortran (a matrix product and a formatted write, both
/// in libgfortran's run time) and links with the Fortran driver, as numpy.distutils did.
fn write_fortran_sdist(dir: &Path) -> std::path::PathBuf {
    let kernel = r#"module kernel
  use iso_c_binding
  implicit none
contains
  function ksum(n) bind(c, name="ksum") result(r)
    integer(c_int), value :: n
    real(c_double) :: r
    real(c_double), allocatable :: a(:, :)
    integer :: i
    allocate(a(n, n))
    a = reshape([(dble(i), i = 1, n * n)], [n, n])
    r = sum(matmul(a, transpose(a)))
  end function
  subroutine kformat(x, out, length) bind(c, name="kformat")
    real(c_double), value :: x
    integer(c_int), value :: length
    character(kind=c_char), intent(out) :: out(length)
    character(len=64) :: s
    integer :: i
    write(s, '(ES12.5)') x
    do i = 1, length
      out(i) = s(i:i)
    end do
  end subroutine
end module
"#;
    let source = r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>

double ksum(int n);                              /* kernel.f90 */
void kformat(double x, char *out, int length);   /* kernel.f90 */

static PyObject *py_ksum(PyObject *self, PyObject *args) {
    int n;
    if (!PyArg_ParseTuple(args, "i", &n)) return NULL;
    return PyFloat_FromDouble(ksum(n));
}

static PyObject *py_kformat(PyObject *self, PyObject *args) {
    double x; char buf[33];
    if (!PyArg_ParseTuple(args, "d", &x)) return NULL;
    kformat(x, buf, 32);
    buf[32] = 0;
    return PyUnicode_FromString(buf);
}

static PyMethodDef methods[] = {
    {"ksum", py_ksum, METH_VARARGS, "sum of A A^T for A = 1..n*n (Fortran)"},
    {"kformat", py_kformat, METH_VARARGS, "x written with ES12.5 (Fortran)"},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "fkernel", NULL, -1, methods};
PyMODINIT_FUNC PyInit_fkernel(void) { return PyModule_Create(&module); }
"#;
    let setup_py = r#"import os, subprocess
from setuptools import setup, Extension
from setuptools.command.build_ext import build_ext

class FortranBuildExt(build_ext):
    def build_extensions(self):
        os.makedirs(self.build_temp, exist_ok=True)
        obj = os.path.join(self.build_temp, "kernel.o")
        subprocess.run(["gfortran", "-O2", "-fPIC", "-c", "kernel.f90", "-o", obj], check=True)
        self.extensions[0].extra_objects = [obj]
        self.compiler.set_executable("linker_so", ["gfortran", "-shared"])
        super().build_extensions()

setup(ext_modules=[Extension("fkernel", ["fkernel.c"])], cmdclass={"build_ext": FortranBuildExt})
"#;
    let (name, version) = ("fkernel", "1.0");
    write_tar_gz(
        dir,
        &format!("{name}-{version}"),
        [
            (
                "PKG-INFO".to_string(),
                format!("Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n"),
            ),
            (
                "pyproject.toml".to_string(),
                format!("[build-system]\nrequires = [\"setuptools\"]\nbuild-backend = \"setuptools.build_meta\"\n\n[project]\nname = \"{name}\"\nversion = \"{version}\"\n"),
            ),
            ("setup.py".to_string(), setup_py.to_string()),
            ("fkernel.c".to_string(), source.to_string()),
            ("kernel.f90".to_string(), kernel.to_string()),
        ],
    )
}

#[test]
#[ignore = "long (the libgfortran pack cold: its configure scripts run emulated, over 30 min on the loaded 2-core machine; about 1 min with the pack in the store): needs Debian's source pool (GCC's sources) and the s390x rootfs environment"]
fn long_a_fortran_extension_links_the_libgfortran_pack_and_reaches_manylinux2014() {
    let tmp = tempfile::tempdir().unwrap();
    // Attempt 1 fails at the link: the gfortran wrapper finds no libgfortran and says so;
    // the hint selects the pack for attempt 2.
    let (rootfs, unpacked) =
        generated_sdist_links_packs(tmp.path(), write_fortran_sdist, "fkernel", &["libgfortran"]);
    // 837 = |(6, 15, 24)|^2: A A^T summed for A = [1..9] column-major.
    assert_s390x_python_prints(
        &rootfs,
        &unpacked,
        "import sys, fkernel; print(fkernel.ksum(3), fkernel.kformat(837.0).strip(), sys.byteorder)",
        "837.0 8.37000E+02 big",
    );
}

/// An sdist whose C extension finds libpng, FreeType, libwebp (with mux and demux) and
/// libtiff through one `pkg-config` call and encodes and decodes with each.
fn write_imaging_sdist(dir: &Path) -> std::path::PathBuf {
    let source = r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <png.h>
#include <ft2build.h>
#include FT_FREETYPE_H
#include <webp/encode.h>
#include <webp/decode.h>
#include <webp/mux.h>
#include <webp/demux.h>
#include <tiffio.h>

/* RGB pixels -> (PNG file bytes, RGB decoded back by libpng). */
static PyObject *png(PyObject *self, PyObject *args) {
    const char *rgb; Py_ssize_t n; int w, h;
    if (!PyArg_ParseTuple(args, "y#ii", &rgb, &n, &w, &h)) return NULL;
    png_image img; memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION; img.width = w; img.height = h; img.format = PNG_FORMAT_RGB;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&img, NULL, &size, 0, rgb, 0, NULL)) return PyErr_Format(PyExc_ValueError, "png size: %s", img.message);
    void *file = malloc(size);
    if (!png_image_write_to_memory(&img, file, &size, 0, rgb, 0, NULL)) return PyErr_Format(PyExc_ValueError, "png write: %s", img.message);
    png_image back; memset(&back, 0, sizeof back); back.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&back, file, size)) return PyErr_Format(PyExc_ValueError, "png read: %s", back.message);
    back.format = PNG_FORMAT_RGB;
    char *out = malloc(PNG_IMAGE_SIZE(back));
    if (!png_image_finish_read(&back, NULL, out, 0, NULL)) return PyErr_Format(PyExc_ValueError, "png decode: %s", back.message);
    PyObject *result = Py_BuildValue("y#y#", file, (Py_ssize_t)size, out, (Py_ssize_t)PNG_IMAGE_SIZE(back));
    free(file); free(out);
    return result;
}

/* RGB pixels -> (lossless WebP bytes, RGB decoded back by libwebp). */
static PyObject *webp(PyObject *self, PyObject *args) {
    const char *rgb; Py_ssize_t n; int w, h, dw = 0, dh = 0;
    if (!PyArg_ParseTuple(args, "y#ii", &rgb, &n, &w, &h)) return NULL;
    uint8_t *file = NULL;
    size_t size = WebPEncodeLosslessRGB((const uint8_t *)rgb, w, h, w * 3, &file);
    if (!size) return PyErr_Format(PyExc_ValueError, "webp encode failed");
    uint8_t *out = WebPDecodeRGB(file, size, &dw, &dh);
    if (!out) return PyErr_Format(PyExc_ValueError, "webp decode failed");
    PyObject *result = Py_BuildValue("y#y#", file, (Py_ssize_t)size, out, (Py_ssize_t)dw * dh * 3);
    WebPFree(file); WebPFree(out);
    return result;
}

/* RGB pixels written to path with a TIFF compression scheme, read back as RGB. */
static PyObject *tiff(PyObject *self, PyObject *args) {
    const char *path, *rgb; Py_ssize_t n; int w, h, compression;
    if (!PyArg_ParseTuple(args, "sy#iii", &path, &rgb, &n, &w, &h, &compression)) return NULL;
    TIFF *t = TIFFOpen(path, "w");
    if (!t) return PyErr_Format(PyExc_OSError, "cannot write %s", path);
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w); TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8); TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB); TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, h); TIFFSetField(t, TIFFTAG_COMPRESSION, compression);
    for (int y = 0; y < h; y++)
        if (TIFFWriteScanline(t, (void *)(rgb + (size_t)y * w * 3), y, 0) < 0) { TIFFClose(t); return PyErr_Format(PyExc_OSError, "scanline %d", y); }
    TIFFClose(t);
    t = TIFFOpen(path, "r");
    if (!t) return PyErr_Format(PyExc_OSError, "cannot read %s", path);
    uint32_t *raster = _TIFFmalloc((tmsize_t)w * h * 4);
    int ok = TIFFReadRGBAImageOriented(t, w, h, raster, ORIENTATION_TOPLEFT, 0);
    TIFFClose(t);
    if (!ok) { _TIFFfree(raster); return PyErr_Format(PyExc_ValueError, "tiff decode failed"); }
    char *out = malloc((size_t)w * h * 3);
    for (int i = 0; i < w * h; i++) {
        out[3 * i] = TIFFGetR(raster[i]); out[3 * i + 1] = TIFFGetG(raster[i]); out[3 * i + 2] = TIFFGetB(raster[i]);
    }
    PyObject *result = PyBytes_FromStringAndSize(out, (Py_ssize_t)w * h * 3);
    _TIFFfree(raster); free(out);
    return result;
}

/* (FreeType version, error of opening bytes that are no font: non-zero). */
static PyObject *freetype(PyObject *self, PyObject *args) {
    FT_Library lib; FT_Int a, b, c; FT_Face face;
    if (FT_Init_FreeType(&lib)) return PyErr_Format(PyExc_RuntimeError, "FT_Init_FreeType failed");
    FT_Library_Version(lib, &a, &b, &c);
    int err = FT_New_Memory_Face(lib, (const FT_Byte *)"not a font at all", 17, 0, &face);
    FT_Done_FreeType(lib);
    return Py_BuildValue("(iii)i", a, b, c, err);
}

static PyObject *versions(PyObject *self, PyObject *args) {
    return Py_BuildValue("siiis", png_get_libpng_ver(NULL), WebPGetDecoderVersion(), WebPGetMuxVersion(), WebPGetDemuxVersion(), TIFFGetVersion());
}

static PyMethodDef methods[] = {
    {"png", png, METH_VARARGS, "PNG round trip"},
    {"webp", webp, METH_VARARGS, "WebP round trip"},
    {"tiff", tiff, METH_VARARGS, "TIFF round trip"},
    {"freetype", freetype, METH_NOARGS, "FreeType"},
    {"versions", versions, METH_NOARGS, "library versions"},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "pictures", NULL, -1, methods};
PyMODINIT_FUNC PyInit_pictures(void) { return PyModule_Create(&module); }
"#;
    write_pkg_config_sdist(
        dir,
        "pictures",
        &[
            "libpng16",
            "freetype2",
            "libwebp",
            "libwebpmux",
            "libwebpdemux",
            "libtiff-4",
        ],
        source,
    )
}

#[test]
#[ignore = "needs Debian's source pool, PyPI (CMake) and the s390x rootfs environment"]
fn the_libpng_freetype_libwebp_and_libtiff_packs_link_into_one_extension_for_manylinux2014() {
    let tmp = tempfile::tempdir().unwrap();
    // Attempt 1 fails in pkg-config; the hints select the four packs (and zlib and
    // libjpeg-turbo below them) for attempt 2.
    let (rootfs, unpacked) = generated_sdist_links_packs(
        tmp.path(),
        write_imaging_sdist,
        "pictures",
        &["libpng", "freetype", "libwebp", "libtiff"],
    );
    // Lossless round trips through libpng, libwebp and libtiff (Deflate: zlib), a lossy
    // one through libtiff's JPEG codec (libjpeg-turbo), and FreeType refusing a non-font.
    let code = r#"import sys, zlib, pictures
w, h = 40, 30
rgb = bytes(v for y in range(h) for x in range(w) for v in (x * 6, y * 8, (x * y) % 256))
png, back = pictures.png(rgb, w, h)
assert png[:8] == b"\x89PNG\r\n\x1a\n" and back == rgb
webp, back = pictures.webp(rgb, w, h)
assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP" and back == rgb
assert pictures.tiff("/tmp/deflate.tif", rgb, w, h, 8) == rgb
lossy = pictures.tiff("/tmp/jpeg.tif", rgb, w, h, 7)
assert max(abs(a - b) for a, b in zip(lossy, rgb)) < 40, max(abs(a - b) for a, b in zip(lossy, rgb))
assert open("/tmp/jpeg.tif", "rb").read()[:4] == b"MM\x00\x2a"
version, error = pictures.freetype()
assert version == (2, 12, 1) and error != 0, (version, error)
png_version, webp_version, mux, demux, tiff = pictures.versions()
assert png_version == "1.6.39" and webp_version == mux == demux == 0x010204, pictures.versions()
assert tiff.startswith("LIBTIFF, Version 4.5.0"), tiff
print(sys.byteorder)"#;
    assert_s390x_python_prints(&rootfs, &unpacked, code, "big");
}

/// An sdist whose C extension finds bzip2 through `pkg-config` (the environment has no
/// `bzip2.pc`, so the hint selects the bzip2 pack) and reports its version.
fn write_bzip2_sdist(dir: &Path) -> std::path::PathBuf {
    let source = r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <bzlib.h>

static PyObject *version(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(BZ2_bzlibVersion());
}

static PyMethodDef methods[] = {{"version", version, METH_NOARGS, "libbz2's version"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "bzver", NULL, -1, methods};
PyMODINIT_FUNC PyInit_bzver(void) { return PyModule_Create(&module); }
"#;
    write_pkg_config_sdist(dir, "bzver", &["bzip2"], source)
}

/// An environments folder whose build environments, Zig and Rust are the shared ones
/// (links) but whose packs folder is its own and empty, so packs are made cold.
fn envs_with_empty_packs(dir: &Path) -> std::path::PathBuf {
    let envs = dir.join("envs");
    std::fs::create_dir_all(envs.join("packs")).unwrap();
    for entry in std::fs::read_dir(envs_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "packs" {
            std::os::unix::fs::symlink(entry.path(), envs.join(entry.file_name())).unwrap();
        }
    }
    envs
}

/// Entries of a packs folder other than its lock folder.
fn pack_store_entries(packs: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(packs)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != ".locks")
        .collect();
    names.sort();
    names
}

#[test]
#[ignore = "needs Debian's source pool and the s390x rootfs environment"]
fn a_pack_whose_source_fails_fails_the_package_naming_its_log_and_the_next_run_builds_it() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    let envs = envs_with_empty_packs(tmp.path());
    let packs = envs.join("packs");
    let index_dir = tmp.path().join("index");
    std::fs::create_dir_all(&index_dir).unwrap();
    write_bzip2_sdist(&index_dir);
    let index = refinery_index::testing::LocalIndex::serve_dir(&index_dir).unwrap();
    let overrides = r#"{"bzver": {"variant": "no-isolation"}}"#;
    let mirror = tmp.path().join("mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    let mirror_url = format!("file://{}/", mirror.display());
    let run = |name: &str, mirror: Option<&str>| {
        let work = tmp.path().join(name);
        let input = requirements(&work, "bzver==1.0\n");
        let mut env = vec![
            ("PLAN_OVERRIDES_JSON", overrides),
            ("REFINERY_ENVS_DIR", envs.to_str().unwrap()),
        ];
        if let Some(mirror) = mirror {
            env.push(("REFINERY_PACK_SOURCES", mirror));
        }
        let (output, out) = main_job_with_env(
            &input,
            &work,
            &[
                "--index-url",
                &index.url,
                "--platform-tag",
                "manylinux2014_s390x",
                "--max-attempts",
                "1",
            ],
            &env,
        );
        let e = entry(&manifest(&out), "bzver").clone();
        (output, out, e)
    };
    // The failed package's detail names the pack's log, which says why.
    let failed_with_log = |e: &serde_json::Value, why: &str| {
        assert_eq!(e["status"], "failed", "{e}");
        let detail = e["detail"].as_str().unwrap();
        assert!(detail.contains("the pack bzip2 1.0.8"), "{detail}");
        let log = detail
            .split("see ")
            .nth(1)
            .and_then(|rest| rest.split([';', ' ']).next())
            .unwrap_or_else(|| panic!("no log named: {detail}"));
        assert!(log.contains("-pack-bzip2-1.0.8-glibc2.17-"), "{detail}");
        let text = std::fs::read_to_string(log).unwrap();
        assert!(text.contains(why), "{text}");
        assert!(text.contains("bzip2_1.0.8.orig.tar.gz"), "{text}");
    };

    // 1. The mirror lacks the source: the download fails.
    let (_, _, e) = run("missing", Some(&mirror_url));
    failed_with_log(&e, "cannot download");
    assert!(
        pack_store_entries(&packs).is_empty(),
        "{:?}",
        pack_store_entries(&packs)
    );

    // 2. The mirror's copy has other bytes: refused by its sha256.
    std::fs::write(
        mirror.join("bzip2_1.0.8.orig.tar.gz"),
        b"not the bzip2 source",
    )
    .unwrap();
    let (_, _, e) = run("corrupt", Some(&mirror_url));
    failed_with_log(&e, "sha256 mismatch");
    assert!(
        pack_store_entries(&packs).is_empty(),
        "{:?}",
        pack_store_entries(&packs)
    );

    // 3. From Debian: nothing of the failed runs is taken, the pack is made and linked.
    let (output, out, e) = run("debian", None);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(e["status"], "built", "{e}");
    assert_eq!(
        e["metadata"]["reached_tag"], "manylinux2014_s390x.manylinux_2_17_s390x",
        "{e}"
    );
    let made = pack_store_entries(&packs);
    assert_eq!(made.len(), 1, "{made:?}");
    assert!(made[0].starts_with("bzip2-1.0.8-glibc2.17-"), "{made:?}");
    assert!(packs.join(&made[0]).join("refinery-pack.json").is_file());
    let unpacked = tmp.path().join("unpacked");
    unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    assert_needs_at_most_glibc_2_17_and_no_libstdcxx(&unpacked);
    assert_s390x_python_prints(
        &rootfs,
        &unpacked,
        "import bzver; print(bzver.version())",
        "1.0.8, 13-Jul-2019",
    );
}

/// An sdist whose C extension finds SQLite through `pkg-config` and runs one SQL
/// statement on an in-memory database, returning the first column of each row as text.
fn write_sqlite_sdist(dir: &Path) -> std::path::PathBuf {
    let source = r#"#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sqlite3.h>

static int row(void *list, int n, char **values, char **names) {
    PyObject *text = PyUnicode_FromString(values[0] ? values[0] : "NULL");
    PyList_Append((PyObject *)list, text);
    Py_DECREF(text);
    return 0;
}

static PyObject *run(PyObject *self, PyObject *args) {
    const char *sql;
    if (!PyArg_ParseTuple(args, "s", &sql)) return NULL;
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return PyErr_Format(PyExc_RuntimeError, "open failed");
    PyObject *rows = PyList_New(0);
    char *error = NULL;
    if (sqlite3_exec(db, sql, row, rows, &error) != SQLITE_OK) {
        PyErr_Format(PyExc_RuntimeError, "%s", error);
        sqlite3_free(error);
        sqlite3_close(db);
        Py_DECREF(rows);
        return NULL;
    }
    sqlite3_close(db);
    return rows;
}

static PyObject *version(PyObject *self, PyObject *args) {
    return PyUnicode_FromString(sqlite3_libversion());
}

static PyMethodDef methods[] = {
    {"run", run, METH_VARARGS, "run SQL"},
    {"version", version, METH_NOARGS, "SQLite's version"},
    {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "sqlver", NULL, -1, methods};
PyMODINIT_FUNC PyInit_sqlver(void) { return PyModule_Create(&module); }
"#;
    write_pkg_config_sdist(dir, "sqlver", &["sqlite3"], source)
}

#[test]
#[ignore = "needs PyPI's file host (the SQLite amalgamation) and the s390x rootfs environment"]
fn the_sqlite_pack_links_into_an_extension_for_manylinux2014() {
    let tmp = tempfile::tempdir().unwrap();
    // Attempt 1 fails in pkg-config ("Package sqlite3 was not found"); the hint selects
    // the pack for attempt 2.
    let (rootfs, unpacked) =
        generated_sdist_links_packs(tmp.path(), write_sqlite_sdist, "sqlver", &["sqlite"]);
    // FTS5 and R*Tree compiled in, JSON built in, and a recursive query, on big-endian.
    let code = r#"import sqlver
assert sqlver.version() == "3.46.1", sqlver.version()
assert sqlver.run("create virtual table t using fts5(body); insert into t values ('big endian s390x'), ('little endian'); select body from t where t match 'big'") == ["big endian s390x"]
assert sqlver.run("create virtual table r using rtree(id, x0, x1); insert into r values (1, 0, 10); select id from r where x0 <= 5 and x1 >= 5") == ["1"]
assert sqlver.run("""select json_extract('{"a": [1, 2, 3]}', '$.a[2]')""") == ["3"]
print(sqlver.run("with recursive n(i) as (select 1 union all select i + 1 from n where i < 100) select sum(i) from n")[0])"#;
    assert_s390x_python_prints(&rootfs, &unpacked, code, "5050");
}

#[test]
#[ignore = "needs the real PyPI (google-crc32c and the py-bitcoinkernel sdist that carries Google's crc32c) and the s390x rootfs environment"]
fn google_crc32c_links_the_crc32c_pack_and_reaches_manylinux2014() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    // The hint takes the pack up front: without the library, setup.py would quietly build
    // pure Python (refused from a compiled sdist).
    let unpacked = links_pack_and_reaches_manylinux2014(
        tmp.path(),
        "google-crc32c==1.9.0\n",
        "google-crc32c",
        "crc32c",
        &["libcrc32c"],
    );
    // The pack is found through its variables, not CRC32C_INSTALL_PREFIX, which would
    // also write the builder's pack path into the extension as its RUNPATH.
    for entry in walkdir::WalkDir::new(&unpacked)
        .into_iter()
        .map(Result::unwrap)
    {
        if entry.file_name().to_string_lossy().ends_with(".so") {
            let dynamic = Command::new("readelf")
                .arg("-d")
                .arg(entry.path())
                .output()
                .unwrap();
            let dynamic = String::from_utf8_lossy(&dynamic.stdout);
            assert!(
                !dynamic.contains("PATH"),
                "{}: {dynamic}",
                entry.path().display()
            );
        }
    }
    // RFC 3720's check value through the C extension: the pack's portable code reads
    // 8 bytes at a time, little-endian, which only the big-endian define gets right here.
    let code = r#"import sys, google_crc32c
assert google_crc32c.implementation == "c", google_crc32c.implementation
assert google_crc32c.value(b"123456789") == 0xE3069283, hex(google_crc32c.value(b"123456789"))
print(sys.byteorder)"#;
    assert_s390x_python_prints(&rootfs, &unpacked, code, "big");
}

#[test]
#[ignore = "needs the real PyPI, Debian's source pool and the s390x rootfs environment"]
fn psycopg2_finds_pg_config_of_the_libpq_pack_and_reaches_manylinux2014() {
    let rootfs = bookworm_rootfs().expect("the bookworm environment");
    let tmp = tempfile::tempdir().unwrap();
    // Attempt 1 fails ("pg_config executable not found"); the hint selects the libpq pack
    // (OpenSSL linked into it), whose bin folder is on PATH for attempt 2.
    let (e, out) =
        built_for_manylinux2014(tmp.path(), "psycopg2-binary==2.9.13\n", "psycopg2-binary");
    assert_eq!(
        e["metadata"]["reached_tag"], "manylinux2014_s390x.manylinux_2_17_s390x",
        "{e}"
    );
    let actions = e["metadata"]["actions"].to_string();
    assert!(actions.contains("pack libpq"), "{actions}");
    let unpacked = tmp.path().join("unpacked");
    unzip(&out.join(e["path"].as_str().unwrap()), &unpacked);
    // libpq.so.5 is grafted from the pack, as in upstream's psycopg2-binary wheels.
    let grafted: Vec<String> = walkdir::WalkDir::new(&unpacked)
        .into_iter()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("libpq"))
        .collect();
    assert_eq!(grafted.len(), 1, "{grafted:?}");
    assert_needs_at_most_glibc_2_17_and_no_libstdcxx(&unpacked);
    // On s390x: the pack's libpq 15.18 with TLS compiled in (sslmode=require is refused
    // at once by a libpq without it); the connection itself is refused, the network cut.
    let code = r#"import psycopg2, psycopg2.extensions as ext
assert ext.libpq_version() == 150018, ext.libpq_version()
try:
    psycopg2.connect("host=127.0.0.1 port=1 connect_timeout=5 sslmode=require")
except psycopg2.OperationalError as err:
    text = str(err)
    assert "SSL support is not compiled in" not in text, text
    print("refused" if "refused" in text or "could not connect" in text else text)"#;
    assert_s390x_python_prints(&rootfs, &unpacked, code, "refused");
}
