"""A minimal harness for the emulator's WebSocket side, independent of FakeOrgo.

It builds an ``aiohttp.web.Application`` with only :func:`add_websocket_routes`, a
``World`` holding one running computer, and serves it on loopback; tests connect with the
``websockets`` client library, a different implementation from the server's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from orgo_async.testing._state import FakeComputer, FakeWorkspace, World
from orgo_async.testing._ws_routes import add_websocket_routes
from tests.conftest import listen


@dataclass
class MiniFake:
    """The three attributes the WebSocket side reads from FakeOrgo."""

    world: World = field(default_factory=World)
    vnc_target: tuple[str, int] | None = None
    allow_exec: bool = True


class Harness:
    """A served app with one running computer; ``url(channel, **query)`` builds URLs."""

    def __init__(self) -> None:
        self.fake = MiniFake()
        ws = FakeWorkspace(id="ws-1", name="demo", user_id=self.fake.world.user_id)
        self.fake.world.workspaces[ws.id] = ws
        self.computer = FakeComputer(
            id="c0ffee00-0000-4000-8000-000000000001",
            name="agent-1",
            workspace_id=ws.id,
            status="running",
        )
        self.fake.world.computers[self.computer.id] = self.computer
        self.origin = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        add_websocket_routes(app, self.fake)
        self._runner = web.AppRunner(app)
        port = await listen(self._runner)
        self.origin = f"ws://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(
        self,
        channel: str,
        *,
        token: str | None = None,
        instance: str | None = None,
        **query: Any,
    ) -> str:
        inst = instance if instance is not None else self.computer.instance_id
        params = {"token": self.computer.vnc_password if token is None else token, **query}
        qs = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.origin}/desktops/{inst}/ws/{channel}?{qs}"

    def connect(self, channel: str, **kw: Any) -> Any:
        return connect(self.url(channel, **kw), max_size=None, open_timeout=10)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    await h.start()
    try:
        yield h
    finally:
        await h.close()


async def recv_json(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    """The next text frame, decoded (binary frames are a test failure here); no frame
    within ``timeout`` fails the test with that message."""
    try:
        async with asyncio.timeout(timeout):
            msg = await ws.recv()
    except TimeoutError:
        pytest.fail(f"no frame from the server within {timeout:g} s")
    assert isinstance(msg, str), f"expected a text frame, got {len(msg)} bytes"
    obj = json.loads(msg)
    assert isinstance(obj, dict)
    return obj


async def close_code(ws: ClientConnection, timeout: float = 5) -> int | None:
    """Read until the server closes; return its close code (the test fails if the server
    has not closed within ``timeout``)."""
    try:
        async with asyncio.timeout(timeout):
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await ws.recv()
    except TimeoutError:
        pytest.fail(f"the server did not close the socket within {timeout:g} s")
    rcvd = ws.protocol.close_rcvd
    return rcvd.code if rcvd is not None else None
