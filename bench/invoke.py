#!/usr/bin/env python3
"""Benchmark invoking actions through Owl, beside the floors measured in the same run.

Starts a release `owl standalone` (its own data directory and invoker name), then prints:
  - warm: blocking invoke (result only) of a no-op Node.js action, p50/p99 over N sequential
    requests, beside a direct POST /run to the same container (the floor);
  - prewarm start: the first invoke of a new Node.js action (served by a stem cell), beside warm;
  - cold start: the first invoke of a new Python action (no stem cells), beside a raw
    `docker run` + first /init answer of the same image;
  - throughput: blocking invokes/s with 1, 8 and 32 clients for S seconds, on one action and spread
    over 100 distinct warm actions;
  - RSS of the owl process idle and under load.
It prints figures and asserts nothing. Usage: bench/invoke.py [--runs N] [--seconds S] [--actions K]
"""
import argparse
import base64
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OWL = os.environ.get("OWL_BIN") or os.path.join(ROOT, "target", "release", "owl")
KEY = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
AUTH = "Basic " + base64.b64encode(KEY.encode()).decode()
INVOKER = f"bench{os.getpid()}"
NOOP_JS = "function main() { return {} }"
NOOP_PY = "def main(args):\n    return {}\n"


class Conn:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        self.c.request(method, path, data, {"Authorization": AUTH, "Content-Type": "application/json"})
        r = self.c.getresponse()
        text = r.read()
        return r.status, (json.loads(text) if text else None)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def ms(x):
    return f"{x * 1000:.3f} ms"


def timed(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def create(conn, name, kind, code, memory=256):
    s, b = conn.req("PUT", f"/api/v1/namespaces/_/actions/{name}?overwrite=true",
                    {"exec": {"kind": kind, "code": code}, "limits": {"memory": memory}})
    assert s == 200, (s, b)


def invoke(conn, name):
    s, b = conn.req("POST", f"/api/v1/namespaces/_/actions/{name}?blocking=true&result=true", {})
    assert s == 200, (s, b)


def docker(*args):
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def containers():
    out = docker("ps", "--filter", f"label=owl.invoker={INVOKER}", "--format", "{{.Names}}")
    return out.splitlines()


def address(container):
    """The container's address on Docker's bridge network, where the invoker reaches it too."""
    return docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", container)


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def floor_run_latencies(runs, per=1, match=""):
    """Direct POST /run to the container that ran the no-op (the one that answers 200). With `per`, each
    figure is `per` /runs one after another, one to each of `per` such containers; `match`: a part of
    their names (an action's containers are named after it, taken stem cells excepted)."""
    body = json.dumps({"value": {}, "namespace": "guest", "action_name": "/guest/noop", "action_version": "0.0.1",
                       "activation_id": "0" * 32, "transaction_id": "bench", "deadline": "0"}).encode()
    conns = []
    for name in containers():
        if match not in name:
            continue
        c = http.client.HTTPConnection(address(name), 8080, timeout=10)
        c.request("POST", "/run", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status == 200:
            conns.append(c)
        if len(conns) == per:
            break
    if len(conns) < per:
        raise RuntimeError(f"{len(conns)} initialized containers found, {per} wanted")
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        for c in conns:
            c.request("POST", "/run", body, {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
        out.append(time.perf_counter() - t0)
    return out


def raw_cold(image, code):
    t0 = time.perf_counter()
    cid = docker("run", "-d", "--log-driver", "none", "--memory", "256m", "--memory-swap", "256m",
                 "--label", "owl.bench=raw", image)
    try:
        host, port = address(cid), 8080
        body = json.dumps({"value": {"name": "raw", "main": "main", "binary": False, "code": code}}).encode()
        while True:
            try:
                c = http.client.HTTPConnection(host, int(port), timeout=5)
                c.request("POST", "/init", body, {"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                if r.status == 200:
                    return time.perf_counter() - t0
            except (ConnectionError, http.client.HTTPException, OSError):
                time.sleep(0.002)
    finally:
        docker("rm", "-f", cid)


def throughput_wrk(port, names, clients, seconds):
    """Blocking invokes/s measured by wrk (a C load generator: the Python one saturates first)."""
    paths = ", ".join(f'"/api/v1/namespaces/_/actions/{n}?blocking=true&result=true"' for n in names)
    script = f"""
wrk.method = "POST"
wrk.body = "{{}}"
wrk.headers["Authorization"] = "{AUTH}"
wrk.headers["Content-Type"] = "application/json"
local paths = {{ {paths} }}
request = function()
  return wrk.format(nil, paths[math.random(#paths)])
end
"""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    out = subprocess.run(["wrk", "-t", str(min(clients, 2)), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "70s",
                          "-s", f.name, f"http://127.0.0.1:{port}"], capture_output=True, text=True).stdout
    os.unlink(f.name)
    rate = float(next(l for l in out.splitlines() if l.startswith("Requests/sec:")).split()[1])
    bad = next((int(l.split()[-1]) for l in out.splitlines() if "Non-2xx" in l), 0)
    return rate, bad


def throughput(port, names, clients, seconds):
    stop = time.perf_counter() + seconds
    counts = [0] * clients
    errors = [0] * clients

    def worker(i):
        conn = Conn(port)
        rnd = random.Random(i)
        while time.perf_counter() < stop:
            s, _ = conn.req("POST", f"/api/v1/namespaces/_/actions/{rnd.choice(names)}?blocking=true&result=true", {})
            if s == 200:
                counts[i] += 1
            else:
                errors[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - t0), sum(errors)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--actions", type=int, default=100)
    a = ap.parse_args()
    data = tempfile.mkdtemp(prefix="owl-bench-")
    subprocess.run([OWL, "admin", "--data-dir", data, "namespace", "set-limits", "guest",
                    "--invocations-per-minute", "100000000", "--concurrent-invocations", "10000"],
                   check=True, capture_output=True)
    owl = subprocess.Popen([OWL, "standalone", "--port", "0", "--data-dir", data, "--invoker-id", INVOKER,
                            "--user-memory", "40000"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = owl.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        conn = Conn(port)
        deadline = time.time() + 60
        while sum("prewarm" in n for n in containers()) < 2 and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        idle_rss = rss_mib(owl.pid)
        print(f"owl standalone (release) pid {owl.pid}, idle RSS {idle_rss:.1f} MiB")

        create(conn, "noop", "nodejs:20", NOOP_JS)
        for _ in range(50):
            invoke(conn, "noop")
        warm = [timed(lambda: invoke(conn, "noop")) for _ in range(a.runs)]
        floor = floor_run_latencies(a.runs)
        w50, w99, f50, f99 = pct(warm, 50), pct(warm, 99), pct(floor, 50), pct(floor, 99)
        print(f"warm invoke  p50 {ms(w50)}  p99 {ms(w99)} | direct /run p50 {ms(f50)}  p99 {ms(f99)} | "
              f"overhead p50 {ms(w50 - f50)}  p99 {ms(w99 - f99)}")

        pre = []
        # A taken stem cell keeps its name: the pool has its two again when one more is named so.
        taken = sum("prewarm" in n for n in containers()) - 2
        for i in range(5):
            create(conn, f"pre{i}", "nodejs:20", NOOP_JS)
            while sum("prewarm" in n for n in containers()) < 2 + taken:
                time.sleep(0.05)
            time.sleep(1)  # the replacement's language start settles
            pre.append(timed(lambda: invoke(conn, f"pre{i}")))
            taken += 1
        print(f"prewarm start p50 {ms(statistics.median(pre))} (warm p50 {ms(w50)}: +{ms(statistics.median(pre) - w50)})")

        cold, raw = [], []
        for i in range(5):
            create(conn, f"cold{i}", "python:3.11", NOOP_PY)
            cold.append(timed(lambda: invoke(conn, f"cold{i}")))
            raw.append(raw_cold("owl/action-python-v3.11:latest", NOOP_PY))
        c50, r50 = statistics.median(cold), statistics.median(raw)
        print(f"cold start   p50 {ms(c50)} | raw docker run + /init p50 {ms(r50)} | ratio {c50 / r50:.2f}x")

        names = [f"many{i}" for i in range(a.actions)]
        for n in names:
            create(conn, n, "nodejs:20", NOOP_JS, memory=128)
            invoke(conn, n)
        peak = [idle_rss]

        def sample():
            while not done.is_set():
                peak.append(rss_mib(owl.pid))
                time.sleep(0.5)

        for label, pool in (("one action", ["noop"]), (f"{a.actions} actions", names)):
            for clients in (1, 8, 32):
                done = threading.Event()
                sampler = threading.Thread(target=sample)
                sampler.start()
                run = throughput_wrk if shutil.which("wrk") else throughput
                rate, errs = run(port, pool, clients, a.seconds)
                done.set()
                sampler.join()
                print(f"throughput {label:12} {clients:2} clients: {rate:8.1f} invocations/s ({errs} errors)")
        print(f"RSS under load: peak {max(peak):.1f} MiB")
    finally:
        owl.terminate()
        owl.wait(timeout=60)


if __name__ == "__main__":
    main()
