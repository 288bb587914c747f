"""A local Leadterra-compatible server for demos, CI and tests.

Run it with ``python -m pulumi_leadterra.sandbox --help`` (or ``leadterra-sandbox``).
"""

from .server import SandboxServer, serve

__all__ = ["SandboxServer", "serve"]
