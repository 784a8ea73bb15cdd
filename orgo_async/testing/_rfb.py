"""A small sans-I/O RFB (VNC) server: the emulator's built-in desktop behind websockify.

:class:`RfbServer` is fed the client's bytes and returns the bytes to send back; it owns
no socket, so it is tested directly and run over any transport. It speaks RFB 3.8 (and
3.7 / 3.3 for older clients, per RFC 6143 §7.1.1), offers only security type 2 (VNC
authentication against the computer's ``vnc_password``), announces a framebuffer of the
computer's size in 32 bpp true colour named ``orgo-fake``, and answers:

* ``FramebufferUpdateRequest``: a non-incremental request gets one Raw rectangle of the
  requested region (clipped), in the client's pixel format; an incremental one gets
  nothing, because nothing on this screen changes (a real server also waits for damage,
  and answering with empty updates would make clients spin);
* ``SetPixelFormat`` (true colour, 8/16/32 bpp, either byte order), ``SetEncodings``
  (Raw is always used, which every client must accept), ``KeyEvent``, ``PointerEvent``
  and ``ClientCutText`` are accepted; key and pointer events go to callbacks.

A protocol violation (unknown message type, bad version string, absurd cut-text length)
sets :attr:`RfbServer.error` and :attr:`RfbServer.closed`; the transport then hangs up.

VNC authentication uses the package's one DES (:mod:`orgo_async._protocol.des`): the only
SDK module the emulator imports, because a cipher is not an interpretation of the API
(see that module's docstring).
"""

from __future__ import annotations

import hmac
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .._protocol.des import vnc_response

__all__ = ["DEFAULT_PIXEL_FORMAT", "PixelFormat", "RfbServer"]

SECURITY_VNC_AUTH: Final = 2
MAX_CUT_TEXT: Final = 1 << 20
SERVER_NAME: Final = "orgo-fake"


@dataclass(frozen=True)
class PixelFormat:
    """RFC 6143 §7.4 PIXEL_FORMAT."""

    bits_per_pixel: int = 32
    depth: int = 24
    big_endian: bool = False
    true_colour: bool = True
    red_max: int = 255
    green_max: int = 255
    blue_max: int = 255
    red_shift: int = 16
    green_shift: int = 8
    blue_shift: int = 0

    def pack(self) -> bytes:
        """The 16-byte wire form (3 bytes of padding at the end)."""
        return struct.pack(
            ">BBBBHHHBBBxxx",
            self.bits_per_pixel,
            self.depth,
            int(self.big_endian),
            int(self.true_colour),
            self.red_max,
            self.green_max,
            self.blue_max,
            self.red_shift,
            self.green_shift,
            self.blue_shift,
        )

    @classmethod
    def unpack(cls, data: bytes) -> PixelFormat:
        """Parse the 16-byte wire form."""
        bpp, depth, be, tc, rmax, gmax, bmax, rs, gs, bs = struct.unpack(">BBBBHHHBBBxxx", data)
        return cls(bpp, depth, bool(be), bool(tc), rmax, gmax, bmax, rs, gs, bs)

    def encode(self, r: int, g: int, b: int) -> bytes:
        """One pixel of colour (r, g, b) (0..255 each) in this format."""
        value = (
            (r * self.red_max // 255) << self.red_shift
            | (g * self.green_max // 255) << self.green_shift
            | (b * self.blue_max // 255) << self.blue_shift
        )
        size = self.bits_per_pixel // 8
        return (value & ((1 << (8 * size)) - 1)).to_bytes(
            size, "big" if self.big_endian else "little"
        )


DEFAULT_PIXEL_FORMAT: Final = PixelFormat()

# Message lengths (fixed part) by client message type, RFC 6143 §7.5.
_FIXED: Final = {0: 20, 2: 4, 3: 10, 4: 8, 5: 6, 6: 8}


class RfbServer:
    """One RFB server session. Call :meth:`start` once, then :meth:`receive` per chunk."""

    def __init__(
        self,
        password: str,
        width: int,
        height: int,
        *,
        name: str = SERVER_NAME,
        on_key: Callable[[bool, int], None] | None = None,
        on_pointer: Callable[[int, int, int], None] | None = None,
        on_cut_text: Callable[[str], None] | None = None,
        challenge: bytes | None = None,
    ) -> None:
        self.width = width
        self.height = height
        self.name = name
        self.pixel_format = DEFAULT_PIXEL_FORMAT
        self.encodings: list[int] = []
        self.version = (3, 8)
        self.state = "version"
        self.authenticated = False
        self.closed = False
        self.error: str | None = None
        self._password = password
        self._challenge = challenge if challenge is not None else os.urandom(16)
        self._buf = bytearray()
        self._on_key = on_key
        self._on_pointer = on_pointer
        self._on_cut_text = on_cut_text

    def __repr__(self) -> str:
        # Never show the password.
        return f"<RfbServer {self.width}x{self.height} state={self.state}>"

    def start(self) -> bytes:
        """The server's first bytes: its ProtocolVersion."""
        return b"RFB 003.008\n"

    def receive(self, data: bytes) -> bytes:
        """Feed client bytes; return what to send back (possibly nothing)."""
        if self.closed:
            return b""
        self._buf += data
        out = bytearray()
        while not self.closed:
            step = getattr(self, "_on_" + self.state)(out)
            if not step:
                break
        return bytes(out)

    def _fail(self, out: bytearray, reason: str) -> bool:
        self.error = reason
        self.closed = True
        self.state = "closed"
        return False

    def _take(self, n: int) -> bytes | None:
        if len(self._buf) < n:
            return None
        chunk = bytes(self._buf[:n])
        del self._buf[:n]
        return chunk

    # -- handshake ------------------------------------------------------------------

    def _on_version(self, out: bytearray) -> bool:
        raw = self._take(12)
        if raw is None:
            return False
        if not (raw.startswith(b"RFB ") and raw[7:8] == b"." and raw.endswith(b"\n")):
            return self._fail(out, "invalid ProtocolVersion")
        try:
            major, minor = int(raw[4:7]), int(raw[8:11])
        except ValueError:
            return self._fail(out, "invalid ProtocolVersion")
        if major != 3 or minor < 3:
            return self._fail(out, "unsupported RFB version")
        # RFC 6143 §7.1.1: unknown minors below 7 are 3.3; 3.8 or later (e.g. Apple's
        # 3.889) gets 3.8.
        self.version = (3, 8) if minor >= 8 else (3, 7) if minor == 7 else (3, 3)
        if self.version == (3, 3):
            out += struct.pack(">I", SECURITY_VNC_AUTH) + self._challenge
            self.state = "auth"
        else:
            out += bytes([1, SECURITY_VNC_AUTH])
            self.state = "security"
        return True

    def _on_security(self, out: bytearray) -> bool:
        raw = self._take(1)
        if raw is None:
            return False
        if raw[0] != SECURITY_VNC_AUTH:
            self._security_failed(out, "unsupported security type")
            return self._fail(out, "unsupported security type")
        out += self._challenge
        self.state = "auth"
        return True

    def _security_failed(self, out: bytearray, reason: str) -> None:
        out += struct.pack(">I", 1)
        if self.version == (3, 8):  # only 3.8 carries a reason string
            out += struct.pack(">I", len(reason)) + reason.encode()

    def _on_auth(self, out: bytearray) -> bool:
        raw = self._take(16)
        if raw is None:
            return False
        expected = vnc_response(self._password, self._challenge)
        if not hmac.compare_digest(raw, expected):
            self._security_failed(out, "Authentication failed")
            return self._fail(out, "authentication failed")
        out += struct.pack(">I", 0)
        self.authenticated = True
        self.state = "client_init"
        return True

    def _on_client_init(self, out: bytearray) -> bool:
        if self._take(1) is None:  # shared flag: one emulated desktop, always shared
            return False
        name = self.name.encode()
        out += struct.pack(">HH", self.width, self.height) + self.pixel_format.pack()
        out += struct.pack(">I", len(name)) + name
        self.state = "normal"
        return True

    # -- normal phase -----------------------------------------------------------------

    def _on_normal(self, out: bytearray) -> bool:
        if not self._buf:
            return False
        kind = self._buf[0]
        fixed = _FIXED.get(kind)
        if fixed is None:
            return self._fail(out, f"unknown client message type {kind}")
        if len(self._buf) < fixed:
            return False
        if kind == 2:  # SetEncodings: u8 type, pad, u16 count, count x s32
            (count,) = struct.unpack_from(">H", self._buf, 2)
            raw = self._take(4 + 4 * count)
            if raw is None:
                return False
            self.encodings = list(struct.unpack_from(f">{count}i", raw, 4))
            return True
        if kind == 6:  # ClientCutText: u8 type, 3 pad, s32 length, text
            (length,) = struct.unpack_from(">i", self._buf, 4)
            if length < 0:  # extended clipboard pseudo-encoding; we never offer it
                length = -length
            if length > MAX_CUT_TEXT:
                return self._fail(out, "ClientCutText too long")
            raw = self._take(8 + length)
            if raw is None:
                return False
            if self._on_cut_text is not None:
                self._on_cut_text(raw[8:].decode("latin-1"))
            return True
        raw = self._take(fixed)
        assert raw is not None
        if kind == 0:
            pf = PixelFormat.unpack(raw[4:20])
            if pf.bits_per_pixel not in (8, 16, 32) or not pf.true_colour:
                return self._fail(out, "unsupported pixel format")
            self.pixel_format = pf
        elif kind == 3:
            incremental, x, y, w, h = struct.unpack(">xBHHHH", raw)
            if not incremental:
                out += self.framebuffer_update(x, y, w, h)
        elif kind == 4:
            down, key = struct.unpack(">xBxxI", raw)
            if self._on_key is not None:
                self._on_key(bool(down), key)
        elif kind == 5:
            mask, x, y = struct.unpack(">xBHH", raw)
            if self._on_pointer is not None:
                self._on_pointer(mask, x, y)
        return True

    # -- pixels -----------------------------------------------------------------------

    def colour_at_row(self, y: int) -> tuple[int, int, int]:
        """The emulated screen: a vertical gradient (rows differ, so rows can be checked)."""
        shade = y * 255 // max(1, self.height - 1)
        return (32, 64 + shade // 2, 255 - shade)

    def framebuffer_update(self, x: int, y: int, w: int, h: int) -> bytes:
        """A FramebufferUpdate with one Raw rectangle of the region, clipped to the screen."""
        x0, y0 = min(x, self.width), min(y, self.height)
        x1, y1 = min(x + w, self.width), min(y + h, self.height)
        w, h = x1 - x0, y1 - y0
        header = struct.pack(">BxH", 0, 1) + struct.pack(">HHHHi", x0, y0, w, h, 0)
        rows = [self.pixel_format.encode(*self.colour_at_row(row)) * w for row in range(y0, y1)]
        return header + b"".join(rows)
