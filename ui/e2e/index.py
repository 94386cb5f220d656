"""A local PEP 503 package index for the browser tests.

Writes into DIR a pure wheel (reused by plans), sdists that need building (with static
PKG-INFO metadata so the resolver needs no build backend from an index), one sdist with an
in-tree PEP 517 backend that builds with nothing from an index (the CLI run's), and the
`simple/` pages that list them with sha256 fragments; then serves DIR on 127.0.0.1 at a
free port and prints `PORT <n>` once it listens.

Usage: python3 index.py DIR
"""

import base64
import hashlib
import http.server
import io
import os
import socketserver
import sys
import tarfile
import zipfile


def wheel(dir_, name, version, requires=()):
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    files = {
        f"{module}/__init__.py": "VALUE = 1\n",
        f"{dist_info}/METADATA": metadata,
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nGenerator: e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    filename = f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(dir_, filename), "w") as z:
        for member, text in files.items():
            data = text.encode()
            z.writestr(member, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{member},sha256={digest},{len(data)}")
        record.append(f"{dist_info}/RECORD,,")
        z.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return filename


def sdist(dir_, name, version, requires=()):
    base = f"{name.replace('-', '_')}-{version}"
    pkg_info = f"Metadata-Version: 2.2\nName: {name}\nVersion: {version}\nRequires-Python: >=3.8\n" + "".join(
        f"Requires-Dist: {r}\n" for r in requires
    )
    deps = ", ".join(f'"{r}"' for r in requires)
    pyproject = (
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "{version}"\ndependencies = [{deps}]\n'
    )
    filename = f"{base}.tar.gz"
    with tarfile.open(os.path.join(dir_, filename), "w:gz") as tar:
        for member, text in (("PKG-INFO", pkg_info), ("pyproject.toml", pyproject)):
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return filename


TINY_BACKEND = """import base64, hashlib, os, zipfile
NAME, VERSION = {name!r}, {version!r}
METADATA = {metadata!r}
DIST_INFO = NAME + "-" + VERSION + ".dist-info"
WHEEL = "Wheel-Version: 1.0\\nGenerator: tinybackend\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    target = os.path.join(metadata_directory, DIST_INFO)
    os.makedirs(target, exist_ok=True)
    for member, text in (("METADATA", METADATA), ("WHEEL", WHEEL)):
        with open(os.path.join(target, member), "w") as f:
            f.write(text)
    return DIST_INFO

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {{NAME + "/__init__.py": "VALUE = 42\\n", DIST_INFO + "/METADATA": METADATA, DIST_INFO + "/WHEEL": WHEEL}}
    record = []
    filename = NAME + "-" + VERSION + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as z:
        for member, text in files.items():
            data = text.encode()
            z.writestr(member, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(member + ",sha256=" + digest + "," + str(len(data)))
        record.append(DIST_INFO + "/RECORD,,")
        z.writestr(DIST_INFO + "/RECORD", "\\n".join(record) + "\\n")
    return filename
"""


def tiny_sdist(dir_, name, version):
    """An sdist whose in-tree backend needs nothing from an index: it builds offline."""
    base = f"{name}-{version}"
    metadata = f"Metadata-Version: 2.2\nName: {name}\nVersion: {version}\nRequires-Python: >=3.8\n"
    members = {
        "PKG-INFO": metadata,
        "pyproject.toml": '[build-system]\nrequires = []\nbuild-backend = "tinybackend"\nbackend-path = ["."]\n',
        "tinybackend.py": TINY_BACKEND.format(name=name, version=version, metadata=metadata),
    }
    filename = f"{base}.tar.gz"
    with tarfile.open(os.path.join(dir_, filename), "w:gz") as tar:
        for member, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return filename


def normalize(name):
    import re

    return re.sub(r"[-_.]+", "-", name).lower()


def write_index(root):
    files_dir = os.path.join(root, "files")
    os.makedirs(files_dir, exist_ok=True)
    made = {
        "tinypure": [wheel(files_dir, "tinypure", "2.0")],
        "needsbuild": [sdist(files_dir, "needsbuild", "1.0", ["tinypure>=1"])],
        "failpkg": [sdist(files_dir, "failpkg", "0.3")],
        "clitiny": [tiny_sdist(files_dir, "clitiny", "1.0")],
    }
    simple = os.path.join(root, "simple")
    os.makedirs(simple, exist_ok=True)
    links = []
    for project, filenames in made.items():
        key = normalize(project)
        links.append(f'<a href="{key}/">{key}</a>')
        os.makedirs(os.path.join(simple, key), exist_ok=True)
        anchors = []
        for f in filenames:
            with open(os.path.join(files_dir, f), "rb") as fh:
                sha = hashlib.sha256(fh.read()).hexdigest()
            anchors.append(f'<a href="../../files/{f}#sha256={sha}" data-requires-python="&gt;=3.8">{f}</a><br/>')
        with open(os.path.join(simple, key, "index.html"), "w") as fh:
            fh.write("<!DOCTYPE html><html><body>\n" + "\n".join(anchors) + "\n</body></html>\n")
    with open(os.path.join(simple, "index.html"), "w") as fh:
        fh.write("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def main():
    root = os.path.abspath(sys.argv[1])
    write_index(root)
    os.chdir(root)
    socketserver.TCPServer.allow_reuse_address = True
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Quiet) as server:
        print(f"PORT {server.server_address[1]}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
