#!/usr/bin/env python3
"""The scale-out path of `refinery serve` by simulation: JOBS jobs enqueued over HTTP,
then WORKERS simulated workers, each on its own keep-alive connection, claim, start,
heartbeat, send a log chunk and complete (status built) until the queue is empty — no
builds. KILLED of the workers die right after their first claim (mid-lease): their jobs
must come back when the lease expires and be finished by the others.

Prints jobs per second, claim latency p50/p99, jobs claimed twice (one attempt claimed
by two workers), and jobs lost (not `built` at the end).

usage: queue_sim.py BASE_URL TOKEN JOBS WORKERS KILLED LEASE_SECS
"""
import http.client
import json
import sys
import threading
import time
import urllib.parse
from collections import Counter

base, token = sys.argv[1], sys.argv[2]
jobs, workers, killed, lease = (int(a) for a in sys.argv[3:7])
url = urllib.parse.urlparse(base)
headers = {"Content-Type": "application/json", "X-Worker-Token": token}


class Client:
    def __init__(self):
        self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)

    def call(self, method, path, body=None):
        for attempt in range(5):
            try:
                self.conn.request(method, path, body=json.dumps(body) if body is not None else None,
                                  headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                return r.status, (json.loads(data) if data else None)
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
                time.sleep(0.1 * (attempt + 1))
        raise RuntimeError(f"{method} {path}: no answer")


def enqueue(lo, hi):
    c = Client()
    for i in range(lo, hi):
        status, _ = c.call("POST", "/api/queue/enqueue", {"package": f"sim{i:06d}", "version": "1.0"})
        assert status in (200, 201), status


start = time.monotonic()
threads = [threading.Thread(target=enqueue, args=(k * jobs // 16, (k + 1) * jobs // 16)) for k in range(16)]
for t in threads: t.start()
for t in threads: t.join()
enqueue_secs = time.monotonic() - start

lock = threading.Lock()
claims = Counter()          # (job, attempt) -> claims
completed = Counter()       # job -> completions
claim_ms = []
done = threading.Event()


def worker(n, dies):
    c = Client()
    name = f"sim-w{n:02d}"
    idle_since = None
    while not done.is_set():
        t0 = time.monotonic()
        status, body = c.call("POST", "/api/worker/claim", {"worker": name, "host": "sim", "lease_secs": lease})
        ms = (time.monotonic() - t0) * 1000
        if status == 204:
            idle_since = idle_since or time.monotonic()
            time.sleep(0.2)
            continue
        assert status == 200, (status, body)
        idle_since = None
        job = body["job"]
        jid, attempt = job["id"], job["attempt"]
        with lock:
            claim_ms.append(ms)
            claims[(jid, attempt)] += 1
        if dies:
            return  # killed mid-lease: never heard of again
        for method, path, payload in (
            ("POST", f"/api/jobs/{jid}/start", {"attempt": attempt}),
            ("POST", f"/api/jobs/{jid}/heartbeat", {"attempt": attempt}),
            ("POST", f"/api/jobs/{jid}/logs", {"attempt": attempt, "data": f"building {jid}\n"}),
            ("POST", f"/api/jobs/{jid}/complete", {"attempt": attempt, "status": "built", "detail": "simulated"}),
        ):
            status, body = c.call(method, path, payload)
            if status == 409:   # lease lost (expired meanwhile): the job went back to the queue
                break
            assert status == 200, (method, path, status, body)
        else:
            with lock:
                completed[jid] += 1
                if sum(1 for _ in completed) >= jobs:
                    done.set()


start = time.monotonic()
threads = [threading.Thread(target=worker, args=(n, n < killed), daemon=True) for n in range(workers)]
for t in threads: t.start()
deadline = start + 3600
while not done.is_set() and time.monotonic() < deadline:
    done.wait(1)
secs = time.monotonic() - start
done.set()

stats = Client().call("GET", "/api/queue/stats")[1]
claim_ms.sort()
pct = lambda p: claim_ms[min(len(claim_ms) - 1, int(len(claim_ms) * p))] if claim_ms else float("nan")
twice = sum(1 for n in claims.values() if n > 1)
completed_twice = sum(1 for n in completed.values() if n > 1)
built = stats.get("by_status", stats).get("built", None) if isinstance(stats, dict) else None
lost = jobs - len(completed)
print(f"enqueued {jobs} jobs in {enqueue_secs:.1f} s ({jobs / enqueue_secs:.0f}/s, 16 clients)")
print(f"{workers} workers ({killed} killed mid-lease, lease {lease} s): {len(completed)} jobs built in {secs:.1f} s "
      f"= {len(completed) / secs:.0f} jobs/s; claim p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms")
print(f"attempts claimed twice: {twice}; jobs completed twice: {completed_twice}; jobs lost: {lost}; "
      f"re-claimed after a kill: {sum(1 for (j, a) in claims if a > 1)}")
print(f"server stats: {json.dumps(stats)[:300]}")
sys.exit(0 if twice == 0 and lost == 0 and completed_twice == 0 else 1)
