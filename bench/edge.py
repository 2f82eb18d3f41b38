#!/usr/bin/env python3
"""The cost of large requests at the HTTP edge, and the memory they leave behind.

Starts a release `owl standalone --no-invoker` on a data directory of its own, then prints:
  - 40,000 annotations (about 1.4 MB of JSON, inside the 1 MB size limit as OpenWhisk counts it):
    create, read and overwrite of one action carrying them, median of R runs each, beside the same
    requests with 4,000 annotations (a cost linear in size gives a ratio near 10);
  - memory: RSS idle, at the end of a burst of 8 clients each creating and reading B such actions,
    and every 5 s for 30 s after it (how much the allocator gives back).
Figures only, no assertions. Usage: bench/edge.py [--runs R] [--burst B]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import invoke as base  # noqa: E402


def action_body(n):
    annotations = [{"key": f"k{i}", "value": "vvvvv"} for i in range(n)]
    return {"exec": {"kind": "nodejs:20", "code": "function main() { return {} }"}, "annotations": annotations}


def timed(conn, method, path, body=None):
    t0 = time.perf_counter()
    status, _ = conn.req(method, path, body)
    elapsed = time.perf_counter() - t0
    if status != 200:
        raise SystemExit(f"{method} {path}: {status}")
    return elapsed


def annotation_costs(port, n, runs):
    conn = base.Conn(port)
    body = action_body(n)
    path = f"/api/v1/namespaces/_/actions/annotated{n}"
    create, read, overwrite = [], [], []
    for i in range(runs):
        conn.req("DELETE", path)
        create.append(timed(conn, "PUT", path, body))
        read.append(timed(conn, "GET", path))
        overwrite.append(timed(conn, "PUT", path + "?overwrite=true", body))
    return [statistics.median(xs) for xs in (create, read, overwrite)], len(json.dumps(body))


def burst(port, clients, per_client):
    body = action_body(40_000)

    def client(c):
        conn = base.Conn(port)
        for i in range(per_client):
            path = f"/api/v1/namespaces/_/actions/burst{c}_{i}"
            conn.req("PUT", path + "?overwrite=true", body)
            conn.req("GET", path)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--burst", type=int, default=15)
    a = ap.parse_args()
    data = tempfile.mkdtemp(prefix="owl-edge-bench-")
    owl = subprocess.Popen([base.OWL, "standalone", "--port", "0", "--data-dir", data, "--no-invoker"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(owl.stdout.readline().rsplit(":", 1)[1])
        print(f"owl standalone (release, --no-invoker) pid {owl.pid}, port {port}, "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        small, small_bytes = annotation_costs(port, 4_000, a.runs)
        large, large_bytes = annotation_costs(port, 40_000, a.runs)
        print(f"1. one action's annotations, median of {a.runs}: create / read / overwrite")
        print(f"   4,000 annotations ({small_bytes / 1e6:.2f} MB body)   "
              + " / ".join(base.ms(x) for x in small))
        print(f"   40,000 annotations ({large_bytes / 1e6:.2f} MB body)  "
              + " / ".join(base.ms(x) for x in large))
        print("   40,000 / 4,000                 " + " / ".join(f"{l / s:.1f}x" for l, s in zip(large, small)))
        before = base.rss_mib(owl.pid)
        took = burst(port, 8, a.burst)
        print(f"2. memory: 8 clients each create and read {a.burst} actions of 40,000 annotations ({took:.1f} s)")
        print(f"   RSS before the burst {before:.1f} MiB, at its end {base.rss_mib(owl.pid):.1f} MiB")
        for i in range(6):
            time.sleep(5)
            print(f"   {5 * (i + 1)} s after: {base.rss_mib(owl.pid):.1f} MiB")
    finally:
        owl.terminate()
        owl.wait()
        subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    main()
