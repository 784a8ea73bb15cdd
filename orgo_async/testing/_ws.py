"""The emulator's WebSocket endpoints (reference §11): websockify, terminal, audio, events.

:func:`add_websocket_routes` registers ``GET /desktops/{instance_id}/ws/<channel>`` on an
``aiohttp.web.Application``. Every channel shares the rules of §11.2, implemented here:

* the socket is always *accepted* first and then closed with a code, because that is
  what a browser sees from the real service: unknown instance -> 4404; ``?token=`` not
  equal to the computer's current ``vnc_password`` -> 4401; computer not ``running``
  -> 4404 (the token is checked before the state so an unauthenticated caller learns
  nothing about the computer);
* a password rotation while a socket is open closes it with 4401 (as a restart does);
  the computer leaving ``running`` closes it with 1001 (going away);
* a scripted :class:`~orgo_async.testing._state.WsFault` taken at connect closes the
  socket with its code after that many server frames (0 = right after the accept);
* client messages larger than the channel's ``max_msg_size`` close the socket with
  1009 (aiohttp's behaviour), so oversized input is a typed, visible failure.

The JSON channels (terminal, audio, events) answer ``{"type":"ping"}`` with
``{"type":"pong"}``. A malformed client message (not JSON, not an object, no string
``type``, an unknown ``type``, a missing or mistyped field, or a binary frame) gets
``{"type":"error","message":...}`` and the session *keeps going*: one bad keystroke
batch must not kill an interactive terminal.

Invalid query parameters (``cols``/``rows``, ``sample_rate``/``channels``) are answered
with an error frame and close 4500, the documented "failed to start" code, so clients
treat them as fatal instead of reconnecting forever.

The emulator is an independent oracle: frames are written from the reference's shapes,
never with the SDK's protocol modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final, Protocol

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from ._state import FakeComputer, World

__all__ = [
    "CLOSE_BAD_TOKEN",
    "CLOSE_GOING_AWAY",
    "CLOSE_NORMAL",
    "CLOSE_NOT_RUNNING",
    "CLOSE_START_FAILED",
    "FakeLike",
    "WsSession",
    "add_websocket_routes",
]

log = logging.getLogger("orgo_async.testing.ws")

CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
CLOSE_UNSUPPORTED: Final = 1003
CLOSE_INTERNAL: Final = 1011
CLOSE_BAD_TOKEN: Final = 4401
CLOSE_NOT_RUNNING: Final = 4404
CLOSE_START_FAILED: Final = 4500

# Client messages on the JSON channels are small (keystrokes, subscriptions); 1 MiB
# leaves room for a pasted file while bounding memory. websockify carries RFB client
# messages (ClientCutText can be large), so it gets more.
JSON_MAX_MSG: Final = 1 << 20
WEBSOCKIFY_MAX_MSG: Final = 4 << 20
# How long app shutdown waits for open sockets to clean up (a shell gets SIGHUP, then
# SIGKILL after 1 s, so this is plenty).
SHUTDOWN_GRACE: Final = 10.0


class FakeLike(Protocol):
    """What the WebSocket side needs from the emulator (``FakeOrgo`` satisfies it)."""

    @property
    def world(self) -> World:
        """The emulated world; computers are looked up by ``instance_id``."""
        ...

    @property
    def vnc_target(self) -> tuple[str, int] | None:
        """A real VNC server to tunnel websockify to, or ``None`` for the built-in one."""
        ...

    @property
    def allow_exec(self) -> bool:
        """Whether local commands may run (the terminal spawns a real shell only then)."""
        ...


class WsSession:
    """One accepted WebSocket bound to a computer: sending, frame counting, closing.

    Channel code sends through :meth:`send_json` / :meth:`send_bytes` (which count
    frames for scripted faults) and asks for the end with :meth:`request_close`. The
    first close request wins; the runner then cancels the channel task and closes the
    socket with that code.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        computer: FakeComputer,
        request: web.Request,
        fault_code: int | None = None,
        fault_after: int = 0,
        fault_reason: str = "",
    ) -> None:
        self.ws = ws
        self.computer = computer
        self.request = request
        self.frames_sent = 0
        self.close_code: int | None = None
        self.close_reason = ""
        self._closing = asyncio.Event()
        #: Set once the handler has finished (channel cleaned up, socket closed).
        self.done = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._fault_code = fault_code
        self._fault_after = fault_after
        self._fault_reason = fault_reason

    @property
    def closing(self) -> bool:
        """True once a close was requested; further sends are dropped."""
        return self._closing.is_set()

    def request_close(self, code: int, reason: str = "") -> None:
        """Ask for the socket to be closed with ``code`` (the first request wins)."""
        if not self._closing.is_set():
            self.close_code = code
            self.close_reason = reason
            self._closing.set()

    async def wait_closing(self) -> None:
        """Return once a close was requested."""
        await self._closing.wait()

    def _check_fault(self) -> None:
        if self._fault_code is not None and self.frames_sent >= self._fault_after:
            self.request_close(self._fault_code, self._fault_reason)

    async def send_json(self, obj: dict[str, Any]) -> bool:
        """Send one JSON text frame; ``False`` if the session is closing."""
        return await self._send(json.dumps(obj, separators=(",", ":")))

    async def send_bytes(self, data: bytes) -> bool:
        """Send one binary frame; ``False`` if the session is closing."""
        return await self._send(data)

    async def _send(self, payload: str | bytes) -> bool:
        async with self._send_lock:
            if self.closing or self.ws.closed:
                return False
            try:
                if isinstance(payload, str):
                    await self.ws.send_str(payload)
                else:
                    await self.ws.send_bytes(payload)
            except (ConnectionError, RuntimeError):
                # The peer vanished mid-send: end the session quietly.
                self.request_close(CLOSE_GOING_AWAY, "connection lost")
                return False
            self.frames_sent += 1
            self._check_fault()
            return True

    async def send_error(self, message: str) -> bool:
        """Send ``{"type":"error","message":...}``."""
        return await self.send_json({"type": "error", "message": message})


def _close_reason(reason: str) -> bytes:
    """A close reason within the 123-byte limit, cut on a UTF-8 character boundary."""
    return reason.encode()[:120].decode("utf-8", errors="ignore").encode()


def parse_client_json(data: str) -> tuple[dict[str, Any] | None, str]:
    """Decode a client text frame into an object with a string ``type``.

    Returns ``(message, "")`` or ``(None, error text)`` for the error frame.
    """
    try:
        obj = json.loads(data)
    except ValueError:
        return None, "Invalid JSON message"
    if not isinstance(obj, dict):
        return None, "Invalid message: expected a JSON object"
    if not isinstance(obj.get("type"), str):
        return None, "Invalid message: missing string field 'type'"
    return obj, ""


Channel = Callable[[WsSession, "FakeLike"], Coroutine[Any, Any, None]]


def query_int(request: web.Request, name: str, default: int) -> int | None:
    """An integer query parameter (``default`` when absent, ``None`` when not an int)."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None


async def _serve(
    request: web.Request,
    fake: FakeLike,
    channel_name: str,
    channel: Channel,
    *,
    max_msg_size: int,
    protocols: tuple[str, ...] = (),
    live: set[WsSession],
) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=max_msg_size, protocols=protocols)
    await ws.prepare(request)
    computer = fake.world.computer_by_instance(request.match_info["instance_id"])
    if computer is None:
        await ws.close(code=CLOSE_NOT_RUNNING, message=b"computer not found or not running")
        return ws
    token = request.query.get("token", "")
    # compare_digest: the token is a password; don't leak it through timing.
    if not hmac.compare_digest(token.encode(), computer.vnc_password.encode()):
        await ws.close(code=CLOSE_BAD_TOKEN, message=b"invalid token")
        return ws
    if computer.status != "running":
        await ws.close(code=CLOSE_NOT_RUNNING, message=b"computer not found or not running")
        return ws

    fault = computer.take_ws_fault(channel_name)
    session = WsSession(
        ws,
        computer,
        request,
        fault_code=fault.close_code if fault else None,
        fault_after=fault.after_frames if fault else 0,
        fault_reason=fault.reason if fault else "",
    )

    def on_rotate() -> None:
        session.request_close(CLOSE_BAD_TOKEN, "password rotated")

    def on_status(status: str) -> None:
        if status != "running":
            session.request_close(CLOSE_GOING_AWAY, "computer is " + status)

    computer.on_rotate.append(on_rotate)
    computer.on_status.append(on_status)
    live.add(session)
    session._check_fault()  # after_frames=0: close before any frame
    main: asyncio.Task[None] = asyncio.create_task(
        channel(session, fake), name=f"orgo-fake-ws-{channel_name}"
    )
    closing = asyncio.create_task(session.wait_closing())
    try:
        await asyncio.wait({main, closing}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        live.discard(session)
        with contextlib.suppress(ValueError):
            computer.on_rotate.remove(on_rotate)
        with contextlib.suppress(ValueError):
            computer.on_status.remove(on_status)
        for task in (main, closing):
            task.cancel()
        # The channel's own cleanup (killing the shell, closing the TCP tunnel) runs in
        # its finally blocks; wait for it so nothing outlives the handler.
        results = await asyncio.gather(main, closing, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.error("websocket %s channel failed", channel_name, exc_info=result)
                session.request_close(CLOSE_INTERNAL, "internal error")
    session.request_close(CLOSE_NORMAL)
    try:
        if not ws.closed:
            code = session.close_code if session.close_code is not None else CLOSE_NORMAL
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.close(code=code, message=_close_reason(session.close_reason))
    finally:
        session.done.set()
    return ws


async def receive_json_loop(
    session: WsSession,
    handle: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Read client frames until the peer closes; decode JSON and dispatch to ``handle``.

    ``ping`` is answered here; malformed frames get an error frame and reading goes on.
    A close from the client ends the loop (the session closes 1000).
    """
    ws = session.ws
    while True:
        msg = await ws.receive()
        if msg.type == WSMsgType.TEXT:
            obj, error = parse_client_json(msg.data)
            if obj is None:
                await session.send_error(error)
            elif obj["type"] == "ping":
                await session.send_json({"type": "pong"})
            else:
                await handle(obj)
        elif msg.type == WSMsgType.BINARY:
            await session.send_error("Invalid message: expected a JSON text frame")
        elif msg.type == WSMsgType.ERROR:
            # aiohttp already sent 1009 for an oversized message; just end.
            exc = ws.exception()
            code = getattr(exc, "code", None)
            session.request_close(code if isinstance(code, int) else CLOSE_INTERNAL)
            return
        else:  # CLOSE / CLOSING / CLOSED: the client is gone or leaving
            session.request_close(CLOSE_NORMAL)
            return


def add_websocket_routes(app: web.Application, fake: FakeLike) -> None:
    """Register the four WebSocket endpoints of §11 on ``app`` for ``fake``'s world.

    Also hooks ``app.on_shutdown``: when the app shuts down, every open socket is closed
    with 1001 (going away) and its channel cleaned up (shells killed, tunnels closed)
    before the hook returns.
    """
    from ._ws_audio import audio_channel
    from ._ws_events import events_channel
    from ._ws_terminal import terminal_channel
    from ._ws_websockify import websockify_channel

    def route(
        name: str, channel: Channel, max_size: int, protocols: tuple[str, ...] = ()
    ) -> Callable[[web.Request], Awaitable[web.WebSocketResponse]]:
        async def handler(request: web.Request) -> web.WebSocketResponse:
            return await _serve(
                request,
                fake,
                name,
                channel,
                max_msg_size=max_size,
                protocols=protocols,
                live=live,
            )

        return handler

    live: set[WsSession] = set()

    async def on_shutdown(_app: web.Application) -> None:
        sessions = list(live)
        for session in sessions:
            session.request_close(CLOSE_GOING_AWAY, "server shutting down")
        if sessions:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_GRACE):
                    await asyncio.gather(*(s.done.wait() for s in sessions))

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
