"""The emulator's WebSocket router (reference §11): admits a socket, runs its channel,
closes it with the right code.

:func:`add_websocket_routes` registers ``GET /desktops/{instance_id}/ws/<channel>`` for
the four channels on an ``aiohttp.web.Application`` and returns the
:class:`~._ws_core.SessionHub` of its open sockets. The rules every channel shares are
described in :mod:`._ws_core`; the channels live in ``_ws_terminal``, ``_ws_audio``,
``_ws_events`` and ``_ws_websockify``.

Shutdown: :meth:`FakeOrgo.close <orgo_async.testing.FakeOrgo.close>` calls
``hub.close_all()`` *before* the server stops, so each socket's 1001 close handshake
completes at once. aiohttp's own shutdown stops reading from every connection before
``on_shutdown`` runs, so a close started there could never see the peer's answer and
would wait out the whole close timeout; the ``on_shutdown`` hook therefore only sends
the close frame and drops the connection (for apps served without ``FakeOrgo``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Final

from aiohttp import web

from ._faults import reset_connection
from ._state import FakeComputer
from ._ws_audio import audio_channel
from ._ws_core import (
    CLOSE_BAD_TOKEN,
    CLOSE_GOING_AWAY,
    CLOSE_INTERNAL,
    CLOSE_NORMAL,
    CLOSE_NOT_RUNNING,
    CLOSE_TIMEOUT,
    Channel,
    FakeLike,
    SessionHub,
    WsSession,
    close_reason,
)
from ._ws_events import events_channel
from ._ws_terminal import terminal_channel
from ._ws_websockify import websockify_channel

__all__ = ["add_websocket_routes"]

log = logging.getLogger("orgo_async.testing.ws")

# Client messages on the JSON channels are small (keystrokes, subscriptions); 1 MiB
# leaves room for a pasted file while bounding memory. websockify carries RFB client
# messages (ClientCutText can be large), so it gets more.
JSON_MAX_MSG: Final = 1 << 20
WEBSOCKIFY_MAX_MSG: Final = 4 << 20
# Once the server stopped reading, a close only needs to get its frame out.
_UNANSWERED_CLOSE: Final = 0.05
_NOT_RUNNING: Final = b"computer not found or not running"


def add_websocket_routes(app: web.Application, fake: FakeLike) -> SessionHub:
    """Register the four WebSocket endpoints of §11 on ``app`` for ``fake``'s world.

    Returns the hub of open sockets (``await hub.close_all()`` closes them all with
    1001). ``app.on_shutdown`` closes whatever is still open when the app shuts down.
    """
    hub = SessionHub()

    def route(
        name: str, channel: Channel, max_size: int, protocols: tuple[str, ...] = ()
    ) -> Callable[[web.Request], Awaitable[web.WebSocketResponse]]:
        async def handler(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse(
                max_msg_size=max_size, protocols=protocols, timeout=CLOSE_TIMEOUT
            )
            await ws.prepare(request)
            await _serve(ws, request, fake, hub, name, channel)
            return ws

        return handler

    async def on_shutdown(_app: web.Application) -> None:
        # aiohttp stopped reading before this hook: no answer can arrive, only our
        # close frames need to get out.
        await hub.close_all(answer_within=_UNANSWERED_CLOSE)

    app.on_shutdown.append(on_shutdown)
    base = "/desktops/{instance_id}/ws/"
    app.router.add_get(base + "terminal", route("terminal", terminal_channel, JSON_MAX_MSG))
    app.router.add_get(base + "audio", route("audio", audio_channel, JSON_MAX_MSG))
    app.router.add_get(base + "events", route("events", events_channel, JSON_MAX_MSG))
    app.router.add_get(
        base + "websockify",
        # noVNC offers the "binary" subprotocol; agree to it when asked.
        route("websockify", websockify_channel, WEBSOCKIFY_MAX_MSG, ("binary",)),
    )
    return hub


async def _serve(
    ws: web.WebSocketResponse,
    request: web.Request,
    fake: FakeLike,
    hub: SessionHub,
    name: str,
    channel: Channel,
) -> None:
    """Serve one accepted socket from admission to its close frame."""
    computer = await _admit(ws, request, fake, hub)
    if computer is None:
        return
    fault = computer.take_ws_fault(name)
    session = WsSession(
        ws,
        computer,
        request,
        fault_code=fault.close_code if fault else None,
        fault_after=fault.after_frames if fault else 0,
        fault_reason=fault.reason if fault else "",
        fault_reset=fault.reset if fault else False,
    )
    try:
        with _watching(session), hub.holding(session):
            session.check_fault()  # after_frames=0: close before any frame
            await _run_channel(session, fake, name, channel)
        await _close(session)
    finally:
        session.done.set()


async def _admit(
    ws: web.WebSocketResponse, request: web.Request, fake: FakeLike, hub: SessionHub
) -> FakeComputer | None:
    """The computer this socket serves, or ``None`` after closing it with the code §11.2
    gives (the token is checked before the state: a stranger learns nothing)."""
    computer = fake.world.computer_by_instance(request.match_info["instance_id"])
    token = request.query.get("token", "")
    if hub.closed:
        code, why = CLOSE_GOING_AWAY, b"server shutting down"
    elif computer is None:
        code, why = CLOSE_NOT_RUNNING, _NOT_RUNNING
    # compare_digest: the token is a password; don't leak it through timing.
    elif not hmac.compare_digest(token.encode(), computer.vnc_password.encode()):
        code, why = CLOSE_BAD_TOKEN, b"invalid token"
    elif computer.status != "running":
        code, why = CLOSE_NOT_RUNNING, _NOT_RUNNING
    else:
        return computer
    await ws.close(code=code, message=why)
    return None


@contextlib.contextmanager
def _watching(session: WsSession) -> Iterator[None]:
    """Close the session 4401 when the password rotates, 1001 when the computer stops
    running, while the ``with`` block lasts."""
    computer = session.computer

    def on_rotate() -> None:
        session.request_close(CLOSE_BAD_TOKEN, "password rotated")

    def on_status(status: str) -> None:
        if status != "running":
            session.request_close(CLOSE_GOING_AWAY, "computer is " + status)

    computer.on_rotate.append(on_rotate)
    computer.on_status.append(on_status)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            computer.on_rotate.remove(on_rotate)
        with contextlib.suppress(ValueError):
            computer.on_status.remove(on_status)


async def _run_channel(session: WsSession, fake: FakeLike, name: str, channel: Channel) -> None:
    """Run the channel until it ends or a close is requested, then clean it up."""
    main = asyncio.create_task(channel(session, fake), name=f"orgo-fake-ws-{name}")
    closing = asyncio.create_task(session.wait_closing())
    try:
        await asyncio.wait({main, closing}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (main, closing):
            task.cancel()
        # The channel's own cleanup (killing the shell, closing the TCP tunnel) runs in
        # its finally blocks; wait for it so nothing outlives the handler.
        results = await asyncio.gather(main, closing, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.error("websocket %s channel failed", name, exc_info=result)
                session.request_close(CLOSE_INTERNAL, "internal error")
    session.request_close(CLOSE_NORMAL)


async def _close(session: WsSession) -> None:
    """Send the session's close frame and wait for the peer's answer (at most
    ``session.answer_within`` seconds when the server is going away)."""
    ws = session.ws
    if session.reset:  # a scripted abrupt end: no close frame, a TCP reset
        reset_connection(session.request.transport)
        return
    if ws.closed:
        return
    code = session.close_code if session.close_code is not None else CLOSE_NORMAL
    message = close_reason(session.close_reason)
    with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
        # Cancelling the wait for the answer makes aiohttp close the connection after
        # flushing what is written, our close frame included.
        async with asyncio.timeout(session.answer_within):
            await ws.close(code=code, message=message)
    transport = session.request.transport
    if transport is not None and transport.get_write_buffer_size():
        # The peer reads nothing (a stalled audio consumer): what is left would never
        # leave, and a closing transport would wait for it forever.
        transport.abort()
