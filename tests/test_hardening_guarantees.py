"""Guarantees the hardening must keep, under the new connect-phase watch and body cap: the budget
bounds trickled bodies with 64 calls in flight, TLS fails closed before a byte of the request is
sent, and repeated calls (good, slow, oversized, refused) leak no thread and no descriptor."""

from __future__ import annotations

import datetime
import gc
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.sandbox import Sandbox
from pulumi_leadterra import APIConnectionError, LeadterraClient, LeadterraError, RetryPolicy
from tests.conftest import TEST_KEY
from tests.test_hardening_servers import (
    FakeHTTP,
    RawServer,
    Request,
    open_fds,
    proxy_env,
    started,
    trickling_proxy,
    wait_for,
)


def test_the_budget_bounds_64_trickled_answers_at_once(sandbox: Sandbox) -> None:
    sandbox.faults({"trickleMs": 200, "times": 64})
    client = LeadterraClient(sandbox.url, TEST_KEY, RetryPolicy(max_attempts=1, budget=2, read_timeout=1))

    def call(_: int) -> tuple[float, str]:
        began = time.monotonic()
        try:
            client.start("camp_1")
        except APIConnectionError as exc:
            return time.monotonic() - began, str(exc)
        return time.monotonic() - began, "answered"

    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(call, range(64)))
    assert max(elapsed for elapsed, _ in results) < 3.5, sorted(e for e, _ in results)[-5:]
    assert all("retry budget of 2 s" in text for _, text in results)


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def test_tls_fails_closed_before_the_request_is_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loopback https server with a certificate nobody trusts: the handshake fails on our side,
    and the server never reads a byte of the request (so never the key)."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    received: list[bytes] = []
    handshakes: list[str] = []

    def serve(conn: socket.socket, _stop: threading.Event) -> None:
        conn.settimeout(5)
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                handshakes.append("completed")
                received.append(tls.recv(65536))
        except (ssl.SSLError, OSError) as exc:
            handshakes.append(type(exc).__name__)

    with RawServer(serve) as server:
        with pytest.raises(APIConnectionError) as info:
            LeadterraClient(f"https://127.0.0.1:{server.port}", TEST_KEY, RetryPolicy(max_attempts=2)).start(
                "camp_1"
            )
    assert handshakes and "completed" not in handshakes
    assert received == []
    assert "SSLError" in str(info.value)


def test_repeated_calls_of_every_kind_leak_no_thread_and_no_descriptor(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    def app(request: Request) -> tuple[int, dict[str, str], bytes]:
        if request.campaign_id == "big":
            return 200, {"Content-Type": "application/json"}, b" " * (2 << 20)
        return started(request.campaign_id)

    with FakeHTTP(app) as server, trickling_proxy(every=0.1, bound=5) as proxy:
        for name, value in proxy_env(f"http://127.0.0.1:{proxy.port}").items():
            monkeypatch.setenv(name, value)
        good = LeadterraClient(server.url, TEST_KEY, RetryPolicy(max_attempts=1, budget=5))
        slow = LeadterraClient(sandbox.url, TEST_KEY, RetryPolicy(max_attempts=1, budget=0.3))
        tunnel = LeadterraClient(
            "https://api.leadterra.invalid", TEST_KEY, RetryPolicy(max_attempts=1, budget=0.3)
        )

        def round_() -> None:
            sandbox.faults({"trickleMs": 50, "times": 1})
            for call in (
                lambda: good.start("camp_1"),
                lambda: good.start("big"),
                lambda: slow.start("camp_1"),
                lambda: tunnel.start("camp_1"),
                lambda: good.start(".."),
            ):
                try:
                    call()
                except LeadterraError:
                    pass

        round_()
        time.sleep(0.5)  # the servers (in this process too) close their side of round one
        gc.collect()  # a failed attempt's socket goes with its traceback, a reference cycle
        threads, fds = threading.active_count(), open_fds()
        for _ in range(5):
            round_()
        # Each round's closed connections are gone; only the pooled keep-alive ones remain. The
        # fake servers run in this process and close their side a moment later: allow for that.
        assert wait_for(
            lambda: gc.collect() >= 0 and threading.active_count() <= threads and open_fds() <= fds, 5
        ), (
            threads,
            threading.active_count(),
            fds,
            open_fds(),
        )
