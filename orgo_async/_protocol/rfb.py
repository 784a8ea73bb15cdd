"""A sans-I/O RFB (VNC) client, RFC 6143: bytes in, events and bytes out, no sockets.

::

    client = RfbClient(password)                 # VNC authentication with the vnc_password
    client.receive_data(chunk)                   # whatever the server sent
    for event in client.events_received():       # ServerInit, FramebufferUpdate, Bell ...
        ...
    transport.write(client.data_to_send())       # replies, then input events
    client.pointer_event(buttons=1, x=10, y=20)  # encoders queue bytes for data_to_send()

What it speaks:

* the handshake of versions 3.3, 3.7 and 3.8 (a server announcing more, such as Apple's
  3.889 or 4.x, gets 3.8; 3.4-3.6 get 3.3, RFC 6143 §7.1.1), security types None (1) and
  VNC authentication (2, DES from :mod:`orgo_async._protocol.des`), ClientInit (shared)
  and ServerInit, whose raw bytes are kept (:attr:`ServerInit.raw`);
* then, unless in hand-off mode, SetPixelFormat (32 bpp true colour, which every server
  must honour) and SetEncodings (Raw, CopyRect, the DesktopSize and PointerPos
  pseudo-encodings); FramebufferUpdate with those encodings applied to a
  :class:`Framebuffer`, SetColourMapEntries, Bell and ServerCutText;
* encoders for PointerEvent (button masks), KeyEvent (X keysyms, see
  :mod:`orgo_async._protocol.keysyms`), ClientCutText and FramebufferUpdateRequest.

**Hand-off mode** (``RfbClient(password, handoff=True)``) stops after ServerInit: the
state becomes ``HANDED_OFF``, :meth:`RfbClient.take_stream` returns the bytes received
after ServerInit, and the caller relays the raw stream from then on. A relay that
authenticates upstream and offers its own client a session without authentication pairs
it with :class:`~orgo_async._protocol.rfb_relay.NoAuthServerHandshake`, which replays the
upstream ServerInit::

    up = RfbClient(password, handoff=True)       # towards websockify, with the password
    ...                                          # until up.state is RfbState.HANDED_OFF
    down = NoAuthServerHandshake(up.server_init.raw)   # towards the browser (noVNC)
    ...                                          # until down.done; then pipe both ways

One state machine in one module (~570 lines, most of them the parser's per-state
handlers); pixels live in :mod:`~orgo_async._protocol.framebuffer`.

Protocol violations never raise from :meth:`RfbClient.receive_data`: they set
:attr:`RfbClient.error` (a :class:`~orgo_async.ChannelProtocolError`, or a
:class:`~orgo_async.TokenRejectedError` when the server refused the password) and the
state ``FAILED``; the I/O layer reports it and hangs up.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from .._errors import ChannelProtocolError, OrgoError, TokenRejectedError, WebSocketError
from .des import vnc_response
from .framebuffer import BGRX, Framebuffer, PixelFormat

__all__ = [
    "BGRX",
    "COPYRECT",
    "DESKTOP_SIZE",
    "POINTER_POS",
    "RAW",
    "Bell",
    "ColourMapEntries",
    "CursorPosition",
    "DesktopResized",
    "Event",
    "Framebuffer",
    "FramebufferUpdate",
    "PixelFormat",
    "RfbClient",
    "RfbState",
    "ServerCutText",
    "ServerInit",
]

CHANNEL: Final = "websockify"
RAW: Final = 0
COPYRECT: Final = 1
DESKTOP_SIZE: Final = -223
LAST_RECT: Final = -224
POINTER_POS: Final = -232
SECURITY_NONE: Final = 1
SECURITY_VNC: Final = 2
MAX_TEXT: Final = 16 << 20  # cut text and reason strings
MAX_DIMENSION: Final = 16384


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerInit:
    """The handshake is complete. ``raw`` is the ServerInit message exactly as received."""

    width: int
    height: int
    pixel_format: PixelFormat
    name: str
    raw: bytes
    version: tuple[int, int]


@dataclass(frozen=True, slots=True)
class FramebufferUpdate:
    """One FramebufferUpdate, applied to :attr:`RfbClient.framebuffer`; ``rects`` are the
    changed ``(x, y, width, height)`` regions (pseudo-encodings excluded)."""

    rects: tuple[tuple[int, int, int, int], ...]


@dataclass(frozen=True, slots=True)
class CursorPosition:
    """The server's pointer position (PointerPos pseudo-encoding)."""

    x: int
    y: int


@dataclass(frozen=True, slots=True)
class DesktopResized:
    """The framebuffer changed size (DesktopSize pseudo-encoding)."""

    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Bell:
    """The server rang the bell."""


@dataclass(frozen=True, slots=True)
class ServerCutText:
    """The server's clipboard changed (ISO 8859-1 text, RFC 6143 §7.6.4)."""

    text: str


@dataclass(frozen=True, slots=True)
class ColourMapEntries:
    """SetColourMapEntries (ignored: this client always asks for true colour)."""

    first: int
    count: int


Event = (
    ServerInit
    | FramebufferUpdate
    | CursorPosition
    | DesktopResized
    | Bell
    | ServerCutText
    | ColourMapEntries
)


class RfbState(enum.Enum):
    """Where an :class:`RfbClient` is in the protocol."""

    VERSION = "version"
    SECURITY = "security"
    CHALLENGE = "challenge"
    SECURITY_RESULT = "security_result"
    SERVER_INIT = "server_init"
    NORMAL = "normal"
    HANDED_OFF = "handed_off"
    FAILED = "failed"


class RfbClient:
    """One RFB client session (sans-I/O); see the module docstring.

    Arguments:
        password: the VNC password (``None``: only security type None is acceptable).
        shared: the ClientInit shared flag (keep other viewers connected).
        handoff: stop after ServerInit and hand the raw stream over.
        framebuffer: keep :attr:`framebuffer` current from FramebufferUpdates (Raw,
            CopyRect); ``False`` parses updates but drops the pixels.
        encodings: what SetEncodings announces (the defaults are all this parser handles).
    """

    def __init__(
        self,
        password: str | None = None,
        *,
        shared: bool = True,
        handoff: bool = False,
        framebuffer: bool = True,
        encodings: Iterable[int] = (RAW, COPYRECT, DESKTOP_SIZE, POINTER_POS),
    ) -> None:
        self._password = password
        self._shared = shared
        self._handoff = handoff
        self._keep_pixels = framebuffer
        self._encodings = tuple(encodings)
        unknown = set(self._encodings) - {RAW, COPYRECT, DESKTOP_SIZE, POINTER_POS, LAST_RECT}
        if unknown:
            raise ValueError(f"this client cannot decode encodings {sorted(unknown)}")
        self.state = RfbState.VERSION
        self.version: tuple[int, int] = (3, 8)
        self.security_type: int | None = None
        self.error: OrgoError | None = None
        self.server_init: ServerInit | None = None
        self.framebuffer: Framebuffer | None = None
        self.pixel_format: PixelFormat | None = None
        self._in = bytearray()
        self._out = bytearray()
        self._events: list[Event] = []
        self._rects_left = 0
        self._rects: list[tuple[int, int, int, int]] = []
        self._width = self._height = 0

    def __repr__(self) -> str:
        return f"<RfbClient {self.state.value} version={self.version[0]}.{self.version[1]}>"

    # -- the sans-I/O interface ----------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the server; then read :meth:`events_received` and
        :meth:`data_to_send`. After a failure or the hand-off, bytes are ignored or kept
        for :meth:`take_stream` respectively."""
        if self.state is RfbState.FAILED:
            return
        self._in += data
        if self.state is RfbState.HANDED_OFF:
            return
        while self.state not in (RfbState.FAILED, RfbState.HANDED_OFF):
            if not self._step():
                break

    def events_received(self) -> list[Event]:
        """Events parsed since the last call."""
        events, self._events = self._events, []
        return events

    def data_to_send(self) -> bytes:
        """Bytes to write to the server since the last call (replies and input events)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def take_stream(self) -> bytes:
        """Hand-off mode: the bytes received after ServerInit (the relay forwards them)."""
        if self.state is not RfbState.HANDED_OFF:
            raise RuntimeError("take_stream() is only available after the hand-off")
        rest = bytes(self._in)
        self._in.clear()
        return rest

    @property
    def ready(self) -> bool:
        """True once input events may be sent (handshake done, not handed off)."""
        return self.state is RfbState.NORMAL

    # -- encoders ------------------------------------------------------------------------

    def _require_normal(self) -> None:
        if self.state is not RfbState.NORMAL:
            raise RuntimeError(f"cannot send RFB messages in state {self.state.value}")

    def pointer_event(self, buttons: int, x: int, y: int) -> None:
        """PointerEvent: ``buttons`` is the mask (1 left, 2 middle, 4 right, 8/16 wheel
        up/down, 32/64 wheel left/right, 128 back)."""
        self._require_normal()
        if not 0 <= buttons <= 0xFF:
            raise ValueError(f"button mask must be 0..255, not {buttons}")
        if not (0 <= x <= 0xFFFF and 0 <= y <= 0xFFFF):
            raise ValueError(f"pointer position ({x}, {y}) out of range")
        self._out += struct.pack(">BBHH", 5, buttons, x, y)

    def key_event(self, keysym: int, down: bool) -> None:
        """KeyEvent: press (``down=True``) or release an X keysym."""
        self._require_normal()
        if not 0 <= keysym <= 0xFFFFFFFF:
            raise ValueError(f"keysym out of range: {keysym:#x}")
        self._out += struct.pack(">BBxxI", 4, down, keysym)

    def client_cut_text(self, text: str) -> None:
        """ClientCutText (ISO 8859-1; other characters become ``?``)."""
        self._require_normal()
        raw = text.encode("latin-1", errors="replace")
        if len(raw) > MAX_TEXT:
            raise ValueError("cut text too long")
        self._out += struct.pack(">BxxxI", 6, len(raw)) + raw

    def request_update(
        self,
        incremental: bool = True,
        x: int = 0,
        y: int = 0,
        width: int | None = None,
        height: int | None = None,
    ) -> None:
        """FramebufferUpdateRequest (default: the whole screen)."""
        self._require_normal()
        assert self.server_init is not None
        fb_w, fb_h = self._size()
        w = fb_w - x if width is None else width
        h = fb_h - y if height is None else height
        self._out += struct.pack(">BBHHHH", 3, incremental, x, y, max(0, w), max(0, h))

    def _size(self) -> tuple[int, int]:
        if self.framebuffer is not None:
            return self.framebuffer.width, self.framebuffer.height
        assert self.server_init is not None
        return self._width, self._height

    # -- parsing -------------------------------------------------------------------------

    def _fail(self, error: OrgoError) -> bool:
        self.error = error
        self.state = RfbState.FAILED
        return False

    def _protocol_error(self, message: str) -> bool:
        return self._fail(ChannelProtocolError(f"RFB: {message}", channel=CHANNEL))

    def _take(self, n: int) -> bytes | None:
        if len(self._in) < n:
            return None
        chunk = bytes(self._in[:n])
        del self._in[:n]
        return chunk

    def _peek_text(self, offset: int) -> tuple[str, int] | None:
        """A u32-length-prefixed string at ``offset``: (text, total length) or None."""
        if len(self._in) < offset + 4:
            return None
        (length,) = struct.unpack_from(">I", self._in, offset)
        if length > MAX_TEXT:
            self._protocol_error(f"string of {length} bytes is too long")
            return None
        end = offset + 4 + length
        if len(self._in) < end:
            return None
        return bytes(self._in[offset + 4 : end]).decode("latin-1"), end

    def _step(self) -> bool:
        return {
            RfbState.VERSION: self._on_version,
            RfbState.SECURITY: self._on_security,
            RfbState.CHALLENGE: self._on_challenge,
            RfbState.SECURITY_RESULT: self._on_security_result,
            RfbState.SERVER_INIT: self._on_server_init,
            RfbState.NORMAL: self._on_message,
        }[self.state]()

    def _on_version(self) -> bool:
        raw = self._take(12)
        if raw is None:
            return False
        if not (raw[:4] == b"RFB " and raw[7:8] == b"." and raw[11:] == b"\n"):
            return self._protocol_error(f"not an RFB server (version {raw[:12]!r})")
        try:
            major, minor = int(raw[4:7]), int(raw[8:11])
        except ValueError:
            return self._protocol_error(f"bad ProtocolVersion {raw!r}")
        if major < 3:
            return self._protocol_error(f"unsupported RFB version {major}.{minor}")
        if major > 3 or minor >= 8:
            self.version = (3, 8)
        else:
            self.version = (3, 7) if minor == 7 else (3, 3)
        self._out += b"RFB 003.%03d\n" % self.version[1]
        self.state = RfbState.SECURITY
        return True

    def _on_security(self) -> bool:
        if self.version == (3, 3):  # the server decides: one u32
            if len(self._in) < 4:
                return False
            (kind,) = struct.unpack_from(">I", self._in)
            if kind == 0:
                return self._refused(4)
            del self._in[:4]
            return self._chose(kind, reply=False)
        if not self._in:
            return False
        count = self._in[0]
        if count == 0:
            return self._refused(1)
        raw = self._take(1 + count)
        if raw is None:
            return False
        offered = list(raw[1:])
        if SECURITY_NONE in offered and (self._password is None or SECURITY_VNC not in offered):
            return self._chose(SECURITY_NONE, reply=True)
        if SECURITY_VNC in offered and self._password is not None:
            return self._chose(SECURITY_VNC, reply=True)
        needs = "a password (VNC authentication)" if SECURITY_VNC in offered else "none we speak"
        return self._fail(
            WebSocketError(
                f"RFB: no usable security type among {offered}: {needs}", channel=CHANNEL
            )
        )

    def _refused(self, offset: int) -> bool:
        text = self._peek_text(offset)
        if text is None:
            return False
        return self._fail(
            WebSocketError(f"RFB: the server refused the connection: {text[0]}", channel=CHANNEL)
        )

    def _chose(self, kind: int, *, reply: bool) -> bool:
        if kind not in (SECURITY_NONE, SECURITY_VNC):
            return self._fail(
                WebSocketError(f"RFB: unsupported security type {kind}", channel=CHANNEL)
            )
        if kind == SECURITY_VNC and self._password is None:
            return self._fail(
                WebSocketError("RFB: the server wants a VNC password", channel=CHANNEL)
            )
        self.security_type = kind
        if reply:
            self._out.append(kind)
        if kind == SECURITY_VNC:
            self.state = RfbState.CHALLENGE
        elif self.version == (3, 8):
            self.state = RfbState.SECURITY_RESULT  # 3.8 sends a result even for None
        else:
            self._client_init()
        return True

    def _on_challenge(self) -> bool:
        challenge = self._take(16)
        if challenge is None:
            return False
        assert self._password is not None
        self._out += vnc_response(self._password, challenge)
        self.state = RfbState.SECURITY_RESULT
        return True

    def _on_security_result(self) -> bool:
        if len(self._in) < 4:
            return False
        (result,) = struct.unpack_from(">I", self._in)
        if result == 0:
            del self._in[:4]
            self._client_init()
            return True
        reason = "authentication failed"
        if self.version == (3, 8):  # only 3.8 carries a reason string
            text = self._peek_text(4)
            if text is None:
                return False
            reason = text[0] or reason
        if self.security_type == SECURITY_VNC:
            return self._fail(
                TokenRejectedError(
                    f"RFB: the VNC password was rejected ({reason})", channel=CHANNEL
                )
            )
        return self._fail(
            WebSocketError(f"RFB: security handshake failed ({reason})", channel=CHANNEL)
        )

    def _client_init(self) -> None:
        self._out.append(1 if self._shared else 0)
        self.state = RfbState.SERVER_INIT

    def _on_server_init(self) -> bool:
        text = self._peek_text(20)
        if text is None:
            return False
        raw = self._take(text[1])
        assert raw is not None
        width, height = struct.unpack_from(">HH", raw)
        pf = PixelFormat.unpack(raw[4:20])
        self.server_init = ServerInit(
            width, height, pf, raw[24:].decode("utf-8", "replace"), raw, self.version
        )
        self._width, self._height = width, height
        self.pixel_format = pf
        self._events.append(self.server_init)
        if self._handoff:
            self.state = RfbState.HANDED_OFF
            return False
        self._out += struct.pack(">Bxxx", 0) + BGRX.pack()
        self.pixel_format = BGRX
        self._out += struct.pack(
            f">BxH{len(self._encodings)}i", 2, len(self._encodings), *self._encodings
        )
        if self._keep_pixels:
            self.framebuffer = Framebuffer(width, height)
        self.state = RfbState.NORMAL
        return True

    def _on_message(self) -> bool:
        if self._rects_left:
            return self._on_rect()
        if not self._in:
            return False
        kind = self._in[0]
        if kind == 0:  # FramebufferUpdate
            raw = self._take(4)
            if raw is None:
                return False
            (self._rects_left,) = struct.unpack_from(">H", raw, 2)
            self._rects = []
            if self._rects_left == 0:
                self._events.append(FramebufferUpdate(()))
            return True
        if kind == 1:  # SetColourMapEntries
            if len(self._in) < 6:
                return False
            first, count = struct.unpack_from(">HH", self._in, 2)
            if self._take(6 + 6 * count) is None:
                return False
            self._events.append(ColourMapEntries(first, count))
            return True
        if kind == 2:
            del self._in[:1]
            self._events.append(Bell())
            return True
        if kind == 3:  # ServerCutText: u8, 3 pad, u32 length, text
            text = self._peek_text(4)
            if text is None:
                return False
            del self._in[: text[1]]
            self._events.append(ServerCutText(text[0]))
            return True
        return self._protocol_error(f"unknown server message type {kind}")

    def _on_rect(self) -> bool:
        if len(self._in) < 12:
            return False
        x, y, w, h, encoding = struct.unpack_from(">HHHHi", self._in)
        if encoding == RAW:
            if not self._fits(x, y, w, h):  # before waiting for (maybe absurd) data
                return False
            size = w * h * 4
            if len(self._in) < 12 + size:
                return False
            if self.framebuffer is not None:
                self.framebuffer.put(x, y, w, h, memoryview(self._in)[12 : 12 + size])
            del self._in[: 12 + size]
            self._rects.append((x, y, w, h))
        elif encoding == COPYRECT:
            if len(self._in) < 16:
                return False
            sx, sy = struct.unpack_from(">HH", self._in, 12)
            if not (self._fits(x, y, w, h) and self._fits(sx, sy, w, h)):
                return False
            del self._in[:16]
            if self.framebuffer is not None:
                self.framebuffer.copy(sx, sy, x, y, w, h)
            self._rects.append((x, y, w, h))
        elif encoding == DESKTOP_SIZE:
            del self._in[:12]
            if not (0 < w <= MAX_DIMENSION and 0 < h <= MAX_DIMENSION):
                return self._protocol_error(f"bad desktop size {w}x{h}")
            self._width, self._height = w, h
            if self.framebuffer is not None:
                self.framebuffer = Framebuffer(w, h)
            self._events.append(DesktopResized(w, h))
        elif encoding == POINTER_POS:
            del self._in[:12]
            self._events.append(CursorPosition(x, y))
        elif encoding == LAST_RECT:
            del self._in[:12]
            self._rects_left = 1  # ends the update below
        else:
            return self._protocol_error(f"rectangle with encoding {encoding} we did not ask for")
        self._rects_left -= 1
        if self._rects_left == 0:
            self._events.append(FramebufferUpdate(tuple(self._rects)))
            self._rects = []
        return True

    def _fits(self, x: int, y: int, w: int, h: int) -> bool:
        fb_w, fb_h = self._size()
        if x + w > fb_w or y + h > fb_h:
            return self._protocol_error(
                f"rectangle {w}x{h}+{x}+{y} outside the {fb_w}x{fb_h} screen"
            )
        return True
