"""One version source (issue 20): the package's version, in pulumi_leadterra/_version.py, is the
schema's, the plugin's GetPluginInfo answer, every generated SDK's (package.json, setup.py, each
pulumi-plugin.json, the Go SDK's default version option) and every release artifact's name. The
release rehearsal (tests/e2e/test_release_rehearsal.py) checks the built artifacts themselves."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from google.protobuf import empty_pb2

from harness.engine import NativePlugin
from harness.programs import ROOT
from harness.release import PLATFORMS, artifact_names, found_versions, plugin_archive_name
from pulumi_leadterra import __version__
from pulumi_leadterra.schema import SCHEMA


def test_every_generated_file_carries_the_package_version() -> None:
    assert SCHEMA["version"] == __version__
    found = found_versions()
    assert len(found) == 7
    assert {where: v for where, v in found.items() if v != __version__} == {}, "run make sdk"


def test_a_disagreeing_sdk_is_found(tmp_path: Path) -> None:
    copy = tmp_path / "clone"
    for folder in ("provider", "sdk"):
        shutil.copytree(ROOT / folder, copy / folder, ignore=shutil.ignore_patterns("node_modules", "build"))
    setup = copy / "sdk" / "python" / "setup.py"
    setup.write_text(setup.read_text().replace(f'VERSION = "{__version__}"', 'VERSION = "0.0.0"'))
    found = found_versions(copy)
    assert {where: v for where, v in found.items() if v != __version__} == {"sdk/python/setup.py": "0.0.0"}


def test_the_plugin_reports_the_package_version() -> None:
    plug = NativePlugin()
    try:
        assert plug._call("GetPluginInfo", empty_pb2.Empty()).version == __version__
    finally:
        plug.close()


def test_every_artifact_name_carries_the_package_version() -> None:
    names = artifact_names(__version__)
    assert len(names) == 12 and len(set(names)) == 12
    assert all(__version__ in name for name in names)
    # The engine's downloader asks for pulumi-<kind>-<name>-v<version>-<os>-<arch>.tar.gz
    # (standardAssetName, pulumi/pulumi sdk/go/common/workspace/plugins.go), on these six.
    expected = f"pulumi-resource-leadterra-v{__version__}-linux-amd64.tar.gz"
    assert plugin_archive_name(__version__, "linux", "amd64") == expected
    assert set(PLATFORMS) == {(s, a) for s in ("linux", "darwin", "windows") for a in ("amd64", "arm64")}


def test_the_release_workflow_checks_the_tag_against_the_package_version() -> None:
    workflow = (ROOT / ".github" / "workflows" / "release.yml").read_text()
    assert re.search(r'if \[ "v\$\{version\}" != "\$\{TAG\}" \]', workflow)
    assert "pulumi_leadterra/_version.py" in workflow
