"""Fixtures: a running server on a temp database, and clients in both subprotocols."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import pg
from tests.harness import SUBPROTOCOLS, Client, Running, connect


@pytest.fixture(scope="session", autouse=True)
def postgres_cluster() -> Iterator[None]:
    """CFN_TEST_DB=postgres: one throwaway PostgreSQL for the run, stopped at the end."""
    if not pg.wanted():
        yield
        return
    pg.start()
    try:
        yield
    finally:
        pg.stop()


@pytest.fixture(params=SUBPROTOCOLS, ids=["json", "msgpack"])
def subprotocol(request: pytest.FixtureRequest) -> str:
    """Every test that takes this runs once per subprotocol."""
    return request.param


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start a server with given settings (rate limit off unless a test sets it)."""
    started: list[Running] = []

    async def start(**settings: Any) -> Running:
        running = Running(tmp_path / f"cfn{len(started)}.db", **settings)
        await running.start()
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop()
        running.close()


@pytest.fixture
async def server(start_server: Callable[..., Any]) -> Running:
    return await start_server()


@pytest.fixture
async def room(server: Running) -> str:
    """A group 'north' with members alice (chair) and bob; carol is in no group."""
    server.member("north", "alice@cfn.example", "chair")
    server.member("north", "bob@cfn.example")
    server.user("carol@cfn.example")
    return "north"


@pytest.fixture
async def clients(server: Running, subprotocol: str) -> AsyncIterator[Callable[..., Any]]:
    """Open clients for users by email; all closed at the end."""
    opened: list[Client] = []

    async def open_client(email: str, sp: str | None = None, **kwargs: Any) -> Client:
        client = await connect(server, server.token(email), sp or subprotocol, **kwargs)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        try:
            await client.close()
        except Exception:
            pass
