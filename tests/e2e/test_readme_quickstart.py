"""The README's "Quickstart by hand", run as written, twice in a row, with the real `pulumi`
command: a copy of the clone's layout in a temporary folder (the quickstart project, and the
clone's `.venv` and `.pulumi-cli` linked), a free port in place of 8787, and confirmations
answered the way a person answers them (`PULUMI_SKIP_CONFIRMATIONS`).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

from harness.programs import ROOT
from tests.conftest import TEST_KEY


def _block() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart by hand", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_readme_quickstart_runs_twice_as_written(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    shutil.copytree(ROOT / "examples" / "quickstart", clone / "examples" / "quickstart")
    for tool in (".venv", ".pulumi-cli"):
        (clone / tool).symlink_to(ROOT / tool)
    (clone / "Makefile").write_text("venv:\n\t@true\n")  # `make venv` is done: the clone's .venv
    port = _free_port()
    script = _block().replace("8787", str(port))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADTERRA_", "PULUMI_"))}
    env.update(
        {
            "PULUMI_HOME": str(tmp_path / "home"),
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            "PULUMI_SKIP_UPDATE_CHECK": "1",
            "NO_COLOR": "1",
        }
    )
    outputs = []
    for _ in range(2):
        result = subprocess.run(
            ["bash", "-e", "-c", script],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        printed = result.stdout + result.stderr
        assert result.returncode == 0, printed
        assert TEST_KEY not in printed and "sk_test_quickstart" not in printed
        outputs.append(printed)
    for printed in outputs:
        # The walk-through did what its comments say, both times: two campaigns (and the stack)
        # created, quiet re-runs, the heal run saying what it undid, no error.
        assert "+ 3 created" in printed and "3 unchanged" in printed, printed
        assert "campaign camp_demo was paused outside this stack" in printed, printed
        assert "error:" not in printed, printed
    # Cleaned up: no stack file, no sandbox left listening.
    assert not list((clone / "examples" / "quickstart").glob("Pulumi.quickstart.yaml"))
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "the sandbox is still running"
