"""Drive ``python -m pulumi.dynamic`` over gRPC exactly as the Pulumi engine does.

Also a tiny model of the engine's step logic (``Stack.up``/``refresh``/``destroy``): check, then
diff against stored outputs, then create/update/replace/delete; nothing else. Every byte the
plugin says (responses, error details, stdout, stderr) is kept in ``transcript`` so that the
secret-leak tests can search it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar

import grpc
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from pulumi_leadterra import CampaignStateProvider
from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE

from .structs import from_struct, to_struct

PROVIDER_BLOB = serialize_provider(CampaignStateProvider())
_R = TypeVar("_R")


def strip_secrets(props: dict[str, Any]) -> dict[str, Any]:
    """What the engine sends a provider that did not accept secrets: plain values."""
    return {k: rpc.unwrap_rpc_secret(v) for k, v in props.items()}


def _redact(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return "[secret]"
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def visible_text(message: Any) -> str:
    """A response as text, with values the engine will store encrypted shown as [secret]."""
    parts = []
    for descriptor, value in message.ListFields():
        if isinstance(value, struct_pb2.Struct):
            value = _redact(rpc.deserialize_properties(value, keep_unknowns=True))
        parts.append(f"{descriptor.name}={value!r}")
    return " ".join(parts)


class PluginError(Exception):
    """A gRPC error from the plugin; ``details`` is what ``pulumi up`` would print."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


@dataclass
class Resource:
    """What the engine's state file holds for one resource."""

    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class StepLog:
    ops: list[str] = field(default_factory=list)


class Plugin:
    def __init__(self, env: Optional[dict[str, str]] = None) -> None:
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("LEADTERRA_")}
        child_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            err = self.proc.stderr.read().decode() if self.proc.stderr else ""
            raise RuntimeError(f"plugin did not print a port: {line!r} {err}")
        self.port = int(line)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.transcript: list[str] = []

    # -- raw RPCs ---------------------------------------------------------------------------
    def _call(self, name: str, request: Any) -> Any:
        try:
            response = getattr(self.stub, name)(request, timeout=120)
        except grpc.RpcError as exc:
            details = exc.details() or ""
            self.transcript.append(details)
            raise PluginError(exc.code(), details) from None
        self.transcript.append(visible_text(response))
        return response

    def configure(self, config: dict[str, str]) -> None:
        self._call(
            "Configure",
            provider_pb2.ConfigureRequest(
                variables=config, args=to_struct(dict(config)), acceptSecrets=False
            ),
        )

    def check(
        self, olds: dict[str, Any], news: dict[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        response = self._call(
            "Check",
            provider_pb2.CheckRequest(
                urn=_urn(), olds=to_struct(olds), news=to_struct({**news, "__provider": PROVIDER_BLOB})
            ),
        )
        return from_struct(response.inputs), [(f.property, f.reason) for f in response.failures]

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> provider_pb2.DiffResponse:
        return self._call(
            "Diff",
            provider_pb2.DiffRequest(id=id_, urn=_urn(), olds=to_struct(olds), news=to_struct(news)),
        )

    def create(self, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        response = self._call("Create", provider_pb2.CreateRequest(urn=_urn(), properties=to_struct(props)))
        return response.id, from_struct(response.properties)

    def read(self, id_: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        response = self._call(
            "Read", provider_pb2.ReadRequest(id=id_, urn=_urn(), properties=to_struct(props))
        )
        return response.id, from_struct(response.properties)

    def import_(self, id_: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Read with an id and no state, as `pulumi import` would send it: (id, outputs, inputs)."""
        response = self._call(
            "Read",
            provider_pb2.ReadRequest(
                id=id_, urn=_urn(), properties=to_struct({}), inputs=to_struct({"__provider": PROVIDER_BLOB})
            ),
        )
        return response.id, from_struct(response.properties), from_struct(response.inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> dict[str, Any]:
        response = self._call(
            "Update",
            provider_pb2.UpdateRequest(id=id_, urn=_urn(), olds=to_struct(olds), news=to_struct(news)),
        )
        return from_struct(response.properties)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._call("Delete", provider_pb2.DeleteRequest(id=id_, urn=_urn(), properties=to_struct(props)))

    # -- the engine's step logic ----------------------------------------------------------------
    def _plan(self, state: Optional[Resource], news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """check, then diff against stored outputs: ('create'|'same'|'update'|'replace', inputs)."""
        inputs, failures = self.check(state.inputs if state else {}, news)
        if failures:
            raise PluginError(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(f"{p}: {r}" for p, r in failures))
        if state is None:
            return "create", inputs
        diff = self.diff(state.id, strip_secrets(state.outputs), inputs)
        if diff.replaces:
            return "replace", inputs
        return ("update" if diff.changes == provider_pb2.DiffResponse.DIFF_SOME else "same"), inputs

    def preview(self, state: Optional[Resource], news: dict[str, Any]) -> str:
        """What `pulumi preview` decides for one resource; makes no create/update/delete call."""
        return self._plan(state, news)[0]

    def up(self, state: Optional[Resource], news: dict[str, Any], log: Optional[StepLog] = None) -> Resource:
        op, inputs = self._plan(state, news)
        if log is not None:
            log.ops.append(op)
        if op == "same":
            assert state is not None
            return Resource(state.id, inputs, state.outputs)
        if op == "update":
            assert state is not None
            outs = self.update(state.id, strip_secrets(state.outputs), inputs)
            return Resource(state.id, inputs, outs)
        id_, outs = self.create(inputs)
        if op == "replace":
            assert state is not None
            self.delete(state.id, strip_secrets(state.outputs))
        return Resource(id_, inputs, outs)

    def refresh(self, state: Resource) -> Optional[Resource]:
        id_, outs = self.read(state.id, strip_secrets(state.outputs))
        return Resource(id_, state.inputs, outs) if id_ else None

    def destroy(self, state: Resource) -> None:
        self.delete(state.id, strip_secrets(state.outputs))

    # -- shutdown ---------------------------------------------------------------------------------
    def close(self) -> str:
        """Stop the plugin; returns everything it printed, for leak checks."""
        self.channel.close()
        self.proc.terminate()
        try:
            out, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        text = out.decode(errors="replace") + err.decode(errors="replace")
        self.transcript.append(text)
        return text


class PluginStack:
    """A stack across runs, as the engine keeps it: state per resource and stack config, with a
    fresh plugin process per run (the engine starts one per `pulumi` command, so run-level settings
    such as leadterra:heal and leadterra:pauseAll take effect per run).

    ``declare`` plays the program: it returns the declared inputs by resource name.
    """

    def __init__(
        self,
        declare: Callable[[], dict[str, dict[str, Any]]],
        config: dict[str, str],
        env: Optional[dict[str, str]] = None,
    ) -> None:
        self.declare, self.config, self.env = declare, dict(config), dict(env or {})
        self.state: dict[str, Resource] = {}
        self.transcript: list[str] = []

    def set_config(self, key: str, value: str) -> None:
        self.config[key] = value

    def _run(self, body: Callable[[Plugin], _R]) -> _R:
        plugin = Plugin(self.env)
        try:
            plugin.configure(self.config)
            return body(plugin)
        finally:
            plugin.close()
            self.transcript.extend(plugin.transcript)

    def preview(self) -> dict[str, str]:
        """`pulumi preview`: each resource's planned step; nothing is changed."""

        def plan(plugin: Plugin) -> dict[str, str]:
            declared = self.declare()
            ops = {name: plugin.preview(self.state.get(name), news) for name, news in declared.items()}
            ops.update({name: "delete" for name in self.state if name not in declared})
            return ops

        return self._run(plan)

    def up(self) -> dict[str, int]:
        """`pulumi up`: the resource changes by kind, as the Automation API summarises them."""

        def apply(plugin: Plugin) -> dict[str, int]:
            declared = self.declare()
            log = StepLog()
            for name, news in declared.items():
                self.state[name] = plugin.up(self.state.get(name), news, log)
            for name in [n for n in self.state if n not in declared]:
                plugin.destroy(self.state.pop(name))
                log.ops.append("delete")
            return dict(Counter(log.ops))

        return self._run(apply)

    def refresh(self) -> dict[str, Optional[Resource]]:
        """`pulumi refresh`: each resource as read back (None when it is gone, and then dropped)."""

        def read(plugin: Plugin) -> dict[str, Optional[Resource]]:
            seen = {name: plugin.refresh(state) for name, state in self.state.items()}
            self.state = {name: state for name, state in seen.items() if state is not None}
            return seen

        return self._run(read)

    def destroy(self) -> None:
        def remove(plugin: Plugin) -> None:
            for name in list(self.state):
                plugin.destroy(self.state.pop(name))

        self._run(remove)


def _urn() -> str:
    return f"urn:pulumi:test::leadterra::{CAMPAIGN_STATE_TYPE}::r"
