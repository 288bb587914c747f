"""The real Pulumi CLI's figures for `make bench`: `pulumi up` and `pulumi preview` of 100 campaigns,
the dynamic provider (a Python program) against the native plugin (a Pulumi YAML program, the
plugin found on PATH), with the sandbox as its own process on loopback.

Each measured `up` runs on a fresh stack (its own `pulumi stack init`), against campaigns reset to
draft, so every run does the same work: 100 Creates, one `POST start` each. The dynamic provider
and the native plugin are measured side by side within each run (this machine is shared), and
every figure is a median with its min..max over the runs. The engine's parallelism is what
`pulumi up --help` gives as the `--parallel` default (GOMAXPROCS x 4 in v3.274.1,
pkg/cmd/pulumi/operations/up.go `defaultParallel`), passed explicitly.

Latency is the sandbox's `POST /_sandbox/settings {"latencyMs": 50}`: a sleep before every /v1
request is answered normally. (A `delay_ms` fault is not latency: after its delay it answers with
the fault's status, a 500 unless given, so the client retries.)

The scale rows (`scale`): `pulumi up --skip-preview` creating 1,000 and 2,000 campaigns from a
YAML program, and `pulumi preview` of the 1,000, the native plugin loaded by path (``provider/``)
against a no-op plugin of the same schema (``benchmarks/noop_provider/``: it echoes inputs as
outputs, no HTTP), with the file backend's default checkpoints and with
``PULUMI_SKIP_CHECKPOINTS=true``, interleaved run by run; wall time, CPU of the process tree and
the CLI's peak RSS (``VmHWM`` of the ``pulumi`` process, polled). An up that outlasts
``SCALE_TIMEOUT_S`` is killed (its process group) and reported as "did not finish"; a cell whose
first pair outlasts ``SCALE_REPEAT_BUDGET_S`` is measured once (2,000 with checkpoints: about 11
minutes a pair on 2 cores).

Smoke mode (about two minutes with the protocol section, tiny N; figures meaningless, every path
exercised): ``LEADTERRA_BENCH_SMOKE=1 make bench`` or ``python benchmarks/bench.py --smoke``.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from sandbox_process import SandboxProcess

from harness.cli import VENV_BIN, Project, find_cli
from harness.programs import ROOT
from pulumi_leadterra.schema import TYPE_TOKEN

N = 100
LATENCY_MS = 50.0
KEY = "sk_test_cli_bench_key_00000000"
KINDS = ("dynamic", "native")
LABELS = {"dynamic": "dynamic provider (Python program)", "native": "native plugin (YAML program)"}
UNBOUNDED = 2**31 - 1  # the engine's "no limit" (math.MaxInt32)

#: The scale rows: how many creates, how many interleaved runs, and when an up is given up on.
SCALE_SIZES = (1000, 2000)
SCALE_RUNS = 3
SCALE_TIMEOUT_S = 600.0
#: The two plugins of the scale rows, both loaded by path through the Python language host.
SCALE_PLUGINS = {"ours": ROOT / "provider", "noop": Path(__file__).resolve().parent / "noop_provider"}
CHECKPOINTS = {"default": {}, "skipped": {"PULUMI_SKIP_CHECKPOINTS": "true"}}


@dataclass(frozen=True)
class Sizes:
    """What one run of the real-CLI section measures."""

    n: int = N
    runs: int = 3
    cold_runs: int = 10
    scale_sizes: tuple[int, ...] = SCALE_SIZES
    scale_runs: int = SCALE_RUNS
    scale_timeout_s: float = SCALE_TIMEOUT_S
    smoke: bool = False


#: ``LEADTERRA_BENCH_SMOKE=1`` / ``bench.py --smoke``: every path once, in seconds.
SMOKE = Sizes(n=4, runs=1, cold_runs=2, scale_sizes=(12,), scale_runs=1, scale_timeout_s=120, smoke=True)


def smoke_requested() -> bool:
    return os.environ.get("LEADTERRA_BENCH_SMOKE", "").lower() in ("1", "true", "yes")


def campaign_ids(n: int, prefix: str = "camp_b") -> list[str]:
    return [f"{prefix}{i:04d}" for i in range(n)]


def _python_program(ids: list[str]) -> str:
    return (
        "from pulumi_leadterra import CampaignState\n\n"
        f"for i, campaign_id in enumerate({ids!r}):\n"
        '    CampaignState(f"c{i:04d}", campaign_id=campaign_id, status="running")\n'
    )


def _yaml_program(name: str, ids: list[str]) -> dict[str, Any]:
    program: dict[str, Any] = {"name": name, "runtime": "yaml"}
    if ids:
        program["resources"] = {
            f"c{i:04d}": {"type": TYPE_TOKEN, "properties": {"campaignId": cid, "status": "running"}}
            for i, cid in enumerate(ids)
        }
    return program


def _project(workdir: Path, kind: str, ids: list[str]) -> Project:
    """A project of its own (folder, file backend, PULUMI_HOME) declaring ``ids``."""
    name = f"bench-{kind}-{len(ids)}"
    project = Project(workdir / name, secrets=[KEY], plugin_on_path=kind == "native")
    if kind == "dynamic":
        main = workdir / f"{name}.py"
        main.write_text(_python_program(ids))
        project.python_program(name, main)
    else:
        project.write_yaml("Pulumi.yaml", _yaml_program(name, ids))
    return project


def default_parallel(project: Project) -> int:
    """The `--parallel` default of this CLI on this machine, as `pulumi up --help` prints it."""
    text = project("up", "--help").stdout
    found = re.search(r"--parallel int32 .*\(default (\d+)\)", text)
    assert found, "no --parallel default in `pulumi up --help`"
    return int(found.group(1))


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


class _Bench:
    def __init__(self, workdir: Path, sandbox: SandboxProcess, parallel: int, n: int) -> None:
        self.sandbox = sandbox
        self.parallel = str(parallel)
        self.n = n
        self.ids = campaign_ids(n)
        self.full = {kind: _project(workdir, kind, self.ids) for kind in KINDS}
        self.empty = {kind: _project(workdir, kind, []) for kind in KINDS}
        self.stacks = 0
        self.cpu = 0.0  # CPU seconds of the last command's process tree

    def latency(self, ms: float) -> None:
        self.sandbox.admin.admin("POST", "/settings", {"latencyMs": ms})

    def fresh_stack(self, project: Project) -> None:
        """A new stack (now the selected one), configured as a user does; campaigns reset."""
        self.stacks += 1
        project.init(self.sandbox.url, KEY, stack=f"s{self.stacks}")
        self.sandbox.seed(self.ids)

    def timed(
        self, project: Project, *args: str, env: Optional[dict[str, str]] = None
    ) -> tuple[float, dict[str, int]]:
        """Wall time of one `pulumi` command, and the sandbox requests it made."""
        self.sandbox.admin.clear_requests()
        cpu0 = _children_cpu()
        t0 = time.perf_counter()
        project(*args, "--parallel", self.parallel, env=env)
        elapsed = time.perf_counter() - t0
        self.cpu = _children_cpu() - cpu0
        return elapsed, dict(self.sandbox.admin.drain_counts())

    def up(self, project: Project, expect: int, env: Optional[dict[str, str]] = None) -> float:
        elapsed, made = self.timed(project, "up", "--yes", "--skip-preview", env=env)
        assert sum(made.values()) == expect, f"up made {made}, expected {expect} requests"
        return elapsed

    def one_run(self, kind: str) -> dict[str, float]:
        full, empty, n = self.full[kind], self.empty[kind], self.n
        self.latency(LATENCY_MS)
        self.fresh_stack(full)
        up_latency = self.up(full, n)
        preview, made = self.timed(full, "preview", "--expect-no-changes")
        assert made == {}, f"a preview of unchanged campaigns made requests: {made}"
        self.latency(0)
        self.fresh_stack(full)
        up_fast = self.up(full, n)
        up_fast_cpu = self.cpu
        self.fresh_stack(full)
        up_no_checkpoints = self.up(full, n, env={"PULUMI_SKIP_CHECKPOINTS": "true"})
        self.fresh_stack(empty)
        up_empty = self.up(empty, 0)
        return {
            "up_50ms": up_latency,
            "preview_unchanged": preview,
            "up_0ms": up_fast,
            "up_0ms_cpu": up_fast_cpu,
            "up_0ms_skip_checkpoints": up_no_checkpoints,
            "up_empty": up_empty,
        }

    def steps(self, kind: str) -> dict[str, dict[str, int]]:
        """Requests per step of a stack's life, exact, at 0 ms latency (commands as users run them)."""
        project = self.full[kind]
        self.latency(0)
        self.fresh_stack(project)
        counts: dict[str, dict[str, int]] = {}
        for label, args in (
            ("preview", ("preview",)),
            ("first up", ("up", "--yes")),
            ("second up (no change)", ("up", "--yes")),
            ("refresh --skip-preview", ("refresh", "--yes", "--skip-preview")),
            ("destroy", ("destroy", "--yes")),
        ):
            counts[label] = self.timed(project, *args)[1]
        return counts


def _children_cpu() -> float:
    """CPU seconds (user + system) of every finished child process and what it waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _first_line(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds from starting ``cmd`` to the first line it prints; then it is killed."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - t0
    proc.kill()
    proc.wait()
    proc.stdout.close()
    assert line.strip(), f"{cmd[0]} printed nothing"
    return elapsed


def cold_start(runs: int) -> dict[str, Any]:
    """`import pulumi` to a printed line vs the plugin to its port, interleaved; and, as the
    protocol section times it, `import pulumi` to the interpreter's exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADTERRA_", "PULUMI_"))}
    python = [sys.executable, "-c", "import pulumi; print('ready', flush=True)"]
    plugin = [str(VENV_BIN / "pulumi-resource-leadterra"), "127.0.0.1:1"]

    def to_exit() -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pulumi"], check=True, env=env)
        return time.perf_counter() - t0

    measures: dict[str, Callable[[], float]] = {
        "import_pulumi_to_line_s": lambda: _first_line(python, env),
        "plugin_to_port_s": lambda: _first_line(plugin, env),
        "import_pulumi_to_exit_s": to_exit,
    }
    for measure in measures.values():  # warm the page cache once
        measure()
    times: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(runs):
        for name, measure in measures.items():
            times[name].append(measure())
    result: dict[str, Any] = {name: summary(values) for name, values in times.items()}
    result["ratio"] = (
        result["plugin_to_port_s"]["median"] / result["import_pulumi_to_line_s"]["median"]
    )
    return result


def _parallel(workdir: Path) -> tuple[str, int, int]:
    """The CLI's version, its `--parallel` default here, and the value passed."""
    probe = Project(workdir / "probe")
    version = probe("version").stdout.strip()
    default = default_parallel(probe)
    return version, default, 16 if default >= UNBOUNDED else default


def run(
    workdir: Path, runs: int = 3, sizes: Optional[Sizes] = None, scale_only: bool = False
) -> dict[str, Any]:
    """Every real-CLI figure; ``runs`` fresh stacks per provider for the timed ups (``sizes``, if
    given, overrides it and sets the scale rows'); with ``scale_only``, only the scale rows."""
    sizes = sizes or Sizes(runs=runs)
    cli = find_cli()
    assert cli is not None, "no Pulumi CLI: run make engine"
    started = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    version, default, parallel = _parallel(workdir)
    result: dict[str, Any] = {
        "pulumi_version": version,
        "cli": str(cli),
        "smoke": sizes.smoke,
        "parallel": parallel,
        "parallel_default": default,
        "parallel_source": (
            f"`pulumi up --help` default ({default} = GOMAXPROCS x 4), passed as --parallel {parallel}"
            if default < UNBOUNDED
            else f"default unbounded; --parallel {parallel} passed"
        ),
    }
    if not scale_only:
        result.update(_hundred(workdir, sizes, parallel))
    if sizes.scale_sizes:
        result["scale"] = scale(workdir / "scale", sizes, parallel)
    result["wall_seconds"] = time.perf_counter() - started
    return result


def _hundred(workdir: Path, sizes: Sizes, parallel: int) -> dict[str, Any]:
    """The rows of N (100) campaigns: dynamic provider against native plugin."""
    n, runs = sizes.n, sizes.runs
    sandbox = SandboxProcess(workdir / "cli-sandbox.db")
    try:
        bench = _Bench(workdir, sandbox, parallel, n)
        # First: the exact request counts, which also warm every path the timed runs take.
        steps = {kind: bench.steps(kind) for kind in KINDS}
        per_run = [{kind: bench.one_run(kind) for kind in KINDS} for _ in range(runs)]
    finally:
        sandbox.stop()
    cold = cold_start(sizes.cold_runs)

    floor = n * LATENCY_MS / 1000 / parallel
    providers: dict[str, Any] = {}
    for kind in KINDS:
        figures = {name: summary([r[kind][name] for r in per_run]) for name in per_run[0][kind]}
        per_create_ms = [(r[kind]["up_0ms"] - r[kind]["up_empty"]) / n * 1000 for r in per_run]
        fraction = [floor / r[kind]["up_50ms"] for r in per_run]
        providers[kind] = {
            **figures,
            "floor_fraction": summary(fraction),
            "latency_added_s": summary([r[kind]["up_50ms"] - r[kind]["up_0ms"] for r in per_run]),
            "overhead_per_create_ms": summary(per_create_ms),
        }
    ratio_runs = [r["dynamic"]["up_50ms"] / r["native"]["up_50ms"] for r in per_run]
    return {
        "campaigns": n,
        "latency_ms": LATENCY_MS,
        "runs": runs,
        "floor_s": floor,
        "providers": providers,
        "dynamic_over_native_up_50ms": summary(ratio_runs),
        "requests_per_step": steps,
        "cold_start": cold,
        "per_run": per_run,
    }


# -- the scale rows: 1,000 and 2,000 creates, our plugin against a no-op one ----------------------
def _status_kib(pid: int, field: str) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` alive now (by /proc/*/stat parent links)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # pid (comm) state ppid ...: comm may hold spaces, so split after its ')'
                parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [child for child, ppid in parents.items() if ppid == parent]
        found += kids
        frontier += kids
    return found


@dataclass
class _Watch:
    """Peak RSS of one command: the ``pulumi`` process (polled every 0.1 s; VmHWM only grows, so
    the last reading is its peak up to then) and, every second, each process it started."""

    pid: int
    cli_kib: int = 0
    others_kib: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        tick = 0
        while not self.stop.is_set():
            self.cli_kib = max(self.cli_kib, _status_kib(self.pid, "VmHWM") or 0)
            if tick % 10 == 0:
                for child in _children(self.pid):
                    self.others_kib = max(self.others_kib, _status_kib(child, "VmHWM") or 0)
            tick += 1
            self.stop.wait(0.1)


class _Scale:
    def __init__(self, workdir: Path, sandbox: SandboxProcess, sizes: Sizes, parallel: int) -> None:
        self.workdir, self.sandbox, self.sizes = workdir, sandbox, sizes
        self.parallel = str(parallel)
        self.projects: dict[tuple[str, int], Project] = {}
        self.stacks = 0

    def project(self, kind: str, n: int) -> Project:
        if (kind, n) not in self.projects:
            name = f"scale-{kind}-{n}"
            project = Project(self.workdir / name, secrets=[KEY])
            program = _yaml_program(name, campaign_ids(n, "camp_s"))
            program["plugins"] = {"providers": [{"name": "leadterra", "path": str(SCALE_PLUGINS[kind])}]}
            project.write_yaml("Pulumi.yaml", program)
            self.projects[kind, n] = project
        return self.projects[kind, n]

    def run(self, command: str, kind: str, n: int, checkpoints: str) -> dict[str, Any]:
        """One measured `pulumi up --yes --skip-preview` creating ``n`` campaigns on a fresh stack,
        or `pulumi preview` of those creates."""
        project = self.project(kind, n)
        self.stacks += 1
        stack = f"s{self.stacks}"
        project.init(self.sandbox.url, KEY, stack=stack)
        if kind == "ours" and command == "up":  # the same work every run: drafts turned running
            self.sandbox.seed(campaign_ids(n, "camp_s"))
        self.sandbox.admin.clear_requests()
        log = self.workdir / f"{stack}-{command}-{kind}-{n}-{checkpoints}.log"
        args = ("up", "--yes", "--skip-preview") if command == "up" else ("preview",)
        timeout = self.sizes.scale_timeout_s
        with open(log, "w") as out:
            load = os.getloadavg()[0]
            cpu0 = _children_cpu()
            began = time.perf_counter()
            proc = subprocess.Popen(
                [str(project.cli), *args, "--parallel", self.parallel],
                cwd=project.dir,
                env={**project.env, **CHECKPOINTS[checkpoints]},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so a timeout can end all of it
            )
            watch = _Watch(proc.pid)
            watcher = threading.Thread(target=watch.run, daemon=True)
            watcher.start()
            try:
                code: Optional[int] = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                code = None
                tree = [proc.pid, *_children(proc.pid)]  # alive now, the CLI still their parent
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                for pid in tree:  # any the engine started in a group of its own, by PID
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                proc.wait()
            elapsed = time.perf_counter() - began
            cpu = _children_cpu() - cpu0
            watch.stop.set()
            watcher.join()
        output = log.read_text()
        assert KEY not in output, "the key appeared in what pulumi printed"
        made = dict(self.sandbox.admin.drain_counts())
        figures: dict[str, Any] = {
            "finished": code == 0,
            "seconds": elapsed,
            "cpu_s": cpu,
            "cli_peak_rss_mib": watch.cli_kib / 1024,
            "others_peak_rss_mib": watch.others_kib / 1024,
            "requests": made,
            "load1": load,
        }
        if code is None:
            figures["timeout_s"] = timeout
            project("cancel", "--yes", check=False)
        else:
            assert code == 0, f"pulumi {command} exited {code}:\n{output[-4000:]}"
            expected = {"POST start": n} if kind == "ours" and command == "up" else {}
            assert made == expected, f"{command} on {kind} made {made}"
        if code is not None and command == "up":
            checkpoint = self._checkpoint(project, stack)
            figures["state_bytes"] = checkpoint.stat().st_size
            kept = json.loads(checkpoint.read_text())["checkpoint"]["latest"]["resources"]
            created = sum(1 for resource in kept if resource["type"] == TYPE_TOKEN)
            assert created == n, f"the final checkpoint holds {created} campaigns, not {n}"
        project("stack", "rm", "--yes", "--force", stack, check=False, timeout=120)
        return figures

    @staticmethod
    def _checkpoint(project: Project, stack: str) -> Path:
        found = list((project.dir.parent / "state" / ".pulumi" / "stacks").glob(f"*/{stack}.json"))
        assert len(found) == 1, f"no single checkpoint file for {stack}: {found}"
        return found[0]


_SCALE_FIGURES = ("seconds", "cpu_s", "cli_peak_rss_mib", "others_peak_rss_mib", "state_bytes")
#: A cell whose first pair (ours + no-op) took longer than this in all is measured once.
SCALE_REPEAT_BUDGET_S = 300.0


def scale(workdir: Path, sizes: Sizes, parallel: int) -> dict[str, Any]:
    """The scale rows: `up` at each size and `preview` at the smallest, each with and without
    checkpoints; ``scale_runs`` rounds over every cell, each cell a pair (our plugin and the no-op,
    the order swapped every round). A cell is not run again once an up in it timed out, or when
    its first pair took over SCALE_REPEAT_BUDGET_S (then its figures are of one run)."""
    workdir.mkdir(parents=True, exist_ok=True)
    sandbox = SandboxProcess(workdir / "scale-sandbox.db")
    plan = [("up", n, checkpoints) for n in sizes.scale_sizes for checkpoints in CHECKPOINTS]
    plan += [("preview", min(sizes.scale_sizes), checkpoints) for checkpoints in CHECKPOINTS]
    cells: dict[tuple[str, int, str], dict[str, list[dict[str, Any]]]] = {cell: {} for cell in plan}
    once: set[tuple[str, int, str]] = set()
    try:
        bench = _Scale(workdir, sandbox, sizes, parallel)
        sandbox.seed(campaign_ids(max(sizes.scale_sizes), "camp_s"))
        for kind in SCALE_PLUGINS:  # warm-up: plugin start-up, imports, page cache
            bench.run("up", kind, min(20, *sizes.scale_sizes), "skipped")
        for round_index in range(sizes.scale_runs):
            order = list(SCALE_PLUGINS) if round_index % 2 == 0 else list(reversed(SCALE_PLUGINS))
            for cell in plan:
                command, n, checkpoints = cell
                by_kind = cells[cell]
                if cell in once or any(not r["finished"] for runs in by_kind.values() for r in runs):
                    continue
                for kind in order:
                    by_kind.setdefault(kind, []).append(bench.run(command, kind, n, checkpoints))
                first_pair = sum(runs[0]["seconds"] for runs in by_kind.values())
                if round_index == 0 and first_pair > SCALE_REPEAT_BUDGET_S:
                    once.add(cell)
    finally:
        sandbox.stop()
    loads = [r["load1"] for by_kind in cells.values() for runs in by_kind.values() for r in runs]
    rows = []
    for (command, n, checkpoints), by_kind in cells.items():
        row: dict[str, Any] = {"command": command, "creates": n, "checkpoints": checkpoints, "runs": by_kind}
        for kind, runs in by_kind.items():
            done = [r for r in runs if r["finished"]]
            figures = [name for name in _SCALE_FIGURES if done and all(name in r for r in done)]
            row[kind] = {
                "finished": len(done),
                "attempted": len(runs),
                "timeout_s": next((r["timeout_s"] for r in runs if not r["finished"]), None),
                **{name: summary([r[name] for r in done]) for name in figures},
            }
        pairs = list(zip(by_kind.get("ours", []), by_kind.get("noop", []), strict=False))
        ratios = [o["seconds"] / z["seconds"] for o, z in pairs if o["finished"] and z["finished"]]
        row["ratio"] = summary(ratios) if ratios else None
        rows.append(row)
    return {
        "sizes": list(sizes.scale_sizes),
        "runs": sizes.scale_runs,
        "timeout_s": sizes.scale_timeout_s,
        "repeat_budget_s": SCALE_REPEAT_BUDGET_S,
        "load": [min(loads), max(loads)] if loads else [0.0, 0.0],
        "rows": rows,
    }


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _spread(s: dict[str, float], fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}..{fmt.format(s['max'])})"


def render(r: dict[str, Any]) -> str:
    lines = []
    if r.get("smoke"):
        lines += ["SMOKE RUN (LEADTERRA_BENCH_SMOKE / --smoke): tiny N, figures meaningless", ""]
    if "providers" in r:
        lines += _render_hundred(r)
    if "scale" in r:
        lines += ["", *render_scale(r["scale"], r["parallel"])]
    lines.append("")
    lines.append(f"real-CLI section wall time: {r['wall_seconds']:.0f} s")
    return "\n".join(lines)


def render_scale(s: dict[str, Any], parallel: int) -> list[str]:
    def cell(row: dict[str, Any], kind: str, name: str, fmt: str = "{:.1f}") -> str:
        figures = row[kind]
        if not figures["finished"]:
            return f"did not finish in {_duration(figures['timeout_s'])}" if name == "seconds" else "-"
        text = _spread(figures[name], fmt) if figures["finished"] > 1 else fmt.format(figures[name]["median"])
        missed = figures["attempted"] - figures["finished"]
        if missed:
            text += f" ({missed} did not finish in {_duration(figures['timeout_s'])})"
        return text

    lines = [
        f"scale: `pulumi up --yes --skip-preview --parallel {parallel}` creating N campaigns on a fresh "
        f"stack, and `pulumi preview --parallel {parallel}` of them; YAML program, each plugin by path; "
        f"medians (min..max) over the runs given, the two plugins interleaved; a cell whose first pair "
        f"took over {s['repeat_budget_s']:.0f} s is run once; timeout {_duration(s['timeout_s'])}; "
        f"1-minute load average at the start of each run {s['load'][0]:.1f}..{s['load'][1]:.1f} "
        f"on {os.cpu_count()} cores",
        "",
        "| command | creates | checkpoints | runs | native plugin, s | no-op plugin, s | native / no-op | "
        "CLI peak RSS, MiB (native; no-op) | CPU of the tree, s (native; no-op) | state file, MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in s["rows"]:
        if not row["runs"]:
            continue
        ratio = "n/a"
        if row["ratio"]:
            ratio = f"{_spread(row['ratio'])}x" if row["ratio"]["n"] > 1 else f"{row['ratio']['median']:.2f}x"
        state = "; ".join(
            f"{row[kind]['state_bytes']['median'] / 1e6:.2f}" if "state_bytes" in row[kind] else "-"
            for kind in SCALE_PLUGINS
        )
        runs = max(row[kind]["attempted"] for kind in SCALE_PLUGINS)
        lines.append(
            f"| `{row['command']}` | {row['creates']} | {row['checkpoints']} | {runs} | "
            f"{cell(row, 'ours', 'seconds')} | {cell(row, 'noop', 'seconds')} | {ratio} | "
            f"{cell(row, 'ours', 'cli_peak_rss_mib', '{:.0f}')}; "
            f"{cell(row, 'noop', 'cli_peak_rss_mib', '{:.0f}')} | "
            f"{cell(row, 'ours', 'cpu_s')}; {cell(row, 'noop', 'cpu_s')} | {state} |"
        )
    return lines


def _render_hundred(r: dict[str, Any]) -> list[str]:
    spread = _spread
    n, ms, par = r["campaigns"], r["latency_ms"], r["parallel"]
    lines = [
        f"real CLI: pulumi {r['pulumi_version']}; --parallel {par} ({r['parallel_source']}); "
        f"medians (min..max) over {r['runs']} fresh stacks; sandbox in its own process, loopback",
        "",
        "| figure (real CLI) | measured | target | ratio |",
        "|---|---|---|---|",
    ]
    for kind in KINDS:
        p, label = r["providers"][kind], LABELS[kind]
        lines.append(
            f"| `pulumi up --skip-preview`, {label}: {n} creates, {ms:.0f} ms latency, s | "
            f"{spread(p['up_50ms'])} | floor {n} x {ms / 1000:.2f} s / {par} = {r['floor_s']:.3f} | "
            f"{spread(p['floor_fraction'])} of floor |"
        )
    d = r["dynamic_over_native_up_50ms"]
    lines.append(f"| ... dynamic / native, same run | {spread(d)}x | | |")
    for kind in KINDS:
        p, label = r["providers"][kind], LABELS[kind]
        lines.append(
            f"| same up at 0 ms latency (the fixed cost), {label}, s | {spread(p['up_0ms'])} | "
            f"CPU of the pulumi process tree {spread(p['up_0ms_cpu'])} s; empty program "
            f"{spread(p['up_empty'])} | 50 ms minus 0 ms: {spread(p['latency_added_s'])} s |"
        )
        lines.append(
            f"| ... with PULUMI_SKIP_CHECKPOINTS=true (no state write per step), {label}, s | "
            f"{spread(p['up_0ms_skip_checkpoints'])} | | |"
        )
    for kind in KINDS:
        p, label = r["providers"][kind], LABELS[kind]
        lines.append(
            f"| overhead per Create, {label}: (up at 0 ms - empty up) / {n}, ms | "
            f"{spread(p['overhead_per_create_ms'], '{:.1f}')} | | |"
        )
    for kind in KINDS:
        p, label = r["providers"][kind], LABELS[kind]
        lines.append(
            f"| `pulumi preview`, {label}: {n} unchanged, s | {spread(p['preview_unchanged'])} | "
            "0 requests | 0 requests |"
        )
    for kind in KINDS:
        for step, made in r["requests_per_step"][kind].items():
            shown = ", ".join(f"{k} {v}" for k, v in sorted(made.items())) or "0"
            lines.append(f"| requests, {LABELS[kind]}, `{step}` (N={n}) | {shown} | | |")
    c = r["cold_start"]
    lines.append(
        f"| cold start, plugin to its port printed, s ({c['plugin_to_port_s']['n']} runs) | "
        f"{spread(c['plugin_to_port_s'], '{:.3f}')} | `import pulumi` to a printed line "
        f"{spread(c['import_pulumi_to_line_s'], '{:.3f}')} (to exit "
        f"{c['import_pulumi_to_exit_s']['median']:.3f}) | {c['ratio']:.2f}x |"
    )
    return lines
