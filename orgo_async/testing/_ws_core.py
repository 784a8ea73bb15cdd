"""The core of the emulator's WebSockets (reference §11): sessions, close codes, JSON frames.

Channel modules (``_ws_terminal``, ``_ws_audio``, ``_ws_events``, ``_ws_websockify``)
import this module; the router (``_ws_routes``) imports both and runs every socket
through the rules of §11.2:

* the socket is always *accepted* first and then closed with a code, because that is
  what a browser sees from the real service: unknown instance -> 4404; ``?token=`` not
  equal to the computer's current ``vnc_password`` -> 4401; computer not ``running``
  -> 4404 (the token is checked before the state so an unauthenticated caller learns
  nothing about the computer);
* a password rotation while a socket is open closes it with 4401 (as a restart does);
  the computer leaving ``running`` closes it with 1001 (going away);
* a scripted :class:`~orgo_async.testing._state.WsFault` taken at connect closes the
  socket with its code after that many server frames (0 = right after the accept), or
  with ``reset`` aborts the TCP connection there (no close frame: an abrupt reset);
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
import json
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Final, Protocol

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from ._state import FakeComputer, World

__all__ = [
    "CLOSE_BAD_TOKEN",
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL",
    "CLOSE_NORMAL",
    "CLOSE_NOT_RUNNING",
    "CLOSE_START_FAILED",
    "CLOSE_TIMEOUT",
    "CLOSE_UNSUPPORTED",
    "SHUTDOWN_ANSWER",
    "Channel",
    "FakeLike",
    "SessionHub",
    "WsSession",
    "close_reason",
    "parse_client_json",
    "query_int",
    "receive_json_loop",
]


CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
CLOSE_UNSUPPORTED: Final = 1003
CLOSE_INTERNAL: Final = 1011
CLOSE_BAD_TOKEN: Final = 4401
CLOSE_NOT_RUNNING: Final = 4404
CLOSE_START_FAILED: Final = 4500

# How long a close handshake may take: our close frame out, the peer's answer in. A
# peer that has not answered by then is dropped; close_all() waits as long for the
# channels to clean up (a shell gets SIGHUP, then SIGKILL after 1 s).
CLOSE_TIMEOUT: Final = 2.0
# When the server goes away: a peer that reads answers a close within milliseconds on
# loopback; one that stopped reading never will, so it is not waited for long.
SHUTDOWN_ANSWER: Final = 0.25


class FakeLike(Protocol):
    """What the WebSocket side needs from the emulator (``FakeOrgo`` satisfies it)."""

    #: The emulated world; computers are looked up by ``instance_id``.
    world: World
    #: A real VNC server to tunnel websockify to, or ``None`` for the built-in one.
    vnc_target: tuple[str, int] | None
    #: Whether local commands may run for any peer (loopback peers always get a shell).
    allow_exec: bool


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
        fault_reset: bool = False,
    ) -> None:
        self.ws = ws
        self.computer = computer
        self.request = request
        self.frames_sent = 0
        self.close_code: int | None = None
        self.close_reason = ""
        #: The end is an abrupt TCP reset instead of a close frame (a scripted fault).
        self.reset = False
        self._closing = asyncio.Event()
        #: Set once the handler has finished (channel cleaned up, socket closed).
        self.done = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._fault_code = fault_code
        self._fault_after = fault_after
        self._fault_reason = fault_reason
        self._fault_reset = fault_reset
        #: How long the final close waits for the peer's answer (``None``: the socket's
        #: own close timeout). Shortened when the server goes away (see SessionHub).
        self.answer_within: float | None = None

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

    def check_fault(self) -> None:
        """Close now if a scripted fault's frame count is reached (0: before any frame)."""
        if self._fault_code is not None and self.frames_sent >= self._fault_after:
            if not self.closing:
                self.reset = self._fault_reset
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
            self.check_fault()
            return True

    async def send_error(self, message: str) -> bool:
        """Send ``{"type":"error","message":...}``."""
        return await self.send_json({"type": "error", "message": message})


def close_reason(reason: str) -> bytes:
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


#: A channel: serves one accepted session until it ends or is asked to close.
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


class SessionHub:
    """The open sessions of one application, so that they can be closed together.

    :meth:`close_all` while the server still reads lets every close handshake complete
    (the peers' answers arrive); once :attr:`closed`, new handshakes are closed with 1001
    at once, so a reconnecting client cannot slip in while the server goes away.
    """

    def __init__(self) -> None:
        self._live: set[WsSession] = set()
        #: Set by :meth:`close_all`: the application is going away.
        self.closed = False

    def __len__(self) -> int:
        return len(self._live)

    @contextlib.contextmanager
    def holding(self, session: WsSession) -> Iterator[None]:
        """Count ``session`` as open for the duration of the ``with`` block."""
        self._live.add(session)
        try:
            yield
        finally:
            self._live.discard(session)

    async def close_all(
        self,
        code: int = CLOSE_GOING_AWAY,
        reason: str = "server shutting down",
        *,
        answer_within: float = SHUTDOWN_ANSWER,
    ) -> None:
        """Close every open session with ``code`` and return once their channels are
        cleaned up (shells killed, tunnels closed; at most :data:`CLOSE_TIMEOUT`).

        Each socket waits at most ``answer_within`` seconds for the peer's answer to its
        close frame; a peer that does not answer by then (one that stopped reading, or
        a server that no longer reads) has its connection dropped.
        """
        self.closed = True
        sessions = list(self._live)
        for session in sessions:
            if session.answer_within is None or answer_within < session.answer_within:
                session.answer_within = answer_within
            session.request_close(code, reason)
        if sessions:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT + answer_within):
                    await asyncio.gather(*(s.done.wait() for s in sessions))
