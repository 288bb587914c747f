"""``leadterra-sandbox`` (``python -m pulumi_leadterra.sandbox``): the command line.

The flags and the first line printed ("leadterra-sandbox listening on URL") are an interface:
scripts and CI read them. Anything unusable (a seed of the wrong shape, a foreign state file, a
host that is not loopback) stops it with one sentence on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import errno
import json
import re
import sys
from pathlib import Path
from typing import Any, Optional

from .admin import MAX_LEADS
from .routes import ID_PATTERN
from .server import SandboxServer, serve
from .store import StateFileError, new_campaign

__all__ = ["SeedError", "main", "parse_seed"]

_ID = re.compile(ID_PATTERN)
_STATUSES = ("draft", "running", "paused")


class SeedError(ValueError):
    """A seed that cannot be loaded; the message names where and what."""


def _seed_campaign(entry: Any, where: str, sep: str = ".") -> dict[str, Any]:
    """One campaign to seed; errors name ``where`` and the field (``campaigns[2].status``, or
    ``--campaign x=stopped status`` with ``sep=" "``)."""
    if not isinstance(entry, dict):
        raise SeedError(f"{where} must be an object like {{\"id\": \"camp_1\"}}")
    campaign_id = entry.get("id")
    if not isinstance(campaign_id, str) or not _ID.fullmatch(campaign_id):
        raise SeedError(f"{where}{sep}id must be 1-128 letters, digits, '_' or '-'")
    status = entry.get("status", "draft")
    if status not in _STATUSES:
        raise SeedError(f"{where}{sep}status is {str(status)[:20]!r}; use draft, running or paused")
    leads = entry.get("leads", 3)
    if isinstance(leads, list):  # an older sandbox's state: the leads themselves
        leads_list = leads
        leads = len(leads)
    else:
        leads_list = None
    if isinstance(leads, bool) or not isinstance(leads, int) or not 0 <= leads <= MAX_LEADS:
        raise SeedError(f"{where}{sep}leads must be a whole number from 0 to {MAX_LEADS}")
    campaign = new_campaign(campaign_id, status, leads)
    for key in ("name", "startedAt", "pausedAt", "createdAt"):
        if isinstance(entry.get(key), str):
            campaign[key] = entry[key]
    if leads_list is not None and all(isinstance(lead, dict) for lead in leads_list):
        campaign["leads"] = leads_list
    return campaign


def parse_seed(path: Path) -> list[dict[str, Any]]:
    """Campaigns from a seed file: ``{"campaigns": [{"id", "status", "leads"}, ...]}``, or an older
    sandbox's JSON state (``{"campaigns": {"camp_1": {...}}}``), to carry its campaigns over."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise SeedError(f"seed file {path} cannot be read ({exc.strerror})") from None
    except (ValueError, RecursionError):
        raise SeedError(f"seed file {path} is not valid JSON") from None
    entries = data.get("campaigns") if isinstance(data, dict) else None
    if isinstance(entries, dict):
        entries = list(entries.values())
    if not isinstance(entries, list):
        raise SeedError(f'seed file {path} must be an object like {{"campaigns": [{{"id": "camp_1"}}]}}')
    try:
        return [_seed_campaign(entry, f"campaigns[{i}]") for i, entry in enumerate(entries)]
    except SeedError as exc:
        raise SeedError(f"seed file {path}: {exc}") from None


def _campaign_flag(spec: str) -> dict[str, Any]:
    campaign_id, _, status = spec.partition("=")
    return _seed_campaign({"id": campaign_id, "status": status or "draft"}, f"--campaign {spec[:60]}", " ")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text[:20]!r} is not a port: use 0-65535 (0 picks a free one)")
    return port


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="leadterra-sandbox",
        description="A local Leadterra-compatible API server on loopback, for demos and tests.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind: 127.0.0.1 (default), ::1, localhost"
    )
    parser.add_argument("--port", type=_port, default=8787, help="port; 0 picks a free one (default 8787)")
    parser.add_argument(
        "--state",
        type=Path,
        default=Path(".leadterra-sandbox/state.json"),
        help="the SQLite file holding the campaigns, shared safely by sandboxes that name it "
        "(default .leadterra-sandbox/state.json)",
    )
    parser.add_argument(
        "--api-key", default=None, help="accept only this key (default: any key starting with sk_test_)"
    )
    parser.add_argument(
        "--campaign",
        action="append",
        default=[],
        metavar="ID[=STATUS]",
        help="seed a ready-to-start campaign (3 leads, 1 step) unless the state has it; repeatable",
    )
    parser.add_argument("--seed", metavar="FILE", help='seed from JSON: {"campaigns": [{"id": ...}]}')
    parser.add_argument("--port-file", type=Path, help="also write the chosen port to this file")
    parser.add_argument("--verbose", action="store_true", help="log each request line to stderr")
    args = parser.parse_args(argv)
    try:
        campaigns = parse_seed(Path(args.seed)) if args.seed else []
        campaigns += [_campaign_flag(spec) for spec in args.campaign]
        server = SandboxServer(args.host, args.port, args.state, args.api_key, campaigns, args.verbose)
    except (SeedError, StateFileError, ValueError, OSError) as exc:
        hint = ""
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            hint = f" (port {args.port} is taken: pick another, or --port 0 for a free one)"
        print(f"leadterra-sandbox: cannot start: {exc}{hint}", file=sys.stderr)
        return 2
    if args.port_file:
        args.port_file.write_text(str(server.httpd.server_address[1]))
    print(f"leadterra-sandbox listening on {server.url}", flush=True)
    serve(server)
    return 0
