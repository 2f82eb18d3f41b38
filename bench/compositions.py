#!/usr/bin/env python3
"""Benchmark web actions and compositions through Owl, beside the floors measured in the same run.

Starts a release `owl standalone` (its own data directory and invoker name, no stem cells, the guest
namespace's throttles lifted), warms every action up, then prints:
  1. web action vs API invoke of the same warm no-op Node.js action (annotated `web-export: true`):
     p50/p99 over N sequential requests of `GET /api/v1/web/guest/default/<name>.json` (no
     Authorization header) and of `POST /api/v1/namespaces/_/actions/<name>?blocking=true&result=true`,
     the two alternating in one loop, each on its own keep-alive connection; beside the floor, a
     direct POST /run to the action's container; and their ratios;
  2. a warm 3-step sequence of three no-op Node.js actions, invoked blocking with `result=true`,
     beside a client making the three blocking invokes one after another (their sum per iteration),
     and a 2-step conductor composition (a conductor action and one component: three runs, the
     conductor's, the component's, the conductor's again), all alternating in one loop; beside
     the floor, three direct POST /runs one after another, one to each step's container; and the
     ratios; and a 1-step sequence beside a single invoke (what a sequence adds to one run).
It prints figures and asserts nothing. Usage: bench/compositions.py [--runs N]
Needs a release `owl` (`cargo build --release -p owl`), a Docker engine and the runtime images.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import invoke as base  # noqa: E402
from invoke import NOOP_JS, OWL, Conn, create, invoke, ms, pct, timed  # noqa: E402

base.INVOKER = f"benchcomp{os.getpid()}"  # base.containers() lists this invoker's containers
WARMUP = 50
STEPS = ["step1", "step2", "step3"]
# Three runs: first input (no `step`): call the component; its result, with the state merged over it,
# comes back (`step` 1): end with an empty result.
CONDUCTOR_JS = """function main(p) {
  if (p.step === undefined) return { action: '/_/step1', params: {}, state: { step: 1 } }
  return { params: {} }
}"""


def put(conn, name, body):
    s, b = conn.req("PUT", f"/api/v1/namespaces/_/actions/{name}?overwrite=true", body)
    assert s == 200, (s, b)


def web_status(conn, name):
    """GET the web action's `.json` form, without credentials, on the connection of `conn`."""
    conn.c.request("GET", f"/api/v1/web/guest/default/{name}.json")
    r = conn.c.getresponse()
    r.read()
    return r.status


def web(conn, name):
    s = web_status(conn, name)
    assert s == 200, s


def summary(label, xs):
    return f"{label} p50 {ms(pct(xs, 50))}  p99 {ms(pct(xs, 99))}"


def ratios(label, xs, ys):
    return f"{label} p50 {pct(xs, 50) / pct(ys, 50):.2f}x  p99 {pct(xs, 99) / pct(ys, 99):.2f}x"


def web_vs_api(port, runs):
    wconn, conn = Conn(port), Conn(port)
    put(conn, "webnoop", {"exec": {"kind": "nodejs:20", "code": NOOP_JS}, "limits": {"memory": 256},
                         "annotations": [{"key": "web-export", "value": True}]})
    for _ in range(WARMUP):
        invoke(conn, "webnoop")
    print(f"1. same warm no-op Node.js action, {runs} sequential requests each")
    status = web_status(wconn, "webnoop")
    if status != 200:
        print(f"   web action: GET /api/v1/web/guest/default/webnoop.json answers {status}: not measured")
        wconn = None
    else:
        for _ in range(WARMUP):
            web(wconn, "webnoop")
    w, a = [], []
    for _ in range(runs):
        if wconn:
            w.append(timed(lambda: web(wconn, "webnoop")))
        a.append(timed(lambda: invoke(conn, "webnoop")))
    floor = base.floor_run_latencies(runs, match="webnoop")
    if w:
        print(f"   {summary('web action GET .json ', w)}")
    print(f"   {summary('API blocking invoke  ', a)}")
    print(f"   {summary('direct /run (floor)  ', floor)}")
    if w:
        print(f"   {ratios('web / API           ', w, a)}")
        print(f"   {ratios('web / floor         ', w, floor)}")
        print(f"   web - API            p50 {ms(pct(w, 50) - pct(a, 50))}  p99 {ms(pct(w, 99) - pct(a, 99))}")
    print(f"   {ratios('API / floor         ', a, floor)}")


def compositions(port, runs):
    conn, seqc, condc = Conn(port), Conn(port), Conn(port)
    for n in STEPS:
        create(conn, n, "nodejs:20", NOOP_JS)
    put(conn, "seq3", {"exec": {"kind": "sequence", "components": [f"/_/{n}" for n in STEPS]}})
    put(conn, "seq1", {"exec": {"kind": "sequence", "components": [f"/_/{STEPS[0]}"]}})
    put(conn, "cond", {"exec": {"kind": "nodejs:20", "code": CONDUCTOR_JS}, "limits": {"memory": 256},
                       "annotations": [{"key": "conductor", "value": True}]})
    for _ in range(WARMUP):
        for n in STEPS:
            invoke(conn, n)
        invoke(seqc, "seq3")
        invoke(seqc, "seq1")
        invoke(condc, "cond")
    seq, client, one, seq1, cond = [], [], [], [], []
    for _ in range(runs):
        seq.append(timed(lambda: invoke(seqc, "seq3")))
        each = [timed(lambda: invoke(conn, n)) for n in STEPS]
        client.append(sum(each))
        one.append(each[0])
        cond.append(timed(lambda: invoke(condc, "cond")))
        seq1.append(timed(lambda: invoke(seqc, "seq1")))
    floor3 = base.floor_run_latencies(runs, per=3, match="_step")
    print(f"2. warm compositions of no-op Node.js actions, {runs} iterations, three runs each")
    print(f"   {summary('3-step sequence, one blocking invoke  ', seq)}")
    print(f"   {summary('3 blocking invokes by the client (sum)', client)}")
    print(f"   {summary('conductor + 1 component, one invoke   ', cond)}")
    print(f"   {summary('3 direct /runs (floor)                ', floor3)}")
    print(f"   {summary('1-step sequence, one blocking invoke  ', seq1)}")
    print(f"   {summary('1 blocking invoke (the first of the 3)', one)}")
    print(f"   {ratios('sequence / client invokes            ', seq, client)}")
    print(f"   {ratios('sequence / floor                     ', seq, floor3)}")
    print(f"   {ratios('client invokes / floor               ', client, floor3)}")
    print(f"   {ratios('conductor / sequence                 ', cond, seq)}")
    print(f"   {ratios('conductor / client invokes           ', cond, client)}")
    print(f"   sequence - client invokes             p50 {ms(pct(seq, 50) - pct(client, 50))}  "
          f"p99 {ms(pct(seq, 99) - pct(client, 99))}")
    print(f"   1-step sequence - 1 invoke            p50 {ms(pct(seq1, 50) - pct(one, 50))}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    a = ap.parse_args()
    if not os.access(OWL, os.X_OK):
        sys.exit(f"no {OWL}: build it with `cargo build --release -p owl`")
    data = tempfile.mkdtemp(prefix="owl-bench-comp-")
    subprocess.run([OWL, "admin", "--data-dir", data, "namespace", "set-limits", "guest",
                    "--invocations-per-minute", "100000000", "--concurrent-invocations", "10000"],
                   check=True, capture_output=True)
    # No stem cells: each container is named after its action, which the floors pick by. A long pause
    # grace: the invoker does not see the floors' direct /runs and would pause a container under them.
    owl = subprocess.Popen([OWL, "standalone", "--port", "0", "--data-dir", data, "--invoker-id", base.INVOKER,
                            "--no-prewarm", "--pause-grace", "3600"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(owl.stdout.readline().rsplit(":", 1)[1])
        print(f"owl standalone (release) pid {owl.pid}, port {port}, load average "
              + " ".join(f"{x:.2f}" for x in os.getloadavg()), flush=True)
        web_vs_api(port, a.runs)
        compositions(port, a.runs)
    finally:
        owl.terminate()
        try:
            owl.wait(timeout=60)
        except subprocess.TimeoutExpired:
            owl.kill()
            owl.wait(timeout=30)
        left = base.docker("ps", "-aq", "--filter", f"label=owl.invoker={base.INVOKER}").split()
        if left:
            base.docker("rm", "-f", *left)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
