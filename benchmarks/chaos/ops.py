"""The operations of a chaos run, each through the SDK's public API only.

Every function takes the lane (its computers), the client view that carries the
operation's ``X-Chaos-Op`` header (so its REST fault meets this operation and no other)
and the operation, and returns what the SDK returned (its ``repr`` is scanned for
secrets). A result that answers the wrong question (another computer's id, another
command's output) raises :class:`WrongResult`, counted apart from typed errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from orgo_async import AsyncOrgo, OrgoError
from orgo_async.connection import Connection, ReconnectPolicy
from orgo_async.testing import FakeComputer, FakeOrgo

from .plan import RESOLUTION, WIDTH, Op, marker_xy

__all__ = ["EXECUTORS", "FleetTally", "Lane", "Runner", "WrongResult", "marker_text"]

#: Channels reconnect quickly in the run (the documented 2 s start would make every
#: reconnect dominate the run's length; the schedule is the same code).
FAST_RECONNECT = ReconnectPolicy(initial=0.05, cap=0.4, max_attempts=6, jitter=0.2)
CHANNEL_DEADLINE = 4.0  # our own bound for reading a channel's data


class WrongResult(Exception):
    """The SDK returned success with an answer to another question."""


def marker_text(op: Op) -> str:
    return f"op-{op.tag}"


@dataclass
class Lane:
    """A lane's world: its workspaces and two computers, which no other lane acts on."""

    index: int
    ws_id: str
    alt_ws_id: str
    a: FakeComputer  # actions, channels, restart, clone, streams
    b: FakeComputer  # stop/start, move, resize, auto-stop


@dataclass
class FleetTally:
    """Per-computer results inside fleet operations (each a GET, idempotent)."""

    ok: int = 0
    typed: int = 0
    untyped: list[str] = field(default_factory=list)
    wrong: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, exc: BaseException) -> None:
        if isinstance(exc, OrgoError):
            self.typed += 1
            name = type(exc).__name__
            self.errors[name] = self.errors.get(name, 0) + 1
        else:
            self.untyped.append(f"{type(exc).__name__}: {exc}"[:200])


@dataclass
class Runner:
    """What operations share: the emulator, the base client, every base computer id."""

    fake: FakeOrgo
    orgo: AsyncOrgo
    all_ids: list[str]
    fleet: FleetTally = field(default_factory=FleetTally)
    events_published: int = 0
    events_received: int = 0
    #: Called with every exception an operation saw inside (fleet items), for the scan.
    on_error: Callable[[BaseException, str], None] = lambda exc, where: None


Executor = Callable[[Runner, Lane, AsyncOrgo, Op], Awaitable[Any]]


# -- non-idempotent actions (markers) -------------------------------------------------------


async def _click(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    x, y = marker_xy(op.index)
    return await v.computers.click(lane.a.id, x, y)


async def _double_click(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    x, y = marker_xy(op.index)
    return await v.computers.double_click(lane.a.id, x, y)


async def _drag(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    x, y = marker_xy(op.index)
    return await v.computers.drag(lane.a.id, x, y, min(x + 5, WIDTH - 1), y, duration=0)


async def _scroll(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    x, y = marker_xy(op.index)
    return await v.computers.scroll(lane.a.id, "down", 1, x=x, y=y)


async def _type(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.type(lane.a.id, marker_text(op))


async def _key(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.key(lane.a.id, marker_text(op))


async def _bash(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    result = await v.computers.bash(lane.a.id, f"echo {marker_text(op)}", timeout=5)
    if result.output.strip() != marker_text(op):
        raise WrongResult(f"bash answered {result.output!r}")
    return result


async def _exec(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    result = await v.computers.exec(lane.a.id, f"print({marker_text(op)!r})", timeout=5)
    if result.output.strip() != marker_text(op):
        raise WrongResult(f"exec answered {result.output!r}")
    return result


async def _stream_start(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.stream_start(lane.a.id, marker_text(op))


async def _create(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    c = await v.computers.create(
        workspace_id=lane.ws_id, name=marker_text(op), resolution=RESOLUTION
    )
    if c.name != marker_text(op):
        raise WrongResult(f"create answered {c.name!r}")
    return c


async def _restart(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.restart(lane.a.id)


async def _clone(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.clone(lane.a.id)


# -- idempotent calls -------------------------------------------------------------------------


async def _get(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    cid = (lane.a, lane.b)[op.index % 2].id
    c = await v.computers.get(cid)
    if c.id != cid:
        raise WrongResult(f"get({cid}) answered {c.id}")
    return c


async def _list(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.list(lane.ws_id)


async def _ws_get(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    ws = await v.workspaces.get(lane.ws_id)
    if ws.id != lane.ws_id:
        raise WrongResult(f"workspace {lane.ws_id} answered {ws.id}")
    return ws


async def _ws_list(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.workspaces.list()


async def _vnc_password(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    await v.computers.vnc_password(lane.a.id)
    return None  # the password itself is the answer by design: not scanned as a leak


async def _screenshot(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    shot = await v.computers.screenshot(lane.a.id)
    if not shot.data.startswith(b"\x89PNG"):
        raise WrongResult("screenshot is not a PNG")
    return shot


async def _auto_stop(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.auto_stop(lane.b.id)


async def _set_auto_stop(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.set_auto_stop(lane.b.id, op.index % 60)


async def _stream_status(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.stream_status(lane.a.id)


async def _move_mouse(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    x, y = marker_xy(op.index)
    return await v.computers.move_mouse(lane.a.id, x, y)


async def _wait(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.wait(lane.a.id, 0)


async def _move(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    # Where b is now, by the emulator (a move whose answer was lost still moved it).
    target = lane.alt_ws_id if lane.b.workspace_id == lane.ws_id else lane.ws_id
    return await v.computers.move(lane.b.id, target)


async def _resize(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.resize(lane.b.id, vcpus=1 + op.index % 2)


async def _stop(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.stop(lane.b.id)


async def _start(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.start(lane.b.id)


async def _stream_stop(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    return await v.computers.stream_stop(lane.a.id)


async def _sweep(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    """Delete what create/clone left in the lane's workspace (found through the SDK)."""
    keep = {lane.a.id, lane.b.id}
    deleted = 0
    for c in await v.computers.list(lane.ws_id):
        if c.id not in keep:
            await v.computers.delete(c.id)
            deleted += 1
    return deleted


# -- fleets -------------------------------------------------------------------------------------


async def _get_many(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    tally = r.fleet
    async with v.computers.get_many(r.all_ids, concurrency=8) as results:
        async for item in results:
            if item.error is not None:
                tally.error(item.error)
                r.on_error(item.error, "get_many item")
            elif item.value is None or item.value.id != item.id:
                tally.wrong += 1
            else:
                tally.ok += 1
    return None


async def _watch(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    n = len(r.all_ids)
    ids = [lane.a.id, lane.b.id] + [r.all_ids[(op.index * 7 + k) % n] for k in range(4)]
    wanted = set(ids)
    seen: set[str] = set()
    tally = r.fleet
    async with v.computers.watch(ids, interval=0.3, concurrency=3) as changes:
        async with asyncio.timeout(6):  # a healthy watch reports each id within ~0.3 s
            async for ch in changes:
                if ch.error is not None:
                    tally.error(ch.error)
                    r.on_error(ch.error, "watch item")
                    continue
                tally.ok += 1
                seen.add(ch.id)
                if seen >= wanted:
                    break
    return None


# -- channels ---------------------------------------------------------------------------------


async def _open_connection(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Connection:
    conn = await v.connect(lane.a.id)
    conn.options = conn.options.with_changes(open_timeout=3.0, close_timeout=1.0)
    ws = op.ws_fault
    if ws is not None and ws.kind == "refused":
        await r.fake.refuse_connections(ws.seconds)  # the socket's connect is refused
    return conn


def _rotate_now(r: Runner, lane: Lane, op: Op) -> None:
    if op.ws_fault is not None and op.ws_fault.kind == "rotate":
        r.fake.rotate_password(lane.a.id)


async def _terminal(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    conn = await _open_connection(r, lane, v, op)
    async with conn.terminal() as term:
        _rotate_now(r, lane, op)
        result = await term.run(f"echo {marker_text(op)}", timeout=CHANNEL_DEADLINE)
        if result.output.strip() != marker_text(op) or result.exit_code != 0:
            raise WrongResult(f"terminal answered {result.output!r}")
        return result


async def _events(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    conn = await _open_connection(r, lane, v, op)
    async with conn.events(["window_focus"], reconnect=FAST_RECONNECT) as events:
        for i in range(3):
            if i == 1:
                _rotate_now(r, lane, op)
            title = f"{marker_text(op)}-{i}"
            lane.a.events.publish("window_focus", {"window_id": "0x3200001", "title": title})
            r.events_published += 1
            if await _event_titled(events, title):
                r.events_received += 1
        return events


async def _event_titled(events: Any, title: str) -> bool:
    """Read until the event titled ``title``; ``False`` after half a second without it.

    An event published while the socket is being replaced is lost (the server does not
    replay): our own deadline, not a failure. Other ``window_focus`` events can arrive
    (a click whose request the server ran late focuses a window); one carrying another
    operation's marker would be a crossed wire.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 0.5
    while (left := deadline - loop.time()) > 0:
        try:
            event = await events.next(timeout=left)
        except TimeoutError:
            return False
        got = getattr(event.data, "title", None)
        if got == title:
            return True
        if isinstance(got, str) and got.startswith("op-"):
            raise WrongResult(f"events answered {got!r}, expected {title!r}")
    return False


async def _audio(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    conn = await _open_connection(r, lane, v, op)
    async with conn.audio(sample_rate=8000, channels=1, reconnect=FAST_RECONNECT) as audio:
        frames = 0
        async with asyncio.timeout(CHANNEL_DEADLINE):
            async for pcm in audio:
                if len(pcm) != 320:  # 20 ms of 8 kHz mono s16le
                    raise WrongResult(f"audio frame of {len(pcm)} bytes")
                frames += 1
                if frames == 2:
                    _rotate_now(r, lane, op)
                if frames >= 6:
                    break
        return audio


async def _vnc(r: Runner, lane: Lane, v: AsyncOrgo, op: Op) -> Any:
    conn = await _open_connection(r, lane, v, op)
    async with conn.vnc(reconnect=FAST_RECONNECT) as vnc:
        async with asyncio.timeout(CHANNEL_DEADLINE):
            banner = await vnc.read()
            if banner != b"RFB 003.008\n":
                raise WrongResult(f"vnc answered {banner!r}")
            _rotate_now(r, lane, op)
            await vnc.write(banner)
            await vnc.read()  # security types (or, after a reconnect, a new banner)
        return vnc


EXECUTORS: dict[str, Executor] = {
    "click": _click,
    "double_click": _double_click,
    "drag": _drag,
    "scroll": _scroll,
    "type": _type,
    "key": _key,
    "bash": _bash,
    "exec": _exec,
    "stream_start": _stream_start,
    "create": _create,
    "restart": _restart,
    "clone": _clone,
    "get": _get,
    "list": _list,
    "ws_get": _ws_get,
    "ws_list": _ws_list,
    "vnc_password": _vnc_password,
    "screenshot": _screenshot,
    "auto_stop": _auto_stop,
    "set_auto_stop": _set_auto_stop,
    "stream_status": _stream_status,
    "move_mouse": _move_mouse,
    "wait": _wait,
    "move": _move,
    "resize": _resize,
    "stop": _stop,
    "start": _start,
    "stream_stop": _stream_stop,
    "sweep": _sweep,
    "get_many": _get_many,
    "watch": _watch,
    "terminal": _terminal,
    "events": _events,
    "audio": _audio,
    "vnc": _vnc,
}
