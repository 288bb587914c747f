"""The release rehearsal (issue 20 point 2): `make release`, the target the release workflow runs,
then every artifact published to a real registry on loopback (Verdaccio for npm, pypiserver for
both Python packages, GitHub's release download layout for the plugin archives, a ``file://``
GOPROXY for the Go SDK) and installed from there as a new user would, in fresh folders with an
empty PULUMI_HOME and nothing of the clone on PATH (only the Pulumi CLI and its language hosts).

For each of TypeScript, Go, Python (native SDK) and Pulumi YAML: `pulumi up`, in which the engine
downloads and installs the plugin by itself from the release (the schema's pluginDownloadURL,
redirected to loopback with PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES as air-gapped users mirror
plugins), then a quiet preview and destroy. Run with ``-s`` to see what each run sent where.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cli import CLI_BIN, Project
from harness.programs import ROOT
from harness.registries import NpmRegistry, PackageIndex, ReleaseServer, go_proxy
from harness.release import (
    GO_MODULE,
    artifact_names,
    checksums_name,
    go_zip_name,
    host_platform,
    plugin_archive_name,
)
from harness.sandbox import Sandbox
from pulumi_leadterra import __version__
from pulumi_leadterra.schema import EXAMPLES, PLUGIN_DOWNLOAD_URL, TYPE_TOKEN
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.timeout(1500)

VERSION = __version__
OWNER, REPO = PLUGIN_DOWNLOAD_URL.removeprefix("github://api.github.com/").split("/")
HOST = host_platform()  # PyInstaller builds this machine's archive only; the workflow, all six
ASSET = plugin_archive_name(VERSION, *HOST)
#: What `pulumi package add` writes for a Pulumi YAML program (pulumi-yaml's PackageDecl): YAML has
#: no SDK to carry the schema's pluginDownloadURL, so without it the engine looks for the plugin
#: under github.com/pulumi/ (its fallback source for a plugin with no URL).
YAML_PACKAGE = {
    "packageDeclarationVersion": 1,
    "name": "leadterra",
    "version": VERSION,
    "downloadUrl": PLUGIN_DOWNLOAD_URL,
}


@dataclass
class Release:
    dist: Path
    npm: NpmRegistry
    index: PackageIndex
    releases: ReleaseServer
    goproxy: str
    path: str  # PATH for a user: the Pulumi CLI and its language hosts, node, go, the system's python3
    bare_path: str  # only the Pulumi CLI, its language hosts and node: no Python at all


def _user_paths(folder: Path) -> tuple[str, str]:
    """A folder with links to the CLI and its language hosts (as an installed CLI has them) and to
    node and npm; PATH as that folder, then Go's and the system's (no .venv, no pyenv shims,
    nothing else of the clone), and PATH as that folder alone (no python3 anywhere on it)."""
    folder.mkdir()
    for tool in CLI_BIN.iterdir():
        if tool.name == "pulumi" or tool.name.startswith("pulumi-language-"):
            (folder / tool.name).symlink_to(tool)
    for tool in ("node", "npm", "npx"):
        found = shutil.which(tool)
        assert found is not None, tool
        (folder / tool).symlink_to(found)
    go = shutil.which("go")
    assert go is not None
    assert shutil.which("python3", path=str(folder)) is None
    return os.pathsep.join([str(folder), str(Path(go).resolve().parent), "/usr/bin", "/bin"]), str(folder)


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    work = tmp_path_factory.mktemp("rehearsal")
    dist = work / "dist"
    subprocess.run(
        ["make", "release", f"DIST={dist}", f"PLATFORMS={'-'.join(HOST)}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=1200,
    )
    assert sorted(p.name for p in dist.iterdir()) == sorted(artifact_names(VERSION, [HOST]))
    subprocess.run(
        ["sha256sum", "--check", "--strict", checksums_name(VERSION)],
        cwd=dist,
        check=True,
        capture_output=True,
    )
    _check_versions_inside(dist)
    with (
        NpmRegistry(work / "npm") as npm,
        PackageIndex(work / "pypi") as index,
        ReleaseServer(dist, OWNER, REPO, VERSION) as releases,
    ):
        npm.publish(dist / f"leadterra-pulumi-{VERSION}.tgz")
        index.upload(*dist.glob("*.whl"), dist / f"pulumi_leadterra-{VERSION}.tar.gz")
        goproxy = go_proxy(work / "goproxy", dist / go_zip_name(VERSION), GO_MODULE, VERSION)
        yield Release(dist, npm, index, releases, goproxy, *_user_paths(work / "bin"))


def _check_versions_inside(dist: Path) -> None:
    """Each artifact says the package version inside too, not only in its name."""
    with tarfile.open(dist / f"leadterra-pulumi-{VERSION}.tgz") as npm:
        manifest = json.load(npm.extractfile("package/package.json"))  # type: ignore[arg-type]
    assert (manifest["version"], manifest["pulumi"]["version"]) == (VERSION, VERSION)
    with zipfile.ZipFile(dist / f"pulumi_leadterra_native-{VERSION}-py3-none-any.whl") as wheel:
        plugin = json.loads(wheel.read("pulumi_leadterra_native/pulumi-plugin.json"))
        assert plugin["version"] == VERSION
    with zipfile.ZipFile(dist / go_zip_name(VERSION)) as module:
        plugin = json.loads(module.read(f"{GO_MODULE}@v{VERSION}/go/leadterra/pulumi-plugin.json"))
        assert plugin["version"] == VERSION
    with tarfile.open(dist / ASSET) as plugin_archive:  # the executable PyInstaller made
        executable = plugin_archive.getmember("pulumi-resource-leadterra")
        assert executable.isfile() and executable.mode & 0o111
        assert "_internal" in plugin_archive.getnames()


def _new_user(tmp_path: Path, release: Release, **env: str) -> Project:
    project = Project(tmp_path, secrets=[TEST_KEY])
    for name in (
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION",
        "PIP_NO_INDEX",
        "PIP_FIND_LINKS",
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "GOFLAGS",
        "GOPROXY",
        "GOMODCACHE",
    ):
        project.env.pop(name, None)
    project.env.update(
        {
            "PATH": release.path,
            # The mirror: github://api.github.com/<owner>/<repo> to GitHub's download layout on loopback.
            "PULUMI_PLUGIN_DOWNLOAD_URL_OVERRIDES": (
                f"^github://api.github.com/{OWNER}/{REPO}="
                f"{release.releases.url}/{OWNER}/{REPO}/releases/download/v${{VERSION}}"
            ),
            # pip, for the Python program: the local index (PyPI behind it).
            "PIP_INDEX_URL": release.index.simple,
            **env,
        }
    )
    return project


def _run_as_user(
    project: Project,
    release: Release,
    sandbox: Sandbox,
    language: str,
    destroyed: dict[str, int] | None = None,
) -> None:
    """up (the engine downloads the plugin), a quiet preview, destroy (nothing sent unless a
    campaign declares pauseOnDelete); prints what each step sent."""
    plugins = Path(project.env["PULUMI_HOME"]) / "plugins"
    assert not (plugins / f"resource-leadterra-v{VERSION}").exists()
    for campaign in ("camp_demo", "camp_legacy"):
        sandbox.put(campaign, status="draft", leads=3)
    sandbox.clear_requests()
    release.releases.requests.clear()
    project.init(sandbox.url, TEST_KEY)

    sent: dict[str, list[str]] = {}

    def step(name: str) -> dict[str, int]:
        requests = sandbox.requests()
        sent[name] = [f"{r['method']} {r['path']}" for r in requests]
        return dict(sandbox.drain_counts())

    project.up(timeout=900)
    assert step("up") == {"POST start": 1, "POST pause": 1}
    assert release.releases.requests == [f"/{OWNER}/{REPO}/releases/download/v{VERSION}/{ASSET}"]
    assert os.access(plugins / f"resource-leadterra-v{VERSION}" / "pulumi-resource-leadterra", os.X_OK)
    assert set(project.resources(TYPE_TOKEN)) == {"launch", "legacy"}
    project("preview", "--expect-no-changes")
    assert step("preview") == {}
    project("destroy", "--yes")
    assert step("destroy") == (destroyed or {}) and project.resources(TYPE_TOKEN) == {}
    assert release.releases.requests == [f"/{OWNER}/{REPO}/releases/download/v{VERSION}/{ASSET}"]
    print(f"\n[{language}] plugin download: {release.releases.requests}")
    for name, lines in sent.items():
        print(f"[{language}] {name} sent to the sandbox: {lines}")


def test_typescript_from_the_npm_registry(tmp_path: Path, release: Release, sandbox: Sandbox) -> None:
    # A new user's npm: an empty cache, so every package comes through the registry.
    project = _new_user(tmp_path, release, npm_config_cache=str(tmp_path / "npm-cache"))
    installing = dict(project.env)
    project.env["PATH"] = release.bare_path  # pulumi runs with no Python anywhere on PATH
    project.write_yaml("Pulumi.yaml", {"name": "rehearsal-ts", "runtime": "nodejs"})
    project.write(".npmrc", f"registry={release.npm.url}\n")
    project.write("index.ts", EXAMPLES["typescript"])
    manifest = {
        "name": "rehearsal-ts",
        "main": "index.ts",
        "dependencies": {"@pulumi/pulumi": "^3.270.0", "@leadterra/pulumi": VERSION},
        "devDependencies": {"typescript": "^5", "@types/node": "^20"},
    }
    project.write("package.json", json.dumps(manifest))
    tsconfig = {
        "compilerOptions": {
            "strict": True,
            "target": "es2020",
            "module": "commonjs",
            "moduleResolution": "node",
        },
        "files": ["index.ts"],
    }
    project.write("tsconfig.json", json.dumps(tsconfig))
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund"],
        cwd=project.dir,
        env=installing,
        check=True,
        capture_output=True,
        timeout=900,
    )
    installed = json.loads(
        (project.dir / "node_modules" / "@leadterra" / "pulumi" / "package.json").read_text()
    )
    assert installed["version"] == VERSION
    assert any(f"pulumi-{VERSION}.tgz" in line for line in release.npm.served("@leadterra"))
    lock = json.loads((project.dir / "package-lock.json").read_text())
    tarball = (release.dist / f"leadterra-pulumi-{VERSION}.tgz").read_bytes()
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
    assert lock["packages"]["node_modules/@leadterra/pulumi"]["integrity"] == integrity  # the bytes built
    _run_as_user(project, release, sandbox, "typescript")


def test_go_from_the_module_proxy(tmp_path: Path, release: Release, sandbox: Sandbox) -> None:
    go_env = {
        # The Go SDK from the release's module zip; everything else from this machine's module
        # download cache (itself a GOPROXY), then the Go module proxy. A fresh module cache, so
        # no earlier rehearsal's copy of the SDK is used; -trimpath so builds are still cached.
        "GOPROXY": ",".join(
            [
                release.goproxy,
                (Path.home() / "go" / "pkg" / "mod" / "cache" / "download").as_uri(),
                "https://proxy.golang.org",
            ]
        ),
        "GOMODCACHE": str(tmp_path / "gomodcache"),
        "GONOSUMDB": f"{GO_MODULE}",
        "GOFLAGS": "-modcacherw -trimpath -buildvcs=false",
        "GOTOOLCHAIN": "local",
    }
    project = _new_user(tmp_path, release, **go_env)
    project.write_yaml("Pulumi.yaml", {"name": "rehearsal-go", "runtime": "go"})
    project.write("main.go", EXAMPLES["go"])
    project.write("go.mod", f"module rehearsalgo\n\ngo 1.25\n\nrequire {GO_MODULE} v{VERSION}\n")
    subprocess.run(
        ["go", "mod", "tidy"], cwd=project.dir, env=project.env, check=True, capture_output=True, timeout=900
    )
    assert f"{GO_MODULE} v{VERSION} " in (project.dir / "go.sum").read_text()
    _run_as_user(project, release, sandbox, "go")


def test_python_from_the_package_index(tmp_path: Path, release: Release, sandbox: Sandbox) -> None:
    project = _new_user(tmp_path, release)
    project.write_yaml(
        "Pulumi.yaml",
        {"name": "rehearsal-python", "runtime": {"name": "python", "options": {"virtualenv": "venv"}}},
    )
    project.write("__main__.py", EXAMPLES["python"])
    project.write("requirements.txt", f"pulumi>=3.268,<4\npulumi-leadterra-native=={VERSION}\n")
    for command in (
        ["python3", "-m", "venv", "venv"],
        ["venv/bin/pip", "install", "-q", "-r", "requirements.txt"],
    ):
        subprocess.run(
            command, cwd=project.dir, env=project.env, check=True, capture_output=True, timeout=900
        )
    assert any(f"pulumi_leadterra_native-{VERSION}" in line for line in release.index.served("packages"))
    assert not (project.dir / "venv" / "bin" / "pulumi-resource-leadterra").exists()
    _run_as_user(project, release, sandbox, "python")

    # The other Python package, pulumi-leadterra (dynamic provider, policies), from the index too.
    subprocess.run(
        ["python3", "-m", "venv", str(tmp_path / "dynamic")], env=project.env, check=True, timeout=300
    )
    subprocess.run(
        [str(tmp_path / "dynamic" / "bin" / "pip"), "install", "-q", f"pulumi-leadterra=={VERSION}"],
        env=project.env,
        check=True,
        capture_output=True,
        timeout=900,
    )
    assert any(f"pulumi_leadterra-{VERSION}-py3" in line for line in release.index.served("packages"))
    found = subprocess.run(
        [
            str(tmp_path / "dynamic" / "bin" / "python"),
            "-c",
            "import pulumi_leadterra; print(pulumi_leadterra.__version__)",
        ],
        env=project.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert found.stdout.strip() == VERSION


def test_yaml_with_its_package_declaration(tmp_path: Path, release: Release, sandbox: Sandbox) -> None:
    project = _new_user(tmp_path, release, PATH=release.bare_path)  # no Python anywhere on PATH
    program = project.yaml_program(ROOT / "examples" / "yaml" / "Pulumi.yaml", plugin_by_path=False)
    assert "plugins" not in program
    project.write_yaml(f"leadterra-{VERSION}.yaml", YAML_PACKAGE)
    _run_as_user(project, release, sandbox, "yaml", destroyed={"POST pause": 1})  # legacy: pauseOnDelete
