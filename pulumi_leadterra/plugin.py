"""The native provider plugin: `Lifecycle` adapted to the engine's provider protocol, for every
Pulumi language (TypeScript, Go, C#, YAML...), as ``pulumi-resource-leadterra``.

Run ``python -m pulumi_leadterra.plugin ENGINE_ADDRESS`` (or ``pulumi-resource-leadterra``): it
prints its port and serves ``leadterra:index:CampaignState``. Started with no address (under a
debugger), it waits for the engine to attach (``PULUMI_DEBUG_PROVIDERS=leadterra:PORT``).

It serves the generated gRPC servicer directly, on grpc's thread-pool server: each call runs on a
thread of its own and may block on HTTP there, with no event loop, no hand-over to a second pool
and no intermediate property model between the wire and `Lifecycle` (issue 24 measured those as
most of the plugin's cost per resource). It prints its port as soon as the server listens, after
importing no more than ``import pulumi`` does; `Lifecycle`, the HTTP client and urllib3 load at
Configure. The engine starts a plugin that only answers GetSchema too (for a YAML program, the
host's, once per command): that one never loads them.

What it adapts: the wire's property values (secrets, unknowns, numbers as floats) to
`Lifecycle`'s plain snake_case values and back, with every input that arrived secret leaving
secret (the engine stores what a provider that accepts secrets returns, as it returns it) and
``apiKey`` always secret; the core's diff to the engine's detailed diff, so a preview lists each
changed property; messages in the schema's names (``apiKey``, not ``api_key``); a
`LeadterraError` to one clean sentence for the user instead of a traceback; previews, where the
engine calls Create and Update with ``preview=True``: they send nothing and return what is known;
Cancel, which ends the calls in flight; and an engine that is gone (``lifeline``), after which it
sends nothing and exits.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import re
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Optional, TypeVar

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc

from ._unknown import UNKNOWN
from ._version import __version__
from .errors import LeadterraError
from .lifeline import engine_address, watch_engine
from .schema import PACKAGE, SCHEMA, to_camel, to_snake

if TYPE_CHECKING:
    from .lifecycle import Lifecycle

__all__ = ["LeadterraServicer", "main"]

_T = TypeVar("_T")
#: Threads serving calls: wide enough for the engine's parallelism (``pulumi up --parallel``
#: defaults to 4 per CPU, and users raise it); the transport keeps as many connections per
#: origin (``transport.MAX_CONCURRENCY``, asserted equal by a test), so no call opens one only
#: to drop it. A literal here, so that printing the port does not wait for urllib3.
_WORKERS = 64
#: The wire's markers (pulumi/sdk/go/common/resource/plugin/rpc.go): a secret is an object
#: ``{_SIG: _SECRET, "value": ...}``; an unknown is this string.
_SIG = "4dabf18193072939515e22adb298388d"
_SECRET = "1b47061264138c4ac30d75fd1eb44270"  # noqa: S105 - a marker, not a password
_UNKNOWN_WIRE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
#: Outputs a preview cannot know before the call is made.
_OBSERVED = ("status", "startedAt", "pausedAt", "healedAt", "drift", "stats")
_KINDS = {
    "add": provider_pb2.PropertyDiff.ADD,
    "delete": provider_pb2.PropertyDiff.DELETE,
    "update": provider_pb2.PropertyDiff.UPDATE,
    "update-replace": provider_pb2.PropertyDiff.UPDATE_REPLACE,
}
_SNAKE_WORDS = re.compile(
    r"\b(campaign_id|pause_on_delete|base_url|api_key_source|api_key|held_status|start_at|stop_at)\b"
)


def user_words(text: str) -> str:
    """A sentence of the core's in the schema's names: a YAML or TypeScript user wrote
    ``apiKey``, ``campaignId``, ``pauseOnDelete``, and that is what they are told about."""
    text = _SNAKE_WORDS.sub(lambda match: to_camel(match.group(1)), text)
    return text.replace("True or False", "true or false")


# -- the wire's values and Lifecycle's ------------------------------------------------------------
def _from_wire(value: struct_pb2.Value) -> tuple[Any, bool]:
    """A value from the wire as plain Python, and whether a secret was inside it."""
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        text = value.string_value
        return (UNKNOWN if text == _UNKNOWN_WIRE else text), False
    if kind == "bool_value":
        return value.bool_value, False
    if kind == "number_value":
        return value.number_value, False
    if kind == "struct_value":
        fields = value.struct_value.fields
        if _SIG in fields and fields[_SIG].string_value == _SECRET:
            return (_from_wire(fields["value"])[0] if "value" in fields else None), True
        plain, secret = {}, False
        for key, item in fields.items():
            plain[key], inside = _from_wire(item)
            secret = secret or inside
        return plain, secret
    if kind == "list_value":
        items, secret = [], False
        for item in value.list_value.values:
            plain_item, inside = _from_wire(item)
            items.append(plain_item)
            secret = secret or inside
        return items, secret
    return None, False  # null


def _read(struct: struct_pb2.Struct) -> tuple[dict[str, Any], frozenset[str]]:
    """Properties from the engine in `Lifecycle`'s names, and the ones that held a secret (so they
    leave secret too)."""
    plain: dict[str, Any] = {}
    secret = set()
    fields = struct.fields
    for name in fields:  # by key: the map's items() is a pure-Python view over it
        plain[to_snake(name)], inside = _from_wire(fields[name])
        if inside:
            secret.add(name)
    return plain, frozenset(secret)


class _Stored(Mapping[str, Any]):
    """Properties from the engine, in `Lifecycle`'s names, each converted when it is read.

    For Check's ``olds`` (the stored inputs), of which the core reads two or three: converting
    all of them was a third of Check's own instructions, on every resource of every preview.
    """

    __slots__ = ("_fields",)

    def __init__(self, struct: struct_pb2.Struct) -> None:
        self._fields = struct.fields

    def __getitem__(self, name: str) -> Any:
        value = self._fields.get(to_camel(name))
        if value is None:
            raise KeyError(name)
        return _from_wire(value)[0]

    def get(self, name: str, default: Any = None) -> Any:
        value = self._fields.get(to_camel(name))
        return default if value is None else _from_wire(value)[0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and to_camel(name) in self._fields

    def __iter__(self) -> Iterator[str]:
        return (to_snake(name) for name in self._fields)

    def __len__(self) -> int:
        return len(self._fields)


def _to_wire(plain: Any) -> Any:
    if plain is UNKNOWN:
        return _UNKNOWN_WIRE
    if isinstance(plain, bool) or plain is None or isinstance(plain, str):
        return plain
    if isinstance(plain, int | float):
        return float(plain)
    if isinstance(plain, Mapping):
        return {str(key): _to_wire(item) for key, item in plain.items()}
    if isinstance(plain, list | tuple):
        return [_to_wire(item) for item in plain]
    return str(plain)


def _write(plain: Mapping[str, Any], secret: frozenset[str] = frozenset()) -> struct_pb2.Struct:
    """Properties for the engine, in the schema's names. Once a provider accepts secrets the
    engine marks nothing for it, so what arrived secret is marked again here, and the key always
    is. An unknown stays a plain unknown: a secret around it reads as a known secret null."""
    struct = struct_pb2.Struct()
    fields = struct.fields
    rest: dict[str, Any] = {}
    for name, value in plain.items():
        if value is None:
            continue
        camel = to_camel(name)
        if (camel in secret or camel == "apiKey") and value is not UNKNOWN:
            rest[camel] = {_SIG: _SECRET, "value": _to_wire(value)}
        elif type(value) is str:  # most properties: set in place (Struct.update is pure Python)
            fields[camel].string_value = value
        elif type(value) is bool:
            fields[camel].bool_value = value
        else:
            rest[camel] = _to_wire(value)
    if rest:
        struct.update(rest)
    return struct


def _planned(inputs: struct_pb2.Struct) -> struct_pb2.Struct:
    """A preview's outputs: the inputs, and whatever the call would observe left unknown."""
    planned = struct_pb2.Struct()
    planned.CopyFrom(inputs)
    planned.update({name: _UNKNOWN_WIRE for name in _OBSERVED})
    return planned


def _secret_key(struct: struct_pb2.Struct) -> struct_pb2.Struct:
    """The provider's configuration with ``apiKey`` marked secret, however it arrived.

    The engine strips secrets from what it sends CheckConfig and stores what CheckConfig returns
    as the provider's inputs and outputs, marked as returned (plus what the program marked): a
    key from plain stack config (the default provider), or a plain string on an explicit
    provider in Pulumi YAML (whose provider resources no SDK wraps), would otherwise be stored
    in clear. An unknown stays a plain unknown.
    """
    key = struct.fields.get("apiKey")
    if key is None or key.HasField("struct_value") or key.string_value == _UNKNOWN_WIRE:
        return struct
    marked = struct_pb2.Struct()
    marked.CopyFrom(struct)
    marked.update({"apiKey": {_SIG: _SECRET, "value": struct["apiKey"]}})
    return marked


# -- the servicer -------------------------------------------------------------------------------
def _clean_errors(method: Callable[..., _T]) -> Callable[..., _T]:
    """A `LeadterraError` ends the call with the one sentence the README promises, in the schema's
    names; anything else with its type, message and traceback, for a bug report."""

    @functools.wraps(method)
    def call(self: LeadterraServicer, request: Any, context: grpc.ServicerContext) -> _T:
        try:
            return method(self, request, context)
        except LeadterraError as error:
            context.abort(grpc.StatusCode.UNKNOWN, user_words(f"{type(error).__name__}: {error}"))
        except Exception as error:  # noqa: BLE001 - reported to the engine, which shows it
            text = "".join(traceback.format_exception(error))
            context.abort(grpc.StatusCode.UNKNOWN, f"{type(error).__name__}: {error}\n{text}")
        raise AssertionError("context.abort returned")  # pragma: no cover - it always raises

    return call


class LeadterraServicer(provider_pb2_grpc.ResourceProviderServicer):  # type: ignore[misc]
    """The provider the plugin serves; one per plugin process, configured once by the engine."""

    def __init__(self, engine: str = "") -> None:
        self._engine = engine
        self._core: Optional[Lifecycle] = None
        self._explicit = False  # set by CheckConfig: an explicit provider resource, not the default
        self._lock = threading.Lock()

    @property
    def core(self) -> Lifecycle:
        if self._core is None:  # the engine always configures first; be safe outside it
            from .lifecycle import Lifecycle
            from .settings import Settings

            with self._lock:
                if self._core is None:
                    self._core = Lifecycle(Settings.load())
        return self._core

    def GetPluginInfo(self, request: Any, context: Any) -> Any:  # noqa: N802 - the RPC's name
        return plugin_pb2.PluginInfo(version=__version__)

    def GetSchema(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.GetSchemaResponse(schema=_schema_text())

    def Parameterize(self, request: Any, context: Any) -> Any:  # noqa: N802
        # The engine reads UNIMPLEMENTED as "this provider takes no parameters".
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "the leadterra provider takes no parameters")

    def Handshake(self, request: Any, context: Any) -> Any:  # noqa: N802
        # The engine then configures the provider as before (Configure with its address known
        # from the command line). The generated servicer's answer is the same code, but through
        # an exception that grpc logs, with a traceback, on every start.
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "the leadterra provider is configured by Configure")

    def GetMapping(self, request: Any, context: Any) -> Any:  # noqa: N802
        # No conversion mappings (pulumi convert, Terraform bridges): an empty answer, as the
        # engine expects of a provider that has none.
        return provider_pb2.GetMappingResponse()

    def GetMappings(self, request: Any, context: Any) -> Any:  # noqa: N802
        return provider_pb2.GetMappingsResponse()

    def Attach(self, request: Any, context: Any) -> Any:  # noqa: N802
        # PULUMI_DEBUG_PROVIDERS: the engine hands its address to a provider it did not start.
        self._engine = request.address
        return empty_pb2.Empty()

    @_clean_errors
    def CheckConfig(self, request: Any, context: Any) -> Any:  # noqa: N802
        # The default provider is named default (default_X_Y_Z); any other is an explicit
        # provider resource, whose apiKey is its own property, not the stack's config.
        self._explicit = not request.urn.rsplit("::", 1)[-1].startswith("default")
        # Settings are validated where they are used: check reports each problem before any
        # request, on the resource that would use it.
        return provider_pb2.CheckResponse(inputs=_secret_key(request.news))

    @_clean_errors
    def DiffConfig(self, request: Any, context: Any) -> Any:  # noqa: N802
        """Each changed setting, so a preview names it (``~ baseUrl``, ``~ apiKey: [secret]``).

        Never a replacement: replacing the provider would replace every campaign it holds. What
        a new setting means for each campaign is decided per resource (a new endpoint: one call
        there; a new key: state only), in the diffs that follow with the new configuration.
        """
        olds, _ = _read(request.olds)
        news, _ = _read(request.news)
        detailed = {}
        for name in sorted(set(olds) | set(news)):
            old, new = olds.get(name), news.get(name)
            if new is UNKNOWN or old != new:
                kind = _KINDS["add" if old is None else "delete" if new is None else "update"]
                detailed[to_camel(name)] = provider_pb2.PropertyDiff(kind=kind, inputDiff=True)
        return _diff_response(detailed, [])

    @_clean_errors
    def Configure(self, request: Any, context: Any) -> Any:  # noqa: N802
        from .diagnostics import EngineLog
        from .lifecycle import Lifecycle
        from .settings import Settings

        args, _ = _read(request.args)
        variables = dict(request.variables)

        def get(key: str) -> Any:
            name = key.split(":", 1)[1]
            if to_snake(name) in args:
                return args[to_snake(name)]
            return variables.get(f"{PACKAGE}:config:{name}")

        source = "provider" if self._explicit else "config"
        warn = EngineLog(self._engine or None).warning
        self._core = Lifecycle(Settings.load(get, config_source=source), warn=warn)
        return provider_pb2.ConfigureResponse(acceptSecrets=True, supportsPreview=True)

    @_clean_errors
    def Check(self, request: Any, context: Any) -> Any:  # noqa: N802
        news, secret = _read(request.news)
        inputs, failures = self.core.check(_Stored(request.olds), news)
        return provider_pb2.CheckResponse(
            inputs=_write(inputs, secret),
            failures=[
                provider_pb2.CheckFailure(property=to_camel(prop), reason=user_words(reason))
                for prop, reason in failures
            ],
        )

    @_clean_errors
    def Diff(self, request: Any, context: Any) -> Any:  # noqa: N802
        olds, _ = _read(request.olds)
        news, _ = _read(request.news)
        diff = self.core.diff(olds, news)
        # Old *outputs* against new inputs (inputDiff false) is what the core compared, and what
        # the preview then shows: `~ status: "running" => "paused"`.
        detailed = {
            to_camel(name): provider_pb2.PropertyDiff(kind=_KINDS[kind], inputDiff=False)
            for name, kind in diff.detailed.items()
        }
        return _diff_response(detailed, [to_camel(name) for name in diff.replaces])

    @_clean_errors
    def Create(self, request: Any, context: Any) -> Any:  # noqa: N802
        if request.preview:
            return provider_pb2.CreateResponse(properties=_planned(request.properties))
        props, secret = _read(request.properties)
        outs = self.core.create(props)
        return provider_pb2.CreateResponse(id=outs["campaign_id"], properties=_write(outs, secret))

    @_clean_errors
    def Update(self, request: Any, context: Any) -> Any:  # noqa: N802
        if request.preview:
            return provider_pb2.UpdateResponse(properties=_planned(request.news))
        olds, _ = _read(request.olds)
        news, secret = _read(request.news)
        return provider_pb2.UpdateResponse(properties=_write(self.core.update(olds, news), secret))

    @_clean_errors
    def Read(self, request: Any, context: Any) -> Any:  # noqa: N802
        props, props_secret = _read(request.properties)
        inputs, inputs_secret = _read(request.inputs)
        read_id, outs, read_inputs = self.core.read(request.id, props or inputs)
        if not read_id:
            # The campaign is gone. The engine takes a present (even empty) properties struct as
            # "the resource exists": an import of a missing campaign would then write an empty one.
            return provider_pb2.ReadResponse()
        secret = props_secret | inputs_secret
        # A refresh keeps the stored inputs; an import gets the ones read.
        return provider_pb2.ReadResponse(
            id=read_id,
            properties=_write(outs, secret),
            inputs=_write(read_inputs, secret) if read_inputs is not None else request.inputs,
        )

    @_clean_errors
    def Delete(self, request: Any, context: Any) -> Any:  # noqa: N802
        props, _ = _read(request.properties)
        self.core.delete(request.id, props)
        return empty_pb2.Empty()

    def Cancel(self, request: Any, context: Any) -> Any:  # noqa: N802
        # Ctrl-C: calls in flight end now with a clean error, queued and later ones at once.
        self.cancel()
        return empty_pb2.Empty()

    def cancel(self) -> None:
        """End the calls in flight and refuse later ones (nothing to end before Configure)."""
        if self._core is not None:
            self._core.cancel()


def _diff_response(detailed: dict[str, Any], replaces: list[str]) -> Any:
    if not detailed:  # the common answer (every unchanged resource of a preview), built cheaply
        return provider_pb2.DiffResponse(changes=provider_pb2.DiffResponse.DIFF_NONE, hasDetailedDiff=True)
    return provider_pb2.DiffResponse(
        changes=provider_pb2.DiffResponse.DIFF_SOME,
        replaces=replaces,
        diffs=list(detailed),
        detailedDiff=detailed,
        hasDetailedDiff=True,
    )


@functools.cache
def _schema_text() -> str:
    return json.dumps(SCHEMA)


def _arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="pulumi-resource-leadterra",
        description=(
            "The Leadterra provider plugin. The Pulumi engine starts it with its address and "
            "talks to it over gRPC; run with no address to start it under a debugger, then "
            "point the engine at the port it prints with PULUMI_DEBUG_PROVIDERS=leadterra:PORT."
        ),
    )
    parser.add_argument("engine", nargs="?", default="", help="the engine's address (host:port)")
    # The engine's own flags, which it puts before the address (pulumi up --logflow -v=9).
    parser.add_argument("--logtostderr", action="store_true", help="log to stderr (the default)")
    parser.add_argument("--logflow", action="store_true", help="accepted for the engine; no effect")
    parser.add_argument(
        "-v", dest="verbose", type=int, default=0, help="log level; 5 or more logs each request"
    )
    parser.add_argument("--tracing", default="", help="accepted for the engine; tracing is not emitted")
    return parser.parse_known_args(argv)[0]


def main(argv: Optional[list[str]] = None) -> None:
    """Serve the plugin: ``pulumi-resource-leadterra [ENGINE FLAGS] ENGINE_ADDRESS`` prints its
    port, then serves."""
    options = _arguments(list(sys.argv[1:] if argv is None else argv))
    # The engine shows a plugin's stderr in its own log; never a header, so never the key.
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if options.verbose >= 5 else logging.WARNING,
        format="leadterra: %(message)s",
    )
    engine = engine_address([options.engine])
    servicer = LeadterraServicer(engine or "")
    server = grpc.server(
        ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="leadterra"),
        options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)],
    )
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    # Killed with the CLI (kill -9): cancel what is in flight and exit, sending nothing more.
    watch_engine(engine, servicer.cancel)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
