"""What the Pulumi Registry needs of a community package (pulumi/registry: its community-package
checks and the metadata its docs generator requires), and the one owner name everywhere.

The registry reads the schema at a release (name, version, ``publisher`` required, the category
from a ``category/`` keyword, ``logoUrl``, ``repository``, each resource's description with its
examples and ``## Import``) and two files of this repository, ``docs/_index.md`` (a summary and an
example per language) and ``docs/installation-configuration.md`` (the SDKs and the
configuration), which its doc lint rejects with relative images or ``.md`` links.
"""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from harness.programs import ROOT
from pulumi_leadterra.schema import (
    EXAMPLES,
    GO_MODULE,
    LOGO_PATH,
    NODE_PACKAGE,
    OWNER,
    PLUGIN_DOWNLOAD_URL,
    PYTHON_PACKAGE,
    REPOSITORY,
    SCHEMA,
    TYPE_TOKEN,
)

DOCS = {name: ROOT / "docs" / name for name in ("_index.md", "installation-configuration.md")}
#: The registry's categories (pulumi/registry tools/resourcedocsgen/pkg/lookup.go CategoryNameMap).
CATEGORIES = {"cloud", "database", "infrastructure", "monitoring", "network", "utility", "vcs"}
#: The registry's doc lint (scripts/ci/community-package/doc_lint.py): what breaks on its pages.
_LINT = {
    "relative-image": re.compile(r"<img[^>]+src=\"(\.|/|[^hH])|!\[[^\]]*\]\((\.|/)"),
    "raw-relative-link": re.compile(r"<a[^>]+href=\"(\.|/)"),
    "md-suffixed-link": re.compile(r"\]\((?!https?://)[^)]*\.md[)#]"),
}
_REPOSITORY_URL = re.compile(r"github(?:\.com|://api\.github\.com)/([A-Za-z0-9_.-]+)/pulumi-leadterra")


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    found = []
    for name in filter(None, listed.split("\0")):
        path = ROOT / name
        if path.is_file() and path.suffix not in {".svg", ".png", ".gz", ".whl"}:
            found.append(path)
    return found


def test_one_owner_everywhere() -> None:
    """Every URL of this repository, in every tracked file, names schema.OWNER: the package's
    URLs, install lines, requirements, SDK names and module paths alike (no placeholder)."""
    owners: dict[str, set[str]] = {}
    for path in _tracked_text_files():
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for match in _REPOSITORY_URL.finditer(text):
            owners.setdefault(match.group(1), set()).add(str(path.relative_to(ROOT)))
    assert set(owners) == {OWNER}, {owner: sorted(paths)[:5] for owner, paths in owners.items()}

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["urls"]["Homepage"] == REPOSITORY
    assert project["urls"]["Repository"] == f"{REPOSITORY}.git"
    assert project["urls"]["Issues"] == f"{REPOSITORY}/issues"
    assert (ROOT / "sdk" / "go.mod").read_text().splitlines()[0] == f"module {GO_MODULE}"
    assert NODE_PACKAGE == f"@{OWNER}/pulumi" and PLUGIN_DOWNLOAD_URL.endswith(f"/{OWNER}/pulumi-leadterra")


def test_the_schema_has_what_the_registry_requires() -> None:
    assert SCHEMA["publisher"] and SCHEMA["displayName"] == "Leadterra"
    assert SCHEMA["repository"] == SCHEMA["homepage"] == REPOSITORY
    assert re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", SCHEMA["version"])
    (category,) = [k.split("/", 1)[1] for k in SCHEMA["keywords"] if k.startswith("category/")]
    assert category in CATEGORIES
    assert SCHEMA["logoUrl"] == f"https://raw.githubusercontent.com/{OWNER}/pulumi-leadterra/main/{LOGO_PATH}"
    logo = ROOT / LOGO_PATH
    assert logo.read_text().lstrip().startswith("<svg") and logo.stat().st_size < 4096  # a small logo
    description = SCHEMA["resources"][TYPE_TOKEN]["description"]
    assert "{{% examples %}}" in description and "\n## Import\n" in description


@pytest.mark.parametrize("name", list(DOCS))
def test_the_registry_docs_are_in_its_format(name: str) -> None:
    text = DOCS[name].read_text()
    front, body = text.split("---\n")[1:3]
    fields = dict(line.split(": ", 1) for line in front.strip().splitlines())
    assert set(fields) == {"title", "meta_desc", "layout"} and fields["layout"] == "package"
    assert body.strip()
    for number, line in enumerate(text.splitlines(), 1):
        for kind, pattern in _LINT.items():
            assert not pattern.search(line), f"{name}:{number}: {kind}: {line}"


def test_the_index_shows_the_schema_example_in_each_language() -> None:
    """The same programs the resource's page shows and tests/e2e/test_sdks.py runs."""
    text = DOCS["_index.md"].read_text()
    assert f'{{{{< chooser language "{",".join(EXAMPLES)}" >}}}}' in text
    for language, program in EXAMPLES.items():
        opening, closing = f"{{{{% choosable language {language} %}}}}", "{{% /choosable %}}"
        assert f"{opening}\n\n```{language}\n{program}```\n\n{closing}" in text, language


def test_installation_names_each_sdk_and_every_setting() -> None:
    text = DOCS["installation-configuration.md"].read_text()
    for name in (NODE_PACKAGE, PYTHON_PACKAGE, PYTHON_PACKAGE.replace("_", "-"), f"{GO_MODULE}/go/leadterra"):
        assert name in text, name
    for setting in SCHEMA["config"]["variables"]:
        assert f"`leadterra:{setting}`" in text, setting
    assert "LEADTERRA_API_KEY" in text and "--secret leadterra:apiKey" in text


def test_the_docs_name_the_nodejs_the_suite_installs() -> None:
    """@pulumi/pulumi (the versions the Node.js SDK depends on) requires Node.js 22; `make node`
    installs that major for the suite (tests/e2e checks the installed package's engines field),
    and the docs tell users the same."""
    (version,) = re.findall(r"^NODE_VERSION := (\d+)\.", (ROOT / "Makefile").read_text(), re.M)
    for doc in (DOCS["installation-configuration.md"], ROOT / "docs" / "native-plugin.md"):
        assert f"Node.js {version} or" in doc.read_text(), doc.name


def test_the_docs_promise_package_add_by_path_only() -> None:
    """`pulumi package add` by path works in TypeScript, Python and Go (tests/e2e/test_package_add.py);
    from git and in YAML it does not, and the page that describes it says so."""
    naming = []
    for path in _tracked_text_files():
        if path.suffix in {".md", ".yaml", ".yml", ".txt"} and "pulumi package add" in path.read_text():
            naming.append(str(path.relative_to(ROOT)))
    # The README points to native-plugin.md, testing.md names the test, release.md names the
    # package declaration file it writes for YAML (which a YAML program writes by hand); nothing
    # else mentions it.
    assert sorted(naming) == ["README.md", "docs/native-plugin.md", "docs/release.md", "docs/testing.md"]
    text = (ROOT / "docs" / "native-plugin.md").read_text()
    assert "**`pulumi package add` by path**" in text and "Not supported: from git" in text
    assert (ROOT / "tests" / "e2e" / "test_package_add.py").exists()
