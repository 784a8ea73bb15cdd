"""The client inside an ASGI app: one AsyncOrgo per app, shared, closed on shutdown, and
handlers cancelled by a client disconnect leave nothing behind.

A real uvicorn serves the FastAPI app on loopback; httpx (another HTTP implementation
than the SDK's aiohttp) drives it; the emulator sits behind a TCP proxy that counts the
connections it sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import warnings
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request

from orgo_async import AsyncOrgo
from orgo_async.testing import FakeOrgo
from orgo_async.web import OrgoDep, get_orgo, orgo_lifespan
from tests.conftest import pid_running

from ._apps import Probe, build_app
from ._browser import closed_with, shell_pid
from .conftest import TcpCounter, UvicornServer, wait_for

pytestmark = pytest.mark.slow


async def test_many_concurrent_requests_share_one_client_and_few_connections(
    fake_orgo: FakeOrgo, tcp_counter: TcpCounter
) -> None:
    ws = fake_orgo.add_workspace("fleet")
    ids = [fake_orgo.add_computer(ws.id, f"agent-{i}").id for i in range(20)]
    probe = Probe()
    app = build_app(fake_orgo.api_key, tcp_counter.base_url, probe=probe, max_connections=8)
    async with UvicornServer(app) as srv:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=srv.url, limits=limits, timeout=30) as http:
            answers = await asyncio.gather(
                *(http.get(f"/computers/{ids[i % len(ids)]}") for i in range(300))
            )
        assert [a.status_code for a in answers] == [200] * 300
        bodies = [a.json() for a in answers]
        assert {b["id"] for b in bodies} == set(ids)
        assert all(b["status"] == "running" for b in bodies)
        # One client for the whole app, handed to every request ...
        assert len(probe.clients) == 1
        assert {b["client"] for b in bodies} == {id(probe.clients[0])}
        # ... whose one connection pool is all the emulator ever saw: at most
        # max_connections TCP connections for 300 requests.
        assert 1 <= tcp_counter.accepted <= 8
        assert len(fake_orgo.requests_to("GET", f"/computers/{ids[0]}")) == 15
        assert not probe.clients[0].is_closed
    # Shutdown closed the client and with it every pooled connection.
    assert probe.clients[0].is_closed
    await wait_for(lambda: tcp_counter.live == 0, timeout=5)


async def test_shutdown_closes_client_and_live_relays_without_resource_warnings(
    fake_orgo: FakeOrgo, tcp_counter: TcpCounter
) -> None:
    import websockets

    ws = fake_orgo.add_workspace("w")
    c = fake_orgo.add_computer(ws.id, "agent")
    probe = Probe()
    app = build_app(fake_orgo.api_key, tcp_counter.base_url, probe=probe)
    srv = UvicornServer(app)
    await srv.start()
    try:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
            assert (await http.get("/workspaces")).json() == ["w"]
        browser = await websockets.connect(f"{srv.ws_url}/computers/{c.id}/terminal")
        pid = await shell_pid(browser)
        assert pid_running(pid)
    finally:
        await srv.stop()
    # The relay ended with the app, before the client closed, and its shell is gone.
    code, _ = await closed_with(browser, timeout=5)
    assert code in (1001, 1012)  # ours, or uvicorn's own "restart"
    await browser.close()
    assert probe.relays[0].code in (1001, None)
    assert probe.clients[0].is_closed
    await wait_for(lambda: not pid_running(pid), timeout=5)
    await wait_for(lambda: tcp_counter.live == 0, timeout=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gc.collect()  # an unclosed session/socket would warn here


async def test_client_disconnect_cancels_the_handler_and_leaves_nothing_behind(
    fake_orgo: FakeOrgo, tcp_counter: TcpCounter
) -> None:
    ws = fake_orgo.add_workspace("w")
    c = fake_orgo.add_computer(ws.id, "agent")
    fake_orgo.faults.add("GET", "/computers/{id}", latency=30, times=1)
    probe = Probe()
    app = build_app(fake_orgo.api_key, tcp_counter.base_url, probe=probe)
    async with UvicornServer(app) as srv:
        tasks_before = _task_names()
        _reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(f"GET /slow/{c.id} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        # The handler is waiting on the emulator (30 s of latency) ...
        await wait_for(lambda: probe.started == [c.id])
        await wait_for(lambda: tcp_counter.live == 1)
        writer.close()  # ... when the client goes away.
        await writer.wait_closed()
        await wait_for(lambda: probe.cancelled == [c.id], timeout=5)
        # The SDK dropped the abandoned request's connection; nothing else is running.
        await wait_for(lambda: tcp_counter.live == 0, timeout=5)
        await wait_for(lambda: _task_names() <= tasks_before, timeout=5)
        # The shared client is still healthy for the next request.
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
            answer = await http.get(f"/slow/{c.id}")
        assert answer.status_code == 200 and answer.json() == {"status": "running"}
        assert probe.cancelled == [c.id]


async def test_without_the_middleware_the_handler_runs_to_completion(
    fake_orgo: FakeOrgo,
) -> None:
    # The contrast: plain ASGI servers keep running an abandoned handler.
    ws = fake_orgo.add_workspace("w")
    c = fake_orgo.add_computer(ws.id, "agent")
    fake_orgo.faults.add("GET", "/computers/{id}", latency=0.5, times=1)
    probe = Probe()
    app = build_app(fake_orgo.api_key, fake_orgo.base_url, probe=probe, cancel_on_disconnect=False)
    async with UvicornServer(app) as srv:
        _reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
        writer.write(f"GET /slow/{c.id} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await writer.drain()
        await wait_for(lambda: probe.started == [c.id])
        writer.close()
        await writer.wait_closed()
        await wait_for(lambda: len(fake_orgo.requests_to("GET", f"/computers/{c.id}")) == 1)
        await asyncio.sleep(0.8)
    assert probe.cancelled == []


async def test_get_orgo_without_the_lifespan_is_a_clear_error() -> None:
    app = FastAPI()

    @app.get("/x")
    async def x(orgo: OrgoDep) -> str:
        return "unreachable"

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        with pytest.raises(RuntimeError, match="orgo_lifespan"):
            await http.get("/x")


async def test_app_lifespan_is_entered_inside_ours(fake_orgo: FakeOrgo) -> None:
    seen: list[bool] = []

    @contextlib.asynccontextmanager
    async def mine(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        seen.append(not app.state.orgo.is_closed)  # the client is open in ours
        yield {"greeting": "hi"}
        seen.append(not app.state.orgo.is_closed)  # and still open when ours ends

    app = FastAPI(
        lifespan=orgo_lifespan(
            lifespan=mine, api_key=fake_orgo.api_key, base_url=fake_orgo.base_url
        )
    )

    @app.get("/state")
    async def state(request: Request) -> dict[str, str]:
        orgo = get_orgo(request)
        assert isinstance(orgo, AsyncOrgo)
        return {"greeting": request.state.greeting}

    async with UvicornServer(app) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        assert (await http.get("/state")).json() == {"greeting": "hi"}
    assert seen == [True, True]


def test_import_orgo_async_imports_no_web_framework() -> None:
    import subprocess

    code = (
        "import sys, orgo_async, orgo_async.web;"
        "from orgo_async.web import relay_terminal, error_answer, CloseCode;"
        "bad = [m for m in ('fastapi', 'starlette', 'uvicorn') if m in sys.modules];"
        "print(bad)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def _task_names() -> set[str]:
    """Live tasks of this loop, except the emulator's own request handlers (aiohttp
    serves the abandoned 30 s request to its end: that is the emulator, not the app)."""
    return {
        t.get_name()
        for t in asyncio.all_tasks()
        if not t.done()
        and not getattr(t.get_coro(), "__qualname__", "").startswith("RequestHandler.")
    }
