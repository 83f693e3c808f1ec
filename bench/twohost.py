"""The two-host row: a lab of N nodes over two Docker engines (half on
each, all on one attachable overlay plus a bridge per host), `netlab up` and
`netlab down` against raw parallel `docker run -d` on the same two engines,
alternating, in the same run.

The engines are two extra dockerd's of this machine's own version, started
by harness/engines.sh (`start NAME native`; root only) under names of this
run (`bnch<pid>e`, `bnch<pid>w`), and stopped in a `finally:`. Engines left
by an earlier, killed run (their pid is gone) are stopped first.

The raw baseline does the same work as netlab on the same engines: an
attachable overlay made on the manager, a bridge per engine, then every
node as `docker create --network OVERLAY --network-alias NODE`, `docker
network connect --alias NODE BRIDGE` and `docker start`, 8 nodes at a time
per engine (both engines at once); down, the fastest removal there is: one
`docker rm -f` of all of an engine's containers (both engines at once),
then `docker network rm` of the bridges and the overlay.

The swarm: the first, untimed `netlab up` makes its own (and its `down`
leaves it: netlab's own swarm lifecycle, checked). Then the benchmark makes
one, timed on its own as `docker swarm init` on one engine plus `docker
swarm join` of the other, and both tools' timed runs use that swarm
(netlab keeps a swarm it did not make), so neither timed `up` includes
making a swarm. It is left at the end. The copy of the agent image to the
engines is reported on its own too (netlab's stderr, "copied agent image …
in X", on the first `up`)."""

from __future__ import annotations

import concurrent.futures
import os
import re
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import (
    BENCH_LABEL, CONCURRENCY, PORT, BenchFailure, Sample, Section, Verdict, attempt, cmp, failing_into,
    find,
    fmt_ratio, in_parallel, lines, median, progress, ratio, remove_labelled, run, runs, secs, timed,
)

UP_VS_RAW = 1.2
DOWN_VS_RAW = 1.2
FULL_NODES = 30
ENGINES_SH = Path(__file__).resolve().parent.parent / "harness/engines.sh"
LAB = "bench-hosts"
HOSTS = ("east", "west")
RAW = "benchh"  # prefix of the raw baseline's containers and networks


def engine_names() -> tuple[str, str]:
    return f"bnch{os.getpid()}e", f"bnch{os.getpid()}w"


def hnode(i: int) -> str:
    return f"h-{i:03d}"


def host_of(i: int) -> str:
    return HOSTS[i % 2]


def lab_yaml(n: int) -> str:
    out = [f"name: {LAB}", "description: netlab benchmark lab (bench/run.py), two hosts",
           f"hosts: [{', '.join(HOSTS)}]", "networks:", "  ov: { driver: overlay, attachable: true }"]
    out += [f"  lan-{h}: {{}}" for h in HOSTS]
    out.append("nodes:")
    out += [f"  {hnode(i)}: {{ host: {host_of(i)}, networks: [ov, lan-{host_of(i)}], serve: [tcp:{PORT}] }}"
            for i in range(n)]
    # A proof that the row is what it claims (untimed): across hosts over
    # the overlay, and on one host over its bridge.
    out += ["checks:",
            f"  - tcp: {{ from: {hnode(0)}, to: {hnode(1)}:{PORT}, expect: open }}"]
    if n > 2:
        out.append(f"  - tcp: {{ from: {hnode(0)}, to: {hnode(2)}@lan-east:{PORT}, expect: open }}")
    return "\n".join(out) + "\n"


@dataclass
class TwoHostResult(Section):
    title = "two hosts"
    n: int
    skipped: str = ""
    engines_start: float | None = None
    image_copy: str | None = None  # as netlab printed it
    swarm_line: str = ""
    verify: Sample | None = None
    netlab_up: list[Sample] = field(default_factory=list)
    netlab_down: list[Sample] = field(default_factory=list)
    raw_up: list[Sample] = field(default_factory=list)
    raw_down: list[Sample] = field(default_factory=list)
    swarm_init: list[float] = field(default_factory=list)
    swarm_join: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    down_failures: list[str] = field(default_factory=list)  # netlab down failed, yet removed everything

    def details(self) -> list[str]:
        if self.skipped:
            return [f"two hosts: skipped ({self.skipped})"]
        half = self.n // 2
        nu, ru = median(self.netlab_up), median(self.raw_up)
        nd, rd = median(self.netlab_down), median(self.raw_down)
        out = [
            f"two hosts ({self.n} nodes, {half} per engine; two native engines of this machine, started in "
            f"{secs(self.engines_start)}): netlab up {secs(nu)} (runs {runs(self.netlab_up)}), raw up {secs(ru)} "
            f"(runs {runs(self.raw_up)}), netlab/raw {fmt_ratio(ratio(nu, ru))}; netlab down {secs(nd)} "
            f"(runs {runs(self.netlab_down)}), raw down {secs(rd)} (runs {runs(self.raw_down)}), "
            f"netlab/raw {fmt_ratio(ratio(nd, rd))}",
            f"  both: one overlay over both hosts + a bridge per host, every node on both, in a swarm made "
            f"beforehand (timed below); raw: docker create + network connect + start, {CONCURRENCY} nodes at a "
            f"time per engine; raw down: one docker rm -f per engine, then docker network rm",
            f"  agent image copy to both engines (netlab's stderr, first up, not in the timed ups): "
            f"{self.image_copy or '-'}",
            f"  swarm (docker swarm init on east + docker swarm join of west, measured on their own): "
            f"init {secs(min(self.swarm_init) if self.swarm_init else None)}, join "
            f"{secs(min(self.swarm_join) if self.swarm_join else None)}"
            + (f"; netlab said: {self.swarm_line}" if self.swarm_line else ""),
            f"  verify of 2 checks across the hosts (untimed proof, first up): "
            f"{secs(self.verify.seconds if self.verify else None)}",
        ]
        if self.down_failures:
            out.append(f"  netlab down FAILED {len(self.down_failures)} time(s) of {len(self.netlab_down) + 1} (the"
                       " first, untimed, included); each time a second `netlab down` cleaned up, so the next up"
                       " still started from clean engines:")
            out += [f"    {f}" for f in self.down_failures]
        out += [f"  note: {n}" for n in self.notes]
        return out

    def targets(self) -> list[tuple[Verdict, str]]:
        if self.skipped:
            return [(None, f"two-host up ≤ {UP_VS_RAW}x raw: skipped ({self.skipped})")]
        nu, ru = median(self.netlab_up), median(self.raw_up)
        swarm = (min(self.swarm_init) + min(self.swarm_join)) if self.swarm_init and self.swarm_join else None
        note = "" if self.n == FULL_NODES else f" [scaled down: the goal is about {FULL_NODES} nodes]"
        return [
            cmp(ratio(nu, ru), lambda x: x <= UP_VS_RAW,
                f"two-host up ≤ {UP_VS_RAW}x raw, {self.n} nodes over 2 engines: netlab/raw = "
                f"{fmt_ratio(ratio(nu, ru))} ({secs(nu)} vs {secs(ru)}, the same work in the same swarm; making "
                f"the swarm, on its own: {secs(swarm)}){note}"),
            cmp(ratio(median(self.netlab_down), median(self.raw_down)), lambda x: x <= DOWN_VS_RAW,
                f"two-host down ≤ {DOWN_VS_RAW}x the fastest raw removal, {self.n} nodes over 2 engines: "
                f"netlab/raw = {fmt_ratio(ratio(median(self.netlab_down), median(self.raw_down)))} "
                f"({secs(median(self.netlab_down))} vs {secs(median(self.raw_down))}){note}"),
            (not self.down_failures,
             f"  two-host netlab down succeeds (exit 0, nothing left): failed {len(self.down_failures)} of "
             f"{len(self.netlab_down) + 1} times" + (" (see above)" if self.down_failures else "")),
        ]


class Engines:
    """Two extra engines of this machine, started and stopped by the harness."""

    def __init__(self) -> None:
        self.names = engine_names()
        self.urls: dict[str, str] = {}  # host (east/west) -> url
        self.addrs: dict[str, str] = {}

    def stop_leftovers(self) -> None:
        """Stops engines of earlier benchmark runs whose process is gone."""
        for row in lines(["bash", str(ENGINES_SH), "list"], "engines.sh list"):
            m = re.fullmatch(r"bnch(\d+)[ew]", row.split()[0])
            if m and not pid_alive(int(m.group(1))):
                progress(f"stopping engine {row.split()[0]}, left by an earlier run")
                attempt(["bash", str(ENGINES_SH), "stop", row.split()[0]], "engines.sh stop", timeout=120)

    def start(self) -> float:
        start = time.perf_counter()
        # Both at once: each start is independent (the harness locks what is shared).
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            outs = list(pool.map(lambda name: run(["bash", str(ENGINES_SH), "start", name, "native"],
                                                  f"engines.sh start {name}", timeout=180)[1], self.names))
        for host, out in zip(HOSTS, outs):
            url = re.search(r"url=(\S+)", out)
            addr = re.search(r"addr=(\S+)", out)
            if not url or not addr:
                raise BenchFailure(f"engines.sh start printed no url=/addr=: {out!r}")
            self.urls[host], self.addrs[host] = url.group(1), addr.group(1)
        return time.perf_counter() - start

    def restart(self) -> None:
        """Restarts both dockerds with their state (harness pause/resume)."""
        for name in self.names:
            run(["bash", str(ENGINES_SH), "pause", name], f"engines.sh pause {name}", timeout=120)
            run(["bash", str(ENGINES_SH), "resume", name], f"engines.sh resume {name}", timeout=180)

    def docker(self, host: str) -> tuple[str, ...]:
        return ("docker", "-H", self.urls[host])

    def stop(self) -> list[str]:
        """Stops both (at once; idempotent); returns what went wrong."""
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            found = pool.map(lambda name: attempt(["bash", str(ENGINES_SH), "stop", name],
                                                  f"engines.sh stop {name}", timeout=120), self.names)
            return [p for problems in found for p in problems]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def netlab_up(bench, engines: Engines, path: Path) -> Sample:
    binding = [a for h in HOSTS for a in ("--host", f"{h}={engines.urls[h]}")]
    bench.labs.add(LAB)
    return timed([bench.netlab, "up", str(path), *binding], f"netlab up {LAB}", rss=True)


def netlab_down(bench, engines: Engines, result: TwoHostResult, run_no: int | None = None,
                in_swarm: bool = False) -> Sample:
    """`netlab down`, timed. Seen on this row: it exits 3 ("cannot remove
    network …: in use by task …" after leaving the swarm, or "… has active
    endpoints") and at times leaves a network behind. Such a failure goes
    into the report (a MISS of its own); a second, untimed `netlab down`
    then cleans up so that the next `up` is measured on clean engines, and
    only if something is still left does the section fail."""
    start = time.perf_counter()
    what = "first (untimed)" if run_no is None else f"run {run_no}"
    try:
        sample = timed([bench.netlab, "down", LAB], f"netlab down {LAB}", rss=True)
        failure = None
    except BenchFailure as e:
        sample = Sample(time.perf_counter() - start, stderr=str(e))
        failure = next((l for l in str(e).splitlines() if l.startswith("error:")), str(e).splitlines()[0])
    left = leftovers(engines, in_swarm)
    if failure or left:
        result.down_failures.append(f"{what}: {failure or 'exit 0'}" + (f"; it left {left}" if left else ""))
        _, _, err = run([bench.netlab, "down", LAB], f"a second netlab down {LAB}", check=False)
        left = leftovers(engines, in_swarm)
        if left and "endpoints is stale" in err:
            # Docker 20.10's stale endpoint count clears only when its
            # daemon restarts: these engines are the benchmark's own.
            result.notes.append(f"{what}: restarted the engines to clear a stale endpoint count, as netlab advised")
            engines.restart()
            run([bench.netlab, "down", LAB], f"a third netlab down {LAB}", check=False)
            left = leftovers(engines, in_swarm)
        if left:
            raise BenchFailure(f"after two netlab down {LAB}, {left} are left")
    return sample


def leftovers(engines: Engines, in_swarm: bool) -> str:
    """What is left of the lab (and, unless the benchmark's own swarm is
    meant to be there, of a swarm) on the engines, in words; empty when
    nothing."""
    left = []
    for h in HOSTS:
        containers, networks = find(f"label=io.netlab.lab={LAB}", engines.docker(h))
        if containers or networks:
            left.append(f"{len(containers)} container(s) and {len(networks)} network(s) on {h}")
        state = swarm_state(engines, h)
        if state != ("active" if in_swarm else "inactive"):
            left.append(f"{h} in swarm state {state}")
    containers, networks = find(f"label=io.netlab.lab={LAB}")
    if containers or networks:
        left.append(f"{len(containers)} container(s) and {len(networks)} network(s) on the default engine")
    return ", ".join(left)


def raw_up(engines: Engines, n: int, image: str, run_no: int) -> Sample:
    """The raw baseline's up: netlab's topology by hand. Its networks have
    new names each run (see raw_down)."""
    overlay, lan = f"{RAW}_ov{run_no}", f"{RAW}_lan{run_no}"
    start = time.perf_counter()
    run([*engines.docker("east"), "network", "create", "--driver", "overlay", "--attachable",
         "--label", BENCH_LABEL, overlay], "docker network create (overlay)")

    def per_engine(h: str):
        d = shlex.join(engines.docker(h))
        run(shlex.split(d) + ["network", "create", "--label", BENCH_LABEL, lan], f"docker network create ({h})")
        in_parallel([["sh", "-c", " && ".join([
            f"{d} create --name {RAW}_{hnode(i)} --hostname {hnode(i)} --network {overlay} "
            f"--network-alias {hnode(i)} --label {BENCH_LABEL} {shlex.quote(image)} agent serve --lab {LAB} "
            f"--node {hnode(i)} --listen tcp:{PORT} >/dev/null",
            f"{d} network connect --alias {hnode(i)} {lan} {RAW}_{hnode(i)}",
            f"{d} start {RAW}_{hnode(i)} >/dev/null"])]
            for i in range(n) if host_of(i) == h], f"docker create/connect/start ({h})")
    both(per_engine)
    return Sample(time.perf_counter() - start)


def raw_down(engines: Engines, n: int, run_no: int, result: TwoHostResult) -> Sample:
    """The raw baseline's down. Docker 20.10 sometimes still counts an
    endpoint of a container `docker rm -f` has just removed ("has active
    endpoints", seen here also by hand): `docker network rm` is tried again
    for up to 2 s (timed: a script has to do that too); a network that
    stays is noted and left to the engine's stop."""
    overlay, lan = f"{RAW}_ov{run_no}", f"{RAW}_lan{run_no}"

    def remove_network(h: str, net: str):
        d = engines.docker(h)
        deadline = time.perf_counter() + 2
        while True:
            code, _, err = run([*d, "network", "rm", net], f"docker network rm ({h})", check=False)
            if code == 0:
                return
            if time.perf_counter() > deadline:
                result.notes.append(f"raw down, run {run_no}: docker network rm {net} on {h} still failed after "
                                    f"2 s ({err.strip().splitlines()[-1] if err.strip() else code}); left to the "
                                    f"engine's stop")
                return
            time.sleep(0.2)

    def per_engine(h: str):
        d = engines.docker(h)
        run([*d, "rm", "-f", *[f"{RAW}_{hnode(i)}" for i in range(n) if host_of(i) == h]],
            f"docker rm -f ({h})")
        remove_network(h, lan)

    start = time.perf_counter()
    both(per_engine)
    remove_network("east", overlay)
    seconds = time.perf_counter() - start
    for h in HOSTS:
        if lines([*engines.docker(h), "ps", "-aq", "--filter", f"name={RAW}_"], "docker ps"):
            raise BenchFailure(f"docker rm -f left containers on {h}")
    return Sample(seconds)


def both(job) -> float:
    """Wall time of job(host) run for both hosts at once; waits for both,
    then raises the first failure."""
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(job, h) for h in HOSTS]
        errors = [f.exception() for f in futures]
    seconds = time.perf_counter() - start
    for e in errors:
        if e is not None:
            raise e
    return seconds


def swarm_state(engines: Engines, host: str) -> str:
    return lines([*engines.docker(host), "info", "--format", "{{.Swarm.LocalNodeState}}"], "docker info")[0]


def make_swarm(engines: Engines, result: TwoHostResult) -> None:
    """`docker swarm init` on east, then `docker swarm join` of west, each
    timed; only when neither is in a swarm (netlab's down left its own).
    The swarm stays for the timed runs; leave_swarm ends it."""
    states = {h: swarm_state(engines, h) for h in HOSTS}
    if any(s != "inactive" for s in states.values()):
        raise BenchFailure(f"the engines are still in a swarm after netlab down: {states}")
    east, west = engines.docker("east"), engines.docker("west")
    start = time.perf_counter()
    run([*east, "swarm", "init", "--advertise-addr", engines.addrs["east"]], "docker swarm init")
    result.swarm_init.append(time.perf_counter() - start)
    token = lines([*east, "swarm", "join-token", "-q", "worker"], "docker swarm join-token")[0]
    start = time.perf_counter()
    run([*west, "swarm", "join", "--advertise-addr", engines.addrs["west"], "--token", token,
         f"{engines.addrs['east']}:2377"], "docker swarm join", shown=["docker", "swarm", "join", "…"])
    result.swarm_join.append(time.perf_counter() - start)


def leave_swarm(engines: Engines) -> list[str]:
    """Each engine still in a swarm leaves it (the worker first); returns
    what went wrong."""
    problems = []
    for h in ("west", "east"):
        try:
            if swarm_state(engines, h) == "inactive":
                continue
        except BenchFailure as e:
            problems.append(str(e))
            continue
        problems += attempt([*engines.docker(h), "swarm", "leave", "--force"], f"docker swarm leave ({h})")
    return problems


def ensure_image(engines: Engines, image: str, result: TwoHostResult) -> None:
    """The raw baseline needs the agent image on both engines; netlab's
    first up copied it. If it went (netlab's down may prune it), load it."""
    for h in HOSTS:
        code = run([*engines.docker(h), "image", "inspect", image], "docker image inspect", check=False)[0]
        if code != 0:
            result.notes.append(f"the agent image was not on {h} for the raw baseline: loaded it (docker save | load)")
            run(["sh", "-c", f"docker save {image} | docker -H {engines.urls[h]} load"], f"loading {image} on {h}")


def measure(bench, n: int, repeat: int) -> TwoHostResult:
    result = TwoHostResult(n)
    if os.geteuid() != 0:
        result.skipped = "needs root, to start the extra engines with harness/engines.sh"
        return result
    if not ENGINES_SH.exists():
        result.skipped = f"{ENGINES_SH} is missing"
        return result
    with failing_into(result):
        engines = Engines()
        try:
            engines.stop_leftovers()
            progress(f"two hosts: starting engines {', '.join(engines.names)}")
            result.engines_start = engines.start()
            path = bench.workdir / f"{LAB}.yaml"
            path.write_text(lab_yaml(n))
            progress(f"two hosts, {n} nodes: first netlab up (copies the agent image; not measured)")
            first = netlab_up(bench, engines, path)
            copy = re.search(r"copied agent image \S+ to .* in ([\d.]+ m?s)", first.stderr)
            result.image_copy = copy.group(1) if copy else "no copy reported (the image was there)"
            swarm = re.search(r"netlab: (initialised a swarm of [^\n]*?) for", first.stderr)
            result.swarm_line = swarm.group(1) if swarm else ""
            result.verify = timed([bench.netlab, "verify", LAB], f"netlab verify {LAB}")
            netlab_down(bench, engines, result)
            ensure_image(engines, bench.image, result)
            progress("two hosts: docker swarm init / join (timed on their own; kept for the timed runs)")
            make_swarm(engines, result)
            progress(f"two hosts, {n} nodes: raw warm-up (not measured)")
            raw_up(engines, n, bench.image, 0)
            raw_down(engines, n, 0, result)
            for r in range(repeat):
                progress(f"two hosts, {n} nodes, run {r + 1}/{repeat}: netlab")
                sample = netlab_up(bench, engines, path)
                if "copied agent image" in sample.stderr:
                    result.notes.append(f"run {r + 1}: netlab up copied the agent image again (included in its time)")
                result.netlab_up.append(sample)
                result.netlab_down.append(netlab_down(bench, engines, result, r + 1, in_swarm=True))
                progress(f"two hosts, {n} nodes, run {r + 1}/{repeat}: docker run")
                result.raw_up.append(raw_up(engines, n, bench.image, r + 1))
                result.raw_down.append(raw_down(engines, n, r + 1, result))
        finally:
            problems = []
            if engines.urls:
                if LAB in bench.labs:
                    # Left to run.py's cleanup (which also removes what the
                    # default engine holds of it) only when this fails.
                    down = attempt([bench.netlab, "down", LAB], f"netlab down {LAB}")
                    problems += down
                    if not down:
                        bench.labs.discard(LAB)
                for h in engines.urls:
                    problems += remove_labelled(BENCH_LABEL, engines.docker(h))
                problems += leave_swarm(engines)
            problems += engines.stop()
            for p in problems:
                progress(f"two hosts: cleanup: {p}")
                result.notes.append(f"cleanup: {p.splitlines()[0]}")
    return result
