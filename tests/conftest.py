from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pulumi_leadterra.sandbox import SandboxServer
from pulumi_leadterra.sandbox.store import demo_campaign
from tests.plugin_driver import Plugin

TEST_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"


class Sandbox:
    """A sandbox server on loopback, plus helpers that use its admin API over HTTP."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.url = server.url

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, self.url + "/_sandbox" + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def status(self, campaign_id: str) -> str:
        return str(self.admin("GET", f"/campaigns/{campaign_id}")["status"])

    def put(self, campaign_id: str, **fields: Any) -> None:
        self.admin("PUT", f"/campaigns/{campaign_id}", fields)

    def faults(self, *faults: dict[str, Any]) -> None:
        self.admin("POST", "/faults", {"faults": list(faults)})

    def requests(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/requests")["requests"])

    def counts(self) -> Counter[str]:
        """Requests by 'METHOD action' (e.g. 'POST start'), then cleared."""
        counted = Counter(f"{r['method']} {r['path'].rsplit('/', 1)[-1]}" for r in self.requests())
        self.admin("DELETE", "/requests")
        return counted


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    campaigns = [demo_campaign(f"camp_{i}") for i in range(1, 6)]
    campaigns.append(demo_campaign("camp_noleads", leads=0))
    with SandboxServer(state_path=tmp_path / "state.json", campaigns=campaigns) as server:
        yield Sandbox(server)


@pytest.fixture
def plugin(sandbox: Sandbox) -> Iterator[Plugin]:
    """A plugin process configured as `pulumi config set` would: key and base URL in stack config."""
    plug = Plugin()
    plug.configure(
        {
            "leadterra:apiKey": TEST_KEY,
            "leadterra:baseUrl": sandbox.url,
            "leadterra:retryBaseDelay": "0.01",
            "leadterra:retryMaxDelay": "0.05",
        }
    )
    try:
        yield plug
    finally:
        plug.close()
