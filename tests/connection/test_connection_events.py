"""The events channel: typed events, subscriptions, re-subscribe after reconnect, drops."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection

from orgo_async import (
    ChannelProtocolError,
    ComputerNotRunningError,
    HeartbeatTimeoutError,
    TokenRejectedError,
)
from orgo_async._protocol import Unknown
from orgo_async._protocol import events as ev
from orgo_async._protocol.close_codes import ReconnectPolicy
from orgo_async.connection import EventSubscriptionError
from tests.conftest import eventually

from .conftest import Desktop, recv_json


def event(kind: str, data: dict[str, Any]) -> str:
    return json.dumps(
        {
            "type": "event",
            "event": {"type": kind, "timestamp": "2026-03-03T12:00:00.123Z", "data": data},
        }
    )


class EventsServer:
    """Documented behaviour: nothing until subscribe, acks, events for subscribed types."""

    def __init__(self) -> None:
        self.subscriptions: list[set[str]] = []
        self.live: list[ServerConnection] = []

    async def __call__(self, ws: ServerConnection, query: dict[str, str]) -> None:
        subs: set[str] = set()
        self.subscriptions.append(subs)
        self.live.append(ws)
        try:
            while True:
                msg = await recv_json(ws)
                kind = msg["type"]
                if kind == "ping":
                    await ws.send('{"type":"pong"}')
                elif kind == "subscribe":
                    bad = [t for t in msg["event_types"] if t not in ev.EVENT_TYPES]
                    if bad:
                        await ws.send(
                            json.dumps(
                                {"type": "error", "message": f"Unknown event type: {bad[0]}"}
                            )
                        )
                        continue
                    subs.update(msg["event_types"])
                    await ws.send('{"type":"subscribed","message":"ok"}')
                elif kind == "unsubscribe":
                    subs.difference_update(msg["event_types"])
                    await ws.send('{"type":"unsubscribed","message":"ok"}')
        except Exception:
            return

    async def emit(self, kind: str, data: dict[str, Any]) -> None:
        ws, subs = self.live[-1], self.subscriptions[-1]
        if kind in subs:
            await ws.send(event(kind, data))


@pytest.fixture
def server(desktop: Desktop) -> EventsServer:
    s = EventsServer()
    desktop.handlers["events"] = s
    return s


async def test_typed_events(desktop: Desktop, server: EventsServer) -> None:
    async with desktop.connection().events(["window_focus", "file_change"]) as events:
        assert events.subscriptions == ["window_focus", "file_change"]
        await server.emit("clipboard", {"content": "not subscribed"})
        await server.emit("window_focus", {"window_id": "0x3200004", "title": "Google Chrome"})
        await server.emit("file_change", {"path": "/home/user/Desktop/a.txt", "action": "created"})
        first = await events.next(timeout=5)
        second = await events.next(timeout=5)
    assert isinstance(first, ev.WindowFocus)
    assert first.type == "window_focus" and first.data.title == "Google Chrome"
    assert isinstance(second, ev.FileChange)
    assert second.data.path == "/home/user/Desktop/a.txt" and second.data.action == "created"
    assert desktop.of("events")[0].frames[0] == {
        "type": "subscribe",
        "event_types": ["window_focus", "file_change"],
    }


async def test_subscribe_and_unsubscribe(desktop: Desktop, server: EventsServer) -> None:
    async with desktop.connection().events() as events:
        assert server.subscriptions[-1] == set()
        await events.subscribe(["clipboard", "idle"])
        assert server.subscriptions[-1] == {"clipboard", "idle"}
        await events.unsubscribe(["idle"])
        assert server.subscriptions[-1] == {"clipboard"}
        with pytest.raises(EventSubscriptionError, match="invalid_type"):
            await events.subscribe(["invalid_type"])
        assert events.subscriptions == ["clipboard"]
        await server.emit("clipboard", {"content": "hi"})
        got = await events.next(timeout=5)
        assert isinstance(got, ev.Clipboard) and got.data.content == "hi"


async def test_refused_initial_subscription(desktop: Desktop, server: EventsServer) -> None:
    with pytest.raises(EventSubscriptionError):
        async with desktop.connection().events(["window_focus", "bogus"]):
            pass


async def test_resubscribes_after_reconnect(desktop: Desktop, server: EventsServer) -> None:
    async with desktop.connection().events(["window_focus"]) as events:
        await events.subscribe(["process_start"])
        first = server.live[-1]
        assert first.transport is not None
        first.transport.abort()  # the connection drops
        await eventually(lambda: events.reconnects == 1 and len(server.live) == 2)
        await eventually(lambda: server.subscriptions[-1] == {"window_focus", "process_start"})
        await server.emit("process_start", {"pid": 7, "name": "xterm"})
        got = await events.next(timeout=5)
        assert isinstance(got, ev.ProcessStart) and got.data.pid == 7
    frames = desktop.of("events")[1].frames
    assert frames[0] == {"type": "subscribe", "event_types": ["window_focus", "process_start"]}


async def test_token_rotation_resubscribes(desktop: Desktop, server: EventsServer) -> None:
    async with desktop.connection().events(["idle"]) as events:
        desktop.rotate()
        await server.live[-1].close(4401, "rotated")
        await eventually(lambda: events.reconnects == 1)
        await eventually(lambda: server.subscriptions[-1] == {"idle"})
        await server.emit("idle", {"idle_seconds": 30})
        got = await events.next(timeout=5)
        assert isinstance(got, ev.Idle) and got.data.idle_seconds == 30
    assert desktop.refreshes == 1
    assert desktop.of("events")[-1].token == desktop.password


async def test_slow_consumer_drops_oldest(desktop: Desktop, server: EventsServer) -> None:
    async with desktop.connection().events(["process_start"], buffer=5) as events:
        for pid in range(50):
            await server.emit("process_start", {"pid": pid, "name": "p"})
        await eventually(lambda: events.dropped == 45)
        kept = [await events.next(timeout=5) for _ in range(5)]
    assert [e.data.pid for e in kept if isinstance(e, ev.ProcessStart)] == list(range(45, 50))


async def test_unknown_event_and_message_types_are_surfaced(
    desktop: Desktop, server: EventsServer
) -> None:
    async with desktop.connection().events(["window_focus"]) as events:
        ws = server.live[-1]
        await ws.send(event("gpu_hot", {"celsius": 91}))
        await ws.send('{"type":"maintenance","in":60}')
        unknown_event = await events.next(timeout=5)
        unknown_msg = await events.next(timeout=5)
    assert isinstance(unknown_event, ev.UnknownEvent)
    assert unknown_event.type == "gpu_hot" and unknown_event.data == {"celsius": 91}
    assert isinstance(unknown_msg, Unknown) and unknown_msg.type == "maintenance"
    assert unknown_msg.data["in"] == 60


@pytest.mark.parametrize(
    "frame",
    [
        "not json at all",
        '{"type":"event","event":{"type":"window_focus","data":{"title":42}}}',
        '{"type":"subscribed","message":7}',
    ],
)
async def test_malformed_frames(desktop: Desktop, server: EventsServer, frame: str) -> None:
    async with desktop.connection().events(["window_focus"]) as events:
        await server.live[-1].send(frame)
        with pytest.raises(ChannelProtocolError):
            await events.next(timeout=5)


async def test_normal_close_ends_iteration(desktop: Desktop, server: EventsServer) -> None:
    async with desktop.connection().events(["idle"]) as events:
        await server.emit("idle", {"idle_seconds": 30})
        await server.live[-1].close(1000)
        got = [e async for e in events]
    assert len(got) == 1 and events.error is None


async def test_not_running_while_reconnecting(desktop: Desktop, server: EventsServer) -> None:
    policy = ReconnectPolicy(initial=0.01, cap=0.02, max_attempts=3, jitter=0)
    async with desktop.connection(reconnect=policy).events(["idle"]) as events:

        async def stopped(ws: ServerConnection, query: dict[str, str]) -> None:
            await ws.close(4404, "not running")

        desktop.handlers["events"] = stopped
        await server.live[-1].close(1001, "stopping")
        with pytest.raises(ComputerNotRunningError):
            await events.next(timeout=10)
    assert len(desktop.of("events")) == 1 + 3


async def test_rejected_after_refresh(desktop: Desktop, server: EventsServer) -> None:
    async def wrong() -> str:
        return "pw-wrong"

    async with desktop.connection(refresh=wrong).events(["idle"]) as events:
        desktop.rotate()
        await server.live[-1].close(4401, "rotated")
        with pytest.raises(TokenRejectedError, match="again"):
            await events.next(timeout=10)
        assert events.closed
    assert [s.token for s in desktop.of("events")] == ["pw-0000000001", "pw-wrong"]


async def test_heartbeat_timeout(desktop: Desktop) -> None:
    async def silent(ws: ServerConnection, query: dict[str, str]) -> None:
        async for frame in ws:
            if json.loads(frame)["type"] == "subscribe":
                await ws.send('{"type":"subscribed","message":"ok"}')

    desktop.handlers["events"] = silent
    conn = desktop.connection(
        heartbeat_interval=0.05,
        heartbeat_timeout=0.1,
        reconnect=ReconnectPolicy(initial=0.01, cap=0.01, max_attempts=0, jitter=0),
    )
    async with conn.events(["idle"]) as events:
        with pytest.raises(HeartbeatTimeoutError):
            await events.next(timeout=10)


async def test_oversized_event(desktop: Desktop, server: EventsServer) -> None:
    async with desktop.connection(max_size=2048).events(["clipboard"]) as events:
        await server.emit("clipboard", {"content": "x" * 4096})
        with pytest.raises(ChannelProtocolError, match="max_size"):
            await events.next(timeout=5)
        assert events.closed


async def test_bad_event_types_argument(desktop: Desktop) -> None:
    with pytest.raises(TypeError):
        desktop.connection().events("window_focus")
    with pytest.raises(TypeError):
        desktop.connection().events([""])
