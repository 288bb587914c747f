"""The real Pulumi CLI, run as a user runs it: a project folder, a file backend and passphrase
secrets in a temporary folder, nothing downloaded, nothing outside loopback.

`find_cli` locates the CLI (``.pulumi-cli/bin`` from ``make engine``, else ``pulumi`` on PATH);
`Project` copies an example into a folder of its own (so no stack file lands in the clone), runs
``pulumi`` commands there, and checks every word the CLI prints and every state export for the
secrets it was told about.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

import yaml

from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE
from pulumi_leadterra.schema import TYPE_TOKEN as NATIVE_TYPE

from .programs import ROOT

__all__ = ["CLI_BIN", "Project", "PulumiFailed", "find_cli", "pinned_version", "policy_pack", "summary"]

CLI_BIN = ROOT / ".pulumi-cli" / "bin"
VENV_BIN = ROOT / ".venv" / "bin"


#: What a provider process of ours looks like in its command line: the dynamic provider, the
#: native plugin run as a module or console script, or loaded by path from the clone.
PROVIDER_MARKS = (
    "pulumi.dynamic",
    "pulumi_leadterra.plugin",
    "pulumi-resource-leadterra",
    f"{ROOT / 'provider'} ",
)


def pinned_version() -> str:
    return (ROOT / ".pulumi.version").read_text().strip()


def find_cli() -> Optional[Path]:
    """The Pulumi CLI to test with: the one ``make engine`` left, else one on PATH."""
    local = CLI_BIN / "pulumi"
    if local.exists():
        return local
    found = shutil.which("pulumi")
    return Path(found) if found else None


class PulumiFailed(AssertionError):  # noqa: N818 - a failed assertion, as tests read it
    """A ``pulumi`` command that exited non-zero; the message is everything it printed."""

    def __init__(self, args: Iterable[str], code: int, output: str) -> None:
        super().__init__(f"pulumi {' '.join(args)} exited {code}:\n{output}")
        self.code, self.output = code, output


class Project:
    """One Pulumi project in its own folder, with its own backend, home and stack."""

    def __init__(
        self,
        workdir: Path,
        secrets: Iterable[str] = (),
        env: Optional[dict[str, str]] = None,
        plugin_on_path: bool = False,
    ) -> None:
        cli = find_cli()
        assert cli is not None, "no Pulumi CLI: run make engine"
        self.cli = cli
        self.dir = workdir / "project"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.secrets = tuple(secrets)
        self.transcript: list[str] = []
        path = [str(cli.parent)]
        if plugin_on_path:  # where `pip install pulumi-leadterra` puts pulumi-resource-leadterra
            path.append(str(VENV_BIN))
        path.append(os.environ.get("PATH", "/usr/bin:/bin"))
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("LEADTERRA_", "PULUMI_"))
        }
        self.env.update(
            {
                "PATH": os.pathsep.join(path),
                "PULUMI_BACKEND_URL": (workdir / "state").as_uri(),
                "PULUMI_HOME": str(workdir / "home"),
                "PULUMI_CONFIG_PASSPHRASE": "e2e-passphrase",
                "PULUMI_SKIP_UPDATE_CHECK": "1",
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                # A plugin or pack whose dependencies the engine installs must not reach an index.
                "PIP_NO_INDEX": "1",
                "NO_COLOR": "1",
            }
        )
        (workdir / "state").mkdir(exist_ok=True)
        self.env.update(env or {})

    # -- the program ---------------------------------------------------------------------------
    def write(self, name: str, text: str) -> Path:
        path = self.dir / name
        path.write_text(text)
        return path

    def python_program(self, name: str, main: Path, plugin_by_path: bool = False) -> None:
        """A Python project running ``main`` (a file) in the clone's virtualenv; with
        ``plugin_by_path``, the native plugin loaded from the clone's ``provider/`` folder."""
        shutil.copy(main, self.dir / "__main__.py")
        project: dict[str, Any] = {
            "name": name,
            "runtime": {"name": "python", "options": {"virtualenv": str(ROOT / ".venv")}},
        }
        if plugin_by_path:
            project["plugins"] = {"providers": [{"name": "leadterra", "path": str(ROOT / "provider")}]}
        self.write_yaml("Pulumi.yaml", project)

    def yaml_program(self, source: Path, plugin_by_path: bool) -> dict[str, Any]:
        """A copy of a Pulumi YAML program; the provider by path (``plugins: providers:``) with
        the clone's ``provider/`` folder, or found on PATH."""
        program = yaml.safe_load(source.read_text())
        if plugin_by_path:
            for provider in program["plugins"]["providers"]:
                provider["path"] = str(ROOT / "provider")
        else:
            program.pop("plugins", None)
        self.write_yaml("Pulumi.yaml", program)
        return dict(program)

    def front_end(self, kind: str, python: Optional[str] = None, name: str = "quickstart") -> str:
        """The project on one front end; returns the type token its campaigns have. ``dynamic``:
        a Python program on the dynamic provider (``python``'s text as project ``name``, else
        the quickstart); ``native``: the Pulumi YAML example on the native plugin by path."""
        if kind == "dynamic":
            if python is None:
                self.python_program(name, ROOT / "examples" / "quickstart" / "__main__.py")
            else:
                self.python_program(name, self.write(f"{name}.py", python))
            return CAMPAIGN_STATE_TYPE
        assert kind == "native", kind
        self.yaml_program(ROOT / "examples" / "yaml" / "Pulumi.yaml", plugin_by_path=True)
        return NATIVE_TYPE

    def declare(self, resources: dict[str, Any]) -> None:
        """The YAML program's resources, replaced (its outputs dropped: they name the old ones)."""
        program = yaml.safe_load((self.dir / "Pulumi.yaml").read_text())
        program["resources"] = resources
        program.pop("outputs", None)
        self.write_yaml("Pulumi.yaml", program)

    def write_yaml(self, name: str, data: Any) -> None:
        self.write(name, yaml.safe_dump(data, sort_keys=False))

    # -- commands ------------------------------------------------------------------------------
    def __call__(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 300,
        env: Optional[dict[str, str]] = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.cli), *args],
            cwd=self.dir,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = result.stdout + result.stderr
        self._record(output)
        if check and result.returncode != 0:
            raise PulumiFailed(args, result.returncode, output)
        return result

    def _record(self, output: str) -> None:
        self.transcript.append(output)
        for secret in self.secrets:
            assert secret not in output, "a secret appeared in what pulumi printed"

    def start(self, *args: str, env: Optional[dict[str, str]] = None) -> subprocess.Popen[str]:
        """A command in the background (for Ctrl-C tests); `finish` collects it."""
        return subprocess.Popen(
            [str(self.cli), *args],
            cwd=self.dir,
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def interrupt(self, proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, float]:
        """Ctrl-C as a terminal sends it; (exit code, output, seconds it took to end)."""
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=timeout)
        self._record(output)
        return proc.returncode, output, time.monotonic() - began

    def init(self, base_url: str, key: str, stack: str = "dev", **settings: str) -> None:
        """A new stack as the quickstart sets one up: the key as secret stack config, the base
        URL, and any other ``leadterra:`` setting (``retryBaseDelay="0.01"``)."""
        self("stack", "init", stack)
        self("config", "set", "--secret", "leadterra:apiKey", key)
        for name, value in {"baseUrl": base_url, **settings}.items():
            self("config", "set", f"leadterra:{name}", value)

    def processes(self, providers_only: bool = False) -> dict[int, str]:
        """Every process still running with this project's ``PULUMI_HOME`` (the CLI, its language
        hosts, its plugins), by PID, with its command line; ``providers_only``, our providers'."""
        home = f"PULUMI_HOME={self.env['PULUMI_HOME']}".encode()
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if home in environ and (not providers_only or any(mark in cmdline for mark in PROVIDER_MARKS)):
                found[int(entry.name)] = cmdline
        return found

    def remove_empty_attrs(self) -> list[Path]:
        """The runbook's first step after a kill (docs/recovery.md): delete the zero-byte
        ``.attrs`` sidecars a kill can leave in the file backend (every command then fails with
        ``failed to load checkpoint: EOF``); returns those it deleted."""
        state = Path(self.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
        empty = [path for path in state.rglob("*.attrs") if path.stat().st_size == 0]
        for path in empty:
            path.unlink()
        return empty

    def preview(self, *args: str, **kwargs: Any) -> dict[str, Any]:
        """``pulumi preview --json``: the steps the engine plans (the changeSummary and steps)."""
        result = self("preview", "--json", *args, **kwargs)
        return dict(json.loads(result.stdout))

    def up(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self("up", "--yes", *args, **kwargs)

    def stored_secret(self, value: str, stack: str = "dev") -> dict[str, str]:
        """``value`` as this stack's secrets manager stores a secret in state (the envelope an
        earlier version of a provider left there), made with the CLI's own ``config set
        --secret``: state encrypts a value's JSON, so the string goes in with its quotes."""
        self("config", "set", "--secret", "storedSecret", json.dumps(value))
        stack_file = yaml.safe_load((self.dir / f"Pulumi.{stack}.yaml").read_text())
        (ciphertext,) = [v["secure"] for k, v in stack_file["config"].items() if k.endswith(":storedSecret")]
        self("config", "rm", "storedSecret")
        signature = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}
        return {**signature, "ciphertext": ciphertext}

    def export(self) -> dict[str, Any]:
        """``pulumi stack export``, checked for plain secrets: the state as the backend holds it."""
        return dict(json.loads(self("stack", "export").stdout))

    def resources(self, type_token: str) -> dict[str, dict[str, Any]]:
        """The state's resources of one type, by resource name."""
        found = {}
        for resource in self.export()["deployment"].get("resources", []):
            if resource["type"] == type_token:
                found[resource["urn"].rsplit("::", 1)[-1]] = resource
        return found


def policy_pack(workdir: Path) -> Path:
    """A copy of the example policy pack whose ``virtualenv`` is the clone's by absolute path:
    the copy lives outside the clone, so the example's relative ``../../.venv`` would miss."""
    pack = workdir / "policy-pack"
    shutil.copytree(ROOT / "examples" / "policy-pack", pack)
    config = yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())
    config["runtime"]["options"]["virtualenv"] = str(ROOT / ".venv")
    (pack / "PulumiPolicy.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return pack


def summary(preview: dict[str, Any]) -> dict[str, int]:
    """A preview's changes by kind, the stack itself left out."""
    counts: dict[str, int] = {}
    for step in preview.get("steps", []):
        if "::pulumi:pulumi:Stack::" in step.get("urn", ""):
            continue
        counts[step["op"]] = counts.get(step["op"], 0) + 1
    return counts
