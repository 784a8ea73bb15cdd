"""The machinery every channel shares, in one place: connect with token rotation, the
reader task, the JSON heartbeat, reconnect with capped backoff, bounded buffers and close.

A channel subclass only says what is specific to it: its URL query, its opening handshake
(``started`` for audio, ``subscribe`` for events), what to do with a text or binary frame
and how a lost connection is reported (the terminal cannot resume, so a loss there is a
:class:`~orgo_async.SessionLostError`).

``websockets`` is imported here lazily, the first time a socket is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Final, Generic, Self, TypeVar

from .._errors import (
    HeartbeatTimeoutError,
    TokenRejectedError,
    WebSocketError,
)
from .._protocol import close_codes
from .._protocol.close_codes import CloseKind, ReconnectPolicy
from .._protocol.limits import DEFAULT_MAX_SIZE
from .._protocol.urls import redact_url
from .._secrets import get_logger
from .._version import __version__

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection
    from websockets.exceptions import ConnectionClosed

    from .._protocol.codec import Unknown
    from ._connection import Connection

__all__ = ["Channel", "ChannelOptions"]

log = get_logger("orgo_async.connection")
# websockets logs the request line (with the token) at DEBUG: its records go through a
# logger carrying the redacting filter.
_ws_log = get_logger("orgo_async.websockets")

T = TypeVar("T")

_USER_AGENT: Final = f"orgo-async/{__version__}"


@dataclass(frozen=True, slots=True)
class ChannelOptions:
    """Settings shared by the channels of a :class:`~orgo_async.Connection`.

    Attributes:
        heartbeat_interval: seconds between JSON pings (documented: about 30 s); ``None``
            turns the heartbeat off. VNC uses WebSocket ping frames on the same interval.
        heartbeat_timeout: seconds to wait for the pong before the connection is declared
            dead (:class:`~orgo_async.HeartbeatTimeoutError`).
        max_size: largest incoming message in bytes (JSON channels and audio).
        vnc_max_size: largest incoming VNC message (framebuffer updates are large).
        open_timeout: seconds for the WebSocket handshake plus the channel's own opening
            exchange (``started``, ``subscribed``).
        close_timeout: seconds to wait for the closing handshake.
        reconnect: backoff for audio, events and vnc.
    """

    heartbeat_interval: float | None = 30.0
    heartbeat_timeout: float = 10.0
    max_size: int = DEFAULT_MAX_SIZE
    vnc_max_size: int = 16 << 20
    open_timeout: float = 10.0
    close_timeout: float = 5.0
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)

    def __post_init__(self) -> None:
        if self.heartbeat_interval is not None and self.heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be > 0 or None")
        if self.heartbeat_timeout <= 0 or self.open_timeout <= 0 or self.close_timeout <= 0:
            raise ValueError("timeouts must be > 0")
        if self.max_size < 1024 or self.vnc_max_size < 1024:
            raise ValueError("max_size must be at least 1024 bytes")

    def with_changes(self, **changes: Any) -> ChannelOptions:
        """A copy with ``changes`` (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


class _EndOfStream(Exception):
    """Internal: the buffer is drained and the channel has ended normally."""


class _Buffer(Generic[T]):
    """A bounded FIFO between the reader task and the consumer.

    ``drop_oldest=True`` (audio, events): a full buffer drops its oldest item and counts it,
    so a slow consumer loses old data, keeps the newest and never stalls the socket (nor
    the heartbeat behind it). ``drop_oldest=False`` (terminal, vnc: lossless streams):
    the reader waits for room, which pushes back on the server through TCP.
    """

    __slots__ = (
        "_done",
        "_error",
        "_items",
        "_not_empty",
        "_not_full",
        "drop_oldest",
        "dropped",
        "maxlen",
        "paused",
    )

    def __init__(self, maxlen: int, *, drop_oldest: bool) -> None:
        if maxlen < 1:
            raise ValueError("buffer size must be >= 1")
        self.maxlen = maxlen
        self.drop_oldest = drop_oldest
        self.dropped = 0
        self.paused = False
        self._items: deque[T] = deque()
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()
        self._not_full.set()
        self._done = False
        self._error: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    def put_nowait(self, item: T) -> None:
        """Append, dropping the oldest item when full (drop-oldest mode)."""
        if self._done:
            return
        if len(self._items) >= self.maxlen:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._not_empty.set()

    async def put(self, item: T) -> None:
        """Append, waiting for room (lossless mode)."""
        if self.drop_oldest:
            self.put_nowait(item)
            return
        while len(self._items) >= self.maxlen and not self._done:
            self._not_full.clear()
            self.paused = True
            try:
                await self._not_full.wait()
            finally:
                self.paused = False
        if self._done:
            return
        self._items.append(item)
        self._not_empty.set()

    def push_front(self, item: T) -> None:
        """Give back an item the consumer took but did not use (a partial chunk)."""
        self._items.appendleft(item)
        self._not_empty.set()

    async def get(self) -> T:
        """The oldest item; at the end, the channel's error or :class:`_EndOfStream`."""
        while not self._items:
            if self._done:
                if self._error is not None:
                    raise self._error
                raise _EndOfStream
            self._not_empty.clear()
            await self._not_empty.wait()
        item = self._items.popleft()
        if len(self._items) < self.maxlen:
            self._not_full.set()
        return item

    def finish(self, error: BaseException | None) -> None:
        """No more items will come; ``error`` is raised once the buffer is drained."""
        if not self._done:
            self._done = True
            self._error = error
        self._not_empty.set()
        self._not_full.set()

    def clear(self) -> None:
        """Drop every buffered item (not counted as drops)."""
        self._items.clear()
        self._not_full.set()


class _Failure(Exception):
    """Internal: a connect attempt or a connection failed; ``kind`` says what to do."""

    def __init__(self, kind: CloseKind, error: WebSocketError, *, code: int | None = None) -> None:
        super().__init__(str(error))
        self.kind = kind
        self.error = error
        self.code = code


class Channel:
    """Base of the terminal, audio, events and vnc channels.

    Use a channel as an async context manager (``async with conn.audio() as audio``); it
    opens on entry and closes on exit. ``reconnects`` counts successful reconnects and
    ``unknown_messages`` keeps the last server messages of a type this SDK does not know.
    """

    name: ClassVar[str]
    #: Whether a dropped connection may be replaced by a new one (audio, events, vnc).
    resumable: ClassVar[bool] = False
    #: ``compression`` argument of websockets' connect (``None``: no permessage-deflate).
    compression: ClassVar[str | None] = None
    #: JSON ``ping``/``pong`` heartbeat (terminal, audio, events) vs WebSocket pings (vnc).
    json_heartbeat: ClassVar[bool] = True
    ping_frame: ClassVar[bytes] = b""
    subprotocols: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, conn: Connection, options: ChannelOptions) -> None:
        self._conn = conn
        self._options = options
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._state = "new"
        self._closing = False
        self._error: BaseException | None = None
        self._pong = asyncio.Event()
        self._dead_ws: ClientConnection | None = None  # the socket the heartbeat killed
        self._failures = 0  # consecutive failures without a healthy period in between
        self._received = False  # anything received on the current socket
        # The current socket was opened after a token refresh and has not proven it yet.
        self._unconfirmed_refresh = False
        self.reconnects = 0
        self.unknown_messages: deque[Unknown] = deque(maxlen=32)

    # -- hooks ---------------------------------------------------------------------------

    def _query(self) -> dict[str, object]:
        return {}

    def _max_size(self) -> int:
        return self._options.max_size

    async def _handshake(self, ws: ClientConnection) -> None:
        """The channel's opening exchange on a fresh socket (reader not running yet)."""

    async def _on_text(self, frame: str) -> None:
        raise NotImplementedError

    async def _on_binary(self, frame: bytes) -> None:
        raise NotImplementedError

    def _buffer_paused(self) -> bool:
        return False

    def _end(self, error: BaseException | None) -> None:
        """The channel is over: wake the consumer (``error`` None = normal end)."""

    def _loss_error(self, failure: _Failure) -> BaseException:
        """What the caller sees when the connection is lost for good."""
        return failure.error

    def _may_retry_token(self) -> bool:
        """Whether a 4401 on the current socket is a rejected opening (safe to redo)."""
        return self.resumable or not self._received

    async def _before_close(self, ws: ClientConnection) -> None:
        """Say goodbye (audio sends ``stop``)."""

    async def _on_reconnected(self) -> None:
        """A replacement socket is open and its handshake done."""

    # -- public --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """This channel's URL with the token redacted."""
        return redact_url(self._conn._ws_url(self.name, self._query(), redacted=True))

    @property
    def closed(self) -> bool:
        """True once the channel has ended (closed by either side or failed)."""
        return self._state == "closed"

    @property
    def error(self) -> BaseException | None:
        """Why the channel ended, if it failed."""
        return self._error

    async def open(self) -> Self:
        """Connect (fetching a fresh token once if the current one is rejected)."""
        if self._state != "new":
            raise RuntimeError(f"this {self.name} channel was already opened")
        self._state = "opening"
        try:
            await self._conn._ensure_token()
            self._ws = await self._establish(reconnecting=False, refresh_first=False)
        except BaseException:
            self._state = "closed"
            raise
        self._state = "open"
        self._reader = asyncio.create_task(self._read_loop(), name=f"orgo-{self.name}-reader")
        if self.json_heartbeat and self._options.heartbeat_interval is not None:
            self._heartbeat = asyncio.create_task(
                self._heartbeat_loop(), name=f"orgo-{self.name}-heartbeat"
            )
        return self

    async def aclose(self) -> None:
        """Close the channel (idempotent); iteration ends after what is already buffered."""
        if self._state in ("new", "closed") and self._reader is None:
            self._state = "closed"
            return
        self._closing = True
        ws = self._ws
        said_bye = False
        if ws is not None and self._reader is not None and not self._reader.done():
            with contextlib.suppress(Exception):
                await self._before_close(ws)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._options.close_timeout):
                    await ws.close()
                said_bye = True
        await self._stop_tasks(wait_reader=said_bye)
        if ws is not None:
            await self._discard(ws)
        self._state = "closed"
        self._end(self._error)

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._state} {self.url}>"

    # -- sending -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state != "open" or self._closing:
            if self._error is not None:
                raise self._error
            raise WebSocketError(f"{self.name}: the channel is closed", channel=self.name)

    async def _send(self, frame: bytes, *, text: bool) -> bool:
        """Send on the current socket; False when it is being replaced (reconnecting)."""
        from websockets.exceptions import ConnectionClosed

        self._check_open()
        ws = self._ws
        if ws is None:
            return False
        try:
            await ws.send(frame, text=text)
        except ConnectionClosed:
            # Let the reader decide what the close means, then report that.
            await self._settle()
            if self._state != "open" or self._error is not None:
                self._check_open()
            return False
        return True

    async def _settle(self) -> None:
        """Give the reader a moment to process a close it is about to see."""
        reader = self._reader
        if reader is None or reader.done():
            return
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(reader), self._options.close_timeout)

    # -- connecting ----------------------------------------------------------------------

    async def _connect_once(self) -> ClientConnection:
        import ssl as _ssl

        from websockets.asyncio.client import connect
        from websockets.exceptions import (
            ConnectionClosed,
            InvalidHandshake,
            InvalidStatus,
            InvalidURI,
        )

        url = self._conn._ws_url(self.name, self._query())
        shown = redact_url(url)
        opts = self._options
        kwargs: dict[str, Any] = {
            "compression": self.compression,
            "max_size": self._max_size(),
            "open_timeout": opts.open_timeout,
            "close_timeout": opts.close_timeout,
            "user_agent_header": _USER_AGENT,
            "logger": _ws_log,
        }
        if self.json_heartbeat:
            kwargs["ping_interval"] = None  # the JSON heartbeat does this job
        else:
            kwargs["ping_interval"] = opts.heartbeat_interval
            kwargs["ping_timeout"] = opts.heartbeat_timeout
        if self.subprotocols:
            kwargs["subprotocols"] = list(self.subprotocols)
        if url.startswith("wss:"):
            context = self._conn._ssl_context
            if context is not None:
                kwargs["ssl"] = context
        log.debug("connecting %s", shown)
        try:
            return await connect(url, **kwargs)
        except InvalidStatus as e:
            status = e.response.status_code
            kind = close_codes.classify_handshake_status(status)
            code = close_codes.TOKEN_REJECTED if kind is CloseKind.TOKEN else None
            if status == 404:
                code = close_codes.NOT_RUNNING
            err = (
                close_codes.error_for(self.name, code, f"HTTP {status} on upgrade")
                if code is not None
                else WebSocketError(
                    f"{self.name}: the server refused the WebSocket upgrade with HTTP {status}",
                    channel=self.name,
                )
            )
            raise _Failure(kind, err, code=code) from None
        except _ssl.SSLError as e:
            # Certificate problems do not fix themselves: never retried.
            raise _Failure(
                CloseKind.FATAL,
                WebSocketError(f"{self.name}: TLS failed for {shown}: {e}", channel=self.name),
            ) from e
        except InvalidURI as e:
            raise _Failure(
                CloseKind.FATAL,
                WebSocketError(f"{self.name}: invalid URL {shown}", channel=self.name),
            ) from e
        except ConnectionClosed as e:
            raise self._failure_from_closed(e, None) from None
        except (OSError, TimeoutError, InvalidHandshake, EOFError) as e:
            what = "timed out" if isinstance(e, TimeoutError) else type(e).__name__
            raise _Failure(
                CloseKind.RETRY,
                WebSocketError(
                    f"{self.name}: could not connect to {shown} ({what})", channel=self.name
                ),
            ) from e

    async def _connect_and_handshake(self) -> ClientConnection:
        from websockets.exceptions import ConnectionClosed

        ws = await self._connect_once()
        self._received = False
        try:
            async with asyncio.timeout(self._options.open_timeout):
                await self._handshake(ws)
        except ConnectionClosed as e:
            await self._discard(ws)
            raise self._failure_from_closed(e, ws) from None
        except TimeoutError:
            await self._discard(ws)
            raise _Failure(
                CloseKind.RETRY,
                WebSocketError(
                    f"{self.name}: the server did not complete the opening exchange within "
                    f"{self._options.open_timeout} s",
                    channel=self.name,
                ),
            ) from None
        except BaseException:
            await self._discard(ws)
            raise
        return ws

    async def _establish(self, *, reconnecting: bool, refresh_first: bool) -> ClientConnection:
        """Open a socket, doing the token dance: one refresh per rejection streak.

        While reconnecting, transient failures (network, 1001, 4404 of a restarting
        computer, 5xx on upgrade) are retried with the policy's backoff; a first connect
        reports them at once.
        """
        conn = self._conn
        policy = self._options.reconnect
        refreshed = False
        if refresh_first:
            if not conn.can_refresh:
                raise self._token_error(
                    "the token was rejected and there is no client to fetch a fresh one"
                )
            await conn._refresh_token(stale=conn._token)
            refreshed = True
        while True:
            if reconnecting and self._failures:
                delay = policy.delay(self._failures - 1)
                log.info(
                    "%s: reconnecting in %.2f s (attempt %d)", self.name, delay, self._failures
                )
                await asyncio.sleep(delay)
            token = conn._token
            try:
                ws = await self._connect_and_handshake()
            except _Failure as failure:
                if failure.kind is CloseKind.TOKEN:
                    if not conn.can_refresh:
                        raise self._token_error(
                            "the token was rejected; pass client= (or refresh=) to Connection "
                            "so a fresh vnc_password can be fetched"
                        ) from None
                    if refreshed:
                        raise self._token_error(
                            "the token was rejected again after fetching a fresh vnc_password"
                        ) from None
                    log.info("%s: token rejected, fetching a fresh vnc_password", self.name)
                    await conn._refresh_token(stale=token)
                    refreshed = True
                    continue
                if (
                    reconnecting
                    and failure.kind is CloseKind.RETRY
                    and self._failures < policy.max_attempts
                ):
                    self._failures += 1
                    log.info("%s: reconnect failed: %s", self.name, failure.error)
                    continue
                raise failure.error from failure.__cause__
            # A socket opened with a just-fetched token that has not said anything yet
            # is still on probation: a 4401 on it is the second rejection.
            self._unconfirmed_refresh = refreshed and not self._received
            return ws

    def _token_error(self, message: str) -> TokenRejectedError:
        return TokenRejectedError(
            f"{self.name}: {message} (close 4401)",
            channel=self.name,
            code=close_codes.TOKEN_REJECTED,
        )

    def _failure_from_closed(self, exc: ConnectionClosed, ws: ClientConnection | None) -> _Failure:
        rcvd, sent = exc.rcvd, exc.sent
        if ws is not None and ws is self._dead_ws:
            return _Failure(
                CloseKind.RETRY,
                HeartbeatTimeoutError(
                    f"{self.name}: no pong within {self._options.heartbeat_timeout} s; "
                    "the connection is dead",
                    channel=self.name,
                ),
            )
        if sent is not None and rcvd is None and sent.code == close_codes.INTERNAL_ERROR:
            # websockets' own keepalive (vnc) gave up waiting for a pong frame.
            return _Failure(
                CloseKind.RETRY,
                HeartbeatTimeoutError(
                    f"{self.name}: no pong within {self._options.heartbeat_timeout} s; "
                    "the connection is dead",
                    channel=self.name,
                ),
            )
        if sent is not None and sent.code == close_codes.MESSAGE_TOO_BIG:
            return _Failure(
                CloseKind.FATAL,
                close_codes.error_for(
                    self.name,
                    close_codes.MESSAGE_TOO_BIG,
                    f"an incoming message exceeded max_size={self._max_size()} bytes",
                ),
                code=close_codes.MESSAGE_TOO_BIG,
            )
        code = rcvd.code if rcvd is not None else None
        reason = rcvd.reason if rcvd is not None else ""
        return _Failure(
            close_codes.classify(code), close_codes.error_for(self.name, code, reason), code=code
        )

    async def _discard(self, ws: ClientConnection) -> None:
        """Close a socket without caring how it went."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self._options.close_timeout):
                await ws.close()
        with contextlib.suppress(Exception):
            transport = ws.transport
            if transport is not None and not transport.is_closing():
                transport.abort()

    # -- reading -------------------------------------------------------------------------

    def _mark_healthy(self) -> None:
        self._failures = 0

    async def _pump(self, ws: ClientConnection) -> _Failure:
        """Read ``ws`` until it closes; frame errors propagate."""
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                frame = await ws.recv()
                self._received = True
                self._unconfirmed_refresh = False
                if not self.json_heartbeat or self._options.heartbeat_interval is None:
                    self._mark_healthy()
                if isinstance(frame, str):
                    await self._on_text(frame)
                else:
                    await self._on_binary(frame)
                if self._closing:  # the channel ended itself (terminal ``exit``)
                    await self._discard(ws)
                    return _Failure(
                        CloseKind.NORMAL,
                        WebSocketError(f"{self.name}: ended", channel=self.name),
                    )
        except ConnectionClosed as e:
            return self._failure_from_closed(e, ws)

    async def _read_loop(self) -> None:
        error: BaseException | None = None
        try:
            while True:
                ws = self._ws
                assert ws is not None
                failure = await self._pump(ws)
                if self._closing or failure.kind is CloseKind.NORMAL:
                    break
                log.info("%s: connection lost: %s", self.name, failure.error)
                if failure.kind is CloseKind.TOKEN and self._may_retry_token():
                    if self._unconfirmed_refresh and not self._received:
                        # This socket was opened with a freshly fetched token and was
                        # rejected before saying anything: the second rejection.
                        raise self._token_error(
                            "the token was rejected again after fetching a fresh vnc_password"
                        )
                    self._ws = None
                    await self._discard(ws)
                    self._ws = await self._establish(
                        reconnecting=self.resumable, refresh_first=True
                    )
                    await self._after_reconnect()
                    continue
                opening = self.reconnects == 0 and not self._received
                if opening and failure.code in (close_codes.NOT_RUNNING, close_codes.GOING_AWAY):
                    # Refused right at the first open: say so instead of retrying.
                    raise failure.error
                if self.resumable and failure.kind is CloseKind.RETRY:
                    self._ws = None
                    await self._discard(ws)
                    self._failures += 1
                    if self._failures > self._options.reconnect.max_attempts:
                        raise failure.error
                    self._ws = await self._establish(reconnecting=True, refresh_first=False)
                    await self._after_reconnect()
                    continue
                raise self._loss_error(failure)
        except asyncio.CancelledError:
            raise
        except _Failure as f:  # a frame handler judged the stream broken
            error = f.error
            log.info("%s: channel failed: %s", self.name, error)
        except Exception as e:
            error = e
            log.info("%s: channel failed: %s", self.name, e)
        finally:
            ws = self._ws
            self._state = "closed"
            if error is not None:
                self._error = error
            if self._heartbeat is not None:
                self._heartbeat.cancel()
            if ws is not None and not self._closing:
                await self._discard(ws)
            self._end(error)

    async def _after_reconnect(self) -> None:
        self.reconnects += 1
        log.info("%s: reconnected (%d)", self.name, self.reconnects)
        await self._on_reconnected()

    def _note_unknown(self, message: Unknown) -> None:
        self.unknown_messages.append(message)
        log.debug("%s: unknown message type %r", self.name, message.type)

    # -- heartbeat -----------------------------------------------------------------------

    def _on_pong(self) -> None:
        self._pong.set()
        self._mark_healthy()

    async def _heartbeat_loop(self) -> None:
        from websockets.exceptions import ConnectionClosed

        interval = self._options.heartbeat_interval
        assert interval is not None
        timeout = self._options.heartbeat_timeout
        while True:
            await asyncio.sleep(interval)
            ws = self._ws
            if ws is None:
                continue
            self._pong.clear()
            try:
                await ws.send(self.ping_frame, text=True)
            except ConnectionClosed:
                continue
            while True:
                try:
                    async with asyncio.timeout(timeout):
                        await self._pong.wait()
                    break
                except TimeoutError:
                    if ws is not self._ws:
                        break
                    if self._buffer_paused():
                        # The consumer is behind, so the pong may be queued behind
                        # unread data: not evidence of a dead connection.
                        continue
                    log.warning(
                        "%s: no pong within %s s, dropping the connection", self.name, timeout
                    )
                    self._dead_ws = ws
                    transport = ws.transport
                    if transport is not None:
                        transport.abort()
                    break

    async def _stop_tasks(self, *, wait_reader: bool) -> None:
        tasks = [t for t in (self._heartbeat, self._reader) if t is not None and not t.done()]
        for task in tasks:
            if task is self._reader and wait_reader:
                # Let the reader see the close it was sent; cancel it if it lingers.
                with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
                    await asyncio.wait_for(asyncio.shield(task), self._options.close_timeout)
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
