"""``orgo.computers.watch(workspace_id=...)`` against a recording server: the exact
requests (one listing per workspace per round, details only for changes), how the
documented listing shapes decode, and the error items of bad answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

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
from tests.conftest import API_KEY, RecordingServer, eventually

W1 = "550e8400-e29b-41d4-a716-446655440000"
W2 = "660e8400-e29b-41d4-a716-446655440000"
PASSWORD = "a06db12a8683df96"


def _desktop(cid: str, status: str = "running", **extra: Any) -> dict[str, Any]:
    """An abbreviated listing item, as the reference's examples show them (§2.2)."""
    return {
        "id": cid,
        "name": f"n-{cid}",
        "os": "linux",
        "ram": 4,
        "cpu": 1,
        "status": status,
        **extra,
    }


def _workspace(wid: str, *desktops: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": wid,
        "name": f"ws-{wid[:3]}",
        "user_id": "u",
        "status": "active",
        "icon_url": None,
        "created_at": "2026-04-07T10:30:00Z",
        "desktops": list(desktops),
    }


def _full(cid: str, status: str = "running") -> dict[str, Any]:
    """The documented GET /computers/{id} answer (§2.1), connection fields included."""
    return {
        **_desktop(cid, status),
        "project_name": "production",
        "instance_id": "a3881618",
        "hostname": "www.orgo.ai",
        "connection_url": "https://www.orgo.ai/desktops/a3881618",
        "vnc_password": PASSWORD,
    }


@pytest.fixture
async def orgo(server: RecordingServer) -> AsyncIterator[AsyncOrgo]:
    async with AsyncOrgo(api_key=API_KEY, base_url=server.base_url, max_retries=0) as client:
        yield client


async def _next(changes: Watch[Computer]) -> StatusChange[Computer]:
    return await asyncio.wait_for(changes.__anext__(), 5)


def _paths(server: RecordingServer) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in server.requests]


async def test_one_get_per_workspace_per_round_and_what_it_reports(
    server: RecordingServer, orgo: AsyncOrgo
) -> None:
    server.respond(
        "GET", f"/api/workspaces/{W1}", json=_workspace(W1, _desktop("a"), _desktop("b", "stopped"))
    )
    server.respond("GET", f"/api/workspaces/{W2}", json=_workspace(W2, _desktop("c", "starting")))
    interval = 0.2
    async with orgo.computers.watch(workspace_id=[W1, W2, W1], interval=interval) as changes:
        first = [await _next(changes) for _ in range(3)]
        await eventually(lambda: len(server.requests) >= 6, what="three rounds", interval=0.005)
    by_id = {c.id: c for c in first}
    assert {k: (c.previous, c.status, c.workspace_id) for k, c in by_id.items()} == {
        "a": (None, "running", W1),
        "b": (None, "stopped", W1),
        "c": (None, "starting", W2),
    }
    # The value is what the listing said, as a Computer; no connection field was invented.
    a = by_id["a"].value
    assert isinstance(a, Computer)
    assert (a.id, a.name, a.status, a.os, a.ram, a.cpu, a.workspace_id) == (
        "a",
        "n-a",
        "running",
        "linux",
        4,
        1,
        W1,
    )
    assert a.vnc_password is None and a.connection_url is None
    # Only workspace listings, the duplicate id polled once per round, both spread over it.
    assert set(_paths(server)) == {
        ("GET", f"/api/workspaces/{W1}"),
        ("GET", f"/api/workspaces/{W2}"),
    }
    for r in server.requests:
        assert r.query == {} and r.body == b""
        assert r.headers["Authorization"] == f"Bearer {API_KEY}"
    w1 = [r.at for r in server.requests if r.path.endswith(W1)]
    w2 = [r.at for r in server.requests if r.path.endswith(W2)]
    # Never more often than once per interval (a late poll only shortens the span by its
    # own lateness, hence the half-interval slack) ...
    for polls in (w1, w2):
        assert len(polls) - 1 <= (polls[-1] - polls[0]) / interval + 0.5
    # ... and the second workspace about half a round after the first, not in a burst.
    offsets = sorted(b - max(a for a in w1 if a <= b) for b in w2 if b >= w1[0])
    assert offsets[len(offsets) // 2] >= interval * 0.3


async def test_all_workspaces_is_one_list_request_per_round(
    server: RecordingServer, orgo: AsyncOrgo
) -> None:
    server.respond(
        "GET",
        "/api/workspaces",
        json={
            "workspaces": [
                _workspace(W1, _desktop("a")),
                _workspace(W2, _desktop("b", "weird-new-status")),
            ]
        },
    )
    async with orgo.computers.watch(interval=0.05) as changes:
        got = {(c.id, c.status, c.workspace_id) for c in [await _next(changes) for _ in range(2)]}
        await eventually(lambda: len(server.requests) >= 3, what="a few rounds", interval=0.005)
    # An unknown status from a newer API is kept as it came.
    assert got == {("a", "running", W1), ("b", "weird-new-status", W2)}
    assert set(_paths(server)) == {("GET", "/api/workspaces")}


async def test_changes_moves_and_departures_from_one_listing(
    server: RecordingServer, orgo: AsyncOrgo
) -> None:
    listing = "/api/workspaces"
    server.respond(
        "GET",
        listing,
        json={
            "workspaces": [
                _workspace(W1, _desktop("a"), _desktop("b"), _desktop("m")),
                _workspace(W2),
            ]
        },
    )
    async with orgo.computers.watch(interval=0.03) as changes:
        assert {(await _next(changes)).id for _ in range(3)} == {"a", "b", "m"}
        # b stops, m moves to W2 (same status: an item with its new workspace), a new
        # computer n appears.
        server.respond(
            "GET",
            listing,
            json={
                "workspaces": [
                    _workspace(W1, _desktop("a"), _desktop("b", "stopped")),
                    _workspace(W2, _desktop("m"), _desktop("n", "creating")),
                ]
            },
        )
        second = [await _next(changes) for _ in range(3)]
        # W1 is deleted with a and b; m and n remain.
        server.respond(
            "GET",
            listing,
            json={"workspaces": [_workspace(W2, _desktop("m"), _desktop("n", "creating"))]},
        )
        third = [await _next(changes) for _ in range(2)]
        # m is deleted too.
        server.respond("GET", listing, json={"workspaces": [_workspace(W2, _desktop("n"))]})
        fourth = [await _next(changes) for _ in range(2)]
        assert changes.statuses == {"n": "running"}
    assert {(c.id, c.previous, c.status, c.workspace_id) for c in second} == {
        ("b", "running", "stopped", W1),
        ("m", "running", "running", W2),
        ("n", None, "creating", W2),
    }
    assert {(c.id, c.previous, c.status, c.workspace_id, c.value) for c in third} == {
        ("a", "running", None, W1, None),
        ("b", "stopped", None, W1, None),
    }
    assert {(c.id, c.previous, c.status, c.workspace_id) for c in fourth} == {
        ("n", "creating", "running", W2),
        ("m", "running", None, W2),
    }


async def test_a_move_between_workspaces_polled_apart_is_one_item_not_a_departure(
    server: RecordingServer, orgo: AsyncOrgo
) -> None:
    p1, p2 = f"/api/workspaces/{W1}", f"/api/workspaces/{W2}"
    server.respond("GET", p1, json=_workspace(W1, _desktop("m")))
    server.respond("GET", p2, json=_workspace(W2))
    async with orgo.computers.watch(workspace_id=[W1, W2], interval=0.03) as changes:
        first = await _next(changes)
        # The move as two separate polls see it: W2 lists m while W1's last answer
        # still does; then W1 stops listing it.
        server.respond("GET", p2, json=_workspace(W2, _desktop("m")))
        moved = await _next(changes)
        polls = len([r for r in server.requests if r.path == p1])
        server.respond("GET", p1, json=_workspace(W1))
        await eventually(
            lambda: len([r for r in server.requests if r.path == p1]) >= polls + 3,
            what="three more polls of W1",
            interval=0.005,
        )
        with pytest.raises(TimeoutError):  # no departure, no second item
            await asyncio.wait_for(changes.__anext__(), 0.2)
        assert changes.statuses == {"m": "running"}
    assert (first.id, first.previous, first.status, first.workspace_id) == (
        "m",
        None,
        "running",
        W1,
    )
    assert (moved.id, moved.previous, moved.status, moved.workspace_id) == (
        "m",
        "running",
        "running",
        W2,
    )


async def test_details_are_fetched_only_for_changed_computers(
    server: RecordingServer, orgo: AsyncOrgo
) -> None:
    path = f"/api/workspaces/{W1}"
    server.respond("GET", path, json=_workspace(W1, *[_desktop(f"c{i}") for i in range(5)]))
    for i in range(5):
        server.respond("GET", f"/api/computers/c{i}", json=_full(f"c{i}"))
    async with orgo.computers.watch(workspace_id=W1, interval=0.03, details=True) as changes:
        first = [await _next(changes) for _ in range(5)]
        polls = len([r for r in server.requests if r.path == path])
        await eventually(
            lambda: len([r for r in server.requests if r.path == path]) >= polls + 2,
            what="two more rounds",
            interval=0.005,
        )
        before = len(server.requests)
        server.respond("GET", "/api/computers/c3", json=_full("c3", "stopped"))
        server.respond(
            "GET",
            path,
            json=_workspace(
                W1, *[_desktop(f"c{i}", "stopping" if i == 3 else "running") for i in range(5)]
            ),
        )
        change = await _next(changes)
    # The first round is every computer's first status, each with its full object.
    assert all(c.value is not None and c.value.vnc_password == PASSWORD for c in first)
    # Afterwards: one GET, of the computer that changed, and the status the listing showed.
    fetched = [r.path for r in server.requests[before:] if r.path.startswith("/api/computers/")]
    assert fetched == ["/api/computers/c3"]
    assert (change.id, change.previous, change.status, change.error) == (
        "c3",
        "running",
        "stopping",
        None,
    )
    assert (
        change.value is not None
        and change.value.connection_url
        and change.value.status == "stopped"
    )
    assert "a06db12a8683df96" not in repr(change)


async def test_a_failed_details_fetch_is_the_error_of_that_change(
    server: RecordingServer, orgo: AsyncOrgo
) -> None:
    server.respond(
        "GET",
        "/api/workspaces",
        json={"workspaces": [_workspace(W1, _desktop("ok"), _desktop("bad"))]},
    )
    server.respond("GET", "/api/computers/ok", json=_full("ok"))
    server.respond("GET", "/api/computers/bad", status=500, json={"error": "boom"})
    async with orgo.computers.watch(interval=0.05, details=True) as changes:
        got = {c.id: c for c in [await _next(changes) for _ in range(2)]}
    assert got["ok"].error is None and got["ok"].value is not None
    bad = got["bad"]
    assert isinstance(bad.error, InternalServerError) and bad.value is None
    assert (bad.previous, bad.status, bad.workspace_id) == (None, "running", W1)


@pytest.mark.parametrize(
    ("answer", "what"),
    [
        ({"workspaces": [{"id": W1, "name": "old", "computer_count": 3}]}, "desktops"),
        ({"projects": [_workspace(W1, _desktop("a"))]}, "workspaces"),
        ({"workspaces": [_workspace(W1, {"name": "no id"})]}, "id"),
    ],
)
async def test_an_answer_that_cannot_be_watched_is_an_error_item_not_departures(
    server: RecordingServer, orgo: AsyncOrgo, answer: dict[str, Any], what: str
) -> None:
    server.respond("GET", "/api/workspaces", json={"workspaces": [_workspace(W1, _desktop("a"))]})
    async with orgo.computers.watch(interval=0.03) as changes:
        assert (await _next(changes)).status == "running"
        server.respond("GET", "/api/workspaces", json=answer)
        error = await _next(changes)
        assert isinstance(error.error, APIDecodeError) and what in str(error.error)
        assert (error.id, error.workspace_id, error.previous, error.status) == (
            "",
            None,
            None,
            None,
        )
        assert changes.statuses == {"a": "running"}  # nothing was taken as deleted
        server.respond(
            "GET",
            "/api/workspaces",
            json={"workspaces": [_workspace(W1, _desktop("a", "stopped"))]},
        )
        while (after := await _next(changes)).error is not None:
            pass  # polls that ran before the answer was fixed
    assert (after.id, after.previous, after.status) == ("a", "running", "stopped")


async def test_malformed_json_is_an_error_item(server: RecordingServer, orgo: AsyncOrgo) -> None:
    server.respond("GET", f"/api/workspaces/{W1}", body=b'{"id": "' + W1.encode() + b'", "desk')
    async with orgo.computers.watch(workspace_id=W1, interval=0.03) as changes:
        first, second = await _next(changes), await _next(changes)
    for item in (first, second):
        assert isinstance(item.error, APIDecodeError)
        assert (item.id, item.workspace_id) == (W1, W1)


async def test_a_missing_workspace_reports_its_computers_gone_once(
    server: RecordingServer, orgo: AsyncOrgo
) -> None:
    path = f"/api/workspaces/{W1}"
    server.respond("GET", path, json=_workspace(W1, _desktop("a"), _desktop("b")))
    async with orgo.computers.watch(workspace_id=W1, interval=0.03) as changes:
        assert {(await _next(changes)).id for _ in range(2)} == {"a", "b"}
        server.respond("GET", path, status=404, json={"error": "Workspace not found"})
        items = [await _next(changes) for _ in range(5)]
    assert isinstance(items[0].error, NotFoundError) and items[0].id == W1
    assert {(c.id, c.previous, c.status) for c in items[1:3]} == {
        ("a", "running", None),
        ("b", "running", None),
    }
    # Each later round: the 404 again, never the computers again.
    assert all(isinstance(c.error, NotFoundError) and c.id == W1 for c in items[3:])


async def test_bad_arguments_raise_before_any_request(
    server: RecordingServer, orgo: AsyncOrgo
) -> None:
    with pytest.raises(ValueError, match="workspace_id"):
        orgo.computers.watch(workspace_id=[W1, "../etc"])
    with pytest.raises(ValueError, match="not both"):
        orgo.computers.watch(["a"], workspace_id=W1)
    with pytest.raises(ValueError, match="interval"):
        orgo.computers.watch(workspace_id=W1, interval=0)
    with pytest.raises(ValueError, match="concurrency"):
        orgo.computers.watch(concurrency=0)
    async with orgo.computers.watch(workspace_id=[]) as changes:
        assert [c async for c in changes] == []  # nothing to watch: ends at once
    assert server.requests == []


async def test_a_single_computer_id_string_is_one_id(
    server: RecordingServer, orgo: AsyncOrgo
) -> None:
    server.respond("GET", "/api/computers/abc", json=_full("abc"))
    async with orgo.computers.watch("abc", interval=0.05) as changes:
        change = await _next(changes)
    assert change.id == "abc" and {r.path for r in server.requests} == {"/api/computers/abc"}


async def test_a_stalled_consumer_stalls_the_polls(
    server: RecordingServer, orgo: AsyncOrgo
) -> None:
    server.respond(
        "GET",
        "/api/workspaces",
        json={"workspaces": [_workspace(W1, *[_desktop(f"c{i}") for i in range(100)])]},
    )
    async with orgo.computers.watch(interval=0.01, concurrency=2) as changes:
        await _next(changes)
        await asyncio.sleep(0.3)  # 30 rounds' worth: the poller waits for room instead
        assert len(server.requests) == 1
        rest = [await _next(changes) for _ in range(99)]
    assert len({c.id for c in rest}) == 99


class Broken(Exception):
    """A bug in a callback, not a failed poll."""


async def test_a_bug_in_the_watch_reaches_the_consumer_and_nothing_is_left() -> None:
    async def poll(key: str) -> dict[str, dict[str, str]]:
        return {key: {"c1": "running"}}

    def value_of(group: str, listed: str) -> str:
        raise Broken("value_of is broken")

    before = asyncio.all_tasks()
    watch = Watch.by_group(["w"], poll, str, value_of, interval=0.01, concurrency=4)
    with pytest.raises(Broken):
        async with watch:
            async with asyncio.timeout(5):
                async for _ in watch:
                    pass
    assert [t for t in asyncio.all_tasks() - before if not t.done()] == []
    assert [c async for c in watch] == []  # over: iterating again ends at once
