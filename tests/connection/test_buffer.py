"""The bounded FIFO between a channel's reader and its consumer, on its own."""

from __future__ import annotations

import asyncio

import pytest

from orgo_async.connection._buffer import Buffer, EndOfStream


async def drain(buf: Buffer[int]) -> list[int]:
    out: list[int] = []
    while True:
        try:
            out.append(await asyncio.wait_for(buf.get(), 1))
        except EndOfStream:
            return out


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Buffer[int](0, drop_oldest=True)


async def test_drop_oldest_keeps_the_newest_and_counts() -> None:
    buf = Buffer[int](3, drop_oldest=True)
    dropped = [buf.put_nowait(n) for n in range(7)]
    assert dropped == [None, None, None, 0, 1, 2, 3]
    assert buf.dropped == 4 and len(buf) == 3
    await buf.put(7)  # put() never waits in drop-oldest mode
    assert buf.dropped == 5
    buf.finish(None)
    assert await drain(buf) == [5, 6, 7]


async def test_lossless_put_waits_for_room() -> None:
    buf = Buffer[int](2, drop_oldest=False)
    await buf.put(0)
    await buf.put(1)
    blocked = asyncio.create_task(buf.put(2))
    await asyncio.sleep(0)
    assert not blocked.done() and buf.paused  # backpressure, nothing dropped
    assert await buf.get() == 0
    await asyncio.wait_for(blocked, 1)
    assert not buf.paused and buf.dropped == 0
    buf.finish(None)
    assert await drain(buf) == [1, 2]


async def test_get_waits_for_an_item() -> None:
    buf = Buffer[str](4, drop_oldest=False)
    waiting = asyncio.create_task(buf.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    await buf.put("x")
    assert await asyncio.wait_for(waiting, 1) == "x"


async def test_finish_without_error_ends_after_the_buffered_items() -> None:
    buf = Buffer[int](4, drop_oldest=True)
    buf.put_nowait(1)
    buf.finish(None)
    assert buf.done
    assert buf.put_nowait(2) is None  # ignored once finished
    await buf.put(3)
    assert await buf.get() == 1
    with pytest.raises(EndOfStream):
        await buf.get()
    with pytest.raises(EndOfStream):  # and again: the end is sticky
        await buf.get()


async def test_finish_with_error_raises_it_once_drained() -> None:
    buf = Buffer[int](4, drop_oldest=False)
    await buf.put(1)
    error = RuntimeError("boom")
    buf.finish(error)
    buf.finish(None)  # only the first finish counts
    assert await buf.get() == 1
    with pytest.raises(RuntimeError, match="boom"):
        await buf.get()


async def test_finish_wakes_a_blocked_consumer_and_producer() -> None:
    buf = Buffer[int](1, drop_oldest=False)
    consumer = asyncio.create_task(buf.get())
    await asyncio.sleep(0)
    buf.finish(ValueError("gone"))
    with pytest.raises(ValueError, match="gone"):
        await asyncio.wait_for(consumer, 1)

    full = Buffer[int](1, drop_oldest=False)
    await full.put(1)
    producer = asyncio.create_task(full.put(2))
    await asyncio.sleep(0)
    full.finish(None)
    await asyncio.wait_for(producer, 1)  # gives up instead of hanging
    assert await drain(full) == [1]


async def test_push_front_gives_an_item_back_first() -> None:
    buf = Buffer[str](2, drop_oldest=False)
    await buf.put("abc")
    await buf.put("def")
    chunk = await buf.get()
    buf.push_front(chunk[1:])  # the consumer used only "a"
    assert len(buf) == 2
    assert await buf.get() == "bc"
    assert await buf.get() == "def"


async def test_clear_drops_without_counting_and_frees_room() -> None:
    buf = Buffer[int](2, drop_oldest=False)
    await buf.put(1)
    await buf.put(2)
    producer = asyncio.create_task(buf.put(3))
    await asyncio.sleep(0)
    buf.clear()
    await asyncio.wait_for(producer, 1)
    assert buf.dropped == 0 and len(buf) == 1
    assert await buf.get() == 3


async def test_discard_new_wakes_a_blocked_put_and_keeps_what_was_buffered() -> None:
    buf = Buffer[int](2, drop_oldest=False)
    await buf.put(0)
    await buf.put(1)
    blocked = asyncio.create_task(buf.put(2))
    await asyncio.sleep(0)
    assert buf.paused
    buf.discard_new()
    await asyncio.wait_for(blocked, 1)  # woken: its item is dropped, not queued
    await buf.put(3)  # later items too, without waiting
    assert buf.put_nowait(4) is None
    assert len(buf) == 2 and not buf.paused
    buf.finish(None)
    assert await drain(buf) == [0, 1]
