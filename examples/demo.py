"""`make demo`: from a fresh clone to a running campaign, against a local sandbox.

Steps: start the sandbox (loopback, temporary state, seeded), get a Pulumi CLI (the one `make
engine` left in .pulumi-cli/bin, then PATH, then a download through the Automation API), then run
the quickstart project (`examples/quickstart`) with a local file backend through `STEPS`: the day-2 story of a
GitOps stack (quiet re-runs, a dashboard pause, a heal run, the incident brake, destroy); then
`examples/launch-window` through `window_steps`: a launch declared a few seconds ahead, created
held paused, left alone by a run before the window, started by the first run after it. The
sandbox runs inside this process, so it stops whenever this process does, Ctrl-C included.

`STEPS` and `run_steps` are the whole demo: the real CLI runs them through the Automation API
(`AutomationStack`), and the test suite runs the very same function with the engine's plugin
protocol standing in for the CLI.

Exit status: 0 done, 1 a step failed, 3 no Pulumi CLI could be had.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Optional, Protocol

import requests

from pulumi_leadterra.sandbox import SandboxServer
from pulumi_leadterra.sandbox.store import new_campaign

ROOT = Path(__file__).resolve().parent.parent
# Where `make engine` leaves the CLI (bin/pulumi); LEADTERRA_DEMO_CLI_DIR moves it (the tests do).
LOCAL_CLI = Path(os.environ.get("LEADTERRA_DEMO_CLI_DIR") or ROOT / ".pulumi-cli")
QUICKSTART = ROOT / "examples" / "quickstart"
DEMO_KEY = "sk_test_demo_key_0000000000"
CAMPAIGNS = ("camp_demo", "camp_legacy", "camp_window")
LAUNCH_WINDOW = ROOT / "examples" / "launch-window"
#: How far ahead of the demo's own clock the launch window opens: room for two `pulumi up`s.
WINDOW_LEAD_SECONDS = 60.0
HOW_TO_INSTALL = (
    "run make engine (it finds, downloads or builds one into .pulumi-cli/bin), or install it "
    "(https://www.pulumi.com/docs/install/), and run make demo again."
)
NO_CLI = (
    "make demo needs the Pulumi CLI: none is in .pulumi-cli or on PATH, and none could be downloaded "
    "(no network?); " + HOW_TO_INSTALL
)
NO_CLI_OFFLINE = (
    "make demo needs the Pulumi CLI: none is in .pulumi-cli or on PATH, and the download was skipped "
    "because LEADTERRA_DEMO_OFFLINE is set; " + HOW_TO_INSTALL
)


@dataclass(frozen=True)
class Step:
    """One step of the demo: what it says, the stack config it sets, what it does, what must hold."""

    say: str
    # "up", "destroy", "dashboard-pause" (camp_demo, through the sandbox admin API), or
    # "wait-for-window" (sleep until the launch window opens)
    action: str
    config: dict[str, str] = field(default_factory=dict)
    quiet: bool = False  # the up must change nothing at all
    expect: dict[str, str] = field(default_factory=dict)  # campaign status afterwards


STEPS: tuple[Step, ...] = (
    Step(
        "pulumi up: start camp_demo, hold camp_legacy paused",
        "up",
        expect={"camp_demo": "running", "camp_legacy": "paused"},
    ),
    Step("pulumi up again: nothing to do, no request", "up", quiet=True),
    Step("someone pauses camp_demo in the dashboard", "dashboard-pause", expect={"camp_demo": "paused"}),
    Step(
        "pulumi up without heal (what every pull request and merge runs): the pause is respected",
        "up",
        quiet=True,
        expect={"camp_demo": "paused"},
    ),
    Step(
        "pulumi up with leadterra:heal=true (the scheduled heal run): camp_demo resumed, healed_at set",
        "up",
        config={"leadterra:heal": "true"},
        expect={"camp_demo": "running"},
    ),
    Step(
        "incident: leadterra:pauseAll=true, pulumi up: one pause per campaign, whatever state says",
        "up",
        config={"leadterra:heal": "false", "leadterra:pauseAll": "true"},
        expect={"camp_demo": "paused", "camp_legacy": "paused"},
    ),
    Step(
        "incident over: leadterra:pauseAll=false, pulumi up: back to the declarations",
        "up",
        config={"leadterra:pauseAll": "false"},
        expect={"camp_demo": "running", "camp_legacy": "paused"},
    ),
    Step(
        "pulumi destroy: campaigns are left as they are (no pause_on_delete)",
        "destroy",
        expect={"camp_demo": "running", "camp_legacy": "paused"},
    ),
)


def window_steps(start_at: str) -> tuple[Step, ...]:
    """The launch window, opening at ``start_at``: declared, a run before it, a run after it."""
    return (
        Step(
            f"declare camp_window with start_at={start_at}: pulumi up creates it held paused "
            "(a draft stays draft)",
            "up",
            config={"launch-window:startAt": start_at},
            expect={"camp_window": "draft"},
        ),
        Step("pulumi up before the window: nothing to do, no request", "up", quiet=True),
        Step(f"waiting for the window to open at {start_at}", "wait-for-window"),
        Step(
            "pulumi up after start_at (what the scheduled run does): camp_window started",
            "up",
            expect={"camp_window": "running"},
        ),
        Step("pulumi destroy", "destroy", expect={"camp_window": "running"}),
    )


class DemoStack(Protocol):
    """What the steps need from a stack: the real CLI, or the plugin protocol in the tests."""

    def set_config(self, key: str, value: str) -> None: ...

    def get_config(self, key: str) -> str: ...

    def up(self) -> dict[str, int]:
        """Run `pulumi up`; the resource changes by kind, e.g. {"same": 2}."""
        ...

    def destroy(self) -> None: ...


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def show_status(sandbox_url: str) -> dict[str, str]:
    """Print and return each demo campaign's status as the sandbox reports it."""
    statuses = {}
    for campaign_id in CAMPAIGNS:
        shown = requests.get(f"{sandbox_url}/_sandbox/campaigns/{campaign_id}", timeout=10).json()
        statuses[campaign_id] = str(shown["status"])
        print(f"    {campaign_id}: {statuses[campaign_id]}", flush=True)
    return statuses


def start_sandbox(state_dir: Path) -> SandboxServer:
    seeded = [
        new_campaign("camp_demo"),
        new_campaign("camp_legacy", status="running"),
        new_campaign("camp_window"),
    ]
    return SandboxServer(state_path=state_dir / "sandbox.json", campaigns=seeded).start()


def find_cli() -> Optional[Any]:
    """The CLI `make engine` left in .pulumi-cli/bin, else one on PATH, else one installed into
    .pulumi-cli now; or None."""
    try:
        from pulumi.automation import PulumiCommand
    except ImportError:
        return None
    try:
        return PulumiCommand(root=str(LOCAL_CLI))
    except Exception:  # noqa: BLE001 - not there yet
        pass
    if shutil.which("pulumi"):
        return PulumiCommand()
    if os.environ.get("LEADTERRA_DEMO_OFFLINE"):
        return None
    say("no Pulumi CLI on PATH; installing one into .pulumi-cli through the Automation API")
    # The SDK's download sets no timeout; without one, a network that drops packets would hang
    # the demo instead of ending it with the sentence below.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)
    try:
        return PulumiCommand.install(root=str(LOCAL_CLI))
    except Exception:  # noqa: BLE001 - any failure here means "no CLI", said in one sentence
        return None
    finally:
        socket.setdefaulttimeout(previous)


def run_steps(stack: DemoStack, sandbox_url: str, steps: tuple[Step, ...] = STEPS) -> None:
    """The demo itself: every step of ``steps``, each checked against the sandbox afterwards."""
    stack.set_config("leadterra:apiKey", DEMO_KEY)
    stack.set_config("leadterra:baseUrl", sandbox_url)
    for step in steps:
        say(step.say)
        for key, value in step.config.items():
            stack.set_config(key, value)
        if step.action == "up":
            changes = stack.up()
            print(f"    resource changes: {changes}", flush=True)
            if step.quiet and set(changes) - {"same"}:
                raise RuntimeError(f"this up was expected to change nothing, got {changes}")
        elif step.action == "destroy":
            stack.destroy()
        elif step.action == "wait-for-window":
            opens = datetime.fromisoformat(stack.get_config("launch-window:startAt"))
            time.sleep(max(0.0, (opens - datetime.now(UTC)).total_seconds()) + 1)
            continue
        else:
            requests.put(f"{sandbox_url}/_sandbox/campaigns/camp_demo", json={"status": "paused"}, timeout=10)
        statuses = show_status(sandbox_url)
        for campaign_id, status in step.expect.items():
            if statuses[campaign_id] != status:
                seen = statuses[campaign_id]
                raise RuntimeError(f"after this step {campaign_id} should be {status}, not {seen}")


class AutomationStack:
    """A `DemoStack` over the real CLI, through the Automation API, with a local file backend."""

    def __init__(self, cli: Any, work: Path, project: Path = QUICKSTART) -> None:
        from pulumi import automation as auto

        self._auto = auto
        backend = work / "backend"
        backend.mkdir(exist_ok=True)
        self._project = project
        workspace = auto.LocalWorkspaceOptions(
            work_dir=str(project),
            pulumi_command=cli,
            env_vars={
                "PULUMI_BACKEND_URL": backend.as_uri(),
                "PULUMI_CONFIG_PASSPHRASE": "leadterra-demo",
                "PULUMI_SKIP_UPDATE_CHECK": "true",
            },
        )
        self._stack = auto.create_or_select_stack(stack_name="demo", work_dir=str(project), opts=workspace)

    def set_config(self, key: str, value: str) -> None:
        secret = key == "leadterra:apiKey"
        self._stack.set_config(key, self._auto.ConfigValue(value, secret=secret))

    def get_config(self, key: str) -> str:
        return str(self._stack.get_config(key).value)

    def up(self) -> dict[str, int]:
        return dict(self._stack.up(on_output=print).summary.resource_changes or {})

    def destroy(self) -> None:
        self._stack.destroy(on_output=print)
        self._stack.workspace.remove_stack("demo")
        (self._project / "Pulumi.demo.yaml").unlink(missing_ok=True)  # its stack file, in the clone


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="leadterra-demo-") as tmp:
        work = Path(tmp)
        sandbox = start_sandbox(work)
        try:
            say(f"sandbox listening on {sandbox.url} (state in {work})")
            show_status(sandbox.url)
            cli = find_cli()
            if cli is None:
                offline = bool(os.environ.get("LEADTERRA_DEMO_OFFLINE"))
                print(NO_CLI_OFFLINE if offline else NO_CLI, file=sys.stderr, flush=True)
                return 3
            run_steps(AutomationStack(cli, work), sandbox.url)
            opens = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=WINDOW_LEAD_SECONDS)
            run_steps(AutomationStack(cli, work, LAUNCH_WINDOW), sandbox.url, window_steps(opens.isoformat()))
            say("done")
            return 0
        except KeyboardInterrupt:
            print("interrupted; sandbox stopped", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 - one readable line, not a traceback
            print(f"demo failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        finally:
            sandbox.stop()


if __name__ == "__main__":
    raise SystemExit(main())
