"""`make release`: every artifact of a release in ``dist/``, from the one version in
``pulumi_leadterra/_version.py``. The release workflow runs it after the tests and publishes what
it leaves; the release rehearsal (tests/e2e/test_release_rehearsal.py) runs the same target and
installs what it leaves from loopback registries. docs/release.md says what each artifact is for.

- ``pulumi_leadterra-<v>-py3-none-any.whl`` and ``pulumi_leadterra-<v>.tar.gz``: the Python
  package (dynamic provider, plugin, policies), for PyPI.
- ``pulumi-resource-leadterra-v<v>-<os>-<arch>.tar.gz`` for linux, darwin, windows x amd64,
  arm64: the plugin, named as the engine's downloader asks for it (``standardAssetName`` in
  pulumi/pulumi sdk/go/common/workspace/plugins.go), for the GitHub Release that the schema's
  ``pluginDownloadURL`` names. A python-runtime plugin: its wheel and hash-pinned requirements
  (engine/plugin-requirements.txt, ``make plugin-lock``); the bytes are the same on every platform.
- ``leadterra-pulumi-<v>.tgz``: the Node.js SDK (``@leadterra/pulumi``), built with tsc and
  packed from ``bin/`` as Pulumi's provider boilerplate packs a generated SDK, for npm.
- ``pulumi_leadterra_native-<v>-py3-none-any.whl``: the native Python SDK, for PyPI.
- ``pulumi-leadterra-sdk-go-v<v>.zip``: the Go SDK module (module path ``GO_MODULE``, folder
  ``sdk/``) as a Go module proxy serves tag ``sdk/v<v>``: the workflow pushes that tag, and the
  rehearsal serves this zip from a ``file://`` GOPROXY.
- ``pulumi-leadterra-v<v>-checksums.txt``: sha256 of every other file, ``sha256sum -c`` format.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
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
    "plugin_archive_name",
    "sha256",
]

#: Every platform the engine's downloader names (``Download`` in plugins.go: darwin, linux,
#: windows; amd64, arm64).
PLATFORMS = tuple((system, arch) for system in ("linux", "darwin", "windows") for arch in ("amd64", "arm64"))
GO_MODULE = "github.com/leadterra/pulumi-leadterra/sdk"
#: The plugin's dependencies, pinned with their hashes for every platform (``make plugin-lock``).
PLUGIN_REQUIREMENTS = ROOT / "engine" / "plugin-requirements.txt"
_EPOCH = 946684800  # 2000-01-01: archives of the same sources have the same bytes


def plugin_archive_name(version: str, system: str, arch: str) -> str:
    return f"pulumi-resource-leadterra-v{version}-{system}-{arch}.tar.gz"


def go_zip_name(version: str) -> str:
    return f"pulumi-leadterra-sdk-go-v{version}.zip"


def checksums_name(version: str) -> str:
    return f"pulumi-leadterra-v{version}-checksums.txt"


def artifact_names(version: str) -> list[str]:
    """Every file `build` leaves in dist/, the checksums file last."""
    return [
        f"pulumi_leadterra-{version}-py3-none-any.whl",
        f"pulumi_leadterra-{version}.tar.gz",
        *(plugin_archive_name(version, system, arch) for system, arch in PLATFORMS),
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


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), _EPOCH, 0o644
    archive.addfile(info, io.BytesIO(data))


def _plugin_archives(dist: Path, version: str) -> None:
    wheel = dist / f"pulumi_leadterra-{version}-py3-none-any.whl"
    # Hash-checking mode: pip refuses any file whose sha256 is not listed, the wheel's included.
    requirements = PLUGIN_REQUIREMENTS.read_text() + f"./{wheel.name} \\\n    --hash=sha256:{sha256(wheel)}\n"
    manifest = (
        f"# The Leadterra provider plugin {version}. The engine runs __main__.py in venv/,\n"
        "# which the engine fills from requirements.txt when it installs the plugin.\n"
        "runtime: python\n"
    )
    members = {
        "PulumiPlugin.yaml": manifest.encode(),
        "__main__.py": (ROOT / "provider" / "__main__.py").read_bytes(),
        "requirements.txt": requirements.encode(),
        wheel.name: wheel.read_bytes(),
    }
    for system, arch in PLATFORMS:
        target = dist / plugin_archive_name(version, system, arch)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as archive:
            for name in sorted(members):
                _add(archive, name, members[name])
        # gzip with no name and a fixed mtime: the same sources give the same archive bytes.
        target.write_bytes(gzip.compress(buffer.getvalue(), mtime=_EPOCH))


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
    """Only the wheel and the plugin archives (``make plugin``), into ``dist`` (emptied first)."""
    shutil.rmtree(dist, ignore_errors=True)
    dist.mkdir(parents=True)
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), "."], ROOT)
    _plugin_archives(dist, version)
    return sorted(dist.iterdir())


def build(dist: Path = ROOT / "dist", version: str = __version__) -> list[Path]:
    """Builds every artifact of `artifact_names` into ``dist`` (emptied first); returns them."""
    shutil.rmtree(dist, ignore_errors=True)
    dist.mkdir(parents=True)
    _python_packages(dist)
    _plugin_archives(dist, version)
    _node_sdk(dist, version)
    _go_sdk(dist, version)
    names = artifact_names(version)
    built = sorted(p.name for p in dist.iterdir())
    expected = sorted(names[:-1])
    if built != expected:
        sys.exit(f"make release: dist/ holds {built}, expected {expected}")
    lines = [f"{sha256(dist / name)}  {name}\n" for name in names[:-1]]
    (dist / checksums_name(version)).write_text("".join(lines))
    return [dist / name for name in names]


def main(argv: Optional[list[str]] = None) -> None:
    """``python -m harness.release [--dist DIR] [plugin]``: everything, or only the plugin."""
    parser = argparse.ArgumentParser(prog="make release")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("what", nargs="?", choices=["all", "plugin"], default="all")
    options = parser.parse_args(argv)
    os.chdir(ROOT)
    dist = options.dist.resolve()
    for path in build_plugin(dist) if options.what == "plugin" else build(dist):
        print(f"{path.stat().st_size:>10}  {path}")


if __name__ == "__main__":
    main()
