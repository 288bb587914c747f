"""Start the policy pack's own analyzer server as the engine does, and talk to it over gRPC."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import grpc
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE

from .structs import to_struct

PACK = Path(__file__).resolve().parent.parent / "examples" / "policy-pack"
LEVELS = {"advisory": 0, "mandatory": 1, "disabled": 2}


class Analyzer:
    def __init__(
        self,
        stack: str,
        config: Optional[dict[str, str]] = None,
        dry_run: bool = True,
        env: Optional[dict[str, str]] = None,
        python: str = sys.executable,
        pack: Path = PACK,
    ) -> None:
        """Start ``pack``'s ``__main__.py`` with ``python``, as the engine does (by default this
        repository's pack in the current interpreter)."""
        env_vars = {k: v for k, v in os.environ.items() if not k.startswith(("PULUMI_", "LEADTERRA_"))}
        env_vars.update(env or {})
        env = env_vars
        env.update(
            PULUMI_PROJECT="leadterra-app",
            PULUMI_STACK=stack,
            PULUMI_DRY_RUN="true" if dry_run else "false",
            PULUMI_CONFIG=json.dumps(config or {}),
        )
        self.proc = subprocess.Popen(
            [python, "-u", str(pack / "__main__.py")],
            cwd=pack,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            raise RuntimeError(
                f"analyzer printed {line!r}: {self.proc.stderr.read().decode() if self.proc.stderr else ''}"
            )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        self.stub = analyzer_pb2_grpc.AnalyzerStub(self.channel)
        self.stub.ConfigureStack(
            analyzer_pb2.AnalyzerStackConfigureRequest(stack=stack, project="leadterra-app", dry_run=dry_run),
            timeout=30,
        )

    def configure(self, policy_config: dict[str, tuple[str, dict[str, Any]]]) -> None:
        request = analyzer_pb2.ConfigureAnalyzerRequest(
            policyConfig={
                name: analyzer_pb2.PolicyConfig(enforcementLevel=LEVELS[level], properties=to_struct(props))
                for name, (level, props) in policy_config.items()
            }
        )
        self.stub.Configure(request, timeout=30)

    def analyze(self, name: str, props: dict[str, Any], type_: str = CAMPAIGN_STATE_TYPE) -> list[Any]:
        request = analyzer_pb2.AnalyzeRequest(
            type=type_, properties=to_struct(props), urn=_urn(name, type_), name=name
        )
        return list(self.stub.Analyze(request, timeout=30).diagnostics)

    def analyze_stack(
        self, resources: list[tuple[str, dict[str, Any]]], type_: str = CAMPAIGN_STATE_TYPE
    ) -> list[Any]:
        request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(type=type_, properties=to_struct(p), urn=_urn(n, type_), name=n)
                for n, p in resources
            ]
        )
        return list(self.stub.AnalyzeStack(request, timeout=30).diagnostics)

    def close(self) -> None:
        self.channel.close()
        self.proc.kill()
        self.proc.communicate(timeout=10)


def _urn(name: str, type_: str) -> str:
    return f"urn:pulumi:stack::leadterra-app::{type_}::{name}"
