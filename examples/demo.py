"""`make demo`: from a fresh clone to a running campaign, against a local sandbox.

Steps: start the sandbox (loopback, temporary state, seeded), get a Pulumi CLI (PATH, then a
project-local install through the Automation API), then run the root project (`Pulumi.yaml`,
program `examples/quickstart`) with a local file backend: up, up (no changes), a pause behind
Pulumi's back, up (healed by reconcile=True), destroy. The sandbox runs inside this process, so it
stops whenever this process does, Ctrl-C included.

Exit status: 0 done, 1 a step failed, 3 no Pulumi CLI could be had.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import requests

from pulumi_leadterra.sandbox import SandboxServer
from pulumi_leadterra.sandbox.store import demo_campaign

ROOT = Path(__file__).resolve().parent.parent
LOCAL_CLI = ROOT / ".pulumi-cli"
DEMO_KEY = "sk_test_demo_key_0000000000"
CAMPAIGNS = ("camp_demo", "camp_legacy")
NO_CLI = (
    "make demo needs the Pulumi CLI: none is on PATH and none could be installed into .pulumi-cli "
    "(no network?); install it (https://www.pulumi.com/docs/install/, or "
    "'curl -fsSL https://get.pulumi.com | sh') and run make demo again."
)


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def show_status(sandbox: SandboxServer) -> None:
    for campaign_id in CAMPAIGNS:
        shown = requests.get(f"{sandbox.url}/_sandbox/campaigns/{campaign_id}", timeout=10).json()
        print(f"    {campaign_id}: {shown['status']}", flush=True)


def start_sandbox(state_dir: Path) -> SandboxServer:
    seeded = [demo_campaign("camp_demo"), demo_campaign("camp_legacy", status="running")]
    return SandboxServer(state_path=state_dir / "sandbox.json", campaigns=seeded).start()


def find_cli() -> Optional[Any]:
    """The Pulumi CLI on PATH, else one in .pulumi-cli, else one installed there now; or None."""
    try:
        from pulumi.automation import PulumiCommand
    except ImportError:
        return None
    if shutil.which("pulumi"):
        return PulumiCommand()
    try:
        return PulumiCommand(root=str(LOCAL_CLI))
    except Exception:  # noqa: BLE001 - not installed there yet
        pass
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


def run_pulumi(cli: Any, sandbox: SandboxServer, work: Path) -> None:
    from pulumi import automation as auto

    backend = work / "backend"
    backend.mkdir()
    workspace = auto.LocalWorkspaceOptions(
        work_dir=str(ROOT),
        pulumi_command=cli,
        env_vars={
            "PULUMI_BACKEND_URL": backend.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": "leadterra-demo",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        },
    )
    stack = auto.create_or_select_stack(stack_name="demo", work_dir=str(ROOT), opts=workspace)
    stack.set_config("leadterra:apiKey", auto.ConfigValue(DEMO_KEY, secret=True))
    stack.set_config("leadterra:baseUrl", auto.ConfigValue(sandbox.url))
    out = print

    stack.set_config("reconcile", auto.ConfigValue("false"))

    say("pulumi up: start camp_demo, hold camp_legacy paused")
    stack.up(on_output=out)
    show_status(sandbox)

    say("pulumi up again: nothing to do")
    changes = stack.up(on_output=out).summary.resource_changes or {}
    print(f"    resource changes: {changes}", flush=True)
    if set(changes) - {"same"}:
        raise RuntimeError(f"the second up was expected to change nothing, got {changes}")

    for attempt in ("turn on reconcile=True", "reconcile=True again, with no input change at all"):
        say("someone pauses camp_demo in the dashboard, behind Pulumi's back")
        requests.put(f"{sandbox.url}/_sandbox/campaigns/camp_demo", json={"status": "paused"}, timeout=10)
        show_status(sandbox)
        say(f"pulumi up, {attempt}: it re-sends start and heals the pause")
        stack.set_config("reconcile", auto.ConfigValue("true"))
        stack.up(on_output=out)
        show_status(sandbox)

    say("pulumi destroy: campaigns are left as they are (no pause_on_delete)")
    stack.destroy(on_output=out)
    show_status(sandbox)
    stack.workspace.remove_stack("demo")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="leadterra-demo-") as tmp:
        work = Path(tmp)
        sandbox = start_sandbox(work)
        try:
            say(f"sandbox listening on {sandbox.url} (state in {work})")
            show_status(sandbox)
            cli = find_cli()
            if cli is None:
                print(NO_CLI, file=sys.stderr, flush=True)
                return 3
            run_pulumi(cli, sandbox, work)
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
