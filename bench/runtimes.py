#!/usr/bin/env python3
"""Benchmark Owl's runtime images: warm /run latency beside the floor, cold start, idle memory.

For each image it starts a container as the invoker would (limits, port published on 127.0.0.1) and
measures, in the same run:
  - warm: p50/p99 of POST /run of a no-op action over N sequential runs on one keep-alive connection;
  - floor: the same requests against a bare HTTP echo (`owl-actionproxy --echo`) inside the same
    container, so the difference is what the proxy and the launcher add;
  - cold: `docker run` (create + start) to the first 200 from /init, over a few starts, beside the
    `docker run` alone (the floor);
  - idle memory of the container after the warm runs.
It prints figures and ratios; it asserts nothing. Usage: bench/runtimes.py [--runs N] [--colds N] [image ...]
"""
import argparse
import base64
import http.client
import json
import os
import statistics
import subprocess
import time

# The Java action: the interface tests' jar (its example.Hello greets and returns).
JAR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "actions-runtime", "tests", "fixtures", "java", "actions.jar")

NOOP = {
    "nodejs": ("function main() { return {} }", "main"),
    "python": ("def main(args):\n    return {}\n", "main"),
    "native": ("#!/bin/sh\necho '{}'\n", "main"),
    "actionloop": ("#!/bin/sh\necho '{\"ok\":true}' >&3\nwhile read -r line; do echo '{}' >&3; done\n", "main"),
    # Go's cold start includes compiling the action at /init.
    "go": ("package main\nfunc Main(a map[string]interface{}) map[string]interface{} {\n  return map[string]interface{}{}\n}\n", "main"),
    "php": ("<?php\nfunction main(array $args) : array { return []; }\n", "main"),
    "ruby": ("def main(args)\n  {}\nend\n", "main"),
    "java": (None, "example.Hello"),
}
IMAGES = {
    "owl/action-nodejs-v20:latest": "nodejs",
    "owl/action-nodejs-v18:latest": "nodejs",
    "owl/action-python-v3.13:latest": "python",
    "owl/action-python-v3.11:latest": "python",
    "owl/dockerskeleton:latest": "native",
    "owl/actionloop:latest": "actionloop",
    "owl/action-java-v21:latest": "java",
    "owl/action-golang-v1.24:latest": "go",
    "owl/action-php-v8.2:latest": "php",
    "owl/action-ruby-v3.1:latest": "ruby",
}
LIMITS = ["--memory", "256m", "--memory-swap", "256m", "--pids-limit", "1024",
          "--cap-drop", "NET_RAW", "--cap-drop", "NET_ADMIN", "--label", "owl.bench=runtimes"]
RUN_BODY = json.dumps({"value": {}, "namespace": "guest", "action_name": "/guest/noop", "action_version": "0.0.1",
                       "activation_id": "0" * 32, "transaction_id": "bench", "deadline": "0"}).encode()


def docker(*args):
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def port_of(cid, port):
    host, p = docker("port", cid, f"{port}/tcp").splitlines()[0].rsplit(":", 1)
    return host, int(p)


def post(host, port, path, body, timeout=10.0):
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    c.request("POST", path, body, {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def init_body(kind):
    code, main = NOOP[kind]
    binary = code is None
    if binary:
        with open(JAR, "rb") as f:
            code = base64.b64encode(f.read()).decode()
    return json.dumps({"value": {"name": "noop", "main": main, "binary": binary, "code": code}}).encode()


def cold_start(image, kind):
    """Seconds from `docker run` to the first 200 from /init, and the `docker run` (create + start)
    alone: the floor no runtime can beat."""
    t0 = time.perf_counter()
    cid = docker("run", "-d", "-p", "127.0.0.1::8080", *LIMITS, image)
    started = time.perf_counter() - t0
    try:
        host, port = port_of(cid, 8080)
        while True:
            try:
                status, _ = post(host, port, "/init", init_body(kind), timeout=5)
                if status == 200:
                    return time.perf_counter() - t0, started
                raise RuntimeError(f"/init answered {status}")
            except (ConnectionError, http.client.HTTPException, OSError):
                if time.perf_counter() - t0 > 30:
                    raise
                time.sleep(0.002)
    finally:
        docker("rm", "-f", cid)


def latencies(host, port, runs):
    c = http.client.HTTPConnection(host, port, timeout=10)
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        c.request("POST", "/run", RUN_BODY, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        out.append(time.perf_counter() - t0)
        if r.status != 200:
            raise RuntimeError(f"/run answered {r.status}")
    c.close()
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def ms(x):
    return f"{x * 1000:8.3f}"


def bench(image, kind, runs, colds):
    cid = docker("run", "-d", "-p", "127.0.0.1::8080", "-p", "127.0.0.1::8081", *LIMITS, image)
    try:
        docker("exec", "-d", "-e", "OW_PORT=8081", cid, "/usr/local/bin/owl-actionproxy", "--echo")
        host, port = port_of(cid, 8080)
        ehost, eport = port_of(cid, 8081)
        deadline = time.time() + 30
        while True:
            try:
                if post(host, port, "/init", init_body(kind))[0] == 200 and post(ehost, eport, "/run", b"{}")[0] == 200:
                    break
            except (ConnectionError, http.client.HTTPException, OSError):
                pass
            if time.time() > deadline:
                raise RuntimeError("container did not come up")
            time.sleep(0.01)
        latencies(host, port, 50)  # warm-up
        latencies(ehost, eport, 50)
        warm = latencies(host, port, runs)
        floor = latencies(ehost, eport, runs)
        time.sleep(1)
        mem = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", cid).split("/")[0].strip()
    finally:
        docker("rm", "-f", cid)
    colds = [cold_start(image, kind) for _ in range(colds)]
    return warm, floor, [c for c, _ in colds], [s for _, s in colds], mem


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--colds", type=int, default=5)
    ap.add_argument("images", nargs="*")
    a = ap.parse_args()
    images = a.images or list(IMAGES)
    print(f"warm /run over {a.runs} sequential runs of a no-op action; floor = bare HTTP echo in the same container")
    print(f"{'image':34} {'warm p50':>9} {'p99':>9} {'floor p50':>9} {'p99':>9} {'over p50':>9} {'over p99':>9} "
          f"{'cold p50':>9} {'docker run':>10} {'idle mem':>10}   (ms)")
    for image in images:
        kind = IMAGES.get(image, "nodejs")
        warm, floor, cold, run, mem = bench(image, kind, a.runs, a.colds)
        w50, w99, f50, f99 = pct(warm, 50), pct(warm, 99), pct(floor, 50), pct(floor, 99)
        print(f"{image:34} {ms(w50)} {ms(w99)} {ms(f50)} {ms(f99)} {ms(w50 - f50)} {ms(w99 - f99)} "
              f"{ms(statistics.median(cold))} {ms(statistics.median(run)):>10} {mem:>10}   "
              f"warm/floor p50 {w50 / f50:.2f}x, cold/docker-run {statistics.median(cold) / statistics.median(run):.2f}x")


if __name__ == "__main__":
    main()
