"""Generate small C-extension sdists (setuptools, static metadata) for the benchmarks."""
import io, sys, tarfile

def add(tar, path, text):
    data = text.encode()
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))

def write(dest, name, version, functions=200):
    base = f"{name}-{version}"
    body = "\n".join(
        f"static PyObject *f{i}(PyObject *s, PyObject *a) {{ long x = {i}; for (int k = 0; k < 100; k++) x = x * 31 + k; return PyLong_FromLong(x); }}"
        for i in range(functions))
    table = ", ".join(f'{{"f{i}", f{i}, METH_NOARGS, NULL}}' for i in range(functions))
    source = f"""#define PY_SSIZE_T_CLEAN
#include <Python.h>
{body}
static PyMethodDef methods[] = {{{table}, {{NULL, NULL, 0, NULL}}}};
static struct PyModuleDef module = {{PyModuleDef_HEAD_INIT, "{name}", NULL, -1, methods}};
PyMODINIT_FUNC PyInit_{name}(void) {{ return PyModule_Create(&module); }}
"""
    with tarfile.open(f"{dest}/{base}.tar.gz", "w:gz") as tar:
        add(tar, f"{base}/PKG-INFO", f"Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n")
        add(tar, f"{base}/pyproject.toml",
            f'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "{name}"\nversion = "{version}"\n')
        add(tar, f"{base}/setup.py",
            f'from setuptools import setup, Extension\nsetup(ext_modules=[Extension("{name}", ["{name}.c"])])\n')
        add(tar, f"{base}/{name}.c", source)

if __name__ == "__main__":
    dest, count = sys.argv[1], int(sys.argv[2])
    for i in range(count):
        write(dest, f"refbench{i}", "1.0")
