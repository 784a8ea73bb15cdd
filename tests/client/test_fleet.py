"""Fleet operations: get_many, watch, wait_until over many computers, the 429 governor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import pytest

from orgo_async import (
    APIStatusError,
    AsyncOrgo,
    Computer,
    ComputerStateError,
    FleetResult,
    FleetRun,
    NotFoundError,
    RateLimitError,
    WaitTimeoutError,
    Watch,
)
from tests.conftest import API_KEY, RecordingServer


def _computer(cid: str, status: str = "running") -> dict[str, str]:
    return {"id": cid, "name": f"n-{cid}", "status": status}


async def test_get_many_bounded_concurrency_and_errors_as_values(server: RecordingServer) -> None:
    ids = [f"c{i}" for i in range(120)]
    for cid in ids:
        server.respond("GET", f"/api/computers/{cid}", json=_computer(cid), delay=0.005)
    server.respond(
        "GET", "/api/computers/missing", status=404, json={"error": "Computer not found"}
    )
    all_ids = [*ids[:60], "missing", "../bad", *ids[60:]]
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=0) as orgo:
        seen: dict[str, FleetResult[Computer]] = {}
        async with orgo.computers.get_many(all_ids, concurrency=8) as results:
            async for r in results:
                seen[r.id] = r
    assert set(seen) == set(all_ids)
    assert all(seen[c].ok and seen[c].unwrap().id == c for c in ids)
    assert isinstance(seen["missing"].error, NotFoundError)
    assert isinstance(seen["../bad"].error, ValueError)
    with pytest.raises(NotFoundError):
        seen["missing"].unwrap()
    assert 1 < server.max_in_flight <= 8
    assert len(server.requests) == 121  # the invalid id never left the process


async def test_get_many_stops_early_without_leaving_tasks(server: RecordingServer) -> None:
    ids = [f"c{i}" for i in range(500)]
    for cid in ids:
        server.respond("GET", f"/api/computers/{cid}", json=_computer(cid), delay=0.01)
    before = asyncio.all_tasks()
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url) as orgo:
        got = 0
        async with orgo.computers.get_many(ids, concurrency=16) as results:
            async for _ in results:
                got += 1
                if got == 20:
                    workers = list(results._workers)
                    break
        assert len(workers) == 16 and all(w.done() for w in workers)
        # Only the loopback server's own handler tasks may remain, none of ours.
        leftover = [
            t
            for t in asyncio.all_tasks() - before
            if not getattr(t.get_coro(), "__qualname__", "").startswith("RequestHandler.")
        ]
        assert leftover == []
    assert got == 20 and len(server.requests) < 100


async def test_get_many_slow_consumer_keeps_memory_bounded(server: RecordingServer) -> None:
    ids = [f"c{i}" for i in range(200)]
    for cid in ids:
        server.respond("GET", f"/api/computers/{cid}", json=_computer(cid))
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url) as orgo:
        run = orgo.computers.get_many(ids, concurrency=4)
        async with run:
            first = await run.__anext__()
            await asyncio.sleep(0.3)  # the consumer stalls; workers must stall too
            assert run.buffered <= 8
            assert len(server.requests) <= 1 + 8 + 4
            rest = [r async for r in run]
    # Stalling lost nothing and duplicated nothing: every id once, each with its own value.
    got = [first, *rest]
    assert sorted(r.id for r in got) == sorted(ids)
    assert [r.id for r in got if not r.ok] == []
    assert all(r.unwrap().id == r.id for r in got)


async def test_wait_until_many_all_running(server: RecordingServer) -> None:
    ids = ["a", "b", "c"]
    for cid in ids:
        server.respond("GET", f"/api/computers/{cid}", json=_computer(cid, "starting"), times=2)
        server.respond("GET", f"/api/computers/{cid}", json=_computer(cid, "running"))
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url) as orgo:
        computers = await orgo.computers.wait_until(ids, "running", timeout=10, interval=0.01)
    assert [c.id for c in computers] == ids and all(c.is_running for c in computers)


async def test_wait_until_raises_on_error_status(server: RecordingServer) -> None:
    server.respond("GET", "/api/computers/a", json=_computer("a", "starting"))
    server.respond("GET", "/api/computers/b", json=_computer("b", "error"))
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url) as orgo:
        with pytest.raises(ComputerStateError) as info:
            await orgo.computers.wait_until(["a", "b"], timeout=10, interval=0.01)
    assert info.value.computer_id == "b" and info.value.status == "error"


async def test_wait_until_times_out_with_last_status(server: RecordingServer) -> None:
    server.respond("GET", "/api/computers/a", json=_computer("a", "starting"))
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url) as orgo:
        with pytest.raises(WaitTimeoutError) as info:
            await orgo.computers.wait_until("a", "running", timeout=0.3, interval=0.05)
    assert info.value.last_status == "starting" and isinstance(info.value, TimeoutError)


async def test_watch_reports_changes_and_spreads_polls(server: RecordingServer) -> None:
    ids = [f"w{i}" for i in range(10)]
    for cid in ids:
        server.respond("GET", f"/api/computers/{cid}", json=_computer(cid, "starting"))
    interval = 0.5
    orgo = AsyncOrgo(api_key=API_KEY, base_url=server.base_url)
    async with orgo, orgo.computers.watch(ids, interval=interval, concurrency=4) as changes:
        first_round = [await asyncio.wait_for(changes.__anext__(), 5) for _ in ids]
        assert {c.id for c in first_round} == set(ids)
        assert all(c.previous is None and c.status == "starting" for c in first_round)
        server.respond("GET", "/api/computers/w3", json=_computer("w3", "running"))
        change = await asyncio.wait_for(changes.__anext__(), 5)
        assert (change.id, change.previous, change.status) == ("w3", "starting", "running")
        assert changes.statuses["w3"] == "running"
    first = sorted(r.at for r in server.requests[:10])
    # Polls of one round are spread over the interval, not sent in one burst.
    assert first[-1] - first[0] >= interval * 0.8 * (len(ids) - 1) / len(ids)


async def test_governor_makes_concurrent_tasks_wait(
    server: RecordingServer, no_sleep: list[float]
) -> None:
    server.respond(
        "GET", "/api/computers/x", status=429, json={"error": "rate"}, headers={"Retry-After": "2"}
    )
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=0) as orgo:
        with pytest.raises(RateLimitError):
            await orgo.computers.get("x")
        await asyncio.gather(*(orgo.workspaces.list() for _ in range(5)))
    # Every one of the five other tasks waited for the governor instead of hammering.
    assert len(no_sleep) == 5 and all(1.5 < d <= 2.0 for d in no_sleep)


# -- a worker that dies of something that is not about one computer ----------------------
#
# Each of these hung forever before the fix (the dead worker never handed over, so the
# consumer waited for an end marker nobody would push). A hang is turned into a clear
# failure after a short bound instead of the 60 s per-test timeout.

T = TypeVar("T")


class IdsBroke(Exception):
    """What a generator reading ids from a database might raise."""


class Fatal(BaseException):
    """Not an ``Exception``: must not be swallowed as one computer's error either."""


async def _drain(it: AsyncIterator[T], what: str) -> list[T]:
    """Consume ``it``; a hang fails in 5 s with a message instead of a bare timeout."""
    got: list[T] = []

    async def run() -> None:
        async for item in it:
            got.append(item)

    done, _ = await asyncio.wait({asyncio.ensure_future(run())}, timeout=5)
    if not done:
        pytest.fail(f"{what} hung: the error never reached the consumer")
    done.pop().result()  # re-raise what the iteration raised
    return got


def _our_tasks(before: set[asyncio.Task[object]]) -> list[asyncio.Task[object]]:
    """Tasks started since ``before``, minus the loopback server's own handlers."""
    return [
        t
        for t in asyncio.all_tasks() - before
        if not getattr(t.get_coro(), "__qualname__", "").startswith("RequestHandler.")
        and not t.done()
    ]


async def test_get_many_raises_when_the_ids_iterable_raises(server: RecordingServer) -> None:
    def ids() -> Iterator[str]:
        for i in range(10):
            yield f"c{i}"
        raise IdsBroke("database went away")

    before = asyncio.all_tasks()
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url) as orgo:
        run = orgo.computers.get_many(ids(), concurrency=4)
        with pytest.raises(IdsBroke, match="database went away"):
            async with run:
                await _drain(run, "get_many over a raising generator")
        assert [w for w in run._workers if not w.done()] == []
        assert _our_tasks(before) == []
        # Only the ids pulled before the error were fetched.
        assert len(server.requests) == 10
        # The run is over: iterating again ends at once instead of hanging.
        assert await _drain(run, "get_many after its error") == []


async def test_get_many_raises_when_the_first_id_raises(server: RecordingServer) -> None:
    def ids() -> Iterator[str]:
        raise IdsBroke("no ids at all")
        yield "never"  # pragma: no cover

    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url) as orgo:
        with pytest.raises(IdsBroke):
            async with orgo.computers.get_many(ids(), concurrency=8) as results:
                await _drain(results, "get_many over a generator failing at once")
    assert server.requests == []


async def test_fleet_run_hands_over_a_base_exception_and_stops_the_others() -> None:
    started: list[str] = []

    async def fetch(cid: str) -> str:
        started.append(cid)
        if cid == "c3":
            raise Fatal("not about one computer")
        await asyncio.sleep(0 if cid < "c3" else 30)  # the others would take long
        return cid

    before = asyncio.all_tasks()
    run = FleetRun([f"c{i}" for i in range(8)], fetch, concurrency=4)
    with pytest.raises(Fatal):
        async with run:
            await _drain(run, "FleetRun with a worker dying of a BaseException")
    assert _our_tasks(before) == []
    assert "c7" not in started  # nobody pulled more ids after the failure


async def test_watch_hands_over_a_dead_worker(server: RecordingServer) -> None:
    def status_of(c: object) -> str:
        raise IdsBroke("status_of is broken")

    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url) as orgo:
        for cid in ("w0", "w1"):
            server.respond("GET", f"/api/computers/{cid}", json=_computer(cid))
        before = asyncio.all_tasks()
        watch = Watch(["w0", "w1"], orgo.computers.get, status_of, interval=0.05, concurrency=2)
        with pytest.raises(IdsBroke, match="status_of is broken"):
            async with watch:
                await _drain(watch, "watch with a dying worker")
        assert _our_tasks(before) == []
        assert await _drain(watch, "watch after its error") == []


async def test_watch_errors_of_one_computer_stay_values(server: RecordingServer) -> None:
    server.respond("GET", "/api/computers/busy", status=503, json={"error": "try later"})
    server.respond("GET", "/api/computers/ok", json=_computer("ok"))
    async with (
        AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=0) as orgo,
        orgo.computers.watch(["busy", "ok"], interval=0.05) as changes,
    ):
        items = [await asyncio.wait_for(changes.__anext__(), 5) for _ in range(4)]
    busy = [i for i in items if i.id == "busy"]
    # A transient failure is reported every round, and the watch goes on polling it.
    assert len(busy) >= 2
    assert all(isinstance(i.error, APIStatusError) and i.error.status_code == 503 for i in busy)
    assert all(i.status is None and i.previous is None for i in busy)


async def test_watch_reports_a_deleted_computer_once_then_stops_polling_it(
    server: RecordingServer,
) -> None:
    server.respond("GET", "/api/computers/a", json=_computer("a"))
    server.respond("GET", "/api/computers/b", json=_computer("b"))
    async with (
        AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=0) as orgo,
        orgo.computers.watch(["a", "b"], interval=0.05) as changes,
    ):
        first = [await asyncio.wait_for(changes.__anext__(), 5) for _ in range(2)]
        assert {(i.id, i.status) for i in first} == {("a", "running"), ("b", "running")}
        server.respond("GET", "/api/computers/a", status=404, json={"error": "Computer not found"})
        gone = await asyncio.wait_for(changes.__anext__(), 5)
        assert (gone.id, gone.previous, gone.status) == ("a", "running", None)
        assert isinstance(gone.error, NotFoundError)
        assert "a" not in changes.statuses and changes.statuses["b"] == "running"
        polled = len([r for r in server.requests if r.path == "/api/computers/a"])
        await asyncio.sleep(0.3)  # six more rounds
        assert len([r for r in server.requests if r.path == "/api/computers/a"]) == polled
        # b is still polled, and its change still comes out.
        server.respond("GET", "/api/computers/b", json=_computer("b", "stopped"))
        change = await asyncio.wait_for(changes.__anext__(), 5)
        assert (change.id, change.previous, change.status) == ("b", "running", "stopped")
        # The last computer gone: one item, then the iteration ends.
        server.respond("GET", "/api/computers/b", status=404, json={"error": "Computer not found"})
        rest = [i async for i in changes]
    assert [(i.id, i.previous, i.status) for i in rest] == [("b", "stopped", None)]


async def test_wait_until_many_raises_the_first_error_and_leaves_nothing(
    server: RecordingServer,
) -> None:
    server.respond("GET", "/api/computers/a", json=_computer("a", "starting"), delay=0.5)
    server.respond("GET", "/api/computers/b", status=404, json={"error": "Computer not found"})
    before = asyncio.all_tasks()
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=0) as orgo:
        with pytest.raises(NotFoundError):
            async with asyncio.timeout(5):  # would be a hang, not the 404
                await orgo.computers.wait_until(["a", "b"], timeout=30, interval=0.01)
        assert _our_tasks(before) == []


async def test_wait_until_with_a_raising_ids_iterable_raises_it(server: RecordingServer) -> None:
    def ids() -> Iterator[str]:
        yield "a"
        raise IdsBroke("mid-iteration")

    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url) as orgo:
        with pytest.raises(IdsBroke):
            await orgo.computers.wait_until(ids(), timeout=5)  # type: ignore[call-overload]
    assert server.requests == []
