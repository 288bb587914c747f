"""What our providers add to the engine's own cost, through the real `pulumi` command: each step of
a stack's life with our provider against a no-op provider of the same shape, per front end,
interleaved run by run (`make bench`; issue 24).

Front ends: ``native``, a Pulumi YAML program with the plugin loaded by path (``provider/``)
against ``benchmarks/noop_provider/`` (same schema, same gRPC stack, no work); ``dynamic``, a
Python program of `CampaignState` against ``benchmarks/noop_dynamic.py`` (provider pickled by
reference and stored plain, no work). Each no-op stores the same inputs and outputs as ours (the
fields our check records, a ``startedAt`` from create, a ``stats`` object from a read), so the
engine's own work is the same on both sides and the difference is the provider's.

Each run, per front end, size and provider, on a fresh stack (the sandbox's campaigns reset to
draft), with ``--parallel`` as given:

- ``create``: ``up --yes --skip-preview``, N creates (ours sends N ``POST start``);
- ``preview``: ``preview --expect-no-changes`` of the N;
- ``idle up``: ``up --yes --skip-preview --expect-no-changes``, nothing to do;
- ``refresh``: ``refresh --yes --skip-preview`` (ours sends N ``GET stats``);
- ``destroy``: ``destroy --yes --skip-preview`` (nothing sent: no ``pause_on_delete``);
- ``create, no checkpoints``: the create again on a new stack with
  ``PULUMI_SKIP_CHECKPOINTS=true``, the engine's cost without its state write per step.

Native front end, after both: the no-op's refresh with ``LEADTERRA_NOOP_GET=1`` (its Read sends the
``GET .../stats`` ours sends), the floor of any provider that must read, on a stack created
without checkpoints.

For each: wall time, CPU of the whole process tree, and the peak RSS of each process (the CLI,
the provider, the language host and program), polled from /proc; the provider's CPU (polled, so
read to within one poll of each process's end); after the create, the state file's bytes. The
requests each step sent are asserted exactly. Two providers, interleaved: the order swaps every
run, so a slow minute on this shared machine falls on both.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from sandbox_process import SandboxProcess

from harness.cli import Project
from harness.programs import ROOT
from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE
from pulumi_leadterra.schema import TYPE_TOKEN

__all__ = ["COST_RUNS", "COST_SIZES", "FRONT_ENDS", "run", "render"]

BENCH = Path(__file__).resolve().parent
KEY = "sk_test_cost_bench_key_0000000"
FRONT_ENDS = ("native", "dynamic")
PROVIDERS = ("ours", "noop")
COST_SIZES = (100, 1000)
COST_RUNS = 3
TIMEOUT_S = 900.0
#: Each step: its label, the command, extra environment, and the requests ours sends per campaign.
STEPS: tuple[tuple[str, tuple[str, ...], dict[str, str], dict[str, int]], ...] = (
    ("create", ("up", "--yes", "--skip-preview"), {}, {"POST start": 1}),
    ("preview", ("preview", "--expect-no-changes"), {}, {}),
    ("idle up", ("up", "--yes", "--skip-preview", "--expect-no-changes"), {}, {}),
    ("refresh", ("refresh", "--yes", "--skip-preview"), {}, {"GET stats": 1}),
    ("destroy", ("destroy", "--yes", "--skip-preview"), {}, {}),
    (
        "create, no checkpoints",
        ("up", "--yes", "--skip-preview"),
        {"PULUMI_SKIP_CHECKPOINTS": "true"},
        {"POST start": 1},
    ),
)
_TYPES = {
    ("native", "ours"): TYPE_TOKEN,
    ("native", "noop"): TYPE_TOKEN,
    ("dynamic", "ours"): CAMPAIGN_STATE_TYPE,
    ("dynamic", "noop"): "pulumi-python:dynamic/leadterra:NoopCampaignState",
}


def campaign_ids(n: int) -> list[str]:
    return [f"camp_k{i:04d}" for i in range(n)]


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


# -- processes -----------------------------------------------------------------------------------
def _stat(pid: int) -> Optional[tuple[int, float, str]]:
    """(parent pid, CPU seconds, command line) of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            command = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks, command


def _hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


#: The native plugin and its no-op, by folder, in this checkout or another (``--cost-checkout``).
def _plugin_dirs(checkout: Path) -> dict[str, Path]:
    return {"ours": checkout / "provider", "noop": checkout / "benchmarks" / "noop_provider"}


#: Every plugin folder the Python host may run as ``python <folder> <address>``.
_PLUGIN_DIRS: set[str] = {str(path) for path in _plugin_dirs(ROOT).values()}


def _role(pid: int, root: int, command: str) -> str:
    """The CLI; a provider (the plugin, run by the Python host from its folder, or the engine's
    dynamic-provider server); or a host (language hosts, the program)."""
    if pid == root:
        return "cli"
    argv = command.split()
    if "pulumi.dynamic" in argv or (len(argv) > 1 and argv[1].rstrip("/") in _PLUGIN_DIRS):
        return "provider"
    return "hosts"


@dataclass
class _Watch:
    """Every process under the CLI, polled: each one's last CPU reading and peak RSS, by role."""

    root: int
    seen: dict[int, tuple[str, float, int]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def poll(self) -> None:
        parents: dict[int, int] = {}
        details: dict[int, tuple[float, str]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                found = _stat(int(entry))
                if found:
                    parents[int(entry)] = found[0]
                    details[int(entry)] = (found[1], found[2])
        tree, frontier = {self.root}, [self.root]
        while frontier:
            parent = frontier.pop()
            for child, ppid in parents.items():
                if ppid == parent and child not in tree:
                    tree.add(child)
                    frontier.append(child)
        for pid in tree:
            if pid in details:
                cpu, command = details[pid]
                before = self.seen.get(pid)
                # A process that has exited (a zombie until reaped) shows an empty command line:
                # it keeps the role it was seen with, and its last CPU reading counts.
                role = before[0] if before and (not command or before[0] == "provider") else None
                role = role or _role(pid, self.root, command)
                kib = max(_hwm_kib(pid), before[2] if before else 0)
                self.seen[pid] = (role, max(cpu, before[1] if before else 0.0), kib)

    def run(self) -> None:
        while not self.stop.is_set():
            self.poll()
            self.stop.wait(0.05)

    def figures(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for role in ("cli", "provider", "hosts"):
            mine = [entry for entry in self.seen.values() if entry[0] == role]
            out[f"{role}_peak_rss_mib"] = max((kib for _, _, kib in mine), default=0) / 1024
            if role == "provider":
                out["provider_cpu_s"] = sum(cpu for _, cpu, _ in mine)
        return out


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# -- projects ------------------------------------------------------------------------------------
def _project(workdir: Path, front: str, provider: str, n: int, checkout: Path) -> Project:
    name = f"cost-{front}-{provider}-{n}"
    project = Project(workdir / name, secrets=[KEY])
    ids = campaign_ids(n)
    if checkout != ROOT:
        # Another checkout's plugins (its provider/ and no-op), its package first on the path.
        project.env["PYTHONPATH"] = str(checkout)
    if front == "native":
        plugin = _plugin_dirs(checkout)[provider]
        program: dict[str, Any] = {
            "name": name,
            "runtime": "yaml",
            "plugins": {"providers": [{"name": "leadterra", "path": str(plugin)}]},
            "resources": {
                f"c{i:04d}": {"type": TYPE_TOKEN, "properties": {"campaignId": cid, "status": "running"}}
                for i, cid in enumerate(ids)
            },
        }
        project.write_yaml("Pulumi.yaml", program)
    else:
        cls = "CampaignState" if provider == "ours" else "NoopCampaignState"
        module = "pulumi_leadterra" if provider == "ours" else "noop_dynamic"
        main = workdir / f"{name}.py"
        main.write_text(
            f"from {module} import {cls}\n\n"
            f"for i, campaign_id in enumerate({ids!r}):\n"
            f'    {cls}(f"c{{i:04d}}", campaign_id=campaign_id, status="running")\n'
        )
        project.python_program(name, main)
        # The program and the engine's dynamic-provider process import the no-op from here.
        project.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH), project.env.get("PYTHONPATH")]))
    return project


class _Runner:
    def __init__(
        self, workdir: Path, sandbox: SandboxProcess, parallel: int, timeout_s: float, checkout: Path
    ) -> None:
        self.workdir, self.sandbox, self.parallel, self.timeout_s = workdir, sandbox, str(parallel), timeout_s
        self.checkout = checkout
        self.projects: dict[tuple[str, str, int], Project] = {}
        self.stacks = 0

    def project(self, front: str, provider: str, n: int) -> Project:
        key = (front, provider, n)
        if key not in self.projects:
            self.projects[key] = _project(self.workdir, front, provider, n, self.checkout)
        return self.projects[key]

    def fresh_stack(self, project: Project, n: int) -> str:
        self.stacks += 1
        stack = f"s{self.stacks}"
        project.init(self.sandbox.url, KEY, stack=stack)
        self.sandbox.seed(campaign_ids(n))
        self.sandbox.admin.clear_requests()
        return stack

    def timed(self, project: Project, args: tuple[str, ...], env: dict[str, str]) -> dict[str, Any]:
        log = self.workdir / f"s{self.stacks}-{args[0]}.log"
        with open(log, "w") as out:
            cpu0 = _children_cpu()
            began = time.perf_counter()
            proc = subprocess.Popen(
                [str(project.cli), *args, "--parallel", self.parallel],
                cwd=project.dir,
                env={**project.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            watch = _Watch(proc.pid)
            watcher = threading.Thread(target=watch.run, daemon=True)
            watcher.start()
            try:
                code = proc.wait(timeout=self.timeout_s)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                watch.stop.set()
                watcher.join()
            seconds = time.perf_counter() - began
            cpu = _children_cpu() - cpu0
        output = log.read_text()
        assert KEY not in output, "the key appeared in what pulumi printed"
        assert code == 0, f"pulumi {' '.join(args)} exited {code}:\n{output[-3000:]}"
        return {"seconds": seconds, "cpu_s": cpu, **watch.figures(), "load1": os.getloadavg()[0]}

    def state_bytes(self, project: Project, stack: str, front: str, provider: str, n: int) -> int:
        found = list((project.dir.parent / "state" / ".pulumi" / "stacks").glob(f"*/{stack}.json"))
        assert len(found) == 1, f"no single checkpoint file for {stack}: {found}"
        kept = json.loads(found[0].read_text())["checkpoint"]["latest"]["resources"]
        made = sum(1 for r in kept if r["type"] == _TYPES[front, provider])
        assert made == n, f"the checkpoint holds {made} campaigns, not {n}"
        return found[0].stat().st_size

    def sequence(self, front: str, provider: str, n: int) -> dict[str, dict[str, Any]]:
        """One provider's life of a stack: every step, measured; the requests of each asserted."""
        project = self.project(front, provider, n)
        figures: dict[str, dict[str, Any]] = {}
        stack = self.fresh_stack(project, n)
        for label, args, env, per_campaign in STEPS:
            if label == "create, no checkpoints":
                stack = self.fresh_stack(project, n)
            figures[label] = self.timed(project, args, env)
            made = dict(self.sandbox.admin.drain_counts())
            expected = {k: v * n for k, v in per_campaign.items()} if provider == "ours" else {}
            assert made == expected, f"{front}/{provider} {label} sent {made}, expected {expected}"
            if label.startswith("create"):
                figures[label]["state_bytes"] = self.state_bytes(project, stack, front, provider, n)
        project("stack", "rm", "--yes", "--force", stack, timeout=300)
        return figures

    def reading_floor(self, n: int) -> dict[str, Any]:
        """The native no-op's refresh when its Read sends the one ``GET .../stats`` ours sends
        (``LEADTERRA_NOOP_GET=1``): the floor of any provider that must read, against which our
        refresh is measured beside the no-op that reads nothing. Created without checkpoints
        (only the refresh is timed)."""
        project = self.project("native", "noop", n)
        stack = self.fresh_stack(project, n)
        env = {"LEADTERRA_NOOP_GET": "1"}
        self.timed(project, ("up", "--yes", "--skip-preview"), {**env, "PULUMI_SKIP_CHECKPOINTS": "true"})
        assert self.sandbox.admin.drain_counts() == {}, "the no-op's create sent a request"
        figures = self.timed(project, ("refresh", "--yes", "--skip-preview"), env)
        made = dict(self.sandbox.admin.drain_counts())
        assert made == {"GET stats": n}, f"the reading no-op's refresh sent {made}, not {n} GET stats"
        project("stack", "rm", "--yes", "--force", stack, timeout=300)
        return figures


def run(
    workdir: Path,
    parallel: int,
    sizes: tuple[int, ...] = COST_SIZES,
    runs: int = COST_RUNS,
    fronts: tuple[str, ...] = FRONT_ENDS,
    timeout_s: float = TIMEOUT_S,
    checkout: Path = ROOT,
) -> dict[str, Any]:
    """Every step at every size, ``runs`` times, ours and the no-op interleaved. ``checkout``:
    another checkout of this repository (an earlier commit, for a before/after), whose native
    plugin and no-op are measured instead (native front end only)."""
    if checkout != ROOT:
        assert fronts == ("native",), "another checkout's figures are the native front end's"
        _PLUGIN_DIRS.update(str(path) for path in _plugin_dirs(checkout).values())
    workdir.mkdir(parents=True, exist_ok=True)
    sandbox = SandboxProcess(workdir / "cost-sandbox.db")
    raw: dict[str, list[dict[str, Any]]] = {}
    floors: dict[int, list[dict[str, Any]]] = {}
    started = time.perf_counter()
    try:
        runner = _Runner(workdir, sandbox, parallel, timeout_s, checkout)
        for front in fronts:  # warm-up: plugin start-up, imports, the page cache
            for provider in PROVIDERS:
                runner.sequence(front, provider, min(10, *sizes))
        for index in range(runs):
            order = PROVIDERS if index % 2 == 0 else PROVIDERS[::-1]
            for front in fronts:
                for n in sizes:
                    for provider in order:
                        raw.setdefault(f"{front}/{n}/{provider}", []).append(
                            runner.sequence(front, provider, n)
                        )
                    if front == "native" and checkout == ROOT:
                        floors.setdefault(n, []).append(runner.reading_floor(n))
    finally:
        sandbox.stop()
    rows = []
    for front in fronts:
        for n in sizes:
            ours, noop = raw[f"{front}/{n}/ours"], raw[f"{front}/{n}/noop"]
            for label, *_ in STEPS:
                row: dict[str, Any] = {"front": front, "n": n, "step": label}
                for name in ours[0][label]:
                    if name == "load1":
                        continue
                    row[name] = {
                        "ours": _summary([r[label][name] for r in ours]),
                        "noop": _summary([r[label][name] for r in noop]),
                    }
                row["ratio"] = _summary(
                    [o[label]["seconds"] / z[label]["seconds"] for o, z in zip(ours, noop, strict=True)]
                )
                row["provider_cpu_ratio"] = _summary(
                    [
                        o[label]["provider_cpu_s"] / max(z[label]["provider_cpu_s"], 1e-3)
                        for o, z in zip(ours, noop, strict=True)
                    ]
                )
                if front == "native" and label == "refresh" and n in floors:
                    floor = floors[n]
                    row["reading_floor"] = {
                        "seconds": _summary([f["seconds"] for f in floor]),
                        "provider_cpu_s": _summary([f["provider_cpu_s"] for f in floor]),
                        "ratio": _summary(
                            [o[label]["seconds"] / f["seconds"] for o, f in zip(ours, floor, strict=True)]
                        ),
                    }
                rows.append(row)
    loads = [r[label]["load1"] for runs_ in raw.values() for r in runs_ for label, *_ in STEPS]
    return {
        "checkout": str(checkout),
        "sizes": list(sizes),
        "runs": runs,
        "fronts": list(fronts),
        "parallel": parallel,
        "load": [min(loads), max(loads)],
        "wall_seconds": time.perf_counter() - started,
        "rows": rows,
    }


def _spread(s: dict[str, float], fmt: str = "{:.2f}") -> str:
    if s["n"] == 1:
        return fmt.format(s["median"])
    return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}..{fmt.format(s['max'])})"


def render(r: dict[str, Any]) -> str:
    lines = [
        f"cost of our providers over a no-op one, real CLI, --parallel {r['parallel']}: medians "
        f"(min..max) over {r['runs']} interleaved runs; 1-minute load {r['load'][0]:.1f}..{r['load'][1]:.1f} "
        f"on {os.cpu_count()} cores; {r['wall_seconds'] / 60:.0f} min",
        "",
        "| front end | N | step | ours, s | no-op, s | ours / no-op | provider CPU, s (ours; no-op) | "
        "peak RSS MiB, CLI (ours; no-op) | provider (ours; no-op) | state bytes per campaign (ours; no-op) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in r["rows"]:
        n = row["n"]

        def pair(name: str, fmt: str = "{:.0f}", per: float = 1.0, row: dict[str, Any] = row) -> str:
            return "; ".join(fmt.format(row[name][kind]["median"] / per) for kind in PROVIDERS)

        lines.append(
            f"| {row['front']} | {n} | {row['step']} | {_spread(row['seconds']['ours'])} | "
            f"{_spread(row['seconds']['noop'])} | {_spread(row['ratio'])}x | "
            f"{pair('provider_cpu_s', '{:.2f}')} | {pair('cli_peak_rss_mib')} | "
            f"{pair('provider_peak_rss_mib')} | "
            f"{pair('state_bytes', per=n) if 'state_bytes' in row else ''} |"
        )
    floors = [row for row in r["rows"] if "reading_floor" in row]
    if floors:
        lines += [
            "",
            "refresh against the floor of a provider that must read (the native no-op sending the same "
            "GET .../stats per campaign through urllib3), measured in the same runs:",
            "",
            "| N | ours, s | reading no-op, s | ours / reading no-op | "
            "provider CPU, s (ours; reading no-op) |",
            "|---|---|---|---|---|",
        ]
        for row in floors:
            floor = row["reading_floor"]
            lines.append(
                f"| {row['n']} | {_spread(row['seconds']['ours'])} | {_spread(floor['seconds'])} | "
                f"{_spread(floor['ratio'])}x | {row['provider_cpu_s']['ours']['median']:.2f}; "
                f"{floor['provider_cpu_s']['median']:.2f} |"
            )
    return "\n".join(lines)
