#!/usr/bin/env python3
"""Benchmark the distributed topology beside standalone, in one run.

Builds nothing: it needs a release `owl` (`cargo build --release --bin owl`) and, for the broker
figure, the `broker_latency` example (`cargo build --release -p owl-queue --example broker_latency`;
when its binary is missing it is run through `cargo run --release`, which builds it). A Docker
engine must answer and the runtime images must exist (`target/release/owl runtimes build`).

In one run, each part with the same no-op Node.js 20 action (256 MB), no stem cells
(`--no-prewarm`), the guest namespace's throttles lifted:
  a. standalone: `owl standalone` (its own data directory);
  b. distributed, two invokers: `scripts/distributed up DIR` (RabbitMQ, the CouchDB-compatible
     pouchdb-server, two controllers, two invokers, as processes on this machine);
     then the broker's publish-to-deliver time (queue/examples/broker_latency.rs) against its
     RabbitMQ, before `scripts/distributed down DIR`;
  c. distributed, one invoker (OWL_INVOKER_COUNT=1).
Each part measures sequential blocking invoke latency (`blocking=true&result=true`, p50/p99 over
--runs requests on keep-alive connections; in the distributed parts the requests alternate between
the two controllers) and throughput (blocking invokes answered 200 per second) with 1 and 8
clients for --seconds each (wrk when installed, else Python threads; in the distributed parts
client i talks to controller i mod 2). Beside each throughput figure: the CPU each part spent per
invocation during it (from /proc and the containers' cgroups; "rest" is the machine's busy time not
accounted for: the kernel, this script, anything else running). It prints the figures and their
ratios, asserts nothing.

Usage: bench/distributed.py [--runs N] [--seconds S] [--actions K] [--broker-messages M]
"""
import argparse
import os
import re
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from invoke import AUTH, NOOP_JS, OWL, ROOT, Conn, create, invoke, pct  # noqa: E402

DISTRIBUTED = os.path.join(ROOT, "scripts", "distributed")
BROKER_EXAMPLE = os.path.join(ROOT, "target", "release", "examples", "broker_latency")
INVOKER = f"benchdist{os.getpid()}"
WARMUP = 50
LIFT = ["namespace", "set-limits", "guest", "--invocations-per-minute", "1000000",
        "--concurrent-invocations", "100000"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def load():
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def action_names(k):
    return ["noop"] if k == 1 else [f"noop{i}" for i in range(k)]


def latency(ports, name, runs, limit_s=300):
    """Sequential blocking invokes, alternating over `ports` (one keep-alive connection each)."""
    conns = [Conn(p) for p in ports]
    for i in range(WARMUP):
        invoke(conns[i % len(conns)], name)
    out = []
    stop = time.perf_counter() + limit_s
    for i in range(runs):
        if time.perf_counter() > stop:
            log(f"latency: stopped after {i} runs ({limit_s} s)")
            break
        t0 = time.perf_counter()
        invoke(conns[i % len(conns)], name)
        out.append(time.perf_counter() - t0)
    return out


def split(clients, n):
    """Clients per port: client i talks to port i mod n."""
    return [c for c in (clients // n + (1 if i < clients % n else 0) for i in range(n)) if c > 0]


def wrk_throughput(ports, names, clients, seconds):
    """One wrk per port, at once, the clients split over them (two wrk threads in all at most)."""
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
    try:
        shares = split(clients, len(ports))
        threads = max(1, 2 // len(shares))
        procs = [subprocess.Popen(["wrk", "-t", str(min(c, threads)), "-c", str(c), "-d", f"{seconds}s",
                                   "--timeout", "70s", "-s", f.name, f"http://127.0.0.1:{p}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for p, c in zip(ports, shares)]
        ok_rate, bad, errors = 0.0, 0, []
        for p in procs:
            try:
                out, _ = p.communicate(timeout=seconds + 90)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            m = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
            if not m:
                raise RuntimeError(f"wrk printed no figures: {out}")
            dur = float(m.group(2)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(3)]
            non2xx = int(next((l.split()[-1] for l in out.splitlines() if "Non-2xx" in l), 0))
            ok_rate += (int(m.group(1)) - non2xx) / dur
            bad += non2xx
            errors += [l.strip() for l in out.splitlines() if "Socket errors" in l]
        return ok_rate, bad, errors
    finally:
        os.unlink(f.name)


def py_throughput(ports, names, clients, seconds):
    """Python threads with keep-alive connections; client i talks to ports[i mod n]."""
    stop = time.perf_counter() + seconds
    counts, bad = [0] * clients, [0] * clients

    def worker(i):
        conn = Conn(ports[i % len(ports)])
        k = 0
        while time.perf_counter() < stop and k < 10_000_000:
            s, _ = conn.req("POST", f"/api/v1/namespaces/_/actions/{names[k % len(names)]}"
                                    "?blocking=true&result=true", {})
            k += 1
            if s == 200:
                counts[i] += 1
            else:
                bad[i] += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + 90)
    return sum(counts) / (time.perf_counter() - t0), sum(bad), []


TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    """CPU seconds (user + system, all threads) of a live process, else 0."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[11]) + int(rest[12])) / TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def engine_pids():
    """The Docker engine's processes: dockerd, containerd and the containers' shims (read only)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/comm") as f:
                    comm = f.read().strip()
                if comm in ("dockerd", "containerd") or comm.startswith("containerd-shim"):
                    out.append(int(d))
            except OSError:
                pass
    return out


def containers_cpu(owners):
    """CPU seconds of the action containers of these invokers, from their cgroups (v1 or v2)."""
    total = 0.0
    for owner in owners:
        ids = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter", f"label=owl.invoker={owner}"],
                             capture_output=True, text=True, timeout=60).stdout.split()
        for cid in ids:
            v1 = f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage"
            v2 = f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat"
            try:
                if os.path.exists(v1):
                    with open(v1) as f:
                        total += int(f.read()) / 1e9
                elif os.path.exists(v2):
                    with open(v2) as f:
                        total += next(int(l.split()[1]) for l in f if l.startswith("usage_usec")) / 1e6
            except (OSError, ValueError, StopIteration):
                pass
    return total


def machine_busy():
    """CPU seconds all cores spent on anything but idle and iowait."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / TICK


class CpuProbe:
    """CPU spent by each part of a topology during a measurement, per invocation."""

    def __init__(self, groups, owners):
        self.groups, self.owners = groups, owners

    def snap(self):
        s = {name: sum(proc_cpu(p) for p in pids) for name, pids in self.groups.items()}
        s["engine"] = sum(proc_cpu(p) for p in engine_pids())
        s["containers"] = containers_cpu(self.owners)
        s["wrk"] = sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2])
        s["machine"] = machine_busy()
        return s

    def report(self, before, after, wall, count):
        d = {k: after[k] - before[k] for k in after}
        machine = d.pop("machine")
        d["rest"] = machine - sum(d.values())
        per = ", ".join(f"{k} {v / count * 1000:.2f}" for k, v in d.items())
        return (f"CPU per invocation (ms): {per}; total {machine / count * 1000:.2f} "
                f"(machine busy {machine / wall:.2f} of {os.cpu_count()} cores)")


def measure(label, ports, a, containers_of=None, probe=None):
    """Latency and throughput at 1 and 8 clients against `ports`; the figures as a dict."""
    conn = Conn(ports[0])
    names = action_names(a.actions)
    for n in names:
        create(conn, n, "nodejs:20", NOOP_JS)
    for n in names:
        for i in range(len(ports)):
            invoke(Conn(ports[i]), n)
    log(f"{label}: latency, {a.runs} runs ({load()})")
    lat = latency(ports, names[0], a.runs)
    r = {"p50": pct(lat, 50), "p99": pct(lat, 99), "n": len(lat)}
    print(f"{label:28} latency p50 {r['p50'] * 1000:.3f} ms  p99 {r['p99'] * 1000:.3f} ms  (n={r['n']})",
          flush=True)
    run = wrk_throughput if shutil.which("wrk") else py_throughput
    for clients in (1, 8):
        warm = Conn(ports[0])  # a new connection: the server closes idle keep-alive ones
        for n in names:  # every action warm before the clock starts
            invoke(warm, n)
        log(f"{label}: throughput, {clients} clients, {a.seconds} s ({load()})")
        before, t0 = (probe.snap() if probe else None), time.perf_counter()
        rate, bad, errors = run(ports, names, clients, a.seconds)
        wall = time.perf_counter() - t0
        r[f"tput{clients}"] = rate
        extra = f"  {'; '.join(errors)}" if errors else ""
        print(f"{label:28} throughput {clients} clients: {rate:8.1f} invocations/s ({bad} non-2xx){extra}",
              flush=True)
        if probe and rate > 0:
            print(f"{'':28}   {probe.report(before, probe.snap(), wall, rate * a.seconds)}", flush=True)
    if containers_of:
        print(f"{label:28} containers per invoker after the runs: {containers_of()}", flush=True)
    return r


def docker_count(label_value):
    out = subprocess.run(["docker", "ps", "-q", "--filter", f"label=owl.invoker={label_value}"],
                         capture_output=True, text=True, timeout=60).stdout
    return len(out.split())


def read_port(proc, limit_s=60):
    """The port `owl standalone --port 0` prints on its first line."""
    deadline = time.time() + limit_s
    while time.time() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            return int(line.rsplit(":", 1)[1])
        if proc.poll() is not None:
            break
    raise RuntimeError("owl standalone printed no port")


def standalone(a, work):
    data = os.path.join(work, "standalone")
    os.makedirs(data)
    subprocess.run([OWL, "admin", "--data-dir", data, *LIFT], check=True, capture_output=True, timeout=60)
    errlog = open(os.path.join(work, "standalone.log"), "w")
    owl = subprocess.Popen([OWL, "standalone", "--port", "0", "--data-dir", data, "--no-prewarm",
                            "--invoker-id", INVOKER], stdout=subprocess.PIPE, stderr=errlog, text=True)
    try:
        port = read_port(owl)
        probe = CpuProbe({"owl": [owl.pid]}, [INVOKER])
        return measure("standalone", [port], a, lambda: {INVOKER: docker_count(INVOKER)}, probe)
    finally:
        owl.terminate()
        try:
            owl.wait(timeout=60)
        except subprocess.TimeoutExpired:
            owl.kill()
            owl.wait(timeout=30)
        errlog.close()


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                env[k] = v
    return env


def broker_latency(url, messages):
    if os.access(BROKER_EXAMPLE, os.X_OK):
        cmd = [BROKER_EXAMPLE, url, str(messages)]
    else:
        cmd = ["cargo", "run", "--release", "-q", "-p", "owl-queue", "--example", "broker_latency", "--",
               url, str(messages)]
    log(f"broker: {' '.join(cmd[:1] if cmd[0] != 'cargo' else cmd[:8])} ({load()})")
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        print(f"broker_latency failed ({p.returncode}): {p.stderr.strip()}", flush=True)
        return None
    print(p.stdout.rstrip(), flush=True)
    figures = {}
    for line in p.stdout.splitlines():
        m = re.match(r"(publish \(confirmed\)|publish-to-deliver)\s+p50 ([\d.]+) ms\s+p99 ([\d.]+) ms\s+max ([\d.]+)",
                     line)
        if m:
            figures[m.group(1)] = tuple(float(m.group(i)) for i in (2, 3, 4))
    return figures


def distributed(a, work, invokers, broker):
    """One topology of two controllers and `invokers` invokers; (figures, broker figures)."""
    topo = os.path.join(work, f"topology{invokers}")
    env = dict(os.environ, OWL_BIN=OWL, OWL_INVOKER_FLAGS="--no-prewarm", OWL_INVOKER_COUNT=str(invokers),
               OWL_CONTROLLER_COUNT="2")
    label = f"distributed, {invokers} invoker{'s' if invokers > 1 else ''}"
    uplog = os.path.join(work, f"up{invokers}.log")
    try:
        log(f"{label}: scripts/distributed up {topo}")
        with open(uplog, "w") as f:
            p = subprocess.run([DISTRIBUTED, "up", topo], env=env, stdout=f, stderr=subprocess.STDOUT,
                               timeout=900)
        if p.returncode != 0:
            with open(uplog) as f:
                raise RuntimeError(f"scripts/distributed up failed:\n{f.read()[-3000:]}")
        denv = read_env(os.path.join(topo, "env"))
        ports = [int(u.rsplit(":", 1)[1]) for u in denv["OWL_CONTROLLERS"].split(",")]
        subprocess.run([OWL, "admin", "--couch-url", denv["OWL_COUCH_URL"], "--db-prefix", denv["OWL_DB_PREFIX"],
                        *LIFT], check=True, capture_output=True, timeout=60)
        time.sleep(2)  # every controller's cache follows the store within a second
        ids = denv["OWL_INVOKERS"].split(",")
        pid = lambda name: int(open(os.path.join(topo, name)).read().strip())  # noqa: E731
        probe = CpuProbe({"controllers": [pid(f"controller{i}.pid") for i in range(len(ports))],
                          "invokers": [pid(f"{i}.pid") for i in ids],
                          "couch": [pid("couch/couch.pid")],
                          "rabbitmq": [pid("rabbitmq/rabbitmq.pid")]}, ids)
        r = measure(label, ports, a, lambda: {i: docker_count(i) for i in ids}, probe)
        b = broker_latency(denv["OWL_AMQP_URL"], a.broker_messages) if broker else None
        return r, b
    finally:
        if os.path.isdir(topo):
            log(f"{label}: scripts/distributed down {topo}")
            subprocess.run([DISTRIBUTED, "down", topo], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=300)


def ratio(x, y):
    return f"{x / y:.2f}x" if x and y else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--actions", type=int, default=1,
                    help="throughput spread over K no-op actions (default 1; latency uses the first)")
    ap.add_argument("--broker-messages", type=int, default=2000)
    a = ap.parse_args()
    if not os.access(OWL, os.X_OK):
        sys.exit(f"no {OWL}: build it with `cargo build --release --bin owl`")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode != 0:
        sys.exit("no Docker engine answers (`docker info`)")
    for i in ("invoker0", "invoker1"):
        if docker_count(i):
            sys.exit(f"containers labelled owl.invoker={i} run already: another topology uses that id")

    work = tempfile.mkdtemp(prefix="owl-bench-dist-")
    log(f"work directory {work}; {os.cpu_count()} cores, {load()}; load generator: "
        f"{'wrk' if shutil.which('wrk') else 'Python threads'}")
    try:
        s = standalone(a, work)
        d2, broker = distributed(a, work, 2, broker=True)
        d1, _ = distributed(a, work, 1, broker=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ms = lambda x: f"{x * 1000:.2f} ms"  # noqa: E731
    print()
    print(f"| what | standalone | distributed, 1 invoker | distributed, 2 invokers | 2 invokers / standalone |")
    print("|---|---|---|---|---|")
    print(f"| latency p50 | {ms(s['p50'])} | {ms(d1['p50'])} | {ms(d2['p50'])} | {ratio(d2['p50'], s['p50'])} |")
    print(f"| latency p99 | {ms(s['p99'])} | {ms(d1['p99'])} | {ms(d2['p99'])} | {ratio(d2['p99'], s['p99'])} |")
    for c in (1, 8):
        k = f"tput{c}"
        print(f"| throughput, {c} client{'s' if c > 1 else ''} | {s[k]:.0f}/s | {d1[k]:.0f}/s | {d2[k]:.0f}/s | "
              f"{ratio(d2[k], s[k])} (1 invoker: {ratio(d1[k], s[k])}; 2 / 1 invoker: {ratio(d2[k], d1[k])}) |")
    if broker and "publish-to-deliver" in broker:
        p50, p99, _ = broker["publish-to-deliver"]
        c50, c99, _ = broker["publish (confirmed)"]
        inv = d2["p50"] * 1000
        print()
        print(f"broker publish-to-deliver p50 {p50:.3f} ms, p99 {p99:.3f} ms (publish with confirm alone p50 "
              f"{c50:.3f} ms, p99 {c99:.3f} ms) beside the distributed invoke p50 {inv:.3f} ms: one hop "
              f"{p50 / inv * 100:.0f}% of it; a blocking invoke crosses the broker twice before its caller "
              f"hears (activation to the invoker, result to the controller): about {2 * p50 / inv * 100:.0f}%")


if __name__ == "__main__":
    main()
