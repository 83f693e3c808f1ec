"""The benchmark's section on labs that change (steps), on the default engine:

  * impairment accuracy: the median round trip measured by a `latency`
    check (50 echo requests) against the delay set on the link, at 20, 50,
    100 and 200 ms (goal: within ±10%); the loss measured by a `loss` check
    over 500 echo requests against 10% and 30% set (goal: within ±5
    points). Which mechanism set it (the kernel's netem, or netlab's own
    emulator where the kernel has none) is printed;
  * the time of each action (connect, disconnect, restart, pause), as the
    engine call netlab makes, next to the plain `docker` command doing the
    same to a container of the same lab (goal: ratio ≤ 1.2x); the time of
    the docker client alone (`docker version`) is printed beside, since it
    is part of every `docker` figure;
  * putting back a lab of N nodes (20 at full scale) after a step that
    touched every node: once after each node left one of its networks,
    once after each node was paused (goal: < 2 s).

Every figure comes from a `netlab verify --output json` whose checks all
passed (the ranges there are wide on purpose: the benchmark judges the
figures, the checks only make sure the series ran)."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field

from benchlib import BenchFailure, Section, Verdict, cmp, failing_into, progress, run

DELAYS_MS = [20, 50, 100, 200]
LOSSES = [10, 30]
LOSS_PROBES = 500
DELAY_TOLERANCE = 0.10
LOSS_TOLERANCE = 5.0
ACTION_RATIO = 1.2
RESTORE_SECONDS = 2.0
FULL_NODES = 20

LABS = {"bench-impair", "bench-actions", "bench-restore"}


def impair_yaml(name: str, probes: int) -> str:
    out = [f"name: {name}", "description: netlab benchmark lab (bench/steps.py), impairment accuracy",
           "networks:", "  lan: {}", "nodes:",
           "  web: { networks: [lan], serve: [tcp:7000] }", "  client: { networks: [lan] }",
           "checks:", "  - latency: { from: client, to: web, expect: { median: ..5ms } }", "steps:"]
    for d in DELAYS_MS:
        out += [f"  - title: delay {d}ms",
                f"    do: [ {{ impair: {{ node: web, network: lan, delay: {d}ms }} }} ]",
                "    checks:",
                f"      - latency: {{ from: client, to: web, count: 50, expect: {{ median: 1ms..10s }} }}"]
    for p in LOSSES:
        out += [f"  - title: loss {p}%",
                f"    do: [ {{ impair: {{ node: web, network: lan, loss: {p}% }} }} ]",
                "    checks:",
                f"      - loss: {{ from: client, to: web, count: {probes}, interval: 5ms, expect: 1%..99% }}"]
    return "\n".join(out) + "\n"


def actions_yaml(name: str) -> str:
    return "\n".join([
        f"name: {name}", "description: netlab benchmark lab (bench/steps.py), action times",
        "networks:", "  lan: {}", "  side: {}", "nodes:",
        "  web: { networks: { lan: {}, side: { aliases: [www] } }, serve: [tcp:7000] }",
        "  client: { networks: [lan, side] }",
        "checks:", "  - tcp: { from: client, to: web:7000, expect: open }",
        "steps:",
        "  - title: actions",
        "    do:",
        "      - disconnect: { node: web, network: side }",
        "      - connect: { node: web, network: side }",
        "      - restart: web",
        "      - pause: web",
        "      - unpause: web",
        "    checks:",
        "      - tcp: { from: client, to: web:7000, expect: open, retry: true, timeout: 10s }",
    ]) + "\n"


def restore_yaml(name: str, n: int, pause: bool) -> str:
    nodes = [f"r-{i:02d}" for i in range(n)]
    out = [f"name: {name}", "description: netlab benchmark lab (bench/steps.py), restore of every node",
           "networks:", "  lan: {}", "  side: {}", "nodes:"]
    out += [f"  {x}: {{ networks: [lan, side], serve: [tcp:7000] }}" for x in nodes]
    out += ["checks:", f"  - tcp: {{ from: {nodes[0]}, to: {nodes[-1]}:7000, expect: open }}", "steps:",
            "  - title: every node " + ("paused" if pause else "leaves side"), "    do:"]
    if pause:
        out += [f"      - pause: {x}" for x in nodes]
    else:
        out += [f"      - disconnect: {{ node: {x}, network: side }}" for x in nodes]
    out += ["    checks:", f"      - dns: {{ from: {nodes[0]}, name: {nodes[1]}, expect: [{nodes[1]}] }}"]
    if pause:
        # A paused node cannot probe: the check runs from the host.
        out[-1] = f"      - latency: {{ from: host, to: {nodes[0]}, expect: {{ median: ..1s }} }}"
    return "\n".join(out) + "\n"


def verify_doc(bench, name: str) -> dict:
    code, out, err = run([bench.netlab, "verify", name, "--output", "json"], f"netlab verify {name}", check=False)
    try:
        doc = json.loads(out)
    except json.JSONDecodeError:
        raise BenchFailure(f"netlab verify {name} (exit {code}) printed no JSON:\n{err}\n{out}")
    if code != 0:
        raise BenchFailure(f"netlab verify {name} failed (exit {code}), so its figures mean nothing:\n{out[-3000:]}\n{err}")
    return doc


def wall(cmd: list[str], what: str) -> float:
    start = time.perf_counter()
    run(cmd, what)
    return time.perf_counter() - start


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class StepsResult(Section):
    title = "labs that change"
    nodes: int = FULL_NODES
    probes: int = LOSS_PROBES
    mechanism: str = ""
    delays: dict[int, list[float]] = field(default_factory=dict)  # ms set -> medians measured
    losses: dict[int, list[float]] = field(default_factory=dict)  # % set -> % measured
    netlab_ms: dict[str, list[float]] = field(default_factory=dict)  # action -> engine call ms
    netlab_full_ms: dict[str, list[float]] = field(default_factory=dict)
    docker_ms: dict[str, list[float]] = field(default_factory=dict)
    docker_client_ms: list[float] = field(default_factory=list)
    restore_ms: dict[str, list[float]] = field(default_factory=dict)

    def details(self) -> list[str]:
        out = [f"impairments set by: {self.mechanism or '-'}"]
        for d, v in self.delays.items():
            out.append(f"delay {d} ms: median round trip {', '.join(f'{x:.1f}' for x in v)} ms")
        for p, v in self.losses.items():
            out.append(f"loss {p}% over {self.probes} echo requests: measured {', '.join(f'{x:.1f}' for x in v)}%")
        for a in self.netlab_ms:
            out.append(f"{a}: netlab's engine call {fmt(med(self.netlab_ms[a]))} (the whole action, waits "
                       f"included, {fmt(med(self.netlab_full_ms.get(a, [])))}); `docker {a}` "
                       f"{fmt(med(self.docker_ms.get(a, [])))}")
        out.append(f"the docker client alone (`docker version`): {fmt(med(self.docker_client_ms))}")
        for what, v in self.restore_ms.items():
            out.append(f"put back {self.nodes} nodes after {what}: {', '.join(f'{x / 1000:.2f}' for x in v)} s")
        return out

    def targets(self) -> list[tuple[Verdict, str]]:
        out = []
        for d, v in self.delays.items():
            m = med(v)
            off = None if m is None else (m - d) / d
            out.append(cmp(off, lambda x: abs(x) <= DELAY_TOLERANCE,
                           f"median round trip within ±{DELAY_TOLERANCE:.0%} of a {d} ms delay: "
                           + ("-" if m is None else f"{m:.1f} ms ({off:+.1%})")))
        for p, v in self.losses.items():
            m = med(v)
            off = None if m is None else abs(m - p)
            out.append(cmp(off, lambda x: x <= LOSS_TOLERANCE,
                           f"loss within ±{LOSS_TOLERANCE:.0f} points of {p}% over {self.probes} echo requests: "
                           + ("-" if m is None else f"{m:.1f}%")
                           + ("" if self.probes == LOSS_PROBES else f" [scaled down: the goal is about {LOSS_PROBES}]")))
        for a in self.netlab_ms:
            n, d = med(self.netlab_ms[a]), med(self.docker_ms.get(a, []))
            r = None if n is None or not d else n / d
            out.append(cmp(r, lambda x: x <= ACTION_RATIO,
                           f"{a}: netlab/docker ≤ {ACTION_RATIO}x: {fmt(n)} / {fmt(d)} = "
                           + ("-" if r is None else f"{r:.2f}x")))
        for what, v in self.restore_ms.items():
            m = med(v)
            out.append(cmp(m, lambda x: x < RESTORE_SECONDS * 1000,
                           f"put back {self.nodes} nodes after {what} < {RESTORE_SECONDS:.0f} s: "
                           + ("-" if m is None else f"{m / 1000:.2f} s")
                           + ("" if self.nodes == FULL_NODES else f" [scaled down: the goal is about {FULL_NODES}]")))
        return out


def fmt(ms: float | None) -> str:
    return "-" if ms is None else f"{ms:.0f} ms"


def step(doc: dict, title: str) -> dict:
    for s in doc.get("steps", []):
        if s["title"] == title:
            return s
    raise BenchFailure(f"no step {title!r} in the report")


def measure(bench, nodes: int, repeat: int) -> StepsResult:
    # Scaled down (a smoke run), the loss series are shorter too.
    result = StepsResult(nodes=nodes, probes=LOSS_PROBES if nodes >= FULL_NODES else 100)
    with failing_into(result):
        measure_impairments(bench, repeat, result)
        measure_actions(bench, repeat, result)
        measure_restore(bench, nodes, repeat, result)
    return result


def measure_impairments(bench, repeat: int, result: StepsResult) -> None:
    name = "bench-impair"
    path = bench.workdir / f"{name}.yaml"
    path.write_text(impair_yaml(name, result.probes))
    progress("impairments: netlab up (not measured)")
    bench.netlab_up(path, name)
    for r in range(repeat):
        progress(f"impairment accuracy, run {r + 1}/{repeat}")
        doc = verify_doc(bench, name)
        observed = step(doc, f"delay {DELAYS_MS[0]}ms")["actions"][0]["observation"]
        result.mechanism = "the kernel's netem" if "netem" in observed else "netlab's emulator (this kernel has no netem)"
        for d in DELAYS_MS:
            m = step(doc, f"delay {d}ms")["checks"][0]["measurement"]
            result.delays.setdefault(d, []).append(m["median_ms"])
        for p in LOSSES:
            m = step(doc, f"loss {p}%")["checks"][0]["measurement"]
            result.losses.setdefault(p, []).append(m["loss_percent"])
    bench.netlab_down(name)


def measure_actions(bench, repeat: int, result: StepsResult) -> None:
    name = "bench-actions"
    path = bench.workdir / f"{name}.yaml"
    path.write_text(actions_yaml(name))
    progress("actions: netlab up (not measured)")
    bench.netlab_up(path, name)
    web, side = f"netlab_{name}_web", f"netlab_{name}_side"
    docker_cmds = {
        "disconnect": ["docker", "network", "disconnect", side, web],
        "connect": ["docker", "network", "connect", "--alias", "web", "--alias", "www", side, web],
        "restart": ["docker", "restart", "-t", "10", web],
        "pause": ["docker", "pause", web],
    }
    for r in range(repeat):
        progress(f"action times, run {r + 1}/{repeat}: netlab")
        doc = verify_doc(bench, name)
        for a in step(doc, "actions")["actions"]:
            if a["action"] in docker_cmds:
                result.netlab_ms.setdefault(a["action"], []).append(a.get("engine_ms") or a["duration_ms"])
                result.netlab_full_ms.setdefault(a["action"], []).append(a["duration_ms"])
        progress(f"action times, run {r + 1}/{repeat}: docker")
        for a, cmd in docker_cmds.items():
            result.docker_ms.setdefault(a, []).append(wall(cmd, f"docker {a}") * 1000)
            if a == "pause":
                run(["docker", "unpause", web], "docker unpause")
        result.docker_client_ms.append(
            wall(["docker", "version", "--format", "{{.Server.Version}}"], "docker version") * 1000)
    bench.netlab_down(name)


def measure_restore(bench, nodes: int, repeat: int, result: StepsResult) -> None:
    name = "bench-restore"
    for pause, what in [(False, "each left a network"), (True, "each was paused")]:
        path = bench.workdir / f"{name}.yaml"
        path.write_text(restore_yaml(name, nodes, pause))
        progress(f"restore of {nodes} nodes after {what}: netlab up (not measured)")
        bench.netlab_up(path, name)
        for r in range(repeat):
            progress(f"restore of {nodes} nodes after {what}, run {r + 1}/{repeat}")
            doc = verify_doc(bench, name)
            restore = doc.get("restore") or {}
            if restore.get("outcome") != "done" or len(restore.get("actions", [])) != nodes:
                raise BenchFailure(f"the restore did not undo {nodes} changes: {restore}")
            result.restore_ms.setdefault(what, []).append(restore["duration_ms"])
        bench.netlab_down(name)
