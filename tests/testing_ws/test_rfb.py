"""The built-in RFB server, sans I/O: fed bytes, checked bytes."""

from __future__ import annotations

import struct

import pytest

from orgo_async._protocol.des import vnc_response
from orgo_async.testing._rfb import PixelFormat, RfbServer

from .rfb_client import (
    ByteFeeder,
    RfbAuthFailed,
    handshake,
    key_event,
    pointer_event,
    read_raw_update,
    update_request,
)

PASSWORD = "a06db12a8683df96"


def _pair(
    password: str = PASSWORD,
) -> tuple[RfbServer, ByteFeeder, list[tuple[str, tuple[object, ...]]]]:
    seen: list[tuple[str, tuple[object, ...]]] = []
    server = RfbServer(
        password,
        64,
        48,
        on_key=lambda *a: seen.append(("key", a)),
        on_pointer=lambda *a: seen.append(("pointer", a)),
        on_cut_text=lambda *a: seen.append(("cut", a)),
    )
    feeder = ByteFeeder()
    feeder.buf += server.start()
    return server, feeder, seen


async def _connect(server: RfbServer, feeder: ByteFeeder, password: str) -> object:
    async def send(data: bytes) -> None:
        feeder.buf += server.receive(data)

    return await handshake(feeder.recv_exact, send, password)


async def test_handshake_right_password() -> None:
    server, feeder, _ = _pair()
    init = await _connect(server, feeder, PASSWORD)
    assert server.authenticated and not server.closed
    assert init.width == 64 and init.height == 48  # type: ignore[attr-defined]
    assert init.bpp == 32 and init.depth == 24 and init.true_colour  # type: ignore[attr-defined]
    assert init.name == "orgo-fake"  # type: ignore[attr-defined]


async def test_handshake_wrong_password() -> None:
    server, feeder, _ = _pair()
    with pytest.raises(RfbAuthFailed, match="Authentication failed"):
        await _connect(server, feeder, "wrong-password")
    assert server.closed and not server.authenticated
    assert server.receive(b"\x01") == b""  # a closed session ignores input


async def test_only_first_8_password_bytes_count() -> None:
    server, feeder, _ = _pair()
    await _connect(server, feeder, PASSWORD[:8] + "zzzz")
    assert server.authenticated


async def test_bytes_may_arrive_one_at_a_time() -> None:
    server = RfbServer(PASSWORD, 10, 10, challenge=bytes(16))
    out = bytearray(server.start())
    for b in b"RFB 003.008\n" + bytes([2]) + vnc_response(PASSWORD, bytes(16)) + b"\x01":
        out += server.receive(bytes([b]))
    assert out.startswith(b"RFB 003.008\n\x01\x02" + bytes(16) + b"\0\0\0\0")
    assert server.state == "normal"


async def test_rfb_33_client() -> None:
    server = RfbServer(PASSWORD, 10, 10, challenge=bytes(range(16)))
    server.start()
    out = server.receive(b"RFB 003.003\n")
    assert out == struct.pack(">I", 2) + bytes(range(16))  # server picks the type in 3.3
    assert server.receive(b"x" * 16) == struct.pack(">I", 1)  # no reason string in 3.3
    assert server.closed


@pytest.mark.parametrize("version", [b"HTTP/1.1 200", b"RFB 004.000\n", b"RFB 003.00x\n"])
async def test_bad_version(version: bytes) -> None:
    server = RfbServer(PASSWORD, 10, 10)
    server.start()
    server.receive(version)
    assert server.closed and server.error


async def test_unsupported_security_type() -> None:
    server = RfbServer(PASSWORD, 10, 10)
    server.start()
    server.receive(b"RFB 003.008\n")
    out = server.receive(b"\x01")  # "None" security: not offered
    assert out[:4] == struct.pack(">I", 1)
    assert server.closed


async def test_framebuffer_update_raw_and_clipped() -> None:
    server, feeder, _ = _pair()
    await _connect(server, feeder, PASSWORD)
    feeder.buf += server.receive(update_request(False, 0, 0, 64, 48))
    ((x, y, w, h, pixels),) = await read_raw_update(feeder.recv_exact)
    assert (x, y, w, h) == (0, 0, 64, 48)
    top = pixels[:4]
    bottom = pixels[-4:]
    assert top != bottom  # a gradient: rows differ
    assert pixels[: 64 * 4] == top * 64  # rows are uniform
    # Clipped to the framebuffer.
    feeder.buf += server.receive(update_request(False, 60, 40, 100, 100))
    ((x, y, w, h, _),) = await read_raw_update(feeder.recv_exact)
    assert (x, y, w, h) == (60, 40, 4, 8)
    # Incremental: nothing changed, nothing sent.
    assert server.receive(update_request(True, 0, 0, 64, 48)) == b""


async def test_set_pixel_format_16bpp_big_endian() -> None:
    server, feeder, _ = _pair()
    await _connect(server, feeder, PASSWORD)
    pf = PixelFormat(16, 16, True, True, 31, 63, 31, 11, 5, 0)
    msg = b"\x00\x00\x00\x00" + pf.pack()
    msg += struct.pack(">BxHii", 2, 2, 0, -223)  # SetEncodings: Raw, DesktopSize
    feeder.buf += server.receive(msg + update_request(False, 0, 0, 2, 1))
    assert server.pixel_format == pf and server.encodings == [0, -223]
    ((_, _, w, h, pixels),) = await read_raw_update(feeder.recv_exact, bpp=16)
    assert (w, h) == (2, 1) and len(pixels) == 4
    r, g, b = server.colour_at_row(0)
    value = (r * 31 // 255) << 11 | (g * 63 // 255) << 5 | (b * 31 // 255)
    assert pixels == struct.pack(">HH", value, value)


async def test_key_pointer_and_cut_text_events() -> None:
    server, feeder, seen = _pair()
    await _connect(server, feeder, PASSWORD)
    cut = struct.pack(">BxxxI", 6, 5) + b"hello"
    out = server.receive(key_event(True, 0xFF0D) + pointer_event(1, 10, 20) + cut)
    assert out == b""
    assert seen == [("key", (True, 0xFF0D)), ("pointer", (1, 10, 20)), ("cut", ("hello",))]
    assert not server.closed


async def test_unknown_message_type_closes() -> None:
    server, feeder, _ = _pair()
    await _connect(server, feeder, PASSWORD)
    server.receive(b"\x63garbage")
    assert server.closed and "unknown" in (server.error or "")


async def test_huge_cut_text_closes() -> None:
    server, feeder, _ = _pair()
    await _connect(server, feeder, PASSWORD)
    server.receive(struct.pack(">BxxxI", 6, 1 << 30))
    assert server.closed


def test_repr_hides_the_password() -> None:
    assert PASSWORD not in repr(RfbServer(PASSWORD, 1, 1))
