"""Real package registries on loopback, for the release rehearsal: what a user installs from, with
nothing of the clone in between.

- `NpmRegistry`: Verdaccio (tools/verdaccio, installed with ``npm ci`` from its lockfile); it
  serves what is published to it and proxies every other package from the npm registry.
- `PackageIndex`: pypiserver (the dev extras); uploads without authentication, and sends pip to
  PyPI for any package it does not hold (its default fallback), as a company mirror does.
- `ReleaseServer`: a folder of release assets served at GitHub's download paths
  (``/<owner>/<repo>/releases/download/v<version>/<asset>``), recording each path asked for.
- `go_proxy`: a ``file://`` GOPROXY folder holding one module version from its zip.

Each server listens on 127.0.0.1 on a free port and logs to a file in its own folder.
"""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import threading
import time
import zipfile
from pathlib import Path
from typing import Any, Optional

import requests

from .programs import ROOT

__all__ = ["NpmRegistry", "PackageIndex", "ReleaseServer", "free_port", "go_proxy"]

VERDACCIO = ROOT / "tools" / "verdaccio"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with requests.Session() as session:  # closed here: no socket left for the GC to close later
        session.trust_env = False
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{url}: the server exited {process.returncode}:\n{log.read_text()}")
            try:
                session.get(url, timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.2)
    raise RuntimeError(f"{url}: no answer in {timeout}s:\n{log.read_text()}")


class _Process:
    """A server subprocess, stopped (by its own PID) on close."""

    process: subprocess.Popen[bytes]

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NpmRegistry(_Process):
    """Verdaccio: ``@leadterra/*`` published here (by an account it creates), all else proxied."""

    def __init__(self, workdir: Path) -> None:
        if not (VERDACCIO / "node_modules" / ".bin" / "verdaccio").exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"],
                cwd=VERDACCIO,
                check=True,
                capture_output=True,
                timeout=600,
            )
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        config = {
            "storage": str(workdir / "storage"),
            "auth": {"htpasswd": {"file": str(workdir / "htpasswd"), "max_users": 1}},
            "uplinks": {"npmjs": {"url": "https://registry.npmjs.org/", "timeout": "120s"}},
            "packages": {
                "@leadterra/*": {"access": "$all", "publish": "$authenticated"},
                "**": {"access": "$all", "proxy": "npmjs"},
            },
            "log": {"type": "stdout", "format": "pretty", "level": "http"},
        }
        (workdir / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
        self.log = workdir / "verdaccio.log"
        self.process = subprocess.Popen(
            [
                str(VERDACCIO / "node_modules" / ".bin" / "verdaccio"),
                "--config",
                str(workdir / "config.yaml"),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        _wait_for(self.url + "-/ping", self.process, self.log)
        # The publisher's account: npm adduser's request, whose answer is the token npm keeps.
        with requests.Session() as session:
            session.trust_env = False
            answer = session.put(
                self.url + "-/user/org.couchdb.user:rehearsal",
                json={"name": "rehearsal", "password": "rehearsal-password"},
                timeout=30,
            )
            answer.raise_for_status()
        self.npmrc = workdir / "publisher.npmrc"
        self.npmrc.write_text(
            f"registry={self.url}\n//127.0.0.1:{port}/:_authToken={answer.json()['token']}\n"
        )

    def publish(self, tarball: Path) -> None:
        subprocess.run(
            [
                "npm",
                "publish",
                str(tarball.resolve()),
                "--userconfig",
                str(self.npmrc),
                "--registry",
                self.url,
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )

    def served(self, fragment: str) -> list[str]:
        """The log's request lines naming ``fragment`` (a package name as it appears in a URL)."""
        return [line for line in self.log.read_text().splitlines() if fragment in line and "GET" in line]


class PackageIndex(_Process):
    """pypiserver: twine uploads without credentials checked; pip installs from ``simple``."""

    def __init__(self, workdir: Path, venv_bin: Path = ROOT / ".venv" / "bin") -> None:
        packages = workdir / "packages"
        packages.mkdir(parents=True, exist_ok=True)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        self.simple = self.url + "simple/"
        self.venv_bin = venv_bin
        self.log = workdir / "pypiserver.log"
        self.process = subprocess.Popen(
            [
                str(venv_bin / "pypi-server"),
                "run",
                "--interface",
                "127.0.0.1",
                "--port",
                str(port),
                "--authenticate",
                ".",
                "--passwords",
                ".",
                "--verbose",
                str(packages),
            ],
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        _wait_for(self.url, self.process, self.log)

    def upload(self, *files: Path) -> None:
        subprocess.run(
            [
                str(self.venv_bin / "twine"),
                "upload",
                "--non-interactive",
                "--repository-url",
                self.url,
                "-u",
                "rehearsal",
                "-p",
                "rehearsal",
                *map(str, files),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )

    def served(self, fragment: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if fragment in line and "GET" in line]


class ReleaseServer:
    """GitHub's release download layout over a folder of assets, on loopback; ``requests`` lists
    every path asked for, in order."""

    def __init__(self, assets: Path, owner: str, repo: str, version: str) -> None:
        self.prefix = f"/{owner}/{repo}/releases/download/v{version}/"
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.requests.append(self.path)
                name = self.path.removeprefix(server.prefix)
                target = assets / name
                if not self.path.startswith(server.prefix) or "/" in name or not target.is_file():
                    self.send_error(404)
                    return
                data = target.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ReleaseServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def go_proxy(folder: Path, module_zip: Path, module: str, version: str, go_mod: Optional[str] = None) -> str:
    """A GOPROXY folder (the module proxy protocol's files: list, .info, .mod, .zip) holding
    ``module`` at ``v<version>`` from its zip; returns its ``file://`` URL."""
    versions = folder / module / "@v"
    versions.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(module_zip) as archive:
        mod = go_mod if go_mod is not None else archive.read(f"{module}@v{version}/go.mod").decode()
    (versions / "list").write_text(f"v{version}\n")
    (versions / f"v{version}.info").write_text(
        json.dumps({"Version": f"v{version}", "Time": "2000-01-01T00:00:00Z"})
    )
    (versions / f"v{version}.mod").write_text(mod)
    (versions / f"v{version}.zip").write_bytes(module_zip.read_bytes())
    return folder.as_uri()
