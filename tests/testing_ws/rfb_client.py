"""A minimal RFB client written for the tests (byte-level, from RFC 6143), over any byte
stream given as ``recv_exact`` / ``send`` coroutines."""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from orgo_async._protocol.des import vnc_response

RecvExact = Callable[[int], Awaitable[bytes]]
Send = Callable[[bytes], Awaitable[None]]


@dataclass
class ServerInit:
    width: int
    height: int
    bpp: int
    depth: int
    big_endian: bool
    true_colour: bool
    shifts: tuple[int, int, int]
    name: str


class RfbAuthFailed(Exception):
    """SecurityResult said failed."""


async def handshake(recv_exact: RecvExact, send: Send, password: str) -> ServerInit:
    """Version 3.8, VNC authentication, ClientInit (shared); return the ServerInit."""
    version = await recv_exact(12)
    assert version.startswith(b"RFB 003."), version
    await send(b"RFB 003.008\n")
    (count,) = await recv_exact(1)
    assert count > 0, "server refused the version"
    types = await recv_exact(count)
    assert 2 in types, f"no VNC authentication offered: {types!r}"
    await send(bytes([2]))
    challenge = await recv_exact(16)
    await send(vnc_response(password, challenge))
    (result,) = struct.unpack(">I", await recv_exact(4))
    if result != 0:
        (n,) = struct.unpack(">I", await recv_exact(4))
        raise RfbAuthFailed((await recv_exact(n)).decode())
    await send(b"\x01")
    head = await recv_exact(20)
    w, h, bpp, depth, be, tc, _rm, _gm, _bm, rs, gs, bs = struct.unpack(">HHBBBBHHHBBBxxx", head)
    (n,) = struct.unpack(">I", await recv_exact(4))
    name = (await recv_exact(n)).decode()
    return ServerInit(w, h, bpp, depth, bool(be), bool(tc), (rs, gs, bs), name)


def update_request(incremental: bool, x: int, y: int, w: int, h: int) -> bytes:
    return struct.pack(">BBHHHH", 3, int(incremental), x, y, w, h)


def key_event(down: bool, key: int) -> bytes:
    return struct.pack(">BBxxI", 4, int(down), key)


def pointer_event(mask: int, x: int, y: int) -> bytes:
    return struct.pack(">BBHH", 5, mask, x, y)


async def read_raw_update(
    recv_exact: RecvExact, bpp: int = 32
) -> list[tuple[int, int, int, int, bytes]]:
    """One FramebufferUpdate of Raw rectangles: [(x, y, w, h, pixels)]."""
    kind, count = struct.unpack(">BxH", await recv_exact(4))
    assert kind == 0, f"expected FramebufferUpdate, got message type {kind}"
    rects = []
    for _ in range(count):
        x, y, w, h, enc = struct.unpack(">HHHHi", await recv_exact(12))
        assert enc == 0, f"expected Raw encoding, got {enc}"
        rects.append((x, y, w, h, await recv_exact(w * h * bpp // 8)))
    return rects


class ByteFeeder:
    """Turn a sans-I/O server's output into ``recv_exact``."""

    def __init__(self) -> None:
        self.buf = bytearray()

    async def recv_exact(self, n: int) -> bytes:
        assert len(self.buf) >= n, f"wanted {n} bytes, server had sent {len(self.buf)}"
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out
