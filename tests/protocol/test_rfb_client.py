"""The sans-I/O RFB client: handshakes (3.3/3.7/3.8, None and VNC auth), framebuffer
updates, encoders, failures, and the hand-off mode a relay uses.

Most tests pair it with the emulator's own sans-I/O RFB server (an independent
implementation, ``orgo_async.testing._rfb``); the corner cases the emulator never
produces (other versions, security None, refusals, CopyRect, pseudo-encodings) are fed
as hand-written server bytes from RFC 6143. The real-server oracle is x11vnc
(``tests/agents/test_x11vnc.py``).
"""

from __future__ import annotations

import struct

import pytest

from orgo_async import ChannelProtocolError, TokenRejectedError, WebSocketError
from orgo_async._protocol import rfb
from orgo_async._protocol.des import vnc_response
from orgo_async._protocol.rfb import (
    Bell,
    ColourMapEntries,
    CursorPosition,
    DesktopResized,
    FramebufferUpdate,
    RfbClient,
    RfbState,
    ServerCutText,
    ServerInit,
)
from orgo_async._protocol.rfb_relay import NoAuthServerHandshake
from orgo_async.testing._rfb import RfbServer

PASSWORD = "a06db12a8683df96"


def _pump(client: RfbClient, server: RfbServer, first: bytes, *, chunk: int = 0) -> None:
    """Exchange bytes until both sides are quiet (``chunk``: feed the client N bytes at a
    time, to check that fragmentation does not matter)."""
    to_client = first
    for _ in range(50):
        if to_client:
            if chunk:
                for i in range(0, len(to_client), chunk):
                    client.receive_data(to_client[i : i + chunk])
            else:
                client.receive_data(to_client)
        to_server = client.data_to_send()
        if not to_server and not to_client:
            return
        to_client = server.receive(to_server) if to_server else b""
    raise AssertionError("the exchange did not settle")


def _pair(password: str = PASSWORD, **kw: object) -> tuple[RfbClient, RfbServer, list[object]]:
    seen: list[object] = []
    server = RfbServer(
        PASSWORD,
        320,
        200,
        on_key=lambda down, key: seen.append(("key", down, key)),
        on_pointer=lambda mask, x, y: seen.append(("pointer", mask, x, y)),
        on_cut_text=lambda text: seen.append(("cut", text)),
    )
    client = RfbClient(password, **kw)  # type: ignore[arg-type]
    _pump(client, server, server.start())
    assert [type(e) for e in client.events_received()] == [ServerInit]
    return client, server, seen


@pytest.mark.parametrize("chunk", [0, 1, 7])
def test_handshake_with_the_emulator_server(chunk: int) -> None:
    server = RfbServer(PASSWORD, 320, 200)
    client = RfbClient(PASSWORD)
    _pump(client, server, server.start(), chunk=chunk)
    assert client.ready and client.state is RfbState.NORMAL
    assert server.authenticated
    events = client.events_received()
    assert len(events) == 1 and isinstance(events[0], ServerInit)
    init = events[0]
    assert (init.width, init.height, init.name, init.version) == (320, 200, "orgo-fake", (3, 8))
    # The raw ServerInit is exactly what the server sent: size, format, name.
    assert init.raw[:4] == struct.pack(">HH", 320, 200)
    assert init.raw.endswith(struct.pack(">I", 9) + b"orgo-fake")
    # After the handshake the client asked for 32 bpp BGRX and announced its encodings.
    assert server.pixel_format.bits_per_pixel == 32 and not server.pixel_format.big_endian
    assert server.encodings == [rfb.RAW, rfb.COPYRECT, rfb.DESKTOP_SIZE, rfb.POINTER_POS]


def test_wrong_password_is_a_token_rejection_with_the_server_reason() -> None:
    server = RfbServer(PASSWORD, 320, 200)
    client = RfbClient("not-the-password")
    _pump(client, server, server.start())
    assert client.state is RfbState.FAILED
    assert isinstance(client.error, TokenRejectedError)
    assert "Authentication failed" in str(client.error)
    assert client.error.channel == "websockify"
    assert not client.ready


def test_input_events_reach_the_server_in_order() -> None:
    client, server, seen = _pair()
    client.pointer_event(0, 10, 20)
    client.pointer_event(1, 10, 20)
    client.pointer_event(0, 11, 21)
    client.key_event(0xFF0D, True)
    client.key_event(0xFF0D, False)
    client.client_cut_text("héllo")
    assert server.receive(client.data_to_send()) == b""
    assert seen == [
        ("pointer", 0, 10, 20),
        ("pointer", 1, 10, 20),
        ("pointer", 0, 11, 21),
        ("key", True, 0xFF0D),
        ("key", False, 0xFF0D),
        ("cut", "héllo"),
    ]


def test_encoder_bytes_follow_rfc_6143() -> None:
    client, _, _ = _pair()
    client.pointer_event(0x81, 0x102, 0x304)
    assert client.data_to_send() == bytes([5, 0x81, 1, 2, 3, 4])
    client.key_event(0x1008FF27, True)
    assert client.data_to_send() == bytes([4, 1, 0, 0, 0x10, 0x08, 0xFF, 0x27])
    client.request_update(False, 1, 2, 3, 4)
    assert client.data_to_send() == bytes([3, 0, 0, 1, 0, 2, 0, 3, 0, 4])
    client.request_update()
    assert client.data_to_send() == struct.pack(">BBHHHH", 3, 1, 0, 0, 320, 200)
    client.client_cut_text("a☃")  # not Latin-1: replaced, never an exception
    assert client.data_to_send() == bytes([6, 0, 0, 0, 0, 0, 0, 2]) + b"a?"


def test_encoders_refuse_bad_values_and_early_use() -> None:
    early = RfbClient(PASSWORD)
    with pytest.raises(RuntimeError, match="state version"):
        early.pointer_event(0, 1, 1)
    client, _, _ = _pair()
    with pytest.raises(ValueError):
        client.pointer_event(256, 0, 0)
    with pytest.raises(ValueError):
        client.pointer_event(0, -1, 0)
    with pytest.raises(ValueError):
        client.key_event(-1, True)
    with pytest.raises(ValueError, match="cannot decode"):
        RfbClient(PASSWORD, encodings=[16])  # ZRLE: not something this parser decodes


def test_raw_update_fills_the_framebuffer_with_the_servers_pixels() -> None:
    client, server, _ = _pair()
    client.request_update(False, 0, 0, 320, 200)
    client.receive_data(server.receive(client.data_to_send()))
    (update,) = client.events_received()
    assert update == FramebufferUpdate(((0, 0, 320, 200),))
    fb = client.framebuffer
    assert fb is not None
    rgb = fb.region_rgb()
    assert len(rgb) == 320 * 200 * 3
    for row in (0, 57, 199):
        start = row * 320 * 3
        assert rgb[start : start + 3] == bytes(server.colour_at_row(row))
        assert rgb[start + 3 * 319 : start + 3 * 320] == bytes(server.colour_at_row(row))
    # A partial region comes from the same pixels.
    assert (
        fb.region_rgb(10, 57, 12, 59)
        == bytes(server.colour_at_row(57)) * 2 + bytes(server.colour_at_row(58)) * 2
    )


def _ready_client(width: int = 4, height: int = 3) -> RfbClient:
    """A client past a scripted 3.8 security-None handshake."""
    client = RfbClient(None)
    client.receive_data(b"RFB 003.008\n" + bytes([1, 1]) + struct.pack(">I", 0))
    init = struct.pack(">HH", width, height) + rfb.BGRX.pack() + struct.pack(">I", 1) + b"x"
    client.receive_data(init)
    assert client.ready, client.error
    client.events_received()
    client.data_to_send()
    return client


def _px(r: int, g: int, b: int) -> bytes:
    return bytes([b, g, r, 0])


def test_copyrect_desktop_size_pointer_pos_and_last_rect() -> None:
    client = _ready_client(4, 3)
    red, green = _px(255, 0, 0), _px(0, 255, 0)
    raw = struct.pack(">HHHHi", 0, 0, 2, 1, rfb.RAW) + red + green
    copy = struct.pack(">HHHHi", 1, 0, 2, 1, rfb.COPYRECT) + struct.pack(">HH", 0, 0)
    pos = struct.pack(">HHHHi", 3, 2, 0, 0, rfb.POINTER_POS)
    client.receive_data(struct.pack(">BxH", 0, 3) + raw + copy + pos)
    assert client.events_received() == [
        CursorPosition(3, 2),
        FramebufferUpdate(((0, 0, 2, 1), (1, 0, 2, 1))),
    ]
    fb = client.framebuffer
    assert fb is not None
    # The copy read its (overlapping) source before writing: red, red, green.
    assert fb.region_rgb(0, 0, 3, 1) == bytes([255, 0, 0, 255, 0, 0, 0, 255, 0])
    # LastRect ends an update announced with 0xFFFF rectangles.
    last = struct.pack(">HHHHi", 0, 0, 0, 0, -224)
    client.receive_data(struct.pack(">BxH", 0, 0xFFFF) + raw + last)
    assert client.events_received() == [FramebufferUpdate(((0, 0, 2, 1),))]
    size = struct.pack(">HHHHi", 0, 0, 8, 6, rfb.DESKTOP_SIZE)
    client.receive_data(struct.pack(">BxH", 0, 1) + size)
    assert client.events_received() == [DesktopResized(8, 6), FramebufferUpdate(())]
    assert (client.framebuffer.width, client.framebuffer.height) == (8, 6)  # type: ignore[union-attr]
    client.request_update()
    assert client.data_to_send() == struct.pack(">BBHHHH", 3, 1, 0, 0, 8, 6)


def test_bell_cut_text_and_colour_map_messages() -> None:
    client = _ready_client()
    msg = bytes([2]) + struct.pack(">BxxxI", 3, 5) + b"hell\xe9"
    msg += struct.pack(">BxHH", 1, 0, 2) + bytes(12)
    for i in range(len(msg)):  # byte by byte: every message is reassembled
        client.receive_data(msg[i : i + 1])
    assert client.events_received() == [Bell(), ServerCutText("hellé"), ColourMapEntries(0, 2)]
    assert client.error is None


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (bytes([99]), "unknown server message type 99"),
        (struct.pack(">BxH", 0, 1) + struct.pack(">HHHHi", 3, 2, 4, 4, 0), "outside"),
        (struct.pack(">BxH", 0, 1) + struct.pack(">HHHHi", 0, 0, 1, 1, 16), "encoding 16"),
        (struct.pack(">BxxxI", 3, 1 << 30), "too long"),
        (struct.pack(">BxH", 0, 1) + struct.pack(">HHHHi", 0, 0, 0, 0, -223), "desktop size"),
    ],
)
def test_protocol_violations_fail_with_a_typed_error(message: bytes, match: str) -> None:
    client = _ready_client()
    client.receive_data(message)
    assert client.state is RfbState.FAILED
    assert isinstance(client.error, ChannelProtocolError)
    assert match in str(client.error)
    client.receive_data(b"\x02")  # ignored after the failure
    assert client.events_received() == []


def test_not_an_rfb_server() -> None:
    client = RfbClient(PASSWORD)
    client.receive_data(b"HTTP/1.1 400 Bad Request\r\n")
    assert isinstance(client.error, ChannelProtocolError)
    assert "not an RFB server" in str(client.error)


@pytest.mark.parametrize(
    ("announced", "spoken"),
    [(b"003.003", b"003.003"), (b"003.005", b"003.003"), (b"003.007", b"003.007"),
     (b"003.008", b"003.008"), (b"003.889", b"003.008"), (b"004.001", b"003.008")],
)  # fmt: skip
def test_version_negotiation(announced: bytes, spoken: bytes) -> None:
    client = RfbClient(PASSWORD)
    client.receive_data(b"RFB " + announced + b"\n")
    assert client.data_to_send() == b"RFB " + spoken + b"\n"


def _init(width: int = 2, height: int = 2) -> bytes:
    return struct.pack(">HH", width, height) + rfb.BGRX.pack() + struct.pack(">I", 3) + b"abc"


def test_version_33_vnc_auth_and_none() -> None:
    challenge = bytes(range(16))
    client = RfbClient(PASSWORD)
    client.receive_data(b"RFB 003.003\n" + struct.pack(">I", 2) + challenge)
    # 3.3: the server picks the type; no choice byte is sent.
    assert client.data_to_send() == b"RFB 003.003\n" + vnc_response(PASSWORD, challenge)
    client.receive_data(struct.pack(">I", 0))
    assert client.data_to_send() == b"\x01"  # ClientInit, shared
    client.receive_data(_init())
    assert client.ready
    none = RfbClient(PASSWORD)
    none.receive_data(b"RFB 003.003\n" + struct.pack(">I", 1) + _init())
    assert none.ready and none.security_type == 1


def test_version_33_failure_reason() -> None:
    client = RfbClient(PASSWORD)
    client.receive_data(b"RFB 003.003\n" + struct.pack(">II", 0, 8) + b"too many")
    assert isinstance(client.error, WebSocketError)
    assert "refused the connection: too many" in str(client.error)


def test_version_37_none_has_no_security_result_and_vnc_failure_has_no_reason() -> None:
    client = RfbClient(None)
    client.receive_data(b"RFB 003.007\n" + bytes([2, 2, 1]) + _init())
    assert client.ready and client.security_type == 1
    assert client.data_to_send().startswith(b"RFB 003.007\n\x01\x01")  # chose None, shared
    bad = RfbClient("wrong")
    bad.receive_data(b"RFB 003.007\n" + bytes([1, 2]) + bytes(16) + struct.pack(">I", 1))
    assert isinstance(bad.error, TokenRejectedError)


def test_version_38_none_reads_the_security_result() -> None:
    client = RfbClient(None)
    client.receive_data(b"RFB 003.008\n" + bytes([1, 1]))
    assert not client.ready  # waiting for the SecurityResult 3.8 sends even for None
    client.receive_data(struct.pack(">I", 0) + _init())
    assert client.ready


def test_no_usable_security_type() -> None:
    no_password = RfbClient(None)
    no_password.receive_data(b"RFB 003.008\n" + bytes([1, 2]))
    assert isinstance(no_password.error, WebSocketError)
    assert "password" in str(no_password.error)
    exotic = RfbClient(PASSWORD)
    exotic.receive_data(b"RFB 003.008\n" + bytes([2, 18, 19]))  # TLS, VeNCrypt only
    assert "[18, 19]" in str(exotic.error)
    refused = RfbClient(PASSWORD)
    refused.receive_data(b"RFB 003.008\n\x00" + struct.pack(">I", 4) + b"busy")
    assert "refused the connection: busy" in str(refused.error)


def test_repr_hides_the_password() -> None:
    client = RfbClient(PASSWORD)
    assert PASSWORD not in repr(client)


# -- hand-off: authenticate upstream, offer a no-auth session downstream -----------------


@pytest.mark.parametrize("browser_version", [(3, 3), (3, 7), (3, 8)])
def test_handoff_relays_an_authenticated_session_to_a_no_auth_client(
    browser_version: tuple[int, int],
) -> None:
    seen: list[object] = []
    server = RfbServer(PASSWORD, 64, 48, on_pointer=lambda mask, x, y: seen.append((mask, x, y)))
    upstream = RfbClient(PASSWORD, handoff=True)
    _pump(upstream, server, server.start())
    assert upstream.state is RfbState.HANDED_OFF
    assert upstream.server_init is not None
    (event,) = upstream.events_received()
    assert event is upstream.server_init
    assert upstream.take_stream() == b""
    with pytest.raises(RuntimeError):
        upstream.pointer_event(0, 0, 0)  # the relay owns the stream now
    # After the hand-off, bytes are kept for the relay, never parsed.
    upstream.receive_data(b"\x02\x02")
    assert upstream.events_received() == [] and upstream.take_stream() == b"\x02\x02"

    down = NoAuthServerHandshake(upstream.server_init.raw, version=browser_version)
    browser = RfbClient(None)  # noVNC without a password
    to_browser = down.data_to_send()
    for _ in range(10):
        browser.receive_data(to_browser)
        down.receive_data(browser.data_to_send())
        to_browser = down.data_to_send()
        if down.done:
            break
    browser.receive_data(to_browser)
    assert down.done and browser.ready, (down.error, browser.error)
    assert browser.security_type == 1
    assert browser.server_init is not None
    assert browser.server_init.raw == upstream.server_init.raw
    assert (browser.server_init.width, browser.server_init.height) == (64, 48)

    # From here the relay pipes bytes: the browser's SetPixelFormat/SetEncodings (sent
    # right after ServerInit) and its input reach the upstream server unchanged.
    browser.pointer_event(4, 5, 6)
    browser.request_update(False, 0, 0, 64, 48)
    reply = server.receive(down.take_stream() + browser.data_to_send())
    assert seen == [(4, 5, 6)]
    browser.receive_data(reply)
    updates = [e for e in browser.events_received() if isinstance(e, FramebufferUpdate)]
    assert updates == [FramebufferUpdate(((0, 0, 64, 48),))]


def test_no_auth_server_rejects_other_security_choices_and_bad_versions() -> None:
    init = _init()
    down = NoAuthServerHandshake(init)
    down.receive_data(b"RFB 003.008\n\x02")
    assert isinstance(down.error, ChannelProtocolError)
    bad = NoAuthServerHandshake(init)
    bad.receive_data(b"GET / HTTP/1.1\r\n")
    assert isinstance(bad.error, ChannelProtocolError)
    with pytest.raises(RuntimeError):
        bad.take_stream()
    with pytest.raises(ValueError):
        NoAuthServerHandshake(b"short")
