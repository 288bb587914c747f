"""`make bench`: what CampaignState costs, measured through the engine's plugin protocol.

Everything runs on loopback: the sandbox as its own process, the provider as `python -m
pulumi.dynamic` driven over gRPC (tests/plugin_driver.py, the same driver the tests use). Figures
are medians over repeated runs with their spread (min..max), and every comparison is measured side
by side in the same run, because this machine is shared and noisy. Prints one table and writes
benchmarks/results/latest.json (untracked: the README keeps the figures of record).

With a Pulumi CLI (`make engine`), a second section measures the same provider through the real
`pulumi` command (benchmarks/cli_bench.py): 100 campaigns on both providers, then the cost rows
(benchmarks/cost_bench.py: every step at 100 and 1,000 campaigns, each front end against a no-op
provider of the same shape); without one it says it was skipped. `--only cli` or `--only
protocol` runs one section, `--only cost` the cost rows alone.

Smoke mode, to check that every path still runs (tiny N, a couple of minutes, figures
meaningless): `LEADTERRA_BENCH_SMOKE=1 make bench`, or `python benchmarks/bench.py --smoke`.
"""

from __future__ import annotations

import argparse
import base64
import compileall
import functools
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cli_bench  # noqa: E402
import rss_bench  # noqa: E402
from pulumi.dynamic import CreateResult, ResourceProvider  # noqa: E402
from pulumi.dynamic.dynamic import serialize_provider  # noqa: E402
from pulumi.runtime.proto import provider_pb2  # noqa: E402
from sandbox_process import SandboxProcess  # noqa: E402

from harness.cli import find_cli  # noqa: E402
from harness.engine import PROVIDER_BLOB, NativePlugin, Plugin, Resource, make_plugin  # noqa: E402
from harness.structs import to_struct  # noqa: E402
from pulumi_leadterra import CampaignStateProvider  # noqa: E402
from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE  # noqa: E402
from pulumi_leadterra.schema import TYPE_TOKEN as NATIVE_TYPE  # noqa: E402

KEY = "sk_test_benchmark_key_000000"


def configured_plugin(url: str, kind: str = "dynamic", **settings: str) -> Plugin:
    """One plugin process, as the engine starts one per run; ``settings`` are leadterra: config."""
    plugin = make_plugin(kind)
    config = {"leadterra:apiKey": KEY, "leadterra:baseUrl": url}
    config.update({f"leadterra:{name}": value for name, value in settings.items()})
    plugin.configure(config)
    return plugin


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def parallel(fn: Callable[[Any], Any], items: list[Any], workers: int = 16) -> list[Any]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


# -- 1. requests per lifecycle step ------------------------------------------------------------
def requests_per_step(workdir: Path, n: int) -> dict[str, int]:
    sandbox = SandboxProcess(workdir / "steps.json")
    plugin = configured_plugin(sandbox.url)
    ids = [f"camp_s{i}" for i in range(n)]
    sandbox.seed(ids)
    counts: dict[str, int] = {}

    def step(name: str, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        result = parallel(fn, items)
        counts[name] = sum(sandbox.admin.drain_counts().values())
        return result

    def news(cid: str, **extra: Any) -> dict[str, Any]:
        return {"campaign_id": cid, **extra}

    try:
        step("preview", lambda cid: plugin.preview(None, news(cid)), ids)
        states: list[Resource] = step("first up", lambda cid: plugin.up(None, news(cid)), ids)
        states = step("no-op second up", lambda s: plugin.up(s, news(s.id)), states)
        refreshed = step("refresh", plugin.refresh, states)
        states = [r for r in refreshed if r is not None]
        states = step("reconcile=True set", lambda s: plugin.up(s, news(s.id, reconcile=True)), states)
        states = step(
            "scheduled run, nothing to heal", lambda s: plugin.up(s, news(s.id, reconcile=True)), states
        )
        healer = configured_plugin(sandbox.url, heal="true")
        try:
            states = step("heal run", lambda s: healer.up(s, news(s.id, reconcile=True)), states)
        finally:
            healer.close()
        braked = configured_plugin(sandbox.url, pauseAll="true")
        try:
            states = step("brake on", lambda s: braked.up(s, news(s.id, reconcile=True)), states)
        finally:
            braked.close()
        states = step("brake off", lambda s: plugin.up(s, news(s.id, reconcile=True)), states)
        states = step(
            "status flip", lambda s: plugin.up(s, news(s.id, reconcile=True, status="paused")), states
        )
        step("destroy", plugin.destroy, states)
        # destroy with pause_on_delete: a fresh set of running resources that opted in, then
        # `pulumi destroy` as its own run: a new plugin process. (The plugin that checked them
        # running in this run would not pause them: it takes a delete after a check of the same
        # campaign for the old half of a replacement.)
        states = parallel(lambda cid: plugin.up(None, news(cid, pause_on_delete=True)), ids)
        sandbox.admin.clear_requests()
        destroyer = configured_plugin(sandbox.url)
        try:
            step("destroy with pause_on_delete", destroyer.destroy, states)
        finally:
            destroyer.close()
    finally:
        plugin.close()
        sandbox.stop()
    return counts


MINIMUM = {
    "preview": 0,
    "first up": 1,
    "no-op second up": 0,
    "refresh": 1,
    "reconcile=True set": 0,  # state only: an update that changes no status sends nothing
    "scheduled run, nothing to heal": 0,
    "heal run": 1,
    "brake on": 1,
    "brake off": 1,
    "status flip": 1,
    "destroy": 0,
    "destroy with pause_on_delete": 1,
}


# -- 2. per-operation overhead -------------------------------------------------------------------
def overhead(workdir: Path, samples: int) -> dict[str, Any]:
    """A Create through the plugin vs a bare requests POST to the same endpoint, interleaved."""
    sandbox = SandboxProcess(workdir / "overhead.json")
    sandbox.seed(["camp_o"], status="running")  # start is then a no-op: the same work every time
    plugin = configured_plugin(sandbox.url)
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"})
    props = {
        "campaign_id": "camp_o",
        "status": "running",
        "reconcile": False,
        "pause_on_delete": False,
        "__provider": PROVIDER_BLOB,
    }
    url = f"{sandbox.url}/v1/campaigns/camp_o/start"
    plugin_ms: list[float] = []
    bare_ms: list[float] = []
    try:
        for _ in range(20):  # warm both paths: connections, imports, caches
            plugin.create(props)
            session.post(url, timeout=10)
        for _ in range(samples):
            t0 = time.perf_counter()
            plugin.create(props)
            t1 = time.perf_counter()
            session.post(url, timeout=10).raise_for_status()
            t2 = time.perf_counter()
            plugin_ms.append((t1 - t0) * 1000)
            bare_ms.append((t2 - t1) * 1000)
    finally:
        plugin.close()
        sandbox.stop()
    diffs = [p - b for p, b in zip(plugin_ms, bare_ms, strict=True)]
    return {
        "plugin_create_ms": summary(plugin_ms),
        "bare_post_ms": summary(bare_ms),
        "overhead_ms": summary(diffs),
    }


# -- 3. throughput ---------------------------------------------------------------------------------
def throughput(
    workdir: Path, n: int, latency_ms: float, concurrency: int, kind: str = "dynamic"
) -> dict[str, float]:
    sandbox = SandboxProcess(workdir / "throughput.json")
    ids = [f"camp_t{i}" for i in range(n)]
    sandbox.seed(ids)
    sandbox.admin.admin("POST", "/settings", {"latencyMs": latency_ms})
    plugin = configured_plugin(sandbox.url, kind)
    # The engine serializes requests in Go; build them up front so the driver's Python
    # serialization does not compete for this 2-core machine's CPU with what is measured.
    native = kind == "native"
    calls = [
        provider_pb2.CreateRequest(
            urn=f"urn:pulumi:bench::leadterra::{NATIVE_TYPE if native else CAMPAIGN_STATE_TYPE}::{cid}",
            properties=to_struct(
                {"campaignId": cid, "status": "running", "apiKeySource": "config", "apiKey": KEY}
                if native
                else {"campaign_id": cid, "__provider": PROVIDER_BLOB}
            ),
        )
        for cid in ids
    ]
    try:
        plugin.stub.Create(calls[0], timeout=60)  # load and configure the provider
        sandbox.admin.clear_requests()
        t0 = time.perf_counter()
        parallel(lambda call: plugin.stub.Create(call, timeout=60), calls, concurrency)
        elapsed = time.perf_counter() - t0
        made = sum(sandbox.admin.drain_counts().values())
    finally:
        plugin.close()
        sandbox.stop()
    # The dynamic provider's server has 4 worker threads, so 4 calls in flight at most; the
    # native plugin takes all `concurrency` of them.
    bound = n * latency_ms / 1000 / (concurrency if native else 4)
    return {"seconds": elapsed, "bound_seconds": bound, "ratio_to_bound": bound / elapsed, "requests": made}


# -- 4. cold start -------------------------------------------------------------------------------------
def cold_start(workdir: Path, runs: int, kind: str = "dynamic") -> dict[str, Any]:
    sandbox = SandboxProcess(workdir / "cold.json")
    sandbox.seed(["camp_c"], status="running")
    plugin_s: list[float] = []
    ready_s: list[float] = []
    import_s: list[float] = []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import pulumi"], check=True)
            import_s.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            plugin = make_plugin(kind)
            ready_s.append(time.perf_counter() - t0)
            plugin.configure({"leadterra:apiKey": KEY, "leadterra:baseUrl": sandbox.url})
            plugin.create({"campaign_id": "camp_c", "__provider": PROVIDER_BLOB})
            plugin_s.append(time.perf_counter() - t0)
            plugin.close()
    finally:
        sandbox.stop()
    ratio = statistics.median(plugin_s) / statistics.median(import_s)
    return {
        "plugin_first_create_s": summary(plugin_s),
        "plugin_port_printed_s": summary(ready_s),
        "import_pulumi_s": summary(import_s),
        "ratio": ratio,
    }


# -- 5. serialized provider size ----------------------------------------------------------------------
class NaiveProvider(ResourceProvider):
    """The same idea written in __main__, as a program file would: dill pickles it by value."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        response = requests.post(f"{props['base_url']}/v1/campaigns/{props['campaign_id']}/start", timeout=30)
        return CreateResult(props["campaign_id"], response.json())


def provider_size() -> dict[str, int]:
    ours = serialize_provider(CampaignStateProvider())
    naive = serialize_provider(NaiveProvider())
    assert b"NaiveProvider" in base64.b64decode(naive)
    return {"ours_bytes": len(ours), "naive_bytes": len(naive)}


# -- 6. plugin CPU per Check and Diff, ours against the no-op on the same gRPC stack ------------------
#: Calls in flight for the CPU row: the engine's --parallel default on these 2-core machines.
WORKERS = 8


class _NoopPlugin(NativePlugin):
    """benchmarks/noop_provider/ driven as the native plugin is (same schema and names)."""

    command = [sys.executable, "-u", str(ROOT / "benchmarks" / "noop_provider")]


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_ratios(ours: list[float], noop: list[float]) -> list[float]:
    """Ours over the no-op, round by round. /proc counts CPU in clock ticks (10 ms), so a round
    too short to register any (the smoke mode's 20 calls) has no ratio: NaN if none has one."""
    return [o / z for o, z in zip(ours, noop, strict=True) if z > 0] or [math.nan]


def _interleaved_cpu(
    plugins: dict[str, Plugin],
    rounds: int,
    call: Callable[[Plugin, Any], None],
    watch: Optional[int] = None,
    after_round: Callable[[str], None] = lambda _kind: None,
) -> dict[str, Any]:
    """CPU per call of each plugin process over its ``requests``, ours and the no-op alternating
    which goes first, read from /proc while each process lives; the calls come from 8 threads, as
    the engine's --parallel sends them. ``watch``: another process (the sandbox) whose CPU per
    call is reported too."""
    per_call: dict[str, list[float]] = {kind: [] for kind in plugins}
    watched: list[float] = []
    for index in range(rounds):
        for kind in (("ours", "noop") if index % 2 == 0 else ("noop", "ours")):
            plugin = plugins[kind]
            requests = plugin.requests  # type: ignore[attr-defined]
            before = _cpu_seconds(plugin.proc.pid)
            watch_before = _cpu_seconds(watch) if watch else 0.0
            parallel(functools.partial(call, plugin), requests, workers=WORKERS)
            per_call[kind].append((_cpu_seconds(plugin.proc.pid) - before) / len(requests) * 1000)
            if watch:
                watched.append((_cpu_seconds(watch) - watch_before) / len(requests) * 1000)
            after_round(kind)
    figures: dict[str, Any] = {f"{kind}_ms": summary(values) for kind, values in per_call.items()}
    figures["ratio"] = summary(_cpu_ratios(per_call["ours"], per_call["noop"]))
    if watch:
        figures["watched_ms"] = summary(watched)
    return figures


def _check_diff_requests(plugins: dict[str, Plugin], n: int) -> Callable[[Plugin, Any], None]:
    """Each plugin's ``requests``: N Check + Diff pairs of one unchanged campaign, as a preview
    or an idle up sends them (Check's olds the stored inputs, Diff's news the checked ones); and
    the call that sends one pair."""
    news = to_struct({"campaignId": "camp_p", "status": "running"})
    urn = f"urn:pulumi:bench::leadterra::{NATIVE_TYPE}::c"
    for plugin in plugins.values():
        checked = plugin.stub.Check(provider_pb2.CheckRequest(urn=urn, olds=news, news=news), timeout=600)
        plugin.requests = [  # type: ignore[attr-defined]
            (
                provider_pb2.CheckRequest(urn=urn, olds=checked.inputs, news=news),
                provider_pb2.DiffRequest(urn=urn, id="camp_p", olds=checked.inputs, news=checked.inputs),
            )
        ] * n

    def pair(plugin: Plugin, requests: tuple[Any, Any]) -> None:
        plugin.stub.Check(requests[0], timeout=600)
        plugin.stub.Diff(requests[1], timeout=600)

    return pair


def _read_requests(plugins: dict[str, Plugin], ids: list[str]) -> Callable[[Plugin, Any], None]:
    """Each plugin's ``requests``: a Read of each campaign it created (one per id), as a refresh
    sends them; and the call that sends one."""
    for plugin in plugins.values():
        reads = []
        for campaign_id in ids:
            urn = f"urn:pulumi:bench::leadterra::{NATIVE_TYPE}::{campaign_id}"
            news = to_struct({"campaignId": campaign_id, "status": "running"})
            check = provider_pb2.CheckRequest(urn=urn, olds=news, news=news)
            inputs = plugin.stub.Check(check, timeout=600).inputs
            made = plugin.stub.Create(provider_pb2.CreateRequest(urn=urn, properties=inputs), timeout=600)
            request = provider_pb2.ReadRequest(urn=urn, id=campaign_id, inputs=inputs)
            request.properties.CopyFrom(made.properties)
            reads.append(request)
        plugin.requests = reads  # type: ignore[attr-defined]
    return lambda plugin, request: plugin.stub.Read(request, timeout=600)


def check_diff_cpu(workdir: Path, n: int, rounds: int) -> dict[str, Any]:
    """CPU of the plugin process per Check + Diff of an unchanged campaign (what a preview or an
    idle up asks of it N times), ours against the no-op, interleaved (`_interleaved_cpu`)."""
    sandbox = SandboxProcess(workdir / "cpu.json")
    plugins = {"ours": configured_plugin(sandbox.url, "native"), "noop": _NoopPlugin()}
    plugins["noop"].configure({"leadterra:apiKey": KEY, "leadterra:baseUrl": sandbox.url})
    try:
        figures = _interleaved_cpu(plugins, rounds, _check_diff_requests(plugins, n))
        assert sandbox.admin.drain_counts() == {}, "a Check or Diff sent a request"
    finally:
        for plugin in plugins.values():
            plugin.close()
        sandbox.stop()
    return {"n": n, **figures}


def read_cpu(workdir: Path, n: int, rounds: int) -> dict[str, Any]:
    """CPU of the plugin process per Read of a running campaign (what a refresh asks of it N
    times), ours against the no-op plugin sending the same ``GET .../stats`` through urllib3
    (``LEADTERRA_NOOP_GET=1``): the floor of any provider that must read, on the same gRPC stack.
    Interleaved as ``check_diff_cpu``; the sandbox's own CPU per request is reported beside."""
    sandbox = SandboxProcess(workdir / "read-cpu.json")
    ids = [f"camp_r{i:04d}" for i in range(n)]
    sandbox.seed(ids, status="running")
    plugins = {
        "ours": configured_plugin(sandbox.url, "native"),
        "noop": _NoopPlugin({"LEADTERRA_NOOP_GET": "1"}),
    }
    plugins["noop"].configure({"leadterra:apiKey": KEY, "leadterra:baseUrl": sandbox.url})
    try:
        read = _read_requests(plugins, ids)
        sandbox.admin.drain_counts()

        def one_get_each(kind: str) -> None:
            assert sandbox.admin.drain_counts() == {"GET stats": n}, f"{kind}: not one GET per Read"

        figures = _interleaved_cpu(plugins, rounds, read, watch=sandbox.proc.pid, after_round=one_get_each)
    finally:
        for plugin in plugins.values():
            plugin.close()
        sandbox.stop()
    figures["sandbox_ms"] = figures.pop("watched_ms")
    return {"n": n, **figures}


# -- 7. the same calls in instructions, under callgrind ---------------------------------------------
def _under_callgrind(plugin_class: type[Plugin], out: Path) -> type[Plugin]:
    tool = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.%p"]
    command = [*tool, *plugin_class.command]
    return type(f"Callgrind{plugin_class.__name__}", (plugin_class,), {"command": command})


def _instructions(
    plugin: Plugin,
    call: Callable[[Plugin, Any], None],
    out: Path,
    sandbox: SandboxProcess,
    sent: dict[str, int],
) -> float:
    """Instructions the plugin process executes per call of its ``requests``, sent from 8
    threads: counters zeroed after a warm-up, dumped after the calls (``callgrind_control``),
    so the count is the calls' alone (gRPC's server, the conversions, the provider's work).
    The calls must have sent the sandbox exactly ``sent``, as the CPU rows assert."""
    requests = plugin.requests  # type: ignore[attr-defined]
    parallel(functools.partial(call, plugin), requests[: max(1, len(requests) // 10)], workers=WORKERS)
    sandbox.admin.drain_counts()
    pid = str(plugin.proc.pid)
    subprocess.run(["callgrind_control", "--zero", pid], check=True, capture_output=True)
    parallel(functools.partial(call, plugin), requests, workers=WORKERS)
    subprocess.run(["callgrind_control", "--dump", pid], check=True, capture_output=True)
    made = dict(sandbox.admin.drain_counts())
    assert made == sent, f"{type(plugin).__name__}'s calls sent {made}, not {sent}"
    dumps = sorted(out.glob(f"callgrind.{pid}.*"), key=lambda path: int(path.suffix[1:]))
    totals = [line for line in dumps[-1].read_text().splitlines() if line.startswith("totals:")]
    return int(totals[0].split()[1]) / len(requests)


def instructions(workdir: Path, n: int) -> dict[str, Any]:
    """Instructions per Check + Diff pair and per Read, ours against the same no-ops as the CPU
    rows, each plugin under callgrind. CPU time on these shared machines moves by a fifth between
    runs; an instruction count is the same from run to run, whatever else the machine does (it
    leaves out the kernel's time, about a third of either plugin's CPU per call)."""
    out = workdir / "callgrind"
    out.mkdir(parents=True, exist_ok=True)
    sandbox = SandboxProcess(workdir / "instructions.json")
    ids = [f"camp_i{i:04d}" for i in range(n)]
    sandbox.seed(ids, status="running")
    figures: dict[str, Any] = {"n": n}
    try:
        for row, call_for, noop_env, sent in (
            ("check_diff", lambda plugins: _check_diff_requests(plugins, n), {}, {}),
            ("read", lambda plugins: _read_requests(plugins, ids), {"LEADTERRA_NOOP_GET": "1"},
             {"GET stats": n}),
        ):
            counts: dict[str, float] = {}
            for kind in ("ours", "noop"):
                plugin = (
                    _under_callgrind(NativePlugin, out)()
                    if kind == "ours"
                    else _under_callgrind(_NoopPlugin, out)(noop_env)
                )
                try:
                    plugin.configure({"leadterra:apiKey": KEY, "leadterra:baseUrl": sandbox.url})
                    counts[kind] = _instructions(plugin, call_for({kind: plugin}), out, sandbox, sent)
                finally:
                    plugin.close()
            figures[row] = {**counts, "ratio": counts["ours"] / counts["noop"]}
    finally:
        sandbox.stop()
    return figures


def protocol_section(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The figures measured through the plugin protocol (no Pulumi CLI involved)."""
    step_runs = [requests_per_step(work, args.campaigns) for _ in range(args.repeats)]
    steps = {
        name: {
            **summary([float(run[name]) for run in step_runs]),
            "minimum": MINIMUM[name] * args.campaigns,
        }
        for name in MINIMUM
    }
    over = overhead(work, args.samples)
    through_runs = [
        throughput(work, args.throughput_campaigns, args.latency_ms, 16) for _ in range(args.repeats)
    ]
    native_runs = [
        throughput(work, args.throughput_campaigns, args.latency_ms, 16, "native")
        for _ in range(args.repeats)
    ]
    cold = cold_start(work, max(5, args.repeats * 3))
    native_cold = cold_start(work, max(5, args.repeats * 3), "native")

    def through_summary(runs: list[dict[str, float]]) -> dict[str, Any]:
        return {
            "seconds": summary([r["seconds"] for r in runs]),
            "bound_seconds": runs[0]["bound_seconds"],
            "ratio_to_bound": summary([r["ratio_to_bound"] for r in runs]),
            "requests": [r["requests"] for r in runs],
        }

    return {
        "requests_per_step": steps,
        "overhead": over,
        "throughput": through_summary(through_runs),
        "native_throughput": through_summary(native_runs),
        "cold_start": cold,
        "native_cold_start": native_cold,
        "provider_size": provider_size(),
        "native_rss": rss_bench.plugin_rss_after(args.rss_seconds, 16),
        "check_diff_cpu": check_diff_cpu(work, args.throughput_campaigns, max(3, args.repeats)),
        "read_cpu": read_cpu(work, args.throughput_campaigns, max(3, args.repeats)),
        "instructions": instructions(work, min(args.throughput_campaigns, 300)),
    }


CLI_SKIPPED = "no Pulumi CLI in .pulumi-cli/bin or on PATH: run `make engine`"


def as_installed(checkout: Path) -> None:
    """Our package's bytecode, as users have it: pip compiles it at install and the plugin
    archive (PyInstaller) carries it, but this checkout is an editable install, and with
    PYTHONDONTWRITEBYTECODE=1 (set on these machines) every plugin process would otherwise
    compile our modules from source, 10 to 20 ms before its port and as much again at
    Configure, a cost no user pays. Stale bytecode is ignored by Python (it checks the
    source's time and size)."""
    compileall.compile_dir(str(checkout / "pulumi_leadterra"), quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--campaigns", type=int, default=100)
    parser.add_argument("--throughput-campaigns", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--rss-seconds", type=float, default=60, help="the plugin-RSS row's duration")
    parser.add_argument(
        "--cli-runs",
        type=int,
        default=3,
        help="fresh stacks per provider for the real-CLI section's timed runs (needs `make engine`)",
    )
    parser.add_argument(
        "--cost-sizes",
        type=lambda text: tuple(int(n) for n in text.split(",") if n),
        default=cli_bench.cost_bench.COST_SIZES,
        help="campaigns per stack for the real-CLI cost rows, comma-separated (empty: none)",
    )
    parser.add_argument(
        "--cost-runs", type=int, default=cli_bench.cost_bench.COST_RUNS, help="runs per cost row"
    )
    parser.add_argument(
        "--cost-fronts",
        type=lambda text: tuple(name for name in text.split(",") if name),
        default=cli_bench.cost_bench.FRONT_ENDS,
        help="front ends for the cost rows, comma-separated: native,dynamic",
    )
    parser.add_argument(
        "--cost-checkout",
        type=Path,
        default=None,
        help="another checkout of this repository (an earlier commit, with a .venv link): its native "
        "plugin and no-op in the cost rows instead of this one's (with --only cost --cost-fronts native)",
    )
    parser.add_argument(
        "--only",
        choices=("protocol", "cli", "cost"),
        help="run one section: the plugin protocol figures, the real-CLI figures, or only their cost rows",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        default=cli_bench.smoke_requested(),
        help="tiny N everywhere, to check that every path runs (also LEADTERRA_BENCH_SMOKE=1)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where the JSON results go (ignored by git: docs/figures.md holds the figures of record); "
        "default benchmarks/results/latest.json, or smoke.json for a smoke run",
    )
    args = parser.parse_args()
    if args.out is None:
        args.out = ROOT / "benchmarks" / "results" / ("smoke.json" if args.smoke else "latest.json")
    if args.smoke:
        args.repeats, args.campaigns, args.throughput_campaigns, args.samples = 1, 10, 20, 10
        args.rss_seconds = 1.0
        sizes = cli_bench.SMOKE
    else:
        sizes = cli_bench.Sizes(
            runs=args.cli_runs,
            cost_sizes=args.cost_sizes,
            cost_runs=args.cost_runs,
            cost_fronts=args.cost_fronts,
            cost_checkout=(args.cost_checkout or ROOT).resolve(),
        )

    import tempfile

    as_installed(ROOT)
    if args.cost_checkout is not None:
        as_installed(args.cost_checkout.resolve())

    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        "date": time.strftime("%Y-%m-%d"),
    }
    with tempfile.TemporaryDirectory(prefix="leadterra-bench-") as tmp:
        work = Path(tmp)
        if args.only in (None, "protocol"):
            results.update(protocol_section(work, args))
        if args.only != "protocol":
            if find_cli() is None:
                results["cli"] = {"skipped": CLI_SKIPPED}
            else:
                results["cli"] = cli_bench.run(work / "cli", sizes=sizes, cost_only=args.only == "cost")
    results["wall_seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results, args))
    return 0


def render(r: dict[str, Any], args: argparse.Namespace) -> str:
    def spread(s: dict[str, float], fmt: str = "{:.2f}") -> str:
        return f"{fmt.format(s['median'])} ({fmt.format(s['min'])}..{fmt.format(s['max'])})"

    lines = [f"machine: {r['machine']}; {r['date']}", ""]
    if "requests_per_step" in r:
        lines[0] += f"; medians (min..max) over {args.repeats} runs unless noted"
        lines += render_protocol(r, args, spread)
    cli = r.get("cli")
    if cli is not None and "skipped" in cli:
        lines.append(f"real-CLI section skipped: {cli['skipped']}")
    elif cli is not None:
        lines += (["", cli_bench.render(cli)] if "requests_per_step" in r else [cli_bench.render(cli)])
    lines.append("")
    lines.append(f"wall time: {r['wall_seconds']:.0f} s; JSON: {args.out}")
    return "\n".join(lines)


def render_protocol(
    r: dict[str, Any], args: argparse.Namespace, spread: Callable[..., str]
) -> list[str]:
    n = args.campaigns
    lines = ["| figure | measured | target | ratio |", "|---|---|---|---|"]
    for name, s in r["requests_per_step"].items():
        minimum = s["minimum"]
        ratio = "1.00" if s["median"] == minimum else (f"{s['median'] / minimum:.2f}" if minimum else "inf")
        lines.append(f"| requests, {name} (N={n}) | {spread(s, '{:.0f}')} | {minimum} | {ratio} |")
    o = r["overhead"]
    lines.append(
        f"| Create via plugin minus bare POST, ms ({o['overhead_ms']['n']} interleaved pairs) | "
        f"{spread(o['overhead_ms'])} (plugin {o['plugin_create_ms']['median']:.2f}, "
        f"bare {o['bare_post_ms']['median']:.2f}) | < 2 | |"
    )
    for key, label, bound_note in (
        ("throughput", "dynamic provider", "4-way bound"),
        ("native_throughput", "native plugin", "16-way bound"),
    ):
        t = r[key]
        lines.append(
            f"| throughput, {label}: {args.throughput_campaigns} creates, {args.latency_ms:.0f} ms latency, "
            f"16 in flight, s | {spread(t['seconds'])} | {bound_note} {t['bound_seconds']:.2f} | "
            f"{spread(t['ratio_to_bound'])} of bound (>= 0.90) |"
        )
    for key, label in (("cold_start", "dynamic provider"), ("native_cold_start", "native plugin")):
        c = r[key]
        lines.append(
            f"| cold start, {label}, to first Create answered, s ({c['plugin_first_create_s']['n']} runs) | "
            f"{spread(c['plugin_first_create_s'], '{:.3f}')} (port printed "
            f"{c['plugin_port_printed_s']['median']:.3f}) | "
            f"import pulumi {spread(c['import_pulumi_s'], '{:.3f}')} | {c['ratio']:.2f}x (<= 1.2x) |"
        )
    p = r["provider_size"]
    lines.append(
        f"| serialized provider, bytes | {p['ours_bytes']} | < 1024; naive by-value {p['naive_bytes']} | "
        f"{p['naive_bytes'] / p['ours_bytes']:.0f}x smaller |"
    )
    m = r["native_rss"]
    lines.append(
        f"| native plugin RSS after {m['seconds']:g} s at {m['in_flight']} in flight, default budget, MB "
        f"({m['creates']} creates) | {m['rss_end_kib'] / 1024:.1f} (start {m['rss_start_kib'] / 1024:.1f}) | "
        f"flat | +{m['rss_growth_kib'] / 1024:.1f} MB |"
    )
    c = r["check_diff_cpu"]
    lines.append(
        f"| native plugin CPU per Check + Diff of an unchanged campaign, ms ({c['n']} pairs, "
        f"{c['ratio']['n']} interleaved rounds) | {spread(c['ours_ms'], '{:.3f}')} | no-op plugin, same "
        f"gRPC stack {spread(c['noop_ms'], '{:.3f}')} | {spread(c['ratio'])}x (<= 1.2x) |"
    )
    d = r["read_cpu"]
    lines.append(
        f"| native plugin CPU per Read (one GET stats each), ms ({d['n']} reads, {d['ratio']['n']} "
        f"interleaved rounds; the sandbox's CPU per GET {spread(d['sandbox_ms'], '{:.3f}')}) | "
        f"{spread(d['ours_ms'], '{:.3f}')} | no-op plugin sending the same GET through urllib3 "
        f"{spread(d['noop_ms'], '{:.3f}')} | {spread(d['ratio'])}x |"
    )
    i = r["instructions"]
    for row, what, against in (
        ("check_diff", "Check + Diff of an unchanged campaign", "no-op plugin, same gRPC stack"),
        ("read", "Read (one GET stats each)", "no-op plugin sending the same GET"),
    ):
        lines.append(
            f"| native plugin instructions per {what}, thousands, under callgrind ({i['n']} calls "
            f"from 8 threads, user space only) | {i[row]['ours'] / 1000:.0f} | {against} "
            f"{i[row]['noop'] / 1000:.0f} | {i[row]['ratio']:.2f}x |"
        )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
