"""The REST half and the WebSocket half together, and our SDK decoding every answer."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from orgo_async.testing import FakeOrgo

from .conftest import Http


async def _next_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    async with asyncio.timeout(5):
        msg = await ws.receive()
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = msg.json()
    return data


async def test_rest_actions_reach_the_events_socket(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    cid, token = running["id"], running["vnc_password"]
    ws_url = running["connection_url"].replace("http://", "ws://") + f"/ws/events?token={token}"
    async with http.session.ws_connect(ws_url) as ws:
        await ws.send_json({"type": "subscribe", "event_types": ["window_focus", "file_change"]})
        assert await _next_json(ws) == {"type": "subscribed", "message": "ok"}
        await http.call("POST", f"/computers/{cid}/type", json={"text": "not subscribed"})
        await http.call("POST", f"/computers/{cid}/click", json={"x": 1, "y": 1})
        event = await _next_json(ws)
        assert event["type"] == "event" and event["event"]["type"] == "window_focus"
        await http.call(
            "POST", f"/computers/{cid}/bash", json={"command": "touch ~/Downloads/f.bin"}
        )
        event = await _next_json(ws)
        assert event["event"]["data"] == {"path": "/home/user/Downloads/f.bin", "action": "created"}
        # A REST restart ends the session: the computer leaves "running" and the token dies.
        await http.call("POST", f"/computers/{cid}/restart")
        async with asyncio.timeout(5):
            msg = await ws.receive()
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code in (1001, 4401)
    async with http.session.ws_connect(ws_url) as ws:  # the old token is refused
        async with asyncio.timeout(5):
            await ws.receive()
        assert ws.close_code == 4401
    new = fake.computer(cid).vnc_password
    assert new != token
    async with http.session.ws_connect(ws_url.replace(token, new)) as ws:
        await ws.send_json({"type": "ping"})
        assert await _next_json(ws) == {"type": "pong"}


async def test_our_sdk_decodes_every_answer(orgo_client: Any, fake_orgo: FakeOrgo) -> None:
    orgo = orgo_client
    ws = await orgo.workspaces.create(name="decode")
    assert (await orgo.workspaces.get(ws.id)).id == ws.id
    assert [w.id for w in await orgo.workspaces.list()] == [ws.id]
    c = await orgo.computers.create(workspace_id=ws.id, name="agent-1")
    assert c.vnc_password == fake_orgo.computer(c.id).vnc_password
    assert [x.id for x in await orgo.computers.list(ws.id)] == [c.id]
    assert await orgo.computers.vnc_password(c.id) == c.vnc_password
    assert (await orgo.computers.click(c.id, 5, 5)).action == "click"
    assert (await orgo.computers.double_click(c.id, 5, 5)).action == "double_click"
    assert (await orgo.computers.drag(c.id, 1, 2, 3, 4)).action == "drag"
    assert (await orgo.computers.scroll(c.id, "up", 2)).action == "scroll"
    assert (await orgo.computers.type(c.id, "abc")).details == {"text_length": 3}
    assert (await orgo.computers.key(c.id, "Enter")).action == "key_press"
    assert (await orgo.computers.move_mouse(c.id, 7, 8)).action == "move"
    assert (await orgo.computers.wait(c.id, 0)).action == "wait"
    assert (await orgo.computers.bash(c.id, "echo x")).output == "x\n"
    assert (await orgo.computers.exec(c.id, "print(2)")).output == "2\n"
    shot = await orgo.computers.screenshot(c.id)
    assert (shot.width, shot.height) == (1280, 720)
    assert await orgo.computers.event_catalog(c.id)
    assert (await orgo.computers.stream_start(c.id, "yt")).pid
    assert (await orgo.computers.stream_status(c.id)).status == "streaming"
    assert (await orgo.computers.stream_stop(c.id)).success
    assert (await orgo.computers.resize(c.id, vcpus=2)).vcpus == 2
    assert (await orgo.computers.set_auto_stop(c.id, 10)).auto_stop_minutes == 10
    assert (await orgo.computers.auto_stop(c.id)).auto_stop_minutes == 10
    clone = await orgo.computers.clone(c.id)
    assert clone.name == "agent-1 (clone)"
    other = await orgo.workspaces.create(name="other")
    assert (await orgo.computers.move(clone.id, other.id)).success
    assert (await orgo.computers.stop(c.id)).status == "stopping"
    assert (await orgo.computers.start(c.id)).status == "starting"
    assert (await orgo.computers.restart(c.id)).status == "restarting"
    assert (await orgo.computers.wait_until(c.id, "running")).status == "running"
    assert (await orgo.computers.delete(c.id)).success
    assert (await orgo.workspaces.delete(ws.id)).success
    assert fake_orgo.computer(clone.id).workspace_id == other.id


async def test_ws_fault_closes_after_n_frames(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    cid, token = running["id"], running["vnc_password"]
    fake.add_ws_fault(cid, "events", 4500, after_frames=1)
    ws_url = running["connection_url"].replace("http://", "ws://") + f"/ws/events?token={token}"
    async with http.session.ws_connect(ws_url) as ws:
        await ws.send_json({"type": "ping"})
        assert await _next_json(ws) == {"type": "pong"}  # frame 1 goes out ...
        async with asyncio.timeout(5):
            msg = await ws.receive()  # ... then the scripted close
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 4500
    assert fake.computer(cid).ws_faults == []  # used up (times=1)


async def test_rotate_password_mid_session(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    cid, token = running["id"], running["vnc_password"]
    ws_url = running["connection_url"].replace("http://", "ws://") + f"/ws/events?token={token}"
    async with http.session.ws_connect(ws_url) as ws:
        await ws.send_json({"type": "ping"})
        assert await _next_json(ws) == {"type": "pong"}
        fake.rotate_password(cid)
        async with asyncio.timeout(5):
            await ws.receive()
        assert ws.close_code == 4401
    status, body = await http.call("GET", f"/computers/{cid}/vnc-password")
    assert status == 200 and body["password"] == fake.computer(cid).vnc_password != token


async def test_client_wait_until_sees_the_state_machine() -> None:
    from orgo_async.testing import Timings

    async with (
        FakeOrgo(timings=Timings.slow_boot(create=0.02, boot=0.02)) as fake,
        fake.client(max_retries=0) as orgo,
    ):
        ws = await orgo.workspaces.create(name="w")
        c = await orgo.computers.create(workspace_id=ws.id, name="c")
        assert c.status == "creating"
        seen: list[str] = []
        fake.computer(c.id).on_status.append(seen.append)
        c = await orgo.computers.wait_until(c.id, "running", timeout=10)
        assert c.status == "running" and seen == ["starting", "running"]


async def test_status_fault_on_websocket_handshake(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    fake.faults.statuses("GET", "/desktops/{instance}/ws/events", 503)
    ws_url = (
        running["connection_url"].replace("http://", "ws://")
        + f"/ws/events?token={running['vnc_password']}"
    )
    try:
        async with http.session.ws_connect(ws_url):
            raise AssertionError("the handshake should have failed")
    except aiohttp.WSServerHandshakeError as exc:
        assert exc.status == 503
    async with http.session.ws_connect(ws_url) as ws:  # the fault is used up
        await ws.send_json({"type": "ping"})
        assert await _next_json(ws) == {"type": "pong"}


async def test_truncated_storage_keeps_content_type(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    _, body = await http.call("GET", f"/computers/{running['id']}/screenshot")
    fake.faults.truncated("GET", "/storage/{a}/{b}/{c}/{d}")
    async with http.session.get(
        fake.origin + body["image"], headers={"Authorization": f"Bearer {fake.api_key}"}
    ) as r:
        data = await r.read()
        assert r.content_type == "image/png"
    assert 0 < len(data) < body["metadata"]["size"]
