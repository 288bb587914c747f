"""Programs on the generated SDKs (``sdk/``) as their users write and install them, for the
real-engine suite: a TypeScript project on the Node.js SDK packed as npm publishes it, a Go module
on the Go SDK, a Python program on the Python SDK (``make venv`` installs it), a Pulumi YAML
program; each with the plugin the way that language's user gets it (on PATH, from
``pip install pulumi-leadterra``).

Node.js is the one ``make node`` installs (``.node/``) when it is there: ``@pulumi/pulumi``
requires a newer Node.js than some machines have (`node_engines` reads which).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pulumi_leadterra.schema import GO_MODULE, NODE_PACKAGE, TYPE_TOKEN

from .cli import Project
from .programs import ROOT
from .sandbox import Sandbox

__all__ = [
    "NODE_BIN",
    "SDK",
    "go_project",
    "node_engines",
    "node_major",
    "node_path",
    "pack_nodejs_sdk",
    "python_project",
    "run_example",
    "typescript_project",
    "yaml_project",
]

SDK = ROOT / "sdk"
#: Where `make node` puts a Node.js that @pulumi/pulumi supports.
NODE_BIN = ROOT / ".node" / "node_modules" / ".bin"


def node_path(path: str | None = None) -> str:
    """``path`` (default: this process's PATH) with `make node`'s Node.js first, if installed."""
    path = path if path is not None else os.environ.get("PATH", "/usr/bin:/bin")
    return os.pathsep.join([str(NODE_BIN), path]) if (NODE_BIN / "node").exists() else path


def node_major(env: dict[str, str]) -> int:
    """The major version of the ``node`` that ``env``'s PATH finds."""
    found = subprocess.run(["node", "--version"], env=env, capture_output=True, text=True, check=True)
    return int(found.stdout.strip().lstrip("v").split(".")[0])


def node_engines(package_dir: Path) -> int:
    """The lowest Node.js major an installed package's ``engines`` field accepts (``>=22``)."""
    engines = json.loads((package_dir / "package.json").read_text()).get("engines", {})
    wanted = str(engines.get("node", ">=0")).split("||")[0].strip()
    assert wanted.startswith(">="), f"an engines range this helper does not read: {wanted}"
    return int(wanted[2:].split(".")[0])


def pack_nodejs_sdk(workdir: Path) -> Path:
    """The Node.js SDK as a user gets it: built as its docs say (``npm install``, ``npm run
    build``) and packed from ``bin/`` with its version set, as Pulumi's provider boilerplate
    publishes a generated SDK. Returns the tarball."""
    build = workdir / "sdk-nodejs"
    shutil.copytree(SDK / "nodejs", build)
    env = {**os.environ, "PATH": node_path()}
    for command in (["npm", "install", "--no-audit", "--no-fund"], ["npm", "run", "build"]):
        subprocess.run(command, cwd=build, env=env, check=True, capture_output=True, timeout=600)
    # respectSchemaVersion: the generated package.json carries the package's version already.
    manifest = json.loads((build / "package.json").read_text())
    (build / "bin" / "package.json").write_text(json.dumps(manifest, indent=2))
    subprocess.run(["npm", "pack"], cwd=build / "bin", env=env, check=True, capture_output=True, timeout=600)
    (tarball,) = (build / "bin").glob("*.tgz")
    return tarball


def _use_node(project: Project) -> None:
    project.env["PATH"] = node_path(project.env["PATH"])


def typescript_project(project: Project, name: str, program: str, tarball: Path) -> None:
    """A TypeScript project running ``program`` on the packed SDK, its dependencies installed
    by ``pulumi install``."""
    _use_node(project)
    project.write_yaml("Pulumi.yaml", {"name": name, "runtime": "nodejs"})
    project.write("index.ts", program)
    dependencies = {"@pulumi/pulumi": "^3.270.0", NODE_PACKAGE: f"file:{tarball}"}
    manifest = {
        "name": f"{name}-program",
        "main": "index.ts",
        "dependencies": dependencies,
        "devDependencies": {"typescript": "^5", "@types/node": "^22"},
    }
    project.write("package.json", json.dumps(manifest))
    options = {"strict": True, "target": "es2020", "module": "commonjs", "moduleResolution": "node"}
    project.write("tsconfig.json", json.dumps({"compilerOptions": options, "files": ["index.ts"]}))
    project("install", timeout=600)
    # The suite runs on a Node.js that the SDK's @pulumi/pulumi supports.
    wanted = node_engines(project.dir / "node_modules" / "@pulumi" / "pulumi")
    assert node_major(project.env) >= wanted, f"@pulumi/pulumi requires Node.js {wanted}: run make node"


def go_project(project: Project, name: str, program: str) -> None:
    """A Go module running ``program`` on the clone's Go SDK (``replace``d, as a user with a
    clone would), its dependencies fetched through the Go module proxy by ``pulumi install``."""
    project.write_yaml("Pulumi.yaml", {"name": name, "runtime": "go"})
    project.write("main.go", program)
    project.write(
        "go.mod",
        f"module {name.replace('-', '')}\n\ngo 1.25\n\n"
        f"require {GO_MODULE} v0.0.0\n\nreplace {GO_MODULE} => {SDK}\n",
    )
    project("install", timeout=600)


def python_project(project: Project, name: str, program: str) -> None:
    """A Python program on the Python SDK, in the clone's virtualenv (where `make venv`
    installed ``sdk/python``)."""
    project.python_program(name, project.write("program.py", program))


def yaml_project(project: Project, name: str, program: dict[str, Any]) -> None:
    """A Pulumi YAML program (``resources``, ``outputs``, ``config``...), named ``name``."""
    project.write_yaml("Pulumi.yaml", {"name": name, "runtime": "yaml", **program})


def run_example(project: Project, sandbox: Sandbox, key: str) -> None:
    """The schema's example (``EXAMPLES``: camp_demo held running, camp_legacy paused, both
    seeded as drafts) through the real engine: up (one start, one pause) with the outputs it
    exports, a quiet preview, destroy (nothing sent)."""
    project.init(sandbox.url, key)
    project.up()
    assert sandbox.drain_counts() == {"POST start": 1, "POST pause": 1}
    outputs = json.loads(project("stack", "output", "--json").stdout)
    assert outputs == {"launchStatus": "running", "legacyHeld": "paused"}
    assert set(project.resources(TYPE_TOKEN)) == {"launch", "legacy"}
    project("preview", "--expect-no-changes")
    assert sandbox.drain_counts() == {}
    project("destroy", "--yes")
    assert sandbox.drain_counts() == {} and project.resources(TYPE_TOKEN) == {}
