"""An asyncio RFB session on a :class:`~orgo_async.Connection`'s websockify channel.

The thin I/O layer around :class:`orgo_async._protocol.rfb.RfbClient`: it opens
``conn.vnc()``, does the handshake with the current ``vnc_password`` (the token is the
VNC password, ``orgo-api.md`` §11.3), and then sends input events.

**Delivery.** RFB input events have no acknowledgement. :meth:`RfbSession.send` follows
the events with a one-pixel non-incremental FramebufferUpdateRequest and waits for its
FramebufferUpdate: a server handles a client's messages in order, so the answer proves
that the events before it were read (and that the session is alive). It does not prove
they were applied: x11vnc queues pointer events and applies them in its main loop, which
answers update requests from another thread (measured on Xvfb: the pointer arrived 4-28
ms after the confirmation, even with four round trips), so
:class:`~orgo_async.agents.Desktop` gives pointer events a short settle time on top.
An action is reported done only after the confirmation; if the session dies first, the
caller gets a :class:`~orgo_async.SessionLostError` saying the input may not have
reached the desktop, never a silent success.

**Token rotation.** RFB sessions cannot resume. The channel is opened without automatic
reconnects; a rejected token (4401, the password rotates on every restart) still makes
the channel fetch a fresh password and reconnect by itself, which shows as
``vnc.reconnects`` growing. Either way the session is marked lost, the current operation
fails with a typed error, and the next operation opens a fresh channel and redoes the
handshake with the then-current ``conn.token``. A VNC password the RFB server rejects is
refreshed once (``conn.refresh_token()``) before giving up with
:class:`~orgo_async.TokenRejectedError`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._errors import OrgoError, SessionLostError, TokenRejectedError, WebSocketError
from .._protocol.close_codes import NO_RECONNECT
from .._protocol.rfb import (
    CursorPosition,
    DesktopResized,
    FramebufferUpdate,
    RfbClient,
    ServerCutText,
    ServerInit,
)
from .._secrets import get_logger
from .._tasks import cancel_and_wait

if TYPE_CHECKING:
    from ..connection import Connection
    from ..connection._vnc import Vnc

__all__ = ["RfbSession"]

log = get_logger("orgo_async.agents")
_CHANNEL = "websockify"


class _PasswordRejected(TokenRejectedError):
    """The RFB server refused the VNC password (the WebSocket token was accepted)."""


class _Replaced(SessionLostError):
    """The websockify channel reconnected by itself (a 4401 after a rotation): the bytes
    now belong to a new RFB session this client never handshook."""


_OPEN_ATTEMPTS = 3


class _Live:
    """One websockify socket and the RFB client speaking on it."""

    __slots__ = ("client", "error", "reader", "ready", "vnc", "waiters")

    def __init__(self, vnc: Vnc, client: RfbClient) -> None:
        self.vnc = vnc
        self.client = client
        self.ready: asyncio.Future[ServerInit] = asyncio.get_running_loop().create_future()
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.reader: asyncio.Task[None] | None = None
        self.error: OrgoError | None = None


class RfbSession:
    """Input events (and framebuffer reads) over one computer's websockify channel.

    ::

        session = RfbSession(conn)
        await session.send(lambda c: c.pointer_event(1, 10, 20))   # pressed, confirmed
        await session.aclose()

    Arguments:
        conn: the computer's :class:`~orgo_async.Connection`.
        open_timeout: seconds for the WebSocket plus the RFB handshake.
        sync_timeout: seconds to wait for the server to confirm a batch of events.
        confirm_rounds: update round trips awaited after a batch of events.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        open_timeout: float = 10.0,
        sync_timeout: float = 10.0,
        confirm_rounds: int = 1,
    ) -> None:
        if confirm_rounds < 1:
            raise ValueError("confirm_rounds must be >= 1")
        self._confirm_rounds = confirm_rounds
        self._conn = conn
        self._open_timeout = open_timeout
        self._sync_timeout = sync_timeout
        self._live: _Live | None = None
        self._lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._closed = False
        self.handshakes = 0
        """RFB sessions established so far (grows after every rotation or reconnect)."""
        self.size: tuple[int, int] | None = None
        """The framebuffer size from ServerInit (or the last DesktopSize)."""
        self.cursor: tuple[int, int] | None = None
        """The pointer position the server last reported (PointerPos), if it does."""
        self.clipboard: str | None = None
        """The server's clipboard text, when it sent one (ServerCutText)."""

    def __repr__(self) -> str:
        state = "closed" if self._closed else "live" if self._live else "idle"
        return f"<RfbSession {state} handshakes={self.handshakes}>"

    # -- public --------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """True while an RFB session is open and healthy (the next operation reuses it)."""
        live = self._live
        return live is not None and live.error is None and not live.vnc.closed

    async def send(self, build: Callable[[RfbClient], None], *, sync: bool = True) -> None:
        """Queue events with ``build(client)`` (its encoders), send them, and wait until
        the server confirms it read them (``sync=False``: only until they are written)."""
        consequence = "the input may not have reached the desktop"
        async with self._lock:
            live = await self._ensure()
            build(live.client)
            rounds = self._confirm_rounds if sync else 0
            if not rounds:
                await self._flush(live, consequence)
            for _ in range(rounds):
                waiter = self._request_sync(live)
                await self._flush(live, consequence)
                await self._wait(live, waiter, consequence)

    async def capture(
        self, x: int = 0, y: int = 0, width: int | None = None, height: int | None = None
    ) -> tuple[int, int, bytes]:
        """Fetch a region of the screen now: ``(width, height, rgb)`` (packed RGB)."""
        async with self._lock:
            live = await self._ensure()
            w0, h0 = self.size or (0, 0)
            w = w0 - x if width is None else width
            h = h0 - y if height is None else height
            waiter = self._waiter(live)
            live.client.request_update(False, x, y, w, h)
            await self._flush(live, "the screen could not be read")
            await self._wait(live, waiter, "the screen could not be read")
            fb = live.client.framebuffer
            assert fb is not None
            x1, y1 = min(x + w, fb.width), min(y + h, fb.height)
            return x1 - x, y1 - y, fb.region_rgb(x, y, x1, y1)

    async def ensure(self) -> tuple[int, int]:
        """Open the session if needed; return the framebuffer size."""
        async with self._lock:
            await self._ensure()
            assert self.size is not None
            return self.size

    async def aclose(self) -> None:
        """Close the channel (idempotent)."""
        self._closed = True
        live, self._live = self._live, None
        if live is not None:
            await self._dispose(live)

    async def __aenter__(self) -> RfbSession:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- session lifecycle ---------------------------------------------------------------

    async def _ensure(self) -> _Live:
        if self._closed:
            raise WebSocketError("websockify: the RFB session is closed", channel=_CHANNEL)
        live = self._live
        if live is not None and live.error is None and not live.vnc.closed:
            return live
        self._live = None
        if live is not None:
            await self._dispose(live)
        refreshed = False
        for attempt in range(1, _OPEN_ATTEMPTS + 1):
            try:
                live = await self._open()
            except _PasswordRejected:
                # The websockify token was accepted but the RFB server refused it as the
                # VNC password: it rotated in between. One refresh, then the error stands.
                if refreshed or not self._conn.can_refresh:
                    raise
                log.info("RFB: VNC password rejected, fetching a fresh one")
                await self._conn.refresh_token()
                refreshed = True
                continue
            except _Replaced:
                # The socket was replaced during the handshake (a restart rotating the
                # password right then): no input was sent yet, so opening again is safe.
                if attempt == _OPEN_ATTEMPTS:
                    raise
                continue
            self._live = live
            return live
        raise AssertionError("unreachable")

    async def _open(self) -> _Live:
        vnc = self._conn.vnc(reconnect=NO_RECONNECT)
        await vnc.open()
        token = self._conn.token  # after open(): the channel may have refreshed it
        live = _Live(vnc, RfbClient(token.get() if token else None))
        live.reader = asyncio.create_task(self._read_loop(live), name="orgo-rfb-reader")
        try:
            async with asyncio.timeout(self._open_timeout):
                init = await asyncio.shield(live.ready)
        except BaseException as e:
            await self._dispose(live)
            if isinstance(e, TokenRejectedError):
                raise _PasswordRejected(e.message, channel=_CHANNEL) from None
            if isinstance(e, _Replaced):
                raise _Replaced(e.message, channel=_CHANNEL) from None
            if isinstance(e, TimeoutError):
                raise WebSocketError(
                    f"websockify: no RFB handshake within {self._open_timeout} s",
                    channel=_CHANNEL,
                ) from None
            raise
        self.size = (init.width, init.height)
        self.handshakes += 1
        log.debug("RFB session %d: %dx%d %r", self.handshakes, init.width, init.height, init.name)
        return live

    async def _dispose(self, live: _Live) -> None:
        if live.reader is not None:
            await cancel_and_wait([live.reader])
        self._fail(
            live, SessionLostError("websockify: the RFB session was closed", channel=_CHANNEL)
        )
        await live.vnc.aclose()
        if not live.ready.done():
            live.ready.cancel()

    def _fail(self, live: _Live, error: OrgoError) -> None:
        if live.error is None:
            live.error = error
        if not live.ready.done():
            live.ready.set_exception(error)
            live.ready.exception()  # retrieved: nobody may be waiting any more
        while live.waiters:
            waiter = live.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)

    # -- reading -------------------------------------------------------------------------

    async def _read_loop(self, live: _Live) -> None:
        vnc, client = live.vnc, live.client
        try:
            while True:
                data = await vnc.read()
                if vnc.reconnects:
                    raise _Replaced(
                        "websockify: the connection was replaced (token rotation or "
                        "reconnect); the RFB session ended",
                        channel=_CHANNEL,
                    )
                if not data:
                    error = vnc.error
                    if isinstance(error, OrgoError):
                        raise error
                    raise SessionLostError(
                        "websockify: the server closed the RFB session", channel=_CHANNEL
                    )
                client.receive_data(data)
                await self._flush(live, "the handshake could not be completed")
                for event in client.events_received():
                    self._on_event(live, event)
                if client.error is not None:
                    raise client.error
        except asyncio.CancelledError:
            raise
        except OrgoError as e:
            log.info("RFB session lost: %s", e)
            self._fail(live, e)
        except Exception as e:  # a bug or a transport oddity: never leave waiters hanging
            log.warning("RFB reader failed: %r", e)
            self._fail(live, SessionLostError(f"websockify: {e!r}", channel=_CHANNEL))

    def _on_event(self, live: _Live, event: object) -> None:
        if isinstance(event, FramebufferUpdate):
            if live.waiters:
                waiter = live.waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)
        elif isinstance(event, ServerInit):
            if not live.ready.done():
                live.ready.set_result(event)
        elif isinstance(event, CursorPosition):
            self.cursor = (event.x, event.y)
        elif isinstance(event, DesktopResized):
            self.size = (event.width, event.height)
        elif isinstance(event, ServerCutText):
            self.clipboard = event.text

    # -- writing -------------------------------------------------------------------------

    def _waiter(self, live: _Live) -> asyncio.Future[None]:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        live.waiters.append(waiter)
        return waiter

    def _request_sync(self, live: _Live) -> asyncio.Future[None]:
        waiter = self._waiter(live)
        live.client.request_update(False, 0, 0, 1, 1)
        return waiter

    async def _flush(self, live: _Live, consequence: str) -> None:
        # One writer at a time, taking the bytes only once it holds the lock, so the
        # reader's handshake replies and the caller's events go out in queue order.
        async with self._write_lock:
            out = live.client.data_to_send()
            if not out:
                return
            try:
                await live.vnc.write(out)
            except WebSocketError as e:
                error = SessionLostError(
                    f"websockify: the RFB session was lost while sending; {consequence} ({e})",
                    channel=_CHANNEL,
                )
                self._fail(live, error)
                raise error from None

    async def _wait(self, live: _Live, waiter: asyncio.Future[None], consequence: str) -> None:
        try:
            async with asyncio.timeout(self._sync_timeout):
                await waiter
        except TimeoutError:
            error = SessionLostError(
                f"websockify: the server did not answer within {self._sync_timeout} s; "
                f"{consequence}",
                channel=_CHANNEL,
            )
            self._fail(live, error)
            raise error from None
        except OrgoError as e:
            raise SessionLostError(
                f"{e.message.rstrip('.')}; {consequence}", channel=_CHANNEL
            ) from e
