"""The emulator's fault kinds the chaos run needs, each against a real loopback server.

Every test checks two sides: what the emulator did (its action log: did the route run?)
and what a client sees (bare aiohttp or websockets, then the SDK's typed error and its
retry decision). The SDK must never send a non-idempotent action twice, whatever the
fault; an idempotent call is retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from orgo_async import (
    APIConnectionError,
    APITimeoutError,
    AsyncOrgo,
    SessionLostError,
)
from orgo_async.connection import ReconnectPolicy
from orgo_async.testing import FakeComputer, FakeOrgo, Timings

FAST = ReconnectPolicy(initial=0.02, cap=0.1, jitter=0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOrgo]:
    async with FakeOrgo(timings=Timings.instant()) as f:
        yield f


@pytest.fixture
def computer(fake: FakeOrgo) -> FakeComputer:
    ws = fake.add_workspace("chaos")
    return fake.add_computer(ws.id, "c1")


@pytest.fixture
async def orgo(fake: FakeOrgo) -> AsyncIterator[AsyncOrgo]:
    async with fake.client(max_retries=2) as client:
        yield client


def clicks(c: FakeComputer) -> list[tuple[int, int]]:
    return [(a.body["x"], a.body["y"]) for a in c.actions if a.name == "click"]


async def raw_click(fake: FakeOrgo, c: FakeComputer, y: int, **headers: str) -> int:
    """One click with bare aiohttp (its own connection); the status, or -1 on a
    connection error."""
    hdrs = {"Authorization": f"Bearer {fake.api_key}", **headers}
    async with aiohttp.ClientSession() as s:
        try:
            async with s.post(
                f"{fake.base_url}/computers/{c.id}/click", json={"x": 1, "y": y}, headers=hdrs
            ) as r:
                await r.read()
                return r.status
        except aiohttp.ClientConnectionError:
            return -1


async def test_header_matched_fault_hits_only_its_request(
    fake: FakeOrgo, computer: FakeComputer
) -> None:
    fault = fake.faults.add(
        "POST", "/computers/{id}/click", statuses=[500], headers={"X-Chaos-Op": "7"}
    )
    assert await raw_click(fake, computer, 1, **{"X-Chaos-Op": "6"}) == 200
    assert await raw_click(fake, computer, 2) == 200
    assert fault.hits == 0 and len(fake.faults) == 1
    assert await raw_click(fake, computer, 3, **{"x-chaos-op": "7"}) == 500
    assert fault.hits == 1 and len(fake.faults) == 0
    assert clicks(computer) == [(1, 1), (1, 2)]


async def test_remove_an_unused_fault(fake: FakeOrgo, computer: FakeComputer) -> None:
    fault = fake.faults.reset("POST", "/computers/{id}/click")
    assert fake.faults.remove(fault) is True
    assert fake.faults.remove(fault) is False
    assert await raw_click(fake, computer, 1) == 200


async def test_reset_drops_the_connection_before_the_route(
    fake: FakeOrgo, computer: FakeComputer, orgo: AsyncOrgo
) -> None:
    fake.faults.reset("POST", "/computers/{id}/click")
    assert await raw_click(fake, computer, 1) == -1
    assert clicks(computer) == []  # nothing was processed
    # The SDK cannot tell it from a loss after processing: a click is not resent...
    fake.faults.reset("POST", "/computers/{id}/click")
    with pytest.raises(APIConnectionError):
        await orgo.computers.click(computer.id, 5, 6)
    assert clicks(computer) == []
    # ... an idempotent read is.
    fake.faults.reset("GET", "/computers/{id}")
    assert (await orgo.computers.get(computer.id)).id == computer.id
    assert len(fake.requests_to("GET", f"/computers/{computer.id}")) == 2


async def test_lost_answer_after_the_action_ran(
    fake: FakeOrgo, computer: FakeComputer, orgo: AsyncOrgo
) -> None:
    fake.faults.lost("POST", "/computers/{id}/click")
    assert await raw_click(fake, computer, 1) == -1
    assert clicks(computer) == [(1, 1)]  # it ran; the answer never left
    fake.faults.lost("POST", "/computers/{id}/click")
    with pytest.raises(APIConnectionError) as info:
        await orgo.computers.click(computer.id, 5, 6)
    assert not isinstance(info.value, APITimeoutError)
    assert clicks(computer) == [(1, 1), (5, 6)]  # executed once, never resent


async def test_hold_past_the_client_timeout(fake: FakeOrgo, computer: FakeComputer) -> None:
    fake.faults.hold("POST", "/computers/{id}/click", 0.6, times=2)
    async with fake.client(timeout=0.2, max_retries=2) as orgo:
        with pytest.raises(APITimeoutError):
            await orgo.computers.click(computer.id, 5, 6)
        assert clicks(computer) == [(5, 6)]  # the action ran before the answer was held
        # move_mouse is idempotent: the timed-out attempt is retried and succeeds.
        fake.faults.hold("POST", "/computers/{id}/move", 0.6)
        result = await orgo.computers.move_mouse(computer.id, 7, 8)
        assert result.success
    assert [a.name for a in computer.actions].count("move") == 2


async def test_latency_before_the_route_runs_it_after_the_client_left(
    fake: FakeOrgo, computer: FakeComputer
) -> None:
    fake.faults.add("POST", "/computers/{id}/click", latency=0.4, times=1)
    async with fake.client(timeout=0.1, max_retries=2) as orgo:
        with pytest.raises(APITimeoutError):
            await orgo.computers.click(computer.id, 5, 6)
        assert clicks(computer) == []  # not yet: the server still holds the request
        async with asyncio.timeout(5):
            while not clicks(computer):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    assert clicks(computer) == [(5, 6)]  # ran late, once


async def test_refuse_connections_for_a_window(
    fake: FakeOrgo, computer: FakeComputer, orgo: AsyncOrgo
) -> None:
    await orgo.computers.get(computer.id)  # a pooled keep-alive connection
    conn = await orgo.connect(computer.id)
    async with conn.events(["window_focus"], reconnect=FAST) as events:
        await fake.refuse_connections(0.3)
        assert fake.refusing
        assert await raw_click(fake, computer, 1) == -1  # ECONNREFUSED
        # The pooled connection was closed: the SDK has to connect, is refused, and
        # retries even a click (the request provably never reached the server).
        result = await orgo.computers.click(computer.id, 5, 6)
        assert result.success
        assert not fake.refusing
        assert clicks(computer) == [(5, 6)]
        # The WebSocket opened before the window kept working through it.
        computer.events.publish("window_focus", {"window_id": "0x1", "title": "t"})
        async with asyncio.timeout(5):
            event = await anext(aiter(events))
        assert event.type == "window_focus" and events.reconnects == 0


async def test_refuse_without_close_idle_keeps_the_pool(
    fake: FakeOrgo, computer: FakeComputer, orgo: AsyncOrgo
) -> None:
    await orgo.computers.get(computer.id)
    await fake.refuse_connections(0.5, close_idle=False)
    await fake.refuse_connections(0.5, close_idle=False)  # extends, one reopen task
    assert (await orgo.computers.get(computer.id)).id == computer.id  # the pooled one
    async with asyncio.timeout(5):
        while fake.refusing:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert await raw_click(fake, computer, 1) == 200
    with pytest.raises(ValueError):
        await fake.refuse_connections(0)


async def test_close_while_refusing(computer: FakeComputer, fake: FakeOrgo) -> None:
    await fake.refuse_connections(10)
    await asyncio.wait_for(fake.close(), 5)
    assert not fake.refusing


async def test_ws_reset_sends_no_close_frame(fake: FakeOrgo, computer: FakeComputer) -> None:
    fake.add_ws_fault(computer.id, "audio", reset=True, after_frames=3)
    url = f"ws://{fake.hostname}/desktops/{computer.instance_id}/ws/audio?token="
    frames = 0
    async with connect(url + computer.vnc_password) as ws:
        with pytest.raises(ConnectionClosedError) as info:
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()
                    frames += 1
    assert frames == 3
    assert info.value.rcvd is None and info.value.sent is None


async def test_ws_reset_on_sdk_channels(
    fake: FakeOrgo, computer: FakeComputer, orgo: AsyncOrgo
) -> None:
    conn = await orgo.connect(computer.id)
    fake.add_ws_fault(computer.id, "audio", reset=True, after_frames=2)
    async with conn.audio(reconnect=FAST) as audio:
        got = 0
        async with asyncio.timeout(5):
            async for _ in audio:
                got += 1
                if got == 5:
                    break
        assert audio.reconnects == 1  # resumable: a reset is a reconnect
    fake.add_ws_fault(computer.id, "terminal", reset=True, after_frames=1)
    async with conn.terminal() as term:
        with pytest.raises(SessionLostError):
            await term.run("echo hi", timeout=5)  # a shell cannot resume


def test_ws_fault_needs_a_code_or_reset(fake: FakeOrgo, computer: FakeComputer) -> None:
    with pytest.raises(ValueError):
        fake.add_ws_fault(computer.id, "audio")
    with pytest.raises(ValueError):
        fake.add_ws_fault(computer.id, "audio", 1011, reset=True)
    fault = fake.add_ws_fault(computer.id, "events", reset=True)
    assert fault.reset and fault.close_code == 1006


def test_fault_validation(fake: FakeOrgo) -> None:
    with pytest.raises(ValueError):
        fake.faults.add("GET", "/x", hold=-1)
    with pytest.raises(ValueError):
        fake.faults.add("GET", "/x")
    with pytest.raises(ValueError):
        fake.faults.add("GET", "/x", kind="explode")  # type: ignore[arg-type]
    assert fake.faults.add("GET", "/x", hold=0.1).times is None  # like latency: every one


async def test_star_path_matches_every_path(fake: FakeOrgo, computer: FakeComputer) -> None:
    fault = fake.faults.add("*", "*", statuses=[502, 502], headers={"X-Chaos-Op": "9"})
    assert await raw_click(fake, computer, 1, **{"X-Chaos-Op": "9"}) == 502
    hdrs = {"Authorization": f"Bearer {fake.api_key}", "X-Chaos-Op": "9"}
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{fake.base_url}/computers/{computer.id}", headers=hdrs) as r:
            assert r.status == 502
        async with s.get(f"{fake.base_url}/computers/{computer.id}", headers=hdrs) as r:
            assert r.status == 200
    assert fault.hits == 2


async def test_refuse_serves_connections_accepted_just_before(
    fake: FakeOrgo, computer: FakeComputer
) -> None:
    """Connections the server accepted in the same loop turn as the refusal are still
    served (on Python 3.11 closing the server then would leave them unattached: never
    answered, their sockets never closed)."""
    import gc
    import socket

    loop = asyncio.get_running_loop()
    clients = [socket.create_connection(("127.0.0.1", fake.port)) for _ in range(8)]
    try:
        await asyncio.sleep(0)  # the loop sees the listener readable ...
        await asyncio.sleep(0)  # ... and has accepted them: their set-up is pending
        await fake.refuse_connections(0.2, close_idle=False)
        request = (
            f"GET /api/computers/{computer.id} HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {fake.api_key}\r\nConnection: close\r\n\r\n"
        ).encode()
        for sock in clients:
            sock.setblocking(False)
            await loop.sock_sendall(sock, request)
        for sock in clients:
            async with asyncio.timeout(5):
                head = await loop.sock_recv(sock, 64)
            assert head.startswith(b"HTTP/1.1 200"), head
    finally:
        for sock in clients:
            sock.close()
    gc.collect()
