"""Regression tests for SDK defects the chaos work turned up, each against real loopback
servers (a small ``websockets`` server or the emulator)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve

from orgo_async import WebSocketError
from orgo_async.connection import Connection, ReconnectPolicy


@dataclass
class _Computer:
    id: str
    connection_url: str
    instance_id: str = "a3881618"
    fly_instance_id: str | None = None
    hostname: str | None = None
    vnc_password: str | None = "pw-0123456789"


@pytest.fixture
async def flood_then_close() -> AsyncIterator[str]:
    """A websockify stand-in: five binary frames, then a normal close."""

    async def handler(ws: ServerConnection) -> None:
        for _ in range(5):
            await ws.send(b"RFB-data")
        await ws.close(1000)

    server: Server = await serve(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/desktops/a3881618"
    finally:
        server.close()
        await server.wait_closed()


async def test_cancelling_a_send_that_waits_for_the_reader_cancels_it(
    flood_then_close: str,
) -> None:
    """A write on a socket the server closed waits (up to close_timeout) for the reader
    to process the close; the reader of a lossless channel whose consumer stopped
    reading is blocked. Cancelling the writer then must cancel it, not be swallowed
    (it was: the write went on and raised WebSocketError a moment later)."""
    conn = Connection(
        _Computer("c1", flood_then_close),
        close_timeout=1.0,
        reconnect=ReconnectPolicy(initial=0.01, cap=0.02, max_attempts=0, jitter=0),
    )
    async with conn.vnc(buffer=1) as vnc:
        await asyncio.sleep(0.3)  # the frames fill the buffer; the close arrives
        writer = asyncio.create_task(vnc.write(b"RFB 003.008\n"))
        await asyncio.sleep(0.2)  # the writer now waits for the blocked reader
        assert not writer.done()
        writer.cancel()
        done, _ = await asyncio.wait({writer}, timeout=3)
        assert writer in done, "the cancellation was swallowed: the write went on waiting"
        assert writer.cancelled(), f"the write ended with {writer.exception()!r}"


@pytest.fixture
async def deaf_server() -> AsyncIterator[str]:
    """A websockify stand-in that sends one frame, then stops reading its socket: our
    close frame is never answered, so ``aclose`` waits (up to ``close_timeout``)."""
    stop = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        await ws.send(b"RFB-data")
        ws.transport.pause_reading()
        await stop.wait()
        ws.transport.abort()  # it cannot read a close answer either: no closing handshake

    server: Server = await serve(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/desktops/a3881618"
    finally:
        stop.set()
        server.close()
        await server.wait_closed()


async def test_cancelling_aclose_while_it_waits_for_the_close_cancels_it(
    deaf_server: str,
) -> None:
    """The same in ``aclose``: a task cancelled while leaving ``async with`` ends
    cancelled instead of carrying on after the block. (Before a closing channel kept
    reading, a full lossless buffer made every close wait like this; now it takes a
    server that does not answer.)"""
    conn = Connection(_Computer("c1", deaf_server), close_timeout=3.0)
    carried_on = asyncio.Event()

    async def user() -> None:
        async with conn.vnc(buffer=1):
            await asyncio.sleep(0.3)
        carried_on.set()  # must not run: the task was cancelled while closing

    task = asyncio.create_task(user())
    await asyncio.sleep(0.45)  # inside aclose now, waiting for the close answer
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=5)
    assert task in done
    assert task.cancelled(), f"ended with {task.exception()!r}"
    assert not carried_on.is_set()


async def test_write_after_the_server_closed_raises_typed(flood_then_close: str) -> None:
    """Not cancelled: a write to a socket the server closed normally is a typed error
    once the reader has seen the close (the control case of the tests above)."""
    conn = Connection(_Computer("c1", flood_then_close), close_timeout=0.5)
    async with conn.vnc(buffer=8) as vnc:
        frames = [await vnc.read() for _ in range(5)]
        assert frames == [b"RFB-data"] * 5
        assert await vnc.read() == b""  # the normal end
        with pytest.raises(WebSocketError):
            await vnc.write(b"RFB 003.008\n")


async def test_relay_pumps_do_not_swallow_their_callers_cancellation() -> None:
    """The browser relays' ``run_pumps`` waited for the losing pump inside
    ``suppress(CancelledError)``: a relay task cancelled while the other pump was still
    cleaning up returned normally instead of ending. Same fix as the channels'."""
    from orgo_async.web._relay import run_pumps

    cleaning = asyncio.Event()

    async def down() -> tuple[int, str]:
        return 1000, "upstream ended"

    async def up() -> tuple[int, str] | None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cleaning.set()
            await asyncio.sleep(0.5)  # a slow clean-up of the browser side
            raise
        return None

    relay = asyncio.create_task(run_pumps(down(), up()))
    await asyncio.wait_for(cleaning.wait(), 2)
    relay.cancel()
    done, _ = await asyncio.wait({relay}, timeout=2)
    assert done, "run_pumps did not end after its task was cancelled"
    assert relay.cancelled(), f"run_pumps swallowed the cancellation: {relay.result()!r}"
