"""The terminal relay: a browser terminal (xterm.js) on a computer's shell, with the
``vnc_password`` (the terminal's token) kept on the server.

The browser speaks the same JSON protocol as Orgo's own terminal WebSocket (§11.4), so
page code written against Orgo works unchanged behind the relay, minus the token:

* browser -> relay: ``{"type":"input","data":...}``, ``{"type":"resize","cols":..,
  "rows":..}``, ``{"type":"ping"}``;
* relay -> browser: ``{"type":"output","data":...}``, ``{"type":"exit","code":N}``
  (then close 1000), ``{"type":"error","message":...}``, ``{"type":"pong"}``.

A malformed browser message gets an ``error`` frame and the session goes on (one bad
paste must not kill a shell), as Orgo does; a message over ``max_message`` closes 1009.
Upstream is :meth:`Connection.terminal <orgo_async.Connection.terminal>` with a small
lossless buffer, and every send to the browser waits for the ASGI server to take it, so
a browser that stops reading stops the shell's output at the computer (TCP pushes back),
instead of growing the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final

import msgspec

from .._errors import OrgoError, SessionLostError
from ._relay import RelayResult, open_connection, refuse, run_pumps, serve_relay
from ._socket import BrowserSocket, CloseCode, WebSocketLike

if TYPE_CHECKING:
    from ..connection import Connection, Terminal

__all__ = ["relay_terminal"]

MAX_DIMENSION: Final = 10_000
TOKEN_ROTATED: Final = 4401


class _Input(msgspec.Struct, tag_field="type", tag="input"):
    data: str


class _Resize(msgspec.Struct, tag_field="type", tag="resize"):
    cols: int
    rows: int


class _Ping(msgspec.Struct, tag_field="type", tag="ping"):
    pass


_decoder: Final = msgspec.json.Decoder(_Input | _Resize | _Ping)
_encoder: Final = msgspec.json.Encoder()
_PONG: Final = '{"type":"pong"}'


def _output(text: str) -> str:
    return '{"type":"output","data":' + _encoder.encode(text).decode() + "}"


def _error(message: str) -> str:
    return '{"type":"error","message":' + _encoder.encode(message).decode() + "}"


async def relay_terminal(
    websocket: WebSocketLike,
    connection: Connection | Callable[[], Awaitable[Connection]],
    *,
    cols: int | None = None,
    rows: int | None = None,
    buffer: int = 64,
    max_message: int = 1 << 20,
    stats: RelayResult | None = None,
    upstream_compression: bool | None = False,
) -> RelayResult:
    """Relay ``websocket`` (the browser) to the computer's terminal until either side ends.

    ::

        @app.websocket("/computers/{computer_id}/terminal")
        async def terminal(websocket: WebSocket, computer_id: str, orgo: OrgoDep) -> None:
            # ... check the user's session here: the socket is the app's to guard ...
            await relay_terminal(websocket, lambda: orgo.connect(computer_id))

    Arguments:
        websocket: a Starlette/FastAPI ``WebSocket`` (accepted here if the app has not
            done so) or an :class:`ASGIWebSocket`.
        connection: the computer's :class:`~orgo_async.Connection`, or an async callable
            returning one (an unknown computer then closes 4404 instead of failing the
            handshake).
        cols, rows: the PTY size; default: the ``cols``/``rows`` query parameters of the
            browser's URL, else 80x24. The page can ``resize`` at any time.
        buffer: output chunks held between the computer and the browser.
        max_message: the largest browser message accepted, in characters.
        stats: a :class:`RelayResult` to fill in as the session runs (counts are live),
            for metrics; by default a new one.
        upstream_compression: whether the relay offers permessage-deflate to Orgo
            (``compression`` of :meth:`Connection.terminal
            <orgo_async.Connection.terminal>`). Off by default: a relay usually runs
            close to Orgo (the same cloud region), where bytes are cheap and zlib costs
            CPU at both ends of every session. Pass ``True`` (or ``None``, the SDK's
            default) when the relay reaches Orgo over the internet. The browser side is
            the ASGI server's business (e.g. uvicorn's ``ws_per_message_deflate``).

    Returns a :class:`RelayResult` (close code, counts). When the computer restarts (its
    password rotates) the shell is gone: the relay fetches the new password and closes
    with 1012, and the page reconnects to a fresh shell.
    """
    result = stats if stats is not None else RelayResult("terminal")
    size = (cols, rows)

    def session(sock: BrowserSocket) -> Awaitable[None]:
        return _session(sock, connection, result, size, buffer, max_message, upstream_compression)

    return await serve_relay("terminal", websocket, result, session)


def _size(sock: BrowserSocket, cols: int | None, rows: int | None) -> tuple[int, int]:
    query = urllib.parse.parse_qs(sock.scope.get("query_string", b"").decode("latin-1"))

    def pick(given: int | None, name: str, default: int) -> int:
        if given is not None:
            return given
        try:
            value = int(query.get(name, [default])[0])
        except ValueError:
            return default
        return value if 1 <= value <= MAX_DIMENSION else default

    return pick(cols, "cols", 80), pick(rows, "rows", 24)


async def _session(
    sock: BrowserSocket,
    source: Connection | Callable[[], Awaitable[Connection]],
    result: RelayResult,
    size: tuple[int | None, int | None],
    buffer: int,
    max_message: int,
    compression: bool | None,
) -> None:
    try:
        conn = await open_connection(source)
        c, r = _size(sock, *size)
        term = conn.terminal(c, r, buffer=buffer, compression=compression)
        await term.open()
    except OrgoError as e:
        await refuse(sock, result, e)
        return
    result.sessions = 1
    try:
        code, reason, error = await run_pumps(
            _downstream(sock, term, result), _upstream(sock, term, result, max_message)
        )
    finally:
        await term.aclose()
    result.error = error
    if isinstance(error, SessionLostError) and error.code == TOKEN_ROTATED:
        # The computer restarted: its password rotated. Fetch the new one now so the
        # page's reconnect opens at once (the browser never needs the password).
        with contextlib.suppress(OrgoError):
            await conn.refresh_token()
        code, reason = int(CloseCode.SERVICE_RESTART), "the computer restarted: reconnect"
    if code is not None:
        result.code, result.reason = code, reason
        await sock.close(code, reason)


async def _downstream(sock: BrowserSocket, term: Terminal, result: RelayResult) -> tuple[int, str]:
    errors_sent = 0
    while True:
        chunk = await term.read()
        if len(term.errors) > errors_sent:
            for message in term.errors[errors_sent:]:
                await sock.send_text(_error(message))
            errors_sent = len(term.errors)
        if not chunk:
            break
        result.to_browser += len(chunk)
        if not await sock.send_text(_output(chunk)):
            return int(CloseCode.NORMAL), ""
    if term.exit_code is not None:
        await sock.send_text(f'{{"type":"exit","code":{term.exit_code:d}}}')
        return int(CloseCode.NORMAL), "the shell exited"
    return int(CloseCode.NORMAL), "the terminal ended"


async def _upstream(
    sock: BrowserSocket, term: Terminal, result: RelayResult, max_message: int
) -> tuple[int, str] | None:
    while True:
        frame = await sock.receive()
        if frame is None:
            return None
        if isinstance(frame, bytes):
            await sock.send_text(_error("Invalid message: expected a JSON text frame"))
            continue
        if len(frame) > max_message:
            return int(CloseCode.MESSAGE_TOO_BIG), f"message over {max_message} characters"
        try:
            msg = _decoder.decode(frame)
        except msgspec.DecodeError as e:
            await sock.send_text(_error(f"Invalid message: {e}"))
            continue
        try:
            if isinstance(msg, _Input):
                result.from_browser += len(msg.data)
                await term.send(msg.data)
            elif isinstance(msg, _Resize):
                if not (1 <= msg.cols <= MAX_DIMENSION and 1 <= msg.rows <= MAX_DIMENSION):
                    await sock.send_text(
                        _error(f"Invalid resize: cols and rows must be 1..{MAX_DIMENSION}")
                    )
                    continue
                await term.resize(msg.cols, msg.rows)
            else:
                await sock.send_text(_PONG)
        except OrgoError:
            # The upstream is ending; the downstream pump reports why. Wait for it.
            await asyncio.Event().wait()
