"""`make release`: every artifact of a release in ``dist/``, from the one version in
``pulumi_leadterra/_version.py``. The release workflow runs it after the tests and publishes what
it leaves; the release rehearsal (tests/e2e/test_release_rehearsal.py) runs the same target and
installs what it leaves from loopback registries. docs/release.md says what each artifact is for.

- ``pulumi_leadterra-<v>-py3-none-any.whl`` and ``pulumi_leadterra-<v>.tar.gz``: the Python
  package (dynamic provider, plugin, policies), for PyPI.
- ``pulumi-resource-leadterra-v<v>-<os>-<arch>.tar.gz`` for linux, darwin, windows x amd64,
  arm64: the plugin, named as the engine's downloader asks for it (``standardAssetName`` in
  pulumi/pulumi sdk/go/common/workspace/plugins.go), for the GitHub Release that the schema's
  ``pluginDownloadURL`` names. Each holds the plugin frozen by PyInstaller (an executable and its
  ``_internal/`` folder) from the wheel and the hash-pinned engine/plugin-requirements.txt: no
  Python needed where it runs. PyInstaller builds for the machine it runs on only, so `build`
  takes the other platforms' archives from ``--plugins`` (``make plugin`` on one runner each).
- ``leadterra-pulumi-<v>.tgz``: the Node.js SDK (``@leadterra/pulumi``), built with tsc and
  packed from ``bin/`` as Pulumi's provider boilerplate packs a generated SDK, for npm.
- ``pulumi_leadterra_native-<v>-py3-none-any.whl``: the native Python SDK, for PyPI.
- ``pulumi-leadterra-sdk-go-v<v>.zip``: the Go SDK module (module path ``GO_MODULE``, folder
  ``sdk/``) in a module proxy's zip layout, for tag ``sdk/v<v>``: the workflow pushes that tag
  (from which the Go proxy makes its own zip, sdk/nodejs and sdk/python included; this one holds
  the Go files, go.mod and go.sum only), and the rehearsal serves this zip from a ``file://``
  GOPROXY.
- ``pulumi-leadterra-v<v>-checksums.txt``: sha256 of every other file, ``sha256sum -c`` format.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Optional

from pulumi_leadterra import __version__

from .programs import ROOT

__all__ = [
    "GO_MODULE",
    "PLATFORMS",
    "PLUGIN_REQUIREMENTS",
    "artifact_names",
    "build",
    "build_plugin",
    "checksums_name",
    "found_versions",
    "go_zip_name",
    "host_platform",
    "plugin_archive_name",
    "sha256",
]

#: Every platform the engine's downloader names (``Download`` in plugins.go: darwin, linux,
#: windows; amd64, arm64).
PLATFORMS = tuple((system, arch) for system in ("linux", "darwin", "windows") for arch in ("amd64", "arm64"))
GO_MODULE = "github.com/leadterra/pulumi-leadterra/sdk"
#: The plugin's dependencies, pinned with their hashes for every platform (``make plugin-lock``).
PLUGIN_REQUIREMENTS = ROOT / "engine" / "plugin-requirements.txt"
#: PyInstaller and what it needs, pinned with hashes (``make plugin-lock``).
FREEZE_REQUIREMENTS = ROOT / "engine" / "freeze-requirements.txt"
FREEZE_VENV = ROOT / ".venv-freeze"
_EPOCH = 946684800  # 2000-01-01: archives of the same sources have the same bytes


def plugin_archive_name(version: str, system: str, arch: str) -> str:
    return f"pulumi-resource-leadterra-v{version}-{system}-{arch}.tar.gz"


def go_zip_name(version: str) -> str:
    return f"pulumi-leadterra-sdk-go-v{version}.zip"


def checksums_name(version: str) -> str:
    return f"pulumi-leadterra-v{version}-checksums.txt"


def artifact_names(version: str, platforms: Sequence[tuple[str, str]] = PLATFORMS) -> list[str]:
    """Every file `build` leaves in dist/, the checksums file last."""
    return [
        f"pulumi_leadterra-{version}-py3-none-any.whl",
        f"pulumi_leadterra-{version}.tar.gz",
        *(plugin_archive_name(version, system, arch) for system, arch in platforms),
        f"leadterra-pulumi-{version}.tgz",
        f"pulumi_leadterra_native-{version}-py3-none-any.whl",
        go_zip_name(version),
        checksums_name(version),
    ]


def found_versions(root: Path = ROOT) -> dict[str, str]:
    """The version each generated file under ``root`` carries, by where it was read: each must be
    the package's (``respectSchemaVersion`` writes the schema's into every SDK; ``make sdk``)."""

    def json_at(path: str, *keys: str) -> str:
        found = json.loads((root / path).read_text())
        for key in keys:
            found = found[key]
        return str(found)

    def pattern(path: str, regex: str) -> str:
        match = re.search(regex, (root / path).read_text())
        return match.group(1) if match else f"nothing like {regex!r}"

    return {
        "provider/schema.json": json_at("provider/schema.json", "version"),
        "sdk/nodejs/package.json version": json_at("sdk/nodejs/package.json", "version"),
        "sdk/nodejs/package.json pulumi.version": json_at("sdk/nodejs/package.json", "pulumi", "version"),
        "sdk/python/setup.py": pattern("sdk/python/setup.py", r'VERSION = "([^"]*)"'),
        "sdk/python pulumi-plugin.json": json_at(
            "sdk/python/pulumi_leadterra_native/pulumi-plugin.json", "version"
        ),
        "sdk/go pulumi-plugin.json": json_at("sdk/go/leadterra/pulumi-plugin.json", "version"),
        "sdk/go default version option": pattern(
            "sdk/go/leadterra/internal/pulumiUtilities.go", r'version := semver.MustParse\("([^"]*)"\)'
        ),
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(args: list[str], cwd: Path) -> None:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"make release: {' '.join(args)} failed in {cwd}:\n{result.stdout}{result.stderr}")


def _python_packages(dist: Path) -> None:
    _run([sys.executable, "-m", "build", "--outdir", str(dist), "."], ROOT)
    with tempfile.TemporaryDirectory() as work:  # a copy: no build/ or egg-info left in sdk/
        copy = Path(work) / "python"
        shutil.copytree(ROOT / "sdk" / "python", copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
        _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), "."], copy)


def host_platform() -> tuple[str, str]:
    """This machine as the engine's downloader names it: (linux|darwin|windows, amd64|arm64)."""
    system = {"linux": "linux", "darwin": "darwin", "win32": "windows"}[sys.platform]
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}[
        platform.machine().lower()
    ]
    return system, arch


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


@contextlib.contextmanager
def _one_build_at_a_time() -> Iterator[None]:
    """One build at a time in this clone: the tests run `make plugin` and `make release` on two
    workers at once, and both build the wheel in the source tree (setuptools' build/) and use
    .venv-freeze (made, then the wheel reinstalled into it)."""
    if os.name != "posix":  # the release workflow's Windows runners run one build each
        yield
        return
    import fcntl

    ROOT.joinpath(".release.lock").touch()
    with ROOT.joinpath(".release.lock").open("r") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _freezer(wheel: Path) -> Path:
    """.venv-freeze: PyInstaller and the plugin's dependencies, every file checked against the
    hashes in engine/freeze-requirements.txt and PLUGIN_REQUIREMENTS, plus this build's wheel.
    Made again whenever either file changes."""
    stamp = FREEZE_VENV / "requirements.sha256"
    wanted = hashlib.sha256(FREEZE_REQUIREMENTS.read_bytes() + PLUGIN_REQUIREMENTS.read_bytes()).hexdigest()
    python = _venv_python(FREEZE_VENV)
    if not stamp.exists() or stamp.read_text() != wanted:
        shutil.rmtree(FREEZE_VENV, ignore_errors=True)
        _run([sys.executable, "-m", "venv", str(FREEZE_VENV)], ROOT)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps"]
        _run([*pip, "-r", str(FREEZE_REQUIREMENTS), "-r", str(PLUGIN_REQUIREMENTS)], ROOT)
        stamp.write_text(wanted)
    # The wheel just built (not pinned by hash: it is this build's own output).
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)], ROOT)
    return python


def _tar_gz(folder: Path, target: Path) -> None:
    """``folder``'s files at the archive's top level, in name order, with fixed owners and times."""

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        info.mtime = _EPOCH
        return info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for entry in sorted(folder.iterdir()):
            archive.add(entry, arcname=entry.name, filter=normalise)
    target.write_bytes(gzip.compress(buffer.getvalue(), mtime=_EPOCH))


def _plugin_archive(dist: Path, version: str) -> Path:
    """This platform's plugin archive: the wheel frozen by PyInstaller into one folder (an
    executable ``pulumi-resource-leadterra`` and its ``_internal/``): no Python, no package index
    and nothing to install on the user's machine. PyInstaller builds for the platform it runs on
    only; the release workflow runs this on one runner per platform (docs/release.md)."""
    wheel = dist / f"pulumi_leadterra-{version}-py3-none-any.whl"
    with tempfile.TemporaryDirectory() as work:
        python = _freezer(wheel)
        _run(
            [
                str(python),
                "-m",
                "PyInstaller",
                "--noconfirm",
                "--onedir",
                "--log-level",
                "WARN",
                "--name",
                "pulumi-resource-leadterra",
                "--collect-submodules",
                "pulumi_leadterra",
                "--distpath",
                f"{work}/dist",
                "--workpath",
                f"{work}/build",
                "--specpath",
                work,
                str(ROOT / "provider" / "__main__.py"),
            ],
            ROOT,
        )
        target = dist / plugin_archive_name(version, *host_platform())
        _tar_gz(Path(work) / "dist" / "pulumi-resource-leadterra", target)
    return target


def _node_sdk(dist: Path, version: str) -> None:
    with tempfile.TemporaryDirectory() as work:
        build = Path(work) / "nodejs"
        shutil.copytree(ROOT / "sdk" / "nodejs", build, ignore=shutil.ignore_patterns("node_modules", "bin"))
        _run(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"], build)
        _run(["npm", "run", "build"], build)
        for name in ("package.json", "README.md"):
            shutil.copy(build / name, build / "bin" / name)
        manifest = json.loads((build / "bin" / "package.json").read_text())
        assert manifest["version"] == version, f"sdk/nodejs says {manifest['version']}: run make sdk"
        _run(["npm", "pack", "--pack-destination", str(dist)], build / "bin")


def _go_sdk(dist: Path, version: str) -> None:
    """The module zip a Go proxy serves for ``GO_MODULE`` at v<version>: every file of ``sdk/``
    under ``<module>@v<version>/`` (golang.org/x/mod/zip's layout), in name order."""
    source = ROOT / "sdk"
    files = sorted(
        path
        for path in source.rglob("*")
        if path.is_file() and path.relative_to(source).parts[0] not in ("nodejs", "python")
    )
    prefix = f"{GO_MODULE}@v{version}/"
    with zipfile.ZipFile(dist / go_zip_name(version), "w", zipfile.ZIP_DEFLATED) as module:
        for path in files:
            name = prefix + path.relative_to(source).as_posix()
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            module.writestr(info, path.read_bytes())


def build_plugin(dist: Path = ROOT / "dist", version: str = __version__) -> list[Path]:
    """``make plugin``: this platform's plugin archive (and the wheel in it), into ``dist``."""
    dist.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), "."], ROOT)
    return sorted([dist / f"pulumi_leadterra-{version}-py3-none-any.whl", _plugin_archive(dist, version)])


def build(
    dist: Path = ROOT / "dist",
    version: str = __version__,
    plugins: Optional[Path] = None,
    platforms: Sequence[tuple[str, str]] = PLATFORMS,
) -> list[Path]:
    """Builds every artifact of `artifact_names` into ``dist`` (emptied first); returns them.
    Plugin archives come from ``plugins`` (a folder of archives other machines built with
    ``make plugin``); this machine's own is built when that folder lacks it. ``platforms``
    narrows the release (the rehearsal: this machine's alone)."""
    shutil.rmtree(dist, ignore_errors=True)
    dist.mkdir(parents=True)
    _python_packages(dist)
    for system, arch in platforms:
        name = plugin_archive_name(version, system, arch)
        if plugins is not None and (plugins / name).exists():
            shutil.copy(plugins / name, dist / name)
        elif (system, arch) == host_platform():
            _plugin_archive(dist, version)
        else:
            sys.exit(f"make release: no {name} in {plugins} (PyInstaller builds only this machine's)")
    _node_sdk(dist, version)
    _go_sdk(dist, version)
    names = artifact_names(version, platforms)
    built = sorted(p.name for p in dist.iterdir())
    expected = sorted(names[:-1])
    if built != expected:
        sys.exit(f"make release: dist/ holds {built}, expected {expected}")
    lines = [f"{sha256(dist / name)}  {name}\n" for name in names[:-1]]
    (dist / checksums_name(version)).write_text("".join(lines))
    return [dist / name for name in names]


def main(argv: Optional[list[str]] = None) -> None:
    """``python -m harness.release [--dist DIR] [--plugins DIR] [--platforms os-arch,...] [plugin]``:
    the whole release, or (``plugin``) this machine's plugin archive only."""
    parser = argparse.ArgumentParser(prog="make release")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--plugins", type=Path, help="plugin archives built elsewhere (make plugin)")
    parser.add_argument("--platforms", help="os-arch,... (default: all six)")
    parser.add_argument("what", nargs="?", choices=["all", "plugin"], default="all")
    options = parser.parse_args(argv)
    os.chdir(ROOT)
    dist = options.dist.resolve()
    with _one_build_at_a_time():
        built = _build(options, dist)
    for path in built:
        print(f"{path.stat().st_size:>10}  {path}")


def _build(options: argparse.Namespace, dist: Path) -> list[Path]:
    if options.what == "plugin":
        return build_plugin(dist)
    else:
        platforms = PLATFORMS
        if options.platforms:
            platforms = tuple(tuple(p.split("-", 1)) for p in options.platforms.split(","))  # type: ignore[misc]
        plugins = options.plugins.resolve() if options.plugins else None
        return build(dist, plugins=plugins, platforms=platforms)


if __name__ == "__main__":
    main()
