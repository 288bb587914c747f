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

The cost rows (``cost_bench``): every step of a stack's life at 100 and 1,000 campaigns, our
providers against no-op ones of the same shape, per front end, interleaved; see that module.

Smoke mode (about two minutes with the protocol section, tiny N; figures meaningless, every path
exercised): ``LEADTERRA_BENCH_SMOKE=1 make bench`` or ``python benchmarks/bench.py --smoke``.
"""

from __future__ import annotations

import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import cost_bench
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

@dataclass(frozen=True)
class Sizes:
    """What one run of the real-CLI section measures."""

    n: int = N
    runs: int = 3
    cold_runs: int = 10
    cost_sizes: tuple[int, ...] = cost_bench.COST_SIZES
    cost_runs: int = cost_bench.COST_RUNS
    cost_fronts: tuple[str, ...] = cost_bench.FRONT_ENDS
    cost_checkout: Path = ROOT
    smoke: bool = False


#: ``LEADTERRA_BENCH_SMOKE=1`` / ``bench.py --smoke``: every path once, in seconds.
SMOKE = Sizes(n=4, runs=1, cold_runs=2, cost_sizes=(3,), cost_runs=1, smoke=True)


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
    # The native plugin as the engine runs it (the Python host: `python <folder> <address>`) and
    # as its console script; the dynamic front end's server as the engine starts it.
    plugin = [sys.executable, str(ROOT / "provider"), "127.0.0.1:1"]
    script = [str(VENV_BIN / "pulumi-resource-leadterra"), "127.0.0.1:1"]
    dynamic = [sys.executable, "-m", "pulumi.dynamic", "127.0.0.1:1"]

    def to_exit() -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import pulumi"], check=True, env=env)
        return time.perf_counter() - t0

    measures: dict[str, Callable[[], float]] = {
        "import_pulumi_to_line_s": lambda: _first_line(python, env),
        "plugin_to_port_s": lambda: _first_line(plugin, env),
        "console_script_to_port_s": lambda: _first_line(script, env),
        "dynamic_to_port_s": lambda: _first_line(dynamic, env),
        "import_pulumi_to_exit_s": to_exit,
    }
    for measure in measures.values():  # warm the page cache once
        measure()
    times: dict[str, list[float]] = {name: [] for name in measures}
    for _ in range(runs):
        for name, measure in measures.items():
            times[name].append(measure())
    result: dict[str, Any] = {name: summary(values) for name, values in times.items()}
    baseline = result["import_pulumi_to_line_s"]["median"]
    result["ratio"] = result["plugin_to_port_s"]["median"] / baseline
    result["console_script_ratio"] = result["console_script_to_port_s"]["median"] / baseline
    result["dynamic_ratio"] = result["dynamic_to_port_s"]["median"] / baseline
    return result


def _parallel(workdir: Path) -> tuple[str, int, int]:
    """The CLI's version, its `--parallel` default here, and the value passed."""
    probe = Project(workdir / "probe")
    version = probe("version").stdout.strip()
    default = default_parallel(probe)
    return version, default, 16 if default >= UNBOUNDED else default


def run(
    workdir: Path, runs: int = 3, sizes: Optional[Sizes] = None, cost_only: bool = False
) -> dict[str, Any]:
    """Every real-CLI figure; ``runs`` fresh stacks per provider for the timed ups (``sizes``, if
    given, overrides it and sets the cost rows'); with ``cost_only``, only the cost rows."""
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
    if not cost_only:
        result.update(_hundred(workdir, sizes, parallel))
    if sizes.cost_sizes:
        result["cost"] = cost_bench.run(
            workdir / "cost",
            parallel,
            sizes.cost_sizes,
            sizes.cost_runs,
            sizes.cost_fronts,
            checkout=sizes.cost_checkout,
        )
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


def _spread(s: dict[str, float], fmt: str = "{:.2f}") -> str:
    return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}..{fmt.format(s['max'])})"


def render(r: dict[str, Any]) -> str:
    lines = []
    if r.get("smoke"):
        lines += ["SMOKE RUN (LEADTERRA_BENCH_SMOKE / --smoke): tiny N, figures meaningless", ""]
    if "providers" in r:
        lines += _render_hundred(r)
    if "cost" in r:
        lines += ["", cost_bench.render(r["cost"])]
    lines.append("")
    lines.append(f"real-CLI section wall time: {r['wall_seconds']:.0f} s")
    return "\n".join(lines)


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
    baseline = (
        f"`import pulumi` to a printed line {spread(c['import_pulumi_to_line_s'], '{:.3f}')} "
        f"(to exit {c['import_pulumi_to_exit_s']['median']:.3f})"
    )
    for label, name, ratio in (
        ("native plugin as the engine runs it (python provider/)", "plugin_to_port_s", "ratio"),
        ("native plugin's console script", "console_script_to_port_s", "console_script_ratio"),
        ("dynamic provider's server (python -m pulumi.dynamic)", "dynamic_to_port_s", "dynamic_ratio"),
    ):
        lines.append(
            f"| cold start, {label}, to its port printed, s ({c[name]['n']} runs) | "
            f"{spread(c[name], '{:.3f}')} | {baseline} | {c[ratio]:.2f}x |"
        )
    return lines
