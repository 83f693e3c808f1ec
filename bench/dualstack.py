"""The benchmark's IPv6 section: `netlab verify` of the 100-check lab of
run.py (10 nodes over three bridges, 10 positive TCP checks each) made
dual-stack and probed over IPv6 (`family: v6`), against the same lab with
IPv4 only, measured in one run and alternating within each repeat; the
dual-stack lab with `family: both` (200 probes) is shown beside them.

Goal (issue "IPv6: dual-stack and IPv6-only labs"): the dual-stack verify
within 1.1x of the IPv4-only one. Every timed verify follows one untimed
`verify --output json` that proves each check ran, over the family asked,
and passed."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchlib import (
    BenchFailure, Sample, Section, Verdict, cmp, failing_into, fmt_ratio, median, progress, ratio, runs,
    secs,
)
from more import cpu_rss, verify_json

DUAL_VS_V4 = 1.1
# At least this many timed runs of each: a verify of 100 checks takes a
# tenth of a second, so a ratio of medians needs more than three.
MIN_RUNS = 7
LABS = {"bench-v4", "bench-dual", "bench-both"}


def dual_yaml(v4_yaml: str, name: str, family: str) -> str:
    """The IPv4-only lab made dual-stack, each check over `family`."""
    out = []
    for line in v4_yaml.splitlines():
        if line.startswith("name: "):
            line = f"name: {name}"
        elif line.startswith("  net-") and line.endswith(": {}"):
            line = line[: -len("{}")] + "{ ipv6: true }"
        elif line.startswith("  - tcp: {") and line.endswith("expect: open }"):
            line = line[: -len("expect: open }")] + f"family: {family}, expect: open }}"
        out.append(line)
    return "\n".join(out) + "\n"


@dataclass
class DualStackResult(Section):
    title = "dual-stack verify"
    checks: int
    v4: list[Sample] = field(default_factory=list)
    v6: list[Sample] = field(default_factory=list)
    both: list[Sample] = field(default_factory=list)

    def details(self) -> list[str]:
        a, b, c = median(self.v4), median(self.v6), median(self.both)
        return [
            f"verify of {self.checks} checks over 10 nodes, alternating: IPv4-only lab {secs(a)} "
            f"(runs {runs(self.v4)}); the lab dual-stack, every check over IPv6 {secs(b)} (runs {runs(self.v6)}); "
            f"dual/IPv4 {fmt_ratio(ratio(b, a))}",
            f"  the dual-stack lab with family: both ({2 * self.checks} probes) {secs(c)} (runs {runs(self.both)}), "
            f"{fmt_ratio(ratio(c, a))} of IPv4-only; {cpu_rss(self.both)}",
        ]

    def targets(self) -> list[tuple[Verdict, str]]:
        a, b, c = median(self.v4), median(self.v6), median(self.both)
        r = ratio(b, a)
        return [
            cmp(r, lambda x: x <= DUAL_VS_V4,
                f"dual-stack verify of {self.checks} checks (over IPv6) within {DUAL_VS_V4}x of IPv4-only: "
                f"{secs(b)} / {secs(a)} = {fmt_ratio(r)}"),
            ("info", f"  with family: both (each check in both families): {secs(c)}, {fmt_ratio(ratio(c, a))}"),
        ]


def proven(bench, name: str, checks: int, family: str) -> None:
    """Every check ran, passed, and (for IPv6) said its family."""
    doc = verify_json(bench, name)
    if doc["passed"] != checks:
        raise BenchFailure(f"verify of {name} passed {doc['passed']} checks, not {checks}")
    if family != "v4":
        said = [c for c in doc["checks"] if c.get("family") == family]
        if len(said) != checks:
            raise BenchFailure(f"verify of {name}: {len(said)} of {checks} checks were over {family}")
        if family == "v6" and not all("IPv6 [" in c["observation"] for c in said):
            raise BenchFailure(f"verify of {name}: a check did not probe an IPv6 address")


def measure(bench, v4_yaml: str, checks: int, repeat: int, smoke: bool = False) -> DualStackResult:
    result = DualStackResult(checks)
    labs = [("bench-v4", v4_yaml.replace("name: bench-verify", "name: bench-v4"), "v4"),
            ("bench-dual", dual_yaml(v4_yaml, "bench-dual", "v6"), "v6"),
            ("bench-both", dual_yaml(v4_yaml, "bench-both", "both"), "both")]
    with failing_into(result):
        for name, yaml, family in labs:
            path = bench.workdir / f"{name}.yaml"
            path.write_text(yaml)
            progress(f"dual-stack: netlab up {name} (not timed)")
            bench.netlab_up(path, name)
            proven(bench, name, checks, family)
        # A smoke run (`make test`) proves the section works, once.
        for r in range(repeat if smoke else max(repeat, MIN_RUNS)):
            bench.note_foreign()
            progress(f"dual-stack verify of {checks} checks, run {r + 1}: IPv4-only, dual-stack, both")
            result.v4.append(bench.netlab_verify("bench-v4"))
            result.v6.append(bench.netlab_verify("bench-dual"))
            result.both.append(bench.netlab_verify("bench-both"))
        for name, _, _ in labs:
            bench.netlab_down(name)
    return result
