"""`pulumi install` on the promotion project, as the places it is deployed run it.

The Kubernetes Operator's workspace and Pulumi Deployments clone the repository and run
``pulumi install`` in ``examples/promotion``; Pulumi's Python host then creates the project's
virtualenv (``../../.venv``: the clone's root) and runs ``pip install -r requirements.txt``, and
nothing else. So whatever that file names is all a deployed program has.

Here, the Operator's layout (pulumi-kubernetes-operator's workspace controller clones into
``/share/source`` and links ``/share/workspace`` to the repository folder, the pod's working
directory): a fresh clone folder holding a copy of the project at ``examples/promotion``, a
symbolic link to it as the working directory, no ``PWD`` in the environment (the operator's agent
sets none), the shipped files byte for byte, and the real CLI's ``pulumi install``. The virtualenv
must land in the clone's root, not next to the link. The one thing changed for the test is where
git finds the repository: git's own ``url.<base>.insteadOf``, set in the environment, sends the
requirement's ``https://github.com/leadterra/pulumi-leadterra.git`` to this clone (which holds the
pinned commit), and ``GIT_ALLOW_PROTOCOL=file`` makes any other git traffic fail instead of
leaving the machine. pip's own traffic goes to PyPI only (``PIP_INDEX_URL``, no config file, no
extra index or find links, an empty cache). Then the engine runs the program on that virtualenv
alone: a preview, and an ``up`` against a sandbox seeded from the stack file, with the exact
statuses that follow.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import Project, summary
from harness.programs import ROOT
from harness.sandbox import Sandbox
from pulumi_leadterra.sandbox import SandboxServer
from pulumi_leadterra.sandbox.cli import parse_seed
from tests.conftest import TEST_KEY

PROMOTION = ROOT / "examples" / "promotion"
REQUIREMENT = re.compile(
    r"^pulumi-leadterra @ git\+(?P<url>https://github\.com/leadterra/pulumi-leadterra\.git)@(?P<sha>[0-9a-f]{40})$",
    re.M,
)
SHIPPED = ("Pulumi.yaml", "__main__.py", "requirements.txt")


def _pin() -> tuple[str, str]:
    found = REQUIREMENT.search((PROMOTION / "requirements.txt").read_text())
    assert found, "requirements.txt must pin pulumi-leadterra to a full commit of its git URL"
    return found["url"], found["sha"]


def _pip_env(cache: Path) -> dict[str, str]:
    """pip to PyPI only, with an empty cache (as a new workspace has: so the commit is cloned and
    built here, not taken from an earlier run's wheel); git to this clone only, in place of the
    requirement's URL."""
    url, _ = _pin()
    return {
        "PIP_INDEX_URL": "https://pypi.org/simple",
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_CACHE_DIR": str(cache),
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"url.{ROOT}.insteadOf",
        "GIT_CONFIG_VALUE_0": url,
        "GIT_ALLOW_PROTOCOL": "file",
        "GIT_TERMINAL_PROMPT": "0",
    }


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, Path, str]]:
    """(the project, its virtualenv, what `pulumi install` printed): the shipped files at
    <work>/source/examples/promotion, run from the link <work>/project, as the Operator runs them."""
    _, sha = _pin()
    has_commit = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{sha}^{{commit}}"], capture_output=True, timeout=30
    )
    assert has_commit.returncode == 0, f"this clone lacks the pinned commit {sha} (a shallow clone?)"
    work = tmp_path_factory.mktemp("deployed")
    source = work / "source"  # the operator's /share/source
    program = source / "examples" / "promotion"
    program.mkdir(parents=True)
    for name in SHIPPED:
        shutil.copy(PROMOTION / name, program / name)
    (work / "project").symlink_to(program, target_is_directory=True)  # its /share/workspace
    project = Project(work, secrets=[TEST_KEY], env=_pip_env(work / "pip-cache"))
    assert project.dir == work / "project" and project.dir.is_symlink()
    for name in ("PIP_NO_INDEX", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PWD"):
        project.env.pop(name, None)
    options = yaml.safe_load((PROMOTION / "Pulumi.yaml").read_text())["runtime"]["options"]
    venv = source / ".venv"
    assert (program / options["virtualenv"]).resolve() == venv and not venv.exists()
    result = project("install", timeout=900)
    # Not `<link>/../../.venv` taken literally (outside the workspace volume, where a non-root
    # workspace pod cannot write).
    assert not (work.parent / ".venv").exists()
    yield project, venv, result.stdout + result.stderr


def test_pulumi_install_installs_the_pinned_commit_from_the_shipped_requirements(
    installed: tuple[Project, Path, str],
) -> None:
    project, venv, output = installed
    url, sha = _pin()
    assert "Installing dependencies in virtual environment" in output
    assert f"Cloning {url} (to revision {sha})" in output and f"Resolved {url} to commit {sha}" in output
    assert "Successfully built pulumi-leadterra" in output
    probe = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import json, pulumi_leadterra as p, importlib.metadata as m;"
            "d = m.distribution('pulumi-leadterra');"
            "print(json.dumps({'file': p.__file__, 'version': p.__version__,"
            " 'direct_url': json.loads(d.read_text('direct_url.json'))}))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=project.dir,
        env={k: v for k, v in project.env.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    # Installed into the new virtualenv from the requirement's URL at the pinned commit: not the
    # clone's editable install, not a path.
    assert Path(found["file"]).is_relative_to(venv) and not Path(found["file"]).is_relative_to(ROOT)
    assert found["direct_url"]["url"] == url
    assert found["direct_url"]["vcs_info"] == {"vcs": "git", "commit_id": sha, "requested_revision": sha}
    pinned_version = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{sha}:pulumi_leadterra/_version.py"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    assert f'__version__ = "{found["version"]}"' in pinned_version


def _load_seed_module() -> Any:
    spec = importlib.util.spec_from_file_location("promotion_sandbox_seed", PROMOTION / "sandbox_seed.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_engine_runs_the_program_on_what_install_put_there(
    installed: tuple[Project, Path, str], tmp_path: Path
) -> None:
    """Dev's campaigns (its stack file without the ESC environment, which only Pulumi Cloud
    serves), on the installed virtualenv: a preview sends nothing, an up starts what is declared
    running and pauses what is declared paused."""
    project, _, _ = installed
    stack_file = yaml.safe_load((PROMOTION / "Pulumi.dev.yaml").read_text())
    assert stack_file.pop("environment") == ["leadterra/dev"]
    project.write_yaml("Pulumi.local.yaml", stack_file)
    declared = {
        e["id"]: e.get("status", "running")
        for e in stack_file["config"]["leadterra-promotion:campaigns"].values()
    }
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(_load_seed_module().seed_for(project.dir / "Pulumi.local.yaml")))
    with SandboxServer(campaigns=parse_seed(seed)) as server:
        sandbox = Sandbox(server.url)
        project.init(server.url, TEST_KEY, "local")
        assert summary(project.preview()) == {"create": len(declared)}
        assert sandbox.requests() == []
        project.up()
        assert {cid: sandbox.status(cid) for cid in declared} == declared
