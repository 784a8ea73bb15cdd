"""Loopback WebSocket servers standing in for a desktop's channels.

:class:`Desktop` is a small, real ``websockets`` server: it checks ``token`` against its
current password (closing 4401 on mismatch, like the documented servers), records every
connection and every text frame, and hands each channel to a per-test handler.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve

from orgo_async import Computer
from orgo_async._protocol.close_codes import ReconnectPolicy
from orgo_async.connection import Connection

Handler = Callable[[ServerConnection, dict[str, str]], Awaitable[None]]

FAST = ReconnectPolicy(initial=0.01, cap=0.05, max_attempts=5, jitter=0)


@dataclass
class Seen:
    channel: str
    token: str
    query: dict[str, str]
    frames: list[Any] = field(default_factory=list)
    extensions: str = ""
    user_agent: str = ""


class Desktop:
    """One fake computer's connection endpoints on 127.0.0.1."""

    instance_id = "a3881618"

    def __init__(self) -> None:
        self.password = "pw-0000000001"
        self.handlers: dict[str, Handler] = {}
        self.seen: list[Seen] = []
        self.server: Server | None = None
        self.port = 0
        self.refreshes = 0
        self.sockets: list[ServerConnection] = []
        self.ssl: Any = None

    @property
    def origin(self) -> str:
        scheme = "https" if self.ssl is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def computer(self, password: str | None = None) -> Computer:
        return Computer(
            id="c0ffee00-0000-4000-8000-000000000001",
            status="running",
            instance_id=self.instance_id,
            hostname="127.0.0.1",
            connection_url=f"{self.origin}/desktops/{self.instance_id}",
            vnc_password=password if password is not None else self.password,
        )

    def rotate(self) -> str:
        n = int(self.password.rsplit("-", 1)[1]) + 1
        self.password = f"pw-{n:010d}"
        return self.password

    async def refresh(self) -> str:
        """A refresh callable, as ``GET /computers/{id}/vnc-password`` would answer."""
        self.refreshes += 1
        return self.password

    def connection(self, **kwargs: Any) -> Connection:
        kwargs.setdefault("refresh", self.refresh)
        kwargs.setdefault("reconnect", FAST)
        kwargs.setdefault("open_timeout", 5.0)
        kwargs.setdefault("close_timeout", 1.0)
        password = kwargs.pop("password", None)
        return Connection(self.computer(password), **kwargs)

    def of(self, channel: str) -> list[Seen]:
        return [s for s in self.seen if s.channel == channel]

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        parts = urlsplit(ws.request.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        channel = parts.path.rsplit("/", 1)[-1]
        seen = Seen(channel, query.get("token", ""), query)
        seen.extensions = ws.request.headers.get("Sec-WebSocket-Extensions", "")
        seen.user_agent = ws.request.headers.get("User-Agent", "")
        self.seen.append(seen)
        ws.seen = seen  # type: ignore[attr-defined]
        self.sockets.append(ws)
        expected = f"/desktops/{self.instance_id}/ws/{channel}"
        if parts.path != expected:
            await ws.close(4404, "not found")
            return
        if seen.token != self.password:
            await ws.close(4401, "invalid token")
            return
        handler = self.handlers.get(channel)
        if handler is None:
            await ws.close(4404, "no handler")
            return
        await handler(ws, query)

    async def start(self, **kwargs: Any) -> None:
        self.server = await serve(self._handle, "127.0.0.1", 0, **kwargs)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def recv_json(ws: ServerConnection) -> dict[str, Any]:
    """Next text frame as JSON, recorded on the connection's ``Seen``."""
    frame = await ws.recv()
    msg: dict[str, Any] = json.loads(frame)
    ws.seen.frames.append(msg)  # type: ignore[attr-defined]
    return msg


async def answer_pings(ws: ServerConnection) -> None:
    """Reply pong to every ping until the client goes away; record everything."""
    try:
        while True:
            msg = await recv_json(ws)
            if msg.get("type") == "ping":
                await ws.send('{"type":"pong"}')
    except Exception:
        return


@pytest.fixture
async def desktop() -> AsyncIterator[Desktop]:
    d = Desktop()
    await d.start()
    try:
        yield d
    finally:
        await d.stop()
