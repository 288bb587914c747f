"""The marker for a value the engine does not know yet.

Its own module, the smallest there is, because the native plugin needs it before it prints its
port (its converters read the wire's unknowns), and importing the decision core for this one name
cost about 3 ms on every start (its frozen dataclasses are code generated at import).
`decision` re-exports it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["UNKNOWN"]


class _Unknown:
    """A value not known yet (computed by another resource during preview)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


#: What adapters put where the engine sent an unknown value.
UNKNOWN: Any = _Unknown()
