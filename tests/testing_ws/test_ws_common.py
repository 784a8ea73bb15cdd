"""Rules common to every channel (§11.2): auth close codes, rotation, stop, faults, sizes."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import ConnectionClosed

from orgo_async.testing._state import WsFault

from .conftest import Harness, close_code, recv_json

CHANNELS = ["terminal", "audio", "events", "websockify"]


@pytest.mark.parametrize("channel", CHANNELS)
async def test_bad_token_closes_4401(harness: Harness, channel: str) -> None:
    async with harness.connect(channel, token="wrong") as ws:
        assert await close_code(ws) == 4401


@pytest.mark.parametrize("channel", CHANNELS)
async def test_missing_token_closes_4401(harness: Harness, channel: str) -> None:
    url = harness.url(channel).split("?")[0]
    from websockets.asyncio.client import connect

    async with connect(url, open_timeout=10) as ws:
        assert await close_code(ws) == 4401


@pytest.mark.parametrize("channel", CHANNELS)
async def test_unknown_instance_closes_4404(harness: Harness, channel: str) -> None:
    async with harness.connect(channel, instance="deadbeef") as ws:
        assert await close_code(ws) == 4404


@pytest.mark.parametrize("channel", CHANNELS)
async def test_not_running_closes_4404(harness: Harness, channel: str) -> None:
    harness.computer.status = "stopped"
    async with harness.connect(channel) as ws:
        assert await close_code(ws) == 4404


async def test_bad_token_on_stopped_computer_is_4401(harness: Harness) -> None:
    # The token is checked first: a stranger learns nothing about the computer's state.
    harness.computer.status = "stopped"
    async with harness.connect("events", token="nope") as ws:
        assert await close_code(ws) == 4401


async def test_computer_uuid_in_path_is_accepted(harness: Harness) -> None:
    # The v-C pages put the computer UUID in the path (§15.2 #1); both forms work.
    async with harness.connect("events", instance=harness.computer.id) as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv_json(ws) == {"type": "pong"}


@pytest.mark.parametrize("channel", CHANNELS)
async def test_rotation_closes_open_sockets_4401(harness: Harness, channel: str) -> None:
    async with harness.connect(channel) as ws:
        await asyncio.sleep(0.2)  # let the session register (no assertion on timing)
        assert harness.computer.on_rotate, "session registered its rotation callback"
        harness.computer.rotate_password()
        assert await close_code(ws) == 4401
    await _callbacks_removed(harness)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_stop_closes_1001(harness: Harness, channel: str) -> None:
    async with harness.connect(channel) as ws:
        await asyncio.sleep(0.2)
        harness.computer.set_status("stopping")
        assert await close_code(ws) == 1001
    await _callbacks_removed(harness)


async def _callbacks_removed(harness: Harness) -> None:
    async with asyncio.timeout(5):
        while harness.computer.on_rotate or harness.computer.on_status:  # noqa: ASYNC110
            await asyncio.sleep(0.01)  # the handler's cleanup runs after the close frame


async def test_client_close_removes_callbacks(harness: Harness) -> None:
    async with harness.connect("events") as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv_json(ws) == {"type": "pong"}
        assert len(harness.computer.on_rotate) == 1
    await _callbacks_removed(harness)


async def test_fault_closes_after_n_frames(harness: Harness) -> None:
    harness.computer.ws_faults.append(WsFault("events", 1011, after_frames=2, reason="boom"))
    async with harness.connect("events") as ws:
        for _ in range(5):
            await ws.send(json.dumps({"type": "ping"}))
        assert await recv_json(ws) == {"type": "pong"}
        assert await recv_json(ws) == {"type": "pong"}
        assert await close_code(ws) == 1011
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.reason == "boom"
    # times=1: the next connection is healthy.
    async with harness.connect("events") as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv_json(ws) == {"type": "pong"}


async def test_fault_zero_frames_closes_at_once(harness: Harness) -> None:
    harness.computer.ws_faults.append(WsFault("audio", 1001, after_frames=0))
    async with harness.connect("audio") as ws:
        assert await close_code(ws) == 1001


async def test_fault_on_audio_counts_binary_frames(harness: Harness) -> None:
    harness.computer.ws_faults.append(WsFault("audio", 4500, after_frames=4))
    frames: list[str | bytes] = []
    async with harness.connect("audio") as ws:
        try:
            async with asyncio.timeout(10):
                while True:
                    frames.append(await ws.recv())
        except ConnectionClosed:
            pass
        assert ws.protocol.close_rcvd is not None and ws.protocol.close_rcvd.code == 4500
    assert isinstance(frames[0], str)  # started
    assert len(frames) == 4


async def test_fault_only_for_its_channel(harness: Harness) -> None:
    harness.computer.ws_faults.append(WsFault("terminal", 1011, after_frames=0))
    async with harness.connect("events") as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv_json(ws) == {"type": "pong"}
    assert harness.computer.ws_faults, "the terminal fault was not consumed by events"


@pytest.mark.parametrize("channel", ["terminal", "events", "audio"])
async def test_oversized_message_closes_1009(harness: Harness, channel: str) -> None:
    async with harness.connect(channel) as ws:
        await ws.send(json.dumps({"type": "input", "data": "x" * (2 << 20)}))
        assert await close_code(ws) == 1009


@pytest.mark.parametrize("channel", ["terminal", "events", "audio"])
async def test_ping_pong_and_malformed_json(harness: Harness, channel: str) -> None:
    async with harness.connect(channel) as ws:
        if channel == "audio":
            assert (await recv_json(ws))["type"] == "started"
        for bad, needle in [
            ("{not json", "Invalid JSON"),
            ("[1, 2]", "JSON object"),
            ('{"no_type": 1}', "type"),
            ('{"type": "warp"}', "Unknown message type: warp"),
        ]:
            await ws.send(bad)
            reply = await _next_json(ws)
            assert reply["type"] == "error", reply
            assert needle in str(reply["message"])
        await ws.send(b"\x00\x01")
        reply = await _next_json(ws)
        assert reply["type"] == "error"
        # The session survived every bad message.
        await ws.send(json.dumps({"type": "ping"}))
        assert await _next_json(ws) == {"type": "pong"}


async def _next_json(ws: object) -> dict[str, object]:
    """The next text frame, skipping terminal output and audio PCM."""
    async with asyncio.timeout(10):
        while True:
            msg = await ws.recv()  # type: ignore[attr-defined]
            if isinstance(msg, bytes):
                continue
            obj = json.loads(msg)
            if obj.get("type") == "output":
                continue
            return obj  # type: ignore[no-any-return]


async def test_app_shutdown_closes_sockets_1001_and_kills_shells(harness: Harness) -> None:
    import os
    import re

    async with harness.connect("terminal") as ws:
        await ws.send(json.dumps({"type": "input", "data": "echo PID=$((1000000+$$))\r"}))
        seen = ""
        async with asyncio.timeout(5):
            while not (m := re.search(r"PID=1(\d{6})", seen)):
                frame = await recv_json(ws)
                seen += frame.get("data", "")
        pid = int(m.group(1))
        # aiohttp stops reading before on_shutdown: a close that waits for the client's
        # answer there stalls for its whole timeout (it used to be 10 s).
        try:
            async with asyncio.timeout(2):
                await harness.close()
        except TimeoutError:
            pytest.fail("app shutdown took over 2 s with a WebSocket open")
        assert await close_code(ws, timeout=2) == 1001
    # Shutdown returned only after the shell was killed and reaped.
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_fault_on_websockify_after_version(harness: Harness) -> None:
    harness.computer.ws_faults.append(WsFault("websockify", 1011, after_frames=1))
    async with harness.connect("websockify") as ws:
        async with asyncio.timeout(10):
            assert await ws.recv() == b"RFB 003.008\n"
        assert await close_code(ws) == 1011


async def test_fault_applies_times_connections(harness: Harness) -> None:
    harness.computer.ws_faults.append(WsFault("events", 4500, after_frames=0, times=2))
    for _ in range(2):
        async with harness.connect("events") as ws:
            assert await close_code(ws) == 4500
    async with harness.connect("events") as ws:
        await ws.send(json.dumps({"type": "ping"}))
        assert await recv_json(ws) == {"type": "pong"}


async def test_long_unicode_fault_reason_is_cut_cleanly(harness: Harness) -> None:
    harness.computer.ws_faults.append(WsFault("events", 4500, after_frames=0, reason="é" * 100))
    async with harness.connect("events") as ws:
        assert await close_code(ws) == 4500
        assert ws.protocol.close_rcvd is not None
        assert set(ws.protocol.close_rcvd.reason) == {"é"}
