"""Shared fixtures: a recording HTTP server on loopback for exact-request tests, and
:func:`listen` / :func:`serving` for every test's own aiohttp server, and
:func:`eventually` to wait for a condition that something else makes true, and
whether a process is still there (:func:`pid_exists`, :func:`pid_running`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from aiohttp import web

API_KEY = "sk_live_test_4f9a8b7c6d5e"


def _patch_aioresponses_for_aiohttp_314() -> None:
    """aioresponses 0.7.9 builds ClientResponse without the ``stream_writer`` argument
    that aiohttp 3.14 made required (pnuckowski/aioresponses#289). Give it one."""
    import inspect
    import types

    import aiohttp
    import aioresponses.core as core

    if "stream_writer" not in inspect.signature(aiohttp.ClientResponse.__init__).parameters:
        return

    class _CompatResponse(aiohttp.ClientResponse):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("stream_writer", types.SimpleNamespace(output_size=0))
            super().__init__(*args, **kwargs)

    setattr(core, "ClientResponse", _CompatResponse)  # noqa: B010 (not an exported name)


_patch_aioresponses_for_aiohttp_314()


def pid_exists(pid: int) -> bool:
    """Whether process ``pid`` is not reaped yet (a zombie still answers ``kill 0``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def pid_running(pid: int) -> bool:
    """Whether process ``pid`` runs: it exists and is not a zombie (Linux ``/proc``)."""
    if not pid_exists(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] != b"Z"


async def eventually(
    predicate: Callable[[], object],
    timeout: float = 5.0,
    *,
    interval: float = 0.01,
    what: str = "the condition",
) -> None:
    """Wait until ``predicate()`` is true, polling every ``interval`` seconds; fail the
    test (naming ``what``) after ``timeout`` seconds instead of hanging."""
    try:
        async with asyncio.timeout(timeout):
            # Polling on purpose: the conditions live in servers that signal nothing.
            while not predicate():  # noqa: ASYNC110
                await asyncio.sleep(interval)
    except TimeoutError:
        pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


async def listen(runner: web.AppRunner, host: str = "127.0.0.1", **site: Any) -> int:
    """Set ``runner`` up and serve it on a free port of ``host``; returns the port.

    ``site`` goes to :class:`aiohttp.web.TCPSite` (e.g. ``ssl_context``). The caller
    cleans the runner up.
    """
    await runner.setup()
    tcp = web.TCPSite(runner, host, 0, **site)
    await tcp.start()
    # aiohttp does not expose the bound port of a port-0 site but through its server.
    port: int = tcp._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return port


@contextlib.asynccontextmanager
async def serving(
    runner: web.AppRunner, host: str = "127.0.0.1", **site: Any
) -> AsyncIterator[int]:
    """:func:`listen` for the ``async with`` block (yields the port), then clean the
    runner up."""
    try:
        yield await listen(runner, host, **site)
    finally:
        await runner.cleanup()


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    raw_path: str = ""
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return msgspec.json.decode(self.body) if self.body else None


@dataclass
class Scripted:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without answering
    served: bool = False


class RecordingServer:
    """A real aiohttp server that answers scripted responses and records every request.

    ``respond(method, path, ...)`` queues answers for a route (in order; the last one
    repeats); unscripted routes answer ``200 {}``.
    """

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._script: dict[tuple[str, str], deque[Scripted]] = defaultdict(deque)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.origin = ""

    def respond(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        json: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        drop: bool = False,
        times: int = 1,
    ) -> None:
        raw = body if body is not None else msgspec.json.encode(json if json is not None else {})
        queue = self._script[(method, path)]
        if len(queue) == 1 and queue[0].served:
            queue.clear()  # a repeating answer that was used is replaced, not queued behind
        for _ in range(times):
            self._script[(method, path)].append(
                Scripted(status, raw, dict(headers or {}), delay, drop)
            )

    def last(self) -> Recorded:
        return self.requests[-1]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                body,
                request.raw_path,
            )
        )
        queue = self._script.get((request.method, request.path))
        answer = Scripted()
        if queue:
            answer = queue.popleft() if len(queue) > 1 else queue[0]
            answer.served = True
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if answer.delay:
                await asyncio.sleep(answer.delay)
        finally:
            self.in_flight -= 1
        if answer.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        headers = {"Content-Type": "application/json", **answer.headers}
        return web.Response(status=answer.status, body=answer.body, headers=headers)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        port = await listen(self._runner)
        self.origin = f"http://127.0.0.1:{port}"
        self.base_url = self.origin + "/api"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[RecordingServer]:
    srv = RecordingServer()
    await srv.start()
    try:
        yield srv
    finally:
        await srv.close()


@pytest.fixture
async def client(server: RecordingServer) -> AsyncIterator[Any]:
    from orgo_async import AsyncOrgo

    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=0) as orgo:
        yield orgo


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Replace the pipeline's retry clock; returns the delays it was asked to sleep."""
    import orgo_async._http as http

    delays: list[float] = []

    async def fake_sleep(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(http, "retry_sleep", fake_sleep)
    return delays
