"""Every benchmark from one command, each in a fresh process, and `bench/RESULTS.md` from their figures.

    .venv/bin/python -m bench.run_all                  # the full runs
    .venv/bin/python -m bench.run_all --quick          # fewer repetitions; the sizes an aim names are kept
    .venv/bin/python -m bench.run_all --only=sync-sqlite,sidecar --output=/tmp/results.md

Each bench runs as a subprocess, so it gets a clean interpreter and its memory figures are its own, with
`--json=FILE`: its figures are read from that file, never parsed from the lines it prints. A bench that exits
non-zero, times out or writes no figures is reported as failed with the end of its output; the others still run and
the exit code is 1.

The machine is shared, so beside each bench's figures stand the 1-minute load average before and after it (the
"after" includes the bench itself) and the CPU time the machine spent outside the bench, PostgreSQL and this
process while it ran: figures taken while others were busy are not the machine's best.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
PG_ADMIN_URL = os.environ.get("VIGIL_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
TAIL_LINES = 30
BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq")


# --- what each bench reports ---


@dataclass(frozen=True)
class Aim:
    text: str
    met: bool

    def __str__(self) -> str:
        return f"{self.text}: {'**met**' if self.met else '**not met**'}"


@dataclass
class Rendered:
    headline: str
    lines: list[str]
    aims: list[Aim] = field(default_factory=list)
    problem: str | None = None  # the bench ran but its own checks failed: its figures are not to be trusted


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def aims_cell(aims: Sequence[Aim]) -> str:
    return "; ".join(str(a) for a in aims) or "—"


def render_declare(f: dict[str, Any]) -> Rendered:
    surfaces, every = f["round_trips_all_surfaces"], f["round_trips_every_call_done"]
    aim = Aim("median ≤ 3.5 round trips", surfaces["median"] <= 3.5)
    latency_ms = f"{f['latency_s'] * 1000:.0f} ms"
    lines = [f"Declaration, with {latency_ms} added to every Web API call, in round trips of {latency_ms}:", ""]
    lines += table(
        ("declare submission →", "median", "min", "max", "n", "aim"),
        [
            ("channel, invites, pinned opening message, announcement and topic all in Slack", *trips(surfaces), aim),
            ("every Web API call done (the declarer's confirmation too)", *trips(every), "—"),
        ],
    )
    lines += ["", f"Ack latency with {f['in_flight']} in flight, 100 ms per Web API call (ms):", ""]
    lines += table(
        ("what", "p50", "p99", "max"),
        [
            (f"declare submissions, {f['in_flight']} at once", *acks(f["ack_ms_declare"])),
            (f"`/incident help`, half of {f['in_flight']} mixed slash commands", *acks(f["ack_ms_help"])),
            ("`/incident open P2 …`, the other half", *acks(f["ack_ms_open"])),
        ],
    )
    lines += ["", "Slack's deadline for an ack is 3 s; no issue named an aim for the latency itself."]
    decl = f["ack_ms_declare"]
    headline = (
        f"declaration {surfaces['median']:.2f} round trips (median); ack p50 {decl['p50']:.0f} ms, "
        f"p99 {decl['p99']:.0f} ms with {f['in_flight']} in flight"
    )
    return Rendered(headline, lines, [aim])


def trips(s: dict[str, float]) -> tuple[str, str, str, int]:
    return f"{s['median']:.2f}", f"{s['min']:.2f}", f"{s['max']:.2f}", int(s["n"])


def acks(s: dict[str, float]) -> tuple[str, str, str]:
    return f"{s['p50']:.0f}", f"{s['p99']:.0f}", f"{s['max']:.0f}"


def render_sidecar(f: dict[str, Any]) -> Rendered:
    aim = Aim("≥ 50 % of bare aiohttp", f["ratio"] >= 0.5)
    lines = [
        f"Inbound webhooks/s, {f['requests']:,} signed requests a run, {f['in_flight']} in flight, "
        f"{f['runs']} run{'s' if f['runs'] > 1 else ''} each; the load generator shares the process, so the ratio is "
        "what matters:",
        "",
    ]
    lines += table(
        ("handler", "best /s", "median /s", "every run /s"),
        [
            ("Vigil's sidecar: verified, de-duplicated, stored on PostgreSQL", *rates(f["sidecar_per_s"])),
            ("bare aiohttp handler (reads the body, answers 202)", *rates(f["bare_per_s"])),
        ],
    )
    lines += ["", *table(("ratio (best / best)", "aim"), [(f"{f['ratio']:.0%}", aim)])]
    lines += ["", f"{f['rows']:,} inbox rows, one per delivery id; re-sends of 200 answered 200 (duplicate)."]
    headline = (
        f"sidecar {f['sidecar_per_s']['best']:,.0f}/s, bare aiohttp {f['bare_per_s']['best']:,.0f}/s: {f['ratio']:.0%}"
    )
    return Rendered(headline, lines, [aim])


def rates(s: dict[str, Any]) -> tuple[str, str, str]:
    return f"{s['best']:,.0f}", f"{s['median']:,.0f}", ", ".join(f"{r:,.0f}" for r in s["all"])


def render_deliveries(f: dict[str, Any]) -> Rendered:
    best1, best2 = f["best"]["1"], f["best"]["2"]
    aim_rate = f["aim_2_workers_per_s"]
    aim = Aim(f"≥ {aim_rate:,.0f}/s with 2 workers (the aim in deliveries.py)", best2["per_s"] >= aim_rate)
    lines = [f"Deliveries/s on PostgreSQL {f['postgres']}, {f['deliveries_per_run']:,} deliveries a run:", ""]
    lines += table(
        ("workers", "batch", "deliveries/s", "elapsed s", "verified", "CPU s outside the bench"),
        [
            (
                r["workers"],
                r["batch"],
                f"{r['per_s']:,.0f}",
                f"{r['elapsed_s']:.2f}",
                "yes" if r["ok"] else f"**NO** ({r['duplicates']} duplicates)",
                f"{r['cpu_other_s']:.2f}",
            )
            for r in f["runs"]
        ],
    )
    lines += [
        "",
        *table(
            ("best", "deliveries/s", "batch", "aim"),
            [
                ("1 worker", f"{best1['per_s']:,.0f}", best1["batch"], "—"),
                ("2 workers", f"{best2['per_s']:,.0f}", best2["batch"], aim),
            ],
        ),
    ]
    lat = f["latency_ms"]
    lines += ["", "Commit of one incident change → the last of its 5 deliveries at the receiver (ms):", ""]
    lines += table(
        ("worker", "median", "p95", "max", "n"),
        [
            ("in-process, woken after the commit", *latency(lat["in_process"])),
            (
                f"another process, polling every {lat['cross_process']['poll_interval_s']:g} s",
                *latency(lat["cross_process"]),
            ),
        ],
    )
    headline = f"1 worker {best1['per_s']:,.0f}/s, 2 workers {best2['per_s']:,.0f}/s"
    problem = None if f["verified"] else "a run was not verified (a row not `success`, a duplicate or a missing delivery)"
    return Rendered(headline, lines, [aim], problem)


def latency(s: dict[str, float]) -> tuple[str, str, str, int]:
    return f"{s['median']:.1f}", f"{s['p95']:.1f}", f"{s['max']:.1f}", int(s["n"])


def render_sync(f: dict[str, Any]) -> Rendered:
    rows = []
    for r in f["runs"]:
        if r["users"] >= 20_000:
            cell = (
                f"bot-side < 5 s: {'met' if r['bot_side_s'] < 5 else '**not met**'}; "
                f"< 50 MB above idle: {'met' if r['peak_rss_above_idle_mb'] < 50 else '**not met**'}"
            )
        else:
            cell = "— (the aims are for 20,000 users)"
        rows.append(
            (
                r["run"],
                f"{r['users']:,}",
                f"{r['wall_s']:.2f} s",
                f"{r['waiting_s']:.2f} s",
                f"{r['bot_side_s']:.2f} s",
                f"{r['bot_side_users_per_s']:,.0f}",
                f"+{r['peak_rss_above_idle_mb']:.1f} MB (idle {r['idle_rss_mb']:.0f} MB)",
                cell,
            )
        )
    lines = [f"`sync_slack_users` on {f['database']}, the emulator in its own process answering at once:", ""]
    lines += table(
        ("run", "users", "wall", "waiting for Slack", "bot-side", "users/s (bot-side)", "peak RSS above idle", "aims"),
        rows,
    )
    aims = []
    if all(r["users"] >= 20_000 for r in f["runs"]):
        aims = [
            Aim("bot-side < 5 s (both runs)", all(r["bot_side_s"] < 5 for r in f["runs"])),
            Aim("< 50 MB above idle (both runs)", all(r["peak_rss_above_idle_mb"] < 50 for r in f["runs"])),
        ]
    first = f["runs"][0]
    headline = (
        f"{first['users']:,} users: bot-side {first['bot_side_s']:.2f} s ({first['bot_side_users_per_s']:,.0f}/s), "
        f"+{first['peak_rss_above_idle_mb']:.1f} MB (first run)"
    )
    return Rendered(headline, lines, aims)


def render_startup(f: dict[str, Any]) -> Rendered:
    cold, rss = f["cold_start_s"], f["idle_rss_mib"]
    lines = table(
        ("`vigil run`", "median", "min", "max", "n"),
        [
            (
                'cold start to "connected" (Socket Mode up), s',
                *(f"{cold[k]:.2f}" for k in ("median", "min", "max")),
                cold["n"],
            ),
            (
                f"idle RSS after {f['idle_seconds']} s, MiB",
                *(f"{rss[k]:.1f}" for k in ("median", "min", "max")),
                rss["n"],
            ),
        ],
    )
    lines += ["", "No issue named an aim for these."]
    return Rendered(f"cold start {cold['median']:.2f} s, idle RSS {rss['median']:.0f} MiB (medians)", lines)


@dataclass(frozen=True)
class Bench:
    name: str
    title: str
    module: str
    args: tuple[str, ...]
    quick_args: tuple[str, ...]
    render: Callable[[dict[str, Any]], Rendered]


BENCHES = (
    Bench("declare", "Declaration round trips and ack latency", "bench.declare", (), ("--runs=3",), render_declare),
    Bench("sidecar", "Sidecar throughput beside bare aiohttp", "bench.sidecar", (), ("--quick",), render_sidecar),
    Bench("deliveries", "Delivery throughput and latency", "bench.deliveries", (), ("--quick",), render_deliveries),
    # 20,000 users either way: the aims are for that many, and a run takes seconds.
    Bench("sync-sqlite", "Directory sync on SQLite", "bench.sync", (), (), render_sync),
    Bench("sync-postgres", "Directory sync on PostgreSQL", "bench.sync", ("--postgres",), ("--postgres",), render_sync),
    Bench("startup", "Cold start and idle RSS", "bench.startup", (), ("--runs=2",), render_startup),
)


# --- the machine while a bench runs ---


@dataclass
class Load:
    """What else the machine did while a bench ran."""

    before: tuple[float, float, float]
    after: tuple[float, float, float]
    wall: float
    bench_cpu: float  # the bench's whole process tree, from the kernel's accounting of waited-for children
    postgres_cpu: float  # every postgres process: the bench's backends and anyone else's
    other_cpu: float  # the rest of the machine's busy time: other processes, the kernel
    busiest: list[tuple[str, float]]
    steal: float

    def line(self) -> str:
        cores = os.cpu_count() or 1
        share = self.other_cpu / (self.wall * cores) if self.wall else 0.0
        text = (
            f"load average (1 min) {self.before[0]:.2f} before → {self.after[0]:.2f} after (the bench's own work included); "
            f"outside the bench: {self.other_cpu:.1f} CPU s over {self.wall:.0f} s ({share:.0%} of {cores} cores)"
        )
        named = [f"{name} {cpu:.1f}" for name, cpu in self.busiest if cpu >= 0.5]
        if named:
            text += ", busiest " + ", ".join(named)
        text += f"; the bench {self.bench_cpu:.1f} CPU s, PostgreSQL {self.postgres_cpu:.1f} CPU s"
        if self.steal >= 0.5:
            text += f"; {self.steal:.1f} s stolen by the hypervisor"
        return text

    @property
    def busy_share(self) -> float:
        return self.other_cpu / (self.wall * (os.cpu_count() or 1)) if self.wall else 0.0

    @property
    def steal_share(self) -> float:
        """The share of the machine's CPU time the hypervisor gave to other guests while the bench ran."""
        return self.steal / (self.wall * (os.cpu_count() or 1)) if self.wall else 0.0


def snapshot() -> dict[int, tuple[str, float, float]]:
    """Every process's name, its own CPU seconds and those of the children it has reaped: a PostgreSQL backend that
    came and went between two snapshots is still counted, in the postmaster's."""
    out = {}
    for p in psutil.process_iter():
        try:
            with p.oneshot():
                t = p.cpu_times()
                out[p.pid] = (p.name(), t.user + t.system, t.children_user + t.children_system)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return out


class Watch:
    """What the machine did while a bench ran, told apart from what the bench did (the load average counts both).

    The bench is this process's child in its own session: the kernel's account of reaped children gives its whole
    tree's CPU exactly. PostgreSQL and the rest come from two snapshots of every process; the rest of the machine's
    busy time (other processes, the kernel) is what is left.
    """

    def __init__(self) -> None:
        self.load_before = os.getloadavg()
        self.machine_before = psutil.cpu_times()
        self.children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.self_before = resource.getrusage(resource.RUSAGE_SELF)
        self.first = snapshot()
        self.started = time.monotonic()

    def stop(self, group: int) -> Load:
        wall = time.monotonic() - self.started
        machine = psutil.cpu_times()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        me = resource.getrusage(resource.RUSAGE_SELF)
        bench = (children.ru_utime + children.ru_stime) - (self.children_before.ru_utime + self.children_before.ru_stime)
        mine = (me.ru_utime + me.ru_stime) - (self.self_before.ru_utime + self.self_before.ru_stime)
        postgres = 0.0
        outside: dict[str, float] = {}
        for pid, (name, own, reaped) in snapshot().items():
            if pid == os.getpid() or in_group(pid, group):
                continue
            _, own_before, reaped_before = self.first.get(pid, (name, 0.0, 0.0))
            if name.startswith("postgres"):
                postgres += own + reaped - own_before - reaped_before
            else:  # own time only: a shell's reaped children would count a whole test run that ended in the window
                outside[name] = outside.get(name, 0.0) + own - own_before
        busy = sum(getattr(machine, k) - getattr(self.machine_before, k) for k in BUSY_FIELDS)
        return Load(
            before=self.load_before,
            after=os.getloadavg(),
            wall=wall,
            bench_cpu=bench,
            postgres_cpu=postgres,
            other_cpu=max(0.0, busy - bench - mine - postgres),
            busiest=sorted(outside.items(), key=lambda kv: -kv[1])[:3],
            steal=getattr(machine, "steal", 0.0) - getattr(self.machine_before, "steal", 0.0),
        )


def in_group(pid: int, group: int) -> bool:
    try:
        return os.getpgid(pid) == group
    except OSError:
        return False


# --- running a bench ---


@dataclass
class Outcome:
    bench: Bench
    command: str
    seconds: float
    output: str
    load: Load
    rendered: Rendered | None = None
    failure: str | None = None

    @property
    def failed(self) -> bool:
        return self.failure is not None or (self.rendered is not None and self.rendered.problem is not None)


def python() -> str:
    exe = Path(sys.executable)
    return str(exe.relative_to(ROOT)) if exe.is_relative_to(ROOT) else str(exe)


def run_bench(bench: Bench, *, quick: bool, timeout: float) -> Outcome:
    args = [*(bench.quick_args if quick else bench.args)]
    shown = shlex.join([python(), "-m", bench.module, *args])
    with tempfile.TemporaryDirectory(prefix="vigil_bench_") as tmp:
        figures_path = Path(tmp) / "figures.json"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        watch = Watch()
        started = time.monotonic()
        # Its own session: a timed-out bench is stopped with everything it started (emulator, workers, receiver).
        proc = subprocess.Popen(
            [sys.executable, "-m", bench.module, *args, f"--json={figures_path}"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        failure = None
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(proc)
            output, _ = proc.communicate()
            failure = f"timed out after {timeout:.0f} s"
        except BaseException:
            stop_group(proc)
            proc.communicate()
            raise
        seconds = time.monotonic() - started
        left = lingering(proc.pid)
        if left:  # what the bench started and left running would weigh on the next bench
            output += f"\n[run_all: the bench left running: {', '.join(left)}; stopped]\n"
            stop_group(proc)
        load = watch.stop(proc.pid)
        outcome = Outcome(bench, shown, seconds, output, load)
        if failure is None and proc.returncode != 0:
            failure = f"exit code {proc.returncode}"
        if failure is None and not figures_path.exists():
            failure = "it exited 0 but wrote no figures"
        if failure is None:
            try:
                outcome.rendered = bench.render(json.loads(figures_path.read_text()))
            except Exception as exc:  # a bench whose figures do not read is reported, not fatal to the others
                failure = f"its figures could not be read: {type(exc).__name__}: {exc}"
        outcome.failure = failure
        return outcome


def group_members(group: int) -> list[int]:
    out = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == group and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p.pid)
        except (OSError, psutil.Error):
            pass
    return out


def lingering(group: int, grace: float = 5.0) -> list[str]:
    """What the bench left running once `grace` is over (multiprocessing's resource tracker takes a moment to go)."""
    deadline = time.monotonic() + grace
    while (left := group_members(group)) and time.monotonic() < deadline:
        time.sleep(0.1)
    names = []
    for pid in left:
        with contextlib.suppress(psutil.Error):
            names.append(f"{pid} {' '.join(psutil.Process(pid).cmdline())[:120]}")
    return names


def stop_group(proc: subprocess.Popen[str]) -> None:
    """SIGTERM to the bench's process group (only what it started), SIGKILL to whatever lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            proc.poll()
            if not group_members(proc.pid):
                return
            time.sleep(0.1)


# --- the machine ---


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                pretty = line.split("=", 1)[1].strip().strip('"')
                return f"{pretty}, kernel {platform.release()}"
    except OSError:
        pass
    return platform.platform()


async def _pg_version() -> str:
    import asyncpg
    from sqlalchemy.engine import make_url

    dsn = make_url(PG_ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def pg_version() -> str:
    try:
        return asyncio.run(_pg_version())
    except Exception as exc:  # reported in the header; the PostgreSQL benches will fail on their own
        return f"unavailable ({type(exc).__name__}: {exc})"


def git_revision() -> str:
    def git(*args: str) -> str:
        # --no-optional-locks: a status that never writes the index, the tree being read while others edit it.
        return subprocess.run(
            ["git", "--no-optional-locks", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    if not changed:
        return head
    return f"{head} with uncommitted changes in {len(changed.splitlines())} tracked files"


def machine() -> list[tuple[str, str]]:
    mem = psutil.virtual_memory().total / 2**30
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return [
        ("machine", platform.node()),
        ("CPU", f"{cores} x {cpu_model()} ({usable} usable by this process)"),
        ("RAM", f"{mem:.1f} GiB"),
        ("OS", os_name()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("PostgreSQL", pg_version()),
        ("code", git_revision()),
    ]


# --- RESULTS.md ---


def tail(output: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(output.rstrip().splitlines()[-lines:]) or "(no output)"


def fence(text: str) -> list[str]:
    return ["```text", text.replace("```", "'''"), "```"]


def section(o: Outcome) -> list[str]:
    lines = [f"## {o.bench.title}", ""]
    lines += [f"Command: `{o.command}` · took {o.seconds:.0f} s", ""]
    lines += [f"Machine load: {o.load.line()}.", ""]
    if o.failure is not None:
        lines += [f"**Failed**: {o.failure}. The last lines of its output:", "", *fence(tail(o.output))]
        return lines
    assert o.rendered is not None
    if o.rendered.problem is not None:
        lines += [f"**Failed its own checks**: {o.rendered.problem}. The figures below are not to be trusted.", ""]
    lines += o.rendered.lines
    lines += ["", "<details><summary>its output</summary>", "", *fence(o.output.rstrip()), "", "</details>"]
    return lines


def report(outcomes: Sequence[Outcome], *, began: datetime, command: str, quick: bool) -> str:
    lines = ["# Benchmark results", ""]
    lines += [
        f"Written by `{command}` on {began:%Y-%m-%d} at {began:%H:%M} UTC"
        + (" (`--quick`: fewer repetitions and requests; the sizes the aims name are kept)." if quick else "."),
        "Each bench ran in its own process, one after the other; figures, not assertions. Regenerate with the same command.",
        "",
    ]
    lines += table(("", ""), machine())
    busy = [o.bench.name for o in outcomes if o.load.busy_share >= 0.1 and o.failure is None]
    if busy:
        lines += [
            "",
            "Other work used at least 10 % of the machine's CPU during "
            + ", ".join(busy)
            + ": those figures are below what a quiet machine gives.",
        ]
    stolen = [
        f"{o.bench.name} ({o.load.steal_share:.0%})" for o in outcomes if o.load.steal_share >= 0.1 and o.failure is None
    ]
    if stolen:
        lines += [
            "",
            "The hypervisor took at least 10 % of the machine's CPU time for other guests during "
            + ", ".join(stolen)
            + ": its cores were not all this machine's, and those figures are below what it gives when they are.",
        ]
    lines += ["", "## Summary", ""]
    rows = []
    for o in outcomes:
        if o.failure is not None:
            headline, aims = f"**failed**: {o.failure}", "—"
        else:
            assert o.rendered is not None
            headline = o.rendered.headline
            if o.rendered.problem is not None:
                headline = f"**failed its own checks**; {headline}"
            aims = aims_cell(o.rendered.aims)
        other = f"{o.load.busy_share:.0%}"
        taken = f"{o.load.steal_share:.0%}"
        load = f"{o.load.before[0]:.2f} → {o.load.after[0]:.2f}"
        rows.append((o.bench.title, headline, aims, f"{o.seconds:.0f} s", load, other, taken))
    header = ("benchmark", "figures", "aims", "took", "load avg before → after", "CPU used by others", "CPU stolen")
    lines += table(header, rows)
    for o in outcomes:
        lines += ["", *section(o)]
    return "\n".join(lines) + "\n"


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="the shorter run of each bench")
    parser.add_argument(
        "--only", metavar="NAMES", help="comma-separated, of: " + ", ".join(b.name for b in BENCHES) + " (default: all)"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the results (default bench/RESULTS.md)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds each bench may take (default 1800)")
    args = parser.parse_args(argv)
    names = {b.name for b in BENCHES}
    args.names = [n.strip() for n in args.only.split(",")] if args.only else [b.name for b in BENCHES]
    unknown = set(args.names) - names
    if unknown:
        parser.error(f"unknown bench {', '.join(sorted(unknown))}; one of {', '.join(sorted(names))}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    command = shlex.join([python(), "-m", "bench.run_all", *(sys.argv[1:] if argv is None else argv)])
    began = datetime.now(UTC)
    outcomes = []
    for bench in (b for b in BENCHES if b.name in args.names):
        print(f"{bench.name:<14} running …", flush=True)
        o = run_bench(bench, quick=args.quick, timeout=args.timeout)
        outcomes.append(o)
        if o.failure is not None:
            status = f"FAILED ({o.failure})"
        else:
            assert o.rendered is not None
            status = o.rendered.headline if o.rendered.problem is None else f"FAILED its checks: {o.rendered.problem}"
        print(f"{bench.name:<14} {o.seconds:5.0f} s  {status}", flush=True)
        print(f"{'':<14} {o.load.line()}", flush=True)
    args.output.write_text(report(outcomes, began=began, command=command, quick=args.quick))
    failed = [o.bench.name for o in outcomes if o.failed]
    print(f"wrote {args.output}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
