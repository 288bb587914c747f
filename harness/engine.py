"""Drive ``python -m pulumi.dynamic`` over gRPC exactly as the Pulumi engine does.

Also a tiny model of the engine's step logic (``Stack.up``/``refresh``/``destroy``): check, then
diff against stored outputs, then create/update/replace/delete; nothing else. Every byte the
plugin says (responses, error details, stdout, stderr) is kept in ``transcript`` so that the
secret-leak tests can search it.

What the real engine (``tests/e2e/``) showed this model must also say, and now does: a refresh
here is ``pulumi refresh --skip-preview`` (the CLI's default refresh previews first and so reads
twice); the engine puts its own flags before the address when it starts a plugin (see
``tests/test_engine_contract.py``); a native Diff is read for its detailed diff, not only for
``changes``; and a Read that finds nothing must leave the properties unset (`import_` returns
None for them), since the engine imports any present struct as found.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar

import grpc
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from pulumi_leadterra import CampaignStateProvider
from pulumi_leadterra.resource import CAMPAIGN_STATE_TYPE
from pulumi_leadterra.schema import TYPE_TOKEN as NATIVE_TYPE
from pulumi_leadterra.schema import to_camel, to_snake

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


class EngineStandIn:
    """Where the engine listens: a gRPC server on loopback whose address a plugin is started
    with, as the real engine starts it. The plugins watch that address and exit once it refuses
    connections (`pulumi_leadterra.lifeline`); `stop` plays the engine killed with ``kill -9``."""

    def __init__(self) -> None:
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        self.address = f"127.0.0.1:{self._server.add_insecure_port('127.0.0.1:0')}"
        self._server.start()

    def stop(self) -> None:
        self._server.stop(0).wait(5)


class Plugin:
    """The dynamic provider, ``python -m pulumi.dynamic``, driven as the engine drives it."""

    kind = "dynamic"
    type_token = CAMPAIGN_STATE_TYPE
    #: The command, without the engine's address (the engine puts it last, after its flags).
    command = [sys.executable, "-u", "-m", "pulumi.dynamic"]

    def __init__(self, env: Optional[dict[str, str]] = None) -> None:
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("LEADTERRA_")}
        child_env.update(env or {})
        self.env = env
        self.config: dict[str, str] = {}
        self.engine = EngineStandIn()
        self.proc = subprocess.Popen(
            [*self.command, self.engine.address],
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
        self.config = dict(config)
        self._call(
            "Configure",
            provider_pb2.ConfigureRequest(
                variables=config, args=to_struct(dict(config)), acceptSecrets=False
            ),
        )

    def next_run(self) -> Plugin:
        """A new plugin process configured as this one, for the next `pulumi` command: the
        engine starts one per run, and a run's provider remembers what its checks declared
        (a pause_on_delete delete skips a campaign that the run declares running)."""
        plugin = make_plugin(self.kind, self.env)
        plugin.configure(self.config)
        return plugin

    def __enter__(self) -> Plugin:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # What the provider speaks: the dynamic provider takes the Python names, with ``__provider``.
    def _send(self, props: dict[str, Any]) -> struct_pb2.Struct:
        return to_struct(props)

    def _receive(self, struct: struct_pb2.Struct) -> dict[str, Any]:
        return from_struct(struct)

    def python_name(self, name: str) -> str:
        return name

    def spelled(self, text: str) -> str:
        """``text`` as this provider's users are told it: the Python names, here."""
        return text

    def engine_view(self, outputs: dict[str, Any]) -> dict[str, Any]:
        """Stored outputs as the engine sends them back: plain, since this provider does not
        accept secrets."""
        return strip_secrets(outputs)

    def _urn(self) -> str:
        return f"urn:pulumi:test::leadterra::{self.type_token}::r"

    def check(
        self, olds: dict[str, Any], news: dict[str, Any]
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        response = self._call(
            "Check",
            provider_pb2.CheckRequest(
                urn=self._urn(), olds=self._send(olds), news=self._send({**news, "__provider": PROVIDER_BLOB})
            ),
        )
        failures = [(self.python_name(f.property), f.reason) for f in response.failures]
        return self._receive(response.inputs), failures

    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> provider_pb2.DiffResponse:
        return self._call(
            "Diff",
            provider_pb2.DiffRequest(id=id_, urn=self._urn(), olds=self._send(olds), news=self._send(news)),
        )

    def create(self, props: dict[str, Any], preview: bool = False) -> tuple[str, dict[str, Any]]:
        response = self._call(
            "Create",
            provider_pb2.CreateRequest(urn=self._urn(), properties=self._send(props), preview=preview),
        )
        return response.id, self._receive(response.properties)

    def read(self, id_: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        response = self._call(
            "Read", provider_pb2.ReadRequest(id=id_, urn=self._urn(), properties=self._send(props))
        )
        return response.id, self._receive(response.properties)

    def import_(self, id_: str) -> tuple[str, Optional[dict[str, Any]], dict[str, Any]]:
        """Read with an id and no state, as `pulumi import` would send it: (id, outputs, inputs).

        Outputs are None when the response leaves them unset: the engine's sign that the
        resource does not exist (a present, even empty, struct is imported as found)."""
        response = self._call(
            "Read",
            provider_pb2.ReadRequest(
                id=id_,
                urn=self._urn(),
                properties=self._send({}),
                inputs=self._send({"__provider": PROVIDER_BLOB}),
            ),
        )
        outputs = self._receive(response.properties) if response.HasField("properties") else None
        return response.id, outputs, self._receive(response.inputs)

    def update(
        self, id_: str, olds: dict[str, Any], news: dict[str, Any], preview: bool = False
    ) -> dict[str, Any]:
        response = self._call(
            "Update",
            provider_pb2.UpdateRequest(
                id=id_, urn=self._urn(), olds=self._send(olds), news=self._send(news), preview=preview
            ),
        )
        return self._receive(response.properties)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._call(
            "Delete", provider_pb2.DeleteRequest(id=id_, urn=self._urn(), properties=self._send(props))
        )

    # -- the engine's step logic ----------------------------------------------------------------
    def _plan(self, state: Optional[Resource], news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """check, then diff against stored outputs: ('create'|'same'|'update'|'replace', inputs)."""
        inputs, failures = self.check(state.inputs if state else {}, news)
        if failures:
            raise PluginError(grpc.StatusCode.INVALID_ARGUMENT, "; ".join(f"{p}: {r}" for p, r in failures))
        if state is None:
            return "create", inputs
        diff = self.diff(state.id, self.engine_view(state.outputs), inputs)
        if diff.replaces:
            return "replace", inputs
        return ("update" if diff.changes == provider_pb2.DiffResponse.DIFF_SOME else "same"), inputs

    def preview(self, state: Optional[Resource], news: dict[str, Any]) -> str:
        """What `pulumi preview` decides for one resource; makes no create/update/delete call."""
        return self._plan(state, news)[0]

    def up(
        self,
        state: Optional[Resource],
        news: dict[str, Any],
        log: Optional[StepLog] = None,
        replace: bool = False,
    ) -> Resource:
        """One resource's step of `pulumi up`; ``replace`` as `pulumi up --replace URN` (or
        ``replaceOnChanges``) forces it: create the new one, then delete the old one."""
        op, inputs = self._plan(state, news)
        if replace and state is not None:
            op = "replace"
        if log is not None:
            log.ops.append(op)
        if op == "same":
            assert state is not None
            return Resource(state.id, inputs, state.outputs)
        if op == "update":
            assert state is not None
            outs = self.update(state.id, self.engine_view(state.outputs), inputs)
            return Resource(state.id, inputs, outs)
        id_, outs = self.create(inputs)
        if op == "replace":
            assert state is not None
            self.delete(state.id, self.engine_view(state.outputs))
        return Resource(id_, inputs, outs)

    def refresh(self, state: Resource) -> Optional[Resource]:
        id_, outs = self.read(state.id, self.engine_view(state.outputs))
        return Resource(id_, state.inputs, outs) if id_ else None

    def destroy(self, state: Resource) -> None:
        self.delete(state.id, self.engine_view(state.outputs))

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
        self.engine.stop()
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
        kind: str = "dynamic",
    ) -> None:
        self.declare, self.config, self.env, self.kind = declare, dict(config), dict(env or {}), kind
        self.state: dict[str, Resource] = {}
        self.transcript: list[str] = []

    def set_config(self, key: str, value: str) -> None:
        self.config[key] = value

    def get_config(self, key: str) -> str:
        return self.config[key]

    def _run(self, body: Callable[[Plugin], _R]) -> _R:
        plugin = make_plugin(self.kind, self.env)
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


_USER_SPELLING = (
    ("campaign_id", "campaignId"),
    ("pause_on_delete", "pauseOnDelete"),
    ("api_key", "apiKey"),
    ("base_url", "baseUrl"),
    ("start_at", "startAt"),
    ("stop_at", "stopAt"),
    ("True or False", "true or false"),
)


class NativePlugin(Plugin):
    """The native provider plugin, ``python -m pulumi_leadterra.plugin ENGINE``, driven as the
    engine drives a provider that accepts secrets and supports previews. The tests speak the
    Python names; this driver translates to the schema's camelCase and back at the wire."""

    kind = "native"
    type_token = NATIVE_TYPE
    command = [sys.executable, "-u", "-m", "pulumi_leadterra.plugin"]

    def _send(self, props: dict[str, Any]) -> struct_pb2.Struct:
        return to_struct({to_camel(k): v for k, v in props.items() if k != "__provider"})

    def _receive(self, struct: struct_pb2.Struct) -> dict[str, Any]:
        return {to_snake(k): v for k, v in from_struct(struct).items()}

    def python_name(self, name: str) -> str:
        return to_snake(name)

    def spelled(self, text: str) -> str:
        """As a YAML or TypeScript user is told it: the schema's names (written out here, not
        taken from the plugin, so that the tests can catch the plugin saying otherwise)."""
        for python, schema in _USER_SPELLING:
            text = text.replace(python, schema)
        return text

    def engine_view(self, outputs: dict[str, Any]) -> dict[str, Any]:
        return outputs  # secrets stay secrets for a provider that accepts them

    def configure(self, config: dict[str, str]) -> None:
        """As the engine configures a real provider: ``args`` (camelCase, the key a secret) and
        ``variables`` (``leadterra:config:apiKey``)."""
        args: dict[str, Any] = {}
        variables: dict[str, str] = {}
        self.config = dict(config)
        for key, value in config.items():
            name = key.split(":", 1)[1]
            args[name] = rpc.wrap_rpc_secret(value) if name == "apiKey" else value
            variables[f"leadterra:config:{name}"] = value
        self._call(
            "Configure",
            provider_pb2.ConfigureRequest(
                variables=variables, args=to_struct(args), acceptSecrets=True, acceptResources=True
            ),
        )

    def preview(self, state: Optional[Resource], news: dict[str, Any]) -> str:
        """As the engine previews with a provider that supports it: Create or Update with
        ``preview=True`` too (they must send nothing)."""
        op, inputs = self._plan(state, news)
        if op in ("create", "replace"):
            self.create(inputs, preview=True)
        elif op == "update":
            assert state is not None
            self.update(state.id, state.outputs, inputs, preview=True)
        return op


PLUGIN_KINDS = ("dynamic", "native")


def make_plugin(kind: str, env: Optional[dict[str, str]] = None) -> Plugin:
    """A plugin process of either kind, for suites that run against both providers."""
    return NativePlugin(env) if kind == "native" else Plugin(env)
