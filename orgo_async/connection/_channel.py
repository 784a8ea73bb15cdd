"""The machinery every channel shares, in one place: connect, the reader task, the JSON
heartbeat, reconnect and close.

What to do when something happens (a rejected token, a dropped socket, a close code) is
decided by :class:`~orgo_async._protocol.lifecycle.ChannelMachine`, plain code without
I/O; this module is the thin asyncio layer that reports events to it and carries out its
decisions. A channel subclass only says what is specific to it: its URL query, its opening
handshake (``started`` for audio, ``subscribe`` for events), what to do with a text or
binary frame and how a lost connection is reported (the terminal cannot resume, so a loss
there is a :class:`~orgo_async.SessionLostError`).

``websockets`` is imported here lazily, the first time a socket is opened. (Past 500
lines on purpose: connect, read, heartbeat and close share one socket's state and tasks.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self

from .._errors import WebSocketError
from .._protocol.close_codes import CloseKind
from .._protocol.lifecycle import (
    Action,
    ChannelFailure,
    ChannelMachine,
    State,
    failure_from_close,
    failure_from_status,
)
from .._protocol.urls import redact_url
from .._secrets import get_logger
from .._tasks import cancel_and_wait, wait_done
from .._version import __version__
from ._options import ChannelOptions

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection
    from websockets.exceptions import ConnectionClosed

    from .._protocol.codec import Unknown
    from .._secrets import Secret
    from ._credentials import CredentialsLike

__all__ = ["Channel"]

log = get_logger("orgo_async.connection")
# websockets logs the request line (with the token) at DEBUG: its records go through a
# logger carrying the redacting filter.
_ws_log = get_logger("orgo_async.websockets")

_USER_AGENT: Final = f"orgo-async/{__version__}"


class Channel:
    """Base of the terminal, audio, events and vnc channels.

    Use a channel as an async context manager (``async with conn.audio() as audio``); it
    opens on entry and closes on exit. ``reconnects`` counts successful reconnects and
    ``unknown_messages`` keeps the last server messages of a type this SDK does not know.
    """

    name: ClassVar[str]
    #: Whether a dropped connection may be replaced by a new one (audio, events, vnc).
    resumable: ClassVar[bool] = False
    #: ``compression`` argument of websockets' connect (``None``: no permessage-deflate);
    #: the default of the channel kind, which :meth:`_offer_compression` can override.
    compression: ClassVar[str | None] = None
    #: JSON ``ping``/``pong`` heartbeat (terminal, audio, events) vs WebSocket pings (vnc).
    json_heartbeat: ClassVar[bool] = True
    ping_frame: ClassVar[bytes] = b""
    subprotocols: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, credentials: CredentialsLike, options: ChannelOptions) -> None:
        self._creds = credentials
        self._options = options
        self._machine = ChannelMachine(
            self.name, resumable=self.resumable, policy=options.reconnect
        )
        self._ws: ClientConnection | None = None
        self._attempt_token: Secret | None = None  # the token of the latest connect attempt
        self._reader: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._pong = asyncio.Event()
        self._dead_ws: ClientConnection | None = None  # the socket the heartbeat killed
        # Without a JSON heartbeat, data arriving is what proves the connection healthy.
        self._data_is_health = not self.json_heartbeat or options.heartbeat_interval is None
        # The server ended the stream (a terminal's exit): the reader closes our side.
        self._server_ended = False
        self.unknown_messages: deque[Unknown] = deque(maxlen=32)
        self._compression = self.compression

    def _offer_compression(self, offer: bool | None) -> None:
        """Whether this channel offers permessage-deflate (``None``: its kind's default)."""
        if offer is not None:
            self._compression = "deflate" if offer else None

    # -- hooks ---------------------------------------------------------------------------

    def _query(self) -> dict[str, object]:
        return {}

    def _max_size(self) -> int:
        return self._options.max_size

    async def _handshake(self, ws: ClientConnection) -> None:
        """The channel's opening exchange on a fresh socket (reader not running yet);
        receive with :meth:`_handshake_recv`."""

    async def _on_text(self, frame: str) -> None:
        raise NotImplementedError

    async def _on_binary(self, frame: bytes) -> None:
        raise NotImplementedError

    def _buffer_paused(self) -> bool:
        return False

    def _end(self, error: BaseException | None) -> None:
        """The channel is over: wake the consumer (``error`` None = normal end)."""

    def _closing(self) -> None:
        """Our side is closing: messages arriving from now on are not for anyone."""

    def _loss_error(self, failure: ChannelFailure) -> BaseException:
        """What the caller sees when the connection is lost for good."""
        return failure.error

    async def _before_close(self, ws: ClientConnection) -> None:
        """Say goodbye (audio sends ``stop``)."""

    async def _on_reconnected(self) -> None:
        """A replacement socket is open and its handshake done."""

    # -- public --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """This channel's URL with the token redacted."""
        return self._creds.redacted_url(self.name, self._query())

    @property
    def closed(self) -> bool:
        """True once the channel has ended (closed by either side or failed)."""
        return self._machine.state is State.CLOSED

    @property
    def error(self) -> BaseException | None:
        """Why the channel ended, if it failed."""
        return self._error

    @property
    def reconnects(self) -> int:
        """Successful reconnects so far."""
        return self._machine.reconnects

    async def open(self) -> Self:
        """Connect (fetching a fresh token once if the current one is rejected)."""
        machine = self._machine
        if machine.state is not State.NEW:
            raise RuntimeError(f"this {self.name} channel was already opened")
        machine.state = State.OPENING
        try:
            await self._creds.ensure_token()
            ws = await self._establish(reconnecting=False)
        except BaseException:
            machine.state = State.CLOSED
            raise
        if machine.state is not State.OPENING:  # aclose() ran meanwhile
            await self._discard(ws)
            raise WebSocketError(f"{self.name}: closed while opening", channel=self.name)
        self._ws = ws
        machine.state = State.OPEN
        self._reader = asyncio.create_task(self._read_loop(), name=f"orgo-{self.name}-reader")
        if self.json_heartbeat and self._options.heartbeat_interval is not None:
            self._heartbeat = asyncio.create_task(
                self._heartbeat_loop(), name=f"orgo-{self.name}-heartbeat"
            )
        return self

    async def aclose(self) -> None:
        """Close the channel (idempotent); iteration ends after what is already buffered."""
        machine = self._machine
        if machine.state in (State.NEW, State.CLOSED) and self._reader is None:
            machine.state = State.CLOSED
            return
        if machine.state in (State.OPENING, State.OPEN):
            machine.state = State.CLOSING
        # A reader waiting for room in a full lossless buffer would leave the server's
        # close frame unread, and ws.close() would wait out close_timeout for it.
        self._closing()
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
        machine.state = State.CLOSED
        self._end(self._error)

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._machine.state.value} {self.url}>"

    # -- sending -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._machine.state is not State.OPEN:
            if self._error is not None:
                raise self._error
            raise WebSocketError(f"{self.name}: the channel is closed", channel=self.name)

    def _stop_reading(self) -> None:
        """The server ended the stream (a terminal's ``exit``): the reader stops after
        this frame and closes our side."""
        self._server_ended = True
        if self._machine.state is State.OPEN:
            self._machine.state = State.CLOSING

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
            if self._machine.state is not State.OPEN or self._error is not None:
                self._check_open()
            return False
        return True

    async def _settle(self) -> None:
        """Give the reader a moment to process a close it is about to see."""
        reader = self._reader
        if reader is not None:
            await wait_done(reader, self._options.close_timeout)

    # -- connecting ----------------------------------------------------------------------

    def _connect_options(self) -> dict[str, Any]:
        """Keyword arguments of websockets' ``connect`` for this channel (no TLS yet)."""
        opts = self._options
        kwargs: dict[str, Any] = {
            "compression": self._compression,
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
        return kwargs

    async def _connect_once(self) -> ClientConnection:
        """Open one socket with the current token; a :class:`ChannelFailure` says why not."""
        from websockets.asyncio.client import connect

        creds = self._creds
        self._attempt_token = creds.token
        url = creds.url(self.name, self._query())
        kwargs = self._connect_options()
        if url.startswith("wss:") and creds.ssl is not None:
            kwargs["ssl"] = creds.ssl
        shown = redact_url(url)
        log.debug("connecting %s", shown)
        try:
            return await connect(url, **kwargs)
        except Exception as e:
            failure = self._connect_failure(e, shown)
            if failure is None:
                raise
            raise failure from failure.__cause__

    def _connect_failure(self, exc: Exception, shown: str) -> ChannelFailure | None:
        """What a failed ``connect()`` means; ``None`` for an exception that is not a
        connection problem (re-raised as is). The cause is kept where it helps (TLS)."""
        import ssl

        from websockets.exceptions import (
            ConnectionClosed,
            InvalidHandshake,
            InvalidStatus,
            InvalidURI,
        )

        name = self.name
        if isinstance(exc, InvalidStatus):
            return failure_from_status(name, exc.response.status_code)
        if isinstance(exc, ConnectionClosed):
            return self._failure_from_closed(exc, None)
        if isinstance(exc, ssl.SSLError):  # before OSError: certificates do not heal
            error = WebSocketError(f"{name}: TLS failed for {shown}: {exc}", channel=name)
            failure = ChannelFailure(CloseKind.FATAL, error)
        elif isinstance(exc, InvalidURI):
            error = WebSocketError(f"{name}: invalid URL {shown}", channel=name)
            failure = ChannelFailure(CloseKind.FATAL, error)
        elif isinstance(exc, OSError | TimeoutError | InvalidHandshake | EOFError):
            what = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            error = WebSocketError(f"{name}: could not connect to {shown} ({what})", channel=name)
            failure = ChannelFailure(CloseKind.RETRY, error)
        else:
            return None
        failure.__cause__ = exc
        return failure

    async def _connect_and_handshake(self) -> ClientConnection:
        from websockets.exceptions import ConnectionClosed

        ws = await self._connect_once()
        self._machine.socket_opened()
        try:
            async with asyncio.timeout(self._options.open_timeout):
                await self._handshake(ws)
        except ConnectionClosed as e:
            await self._discard(ws)
            raise self._failure_from_closed(e, ws) from None
        except TimeoutError:
            await self._discard(ws)
            error = WebSocketError(
                f"{self.name}: the server did not complete the opening exchange within "
                f"{self._options.open_timeout} s",
                channel=self.name,
            )
            raise ChannelFailure(CloseKind.RETRY, error) from None
        except BaseException:
            await self._discard(ws)
            raise
        return ws

    async def _establish(self, *, reconnecting: bool) -> ClientConnection:
        """Open a socket and run the opening exchange, retrying as the machine decides.

        While reconnecting, transient failures (network, 1001, 4404 of a restarting
        computer, 5xx on upgrade) are retried with the policy's backoff; a first connect
        reports them at once. A rejected token is refreshed once per rejection streak.
        """
        machine, creds = self._machine, self._creds
        while True:
            delay = machine.backoff() if reconnecting else 0.0
            if delay:
                log.info(
                    "%s: reconnecting in %.2f s (attempt %d)", self.name, delay, machine.failures
                )
                await asyncio.sleep(delay)
            try:
                ws = await self._connect_and_handshake()
            except ChannelFailure as failure:
                decision = machine.on_connect_failure(
                    failure, reconnecting=reconnecting, can_refresh=creds.can_refresh
                )
                if decision.action is Action.REFRESH:
                    await self._refresh_token()
                elif decision.action is Action.RECONNECT:
                    log.info("%s: reconnect failed: %s", self.name, failure.error)
                else:
                    assert decision.error is not None
                    raise decision.error from failure.__cause__
                continue
            machine.handshake_done()
            return ws

    async def _refresh_token(self) -> None:
        log.info("%s: token rejected, fetching a fresh vnc_password", self.name)
        await self._creds.refresh(stale=self._attempt_token)

    def _failure_from_closed(
        self, exc: ConnectionClosed, ws: ClientConnection | None
    ) -> ChannelFailure:
        rcvd, sent = exc.rcvd, exc.sent
        return failure_from_close(
            self.name,
            received=(rcvd.code, rcvd.reason) if rcvd is not None else None,
            sent_code=sent.code if sent is not None else None,
            heartbeat_killed=ws is not None and ws is self._dead_ws,
            heartbeat_timeout=self._options.heartbeat_timeout,
            max_size=self._max_size(),
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

    async def _handshake_recv(self, ws: ClientConnection) -> str | bytes:
        """Receive one frame of the opening exchange: the socket has now said something,
        which proves the token it was opened with."""
        frame = await ws.recv()
        self._machine.frame_received()
        return frame

    async def _pump(self, ws: ClientConnection) -> ChannelFailure:
        """Read ``ws`` until it closes; frame errors propagate."""
        from websockets.exceptions import ConnectionClosed

        machine = self._machine
        try:
            while True:
                frame = await ws.recv()
                machine.frame_received()
                if self._data_is_health:
                    machine.healthy()
                if isinstance(frame, str):
                    await self._on_text(frame)
                else:
                    await self._on_binary(frame)
                # Only when the server ended it (the shell exited): when our side is
                # closing, the reader keeps reading, down to the server's close frame.
                if self._server_ended:
                    await self._discard(ws)
                    error = WebSocketError(f"{self.name}: ended", channel=self.name)
                    return ChannelFailure(CloseKind.NORMAL, error)
        except ConnectionClosed as e:
            return self._failure_from_closed(e, ws)

    async def _read_loop(self) -> None:
        error: BaseException | None = None
        try:
            while True:
                ws = self._ws
                assert ws is not None
                failure = await self._pump(ws)
                if not await self._recover(ws, failure):
                    break
        except asyncio.CancelledError:
            raise
        except ChannelFailure as f:  # a frame handler judged the stream broken
            error = f.error
            log.info("%s: channel failed: %s", self.name, error)
        except Exception as e:
            error = e
            log.info("%s: channel failed: %s", self.name, e)
        finally:
            await self._reader_done(error)

    async def _recover(self, ws: ClientConnection, failure: ChannelFailure) -> bool:
        """Carry out the machine's decision about a lost connection: False when the
        channel ended normally, True once a replacement socket is open; raises the error
        that ends the channel otherwise."""
        machine = self._machine
        decision = machine.on_connection_lost(
            failure,
            closing=machine.state is State.CLOSING,
            can_refresh=self._creds.can_refresh,
        )
        if decision.action is Action.END:
            return False
        log.info("%s: connection lost: %s", self.name, failure.error)
        if decision.action is Action.FAIL:
            assert decision.error is not None
            raise decision.error
        if decision.action is Action.LOST:
            raise self._loss_error(failure)
        self._ws = None
        await self._discard(ws)
        if decision.action is Action.REFRESH:
            await self._refresh_token()
        # Only a resumable channel retries; a terminal just redoes its rejected opening.
        self._ws = await self._establish(reconnecting=self.resumable)
        machine.reconnected()
        log.info("%s: reconnected (%d)", self.name, machine.reconnects)
        await self._on_reconnected()
        return True

    async def _reader_done(self, error: BaseException | None) -> None:
        ws = self._ws
        closing = self._machine.state is State.CLOSING
        self._machine.state = State.CLOSED
        if error is not None:
            self._error = error
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        if ws is not None and not closing:
            await self._discard(ws)
        self._end(error)

    def _note_unknown(self, message: Unknown) -> None:
        self.unknown_messages.append(message)
        log.debug("%s: unknown message type %r", self.name, message.type)

    # -- heartbeat -----------------------------------------------------------------------

    def _on_pong(self) -> None:
        self._pong.set()
        self._machine.healthy()

    async def _heartbeat_loop(self) -> None:
        from websockets.exceptions import ConnectionClosed

        interval = self._options.heartbeat_interval
        assert interval is not None
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
            await self._await_pong(ws)

    async def _await_pong(self, ws: ClientConnection) -> None:
        """Wait for the pong of the ping just sent; abort ``ws`` if it does not come."""
        timeout = self._options.heartbeat_timeout
        while True:
            try:
                async with asyncio.timeout(timeout):
                    await self._pong.wait()
                return
            except TimeoutError:
                if ws is not self._ws:
                    return
                if self._buffer_paused():
                    # The consumer is behind, so the pong may be queued behind unread
                    # data: not evidence of a dead connection.
                    continue
                log.warning("%s: no pong within %s s, dropping the connection", self.name, timeout)
                self._dead_ws = ws
                transport = ws.transport
                if transport is not None:
                    transport.abort()
                return

    async def _stop_tasks(self, *, wait_reader: bool) -> None:
        tasks = [t for t in (self._heartbeat, self._reader) if t is not None]
        try:
            if wait_reader and self._reader is not None:
                # Let the reader see the close it was sent; cancel it if it lingers.
                await wait_done(self._reader, self._options.close_timeout)
        finally:  # cancelled meanwhile too: nothing is left running
            await cancel_and_wait(tasks)
