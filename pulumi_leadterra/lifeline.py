"""Stop when the engine that started this process is gone.

A provider process outlives a ``pulumi`` CLI killed with ``kill -9`` (a cancelled CI job, an
out-of-memory runner): nothing tells it, so calls in flight go on retrying and the process lives
for minutes, and every start it sends then is one no state will ever record. Both front ends
therefore watch the engine's address, the one the engine passes on the command line: while the
engine lives, its gRPC server listens there; once it is gone, nothing does. A refused connection
is the one sign taken for "gone" (a slow or busy engine only times out; two refusals in a row
are required), and then the process cancels what is in flight and exits at once, sending nothing
more. Not covered: a provider started by hand and attached with ``PULUMI_DEBUG_PROVIDERS`` (it
has no engine address to watch), and a dead engine's port taken at once by another listener.

Why the address and not the parent process: the dynamic provider runs under a shell script
(``pulumi-resource-pulumi-python``) and a plugin loaded by path runs under a language host, and
both of those survive the CLI, so the parent pid never changes. A probe opens a loopback
connection and closes it before sending a byte, which the engine's gRPC server drops silently.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Optional

__all__ = ["PROBE_SECONDS", "engine_address", "watch_engine"]

#: How often the engine's address is probed: a killed engine is noticed within this (plus a
#: connection attempt on loopback, which is refused at once).
PROBE_SECONDS = 0.25
#: Exit status of a provider that found its engine gone.
_GONE_EXIT = 1
#: Refusals in a row that mean "gone", and the pause between them: a listening engine never
#: refuses, but a full accept queue can refuse once on some kernels; a dead one refuses always.
_REFUSALS = 2
_CONFIRM_SECONDS = 0.05

_log = logging.getLogger("pulumi_leadterra")
_started: set[str] = set()
_started_lock = threading.Lock()


def engine_address(argv: Sequence[str]) -> Optional[str]:
    """The engine's ``host:port`` among a plugin's arguments (the engine puts its own flags,
    ``-v=9 --logtostderr``, first and the address last), or None when it started none (a plugin
    started by hand for ``PULUMI_DEBUG_PROVIDERS``)."""
    for arg in reversed(argv):
        if arg.startswith("-"):
            continue
        host, _, port = arg.rpartition(":")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return arg
        return None
    return None


def _refused(address: str, timeout: float) -> bool:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:  # a timeout or no file descriptor to spare: not proof that it is gone
        return False


def watch_engine(
    address: Optional[str],
    on_gone: Callable[[], None],
    *,
    interval: float = PROBE_SECONDS,
    exit_process: Callable[[int], None] = os._exit,
) -> bool:
    """Watch ``address`` from a daemon thread; when it refuses connections, call ``on_gone``
    (cancel what is in flight) and end the process. Once per address and process; returns
    whether a watch was started (False for no address, or one already watched)."""
    if not address:
        return False
    with _started_lock:
        if address in _started:
            return False
        _started.add(address)

    def run() -> None:
        refusals = 0
        while True:
            time.sleep(interval if refusals == 0 else _CONFIRM_SECONDS)
            refusals = refusals + 1 if _refused(address, timeout=max(interval, 1.0)) else 0
            if refusals < _REFUSALS:
                continue
            try:
                on_gone()  # first: nothing in flight may send while this is being said
                _log.warning("the Pulumi engine at %s is gone; exiting, sending nothing more", address)
            finally:
                exit_process(_GONE_EXIT)
            return

    threading.Thread(target=run, name="leadterra-lifeline", daemon=True).start()
    return True
