"""`make bench` cannot rot: every benchmark script runs here in its smoke mode (tiny N, figures
meaningless, nothing asserted about them), so a helper or harness change that breaks a bench
breaks this test, not the next measurement. The bench asserts the requests of every step itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.cli import find_cli
from harness.programs import ROOT

BENCH = ROOT / "benchmarks"
STEPS = ("create", "preview", "idle up", "refresh", "destroy", "create, no checkpoints")


def test_every_bench_script_runs_in_smoke_mode(tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADTERRA_")}
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench.py"), "--smoke", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    results = json.loads(out.read_text())
    assert results["requests_per_step"], "the protocol section did not run"
    assert results["native_rss"], "rss_bench did not run"
    if find_cli() is None:
        assert "skipped" in results["cli"]
        return
    cli = results["cli"]
    assert set(cli["providers"]) == {"dynamic", "native"}
    assert {"plugin_to_port_s", "console_script_to_port_s", "dynamic_to_port_s"} <= set(cli["cold_start"])
    rows = {(row["front"], row["step"]) for row in cli["cost"]["rows"]}
    assert rows == {(front, step) for front in ("native", "dynamic") for step in STEPS}
    assert "| native | 3 | idle up |" in done.stdout
    assert results["read_cpu"]["ratio"]["n"] >= 1, "the protocol section's read row did not run"
    counted = results["instructions"]
    assert counted["check_diff"]["ours"] > 0 and counted["read"]["noop"] > 0, "callgrind counted nothing"
    assert "instructions per Check + Diff" in done.stdout
    floors = [row for row in cli["cost"]["rows"] if "reading_floor" in row]
    assert [(row["front"], row["step"]) for row in floors] == [("native", "refresh")]
    assert "reading no-op" in done.stdout
