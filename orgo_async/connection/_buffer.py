"""The bounded FIFO between a channel's reader task and its consumer."""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

__all__ = ["Buffer", "EndOfStream"]

T = TypeVar("T")


class EndOfStream(Exception):
    """The buffer is drained and the stream ended normally."""


class Buffer(Generic[T]):
    """A bounded FIFO between the reader task and the consumer.

    ``drop_oldest=True`` (audio, events): a full buffer drops its oldest item and counts it,
    so a slow consumer loses old data, keeps the newest and never stalls the socket (nor
    the heartbeat behind it). ``drop_oldest=False`` (terminal, vnc: lossless streams):
    :meth:`put` waits for room, which pushes back on the server through TCP.

    >>> buf = Buffer[int](2, drop_oldest=True)
    >>> buf.put_nowait(1), buf.put_nowait(2), buf.put_nowait(3)
    (None, None, 1)
    >>> buf.dropped
    1
    """

    __slots__ = (
        "_discarding",
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
        #: Items dropped because the buffer was full (drop-oldest mode).
        self.dropped = 0
        #: True while :meth:`put` waits for room (lossless mode): the consumer is behind.
        self.paused = False
        self._items: deque[T] = deque()
        self._not_empty = asyncio.Event()
        self._not_full = asyncio.Event()
        self._not_full.set()
        self._done = False
        self._discarding = False
        self._error: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def done(self) -> bool:
        """True once :meth:`finish` was called (items may still be buffered)."""
        return self._done

    def put_nowait(self, item: T) -> T | None:
        """Append, dropping the oldest item when full; return the dropped item, if any.

        Ignored once the buffer is finished or discarding.
        """
        if self._done or self._discarding:
            return None
        dropped = None
        if len(self._items) >= self.maxlen:
            dropped = self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._not_empty.set()
        return dropped

    async def put(self, item: T) -> None:
        """Append, waiting for room (lossless mode; drop-oldest mode never waits)."""
        if self.drop_oldest:
            self.put_nowait(item)
            return
        while len(self._items) >= self.maxlen and not self._done and not self._discarding:
            self._not_full.clear()
            self.paused = True
            try:
                await self._not_full.wait()
            finally:
                self.paused = False
        if self._done or self._discarding:
            return
        self._items.append(item)
        self._not_empty.set()

    def push_front(self, item: T) -> None:
        """Give back an item the consumer took but did not use (a partial chunk)."""
        self._items.appendleft(item)
        self._not_empty.set()

    async def get(self) -> T:
        """The oldest item; once finished and drained, the error or :class:`EndOfStream`."""
        while not self._items:
            if self._done:
                if self._error is not None:
                    raise self._error
                raise EndOfStream
            self._not_empty.clear()
            await self._not_empty.wait()
        item = self._items.popleft()
        if len(self._items) < self.maxlen:
            self._not_full.set()
        return item

    def finish(self, error: BaseException | None) -> None:
        """No more items will come; ``error`` is raised once the buffer is drained.

        Only the first call counts; a waiting :meth:`put` gives up.
        """
        if not self._done:
            self._done = True
            self._error = error
        self._not_empty.set()
        self._not_full.set()

    def discard_new(self) -> None:
        """Keep what is buffered, drop what comes from now on, and wake a waiting
        :meth:`put` (which drops its item): the consumer is closing the stream, and the
        reader must go on reading (to the close frame) instead of waiting for room."""
        self._discarding = True
        self._not_full.set()

    def clear(self) -> None:
        """Drop every buffered item (not counted as drops)."""
        self._items.clear()
        self._not_full.set()
