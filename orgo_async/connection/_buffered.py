"""The consumer side shared by the terminal, audio, events and vnc channels: messages
queue in a bounded :class:`~orgo_async.connection._buffer.Buffer` and come out through
``async for`` or ``read()``, with one end-of-stream rule for all of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, Self, TypeVar

from ._buffer import Buffer, EndOfStream
from ._channel import Channel

if TYPE_CHECKING:
    from ._credentials import CredentialsLike
    from ._options import ChannelOptions

__all__ = ["BufferedChannel"]

T = TypeVar("T")
E = TypeVar("E")


class BufferedChannel(Channel, Generic[T, E]):
    """A channel whose messages queue in a bounded :class:`~._buffer.Buffer` for the
    consumer: ``async for item in channel`` or ``await channel.read()``.

    ``T`` is what a message is (``str``, ``bytes``, an event), ``E`` what :meth:`read`
    returns at the end of the stream (``""``, ``b""``, ``None``).
    """

    def __init__(
        self,
        credentials: CredentialsLike,
        options: ChannelOptions,
        *,
        buffer: int,
        drop_oldest: bool,
        eof: E,
    ) -> None:
        super().__init__(credentials, options)
        self._buffer: Buffer[T] = Buffer(buffer, drop_oldest=drop_oldest)
        self._eof = eof

    @property
    def dropped(self) -> int:
        """Messages dropped because the consumer fell behind, oldest first (always 0 on
        the lossless terminal and vnc channels, which push back instead)."""
        return self._buffer.dropped

    def _buffer_paused(self) -> bool:
        return self._buffer.paused

    def _end(self, error: BaseException | None) -> None:
        self._buffer.finish(error)

    def _closing(self) -> None:
        self._buffer.discard_new()

    async def _take(self) -> T | None:
        """The next message, ``None`` at the end (the channel's error if it failed)."""
        try:
            return await self._buffer.get()
        except EndOfStream:
            return None

    async def read(self) -> T | E:
        """The next message; the end-of-stream value once the channel has ended normally,
        the channel's error if it failed."""
        try:
            return await self._buffer.get()
        except EndOfStream:
            return self._eof

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        try:
            return await self._buffer.get()
        except EndOfStream:
            raise StopAsyncIteration from None
