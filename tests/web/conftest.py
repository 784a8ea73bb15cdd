"""Real servers for the ``orgo_async.web`` tests: uvicorn on loopback in the test's loop,
and a TCP proxy that counts the connections the emulator sees."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import eventually

uvicorn = pytest.importorskip("uvicorn", reason="needs the web extra (pip install -e .[test])")


class UvicornServer:
    """``uvicorn.Server`` serving ``app`` on a free loopback port inside this loop."""

    def __init__(self, app: Any, **config: Any) -> None:
        options: dict[str, Any] = {
            "lifespan": "on",
            "log_level": "warning",
            "ws": "websockets-sansio",
            "timeout_graceful_shutdown": 5,
            # The default 5 s keep-alive races httpx reusing a pooled connection when a
            # loaded machine makes 300 queued requests take that long (ReadError).
            "timeout_keep_alive": 60,
        }
        options.update(config)
        self.config = uvicorn.Config(app, **options)
        self.server = uvicorn.Server(self.config)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        # uvicorn swaps SIGINT/SIGTERM handlers while it serves; a test loop is fine with it.
        self._task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        async with asyncio.timeout(10):
            while not self.server.started:
                if self._task.done():
                    await self._task  # raises what failed (lifespan startup, bind)
                    raise RuntimeError("uvicorn stopped during startup")
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._task is None:
            self.sock.close()
            return
        self.server.should_exit = True
        try:
            async with asyncio.timeout(15):
                await self._task
        finally:
            self._task = None
            self.sock.close()

    async def __aenter__(self) -> UvicornServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class TcpCounter:
    """A loopback TCP proxy in front of ``target`` that counts connections.

    ``accepted`` is every connection ever opened through it, ``live`` those still open:
    what the emulator behind it sees, connection by connection.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.accepted = 0
        self.live = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        self.live += 1
        up_writer: asyncio.StreamWriter | None = None
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)

            async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                with contextlib.suppress(OSError):
                    while data := await r.read(65536):
                        w.write(data)
                        await w.drain()
                with contextlib.suppress(OSError):
                    w.close()

            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self.live -= 1
            self._tasks.discard(task)
            for w in (writer, up_writer):
                if w is not None:
                    w.close()
                    with contextlib.suppress(Exception):
                        await w.wait_closed()


@pytest.fixture
async def tcp_counter(fake_orgo: Any) -> AsyncIterator[TcpCounter]:
    counter = TcpCounter("127.0.0.1", fake_orgo.port)
    await counter.start()
    try:
        yield counter
    finally:
        await counter.close()


async def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.02) -> None:
    """:func:`tests.conftest.eventually` with the web tests' longer default (uvicorn,
    a browser and the emulator share the machine)."""
    await eventually(predicate, timeout, interval=interval)
