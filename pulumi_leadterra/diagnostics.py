"""Warnings for the person running ``pulumi``, through the engine's own ``Log`` call.

A provider's stderr reaches the user only at high verbosity; the engine's ``Log`` RPC puts a
warning in the run's output, where a GitOps job's log shows it. Both front ends know the
engine's address (the argument it started them with). Without an engine that answers (a plugin
started by hand, a test's stand-in), the warning goes to stderr instead: it is never lost and
never fails the step that raised it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional

__all__ = ["EngineLog"]

_log = logging.getLogger("pulumi_leadterra")


class EngineLog:
    """Sends warnings to the engine at ``address`` (``host:port``), or to stderr without one."""

    def __init__(self, address: Optional[str]) -> None:
        self._address = address
        self._stub: Any = None
        self._lock = threading.Lock()

    def warning(self, message: str) -> None:
        if self._address:
            from pulumi.runtime.proto import engine_pb2

            request = engine_pb2.LogRequest(severity=engine_pb2.WARNING, message=message)
            try:
                self._engine().Log(request, timeout=5)
                return
            except Exception as exc:  # noqa: BLE001 - no engine to tell (or it refused): stderr
                _log.debug("the engine's Log refused a warning: %s", type(exc).__name__)
        _log.warning("%s", message)

    def _engine(self) -> Any:
        with self._lock:
            if self._stub is None:
                import grpc
                from pulumi.runtime.proto import engine_pb2_grpc

                channel = grpc.insecure_channel(str(self._address))
                self._stub = engine_pb2_grpc.EngineStub(channel)
            return self._stub
