"""Fixtures of the model tests: raw-socket servers (tests/models/rawserver.py)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from tests.models.rawserver import Answer, RawServer, Request, completion, reply


@pytest.fixture
def raw() -> Iterator[Callable[[Answer], RawServer]]:
    """Make raw servers answering with a function of (request, socket); all closed after the test."""
    servers: list[RawServer] = []

    def make(answer: Answer) -> RawServer:
        servers.append(RawServer(answer))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def answering_server() -> Iterator[RawServer]:
    """A raw server answering every request with the completion "from the server"."""
    body = completion("from the server")

    def answer(r: Request, s: socket.socket) -> None:
        s.sendall(reply("200 OK", ["Content-Type: application/json", f"Content-Length: {len(body)}"], body))

    server = RawServer(answer)
    yield server
    server.close()
