"""The emulator stays bounded in a long run (the soak holds it for minutes)."""

from __future__ import annotations

from orgo_async.testing import EventHub


def test_event_history_keeps_the_newest_events() -> None:
    hub = EventHub(history=3)
    queue = hub.listen()
    for i in range(5):
        hub.publish("window_focus", {"window_id": "0x1", "title": f"w{i}"})
    assert [e["data"]["title"] for e in hub.history] == ["w2", "w3", "w4"]
    assert hub.history[-1]["data"]["title"] == "w4"
    assert queue.qsize() == 5  # listeners still get every event (their own bound applies)


def test_event_history_is_bounded_by_default() -> None:
    hub = EventHub()
    for i in range(10_005):
        hub.publish("active", {"n": i})
    assert len(hub.history) == 10_000
    assert hub.history[0]["data"]["n"] == 5
