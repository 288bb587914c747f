"""Providers under a faked clock, from outside: libfaketime preloaded into the provider process.

The product has no setting that moves time. A real-engine test that needs "Wednesday 09:00"
puts this folder first on the CLI's PATH: the engine then starts the providers it finds there
(``pulumi-resource-pulumi-python``, the dynamic provider; ``pulumi-resource-leadterra``, the
native plugin as ``pip install`` puts it on PATH), and each wrapper runs the real one with
libfaketime preloaded. The clock is faked only where ``FAKETIME`` is set in the command's
environment (``@2027-03-10 08:00:00``: the process starts at that instant and time runs on).
The Go engine and language hosts are never preloaded.

libfaketime comes from the PyPI package ``libfaketime`` (a dev dependency: its wheel carries the
library built for x86-64 Linux). Measured here: with ``FAKETIME_DONT_FAKE_MONOTONIC=1`` it fakes
``datetime.now()`` while ``time.sleep``, ``threading.Event.wait`` and gRPC's timed waits keep
working (the monotonic clock is real); faking the monotonic clock too hangs timed waits.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import libfaketime

from .cli import VENV_BIN

__all__ = ["LIBRARY", "faked_providers"]

#: The shared library the wrappers preload.
LIBRARY = Path(libfaketime._get_shared_lib("libfaketime.so.1"))

_WRAPPER = """#!/bin/sh
# A provider under libfaketime (harness/faketime.py): the clock is faked when FAKETIME is set.
LD_PRELOAD={library}${{LD_PRELOAD:+:$LD_PRELOAD}} FAKETIME_DONT_FAKE_MONOTONIC=1 exec {real} "$@"
"""


def faked_providers(folder: Path, cli: Path) -> Path:
    """Write the wrappers into ``folder`` (put it first on PATH) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    real = {
        "pulumi-resource-pulumi-python": cli.parent / "pulumi-resource-pulumi-python",
        "pulumi-resource-leadterra": VENV_BIN / "pulumi-resource-leadterra",
    }
    for name, target in real.items():
        assert target.exists(), f"no {target}"
        wrapper = folder / name
        wrapper.write_text(_WRAPPER.format(library=shlex.quote(str(LIBRARY)), real=shlex.quote(str(target))))
        wrapper.chmod(0o755)
    return folder
