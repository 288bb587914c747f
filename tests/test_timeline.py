"""A GitOps history, played through the plugin protocol (and the analyzer where policies matter).

One test, many runs: every `pulumi` command starts its own plugin process with the stack's config
of that moment (`PluginStack`), state carries over between runs as the engine keeps it, and after
every step the test asserts both the state and the exact requests Leadterra received.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from pulumi.runtime import rpc

from harness.analyzer import Analyzer
from harness.engine import PluginError, PluginStack
from harness.sandbox import Sandbox

DEV_KEY = "sk_test_DEVKEY000000000001"
DEV_KEY_ROTATED = "sk_test_DEVKEY000000000002"
INPUT_KEY = "sk_test_INPUTKEY0000000003"
INPUT_KEY_ROTATED = "sk_test_INPUTKEY0000000004"
PROD_KEY = "sk_test_PRODKEY00000000005"  # prod's own workspace; a sandbox stands in for it here


def _expect(sandbox: Sandbox, expected: dict[str, int]) -> None:
    """The requests since the last step, exactly; then the log starts afresh."""
    seen = Counter(f"{r['method']} {r['path'].rsplit('/', 1)[-1]}" for r in sandbox.requests())
    sandbox.admin("DELETE", "/requests")
    assert seen == Counter(expected)


def test_a_gitops_history(sandbox: Sandbox, plugin_kind: str) -> None:
    dev_program: dict[str, dict[str, Any]] = {
        "launch": {"campaign_id": "camp_1", "status": "running", "reconcile": True},
        "legacy": {"campaign_id": "camp_3", "status": "paused", "pause_on_delete": True},
    }
    dev = PluginStack(
        lambda: dev_program, {"leadterra:baseUrl": sandbox.url, "leadterra:apiKey": DEV_KEY}, kind=plugin_kind
    )
    policy = Analyzer("dev", {"leadterra:baseUrl": sandbox.url, "leadterra:apiKey": DEV_KEY})
    try:
        # 1. The pull request that adds the campaigns: preview only, policy-checked.
        assert dev.preview() == {"launch": "create", "legacy": "create"}
        assert all(policy.analyze(name, news) == [] for name, news in dev_program.items())
        _expect(sandbox, {})

        # 2. Merge: up. One start, one pause.
        assert dev.up() == {"create": 2}
        _expect(sandbox, {"POST start": 1, "POST pause": 1})
        assert dev.state["launch"].outputs["status"] == "running"
        assert dev.state["legacy"].outputs["status"] == "draft"

        # 3. Another pull request that does not touch the campaigns: no diff, no request.
        assert set(dev.preview().values()) == {"same"}
        _expect(sandbox, {})

        # 4. Five scheduled runs (the Operator's resync): nothing to do, nothing sent.
        for _ in range(5):
            assert dev.up() == {"same": 2}
            _expect(sandbox, {})

        # 5. Incident in the dashboard: camp_1 paused by a person. Everyday runs respect it.
        sandbox.put("camp_1", status="paused")
        _expect(sandbox, {})
        assert dev.up() == {"same": 2}
        _expect(sandbox, {})

        # 6. The scheduled heal run resumes it (one start) and records the heal.
        dev.set_config("leadterra:heal", "true")
        assert dev.up() == {"update": 1, "same": 1}
        _expect(sandbox, {"POST start": 1})
        assert sandbox.status("camp_1") == "running"
        assert dev.state["launch"].outputs["healed_at"] == dev.state["launch"].outputs["started_at"]
        dev.set_config("leadterra:heal", "false")

        # 7. The brake on: it trusts no state, so every resource previews as an update and every
        # run pauses each one (the paused one too); heal runs no start.
        dev.set_config("leadterra:pauseAll", "true")
        assert dev.preview() == {"launch": "update", "legacy": "update"}
        _expect(sandbox, {})
        assert dev.up() == {"update": 2}
        _expect(sandbox, {"POST pause": 2})
        assert dev.state["launch"].inputs["status"] == "paused"
        dev.set_config("leadterra:heal", "true")
        for _ in range(2):
            dev.up()
            _expect(sandbox, {"POST pause": 2})  # every campaign re-asserted paused; never a start
        assert sandbox.status("camp_1") == "paused"

        # 8. The brake off: back to the declarations (heal still on: one start, nothing else).
        dev.set_config("leadterra:pauseAll", "false")
        dev.set_config("leadterra:heal", "false")
        assert dev.preview() == {"launch": "update", "legacy": "same"}
        assert dev.up() == {"update": 1, "same": 1}
        _expect(sandbox, {"POST start": 1})
        assert sandbox.status("camp_1") == "running"

        # 9. A pull request adds a campaign without leads; preflight fails the preview.
        dev.set_config("leadterra:preflight", "true")
        dev_program["cold"] = {"campaign_id": "camp_noleads", "status": "running"}
        with pytest.raises(PluginError, match="no_leads_enrolled"):
            dev.preview()
        _expect(sandbox, {"GET stats": 1})  # only the new one is looked at
        del dev_program["cold"]
        assert set(dev.preview().values()) == {"same"}
        _expect(sandbox, {})
        dev.set_config("leadterra:preflight", "false")

        # 10. Drift detection: camp_3 started by someone; refresh infers it, up --refresh pauses.
        dev.refresh()
        _expect(sandbox, {"GET stats": 2})
        sandbox.put("camp_3", status="running")
        _expect(sandbox, {})
        seen = dev.refresh()
        _expect(sandbox, {"GET stats": 2})
        legacy = seen["legacy"]
        assert legacy is not None and legacy.outputs["status"] == "running" and legacy.outputs["drift"]
        assert dev.up() == {"update": 1, "same": 1}
        _expect(sandbox, {"POST pause": 1})
        assert sandbox.status("camp_3") == "paused"

        # 11. Key rotation in stack config during an incident (camp_1 paused in the dashboard):
        # every resource updates state once, and nothing is sent, so camp_1 stays paused.
        sandbox.put("camp_1", status="paused")
        dev.set_config("leadterra:apiKey", DEV_KEY_ROTATED)
        assert dev.preview() == {"launch": "update", "legacy": "update"}
        assert dev.up() == {"update": 2}
        _expect(sandbox, {})
        assert sandbox.status("camp_1") == "paused"
        sandbox.put("camp_1", status="running")  # the incident is over: resumed by hand
        sandbox.accept_keys(DEV_KEY_ROTATED, INPUT_KEY, INPUT_KEY_ROTATED, PROD_KEY)  # old key revoked
        dev.refresh()
        _expect(sandbox, {"GET stats": 2})

        # 12. Key rotation in an input: one update, state holds the new key (as a secret).
        dev_program["launch"]["api_key"] = INPUT_KEY
        assert dev.up() == {"update": 1, "same": 1}
        dev_program["launch"]["api_key"] = INPUT_KEY_ROTATED
        assert dev.preview() == {"launch": "update", "legacy": "same"}
        assert dev.up() == {"update": 1, "same": 1}
        _expect(sandbox, {})  # two key updates, no call
        stored = dev.state["launch"].outputs["api_key"]
        assert rpc.is_rpc_secret(stored) and rpc.unwrap_rpc_secret(stored) == INPUT_KEY_ROTATED
        sandbox.accept_keys(DEV_KEY_ROTATED, INPUT_KEY_ROTATED, PROD_KEY)
        dev.refresh()
        _expect(sandbox, {"GET stats": 2})

        # 13. Promotion: camp_2 goes to prod, its own stack and key; the prod policy run passes.
        prod_program: dict[str, dict[str, Any]] = {}
        prod = PluginStack(
            lambda: prod_program,
            {"leadterra:baseUrl": sandbox.url, "leadterra:apiKey": PROD_KEY},
            kind=plugin_kind,
        )
        prod_program["q4"] = {"campaign_id": "camp_2", "status": "running", "pause_on_delete": True}
        prod_policy = Analyzer("prod", {"leadterra:apiKey": "sk_live_PRODUCTION"})
        try:
            assert prod_policy.analyze("q4", prod_program["q4"]) == []
        finally:
            prod_policy.close()
        # The same live key on dev would have been stopped.
        dev_live = Analyzer(
            "dev", {"leadterra:baseUrl": sandbox.url, "leadterra:apiKey": "sk_live_PRODUCTION"}
        )
        try:
            (violation,) = dev_live.analyze("q4", prod_program["q4"])
            assert "sk_live_PRODUCTION" not in violation.message
        finally:
            dev_live.close()
        assert prod.preview() == {"q4": "create"}
        _expect(sandbox, {})
        assert prod.up() == {"create": 1}
        _expect(sandbox, {"POST start": 1})
        assert set(dev.preview().values()) == {"same"}  # dev is untouched by prod's change
        _expect(sandbox, {})

        # 14. Removal: launch leaves as it is; legacy (pause_on_delete) gets one pause; then destroy.
        del dev_program["launch"]
        assert dev.preview() == {"launch": "delete", "legacy": "same"}
        assert dev.up() == {"delete": 1, "same": 1}
        _expect(sandbox, {})
        assert sandbox.status("camp_1") == "running"
        dev.destroy()
        _expect(sandbox, {"POST pause": 1})
        prod.destroy()
        _expect(sandbox, {"POST pause": 1})
        assert dev.state == {} and prod.state == {}
    finally:
        policy.close()

    everything = "\n".join(dev.transcript)
    for key in (DEV_KEY, DEV_KEY_ROTATED, INPUT_KEY, INPUT_KEY_ROTATED):
        assert key not in everything
