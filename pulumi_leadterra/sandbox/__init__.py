"""A local Leadterra-compatible server for demos, CI and tests. See ``python -m pulumi_leadterra.sandbox --help``."""

from .server import SandboxServer, serve

__all__ = ["SandboxServer", "serve"]
