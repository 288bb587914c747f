"""`make bench-plugin-builds`: the plugin archive a non-Python user installs, two ways, side by
side in one run (issue 20 point 3):

- ``pyinstaller``: what `make release` ships (`make plugin`), a PyInstaller one-folder build of
  the wheel and the hash-pinned requirements: an executable ``pulumi-resource-leadterra`` and its
  ``_internal/`` folder; installing is unpacking.
- ``python``: the archive shipped before, a python-runtime plugin (PulumiPlugin.yaml, the wheel,
  the same hash-pinned requirements). Installing it makes a virtualenv with the machine's python3
  and pip-installs the requirements into it (Python >= 3.11 and a package index needed).

For each: the archive's size, the installed folder's size, the time `pulumi plugin install
--file` takes (fresh PULUMI_HOME each time; pip's cache as this machine has it, and empty), and
cold start, the time from exec to the port the plugin prints (what the engine waits for before
its first call), first run after install and the median of the next ones, alternating the two.
Linux amd64 only: PyInstaller does not cross-compile (docs/release.md says what that means).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.cli import find_cli  # noqa: E402
from harness.release import PLUGIN_REQUIREMENTS, build_plugin, plugin_archive_name  # noqa: E402
from pulumi_leadterra import __version__  # noqa: E402

RUNS = 7


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _python_archive(work: Path, wheel: Path) -> Path:
    """The python-runtime archive: the engine's python host fills venv/ from requirements.txt
    (hash-checking mode: the wheel's own hash is listed too) when it installs the plugin."""
    folder = work / "python-plugin"
    folder.mkdir()
    shutil.copy(wheel, folder / wheel.name)
    shutil.copy(ROOT / "provider" / "__main__.py", folder / "__main__.py")
    (folder / "PulumiPlugin.yaml").write_text("runtime: python\n")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    requirements = PLUGIN_REQUIREMENTS.read_text() + f"./{wheel.name} \\\n    --hash=sha256:{digest}\n"
    (folder / "requirements.txt").write_text(requirements)
    archive = work / "python" / plugin_archive_name(__version__, "linux", "amd64")
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as packed:
        for entry in sorted(folder.iterdir()):
            packed.add(entry, arcname=entry.name)
    return archive


def _install(cli: Path, archive: Path, home: Path, pip_cache: bool) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env.update(
        {"PULUMI_HOME": str(home), "PULUMI_SKIP_UPDATE_CHECK": "1", "PATH": f"{cli.parent}:/usr/bin:/bin"}
    )
    if not pip_cache:
        env["PIP_NO_CACHE_DIR"] = "1"
    began = time.monotonic()
    subprocess.run(
        [str(cli), "plugin", "install", "resource", "leadterra", __version__, "--file", str(archive)],
        env=env,
        check=True,
        capture_output=True,
        timeout=1200,
    )
    return time.monotonic() - began


def _command(kind: str, installed: Path) -> list[str]:
    if kind == "python":  # what the python language host runs for a python-runtime plugin
        return [str(installed / "venv" / "bin" / "python"), str(installed / "__main__.py")]
    return [str(installed / "pulumi-resource-leadterra")]


def _to_port(command: list[str]) -> float:
    """Seconds from exec to the first line (the port) on stdout; the plugin then finds no engine
    at the address given and exits."""
    began = time.monotonic()
    process = subprocess.Popen([*command, "127.0.0.1:9"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdout is not None
    line = process.stdout.readline()
    elapsed = time.monotonic() - began
    process.wait(timeout=60)
    assert line.strip().isdigit(), line
    return elapsed


def main() -> None:
    cli = find_cli()
    assert cli is not None, "no Pulumi CLI: run make engine"
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dist = work / "dist"
        build_plugin(dist)
        wheel = next(dist.glob("*.whl"))
        archives = {
            "pyinstaller": dist / plugin_archive_name(__version__, "linux", "amd64"),
            "python": _python_archive(work, wheel),
        }
        installed: dict[str, Path] = {}
        for kind, archive in archives.items():
            cold = _install(cli, archive, work / f"home-{kind}-nocache", pip_cache=False)
            warm = _install(cli, archive, work / f"home-{kind}", pip_cache=True)
            installed[kind] = work / f"home-{kind}" / "plugins" / f"resource-leadterra-v{__version__}"
            results[kind] = {
                "archive_bytes": archive.stat().st_size,
                "installed_bytes": _size(installed[kind]),
                "install_s_empty_pip_cache": round(cold, 2),
                "install_s": round(warm, 2),
            }
        starts: dict[str, list[float]] = {kind: [] for kind in archives}
        for _ in range(RUNS):
            for kind in archives:
                starts[kind].append(_to_port(_command(kind, installed[kind])))
        for kind, times in starts.items():
            results[kind]["to_port_first_s"] = round(times[0], 3)
            results[kind]["to_port_median_s"] = round(statistics.median(times[1:]), 3)
            results[kind]["to_port_range_s"] = [round(min(times[1:]), 3), round(max(times[1:]), 3)]
    print(json.dumps(results, indent=2))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "plugin_builds.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
