"""Run a Pulumi program file under pulumi.runtime.set_mocks and return what it declared."""

from __future__ import annotations

import asyncio
import json
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pulumi
import yaml
from pulumi.runtime import rpc

from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Declared:
    name: str
    inputs: dict[str, Any]
    type: str = CAMPAIGN_STATE_TYPE
    secret_inputs: tuple[str, ...] = ()


class Recorder(pulumi.runtime.Mocks):
    """Pulumi's mocks, recording every resource a program declares.

    Each resource's outputs are its inputs (without ``__provider``), plus ``observed``: what the
    provider would report (by default, the declared status as the observed one).
    """

    def __init__(self, observed: Optional[dict[str, Any]] = None) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.observed = observed

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        outs = {k: v for k, v in args.inputs.items() if k != "__provider"}
        outs.update(self.observed if self.observed is not None else {"status": args.inputs.get("status")})
        return str(args.inputs.get("campaign_id", args.name)), outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return {}, []


def stack_config(
    project_dir: Path, stack: Optional[str], project_file: Optional[Path] = None
) -> dict[str, str]:
    """A stack file's config as the engine hands it to a program: namespaced keys, JSON objects.
    (ESC environments listed in the file would add to it; the examples keep only keys there.)"""
    project = yaml.safe_load((project_file or project_dir / "Pulumi.yaml").read_text())["name"]
    if stack is None:
        return {}
    raw = yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text()).get("config", {})
    config = {}
    for key, value in raw.items():
        full = key if ":" in key else f"{project}:{key}"
        config[full] = value if isinstance(value, str) else json.dumps(value)
    return config


def run_program(
    program: Path, project: str, stack: str, config: dict[str, str], all_types: bool = False
) -> list[Declared]:
    """Execute ``program`` (a __main__.py) as the engine would, with mocks instead of the engine."""
    asyncio.set_event_loop(asyncio.new_event_loop())
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, project=project, stack=stack, preview=False)
    pulumi.runtime.set_all_config(config)

    @pulumi.runtime.test
    def _run() -> None:
        runpy.run_path(str(program), run_name="__main__")

    _run()
    return [
        Declared(
            r.name,
            {k: rpc.unwrap_rpc_secret(v) for k, v in r.inputs.items() if k != "__provider"},
            r.typ,
            tuple(k for k, v in r.inputs.items() if rpc.is_rpc_secret(v)),
        )
        for r in recorder.resources
        if all_types or r.typ == CAMPAIGN_STATE_TYPE
    ]
