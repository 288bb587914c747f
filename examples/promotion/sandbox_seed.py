"""Print a sandbox seed for a stack: every campaign the stack file declares, ready to start.

    python examples/promotion/sandbox_seed.py examples/promotion/Pulumi.dev.yaml > seed.json
    leadterra-sandbox --seed seed.json

CI seeds each job's sandbox this way, so a campaign added to a dev or staging stack file works
without editing any other file. Declared-running campaigns are seeded as drafts with leads (the
first `up` starts them); declared-paused ones as running (the first `up` pauses them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

CAMPAIGNS_KEY = "leadterra-promotion:campaigns"


def seed_for(stack_file: Path) -> dict[str, Any]:
    config = (yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}
    declared = config.get(CAMPAIGNS_KEY) or {}
    if not isinstance(declared, dict):
        raise SystemExit(f"{stack_file}: {CAMPAIGNS_KEY} must map logical names to campaigns")
    campaigns = []
    for name, entry in declared.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise SystemExit(f"{stack_file}: campaign {name!r} needs an id")
        status = "running" if entry.get("status", "running") == "paused" else "draft"
        campaigns.append({"id": entry["id"], "status": status, "leads": 3, "name": str(name)})
    return {"campaigns": campaigns}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: sandbox_seed.py STACK_FILE")
    print(json.dumps(seed_for(Path(sys.argv[1])), indent=2))
