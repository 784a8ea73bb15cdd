"""Watching by workspace against the emulator: changes made through the API while the
watch runs (stop, start, delete, create, a new workspace) come out once each, from one
listing per workspace per round; injected faults are error items; details are fetched
for changed computers only; leaving the ``async with`` leaves nothing running."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from orgo_async import (
    APIDecodeError,
    AsyncOrgo,
    Computer,
    InternalServerError,
    NotFoundError,
    StatusChange,
    Watch,
)
from orgo_async.testing import FakeOrgo

Change = StatusChange[Computer]


class Collector:
    """Reads a watch in the background, so a test can act, then look at everything."""

    def __init__(self, watch: Watch[Computer]) -> None:
        self.items: list[Change] = []
        self._task = asyncio.ensure_future(self._read(watch))

    async def _read(self, watch: Watch[Computer]) -> None:
        async for item in watch:
            self.items.append(item)

    async def until(self, what: str, done: Callable[[], bool]) -> None:
        """Wait for ``done()``; fail with ``what`` (and what came) instead of hanging."""
        try:
            async with asyncio.timeout(5):
                while not done():
                    if self._task.done():
                        self._task.result()  # the watch raised: show it
                    await asyncio.sleep(0.005)
        except TimeoutError:
            pytest.fail(f"timed out waiting for {what}; items: {self.summary()}")

    def summary(
        self, items: list[Change] | None = None
    ) -> list[tuple[str, str | None, str | None]]:
        return [(c.id, c.previous, c.status) for c in (self.items if items is None else items)]

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def _per_id(items: list[Change]) -> dict[str, list[tuple[str | None, str | None]]]:
    out: dict[str, list[tuple[str | None, str | None]]] = {}
    for c in items:
        out.setdefault(c.id, []).append((c.previous, c.status))
    return out


def _polls(fake: FakeOrgo, workspace_id: str | None = None) -> int:
    path = "/workspaces" if workspace_id is None else f"/workspaces/{workspace_id}"
    return len(fake.requests_to("GET", path))


async def test_api_changes_come_out_once_each_from_one_request_per_workspace(
    fake: FakeOrgo, orgo: AsyncOrgo
) -> None:
    ws = [fake.add_workspace(f"w{i}") for i in range(2)]
    cs = [fake.add_computer(w.id, f"c{i}") for w in ws for i in range(20)]
    interval = 0.1
    async with orgo.computers.watch(workspace_id=[w.id for w in ws], interval=interval) as watch:
        seen = Collector(watch)
        await seen.until("40 first statuses", lambda: len(seen.items) == 40)
        assert {c.id for c in seen.items} == {c.id for c in cs}
        assert all(c.previous is None and c.status == "running" for c in seen.items)
        fake.requests.clear()
        stopped, deleted = cs[3], cs[25]
        await orgo.computers.stop(stopped.id)
        await orgo.computers.delete(deleted.id)
        created = await orgo.computers.create(workspace_id=ws[1].id, name="late")
        await seen.until("3 changes", lambda: len(seen.items) == 43)
        await orgo.computers.start(stopped.id)
        await seen.until("the restart", lambda: len(seen.items) == 44)
        # Three more rounds of both workspaces: nothing is reported twice.
        mark = _polls(fake, ws[0].id), _polls(fake, ws[1].id)
        t0 = time.monotonic()
        await seen.until(
            "three more rounds",
            lambda: min(_polls(fake, ws[0].id) - mark[0], _polls(fake, ws[1].id) - mark[1]) >= 3,
        )
        await seen.stop()
        rounds = (time.monotonic() - t0) / interval
        # One listing per workspace per round, never more (one extra for the round boundary).
        assert _polls(fake, ws[0].id) - mark[0] <= rounds + 1
        assert _polls(fake, ws[1].id) - mark[1] <= rounds + 1
    changes = seen.items[40:]
    assert sorted(seen.summary(changes)) == sorted(
        [
            (stopped.id, "running", "stopped"),
            (deleted.id, "running", None),
            (created.id, None, "running"),
            (stopped.id, "stopped", "running"),
        ]
    )
    by_id = {c.id: c for c in changes}
    assert by_id[deleted.id].workspace_id == ws[1].id and by_id[deleted.id].error is None
    late = by_id[created.id].value
    assert late is not None and late.name == "late"
    # The watch's only requests: one listing per workspace per round.
    mine = [r for r in fake.requests if r.method == "GET"]
    assert {r.path for r in mine} == {f"/api/workspaces/{w.id}" for w in ws}
    assert not fake.requests_to("GET", f"/computers/{stopped.id}")


async def test_every_workspace_through_one_listing_picks_up_new_ones(
    fake: FakeOrgo, orgo: AsyncOrgo
) -> None:
    first = fake.add_workspace("first")
    a = fake.add_computer(first.id, "a")
    async with orgo.computers.watch(workspace_id=None, interval=0.05) as watch:
        seen = Collector(watch)
        await seen.until("a", lambda: len(seen.items) == 1)
        later = await orgo.workspaces.create(name="later")
        b = await orgo.computers.create(workspace_id=later.id, name="b")
        c = fake.add_computer(later.id, "c", status="stopped")  # straight into the state
        await seen.until("b and c", lambda: len(seen.items) == 3)
        await orgo.workspaces.delete(later.id)  # with b and c
        await seen.until("b and c gone", lambda: len(seen.items) == 5)
        assert watch.statuses == {a.id: "running"}
        await seen.stop()
    assert seen.items[0].workspace_id == first.id
    assert sorted(seen.summary(seen.items[1:3])) == sorted(
        [(b.id, None, "running"), (c.id, None, "stopped")]
    )
    assert sorted(seen.summary(seen.items[3:])) == sorted(
        [(b.id, "running", None), (c.id, "stopped", None)]
    )
    assert {r.path for r in fake.requests if r.method == "GET"} == {"/api/workspaces"}


@pytest.mark.parametrize("mode", ["one", "all"])
async def test_a_failing_poll_is_an_error_item_and_the_watch_goes_on(
    fake: FakeOrgo, orgo: AsyncOrgo, mode: str
) -> None:
    w = fake.add_workspace("w")
    c = fake.add_computer(w.id, "c")
    path = "/workspaces" if mode == "all" else "/workspaces/{id}"
    target = None if mode == "all" else w.id
    async with orgo.computers.watch(workspace_id=target, interval=0.05) as watch:
        seen = Collector(watch)
        await seen.until("c", lambda: len(seen.items) == 1)
        fake.faults.add("GET", path, statuses=[503])
        fake.faults.add("GET", path, kind="malformed")
        fake.faults.add("GET", path, kind="drop")
        await seen.until("3 errors", lambda: len(seen.items) == 4)
        await orgo.computers.stop(c.id)
        await seen.until("the stop", lambda: len(seen.items) == 5)
        await seen.stop()
    errors = seen.items[1:4]
    assert [type(e.error).__name__ for e in errors] == [
        "ServiceUnavailableError",
        "APIDecodeError",
        "APIConnectionError",
    ]
    assert isinstance(errors[0].error, InternalServerError)
    assert isinstance(errors[1].error, APIDecodeError)
    for e in errors:
        assert (e.id, e.workspace_id) == ((w.id, w.id) if target else ("", None))
        assert (e.previous, e.status, e.value) == (None, None, None)
    # The errors took nothing away: the stop is a change from running, not a rediscovery.
    assert seen.summary(seen.items[4:]) == [(c.id, "running", "stopped")]


async def test_details_only_for_changed_computers(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    w = fake.add_workspace("w")
    cs = [fake.add_computer(w.id, f"c{i}") for i in range(30)]
    async with orgo.computers.watch(workspace_id=w.id, interval=0.05, details=True) as watch:
        seen = Collector(watch)
        await seen.until("first round", lambda: len(seen.items) == 30)
        fake.requests.clear()
        old_password = cs[7].vnc_password
        await orgo.computers.restart(cs[7].id)  # instant: running, with a new password
        await orgo.computers.stop(cs[9].id)
        await seen.until("the stop", lambda: len(seen.items) == 31)
        polls = _polls(fake, w.id)
        await seen.until("two more rounds", lambda: _polls(fake, w.id) >= polls + 2)
        await seen.stop()
    # Every first status came with the full computer, fetched once each.
    assert all(c.value is not None and c.value.connection_url for c in seen.items[:30])
    change = seen.items[30]
    assert (change.id, change.previous, change.status) == (cs[9].id, "running", "stopped")
    assert change.value is not None and change.value.vnc_password == cs[9].vnc_password
    # The restart never showed in a listing (running before and after): no item, no GET.
    fetched = [
        r.path for r in fake.requests if r.path.startswith("/api/computers/") and r.method == "GET"
    ]
    assert fetched == [f"/api/computers/{cs[9].id}"]
    assert cs[7].vnc_password != old_password


async def test_the_same_changes_as_the_per_computer_watch(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    w = fake.add_workspace("w")
    cs = [fake.add_computer(w.id, f"c{i}") for i in range(4)]
    ids = [c.id for c in cs]
    by_computer = orgo.computers.watch(ids, interval=0.05)
    by_workspace = orgo.computers.watch(workspace_id=w.id, interval=0.05)
    async with by_computer, by_workspace:
        one, other = Collector(by_computer), Collector(by_workspace)

        def both(n: int) -> Callable[[], bool]:
            return lambda: len(one.items) == len(other.items) == n

        await one.until("first statuses", both(4))
        await orgo.computers.stop(ids[1])
        await one.until("the stop", both(5))
        await orgo.computers.start(ids[1])
        await one.until("the start", both(6))
        await one.stop()
        await other.stop()
    # Per computer, the same sequence of (previous, status).
    assert _per_id(one.items) == _per_id(other.items)
    assert _per_id(one.items)[ids[1]] == [
        (None, "running"),
        ("running", "stopped"),
        ("stopped", "running"),
    ]


async def test_leaving_early_leaves_nothing_running(fake: FakeOrgo, orgo: AsyncOrgo) -> None:
    ws = [fake.add_workspace(f"w{i}") for i in range(3)]
    for w in ws:
        for i in range(50):
            fake.add_computer(w.id, f"c{i}")
    fake.faults.latency("GET", "/computers/{id}", 0.2)  # details in flight when we leave
    before = asyncio.all_tasks()
    watch = orgo.computers.watch(workspace_id=[w.id for w in ws], interval=0.05, details=True)
    async with watch:
        first = await asyncio.wait_for(watch.__anext__(), 5)
    ours = [t for t in asyncio.all_tasks() - before if not t.done()]
    # Only the emulator's own request handlers may still be finishing, none of the watch.
    assert [t for t in ours if "RequestHandler" not in repr(t.get_coro())] == []
    assert first.value is not None
    assert [c async for c in watch] == []  # closed: ends at once


async def test_a_deleted_watched_workspace_is_a_404_item_and_its_computers_leave(
    fake: FakeOrgo, orgo: AsyncOrgo
) -> None:
    w = fake.add_workspace("w")
    c = fake.add_computer(w.id, "c")
    async with orgo.computers.watch(workspace_id=w.id, interval=0.05) as watch:
        seen = Collector(watch)
        await seen.until("c", lambda: len(seen.items) == 1)
        await orgo.workspaces.delete(w.id)
        await seen.until("404, gone, 404", lambda: len(seen.items) >= 4)
        await seen.stop()
    assert isinstance(seen.items[1].error, NotFoundError) and seen.items[1].id == w.id
    assert seen.summary(seen.items[2:3]) == [(c.id, "running", None)]
    assert all(isinstance(i.error, NotFoundError) for i in seen.items[3:])
