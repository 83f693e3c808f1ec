"""What every part of the benchmark shares: running and timing commands,
finding and removing what the benchmark made, and formatting the report.
Python 3.11, standard library only."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

# netlab's engine concurrency (CONCURRENCY in src/engine/mod.rs): the raw
# baselines get the same number of calls in flight (per engine).
CONCURRENCY = 8
BENCH_LABEL = "io.netlab.bench=1"
TIMEOUT = 300  # seconds, for any single command
PORT = 7000
# The targets of the issue "Performance: measured against docker compose".
NETLAB_RSS_MB = 40


class BenchFailure(Exception):
    """A measured or set-up command failed; the benchmark's result is void."""


# --------------------------------------------------------------------------
# Running commands


@dataclass
class Sample:
    seconds: float
    rss_kb: int | None = None
    stderr: str = ""
    cpu: float | None = None  # user + system seconds of the process (and its children)
    stdout: str = ""


def run(cmd: list[str], what: str, timeout: float = TIMEOUT, check: bool = True,
        shown: list[str] | None = None):
    """Runs cmd in its own process group (so a timeout kills all of it) and
    returns (exit code, stdout, stderr). Raises BenchFailure on a timeout or,
    with check, on a non-zero exit; errors show `shown` (default cmd)."""
    shown_text = " ".join(shown or cmd)
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            process_group=0,
        )
    except OSError as e:  # e.g. the netlab executable went (a rebuild)
        raise BenchFailure(f"{what}: cannot run {shown_text}: {e}")
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc, signal.SIGKILL)
        raise BenchFailure(f"{what}: no result within {timeout:.0f}s: {shown_text}")
    except BaseException:
        # Ctrl-C: the child is in its own group and did not see it. Give it
        # the same signal (netlab then removes what it created), briefly.
        kill_group(proc, signal.SIGINT)
        try:
            proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            kill_group(proc, signal.SIGKILL)
        raise
    if check and proc.returncode != 0:
        raise BenchFailure(
            f"{what} failed (exit code {proc.returncode}): {shown_text}\n"
            f"--- stderr ---\n{err.rstrip()}\n--- stdout ---\n{out.rstrip()}"
        )
    return proc.returncode, out, err


def kill_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    if sig == signal.SIGKILL:
        proc.communicate()


def timed(cmd: list[str], what: str, rss: bool = False) -> Sample:
    """Wall time of cmd; with rss, also its peak RSS in KiB and its CPU time
    (user + system)."""
    if not rss:
        start = time.perf_counter()
        _, out, err = run(cmd, what)
        return Sample(time.perf_counter() - start, stderr=err, stdout=out)
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as usage:
        wrapped = rss_wrapper(cmd, usage.name)
        start = time.perf_counter()
        _, out, err = run(wrapped, what, shown=cmd)
        seconds = time.perf_counter() - start
        user, system, rss_kb = usage.read().strip().splitlines()[-1].split()
        return Sample(seconds, int(rss_kb), err, float(user) + float(system), out)


def rss_wrapper(cmd: list[str], out: str) -> list[str]:
    """`/usr/bin/time -f '%U %S %M'` (user s, system s, peak RSS KiB), or a
    fresh python whose only child is cmd (so RUSAGE_CHILDREN is cmd's own)
    where that is missing."""
    if os.access("/usr/bin/time", os.X_OK):
        return ["/usr/bin/time", "-f", "%U %S %M", "-o", out, "--", *cmd]
    code = (
        "import resource, subprocess, sys\n"
        "rc = subprocess.call(sys.argv[2:])\n"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "open(sys.argv[1], 'w').write(f'{u.ru_utime} {u.ru_stime} {u.ru_maxrss}')\n"
        "sys.exit(rc)\n"
    )
    return [sys.executable, "-c", code, out, *cmd]


def in_parallel(jobs: list[list[str]], what: str, workers: int = CONCURRENCY) -> None:
    """Runs every command, `workers` at a time; waits for all of them even
    when one fails (so nothing is still being created during cleanup), then
    raises the first failure."""
    if not jobs:
        return
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(run, cmd, what) for cmd in jobs]
        errors = [f.exception() for f in futures]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for e in errors:
        if e is not None:
            raise e


def lines(cmd: list[str], what: str) -> list[str]:
    return [l for l in run(cmd, what, timeout=60)[1].splitlines() if l.strip()]


STARTED = time.perf_counter()


def progress(text: str) -> None:
    """A progress line on stderr, with the seconds since the benchmark began."""
    print(f"  ... [{time.perf_counter() - STARTED:6.1f} s] {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Finding and removing what the benchmark made (docker: the CLI, with -H)


def attempt(cmd: list[str], what: str, timeout: float = 120) -> list[str]:
    try:
        run(cmd, what, timeout=timeout)
        return []
    except BenchFailure as e:
        return [str(e)]


def find(filter: str, docker: tuple[str, ...] = ("docker",)) -> tuple[list[str], list[str]]:
    """Ids of the containers and networks matching a filter (`label=k=v`,
    `name=prefix`)."""
    containers = lines([*docker, "ps", "-aq", "--filter", filter], "docker ps")
    networks = lines([*docker, "network", "ls", "-q", "--filter", filter], "docker network ls")
    return containers, networks


def remove_labelled(label: str, docker: tuple[str, ...] = ("docker",)) -> list[str]:
    """Removes what carries the label; returns what went wrong. A network
    can stay "in use" for a moment after its last container went (or, swarm
    scoped, be listed a moment after it went), so what fails is listed and
    tried again for a few seconds before it counts."""
    problems: list[str] = []
    for _ in range(5):
        try:
            containers, networks = find(f"label={label}", docker)
        except BenchFailure as e:
            return [str(e)]
        if not containers and not networks:
            return []
        problems = []
        if containers:
            problems += attempt([*docker, "rm", "-f", *containers], f"removing containers labelled {label}")
        if networks:
            problems += attempt([*docker, "network", "rm", *networks], f"removing networks labelled {label}")
        if not problems:
            return []
        time.sleep(1)
    return problems


def assert_gone(filter: str, what: str, docker: tuple[str, ...] = ("docker",)) -> None:
    containers, networks = find(filter, docker)
    if containers or networks:
        raise BenchFailure(
            f"{what} left {len(containers)} container(s) and {len(networks)} network(s) ({filter})")


# --------------------------------------------------------------------------
# Reporting


def median(samples: list[Sample]) -> float | None:
    return statistics.median(s.seconds for s in samples) if samples else None


def median_of(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} s"


def runs(samples: list[Sample]) -> str:
    return ", ".join(f"{s.seconds:.2f}" for s in samples)


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def peak_rss_mb(samples: list[Sample]) -> float | None:
    rss = [s.rss_kb for s in samples if s.rss_kb]
    return max(rss) * 1024 / 1e6 if rss else None


def table(rows: list[list[str]]) -> str:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    out = []
    for k, r in enumerate(rows):
        out.append(" | ".join(cell.ljust(w) if c == 0 else cell.rjust(w) for c, (cell, w) in enumerate(zip(r, widths))))
        if k == 0:
            out.append("-+-".join("-" * w for w in widths))
    return "\n".join(out)


# A target's verdict: True/False (PASS/MISS), None (not measured), or one of
# these words: "VOID" (measured, but what was measured is not what the
# target is about), "info" (a figure with no goal).
Verdict = bool | None | str


def verdict(ok: Verdict) -> str:
    if isinstance(ok, str):
        return f"{ok:<4}"
    return "n/a " if ok is None else ("PASS" if ok else "MISS")


def cmp(value, ok, text) -> tuple[Verdict, str]:
    return (None if value is None else ok(value), text)


# --------------------------------------------------------------------------
# A section of the benchmark that may fail on its own


@dataclass
class Section:
    """The result of one further section. When it failed, it keeps what it
    measured before and says why; the other sections still run, and the
    benchmark exits 1 at the end."""
    failed: str = field(default="", kw_only=True)
    title = "section"

    def details(self) -> list[str]:
        return []

    def targets(self) -> list[tuple[Verdict, str]]:
        return []

    def report_details(self) -> list[str]:
        out = self.details()
        if self.failed:
            shown = self.failed.strip().splitlines()
            out += [f"FAILED ({self.title}): {shown[0]}"] + [f"    {l}" for l in shown[1:12]]
        return out

    def report_targets(self) -> list[tuple[Verdict, str]]:
        if self.failed:
            return [("FAIL", f"{self.title}: the measurement failed, no figure (see above)")]
        return self.targets()


@contextlib.contextmanager
def failing_into(result: Section):
    """Runs a section's body; a BenchFailure becomes the section's failure."""
    try:
        yield
    except BenchFailure as e:
        result.failed = str(e)
        progress(f"{result.title}: FAILED (the other sections go on)")
