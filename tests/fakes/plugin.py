"""Pytest fixtures for the fakes: a session-wide test CA, its PEM bundle, and recording HTTP(S) server factories.

Enabled from tests/conftest.py with `pytest_plugins = ["tests.fakes.plugin"]`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest
import trustme

from tests.fakes.https import RecordingServer, issue_server_cert, server_ssl_context


class ServerFactory(Protocol):
    async def __call__(self, *, host: str = "127.0.0.1") -> RecordingServer: ...


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    """The CA that signs every fake server's certificate; trusted only by clients given `ca_bundle`."""
    return trustme.CA()


@pytest.fixture(scope="session")
def server_cert(test_ca: trustme.CA) -> trustme.LeafCert:
    return issue_server_cert(test_ca)


@pytest.fixture(scope="session")
def ca_bundle(test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PEM file holding the test CA, as `VIGIL_CA_BUNDLE` would name one."""
    path = tmp_path_factory.mktemp("ca") / "test-ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
async def https_server(server_cert: trustme.LeafCert) -> AsyncIterator[ServerFactory]:
    """`await https_server()`: a started TLS `RecordingServer`; every one started is stopped at teardown."""
    servers: list[RecordingServer] = []

    async def start(*, host: str = "127.0.0.1") -> RecordingServer:
        server = await RecordingServer(ssl_context=server_ssl_context(server_cert), host=host).start()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.stop()


@pytest.fixture
async def http_server() -> AsyncIterator[ServerFactory]:
    """`await http_server()`: a started plain-HTTP `RecordingServer`, stopped at teardown."""
    servers: list[RecordingServer] = []

    async def start(*, host: str = "127.0.0.1") -> RecordingServer:
        server = await RecordingServer(host=host).start()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        await server.stop()
