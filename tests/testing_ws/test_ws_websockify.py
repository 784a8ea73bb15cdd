"""The websockify channel (§11.3): the built-in RFB server and a tunnel to a TCP server."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from orgo_async.testing._state import Action

from .conftest import Harness, close_code
from .rfb_client import (
    RfbAuthFailed,
    handshake,
    key_event,
    pointer_event,
    read_raw_update,
    update_request,
)


class WsStream:
    """``recv_exact`` / ``send`` over binary WebSocket messages (message boundaries are
    not RFB boundaries, as with any websockify)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.buf = bytearray()
        self.sizes: list[int] = []

    async def recv_exact(self, n: int) -> bytes:
        async with asyncio.timeout(10):
            while len(self.buf) < n:
                msg = await self.ws.recv()
                assert isinstance(msg, bytes), "websockify sends binary frames only"
                self.sizes.append(len(msg))
                self.buf += msg
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    async def send(self, data: bytes) -> None:
        await self.ws.send(data)


async def test_builtin_rfb_handshake_and_full_screen(harness: Harness) -> None:
    async with harness.connect("websockify") as ws:
        s = WsStream(ws)
        init = await handshake(s.recv_exact, s.send, harness.computer.vnc_password)
        assert (init.width, init.height) == (1280, 720)
        assert init.name == "orgo-fake"
        await s.send(update_request(False, 0, 0, init.width, init.height))
        ((x, y, w, h, pixels),) = await read_raw_update(s.recv_exact)
        assert (x, y, w, h) == (0, 0, 1280, 720)
        assert len(pixels) == 1280 * 720 * 4
        # A full screen (3.7 MB) arrives in websockify-sized messages, never over 64 KiB.
        assert max(s.sizes) <= 65536


async def test_builtin_rfb_wrong_password_then_close(harness: Harness) -> None:
    async with harness.connect("websockify") as ws:
        s = WsStream(ws)
        with pytest.raises(RfbAuthFailed, match="Authentication failed"):
            await handshake(s.recv_exact, s.send, "not-the-password")
        assert await close_code(ws) == 1000


async def test_builtin_rfb_records_key_and_pointer(harness: Harness) -> None:
    async with harness.connect("websockify") as ws:
        s = WsStream(ws)
        await handshake(s.recv_exact, s.send, harness.computer.vnc_password)
        await s.send(key_event(True, 0x61) + key_event(False, 0x61))
        await s.send(pointer_event(1, 100, 200))
        # Flush: a non-incremental request is answered after the events were handled.
        await s.send(update_request(False, 0, 0, 1, 1))
        await read_raw_update(s.recv_exact)
    actions = [(a.name, a.body) for a in harness.computer.actions]
    assert actions == [
        ("vnc_key", {"down": True, "key": 0x61}),
        ("vnc_key", {"down": False, "key": 0x61}),
        ("vnc_pointer", {"buttons": 1, "x": 100, "y": 200}),
    ]
    assert all(isinstance(a, Action) for a in harness.computer.actions)


async def test_builtin_uses_current_computer_size(harness: Harness) -> None:
    harness.computer.resolution = "800x600x24"
    async with harness.connect("websockify") as ws:
        s = WsStream(ws)
        init = await handshake(s.recv_exact, s.send, harness.computer.vnc_password)
        assert (init.width, init.height) == (800, 600)


async def test_text_frame_closes_1003(harness: Harness) -> None:
    async with harness.connect("websockify") as ws:
        await ws.recv()  # ProtocolVersion
        await ws.send("RFB 003.008\n")
        assert await close_code(ws) == 1003


async def test_binary_subprotocol_is_agreed(harness: Harness) -> None:
    async with connect(harness.url("websockify"), subprotocols=["binary"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "binary"
        assert await ws.recv() == b"RFB 003.008\n"


@pytest.fixture
async def echo_server() -> AsyncIterator[tuple[tuple[str, int], list[bytes]]]:
    received: list[bytes] = []
    handlers: list[asyncio.Task[None]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HELLO\n")  # a server speaks first, like RFB
        try:
            while data := await reader.read(65536):
                received.append(data)
                writer.write(data.upper())
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        await serve(reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield ("127.0.0.1", port), received
    finally:
        server.close()
        async with asyncio.timeout(10):
            # The tunnel hung up when the socket closed; the handlers finish on EOF.
            await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def test_tunnel_to_tcp_server(
    harness: Harness, echo_server: tuple[tuple[str, int], list[bytes]]
) -> None:
    target, received = echo_server
    harness.fake.vnc_target = target
    async with harness.connect("websockify") as ws:
        s = WsStream(ws)
        assert await s.recv_exact(6) == b"HELLO\n"
        await ws.send(b"ping over websockify")
        assert await s.recv_exact(20) == b"PING OVER WEBSOCKIFY"
        big = os.urandom(200_000).hex().encode()  # 400 kB through the tunnel, both ways
        await ws.send(big)
        assert await s.recv_exact(len(big)) == big.upper()
    assert b"".join(received).startswith(b"ping over websockify")


async def test_tunnel_closes_1000_when_target_hangs_up(harness: Harness) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"bye")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    harness.fake.vnc_target = ("127.0.0.1", server.sockets[0].getsockname()[1])
    try:
        async with harness.connect("websockify") as ws:
            assert await ws.recv() == b"bye"
            assert await close_code(ws) == 1000
    finally:
        server.close()
        await server.wait_closed()


async def test_tunnel_target_unreachable_closes_1011(harness: Harness) -> None:
    # A port that was just free: bind, read the number, close.
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    harness.fake.vnc_target = ("127.0.0.1", port)
    async with harness.connect("websockify") as ws:
        assert await close_code(ws) == 1011


async def test_builtin_cut_text_becomes_clipboard_event(harness: Harness) -> None:
    import json
    import struct

    async with harness.connect("events") as events:
        await events.send(json.dumps({"type": "subscribe", "event_types": ["clipboard"]}))
        assert json.loads(await events.recv()) == {"type": "subscribed", "message": "ok"}
        async with harness.connect("websockify") as ws:
            s = WsStream(ws)
            await handshake(s.recv_exact, s.send, harness.computer.vnc_password)
            await s.send(struct.pack(">BxxxI", 6, 5) + b"hello")
            async with asyncio.timeout(10):
                frame = json.loads(await events.recv())
    assert frame["event"]["type"] == "clipboard"
    assert frame["event"]["data"] == {"content": "hello"}
    assert ("vnc_cut_text", {"text": "hello"}) in [
        (a.name, a.body) for a in harness.computer.actions
    ]
