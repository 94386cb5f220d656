#!/usr/bin/env python3
"""Starvation run against `refinery serve`: hold IDLE connections that send nothing and
PARTIAL ones that send half a request head, for SECONDS, while probing /api/health with
a fresh connection every 50 ms. Prints how long health stayed reachable and how many of
the held connections the server closed (header-read timeout, idle timeout, eviction at
the cap). Bounded: SECONDS (default 20) and 127.0.0.1 only.

usage: serve_starve.py BASE_URL [IDLE] [PARTIAL] [SECONDS]
"""
import socket
import sys
import time
import urllib.parse

base = sys.argv[1]
idle = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
partial = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 20.0
url = urllib.parse.urlparse(base)
addr = (url.hostname, url.port)
assert url.hostname in ("127.0.0.1", "localhost"), "loopback only"

held = []
refused = 0
for i in range(idle + partial):
    try:
        s = socket.create_connection(addr, timeout=2)
        if i >= idle:
            s.sendall(f"GET /api/health HTTP/1.1\r\nHost: {url.netloc}\r\nX-Half".encode())
        held.append(s)
    except OSError:
        refused += 1

def probe():
    start = time.monotonic()
    try:
        with socket.create_connection(addr, timeout=2) as s:
            s.settimeout(2)
            s.sendall(f"GET /api/health HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
            ok = head.startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    return ok, (time.monotonic() - start) * 1000

results = []
end = time.monotonic() + seconds
while time.monotonic() < end:
    at = time.monotonic()
    ok, ms = probe()
    results.append((at, ok, ms))
    time.sleep(max(0.0, 0.05 - (time.monotonic() - at)))

closed = 0
for s in held:
    s.setblocking(False)
    try:
        if s.recv(1) == b"":
            closed += 1
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
    s.close()

good = [r for r in results if r[1]]
longest, gap_start = 0.0, None
for at, ok, _ in results:
    if not ok and gap_start is None:
        gap_start = at
    if ok and gap_start is not None:
        longest = max(longest, at - gap_start)
        gap_start = None
if gap_start is not None:
    longest = max(longest, results[-1][0] - gap_start)
lat = sorted(ms for _, ok, ms in results if ok)
p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
print(f"held {len(held)} connections ({idle} idle, {partial} half-sent heads; {refused} refused at connect)")
print(f"/api/health reachable in {len(good)}/{len(results)} probes over {seconds:.0f} s "
      f"({100 * len(good) / max(1, len(results)):.1f} %), longest outage {longest:.2f} s, "
      f"probe p99 {p99:.1f} ms")
print(f"the server closed {closed} of the held connections (timeouts, eviction at the cap)")
