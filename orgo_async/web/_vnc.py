"""The VNC relay: a browser's noVNC on a computer's desktop, with no password in the
browser.

RFB authenticates inside the stream (the VNC challenge, keyed with the ``vnc_password``),
so a relay that only pumped bytes would still need the password in the page. This relay
completes the RFB handshake and VNC authentication upstream itself
(:class:`~orgo_async._protocol.rfb.RfbClient` in hand-off mode, over
:meth:`Connection.vnc <orgo_async.Connection.vnc>`), offers the browser an RFB session
with security type None (:class:`~orgo_async._protocol.rfb_relay.NoAuthServerHandshake`,
replaying the upstream ServerInit), then relays the raw stream both ways. The app's own
auth guards the WebSocket; the page runs ``new RFB(element, url)`` with no credentials.

* **Password rotation** (a restart closes the upstream with 4401): the channel fetches
  the new password and reconnects by itself; the new upstream is a new RFB session,
  which cannot be spliced into the browser's, so the relay closes the browser with
  **1012** once the desktop answers again. The page reconnects (as after any VNC server
  restart) and gets a fresh session; it never sees a password. While the computer is
  restarting (1001, then 4404) the browser's socket stays open and the channel retries
  with backoff (``reconnect``).
* **Bounded both ways**: the channel holds at most ``buffer`` messages from websockify
  (then TCP pushes back on the desktop), every send to the browser waits until the ASGI
  server takes it, and browser frames are written upstream one at a time.
* Close codes: :class:`~orgo_async.web.CloseCode`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

from .._errors import OrgoError, TokenRejectedError, WebSocketError
from .._protocol.rfb import RfbClient, RfbState
from .._protocol.rfb_relay import NoAuthServerHandshake
from ..connection import ReconnectPolicy
from ._relay import RelayResult, open_connection, refuse, run_pumps, serve_relay
from ._socket import BrowserSocket, CloseCode, WebSocketLike

if TYPE_CHECKING:
    from ..connection import Connection, Vnc

__all__ = ["relay_vnc"]

#: Reconnects while a computer restarts: 0.5 s doubling to 5 s, about 30 s in all.
RESTART_POLICY: Final = ReconnectPolicy(initial=0.5, cap=5.0, max_attempts=8, jitter=0.2)


class _Refused(Exception):
    """The browser cannot be given a session: close with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def relay_vnc(
    websocket: WebSocketLike,
    connection: Connection | Callable[[], Awaitable[Connection]],
    *,
    buffer: int = 16,
    max_message: int = 4 << 20,
    handshake_timeout: float = 20.0,
    reconnect: ReconnectPolicy = RESTART_POLICY,
    stats: RelayResult | None = None,
) -> RelayResult:
    """Relay ``websocket`` (the browser's noVNC) to the computer's desktop.

    ::

        @app.websocket("/computers/{computer_id}/vnc")
        async def vnc(websocket: WebSocket, computer_id: str, orgo: OrgoDep) -> None:
            # ... check the user's session here: the socket is the app's to guard ...
            await relay_vnc(websocket, lambda: orgo.connect(computer_id))

    and in the page: ``new RFB(screen, "wss://app.example/computers/ID/vnc")``, with no
    ``credentials``.

    Arguments:
        websocket: a Starlette/FastAPI ``WebSocket`` or an :class:`ASGIWebSocket`; accepted
            here with the ``binary`` subprotocol when the browser offers it (noVNC does).
        connection: the computer's :class:`~orgo_async.Connection`, or an async callable
            returning one (an unknown computer then closes 4404).
        buffer: websockify messages held between the desktop and the browser.
        max_message: the largest browser message accepted, in bytes (1009 above it).
        handshake_timeout: seconds for both RFB handshakes together.
        reconnect: how the upstream channel retries while the computer restarts.
        stats: a :class:`RelayResult` to fill in as the session runs (live counts).
    """
    result = stats if stats is not None else RelayResult("vnc")

    def session(sock: BrowserSocket) -> Awaitable[None]:
        return _session(sock, connection, result, buffer, max_message,
                        handshake_timeout, reconnect)  # fmt: skip

    return await serve_relay("vnc", websocket, result, session, subprotocol="binary")


async def _session(
    sock: BrowserSocket,
    source: Connection | Callable[[], Awaitable[Connection]],
    result: RelayResult,
    buffer: int,
    max_message: int,
    handshake_timeout: float,
    reconnect: ReconnectPolicy,
) -> None:
    vnc: Vnc | None = None
    try:
        try:
            conn = await open_connection(source)
            async with asyncio.timeout(handshake_timeout):
                vnc, server_init, from_server = await _open_upstream(conn, buffer, reconnect)
                from_browser = await _browser_handshake(sock, server_init, max_message)
        except OrgoError as e:
            await refuse(sock, result, e)
            return
        except TimeoutError:
            slow = CloseCode.TRY_AGAIN_LATER if vnc is None else CloseCode.POLICY_VIOLATION
            result.code = int(slow)
            await sock.close(result.code, "the RFB handshake timed out")
            return
        except _Refused as e:
            result.code = e.code
            await sock.close(e.code, e.reason)
            return
        if from_browser is None:  # the browser left during the handshake
            return
        result.sessions = 1
        if from_server:
            result.to_browser += len(from_server)
            await sock.send_bytes(from_server)
        if from_browser:
            result.from_browser += len(from_browser)
            await vnc.write(from_browser)
        code, reason, error = await run_pumps(
            _downstream(sock, vnc, result), _upstream(sock, vnc, result, max_message)
        )
        result.error = error
        if code is not None:
            result.code, result.reason = code, reason
            await sock.close(code, reason)
    finally:
        if vnc is not None:
            await vnc.aclose()


async def _open_upstream(
    conn: Connection, buffer: int, reconnect: ReconnectPolicy
) -> tuple[Vnc, bytes, bytes]:
    """Open websockify and authenticate; one retry with a fresh password if the VNC
    server rejects it (it rotated between our fetch and the challenge)."""
    for attempt in (1, 2):
        vnc = conn.vnc(buffer=buffer, reconnect=reconnect)
        await vnc.open()
        try:
            server_init, rest = await _upstream_handshake(conn, vnc)
        except TokenRejectedError:
            await vnc.aclose()
            if attempt == 2 or not conn.can_refresh:
                raise
            await conn.refresh_token()
            continue
        except BaseException:
            await vnc.aclose()
            raise
        return vnc, server_init, rest
    raise AssertionError("unreachable")  # pragma: no cover


async def _upstream_handshake(conn: Connection, vnc: Vnc) -> tuple[bytes, bytes]:
    """RFB client handshake with VNC authentication, in hand-off mode: the upstream
    ServerInit (raw) and whatever the server sent after it."""
    pending = b""
    while True:  # again from the start if the channel reconnected mid-handshake
        seen = vnc.reconnects
        token = conn.token
        client = RfbClient(token.get() if token is not None else None, handoff=True)
        if pending:
            client.receive_data(pending)
            pending = b""
        while client.state not in (RfbState.HANDED_OFF, RfbState.FAILED):
            out = client.data_to_send()
            if out:
                await vnc.write(out)
            chunk = await vnc.read()
            if not chunk:
                raise WebSocketError(
                    "websockify: the VNC server hung up during the RFB handshake",
                    channel="websockify",
                )
            if vnc.reconnects != seen:
                pending = chunk
                break
            client.receive_data(chunk)
        else:
            if client.error is not None:
                raise client.error
            out = client.data_to_send()  # ClientInit
            if out:
                await vnc.write(out)
            assert client.server_init is not None
            return client.server_init.raw, client.take_stream()


async def _browser_handshake(
    sock: BrowserSocket, server_init: bytes, max_message: int
) -> bytes | None:
    """Offer the browser RFB without authentication; the bytes it sent after ClientInit,
    or ``None`` if it left."""
    front = NoAuthServerHandshake(server_init)
    while True:
        out = front.data_to_send()
        if out and not await sock.send_bytes(out):
            return None
        if front.done:
            return front.take_stream()
        if front.error is not None:
            raise _Refused(CloseCode.POLICY_VIOLATION, str(front.error)[:100])
        frame = await sock.receive()
        if frame is None:
            return None
        if isinstance(frame, str):
            raise _Refused(CloseCode.UNSUPPORTED_DATA, "binary frames only")
        if len(frame) > max_message:
            raise _Refused(CloseCode.MESSAGE_TOO_BIG, f"message over {max_message} bytes")
        front.receive_data(frame)


async def _downstream(sock: BrowserSocket, vnc: Vnc, result: RelayResult) -> tuple[int, str]:
    seen = vnc.reconnects
    while True:
        chunk = await vnc.read()
        if not chunk:
            return int(CloseCode.NORMAL), "the VNC server ended the session"
        if vnc.reconnects != seen:
            # A new upstream RFB session: the password rotated (the channel fetched the
            # new one) or the desktop came back from a restart. The browser reconnects.
            return int(CloseCode.SERVICE_RESTART), "the desktop restarted: reconnect"
        result.to_browser += len(chunk)
        if not await sock.send_bytes(chunk):
            return int(CloseCode.NORMAL), ""


async def _upstream(
    sock: BrowserSocket, vnc: Vnc, result: RelayResult, max_message: int
) -> tuple[int, str] | None:
    while True:
        frame = await sock.receive()
        if frame is None:
            return None
        if isinstance(frame, str):
            return int(CloseCode.UNSUPPORTED_DATA), "binary frames only"
        if len(frame) > max_message:
            return int(CloseCode.MESSAGE_TOO_BIG), f"message over {max_message} bytes"
        result.from_browser += len(frame)
        try:
            await vnc.write(frame)
        except OrgoError:
            # The upstream is reconnecting or ending; the downstream pump reports it.
            await asyncio.Event().wait()
