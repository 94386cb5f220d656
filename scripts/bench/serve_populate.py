#!/usr/bin/env python3
"""Fill a running `refinery serve` with N published wheels (through the worker protocol:
enqueue, claim, upload the wheel, record history, complete), for scripts/bench/serve.sh.
Loopback only; bounded by N."""
import io, json, sys, urllib.request, zipfile

base, n = sys.argv[1].rstrip("/"), int(sys.argv[2])


def call(method, path, body=None, raw=None, headers=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("content-type", "application/octet-stream" if raw is not None else "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
        return json.loads(text) if text else None


def wheel(name, version):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(f"{name}/__init__.py", "VALUE = 1\n")
        z.writestr(f"{name}-{version}.dist-info/METADATA",
                   f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: >=3.8\n")
        z.writestr(f"{name}-{version}.dist-info/WHEEL",
                   "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-manylinux2014_s390x\n")
        z.writestr(f"{name}-{version}.dist-info/RECORD", "")
    return buf.getvalue()


for i in range(n):
    name, version = f"pkg{i:04d}", f"1.{i % 5}.0"
    job = call("POST", "/api/queue/enqueue", {"package": name, "version": version, "python": "3.11"})["job"]
    claimed = call("POST", "/api/worker/claim", {"worker": "bench", "lease_secs": 60})["job"]
    jid, attempt = claimed["id"], claimed["attempt"]
    call("POST", f"/api/jobs/{jid}/start", {"attempt": attempt})
    call("POST", f"/api/jobs/{jid}/logs", {"attempt": attempt, "data": f"building {name}\n" * 20})
    filename = f"{name}-{version}-cp311-cp311-manylinux2014_s390x.whl"
    call("PUT", f"/api/jobs/{jid}/wheel?attempt={attempt}&filename={filename}&origin=built", raw=wheel(name, version))
    status = "success" if i % 7 else "failed"
    call("POST", f"/api/jobs/{jid}/history", {
        "attempt": attempt,
        "events": [{"kind": "built" if status == "success" else "failure", "package": name, "version": version,
                    "run_id": f"bench-{jid}", "detail": "bench", "data": None}],
        "attempts": [{"package": name, "version": version, "python_tag": "cp311", "platform": "manylinux2014_s390x",
                      "variant": "default", "attempt": 1, "status": status, "duration_secs": 1.0 + i % 30,
                      "log_path": None, "hints": [], "worker": "bench", "run_id": f"bench-{jid}", "detail": "bench"}],
    })
    call("POST", f"/api/jobs/{jid}/complete", {"attempt": attempt, "status": "built", "detail": "bench"})
# Some waiting jobs too.
for i in range(n // 4):
    call("POST", "/api/queue/enqueue", {"package": f"waiting{i:04d}", "version": "1.0"})
print(f"populated {n} published wheels and {n // 4} waiting jobs")
