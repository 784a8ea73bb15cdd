"""The events channel: desktop events as typed values (``orgo-api.md`` §11.6)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeAlias

from .._errors import EventSubscriptionError, WebSocketError
from .._protocol import events
from .._protocol.close_codes import CloseKind
from .._protocol.codec import Unknown
from .._protocol.lifecycle import ChannelFailure
from ._buffered import BufferedChannel

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from ._credentials import CredentialsLike
    from ._options import ChannelOptions

__all__ = ["AnyEvent", "Events"]

#: What iterating an :class:`Events` channel yields: a typed event, an
#: :class:`~orgo_async._protocol.events.UnknownEvent` for an event type this SDK does not
#: know, or :class:`~orgo_async._protocol.codec.Unknown` for an unknown message type.
#: Every one has ``.type`` and ``.data``.
AnyEvent: TypeAlias = "events.Event | events.UnknownEvent | Unknown"


class Events(BufferedChannel[AnyEvent, None]):
    """Desktop events (window focus, clipboard, file changes, processes, idle...).

    ::

        async with conn.events(["window_focus", "file_change"]) as events:
            async for event in events:
                print(event.type, event.data)

    Subscriptions are re-sent after every reconnect (the server forgets them). A slow
    consumer loses the oldest events first: :attr:`dropped` counts them.
    """

    name = "events"
    resumable = True
    # Measured on loopback: deflate sends ~11 % of the bytes and still handles ~72k
    # events/s, while the server polls at most every 100 ms per event type.
    compression = "deflate"
    ping_frame = events.PING

    def __init__(
        self,
        credentials: CredentialsLike,
        options: ChannelOptions,
        *,
        event_types: Iterable[str],
        buffer: int,
        compression: bool | None = None,
    ) -> None:
        super().__init__(credentials, options, buffer=buffer, drop_oldest=True, eof=None)
        self._offer_compression(compression)
        if isinstance(event_types, str):
            raise TypeError("event_types must be a list of str, not a str")
        types = list(event_types)
        if types:
            events.encode_subscribe(types)  # validates
        self._types: dict[str, None] = dict.fromkeys(types)
        self._decoder = events.decoder(options.max_size)
        self._acks: deque[asyncio.Future[events.ControlMessage]] = deque()
        self.errors: list[str] = []
        """``error`` messages the server sent outside a subscribe/unsubscribe."""

    @property
    def subscriptions(self) -> list[str]:
        """The event types this channel is subscribed to."""
        return list(self._types)

    # -- frames --------------------------------------------------------------------------

    async def _handshake(self, ws: ClientConnection) -> None:
        if not self._types:
            return
        await ws.send(events.encode_subscribe(self._types), text=True)
        while True:
            frame = await self._handshake_recv(ws)
            if isinstance(frame, bytes):
                raise ChannelFailure(CloseKind.FATAL, self._decoder.error("binary frame"))
            msg = self._decoder.decode(frame)
            if isinstance(msg, events.Subscribed):
                return
            if isinstance(msg, events.Error):
                raise ChannelFailure(
                    CloseKind.FATAL,
                    EventSubscriptionError(
                        f"events: subscription refused: {msg.message}", channel=self.name
                    ),
                )
            self._dispatch(msg)

    def _dispatch(self, msg: AnyEvent | events.ControlMessage) -> None:
        if isinstance(msg, events.Pong):
            self._on_pong()
        elif isinstance(msg, events.Subscribed | events.Unsubscribed | events.Error):
            if self._acks:
                fut = self._acks.popleft()
                if not fut.done():
                    fut.set_result(msg)
            elif isinstance(msg, events.Error):
                self.errors.append(msg.message)
        else:
            if isinstance(msg, Unknown):
                self._note_unknown(msg)
            self._buffer.put_nowait(msg)

    async def _on_text(self, frame: str) -> None:
        self._dispatch(self._decoder.decode(frame))

    async def _on_binary(self, frame: bytes) -> None:
        raise self._decoder.error("unexpected binary frame (events are JSON text)")

    def _end(self, error: BaseException | None) -> None:
        super()._end(error)
        while self._acks:
            fut = self._acks.popleft()
            if not fut.done():
                fut.set_exception(
                    error or WebSocketError("events: the channel closed", channel=self.name)
                )
                fut.exception()  # mark retrieved: the caller may have given up waiting

    async def _on_reconnected(self) -> None:
        # Acks of the dropped socket will never come.
        while self._acks:
            fut = self._acks.popleft()
            if not fut.done():
                fut.set_exception(
                    WebSocketError("events: reconnected before the ack", channel=self.name)
                )
                fut.exception()

    # -- public --------------------------------------------------------------------------

    async def _request(self, frame: bytes) -> events.ControlMessage:
        fut: asyncio.Future[events.ControlMessage] = asyncio.get_running_loop().create_future()
        self._acks.append(fut)
        if not await self._send(frame, text=True):
            # Reconnecting: the handshake re-sends every subscription.
            if fut in self._acks:
                self._acks.remove(fut)
            return events.Subscribed(message="queued")
        async with asyncio.timeout(self._options.open_timeout):
            return await fut

    async def subscribe(self, event_types: Iterable[str]) -> None:
        """Add ``event_types``; waits for the server's ``subscribed``."""
        types = [t for t in dict.fromkeys(event_types) if t not in self._types]
        if not types:
            return
        frame = events.encode_subscribe(types)
        self._types.update(dict.fromkeys(types))
        reply = await self._request(frame)
        if isinstance(reply, events.Error):
            for t in types:
                self._types.pop(t, None)
            raise EventSubscriptionError(
                f"events: subscription refused: {reply.message}", channel=self.name
            )

    async def unsubscribe(self, event_types: Iterable[str]) -> None:
        """Remove ``event_types``; waits for the server's ``unsubscribed``."""
        types = [t for t in dict.fromkeys(event_types) if t in self._types]
        if not types:
            return
        frame = events.encode_unsubscribe(types)
        for t in types:
            self._types.pop(t, None)
        reply = await self._request(frame)
        if isinstance(reply, events.Error):
            raise EventSubscriptionError(
                f"events: unsubscribe refused: {reply.message}", channel=self.name
            )

    async def next(self, timeout: float | None = None) -> AnyEvent:
        """The next event (``TimeoutError`` after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout):
            return await self.__anext__()
