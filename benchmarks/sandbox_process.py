"""The sandbox as its own process on loopback, shared by bench.py and cli_bench.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from harness.sandbox import Sandbox


class SandboxProcess:
    """The sandbox in its own process, so its threads never share a GIL with the driver."""

    def __init__(self, state: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pulumi_leadterra.sandbox", "--port", "0", "--state", str(state)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().rsplit(" ", 1)[1].strip()
        self.admin = Sandbox(self.url)

    def seed(self, ids: list[str], status: str = "draft") -> None:
        for campaign_id in ids:
            self.admin.put(campaign_id, status=status, leads=1)
        self.admin.clear_requests()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
