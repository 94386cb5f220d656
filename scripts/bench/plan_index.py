#!/usr/bin/env python3
"""A generated PEP 503 index for the `refinery plan` benchmark, and a server for it.

    plan_index.py generate DIR N     # N direct requirements -> DIR/{files,simple}, DIR/requirements.txt
    plan_index.py serve DIR PORT MAX_AGE

The mix per ten packages: six pure wheels, two with manylinux s390x wheels (plus x86_64 and an
sdist), one with an x86_64 wheel and an sdist, one sdist only: 20 % are builds, whose sdists the
planner downloads (hash-checked) for their build requirements. Each package has three versions
and 0-3 dependencies on thirty shared packages, some with version bounds or markers.
The server answers with `Cache-Control: max-age=MAX_AGE` (PyPI sends 600) and an `ETag`, and
answers `If-None-Match` with 304 like PyPI's CDN.
"""

import hashlib
import http.server
import io
import os
import sys
import tarfile
import zipfile

VERSIONS = ["1.0", "1.1", "2.0"]
PURE = "py3-none-any"
X86 = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"
S390X = "cp311-cp311-manylinux_2_17_s390x.manylinux2014_s390x"


def metadata(name, version, requires):
    text = f"Metadata-Version: 2.2\nName: {name}\nVersion: {version}\n"
    return text + "".join(f"Requires-Dist: {r}\n" for r in requires)


def wheel(files, name, version, tag, requires):
    module = name.replace("-", "_")
    path = os.path.join(files, f"{module}-{version}-{tag}.whl")
    meta = metadata(name, version, requires).replace("Metadata-Version: 2.2", "Metadata-Version: 2.1")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{module}/__init__.py", "VALUE = 1\n")
        z.writestr(f"{module}-{version}.dist-info/METADATA", meta)
        z.writestr(
            f"{module}-{version}.dist-info/WHEEL",
            f"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n",
        )
    with open(path + ".metadata", "w") as f:
        f.write(meta)


def sdist(files, name, version, requires):
    base = f"{name.replace('-', '_')}-{version}"
    path = os.path.join(files, base + ".tar.gz")
    pyproject = (
        '[build-system]\nrequires = ["setuptools>=61", "wheel"]\n'
        'build-backend = "setuptools.build_meta"\n'
    )
    with tarfile.open(path, "w:gz") as tar:
        for member, text in (("PKG-INFO", metadata(name, version, requires)), ("pyproject.toml", pyproject)):
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def generate(root, count):
    files = os.path.join(root, "files")
    os.makedirs(files, exist_ok=True)
    shared = [f"shared{i:02d}" for i in range(30)]
    for i, name in enumerate(shared):
        for version in VERSIONS:
            requires = [f"{shared[i + 1]}>=1.0"] if i % 7 == 0 and i + 1 < len(shared) else []
            wheel(files, name, version, PURE, requires)
    wheel(files, "winonly", "1.0", "cp311-cp311-win_amd64", [])
    for i in range(count):
        name = f"pkg{i:03d}"
        requires = [shared[(i * 7 + k * 11) % len(shared)] + (">=1.1" if k == 1 else "") for k in range(i % 4)]
        if i % 5 == 0:
            requires.append('winonly ; sys_platform == "win32"')
        kind = i % 10
        for version in VERSIONS:
            if kind < 6:
                wheel(files, name, version, PURE, requires)
            elif kind < 8:
                wheel(files, name, version, S390X, requires)
                wheel(files, name, version, X86, requires)
                sdist(files, name, version, requires)
            elif kind == 8:
                wheel(files, name, version, X86, requires)
                sdist(files, name, version, requires)
            else:
                sdist(files, name, version, requires)
    projects = {}
    for filename in sorted(os.listdir(files)):
        if filename.endswith(".metadata"):
            continue
        project = filename.split("-")[0].replace("_", "-").lower()
        projects.setdefault(project, []).append(filename)
    simple = os.path.join(root, "simple")
    os.makedirs(simple, exist_ok=True)
    with open(os.path.join(simple, "index.html"), "w") as f:
        f.write("<!DOCTYPE html><html><body>\n")
        for project in sorted(projects):
            f.write(f'<a href="{project}/">{project}</a>\n')
        f.write("</body></html>\n")
    for project, names in projects.items():
        os.makedirs(os.path.join(simple, project), exist_ok=True)
        with open(os.path.join(simple, project, "index.html"), "w") as f:
            f.write("<!DOCTYPE html><html><body>\n")
            for filename in names:
                with open(os.path.join(files, filename), "rb") as data:
                    digest = hashlib.sha256(data.read()).hexdigest()
                extra = ""
                if filename.endswith(".whl"):
                    with open(os.path.join(files, filename + ".metadata"), "rb") as data:
                        meta = hashlib.sha256(data.read()).hexdigest()
                    extra = f' data-core-metadata="sha256={meta}" data-dist-info-metadata="sha256={meta}"'
                f.write(f'<a href="../../files/{filename}#sha256={digest}"{extra}>{filename}</a>\n')
            f.write("</body></html>\n")
    with open(os.path.join(root, "requirements.txt"), "w") as f:
        for i in range(count):
            f.write(f"pkg{i:03d}\n")


def serve(root, port, max_age):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=root, **kwargs)

        def log_message(self, *args):
            pass

        protocol_version = "HTTP/1.1"

        def send_head(self):
            self._etag = None
            path = self.translate_path(self.path)
            if os.path.isdir(path):
                path = os.path.join(path, "index.html")
            if os.path.isfile(path):
                stat = os.stat(path)
                etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Cache-Control", f"max-age={max_age}, public")
                    self.end_headers()
                    return None
                self._etag = etag
            return super().send_head()

        def end_headers(self):
            etag = getattr(self, "_etag", None)
            self._etag = None
            if etag:
                self.send_header("ETag", etag)
                self.send_header("Cache-Control", f"max-age={max_age}, public")
            super().end_headers()

    http.server.ThreadingHTTPServer.daemon_threads = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"serving {root} on http://127.0.0.1:{server.server_address[1]}/simple", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 5 and sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
