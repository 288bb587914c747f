"""Talk to a running sandbox's admin API (/_sandbox) over HTTP: used by tests and benchmarks."""

from __future__ import annotations

from collections import Counter
from typing import Any

import requests


class Sandbox:
    """A sandbox server on loopback, plus helpers that use its admin API over HTTP."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = requests.Session()
        self._http.trust_env = False  # the admin API is loopback: never through a test's proxy env

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, self.url + "/_sandbox" + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def status(self, campaign_id: str) -> str:
        return str(self.admin("GET", f"/campaigns/{campaign_id}")["status"])

    def put(self, campaign_id: str, **fields: Any) -> None:
        self.admin("PUT", f"/campaigns/{campaign_id}", fields)

    def faults(self, *faults: dict[str, Any]) -> None:
        self.admin("POST", "/faults", {"faults": list(faults)})

    def accept_keys(self, *keys: str) -> None:
        """Accept only these keys from now on (a rotation or a revocation in the dashboard)."""
        self.admin("POST", "/settings", {"apiKeys": list(keys)})

    def requests(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "/requests")["requests"])

    def counts(self) -> Counter[str]:
        """Requests so far by 'METHOD action' (e.g. 'POST start'); the log is left as it is."""
        return Counter(f"{r['method']} {r['path'].rsplit('/', 1)[-1]}" for r in self.requests())

    def clear_requests(self) -> None:
        """Empty the request log: what follows is counted from zero."""
        self.admin("DELETE", "/requests")

    def drain_counts(self) -> Counter[str]:
        """`counts()`, then `clear_requests()`: the requests of one step, and a fresh log."""
        counted = self.counts()
        self.clear_requests()
        return counted
