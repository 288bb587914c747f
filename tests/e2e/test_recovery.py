"""Recovery after an interrupted `pulumi up`, through the real `pulumi` command on a file backend
(issue 22 point 7; the runbook is docs/recovery.md):

a) a `pulumi` process killed with SIGKILL leaves its lock: the next `up` is refused with the
   diy backend's sentence, `pulumi cancel --yes` deletes the lock files, and the next `up` converges;
b) killed while creates are in flight, it also leaves pending CREATE operations in the
   checkpoint: a preview does not mention them, a plain `pulumi refresh --yes` (not interactive)
   leaves them silently, `up` warns about them in every run (and creates anew, exit 0);
   `pulumi refresh --clear-pending-creates --yes` drops them, and the next `up` converges. Both
   orders: the runbook's (cancel, refresh, up) and up first;
c) a zero-byte ``.attrs`` sidecar next to the checkpoint (what a kill between gocloud fileblob's
   create and write of it leaves) fails every command that reads the stack with ``EOF``; deleting
   the empty file (fileblob treats a missing sidecar as no metadata) brings the state back intact.

Each kill is made deterministic by the sandbox: the requests of the run are held there with a
``delay_ms`` fault, and the run is killed once the fault is used up, i.e. once every one of them
has reached the sandbox. The held requests are answered 500 (to nobody) when the delay ends; no
test step runs before they are, so every step's requests are counted exactly.

After each kill, the processes the run had started (language host, provider plugin) are watched
for a few seconds. Any still alive then is reported as a warning (not a failure: the plugins'
shutdown on a lost engine is being fixed elsewhere) and killed by its PID, so that it can send
nothing more to the sandbox.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

from harness.cli import Project
from harness.programs import ROOT
from harness.sandbox import Sandbox
from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE
from pulumi_leadterra.schema import TYPE_TOKEN
from tests.conftest import TEST_KEY

#: How long the sandbox holds the killed run's requests: longer than the kill and the watch of
#: the processes left behind take, so no leftover can receive the (500) answer and retry.
HOLD_MS = 10_000
#: How long processes of a killed run may outlive it before they are reported as left behind.
GRACE_S = 6.0

# The exact sentences of Pulumi v3.274.1 (pkg/backend/diy/lock.go, pkg/cmd/pulumi/cancel/cancel.go,
# pkg/resource/deploy/deployment_executor.go), as the CLI prints them.
LOCKED = (
    "the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or "
    "delete the lock file with `pulumi cancel`."
)
CANCELED = "The currently running update for 'dev' has been canceled!"
PENDING = "Attempting to deploy or update resources with {n} pending operations from previous deployment."
PENDING_CREATES = (
    "Note that `pulumi refresh` will need to be run interactively to clear pending CREATE operations."
)
PENDING_RESOLUTION = (
    "These resources are in an unknown state because the Pulumi CLI was interrupted while waiting "
    "for changes to these resources to complete. You should confirm whether or not the operations "
    "listed completed successfully by checking the state of the appropriate provider. For example, "
    "if you are using AWS, you can confirm using the AWS Console."
)


# -- one stack per provider -----------------------------------------------------------------------
@dataclass
class _Stack:
    """A project on a file backend, its campaigns, and what its first `up` sends."""

    project: Project
    type_token: str
    #: resource name -> (campaign id, declared status, the status Leadterra reports once held):
    #: a draft campaign held paused stays a draft (it never sent), as the API reports it.
    declared: dict[str, tuple[str, str, str]]
    state: Path = field(init=False)

    def __post_init__(self) -> None:
        self.state = self.project.dir.parent / "state" / ".pulumi"

    @property
    def creates(self) -> dict[str, int]:
        """The requests the creates send: one start per running, one pause per paused campaign."""
        counts: dict[str, int] = {}
        for _, status, _ in self.declared.values():
            key = "POST start" if status == "running" else "POST pause"
            counts[key] = counts.get(key, 0) + 1
        return counts

    def checkpoint_path(self) -> Path:
        (path,) = (self.state / "stacks").glob("*/dev.json")
        return path

    def checkpoint(self) -> dict[str, Any]:
        return dict(json.loads(self.checkpoint_path().read_text())["checkpoint"])

    def pending(self) -> list[tuple[str, str]]:
        """The pending operations in the checkpoint on disk, as (resource name, type)."""
        latest = self.checkpoint().get("latest") or {}
        ops = latest.get("pending_operations") or []
        return sorted((op["resource"]["urn"].rsplit("::", 1)[-1], op["type"]) for op in ops)

    def locks(self) -> list[Path]:
        return sorted(p for p in (self.state / "locks").rglob("*.json"))

    def converged(self, sandbox: Sandbox) -> None:
        """Every campaign as declared at Leadterra and in state; a quiet preview sends nothing."""
        for campaign, _, observed in self.declared.values():
            assert sandbox.status(campaign) == observed, campaign
        outputs = {name: r["outputs"] for name, r in self.project.resources(self.type_token).items()}
        assert {name: o["status"] for name, o in outputs.items()} == {
            name: observed for name, (_, _, observed) in self.declared.items()
        }
        self.project("preview", "--expect-no-changes")
        assert sandbox.drain_counts() == {}


def _resources(export: dict[str, Any]) -> dict[str, Any]:
    """A state export's resources by URN: ID, inputs and outputs, each secret as one placeholder
    (a secret is encrypted anew on every write) and without the write's timestamps."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            if "ciphertext" in value:
                return "<secret>"
            return {k: plain(v) for k, v in value.items() if k not in ("created", "modified")}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return {r["urn"]: plain(r) for r in export["deployment"].get("resources", [])}


def _stack(tmp_path: Path, sandbox: Sandbox, kind: str) -> _Stack:
    project = Project(tmp_path, secrets=[TEST_KEY])
    if kind == "yaml":
        project.yaml_program(ROOT / "examples" / "yaml" / "Pulumi.yaml", plugin_by_path=True)
        declared = {f"c{i}": (f"camp_{i}", "running", "running") for i in (1, 2, 3)}
        project.declare(
            {
                name: {"type": TYPE_TOKEN, "properties": {"campaignId": campaign, "status": status}}
                for name, (campaign, status, _) in declared.items()
            }
        )
        token = TYPE_TOKEN
    else:  # the quickstart on the dynamic provider: launch held running, legacy held paused
        project.python_program("quickstart", ROOT / "examples" / "quickstart" / "__main__.py")
        declared = {
            "launch": ("camp_demo", "running", "running"),
            "legacy": ("camp_legacy", "paused", "draft"),
        }
        token = CAMPAIGN_STATE_TYPE
    for campaign, _, _ in declared.values():
        sandbox.put(campaign, status="draft", leads=3)
    project.init(sandbox.url, TEST_KEY, retryBaseDelay="0.01")
    sandbox.clear_requests()
    return _Stack(project, token, declared)


# -- a kill -9 in the middle of a run -------------------------------------------------------------
@dataclass
class _Proc:
    pid: int
    start: str  # /proc/PID/stat's starttime: a PID reused by another process is not this one
    cmd: str


def _stat(pid: int) -> Optional[list[str]]:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd (state) on


def _descendants(root: int) -> list[_Proc]:
    """Every live process under ``root``, found through /proc's parent links."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        fields = _stat(pid)
        if fields is None:
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        found.append(_Proc(pid, fields[19], cmd))
    return found


def _alive(proc: _Proc) -> bool:
    fields = _stat(proc.pid)
    return fields is not None and fields[19] == proc.start and fields[0] != "Z"


def _until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def _remaining_faults(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The faults not used up yet (adding none returns the list)."""
    return list(sandbox.admin("POST", "/faults", {"faults": []})["faults"])


@dataclass
class _Killed:
    pid: int
    output: str
    left: list[tuple[_Proc, float]]  # processes alive GRACE_S after the kill, with seconds seen


def _kill_mid_run(
    stack: _Stack,
    sandbox: Sandbox,
    args: list[str],
    faults: list[dict[str, Any]],
    ready: Callable[[], bool] = lambda: True,
) -> _Killed:
    """Run ``pulumi *args`` with ``faults`` holding its requests; once every fault is used up
    (each held request is at the sandbox) and ``ready()`` holds, SIGKILL the `pulumi` process;
    then watch the processes it had started."""
    sandbox.faults(*faults)
    log = stack.project.dir.parent / f"killed-{len(stack.project.transcript)}.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(stack.project.cli), *args],
            cwd=stack.project.dir,
            env=stack.project.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _until(lambda: not _remaining_faults(sandbox) and ready(), 45, "the run's requests")
        tree = _descendants(proc.pid)
        proc.kill()  # SIGKILL, to this PID only: what an OOM kill or a lost CI runner does
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    killed_at = time.monotonic()
    output = log.read_text()
    stack.project._record(output)  # checked for the key, as every command's output is
    assert proc.returncode == -signal.SIGKILL, output

    left = [p for p in tree if _alive(p)]
    while left and time.monotonic() - killed_at < GRACE_S:
        time.sleep(0.1)
        left = [p for p in left if _alive(p)]
    seen = time.monotonic() - killed_at
    report = []
    for p in left:
        report.append((p, seen))
        try:
            os.kill(p.pid, signal.SIGKILL)  # a process this test started, by its PID
        except ProcessLookupError:
            pass
    if report:
        warnings.warn(
            f"`pulumi {' '.join(args)}` killed (pid {proc.pid}): still alive {seen:.1f} s later, "
            "killed by the test: " + "; ".join(f"pid {p.pid} {p.cmd[:160]}" for p, _ in report),
            stacklevel=2,
        )
    return _Killed(proc.pid, output, report)


def _held_requests_answered(sandbox: Sandbox, counts: dict[str, int]) -> None:
    """Wait for the sandbox to answer the held requests (500, to a closed socket), then check that
    they were all the killed run sent, and empty the log."""
    expected = sum(counts.values())
    _until(lambda: len(sandbox.requests()) >= expected, HOLD_MS / 1000 + 15, "the held requests' answers")
    time.sleep(0.3)  # anything else the killed run had sent would be in the log by now
    requests = sandbox.requests()
    assert {r["status"] for r in requests} == {500}, requests
    assert sandbox.drain_counts() == counts


# -- a) the lock a killed run leaves ------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["yaml", "dynamic"])
def test_a_killed_run_leaves_its_lock_and_cancel_clears_it(
    tmp_path: Path, sandbox: Sandbox, kind: str
) -> None:
    stack = _stack(tmp_path, sandbox, kind)
    stack.project.up()
    assert sandbox.drain_counts() == stack.creates
    before = _resources(stack.project.export())

    # `up --refresh` reads every campaign (in its preview, under the lock, before any change is
    # written): killed there, it leaves a lock and nothing else.
    reads = {"GET stats": len(stack.declared)}
    killed = _kill_mid_run(
        stack,
        sandbox,
        ["up", "--yes", "--refresh"],
        [{"delay_ms": HOLD_MS, "match": "/stats", "times": len(stack.declared)}],
    )
    (lock,) = stack.locks()
    assert json.loads(lock.read_text())["pid"] == killed.pid
    _held_requests_answered(sandbox, reads)
    assert stack.pending() == []

    # The next up is refused before the program runs or anything is sent.
    refused = stack.project.up(check=False)
    output = refused.stdout + refused.stderr
    assert refused.returncode == 1 and refused.stdout == "", output
    assert refused.stderr.startswith("error: " + LOCKED + "\n"), output
    lock_line = re.search(r"^  (file://\S+): created by (\S+) \(pid (\d+)\) at (\S+)$", output, re.M)
    # The lock's address is the backend URL as the CLI opened it, query and all: not a path.
    assert lock_line and lock_line.group(1) == lock.as_uri() + "?no_tmp_dir=true", output
    assert int(lock_line.group(3)) == killed.pid
    assert sandbox.drain_counts() == {}

    # `pulumi cancel` on a file backend deletes every lock file of the stack; it sends nothing.
    canceled = stack.project("cancel", "--yes")
    assert CANCELED in canceled.stdout and stack.locks() == []
    assert sandbox.drain_counts() == {}

    # The next up converges: nothing to change, nothing sent, the state as it was.
    stack.project.up()
    assert sandbox.drain_counts() == {}
    assert _resources(stack.project.export()) == before
    stack.converged(sandbox)
    assert stack.locks() == []


# -- b) pending creates ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "order"), [("yaml", "runbook"), ("yaml", "up-first"), ("dynamic", "runbook")]
)
def test_pending_creates_after_a_kill_are_cleared_by_refresh(
    tmp_path: Path, sandbox: Sandbox, kind: str, order: str
) -> None:
    stack = _stack(tmp_path, sandbox, kind)
    creating = sorted((name, "creating") for name in stack.declared)
    faults = [
        {"delay_ms": HOLD_MS, "match": "/" + action.split()[1], "times": n}
        for action, n in stack.creates.items()
    ]
    killed = _kill_mid_run(
        stack, sandbox, ["up", "--yes", "--skip-preview"], faults, ready=lambda: stack.pending() == creating
    )
    _held_requests_answered(sandbox, stack.creates)
    assert stack.pending() == creating and stack.project.resources(stack.type_token) == {}
    (lock,) = stack.locks()
    assert json.loads(lock.read_text())["pid"] == killed.pid
    for campaign, _, _ in stack.declared.values():  # no request got through: all still drafts
        assert sandbox.status(campaign) == "draft"
    # As far as anyone can tell from the state, an interrupted start may have reached Leadterra
    # before the kill: here one did, and that campaign is running already.
    campaign = next(c for c, status, _ in stack.declared.values() if status == "running")
    sandbox.put(campaign, status="running")
    sandbox.clear_requests()

    if order == "runbook":
        # A preview neither takes the lock nor mentions the pending operations: it plans the
        # creates again, and sends nothing.
        preview = stack.project("preview")
        assert "pending" not in preview.stdout + preview.stderr
        assert f"+ {len(stack.declared)} to create" in preview.stdout
        stack.project("cancel", "--yes")
        # A plain refresh with --yes (as CI runs it: not interactive) leaves pending creates as
        # they are, and says nothing about them.
        plain = stack.project("refresh", "--yes")
        assert "pending" not in plain.stdout + plain.stderr and stack.pending() == creating
        # --clear-pending-creates drops them: a state edit; with no campaign in state yet, the
        # refresh that follows reads nothing.
        stack.project("refresh", "--clear-pending-creates", "--yes")
        assert stack.pending() == [] and sandbox.drain_counts() == {}
        # The next up creates each campaign (start and pause are idempotent: the campaign whose
        # start got through is started again, harmlessly), with no warning.
        after = stack.project.up()
        assert "pending operations" not in after.stdout + after.stderr
        assert sandbox.drain_counts() == stack.creates
    else:
        # An up straight after the cancel warns, then creates each campaign anyway; the pending
        # operations stay in the state, and every up would warn again.
        stack.project("cancel", "--yes")
        warned = stack.project.up()
        text = warned.stdout + warned.stderr
        assert PENDING.format(n=len(stack.declared)) in text and PENDING_RESOLUTION in text, text
        assert PENDING_CREATES in text, text
        for name, _ in creating:
            line = rf"^\s*\* urn:pulumi:dev::\S+::{name}, interrupted while creating$"
            assert re.search(line, text, re.M), text
        assert sandbox.drain_counts() == stack.creates
        assert stack.pending() == creating
        again = stack.project.up()  # exit 0, nothing to do, and the same warning
        assert PENDING.format(n=len(stack.declared)) in again.stdout and sandbox.drain_counts() == {}
        # --clear-pending-creates drops them (a state edit, nothing sent), then the refresh reads
        # each campaign twice: once for its preview, once for the refresh.
        stack.project("refresh", "--clear-pending-creates", "--yes")
        assert stack.pending() == []
        assert sandbox.drain_counts() == {"GET stats": 2 * len(stack.declared)}
        after = stack.project.up()
        assert "pending operations" not in after.stdout + after.stderr
        assert sandbox.drain_counts() == {}
    stack.converged(sandbox)
    assert stack.pending() == [] and stack.locks() == []


# -- c) an empty .attrs sidecar -------------------------------------------------------------------
#: What each command prints (all of it, on stderr) while the checkpoint's sidecar is empty.
EMPTY_ATTRS_ERRORS = {
    ("up", "--yes"): "error: failed to load checkpoint: EOF",
    ("preview",): "error: failed to load checkpoint: EOF",
    ("stack", "export"): "error: failed to load checkpoint: EOF",
    ("cancel", "--yes"): "error: failed to load checkpoint: EOF",
    ("stack", "ls"): "error: EOF",
}


def test_an_empty_attrs_file_next_to_the_checkpoint(tmp_path: Path, sandbox: Sandbox) -> None:
    stack = _stack(tmp_path, sandbox, "yaml")
    stack.project.up()
    assert sandbox.drain_counts() == stack.creates
    before = stack.project.export()
    attrs = stack.checkpoint_path().with_name("dev.json.attrs")
    assert json.loads(attrs.read_text())["md5"]  # what fileblob writes next to every object

    attrs.write_bytes(b"")  # what a kill between fileblob's os.Create and its JSON encode leaves
    for args, error in EMPTY_ATTRS_ERRORS.items():
        failed = stack.project(*args, check=False)
        assert (failed.returncode, failed.stdout, failed.stderr.strip()) == (1, "", error), args
    assert sandbox.drain_counts() == {}

    # Recovery: delete the empty sidecar files; fileblob reads a missing one as "no metadata".
    empty = [p for p in stack.state.rglob("*.attrs") if p.stat().st_size == 0]
    assert empty == [attrs]
    for path in empty:
        path.unlink()
    assert stack.project.export() == before  # the checkpoint itself was never touched
    stack.project.up()
    assert sandbox.drain_counts() == {}
    assert json.loads(attrs.read_text())["md5"]  # the next write puts the sidecar back
    stack.converged(sandbox)
