"""The benchmark's sections beyond up/down against compose and raw docker,
all on the default engine: verify of a reachability matrix, verify of many
probing nodes, a matrix of negatives (one deadline for all), `up` of a lab
that is already up (converge), and verify with and without `--capture`.

Each `measure_*` brings its lab up (untimed), measures, and takes it down;
a lab it leaves behind after a failure is in `bench.labs`, so run.py's
cleanup removes it. Each result has `details()` (lines for the report) and
`targets()` (verdict, text)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from benchlib import (
    NETLAB_RSS_MB, PORT, BenchFailure, Sample, Section, Verdict, cmp, failing_into, fmt_ratio, lines, median, median_of,
    peak_rss_mb, progress, ratio, run, runs, secs,
)

# Goals of these sections.
MATRIX_SECONDS = 2.0        # verify of a 20x20 matrix
PROBERS_SECONDS = 1.0       # verify of 100 nodes, one check each
DEADLINE = 2.0              # netlab's default check deadline (DEFAULT_CHECK_TIMEOUT)
NEGATIVES_DEADLINES = 1.5   # a matrix of negatives takes < 1.5 deadlines
CONVERGE_SAME_SECONDS = 0.5  # `up` of an unchanged lab that is up
CONVERGE_ONE_SECONDS = 1.5   # `up` with one node changed
VERIFY_100_README = 0.25    # docs/performance.md: verify of 100 checks, previous release

# The labs of these sections and of twohost.py (leftovers of a killed run
# are removed first).
LABS = {"bench-matrix", "bench-quiet", "bench-probe", "bench-converge", "bench-hosts"}

# Full scale of each section (what the goals are about).
FULL_MATRIX = 20
FULL_PROBERS = 100
FULL_CONVERGE = 50


def scale_note(n: int, full: int, what: str = "nodes") -> str:
    return "" if n == full else f" [scaled down: the goal is about {full} {what}]"


def verify_cmd(bench, name: str, *extra: str) -> list[str]:
    return [bench.netlab, "verify", name, *extra]


def verify_json(bench, name: str, *extra: str) -> dict:
    """One untimed `verify --output json`: what the timed runs do, in
    detail, so the benchmark can prove that they did it."""
    code, out, err = run(verify_cmd(bench, name, "--output", "json", *extra), f"netlab verify {name} (json)",
                         check=False)
    try:
        doc = json.loads(out)
    except json.JSONDecodeError:
        raise BenchFailure(f"netlab verify {name} --output json (exit {code}) printed no JSON:\n{err}\n{out}")
    if code != 0:
        failed = [c for c in doc.get("checks", []) if c.get("outcome") != "pass"]
        cells = [f"{c['from']}->{c['to']}: {c['expected']} expected, {c['observed']} seen ({c['reason']})"
                 for f in failed for c in (f.get("cells") or []) if c.get("outcome") != "pass"]
        shown = cells[:5] or [f"{f['title']}: {f['observation']}" for f in failed[:5]]
        raise BenchFailure(f"netlab verify {name} failed (exit {code}), so its time means nothing:\n  "
                           + "\n  ".join(shown) + f"\n{err.rstrip()}")
    return doc


def timed_verifies(bench, name: str, repeat: int, what: str, *extra: str) -> list[Sample]:
    samples = []
    for r in range(repeat):
        bench.note_foreign()
        progress(f"{what}, run {r + 1}/{repeat}")
        samples.append(bench.netlab_verify(name, *extra))
    return samples


def cpu_rss(samples: list[Sample]) -> str:
    cpu = median_of([s.cpu for s in samples])
    rss = peak_rss_mb(samples)
    return (f"CPU (user+sys) median {secs(cpu)} (runs {', '.join(f'{s.cpu:.2f}' for s in samples if s.cpu is not None)})"
            f", peak RSS {'-' if rss is None else f'{rss:.1f} MB'}")


# --------------------------------------------------------------------------
# 1 and 3: a reachability matrix, all open (one bridge) or all blocked (icc off)


def mnode(i: int) -> str:
    return f"m-{i:02d}"


def matrix_yaml(name: str, n: int, icc: bool) -> str:
    net = "mesh" if icc else "quiet"
    out = [f"name: {name}", "description: netlab benchmark lab (bench/run.py), a reachability matrix",
           "networks:", f"  {net}: {{}}" if icc else f"  {net}: {{ icc: false }}", "nodes:"]
    for i in range(n):
        out.append(f"  {mnode(i)}: {{ networks: [{net}], serve: [tcp:{PORT}] }}")
    names = [mnode(i) for i in range(n)]
    width = max(len("from\\to"), *(len(x) for x in names))
    row = lambda first, cells: "        " + first.ljust(width) + "  " + "  ".join(c.ljust(len(x)) for c, x in zip(cells, names))
    table = [row("from\\to", names).rstrip()]
    for i in range(n):
        # The diagonal is a node reaching its own address: open, also with icc off.
        table.append(row(names[i], ["." if (icc or i == j) else "x" for j in range(n)]).rstrip())
    out += ["checks:", "  - matrix:", f"      title: {'all open' if icc else 'icc off'}", f"      port: {PORT}",
            "      expect: |", *table]
    return "\n".join(out) + "\n"


@dataclass
class MatrixResult(Section):
    n: int
    icc: bool
    cells: int = 0
    expected_blocked: int = 0
    samples: list[Sample] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.n}x{self.n} matrix" + ("" if self.icc else " with icc off")

    def details(self) -> list[str]:
        if self.icc:
            head = f"verify of a {self.n}x{self.n} matrix, all open ({self.cells} cells, one check, one bridge)"
        else:
            head = (f"verify of a {self.n}x{self.n} matrix on a bridge with icc off ({self.cells} cells, "
                    f"{self.expected_blocked} of them x)")
        return [f"{head}: {secs(median(self.samples))} (runs {runs(self.samples)}); {cpu_rss(self.samples)}"]

    def targets(self) -> list[tuple[Verdict, str]]:
        m = median(self.samples)
        note = scale_note(self.n, FULL_MATRIX)
        if self.icc:
            rss = peak_rss_mb(self.samples)
            return [
                cmp(m, lambda x: x < MATRIX_SECONDS,
                    f"verify of a {self.n}x{self.n} matrix ({self.cells} cells) < {MATRIX_SECONDS:.0f} s: "
                    f"{secs(m)}{note}"),
                ("info", f"  its CPU time (user+sys of netlab): {secs(median_of([s.cpu for s in self.samples]))}"),
                cmp(rss, lambda x: x < NETLAB_RSS_MB,
                    f"  its peak RSS < {NETLAB_RSS_MB} MB: " + ("-" if rss is None else f"{rss:.1f} MB")),
            ]
        limit = NEGATIVES_DEADLINES * DEADLINE
        total = self.expected_blocked * DEADLINE
        return [cmp(m, lambda x: x < limit,
                    f"negatives share one deadline: {self.n}x{self.n} matrix, icc off, {self.expected_blocked} "
                    f"cells x: {secs(m)} < {NEGATIVES_DEADLINES}x the {DEADLINE:.0f} s deadline = {limit:.1f} s "
                    f"(one after another they would take {self.expected_blocked} x {DEADLINE:.0f} s = "
                    f"{total:.0f} s){note}")]


def measure_matrix(bench, n: int, repeat: int, icc: bool) -> MatrixResult:
    name = "bench-matrix" if icc else "bench-quiet"
    path = bench.workdir / f"{name}.yaml"
    path.write_text(matrix_yaml(name, n, icc))
    result = MatrixResult(n, icc)
    with failing_into(result):
        progress(f"{result.title}: netlab up (not measured)")
        bench.netlab_up(path, name)
        doc = verify_json(bench, name)
        cells = [c for check in doc["checks"] for c in (check.get("cells") or [])]
        if len(cells) != n * n:
            raise BenchFailure(f"the {result.title} reported {len(cells)} cells, not {n * n}")
        result.cells, result.expected_blocked = len(cells), sum(c["expected"] == "x" for c in cells)
        result.samples = timed_verifies(bench, name, repeat, f"verify of the {result.title}")
        bench.netlab_down(name)
    return result


# --------------------------------------------------------------------------
# 2: many probing nodes, one check each


def pnode(i: int) -> str:
    return f"p-{i:03d}"


def probers_yaml(name: str, n: int) -> str:
    out = [f"name: {name}", "description: netlab benchmark lab (bench/run.py), every node probes its neighbour",
           "networks:", "  ring: {}", "nodes:"]
    out += [f"  {pnode(i)}: {{ networks: [ring], serve: [tcp:{PORT}] }}" for i in range(n)]
    out.append("checks:")
    out += [f"  - tcp: {{ from: {pnode(i)}, to: {pnode((i + 1) % n)}:{PORT}, expect: open }}" for i in range(n)]
    return "\n".join(out) + "\n"


@dataclass
class ProbersResult(Section):
    title = "probing nodes"
    n: int
    up: Sample | None = None
    samples: list[Sample] = field(default_factory=list)

    def details(self) -> list[str]:
        return [f"verify of {self.n} probing nodes, one tcp check each to its neighbour (one bridge): "
                f"{secs(median(self.samples))} (runs {runs(self.samples)}); {cpu_rss(self.samples)}; "
                f"(its netlab up: {secs(self.up.seconds if self.up else None)})"]

    def targets(self) -> list[tuple[Verdict, str]]:
        m = median(self.samples)
        rss = peak_rss_mb(self.samples)
        return [
            cmp(m, lambda x: x < PROBERS_SECONDS,
                f"verify of {self.n} probing nodes, one check each < {PROBERS_SECONDS:.0f} s: {secs(m)}"
                + scale_note(self.n, FULL_PROBERS)),
            ("info", f"  its CPU time (user+sys of netlab): {secs(median_of([s.cpu for s in self.samples]))}"),
            cmp(rss, lambda x: x < NETLAB_RSS_MB,
                f"  its peak RSS < {NETLAB_RSS_MB} MB: " + ("-" if rss is None else f"{rss:.1f} MB")),
        ]


def measure_probers(bench, n: int, repeat: int) -> ProbersResult:
    name = "bench-probe"
    path = bench.workdir / f"{name}.yaml"
    path.write_text(probers_yaml(name, n))
    result = ProbersResult(n)
    with failing_into(result):
        progress(f"{n} probing nodes: netlab up (not a target)")
        result.up = bench.netlab_up(path, name)
        doc = verify_json(bench, name)
        if doc["passed"] != n:
            raise BenchFailure(f"verify of {name} passed {doc['passed']} checks, not {n}")
        result.samples = timed_verifies(bench, name, repeat, f"verify of {n} probing nodes")
        bench.netlab_down(name)
    return result


# --------------------------------------------------------------------------
# 5: converge


def cnode(i: int) -> str:
    return f"c-{i:03d}"


ALIAS = "bench-extra-alias"


def converge_yaml(name: str, n: int, alias_on: int | None) -> str:
    out = [f"name: {name}", "description: netlab benchmark lab (bench/run.py), converge", "networks:"]
    out += [f"  net-{k}: {{}}" for k in range(min(n, 3))]
    out.append("nodes:")
    for i in range(n):
        net = f"net-{i % 3}"
        nets = f"{{ {net}: {{ aliases: [{ALIAS}] }} }}" if i == alias_on else f"[{net}]"
        out.append(f"  {cnode(i)}: {{ networks: {nets}, serve: [tcp:{PORT}] }}")
    return "\n".join(out) + "\n"


@dataclass
class ConvergeResult(Section):
    title = "converge"
    n: int
    changed_node: str
    up: Sample | None = None
    same: list[Sample] = field(default_factory=list)
    one: list[Sample] = field(default_factory=list)
    void: list[str] = field(default_factory=list)  # why a figure does not count

    def details(self) -> list[str]:
        out = [f"converge, {self.n}-node lab (first up {secs(self.up.seconds if self.up else None)}, not a target): "
               f"up unchanged {secs(median(self.same))} (runs {runs(self.same)}); up with an alias added to or "
               f"removed from {self.changed_node} {secs(median(self.one))} (runs {runs(self.one)})"]
        if self.one:
            said = next((l for l in self.one[0].stdout.splitlines() if "changed (" in l), "?")
            out.append(f"  it said: {said.strip()}")
        out += [f"  VOID: {v}" for v in self.void]
        return out

    def targets(self) -> list[tuple[Verdict, str]]:
        note = scale_note(self.n, FULL_CONVERGE)
        same, one = median(self.same), median(self.one)
        void_same = any(v.startswith("unchanged") for v in self.void)
        void_one = any(v.startswith("one node") for v in self.void)
        return [
            ("VOID" if void_same else cmp(same, lambda x: x < CONVERGE_SAME_SECONDS, "")[0],
             f"up of the unchanged {self.n}-node lab < {CONVERGE_SAME_SECONDS} s: {secs(same)}{note}"),
            ("VOID" if void_one else cmp(one, lambda x: x < CONVERGE_ONE_SECONDS, "")[0],
             f"up with one node changed, {self.n}-node lab < {CONVERGE_ONE_SECONDS} s: {secs(one)}"
             f" (only that container recreated: {'no' if void_one else 'yes'}){note}"),
        ]


def node_ids(name: str) -> dict[str, str]:
    """Node name -> container id of the lab's node containers."""
    rows = lines(["docker", "ps", "--filter", f"label=io.netlab.lab={name}", "--filter", "label=io.netlab.role=node",
                  "--format", '{{.Label "io.netlab.node"}} {{.ID}}'], "docker ps")
    return dict(r.split() for r in rows)


def measure_converge(bench, n: int, repeat: int) -> ConvergeResult:
    name = "bench-converge"
    k = n // 2
    plain, aliased = bench.workdir / f"{name}.yaml", bench.workdir / f"{name}-alias.yaml"
    plain.write_text(converge_yaml(name, n, None))
    aliased.write_text(converge_yaml(name, n, k))
    result = ConvergeResult(n, cnode(k))
    with failing_into(result):
        progress(f"converge, {n} nodes: netlab up (not a target)")
        result.up = bench.netlab_up(plain, name)
        current, other = plain, aliased
        for r in range(repeat):
            bench.note_foreign()
            progress(f"converge, {n} nodes, run {r + 1}/{repeat}")
            before = node_ids(name)
            if len(before) != n:
                raise BenchFailure(f"{name} has {len(before)} node containers, not {n}")
            sample = bench.netlab_up(current, name)
            result.same.append(sample)
            after = node_ids(name)
            if "is up to date (nothing changed)" not in sample.stdout:
                result.void.append(f"unchanged up, run {r + 1}: it did not say `is up to date (nothing changed)`: "
                                   f"{sample.stdout.strip().splitlines()[:1]}")
            if after != before:
                changed = sorted(x for x in before if after.get(x) != before[x])
                result.void.append(f"unchanged up, run {r + 1}: containers changed: {', '.join(changed) or 'ids'}")
            sample = bench.netlab_up(other, name)
            result.one.append(sample)
            after = node_ids(name)
            said = f"changed (recreated node {cnode(k)}; {n - 1} nodes unchanged)"
            if said not in sample.stdout:
                result.void.append(f"one node changed, run {r + 1}: it did not say `{said}`: "
                                   f"{[l for l in sample.stdout.splitlines() if 'lab' in l][:1]}")
            changed = sorted(x for x in set(before) | set(after) if after.get(x) != before.get(x))
            if changed != [cnode(k)]:
                result.void.append(f"one node changed, run {r + 1}: the containers that changed were "
                                   f"[{', '.join(changed)}], not [{cnode(k)}]")
            current, other = other, current
        bench.netlab_down(name)
    return result


# --------------------------------------------------------------------------
# 6: verify with and without --capture (the 100-check lab of run.py)


@dataclass
class CaptureResult(Section):
    title = "verify with and without --capture"
    checks: int
    plain: list[Sample] = field(default_factory=list)
    captured: list[Sample] = field(default_factory=list)
    recorded: int = 0  # checks whose packets were recorded (JSON, untimed)
    unavailable: str = ""

    def details(self) -> list[str]:
        p, c = median(self.plain), median(self.captured)
        extra = None if p is None or c is None else c - p
        out = [f"verify of {self.checks} checks over 10 nodes, alternating: without --capture {secs(p)} "
               f"(runs {runs(self.plain)}), with --capture {secs(c)} (runs {runs(self.captured)}); "
               f"with/without {fmt_ratio(ratio(c, p))}, capture costs {secs(extra)}"]
        if self.captured:
            out.append(f"  --capture recorded the packets of {self.recorded} of {self.checks} checks"
                       + (f" (otherwise: {self.unavailable})" if self.unavailable else ""))
        return out

    def targets(self) -> list[tuple[Verdict, str]]:
        p, c = median(self.plain), median(self.captured)
        return [
            ("info", f"capture off costs nothing: verify of {self.checks} checks without --capture {secs(p)} in "
                     f"this run (previous release, docs/performance.md: {VERIFY_100_README} s, a reference on another load, "
                     "not a target; the < 1 s target above applies)"),
            ("info", f"  with --capture: {secs(c)}, {fmt_ratio(ratio(c, p))} of without"),
        ]


def check_capture(bench, name: str, n_checks: int, result: CaptureResult) -> None:
    doc = verify_json(bench, name, "--capture")
    caps = [c.get("capture") or {} for c in doc["checks"]]
    result.recorded = sum(1 for c in caps if c.get("summary"))
    reasons = sorted({c["unavailable"] for c in caps if c.get("unavailable")})
    result.unavailable = "; ".join(reasons)[:200]
    if len(doc["checks"]) != n_checks:
        raise BenchFailure(f"verify --capture of {name} ran {len(doc['checks'])} checks, not {n_checks}")
