#!/usr/bin/env python3
"""Benchmark trigger fires and alarms through Owl, beside the floor measured in the same run.

Starts a release `owl standalone` (its own data directory and invoker name, throttles lifted for
the guest namespace), then prints:
  - fire: `POST triggers/t` with one active rule to a warm no-op Node.js action, time from the
    client sending the fire to the rule's action activation `start`, p50/p99 over N fires, beside
    the same time for a direct non-blocking invoke of the action (the floor), samples interleaved;
  - alarms: K triggers made as `wsk trigger create --feed /whisk.system/alarms/alarm` does (cron
    `*/P * * * * *`, strict), each with a rule to the same action, watched for a few ticks: lateness
    of each trigger activation's `start` (and of its action's `start`) after the tick it fired for,
    fires counted per trigger; a double or missed fire is printed loudly.
An activation's `start` is the invoker's clock (epoch ms, truncated) when it had a container for
the run, just before `/init` or `/run`: queueing and container choice are in the figures, the run
itself is not. It prints figures and asserts nothing; it exits 2 when the build lacks trigger
fires or the alarms feed (after printing what it could measure).
Usage: bench/events.py [--fires N] [--alarms K] [--period P] [--ticks T]
"""
import argparse
import base64
import collections
import http.client
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OWL = os.path.join(ROOT, "target", "release", "owl")
KEY = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP"
AUTH = "Basic " + base64.b64encode(KEY.encode()).decode()
INVOKER = f"bench{os.getpid()}"
NOOP_JS = "function main() { return {} }"
FEED = "/whisk.system/alarms/alarm"
FEED_PATH = "/api/v1/namespaces/whisk.system/actions/alarms/alarm?blocking=true&result=false"
ACTIVATIONS = "/api/v1/namespaces/_/activations"
LIFT = "100000000"
# `start` is whole milliseconds, truncated: the instant lies in [start, start + 1), on average at
# start + 0.5, which is what the figures take (each is still only good to about a millisecond).
HALF = 0.5  # a per-minute or concurrency limit nothing here reaches


class Missing(Exception):
    """The build does not have the feature measured."""


class Conn:
    def __init__(self, port):
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        try:
            self.c.request(method, path, data, {"Authorization": AUTH, "Content-Type": "application/json"})
        except (BrokenPipeError, ConnectionResetError):
            # The server closed the idle keep-alive connection before this request went out.
            self.c.close()
            self.c.request(method, path, data, {"Authorization": AUTH, "Content-Type": "application/json"})
        r = self.c.getresponse()
        text = r.read()
        return r.status, (json.loads(text) if text else None)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def ms(x):
    """A time in milliseconds (already), as printed."""
    return f"{x:.1f} ms"


def now_ms():
    return time.time() * 1000


def docker(*args):
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout.strip()


def containers():
    out = docker("ps", "--filter", f"label=owl.invoker={INVOKER}", "--format", "{{.Names}}")
    return out.splitlines()


def put(conn, collection, name, body):
    s, b = conn.req("PUT", f"/api/v1/namespaces/_/{collection}/{name}?overwrite=true", body)
    assert s == 200, (collection, name, s, b)


def record(conn, aid, timeout=30):
    """The activation record `aid`, once written (polled: records are committed in groups)."""
    time.sleep(0.02)
    deadline = time.time() + timeout
    while True:
        s, b = conn.req("GET", f"{ACTIVATIONS}/{aid}")
        if s == 200:
            return b
        if s != 404 or time.time() > deadline:
            raise RuntimeError(f"activation {aid}: {s} {b}")
        time.sleep(0.005)


def wait_time(rec):
    """The record's `waitTime` annotation: from the controller's taking the invoke to `start`."""
    return next((a["value"] for a in rec.get("annotations", []) if a.get("key") == "waitTime"), None)


def rule_entries(trigger_record):
    """The trigger activation's log lines, one JSON object per rule."""
    return [json.loads(line) for line in trigger_record.get("logs", [])]


def probe_fire(conn):
    put(conn, "triggers", "probe", {})
    s, b = conn.req("POST", "/api/v1/namespaces/_/triggers/probe", {})
    conn.req("DELETE", "/api/v1/namespaces/_/triggers/probe")
    if s != 204:
        raise Missing(f"POST triggers/probe (a trigger without rules) answered {s} {b}, not 204: "
                      "this build does not fire triggers")


def probe_alarms(conn):
    s, b = conn.req("GET", "/api/v1/namespaces/whisk.system/packages/alarms")
    if s != 200:
        raise Missing(f"GET /namespaces/whisk.system/packages/alarms answered {s} {b}: "
                      "this build has no alarms feed")
    feeds = [f.get("name") for f in b.get("feeds", [])]
    if "alarm" not in feeds:
        raise Missing(f"/whisk.system/alarms lists feeds {feeds}, no 'alarm'")


def fire_sample(conn, trigger):
    """Client send time to the rule's action `start`, the 202's round trip, the action's waitTime."""
    t0 = now_ms()
    s, b = conn.req("POST", f"/api/v1/namespaces/_/triggers/{trigger}", {})
    answered = now_ms() - t0
    if s != 202:
        raise RuntimeError(f"fire {trigger}: {s} {b}")
    entries = rule_entries(record(conn, b["activationId"]))
    if len(entries) != 1 or not entries[0].get("success"):
        raise RuntimeError(f"fire {trigger}: rule log {entries}")
    action = record(conn, entries[0]["activationId"])
    return action["start"] + HALF - t0, answered, wait_time(action)


def invoke_sample(conn, name):
    t0 = now_ms()
    s, b = conn.req("POST", f"/api/v1/namespaces/_/actions/{name}?blocking=false", {})
    answered = now_ms() - t0
    if s != 202:
        raise RuntimeError(f"invoke {name}: {s} {b}")
    action = record(conn, b["activationId"])
    return action["start"] + HALF - t0, answered, wait_time(action)


def line(xs):
    return f"p50 {ms(pct(xs, 50))}  p99 {ms(pct(xs, 99))}  mean {ms(statistics.fmean(xs))}"


def ratio(a, b):
    return f"{a / b:.2f}x" if b > 0 else "n/a"


def measure_fires(conn, n, fires_work):
    """Interleaved samples, alternating which goes first; each waits for its action's record."""
    fire, invoke = [], []
    for i in range(n):
        order = (("invoke", "fire") if i % 2 else ("fire", "invoke")) if fires_work else ("invoke",)
        for kind in order:
            if kind == "fire":
                fire.append(fire_sample(conn, "bench"))
            else:
                invoke.append(invoke_sample(conn, "noop"))
    inv = [x[0] for x in invoke]
    print(f"direct invoke (non-blocking) to action start, N={n}: {line(inv)} | "
          f"202 answered p50 {ms(pct([x[1] for x in invoke], 50))} | "
          f"waitTime mean {ms(statistics.fmean(x[2] for x in invoke))}")
    if not fires_work:
        return
    fr = [x[0] for x in fire]
    f50, f99, i50, i99 = pct(fr, 50), pct(fr, 99), pct(inv, 50), pct(inv, 99)
    print(f"trigger fire (1 rule) to action start,    N={n}: {line(fr)} | "
          f"202 answered p50 {ms(pct([x[1] for x in fire], 50))} | "
          f"waitTime mean {ms(statistics.fmean(x[2] for x in fire))}")
    print(f"fire vs invoke: p50 {ratio(f50, i50)} ({f50 - i50:+.1f} ms)  p99 {ratio(f99, i99)} ({f99 - i99:+.1f} ms)")


def list_records(conn, since):
    """Every activation record started at or after `since` (epoch ms), whole."""
    out, skip = [], 0
    while True:
        s, b = conn.req("GET", f"{ACTIVATIONS}?docs=true&limit=200&skip={skip}&since={int(since)}")
        assert s == 200, (s, b)
        out.extend(b)
        if len(b) < 200:
            return out
        skip += 200


def feed(conn, event, trigger, **params):
    body = {"lifecycleEvent": event, "triggerName": f"/_/{trigger}", "authKey": KEY, **params}
    s, b = conn.req("POST", FEED_PATH, body)
    result = (b or {}).get("response", {}).get("result", b)
    return s, result


def measure_alarms(conn, k, period, ticks):
    p = period * 1000
    cron = f"*/{period} * * * * *"
    names = [f"alarm{i}" for i in range(k)]
    made = {}  # trigger: (feed CREATE sent, its answer received), client epoch ms
    t_setup = now_ms()
    for i, t in enumerate(names):
        put(conn, "triggers", t, {"name": t, "annotations": [{"key": "feed", "value": FEED}]})
        # The rule before the feed (wsk makes it after): every fire of the schedule finds it.
        put(conn, "rules", f"{t}rule", {"name": f"{t}rule", "status": "", "trigger": f"/_/{t}", "action": "/_/noop"})
        sent = now_ms()
        s, result = feed(conn, "CREATE", t, cron=cron, strict=True, trigger_payload={"bench": i})
        made[t] = (sent, now_ms())
        if s != 200:
            raise Missing(f"feed CREATE of {t} answered {s} {result}")
    setup_end = max(r for _, r in made.values())
    first_tick = math.floor(setup_end / p) * p + p
    end_tick = first_tick + (ticks - 1) * p
    settle = min(5000, p / 2)
    print(f"alarms: {k} triggers with rules and feeds made in {(setup_end - t_setup) / 1000:.1f} s "
          f"(cron '{cron}', strict); watching {ticks} ticks")
    time.sleep(max(0.0, (end_tick + settle - now_ms()) / 1000))
    conn.c.close()  # idle for seconds: the server has closed it

    # Feed READ right before DELETE, per trigger, as `wsk trigger get` then `wsk trigger delete`.
    fire_counts = {}
    for t in names:
        s, result = feed(conn, "READ", t)
        if s == 200:
            fire_counts[t] = result.get("status", {}).get("fireCount")
        s, result = feed(conn, "DELETE", t)
        if s != 200:
            print(f"!!! feed DELETE of {t} answered {s} {result}")
        conn.req("DELETE", f"/api/v1/namespaces/_/rules/{t}rule")
        s, _ = conn.req("DELETE", f"/api/v1/namespaces/_/triggers/{t}")
        if s != 200:
            print(f"!!! DELETE triggers/{t} answered {s}")
    deleted = now_ms()
    time.sleep(2)  # the last fires' records are written
    conn.c.close()
    records = list_records(conn, t_setup - 1000)
    by_id = {r["activationId"]: r for r in records}
    fires = collections.defaultdict(list)
    for r in records:
        if r["name"] in made:
            fires[r["name"]].append(r)
    after = len([r for r in records if r["name"] in made and r["start"] > deleted])

    late, action_late, problems, extra, failed_rules = [], [], [], 0, []
    per_trigger = collections.Counter()
    for t in names:
        sent, recv = made[t]
        seen = collections.Counter()
        for r in fires[t]:
            tick = math.floor(r["start"] / p) * p  # the nearest tick at or before the fire
            if tick > end_tick:
                extra += 1
                continue
            seen[tick] += 1
            late.append(r["start"] + HALF - tick)
            for e in rule_entries(r):
                a = by_id.get(e.get("activationId"))
                if not e.get("success") or a is None:
                    failed_rules.append((t, e))
                else:
                    action_late.append(a["start"] + HALF - tick)
        expected = range(math.floor(recv / p) * p + p, end_tick + 1, p)
        per_trigger[sum(seen.values())] += 1
        for tick, c in sorted(seen.items()):
            if c > 1:
                problems.append(f"{t}: {c} fires for tick {tick} (starts "
                                f"{[r['start'] for r in fires[t] if math.floor(r['start'] / p) * p == tick]})")
            if tick <= sent:
                problems.append(f"{t}: a fire for tick {tick}, before its feed was made at {sent:.0f}")
        for tick in expected:
            if tick not in seen:
                problems.append(f"{t}: no fire for tick {tick}")
        if fire_counts.get(t) is not None and fire_counts[t] != len(fires[t]):
            problems.append(f"{t}: feed READ fireCount {fire_counts[t]}, {len(fires[t])} trigger records")

    n = len(late)
    print(f"alarm fires: {n} in the ticks watched (+{extra} later, {after} after the feeds were deleted); "
          "triggers by fires: " + ", ".join(f"{m} with {c}" for c, m in sorted(per_trigger.items())))
    if n:
        print(f"alarm lateness, trigger activation start - tick: p50 {ms(pct(late, 50))}  "
              f"p99 {ms(pct(late, 99))}  max {ms(max(late))}")
    if action_late:
        print(f"alarm lateness, rule's action start - tick:     p50 {ms(pct(action_late, 50))}  "
              f"p99 {ms(pct(action_late, 99))}  max {ms(max(action_late))}")
    if n < 100:
        print(f"!!! only {n} fires collected (wanted >= 100)")
    if failed_rules:
        print(f"!!! {len(failed_rules)} rule invocations failed or left no record, e.g. {failed_rules[:3]}")
    if problems:
        print(f"!!! {len(problems)} DOUBLE OR MISSED FIRES (or a fire later than a period):")
        for x in problems[:40]:
            print(f"!!!   {x}")
    else:
        print("no double or missed fire")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fires", type=int, default=200, help="fire samples (and as many invoke samples)")
    ap.add_argument("--alarms", type=int, default=200, help="alarm triggers")
    ap.add_argument("--period", type=int, default=10, help="seconds between an alarm's fires (divides 60)")
    ap.add_argument("--ticks", type=int, default=3, help="ticks watched (at most 12)")
    a = ap.parse_args()
    assert 60 % a.period == 0 and 1 <= a.ticks <= 12 and 1 <= a.alarms <= 1000 and 1 <= a.fires <= 10000
    if not os.path.exists(OWL):
        sys.exit(f"{OWL} is missing: cargo build --release --bin owl")
    data = tempfile.mkdtemp(prefix="owl-bench-")
    limits = ["--invocations-per-minute", LIFT, "--concurrent-invocations", "10000"]
    lifted = subprocess.run([OWL, "admin", "--data-dir", data, "namespace", "set-limits", "guest", *limits,
                             "--fires-per-minute", LIFT], capture_output=True, text=True)
    if lifted.returncode != 0:
        # A build without the flag: fires stay at 60 a minute, so fewer samples and alarms.
        print(f"!!! set-limits --fires-per-minute failed ({lifted.stderr.strip().splitlines()[-1:]}): "
              "fires stay throttled at 60/min; running 25 fire samples and 4 alarms")
        a.fires, a.alarms = min(a.fires, 25), min(a.alarms, 4)
        subprocess.run([OWL, "admin", "--data-dir", data, "namespace", "set-limits", "guest", *limits],
                       check=True, capture_output=True)
    owl = subprocess.Popen([OWL, "standalone", "--port", "0", "--data-dir", data, "--invoker-id", INVOKER,
                            "--user-memory", "40000"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    missing = []
    try:
        port = int(owl.stdout.readline().rsplit(":", 1)[1])
        conn = Conn(port)
        deadline = time.time() + 60
        while sum("prewarm" in n for n in containers()) < 2 and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        print(f"owl standalone (release) pid {owl.pid}, port {port}. An action activation's start: the invoker's "
              "clock when it has the run's container, before /init or /run; a trigger activation's start: when "
              "the fire handler took the fire. Both whole ms, truncated: figures take start + 0.5 ms")

        fires_work = True
        try:
            probe_fire(conn)
        except Missing as e:
            missing.append(str(e))
            fires_work = False
            print(f"!!! {e}; measuring invokes only")
        put(conn, "actions", "noop", {"exec": {"kind": "nodejs:20", "code": NOOP_JS}, "limits": {"memory": 256}})
        for _ in range(20):
            s, b = conn.req("POST", "/api/v1/namespaces/_/actions/noop?blocking=true&result=true", {})
            assert s == 200, (s, b)
        if fires_work:
            put(conn, "triggers", "bench", {"name": "bench"})
            put(conn, "rules", "benchrule", {"name": "benchrule", "status": "", "trigger": "/_/bench",
                                             "action": "/_/noop"})
            for _ in range(10):
                fire_sample(conn, "bench")
                invoke_sample(conn, "noop")
        measure_fires(conn, a.fires, fires_work)

        if fires_work:
            try:
                probe_alarms(conn)
                measure_alarms(conn, a.alarms, a.period, a.ticks)
            except Missing as e:
                missing.append(str(e))
                print(f"!!! {e}")
    finally:
        owl.terminate()
        owl.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)
    if missing:
        print("not measured, the feature is missing from this build:\n  " + "\n  ".join(missing), file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
