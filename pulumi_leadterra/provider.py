"""The dynamic provider: `Lifecycle` adapted to ``python -m pulumi.dynamic``.

This class runs inside the engine's plugin process, unpickled from the ``__provider`` property.
It is pickled *by reference* (``pulumi_leadterra.provider.CampaignStateProvider``: existing stacks'
state names it, so it stays here) and carries no state across the pickle: configuration and HTTP
clients are built in the plugin process, so the blob stays a few dozen bytes, identical on every
run, and free of credentials.

What it adapts: the dynamic server hands over secrets unwrapped or in RPC envelopes and unknowns
as `Unknown` objects or a sentinel string; `Lifecycle` wants plain values. On the way back the key
leaves only inside a secret envelope (the server answers ``acceptSecrets=False``, so nothing else
would mark it), and unknowns go back as the sentinel.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, Optional, TypeVar

import grpc
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime import rpc

from .diagnostics import EngineLog
from .errors import LeadterraError
from .lifecycle import STATUSES, UNKNOWN, Lifecycle, campaign_id_problem
from .lifeline import engine_address, watch_engine
from .settings import Settings

__all__ = ["CampaignStateProvider", "STATUSES", "campaign_id_problem"]

_SECRET_PROPERTY = "api_key"  # noqa: S105 - a property name, not a password
_F = TypeVar("_F", bound=Callable[..., Any])


def _servicer_context() -> Optional[grpc.ServicerContext]:
    """The gRPC context of the call this thread is serving, from the dynamic server's handler
    (``Create(self, request, context)``, a few frames up), or None outside one."""
    frame: Optional[FrameType] = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            return None
        context = frame.f_locals.get("context")
        if isinstance(context, grpc.ServicerContext):
            return context
        frame = frame.f_back
    return None


def _one_sentence(empty: Any) -> Callable[[_F], _F]:
    """A `LeadterraError` reaches the engine as its one sentence, as the README promises.

    The dynamic server answers any exception with its whole traceback (``context.abort(UNKNOWN,
    traceback.format_exc())``), which the CLI prints, ~24 lines per resource. So the error is put
    on the call's context instead (code UNKNOWN, the sentence as details) and the method returns
    ``empty``, from which the server builds an answer that the error status voids: the engine
    reads the failed call and prints the sentence. Anything else (a bug) keeps its traceback.
    """

    def decorate(method: _F) -> _F:
        @functools.wraps(method)
        def wrapper(*args: Any) -> Any:
            try:
                return method(*args)
            except LeadterraError as exc:
                context = _servicer_context()
                if context is None:
                    raise
                context.set_code(grpc.StatusCode.UNKNOWN)
                context.set_details(f"{type(exc).__name__}: {exc}")
                return empty

        return wrapper  # type: ignore[return-value]

    return decorate


def _plain(props: dict[str, Any]) -> dict[str, Any]:
    """Top-level values as `Lifecycle` wants them: secrets unwrapped, unknowns as `UNKNOWN`."""
    plain = {}
    for name, value in props.items():
        value = rpc.unwrap_rpc_secret(value)
        plain[name] = UNKNOWN if isinstance(value, Unknown) or value == rpc.UNKNOWN else value
    return plain


def _wire(props: dict[str, Any]) -> dict[str, Any]:
    """Values for the dynamic server: the key in a secret envelope, unknowns as the sentinel."""
    wire = {name: rpc.UNKNOWN if value is UNKNOWN else value for name, value in props.items()}
    # An unknown key (from another resource, during preview) stays unknown: a secret envelope
    # around the sentinel would read as a known secret.
    if props.get(_SECRET_PROPERTY) not in (None, UNKNOWN):
        wire[_SECRET_PROPERTY] = rpc.wrap_rpc_secret(wire[_SECRET_PROPERTY])
    return wire


class CampaignStateProvider(ResourceProvider):
    """Holds one Leadterra campaign running or paused. Constructible with no arguments."""

    #: The pickled provider is a class reference and nothing else (``__getstate__``): no key, no
    #: URL, no setting. Stored as a secret, it cost a ciphertext in every resource's inputs and
    #: outputs and the CLI a decryption of each on every run; the SDK still makes it secret if a
    #: secret were ever captured in it.
    serialize_as_secret_always = False

    def __getstate__(self) -> dict[str, Any]:
        # Whatever configure() built (settings with the key, HTTP clients) stays in this process;
        # the engine's state only ever gets the class reference. (An empty state means
        # unpickling restores nothing: configure() builds everything in the plugin.)
        return {}

    def configure(self, req: ConfigureRequest) -> None:
        """Read stack config once per plugin process; the environment fills the gaps.

        Inside the engine's ``python -m pulumi.dynamic`` process, also watch the engine's address
        (the server ignores its arguments; the engine passes its address all the same): killed
        with the CLI, this process then cancels what is in flight and exits.
        """
        main = sys.modules.get("__main__")
        in_engine = getattr(getattr(main, "__spec__", None), "name", None) == "pulumi.dynamic.__main__"
        engine = engine_address(sys.argv[1:]) if in_engine else None
        self._core = Lifecycle(Settings.load(req.config.get), warn=EngineLog(engine).warning)
        if engine:
            watch_engine(engine, lambda: self.core.cancel())

    @property
    def core(self) -> Lifecycle:
        core: Optional[Lifecycle] = getattr(self, "_core", None)
        if core is None:
            # Used outside the engine (tests, scripts): environment only.
            self.configure(ConfigureRequest(_NoConfig()))  # type: ignore[arg-type]
            core = self._core
        return core

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs, failures = self.core.check(_plain(olds), _plain(news))
        return CheckResult(_wire(inputs), [CheckFailure(prop, reason) for prop, reason in failures])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        diff = self.core.diff(_plain(olds), _plain(news))
        return DiffResult(
            changes=diff.changes, replaces=diff.replaces, stables=[], delete_before_replace=False
        )

    @_one_sentence(CreateResult("", {}))
    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self.core.create(_plain(props))
        return CreateResult(outs["campaign_id"], _wire(outs))

    @_one_sentence(UpdateResult({}))
    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(_wire(self.core.update(_plain(olds), _plain(news))))

    @_one_sentence(ReadResult("", {}))
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        read_id, outs, inputs = self.core.read(id_, _plain(props))
        if inputs is None:  # a refresh: the SDKs before 3.216 know no inputs here
            return ReadResult(read_id, _wire(outs))
        return ReadResult(read_id, _wire(outs), _wire(inputs))

    @_one_sentence(None)
    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Forget the campaign; with ``pause_on_delete``, pause it first (one POST .../pause).

        By default the campaign is left exactly as it is: removing a declaration must never stop
        a live campaign by surprise.
        """
        self.core.delete(_id, _plain(props))


class _NoConfig:
    """Stands in for the engine's config object when the provider runs outside the engine."""

    def get(self, _key: str) -> None:
        return None
