"""What a busy native plugin costs in memory: its RSS before and after a sustained stream of calls.

The native plugin (``python -m pulumi_leadterra.plugin``, driven over gRPC by harness.engine's
``NativePlugin``) runs against the sandbox in its own process on loopback; ``in_flight`` driver
threads each send Create after Create (``POST .../start``, a no-op once running) for ``seconds``,
with the default retry budget. The plugin's RSS (``VmRSS`` in ``/proc/PID/status``) is read after
a warm-up (one create per campaign) and at the end. A process that keeps something per call for
as long as its budget (a watchdog entry per call, say) grows with call rate x budget; one that
forgets each call as it ends stays flat.

    python benchmarks/rss_bench.py [--seconds 60] [--in-flight 16]

prints one JSON object. Nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox_process import SandboxProcess  # noqa: E402

from harness.engine import NativePlugin  # noqa: E402

KEY = "sk_test_benchmark_key_000000"


def _status_kib(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` field (VmRSS, VmHWM), in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def plugin_rss_after(seconds: float = 60, in_flight: int = 16) -> dict[str, Any]:
    """Run the native plugin against a sandbox process with ``in_flight`` creates in flight for
    ``seconds``; return its RSS at the start (after a warm-up) and at the end, in KiB, with the
    number of creates and their rate."""
    with tempfile.TemporaryDirectory(prefix="leadterra-rss-") as workdir:
        sandbox = SandboxProcess(Path(workdir) / "state.json")
        plugin = None
        try:
            ids = [f"camp_rss{i}" for i in range(in_flight)]
            sandbox.seed(ids)
            plugin = NativePlugin()
            plugin.configure({"leadterra:apiKey": KEY, "leadterra:baseUrl": sandbox.url})
            inputs = []
            for campaign_id in ids:
                checked, failures = plugin.check({}, {"campaign_id": campaign_id})
                if failures:
                    raise RuntimeError(f"check failed: {failures}")
                inputs.append(checked)
            for props in inputs:  # warm-up: imports, the pool, the first allocations
                plugin.create(props)
            plugin.transcript.clear()
            pid = plugin.proc.pid
            rss_start = _status_kib(pid, "VmRSS")
            ends = time.monotonic() + seconds
            counts = [0] * in_flight
            lock = threading.Lock()

            def drive(index: int) -> None:
                while time.monotonic() < ends:
                    plugin.create(inputs[index])  # type: ignore[union-attr]
                    counts[index] += 1
                    if counts[index] % 256 == 0:
                        with lock:  # the driver's own log of responses: not what is measured
                            plugin.transcript.clear()  # type: ignore[union-attr]

            began = time.monotonic()
            with ThreadPoolExecutor(max_workers=in_flight) as pool:
                list(pool.map(drive, range(in_flight)))
            elapsed = time.monotonic() - began
            rss_end = _status_kib(pid, "VmRSS")
            creates = sum(counts)
            return {
                "seconds": seconds,
                "in_flight": in_flight,
                "creates": creates,
                "creates_per_second": round(creates / elapsed, 1),
                "rss_start_kib": rss_start,
                "rss_end_kib": rss_end,
                "rss_growth_kib": rss_end - rss_start,
                "peak_rss_kib": _status_kib(pid, "VmHWM"),
            }
        finally:
            if plugin is not None:
                plugin.close()
            sandbox.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--in-flight", type=int, default=16)
    options = parser.parse_args()
    print(json.dumps(plugin_rss_after(options.seconds, options.in_flight), indent=2))


if __name__ == "__main__":
    main()
