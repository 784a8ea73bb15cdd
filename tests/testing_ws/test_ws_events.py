"""The events channel (§11.6) over a real socket."""

from __future__ import annotations

import asyncio
import json

from .conftest import Harness, recv_json


async def _subscribe(ws: object, *types: str, kind: str = "subscribe") -> dict[str, object]:
    await ws.send(json.dumps({"type": kind, "event_types": list(types)}))  # type: ignore[attr-defined]
    return await recv_json(ws)  # type: ignore[arg-type]


async def test_nothing_before_subscribe(harness: Harness) -> None:
    async with harness.connect("events") as ws:
        await asyncio.sleep(0.1)
        harness.computer.events.publish("clipboard", {"content": "early"})
        await ws.send(json.dumps({"type": "ping"}))
        # The first frame is the pong: the unsubscribed event was not relayed.
        assert await recv_json(ws) == {"type": "pong"}
        assert await _subscribe(ws, "clipboard") == {"type": "subscribed", "message": "ok"}
        harness.computer.events.publish("clipboard", {"content": "late"})
        frame = await recv_json(ws)
        assert frame["type"] == "event"
        assert frame["event"]["data"] == {"content": "late"}


async def test_relay_shape_and_filter(harness: Harness) -> None:
    hub = harness.computer.events
    async with harness.connect("events") as ws:
        assert await _subscribe(ws, "window_focus", "file_change") == {
            "type": "subscribed",
            "message": "ok",
        }
        hub.publish("clipboard", {"content": "filtered out"})
        hub.publish("window_focus", {"window_id": "0x3200004", "title": "Google Chrome"})
        hub.publish("file_change", {"path": "/home/user/Desktop/a.txt", "action": "created"})
        first = await recv_json(ws)
        second = await recv_json(ws)
        assert first["type"] == "event"
        assert set(first["event"]) == {"type", "timestamp", "data"}
        assert first["event"]["type"] == "window_focus"
        assert first["event"]["data"] == {"window_id": "0x3200004", "title": "Google Chrome"}
        assert first["event"]["timestamp"].endswith("Z")
        assert second["event"]["type"] == "file_change"


async def test_unsubscribe_is_selective(harness: Harness) -> None:
    hub = harness.computer.events
    async with harness.connect("events") as ws:
        await _subscribe(ws, "clipboard", "idle")
        assert await _subscribe(ws, "clipboard", kind="unsubscribe") == {
            "type": "unsubscribed",
            "message": "ok",
        }
        hub.publish("clipboard", {"content": "gone"})
        hub.publish("idle", {"idle_seconds": 30})
        frame = await recv_json(ws)
        assert frame["event"]["type"] == "idle"


async def test_unknown_event_type_is_an_error_and_atomic(harness: Harness) -> None:
    hub = harness.computer.events
    async with harness.connect("events") as ws:
        reply = await _subscribe(ws, "clipboard", "invalid_type")
        assert reply == {"type": "error", "message": "Unknown event type: invalid_type"}
        # Nothing from the rejected message was subscribed.
        hub.publish("clipboard", {"content": "x"})
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv_json(ws) == {"type": "pong"}


async def test_bad_event_types_field(harness: Harness) -> None:
    async with harness.connect("events") as ws:
        for body in ({"type": "subscribe"}, {"type": "subscribe", "event_types": "clipboard"}):
            await ws.send(json.dumps(body))
            reply = await recv_json(ws)
            assert reply["type"] == "error"
            assert "event_types" in reply["message"]


async def test_slow_client_loses_oldest(harness: Harness) -> None:
    hub = harness.computer.events
    async with harness.connect("events") as ws:
        await _subscribe(ws, "process_start")
        # Published without yielding: the connection's 256-event queue keeps the newest.
        for pid in range(300):
            hub.publish("process_start", {"pid": pid, "name": "x"})
        pids = [(await recv_json(ws))["event"]["data"]["pid"] for _ in range(256)]
        assert pids == list(range(44, 300))
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv_json(ws) == {"type": "pong"}


async def test_subscriptions_not_kept_across_reconnect(harness: Harness) -> None:
    async with harness.connect("events") as ws:
        await _subscribe(ws, "clipboard")
    async with harness.connect("events") as ws:
        await asyncio.sleep(0.05)
        harness.computer.events.publish("clipboard", {"content": "x"})
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv_json(ws) == {"type": "pong"}
