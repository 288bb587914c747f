"""The native provider plugin: `Lifecycle` adapted to the engine's provider protocol, for every
Pulumi language (TypeScript, Go, C#, YAML...), as ``pulumi-resource-leadterra``.

Run ``python -m pulumi_leadterra.plugin ENGINE_ADDRESS`` (or ``pulumi-resource-leadterra``): it
prints its port and serves ``leadterra:index:CampaignState``. Started with no address (under a
debugger), it waits for the engine to attach (``PULUMI_DEBUG_PROVIDERS=leadterra:PORT``).
Against the dynamic provider it accepts secrets (``apiKey`` arrives and leaves as a secret), can
be imported, has its own type token, and is not capped at 4 worker threads: the blocking HTTP
calls run in a pool of their own.

What it adapts: camelCase property values (`PropertyValue`: secrets, unknowns, floats) to
`Lifecycle`'s plain snake_case values and back, with every input that arrived secret leaving
secret (the engine stores what a provider that accepts secrets returns, as it returns it); the
core's diff to the engine's detailed diff, so a preview lists each changed property; messages in
the schema's names (``apiKey``, not ``api_key``); a `LeadterraError` to one clean sentence for the
user instead of a traceback; previews, where the engine calls Create and Update with
``preview=True``: they send nothing and return what is known; Cancel, which ends the calls in
flight; and an engine that is gone (``lifeline``), after which it sends nothing and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional, TypeVar

import grpc
from google.protobuf import empty_pb2
from pulumi.provider.experimental import provider as p
from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.provider.experimental.server import ProviderServicer
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from ._version import __version__
from .diagnostics import EngineLog
from .errors import LeadterraError
from .lifecycle import ADD, DELETE, UNKNOWN, UPDATE, UPDATE_REPLACE, Lifecycle
from .lifeline import engine_address, watch_engine
from .schema import PACKAGE, SCHEMA, to_camel, to_snake
from .settings import Settings
from .transport import MAX_CONCURRENCY

__all__ = ["LeadterraProvider", "main"]

_T = TypeVar("_T")
#: Wide enough for the engine's parallelism (``pulumi up --parallel`` defaults to 4 per CPU, and
#: users raise it); the transport keeps as many connections per origin, so no call opens one
#: only to drop it.
_WORKERS = MAX_CONCURRENCY
#: An unknown, as the engine reads it on the wire (the SDK cannot marshal its own Computed).
_COMPUTED = PropertyValue(rpc.UNKNOWN)
#: Outputs a preview cannot know before the call is made.
_OBSERVED = ("status", "startedAt", "pausedAt", "healedAt", "drift", "stats")
_KINDS = {
    ADD: p.PropertyDiffKind.ADD,
    DELETE: p.PropertyDiffKind.DELETE,
    UPDATE: p.PropertyDiffKind.UPDATE,
    UPDATE_REPLACE: p.PropertyDiffKind.UPDATE_REPLACE,
}
_SNAKE_WORDS = re.compile(r"\b(campaign_id|pause_on_delete|base_url|api_key_source|api_key|held_status)\b")


def user_words(text: str) -> str:
    """A sentence of the core's in the schema's names: a YAML or TypeScript user wrote
    ``apiKey``, ``campaignId``, ``pauseOnDelete``, and that is what they are told about."""
    text = _SNAKE_WORDS.sub(lambda match: to_camel(match.group(1)), text)
    return text.replace("True or False", "true or false")


def _plain(value: PropertyValue) -> Any:
    """A property value as plain Python: secrets unwrapped, unknowns as `UNKNOWN`."""
    inner = value.value
    if isinstance(inner, Computed) or inner == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(inner, Mapping):
        return {key: _plain(item) for key, item in inner.items()}
    if isinstance(inner, Sequence) and not isinstance(inner, str):
        return [_plain(item) for item in inner]
    return inner


def _value(plain: Any) -> PropertyValue:
    if plain is UNKNOWN:
        return _COMPUTED
    if isinstance(plain, bool) or plain is None or isinstance(plain, str):
        return PropertyValue(plain)
    if isinstance(plain, int | float):
        return PropertyValue(float(plain))
    if isinstance(plain, Mapping):
        return PropertyValue({str(key): _value(item) for key, item in plain.items()})
    if isinstance(plain, Sequence):
        return PropertyValue([_value(item) for item in plain])
    return PropertyValue(str(plain))


def _snake(props: Mapping[str, PropertyValue]) -> dict[str, Any]:
    return {to_snake(name): _plain(value) for name, value in props.items()}


def _secrets(*maps: Mapping[str, PropertyValue]) -> frozenset[str]:
    """The properties that arrived secret (or holding a secret), so they leave secret too."""
    return frozenset(name for props in maps for name, value in props.items() if value.contains_secret())


def _camel(plain: Mapping[str, Any], secret: frozenset[str] = frozenset()) -> dict[str, PropertyValue]:
    """Properties for the engine. Once a provider accepts secrets the engine marks nothing for
    it, so what arrived secret is marked again here, and the key always is."""
    props = {to_camel(name): _value(value) for name, value in plain.items() if value is not None}
    for name in secret | {"apiKey"}:
        # An unknown stays a plain unknown: a secret around it reads as a known secret null.
        if name in props and plain.get(to_snake(name)) is not UNKNOWN:
            props[name] = props[name].with_secret(True)
    return props


def _key_secret(props: Mapping[str, PropertyValue]) -> dict[str, PropertyValue]:
    """The provider's configuration with ``apiKey`` marked secret, however it arrived.

    The engine strips secrets from what it sends CheckConfig and stores what CheckConfig returns
    as the provider's inputs and outputs, marked as returned (plus what the program marked): a
    key from plain stack config (the default provider), or a plain string on an explicit
    provider in Pulumi YAML (whose provider resources no SDK wraps), would otherwise be stored
    in clear.
    """
    marked = dict(props)
    key = _plain(marked["apiKey"]) if "apiKey" in marked else None
    if key is not None and key is not UNKNOWN:  # an unknown stays a plain unknown (see _camel)
        marked["apiKey"] = marked["apiKey"].with_secret(True)
    return marked


class LeadterraProvider(p.Provider):
    """The provider the plugin serves; one per plugin process, configured once by the engine."""

    def __init__(self, engine: str = "") -> None:
        self._core: Optional[Lifecycle] = None
        self._engine_log = EngineLog(engine or None)
        self._explicit = False  # set by CheckConfig: an explicit provider resource, not the default
        self._pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="leadterra")

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        # Every Lifecycle call may block on HTTP: never on the event loop.
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    @property
    def core(self) -> Lifecycle:
        if self._core is None:  # the engine always configures first; be safe outside it
            self._core = Lifecycle(Settings.load())
        return self._core

    async def get_schema(self, request: p.GetSchemaRequest) -> p.GetSchemaResponse:
        return p.GetSchemaResponse(schema=json.dumps(SCHEMA))

    async def check_config(self, request: p.CheckRequest) -> p.CheckResponse:
        # The default provider is named default (default_X_Y_Z); any other is an explicit
        # provider resource, whose apiKey is its own property, not the stack's config.
        self._explicit = not request.urn.rsplit("::", 1)[-1].startswith("default")
        # Settings are validated where they are used: check reports each problem before any
        # request, on the resource that would use it.
        return p.CheckResponse(inputs=_key_secret(request.new_inputs), failures=[])

    async def diff_config(self, request: p.DiffRequest) -> p.DiffResponse:
        """Each changed setting, so a preview names it (``~ baseUrl``, ``~ apiKey: [secret]``).

        Never a replacement: replacing the provider would replace every campaign it holds. What
        a new setting means for each campaign is decided per resource (a new endpoint: one call
        there; a new key: state only), in the diffs that follow with the new configuration.
        """
        olds, news = _snake(request.old_state), _snake(request.new_inputs)
        detailed = {}
        for name in sorted(set(olds) | set(news)):
            old, new = olds.get(name), news.get(name)
            if new is UNKNOWN or old != new:
                kind = _KINDS[ADD if old is None else DELETE if new is None else UPDATE]
                detailed[to_camel(name)] = p.PropertyDiff(kind, True)
        return p.DiffResponse(changes=bool(detailed), diffs=list(detailed), detailed_diff=detailed)

    async def configure(self, request: p.ConfigureRequest) -> p.ConfigureResponse:
        args, variables = request.args, request.variables

        def get(key: str) -> Any:
            name = key.split(":", 1)[1]
            if name in args:
                return _plain(args[name])
            return variables.get(f"{PACKAGE}:config:{name}")

        source = "provider" if self._explicit else "config"
        self._core = Lifecycle(Settings.load(get, config_source=source), warn=self._engine_log.warning)
        return p.ConfigureResponse(accept_secrets=True, supports_preview=True)

    async def check(self, request: p.CheckRequest) -> p.CheckResponse:
        inputs, failures = await self._run(
            self.core.check, _snake(request.old_inputs), _snake(request.new_inputs)
        )
        return p.CheckResponse(
            inputs=_camel(inputs, _secrets(request.new_inputs)),
            failures=[p.CheckFailure(to_camel(prop), user_words(reason)) for prop, reason in failures],
        )

    async def diff(self, request: p.DiffRequest) -> p.DiffResponse:
        diff = await self._run(self.core.diff, _snake(request.old_state), _snake(request.new_inputs))
        # Old *outputs* against new inputs (input_diff=False) is what the core compared, and
        # what the preview then shows: `~ status: "running" => "paused"`.
        detailed = {
            to_camel(name): p.PropertyDiff(_KINDS[kind], False) for name, kind in diff.detailed.items()
        }
        return p.DiffResponse(
            changes=diff.changes,
            replaces=[to_camel(name) for name in diff.replaces],
            diffs=list(detailed),
            detailed_diff=detailed,
        )

    async def create(self, request: p.CreateRequest) -> p.CreateResponse:
        if request.preview:
            return p.CreateResponse(properties=self._planned(request.properties))
        outs = await self._run(self.core.create, _snake(request.properties))
        return p.CreateResponse(
            resource_id=outs["campaign_id"], properties=_camel(outs, _secrets(request.properties))
        )

    async def update(self, request: p.UpdateRequest) -> p.UpdateResponse:
        if request.preview:
            return p.UpdateResponse(properties=self._planned(request.news))
        outs = await self._run(self.core.update, _snake(request.olds), _snake(request.news))
        return p.UpdateResponse(properties=_camel(outs, _secrets(request.news)))

    @staticmethod
    def _planned(inputs: Mapping[str, PropertyValue]) -> dict[str, PropertyValue]:
        """A preview's outputs: the inputs, and whatever the call would observe left unknown."""
        planned = dict(inputs)
        planned.update({name: _COMPUTED for name in _OBSERVED})
        return planned

    async def read(self, request: p.ReadRequest) -> p.ReadResponse:
        state = request.properties or request.inputs
        read_id, outs, inputs = await self._run(self.core.read, request.resource_id, _snake(state))
        secret = _secrets(request.properties, request.inputs)
        # A refresh keeps the stored inputs; an import gets the ones read. A campaign that is
        # gone has an empty id, and `_Servicer.Read` then leaves every property unset.
        return p.ReadResponse(
            resource_id=read_id,
            properties=_camel(outs, secret),
            inputs=_camel(inputs, secret) if inputs is not None else dict(request.inputs),
        )

    async def delete(self, request: p.DeleteRequest) -> None:
        await self._run(self.core.delete, request.resource_id, _snake(request.properties))

    async def cancel(self) -> None:
        # Ctrl-C: calls in flight end now with a clean error, queued and later ones at once.
        self.core.cancel()


class _Servicer(ProviderServicer):
    """The SDK's servicer, with the four RPCs it does not serve as the engine expects."""

    async def DiffConfig(self, request: Any, context: Any) -> Any:  # noqa: N802 - the RPC's name
        # The SDK's DiffConfig reads PropertyDiff.inputDiff (the field is input_diff) and fails
        # on any detailed diff; this one converts as its Diff does.
        olds = PropertyValue.unmarshal_map(request.olds)
        news = PropertyValue.unmarshal_map(request.news)
        diff_request = p.DiffRequest(request.urn, request.id, olds, news, list(request.ignoreChanges))
        response = await self._provider.diff_config(diff_request)
        detailed = {
            name: provider_pb2.PropertyDiff(
                kind=provider_pb2.PropertyDiff.Kind.Value(d.kind.name), inputDiff=d.input_diff
            )
            for name, d in response.detailed_diff.items()
        }
        some, none = provider_pb2.DiffResponse.DIFF_SOME, provider_pb2.DiffResponse.DIFF_NONE
        return provider_pb2.DiffResponse(
            changes=some if response.changes else none,
            diffs=list(detailed),
            detailedDiff=detailed,
            hasDetailedDiff=True,
        )

    async def Read(self, request: Any, context: Any) -> Any:  # noqa: N802 - the RPC's name
        response = await super().Read(request, context)
        # The engine takes a present (even empty) properties struct as "the resource exists":
        # an import of a missing campaign would then write an empty resource.
        return response if response.id else provider_pb2.ReadResponse()

    async def Parameterize(self, request: Any, context: Any) -> Any:  # noqa: N802 - the RPC's name
        # The SDK answers UNKNOWN with a traceback, which the CLI prints as an error; the engine
        # reads UNIMPLEMENTED as "this provider takes no parameters".
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "the leadterra provider takes no parameters")

    async def Attach(self, request: Any, context: Any) -> Any:  # noqa: N802 - the RPC's name
        # PULUMI_DEBUG_PROVIDERS: the engine hands its address to a provider it did not start.
        self._engine_address = request.address
        return empty_pb2.Empty()


class _CleanErrors(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Turns a `LeadterraError` into the one sentence the README promises, not a traceback.

    The SDK's servicer re-raises every exception as ``Exception("<message>:\\n<traceback>")``
    from inside its handler, so the original error is that exception's ``__context__``.
    """

    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary

        async def unary(request: Any, context: Any) -> Any:
            try:
                return await inner(request, context)
            except Exception as exc:
                cause = exc if isinstance(exc, LeadterraError) else exc.__context__
                if isinstance(cause, LeadterraError):
                    text = user_words(f"{type(cause).__name__}: {cause}")
                    await context.abort(grpc.StatusCode.UNKNOWN, text)
                raise

        return grpc.unary_unary_rpc_method_handler(
            unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


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

    async def serve() -> None:
        server = grpc.aio.server(
            interceptors=[_CleanErrors()],
            options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)],
        )
        engine = engine_address([options.engine])
        provider = LeadterraProvider(engine or "")
        # Killed with the CLI (kill -9): cancel what is in flight and exit, sending nothing more.
        watch_engine(engine, lambda: provider.core.cancel())
        servicer = _Servicer([options.engine], __version__, provider, engine_address=options.engine)
        provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        sys.stdout.write(f"{port}\n")
        sys.stdout.flush()
        await server.wait_for_termination()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
