#!/usr/bin/env python3
"""A PEP 503/691 index in front of PyPI that hides the wheels of chosen projects from the
refinery's planner, so they are built from their sdists (scripts/bench/yield.sh).

    sdist_index.py PORT FORCE_FILE

FORCE_FILE lists project names, one a line, read again on every request (the bench
rewrites it per package). Only requests of the refinery's index client (User-Agent
s390x-wheel-refinery/...) see the filtered pages: pip and uv inside a build get PyPI's page
as it is, so build requirements (numpy for scipy, Cython, ...) stay wheels. File links stay
absolute (files.pythonhosted.org), so downloads do not pass through this server.
"""

import http.server
import json
import re
import sys
import urllib.error
import urllib.request

UPSTREAM = "https://pypi.org/simple/"
JSON = "application/vnd.pypi.simple.v1+json"


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


class Handler(http.server.BaseHTTPRequestHandler):
    force_file = ""

    def forced(self):
        try:
            with open(self.force_file) as f:
                return {normalize(line.strip()) for line in f if line.strip()}
        except OSError:
            return set()

    def do_GET(self):
        match = re.fullmatch(r"/simple/([^/]+)/?", self.path.split("?")[0])
        if not match:
            self.send_error(404)
            return
        name = normalize(match.group(1))
        accept = self.headers.get("Accept", "text/html")
        request = urllib.request.Request(UPSTREAM + name + "/", headers={"Accept": accept})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                body = response.read()
                kind = response.headers.get("Content-Type", "text/html")
        except urllib.error.HTTPError as e:
            self.send_error(e.code)
            return
        agent = self.headers.get("User-Agent", "")
        if agent.startswith("s390x-wheel-refinery/") and name in self.forced():
            if kind.startswith(JSON):
                page = json.loads(body)
                page["files"] = [f for f in page["files"] if not f["filename"].endswith(".whl")]
                body = json.dumps(page).encode()
            else:
                text = body.decode()
                text = re.sub(r"<a [^>]*>[^<]*\.whl</a>(<br\s*/?>)?\s*", "", text)
                body = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.headers.get("User-Agent", "-").split(" ")[0], fmt % args))


def main():
    port, Handler.force_file = int(sys.argv[1]), sys.argv[2]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"http://127.0.0.1:{server.server_address[1]}/simple", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
