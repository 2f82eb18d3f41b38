#!/usr/bin/env python3
"""A bounded soak: sustained blocking invokes of one warm action, and what Owl looks like over time.

Starts a release `owl standalone` (its own data directory and invoker name, the guest namespace's
throttles lifted), warms a no-op Node.js action, then for S seconds (at most 600) drives it with wrk
(C clients on keep-alive connections: blocking invokes, result only) while this script samples,
every 10 s: a probe's latency (one blocking invoke on a connection of its own every 100 ms:
p50/p99/max in the window), Owl's RSS and its open file descriptors. At the end it prints wrk's
figures over the whole run: requests, rate, p50, p99, p99.9, max and non-2xx answers.
With --cold the load meets an action never run before: C blocking invokes of it at once, each
timed (the containers start under them), then the soak on what that burst left warm. (wrk's own
percentiles correct for coordinated omission: a request held 1 s while the others took 6 ms counts
as the ~170 requests an open-loop client would have seen held, so the burst is timed apart.) With --close every request comes on a new connection (`Connection: close`), as from clients that
do not keep connections alive. It also prints what the kernel counted meanwhile (listen queue
overflows, SYN retransmits, TCP timeouts): a request held for a second or more with Owl idle is a
lost packet waiting for TCP's retransmit timer, and these counters tell one from the other.
Figures only, no assertions. Usage: bench/soak.py [--seconds S] [--clients C] [--cold] [--close]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import invoke as base  # noqa: E402

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Authorization"] = "%s"
wrk.headers["Content-Type"] = "application/json"
%s
wrk.path = "/api/v1/namespaces/_/actions/soak?blocking=true&result=true"
-- How many requests took longer than `us`: the percentile where latency crosses it, found by halving.
over = function(latency, n, us)
  if latency.max <= us then return 0 end
  local lo, hi = 0, 100
  for _ = 1, 60 do
    local mid = (lo + hi) / 2
    if latency:percentile(mid) > us then hi = mid else lo = mid end
  end
  return math.floor(n * (100 - hi) / 100 + 0.5)
end
done = function(summary, latency, requests)
  io.write(string.format("SOAK requests=%%d errors=%%d non2xx=%%d p50=%%d p99=%%d p999=%%d p9999=%%d max=%%d over1s=%%d over2s=%%d\\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50), latency:percentile(99), latency:percentile(99.9),
    latency:percentile(99.99), latency.max, over(latency, summary.requests, 1000000),
    over(latency, summary.requests, 2000000)))
end
"""

# The kernel's TCP counters worth a look after a soak (/proc/net/netstat and /proc/net/snmp).
TCP_COUNTERS = ["ListenOverflows", "ListenDrops", "TCPSynRetrans", "TCPTimeouts", "RetransSegs", "TCPAbortOnData",
                "TCPTimeWaitOverflow"]


def tcp_counters():
    found = {}
    for path in ("/proc/net/netstat", "/proc/net/snmp"):
        try:
            lines = open(path).read().splitlines()
        except OSError:
            continue
        for names, values in zip(lines[::2], lines[1::2]):
            for k, v in zip(names.split()[1:], values.split()[1:]):
                if k in TCP_COUNTERS:
                    found[k] = int(v)
    return found


def open_fds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=180)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--close", action="store_true", help="a new connection for every request")
    ap.add_argument("--cold", action="store_true", help="no warm-up: the load starts on a fresh action")
    a = ap.parse_args()
    seconds = max(10, min(a.seconds, 600))
    data = tempfile.mkdtemp(prefix="owl-soak-")
    invoker = f"soak{os.getpid()}"
    subprocess.run([base.OWL, "admin", "--data-dir", data, "namespace", "set-limits", "guest",
                    "--invocations-per-minute", "100000000", "--concurrent-invocations", "10000"],
                   check=True, capture_output=True)
    owl = subprocess.Popen([base.OWL, "standalone", "--port", "0", "--data-dir", data, "--invoker-id", invoker],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    script = None
    try:
        port = int(owl.stdout.readline().rsplit(":", 1)[1])
        conn = base.Conn(port)
        base.create(conn, "soak", "nodejs:20", base.NOOP_JS)
        if a.cold:
            burst = [0.0] * a.clients

            def first(i):
                burst[i] = base.timed(lambda: base.invoke(base.Conn(port), "soak"))

            threads = [threading.Thread(target=first, args=(i,)) for i in range(a.clients)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            burst.sort()
            print(f"  {a.clients} invokes at once of the fresh action: fastest {base.ms(burst[0])}, median "
                  f"{base.ms(base.pct(burst, 50))}, slowest {base.ms(burst[-1])}")
        else:
            for _ in range(200):
                base.invoke(conn, "soak")
        idle_rss, idle_fds = base.rss_mib(owl.pid), open_fds(owl.pid)
        print(f"owl standalone (release) pid {owl.pid}; {seconds} s of blocking invokes from {a.clients} wrk "
              f"{'clients, a new connection per request' if a.close else 'connections'}{', no warm-up' if a.cold else ''}; load average before {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"  idle: RSS {idle_rss:.1f} MiB, {idle_fds} open fds")
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
            f.write(WRK_SCRIPT % (base.AUTH, 'wrk.headers["Connection"] = "close"' if a.close else ""))
            script = f.name
        tcp_before = tcp_counters()
        wrk = subprocess.Popen(["wrk", "-t", "2", "-c", str(a.clients), "-d", f"{seconds}s", "--timeout", "70s",
                                "-s", script, f"http://127.0.0.1:{port}"], stdout=subprocess.PIPE, text=True)
        window, lock = [], threading.Lock()
        stop = threading.Event()

        def probe():
            c = base.Conn(port)
            while not stop.is_set():
                t0 = time.perf_counter()
                c.req("POST", "/api/v1/namespaces/_/actions/soak?blocking=true&result=true", {})
                with lock:
                    window.append(time.perf_counter() - t0)
                time.sleep(0.1)

        prober = threading.Thread(target=probe)
        prober.start()
        print("  t(s)  probe p50    probe p99    probe max    RSS MiB  fds")
        started = time.time()
        while wrk.poll() is None:
            time.sleep(10)
            with lock:
                xs, window[:] = list(window), []
            if xs:
                print(f"  {time.time() - started:4.0f}  {base.ms(base.pct(xs, 50)):>11}  {base.ms(base.pct(xs, 99)):>11}  "
                      f"{base.ms(max(xs)):>11}  {base.rss_mib(owl.pid):7.1f}  {open_fds(owl.pid)}")
        stop.set()
        prober.join()
        out = wrk.stdout.read()
        line = next((l for l in out.splitlines() if l.startswith("SOAK ")), None)
        if line is None:
            print(out)
            return
        f = dict(kv.split("=") for kv in line.split()[1:])
        us = lambda k: f"{int(f[k]) / 1000:.2f} ms"  # noqa: E731
        print(f"  whole run (wrk): {int(f['requests'])} requests, {int(f['requests']) / seconds:.0f}/s, "
              f"p50 {us('p50')}, p99 {us('p99')}, p99.9 {us('p999')}, p99.99 {us('p9999')}, max {us('max')}; "
              f"{f['over1s']} over 1 s, {f['over2s']} over 2 s; {f['non2xx']} non-2xx, {f['errors']} socket errors")
        tcp_after = tcp_counters()
        print("  TCP meanwhile (whole machine): " + ", ".join(
            f"{k} {tcp_after[k] - tcp_before.get(k, 0)}" for k in TCP_COUNTERS if k in tcp_after))
        time.sleep(5)
        print(f"  5 s after: RSS {base.rss_mib(owl.pid):.1f} MiB, {open_fds(owl.pid)} open fds")
    finally:
        if script:
            os.unlink(script)
        owl.terminate()
        owl.wait()
        ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=owl.invoker={invoker}"],
                             capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run(["docker", "rm", "-f", *ids], capture_output=True)
        subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    main()
