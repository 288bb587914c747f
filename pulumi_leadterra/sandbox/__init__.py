"""A local Leadterra-compatible server for demos, CI and tests.

Run it with ``python -m pulumi_leadterra.sandbox --help`` (or ``leadterra-sandbox``). Modules:
``routes`` (which handler answers what), ``api`` (the documented endpoints), ``admin`` (the
``/_sandbox`` API and its knobs), ``server`` (HTTP, faults, the server), ``store`` (SQLite state),
``cli`` (the command line).
"""

from .server import SandboxServer, serve
from .store import new_campaign

__all__ = ["SandboxServer", "new_campaign", "serve"]
