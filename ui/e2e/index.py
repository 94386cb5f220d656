"""A local PEP 503 package index for the browser tests.

Writes into DIR a pure wheel (reused by plans), sdists that need building (with static
PKG-INFO metadata so the resolver needs no build backend from an index), and the
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
