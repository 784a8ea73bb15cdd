"""VNC: the raw RFB byte stream over websockify, and the local TCP bridge for viewers."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.server import ServerConnection

from orgo_async import ChannelProtocolError, TokenRejectedError, WebSocketError
from tests.conftest import eventually

from .conftest import Desktop

RFB_VERSION = b"RFB 003.008\n"


async def fake_rfb(ws: ServerConnection, query: dict[str, str]) -> None:
    """Enough of a websockify+RFB server: version, then echo every frame reversed."""
    ws.seen.frames.append(("subprotocol", ws.subprotocol))  # type: ignore[attr-defined]
    await ws.send(RFB_VERSION)
    async for frame in ws:
        assert isinstance(frame, bytes)
        ws.seen.frames.append(frame)  # type: ignore[attr-defined]
        await ws.send(frame[::-1])


@pytest.fixture
def rfb(desktop: Desktop) -> Desktop:
    desktop.handlers["websockify"] = fake_rfb
    return desktop


async def test_bytes_both_ways(rfb: Desktop) -> None:
    async with rfb.connection().vnc() as vnc:
        assert await vnc.read() == RFB_VERSION
        await vnc.write(RFB_VERSION)
        assert await vnc.read() == RFB_VERSION[::-1]
        big = bytes(range(256)) * 4096  # 1 MiB framebuffer-sized message
        await vnc.write(big)
        assert await vnc.read() == big[::-1]
    frames = rfb.of("websockify")[0].frames
    assert frames[0] == ("subprotocol", None)  # offered "binary"; server chose none
    assert frames[1] == RFB_VERSION


async def test_text_frame_is_a_protocol_violation(desktop: Desktop) -> None:
    async def texty(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send("UkZC")  # base64 websockify mode is not supported
        await ws.wait_closed()

    desktop.handlers["websockify"] = texty
    async with desktop.connection().vnc() as vnc:
        with pytest.raises(WebSocketError, match="text frame"):
            await vnc.read()


async def test_reconnect_starts_a_new_rfb_session(rfb: Desktop) -> None:
    async with rfb.connection().vnc() as vnc:
        assert await vnc.read() == RFB_VERSION
        ws = rfb.sockets[-1]
        assert ws.transport is not None
        ws.transport.abort()
        await eventually(lambda: vnc.reconnects == 1)
        assert await vnc.read() == RFB_VERSION


async def test_token_rotation(rfb: Desktop) -> None:
    async with rfb.connection(password="pw-old").vnc() as vnc:
        assert await vnc.read() == RFB_VERSION
    assert rfb.refreshes == 1


async def test_rejected_without_refresh(rfb: Desktop) -> None:
    with pytest.raises(TokenRejectedError):
        async with rfb.connection(password="pw-old", refresh=None).vnc() as vnc:
            await vnc.read()


async def test_oversized_frame(desktop: Desktop) -> None:
    async def huge(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.send(b"\x00" * (2 << 20))
        await ws.wait_closed()

    desktop.handlers["websockify"] = huge
    conn = desktop.connection()
    conn.options = conn.options.with_changes(vnc_max_size=1 << 20)
    async with conn.vnc() as vnc:
        with pytest.raises(ChannelProtocolError, match="max_size"):
            await vnc.read()


async def test_bridge_tunnels_a_tcp_viewer(rfb: Desktop) -> None:
    async with rfb.connection().vnc_bridge(port=0) as bridge:
        assert bridge.port > 0
        reader, writer = await asyncio.open_connection(bridge.host, bridge.port)
        try:
            async with asyncio.timeout(10):
                assert await reader.readexactly(len(RFB_VERSION)) == RFB_VERSION
                writer.write(b"hello viewer")
                await writer.drain()
                assert await reader.readexactly(12) == b"reweiv olleh"
        finally:
            writer.close()
            await writer.wait_closed()
        # A second viewer gets its own tunnel (its own RFB session).
        reader2, writer2 = await asyncio.open_connection(bridge.host, bridge.port)
        try:
            async with asyncio.timeout(10):
                assert await reader2.readexactly(len(RFB_VERSION)) == RFB_VERSION
        finally:
            writer2.close()
            await writer2.wait_closed()
        assert bridge.connections == 2
    assert len(rfb.of("websockify")) == 2


async def test_bridge_closes_the_viewer_when_the_tunnel_fails(desktop: Desktop) -> None:
    async def stopped(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.close(4404, "not running")

    desktop.handlers["websockify"] = stopped
    async with desktop.connection().vnc_bridge() as bridge:
        reader, writer = await asyncio.open_connection(bridge.host, bridge.port)
        try:
            async with asyncio.timeout(10):
                assert await reader.read() == b""  # EOF: the viewer sees the close
        finally:
            writer.close()
            await writer.wait_closed()


async def test_not_running_at_first_open_is_not_retried(desktop: Desktop) -> None:
    from orgo_async import ComputerNotRunningError

    async def stopped(ws: ServerConnection, query: dict[str, str]) -> None:
        await ws.close(4404, "not running")

    desktop.handlers["websockify"] = stopped
    async with desktop.connection().vnc() as vnc:
        with pytest.raises(ComputerNotRunningError):
            await vnc.read()
    assert len(desktop.of("websockify")) == 1


async def test_dead_peer_is_a_heartbeat_timeout() -> None:
    """A server that completes the upgrade and then goes silent (no pong frames)."""
    import base64
    import hashlib

    from orgo_async import Computer, HeartbeatTimeoutError
    from orgo_async.connection import Connection, ReconnectPolicy

    peers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer)
        head = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(
            hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
        )
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        await writer.drain()
        await reader.read()  # never answers anything

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        computer = Computer(
            id="c1",
            instance_id="a3881618",
            connection_url=f"http://127.0.0.1:{port}/desktops/a3881618",
            vnc_password="pw-0000000001",
        )
        conn = Connection(
            computer,
            heartbeat_interval=0.05,
            heartbeat_timeout=0.1,
            close_timeout=0.2,
            reconnect=ReconnectPolicy(initial=0.01, cap=0.01, max_attempts=0, jitter=0),
        )
        async with conn.vnc() as vnc:
            with pytest.raises(HeartbeatTimeoutError):
                async with asyncio.timeout(10):
                    await vnc.read()
    finally:
        for w in peers:
            w.close()
        server.close()
        await server.wait_closed()
