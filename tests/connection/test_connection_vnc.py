"""VNC: the raw RFB byte stream over websockify, and the local TCP bridge for viewers."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.server import ServerConnection

from orgo_async import ChannelProtocolError, TokenRejectedError, WebSocketError

from .conftest import Desktop, eventually

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
