"""The server side of an RFB handshake for relays: security None, a replayed ServerInit.

A relay (for example a browser-facing noVNC relay) authenticates upstream with the VNC
password using :class:`~orgo_async._protocol.rfb.RfbClient` in hand-off mode, then offers
its own client a session without a password with :class:`NoAuthServerHandshake`, and
pipes bytes both ways. No I/O.
"""

from __future__ import annotations

import struct

from .._errors import ChannelProtocolError, OrgoError
from .rfb import CHANNEL, SECURITY_NONE

__all__ = ["NoAuthServerHandshake"]


class NoAuthServerHandshake:
    """The server side of an RFB handshake offering security None, replaying a ServerInit.

    For relays: the upstream session was authenticated with the VNC password (an
    :class:`RfbClient` in hand-off mode); the relay's own client (a browser running
    noVNC) gets a session without a password and the upstream's ServerInit (``raw``)
    verbatim. Feed the client's bytes to :meth:`receive_data`, write
    :meth:`data_to_send`; once :attr:`done`, :meth:`take_stream` returns the client's
    bytes that followed ClientInit (forward them upstream) and both sides are piped.
    Versions 3.3, 3.7 and 3.8 are accepted; the ClientInit shared flag is read and
    dropped (the upstream session already sent its own).
    """

    def __init__(self, server_init: bytes, *, version: tuple[int, int] = (3, 8)) -> None:
        if len(server_init) < 24:
            raise ValueError("server_init must be a complete ServerInit message")
        self._server_init = server_init
        self._in = bytearray()
        self._out = bytearray(b"RFB 003.%03d\n" % version[1])
        self._state = "version"
        self.version = version
        self.done = False
        self.error: OrgoError | None = None

    def receive_data(self, data: bytes) -> None:
        """Feed the client's bytes."""
        if self.error is not None:
            return
        self._in += data
        while not self.done and self.error is None and self._advance():
            pass

    def data_to_send(self) -> bytes:
        """Bytes for the client."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def take_stream(self) -> bytes:
        """After :attr:`done`: the client's bytes that followed ClientInit."""
        if not self.done:
            raise RuntimeError("the handshake is not complete")
        rest = bytes(self._in)
        self._in.clear()
        return rest

    def _advance(self) -> bool:
        if self._state == "version":
            if len(self._in) < 12:
                return False
            raw = bytes(self._in[:12])
            del self._in[:12]
            if raw[:8] != b"RFB 003." or raw[11:] != b"\n" or not raw[8:11].isdigit():
                self.error = ChannelProtocolError(
                    f"RFB: bad client version {raw!r}", channel=CHANNEL
                )
                return False
            minor = int(raw[8:11])
            self.version = (3, 8) if minor >= 8 else (3, 7) if minor == 7 else (3, 3)
            if self.version == (3, 3):
                self._out += struct.pack(">I", SECURITY_NONE)
                self._state = "client_init"
            else:
                self._out += bytes([1, SECURITY_NONE])
                self._state = "security"
            return True
        if self._state == "security":
            if not self._in:
                return False
            choice = self._in.pop(0)
            if choice != SECURITY_NONE:
                self.error = ChannelProtocolError(
                    f"RFB: client chose security type {choice}, only None is offered",
                    channel=CHANNEL,
                )
                return False
            if self.version == (3, 8):
                self._out += struct.pack(">I", 0)
            self._state = "client_init"
            return True
        if not self._in:
            return False
        del self._in[:1]  # ClientInit's shared flag
        self._out += self._server_init
        self.done = True
        return False
