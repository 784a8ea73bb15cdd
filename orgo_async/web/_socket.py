"""The browser side of a relay: one ASGI WebSocket, spoken in raw ASGI messages.

Relays accept a Starlette/FastAPI ``WebSocket`` or, for any other ASGI framework,
:class:`ASGIWebSocket` built from ``(scope, receive, send)``; both have ``scope``,
``receive()`` and ``send(message)``, which is all a relay uses. No web framework is
imported here.

Close codes a relay sends to the browser (:class:`CloseCode`): the WebSocket registry's
meanings where one fits, Orgo's own codes where the browser should react as it would to
Orgo (§11.2). ``4401`` never reaches the browser: a rotated password is the server's
business.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final, Protocol

from .._errors import (
    APIConnectionError,
    APIStatusError,
    ChannelProtocolError,
    ChannelStartError,
    ComputerGoingAwayError,
    ComputerNotRunningError,
    HeartbeatTimeoutError,
    NotFoundError,
    OrgoError,
    TokenRejectedError,
    WebSocketError,
)

__all__ = ["ASGIWebSocket", "BrowserSocket", "CloseCode", "WebSocketLike", "close_code_for"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# A WebSocket close reason is at most 123 bytes of UTF-8.
_MAX_REASON: Final = 120


class CloseCode(enum.IntEnum):
    """What a relay's close code tells the browser (and what a page should do)."""

    NORMAL = 1000
    """One side ended normally: the browser left, the shell exited, the VNC server ended
    the session. Do not reconnect on your own."""
    GOING_AWAY = 1001
    """The computer is stopping, or the app is shutting down. Reconnect later."""
    UNSUPPORTED_DATA = 1003
    """The browser sent the wrong kind of frame (text to VNC, binary to the terminal)."""
    POLICY_VIOLATION = 1008
    """The browser broke the protocol (e.g. an RFB handshake it cannot complete)."""
    MESSAGE_TOO_BIG = 1009
    """A browser message was over the relay's limit."""
    INTERNAL_ERROR = 1011
    """A bug in the relay (logged on the server)."""
    SERVICE_RESTART = 1012
    """The desktop restarted (its password rotated): the relay already has the new one.
    Reconnect now; the browser gets a new session, as with any VNC server restart."""
    TRY_AGAIN_LATER = 1013
    """Orgo could not be reached or did not answer in time. Reconnect with backoff."""
    BAD_GATEWAY = 1014
    """Orgo answered something the relay cannot use (RFB or VNC authentication failure,
    a protocol error, credentials rejected even after a refresh)."""
    NOT_RUNNING = 4404
    """The computer does not exist or is not running (Orgo's code)."""
    START_FAILED = 4500
    """The computer failed to start the channel, e.g. the shell (Orgo's code)."""


def close_code_for(exc: BaseException) -> CloseCode:
    """The close code that tells the browser what ``exc`` (an upstream failure) means."""
    if isinstance(exc, ComputerNotRunningError | NotFoundError):
        return CloseCode.NOT_RUNNING
    if isinstance(exc, ChannelStartError):
        return CloseCode.START_FAILED
    if isinstance(exc, ComputerGoingAwayError):
        return CloseCode.GOING_AWAY
    if isinstance(exc, TokenRejectedError | ChannelProtocolError):
        return CloseCode.BAD_GATEWAY
    if isinstance(exc, HeartbeatTimeoutError | APIConnectionError | TimeoutError):
        return CloseCode.TRY_AGAIN_LATER
    if isinstance(exc, APIStatusError):
        if exc.status_code == 429 or exc.status_code >= 500:
            return CloseCode.TRY_AGAIN_LATER
        return CloseCode.BAD_GATEWAY
    if isinstance(exc, WebSocketError):
        # A dropped upstream connection the channel could not restore.
        return CloseCode.TRY_AGAIN_LATER
    if isinstance(exc, OrgoError):
        return CloseCode.BAD_GATEWAY
    return CloseCode.INTERNAL_ERROR


class WebSocketLike(Protocol):
    """What a relay needs from the browser's socket (a Starlette ``WebSocket`` fits)."""

    @property
    def scope(self) -> MutableMapping[str, Any]: ...

    async def receive(self) -> Message: ...

    async def send(self, message: Message) -> None: ...


class ASGIWebSocket:
    """A WebSocket for a relay from a bare ASGI call, for frameworks other than Starlette.

    ::

        async def app(scope, receive, send):          # any ASGI server
            conn = await orgo.connect(computer_id)
            await relay_terminal(ASGIWebSocket(scope, receive, send), conn)
    """

    __slots__ = ("_receive", "_send", "scope")

    def __init__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope.get("type") != "websocket":
            raise ValueError("ASGIWebSocket needs a 'websocket' scope")
        self.scope = scope
        self._receive = receive
        self._send = send

    async def receive(self) -> Message:
        """The next ASGI event."""
        return await self._receive()

    async def send(self, message: Message) -> None:
        """Send one ASGI event."""
        await self._send(message)


class BrowserSocket:
    """The relay's handle on the browser: accept, read frames, send, close once.

    Reads return ``str``, ``bytes`` or ``None`` once the browser is gone (its close code
    is then in :attr:`peer_code`). Sends to a browser that is gone are dropped and make
    :attr:`gone` true; they never raise, so a pump ends by noticing, not by a traceback.
    """

    __slots__ = ("_accepted", "_closed", "_ws", "gone", "peer_code")

    def __init__(self, ws: WebSocketLike) -> None:
        self._ws = ws
        self._accepted = _already_accepted(ws)
        self._closed = False
        self.gone = False
        self.peer_code: int | None = None

    @property
    def scope(self) -> MutableMapping[str, Any]:
        """The ASGI scope of the browser's request."""
        return self._ws.scope

    async def accept(self, subprotocol: str | None = None) -> bool:
        """Complete the WebSocket handshake (skipped if the app already accepted).

        Returns ``False`` if the browser left before that.
        """
        if self._accepted:
            return not self.gone
        message = await self._ws.receive()
        if message["type"] != "websocket.connect":
            self.gone = True
            return False
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if subprotocol is not None and subprotocol in self.scope.get("subprotocols", ()):
            accept["subprotocol"] = subprotocol
        self._accepted = True
        return await self._send(accept)

    async def receive(self) -> str | bytes | None:
        """The next frame from the browser, or ``None`` once it has gone."""
        if self.gone:
            return None
        try:
            message = await self._ws.receive()
        except Exception:  # a framework's "disconnected" error
            self.gone = True
            return None
        kind = message["type"]
        if kind == "websocket.receive":
            data: bytes | None = message.get("bytes")
            if data is not None:
                return data
            text: str | None = message.get("text")
            return text if text is not None else b""
        if kind == "websocket.disconnect":
            self.peer_code = message.get("code", 1005)
        self.gone = True
        return None

    async def send_text(self, text: str) -> bool:
        """Send a text frame; ``False`` if the browser is gone."""
        return await self._send({"type": "websocket.send", "text": text})

    async def send_bytes(self, data: bytes) -> bool:
        """Send a binary frame; ``False`` if the browser is gone."""
        return await self._send({"type": "websocket.send", "bytes": data})

    async def close(self, code: int, reason: str = "") -> None:
        """Close with ``code`` (once; nothing happens if the browser already left)."""
        if self._closed:
            return
        self._closed = True
        if not self._accepted and not self.gone:
            # Never accepted: the server rejects the handshake (HTTP 403).
            with contextlib.suppress(Exception):
                await self._ws.send({"type": "websocket.close", "code": int(code)})
            return
        if self.gone:
            return
        short = reason.encode()[:_MAX_REASON].decode("utf-8", "ignore")
        await self._send({"type": "websocket.close", "code": int(code), "reason": short})
        self.gone = True

    async def _send(self, message: Message) -> bool:
        if self.gone:
            return False
        try:
            await self._ws.send(message)
        except Exception:  # the browser went away mid-send (ClientDisconnected, OSError)
            self.gone = True
            return False
        return True


def _already_accepted(ws: WebSocketLike) -> bool:
    # A Starlette WebSocket the app accepted itself (e.g. after checking a cookie).
    state = getattr(ws, "application_state", None)
    return getattr(state, "name", None) == "CONNECTED"
