"""Out of this clone: the sdist and wheel build cleanly and pass `twine check`, and a clean
virtualenv built only from the policy pack's own requirements (resolved against the wheel just
built) imports the package, runs the sandbox's CLI, runs the quickstart program under mocks and
enforces the guardrails, all from a folder outside the clone."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.analyzer import Analyzer
from harness.programs import ROOT
from pulumi_leadterra import __version__

PACK = ROOT / "examples" / "policy-pack"


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = _run(
        sys.executable,
        "-m",
        "build",
        "--no-isolation",
        "--sdist",
        "--wheel",
        "--outdir",
        str(out),
        ".",
        cwd=ROOT,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "Deprecat" not in built.stdout + built.stderr  # e.g. the project.license table form
    return out


@pytest.fixture(scope="module")
def clean_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the venv's python, a copy of the policy pack outside the clone, installed from its own
    requirements.txt with the built wheel as the only source of pulumi-leadterra)."""
    work = tmp_path_factory.mktemp("elsewhere")
    pack = work / "policy-pack"
    shutil.copytree(PACK, pack)
    venv = work / "venv"
    assert _run(sys.executable, "-m", "venv", str(venv), cwd=work).returncode == 0
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    installed = _run(
        str(python), "-m", "pip", "install", "--quiet", "--find-links", str(dist),
        "-r", str(pack / "requirements.txt"), cwd=work, env=env,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    yield python, pack


def test_sdist_and_wheel_pass_twine_check(dist: Path) -> None:
    files = sorted(str(p) for p in dist.iterdir())
    assert sorted(Path(f).suffix for f in files) == [".gz", ".whl"]
    checked = _run(sys.executable, "-m", "twine", "check", "--strict", *files, cwd=ROOT)
    assert checked.returncode == 0 and checked.stdout.count("PASSED") == 2, checked.stdout + checked.stderr


def test_the_sdist_carries_the_package_and_nothing_of_the_clones_tooling(dist: Path) -> None:
    import tarfile

    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
    assert any(n.endswith("pulumi_leadterra/provider.py") for n in names)
    assert not any(re.search(r"/(tests|harness|benchmarks)/", n) for n in names)


def test_the_pack_requires_this_release() -> None:
    lines = [
        ln for ln in (PACK / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")
    ]
    assert lines == [f"pulumi-leadterra[policy]=={__version__}"]


def test_the_wheel_works_outside_the_clone(clean_venv: tuple[Path, Path]) -> None:
    python, pack = clean_venv
    where = pack.parent
    found = _run(
        str(python), "-c", "import pulumi_leadterra as p; print(p.__file__, p.__version__)", cwd=where
    )
    assert found.returncode == 0 and str(ROOT) not in found.stdout and __version__ in found.stdout
    sandbox = _run(str(python.parent / "leadterra-sandbox"), "--help", cwd=where)
    assert sandbox.returncode == 0 and "--state" in sandbox.stdout

    program = where / "quickstart.py"
    shutil.copy(ROOT / "examples" / "quickstart" / "__main__.py", program)
    runner = where / "run_under_mocks.py"
    runner.write_text(
        textwrap.dedent(
            """
            import json, runpy, sys
            import pulumi

            declared = []

            class Mocks(pulumi.runtime.Mocks):
                def new_resource(self, args):
                    declared.append({"name": args.name, "type": args.typ, **{
                        k: v for k, v in args.inputs.items() if k in ("campaign_id", "status", "reconcile")}})
                    return args.name, dict(args.inputs)

                def call(self, args):
                    return {}, []

            pulumi.runtime.set_mocks(Mocks(), project="leadterra-quickstart", stack="dev", preview=False)

            @pulumi.runtime.test
            def run():
                runpy.run_path(sys.argv[1], run_name="__main__")

            run()
            print(json.dumps(sorted(declared, key=lambda d: d["name"])))
            """
        )
    )
    ran = _run(str(python), str(runner), str(program), cwd=where)
    assert ran.returncode == 0, ran.stderr[-3000:]
    declared = json.loads(ran.stdout.strip().splitlines()[-1])
    assert [(d["name"], d["campaign_id"], d["status"]) for d in declared] == [
        ("launch", "camp_demo", "running"),
        ("legacy", "camp_legacy", "paused"),
    ]
    assert {d["type"] for d in declared} == {"pulumi-python:dynamic/leadterra:CampaignState"}


def test_the_pack_enforces_from_its_own_virtualenv(clean_venv: tuple[Path, Path]) -> None:
    python, pack = clean_venv
    analyzer = Analyzer("dev", {}, python=str(python), pack=pack)
    try:
        live = {"campaign_id": "camp_1", "status": "running", "reconcile": False, "pause_on_delete": False}
        (violation,) = analyzer.analyze("launch", live)
        assert violation.policyName == "leadterra-no-live-sends-outside-production"
        assert analyzer.analyze("launch", {**live, "base_url": "http://127.0.0.1:8787"}) == []
    finally:
        analyzer.close()
