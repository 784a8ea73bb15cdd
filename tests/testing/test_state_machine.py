"""The emulator's state machine (reference §§4-5, §14): what a create answers by default,
the intermediate states of start / stop / restart, slow boots, delays cancelled on close."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from orgo_async.testing import FakeOrgo, Timings

from .conftest import Http


async def wait_status(fake: FakeOrgo, cid: str, want: str) -> list[str]:
    """Poll the world (bounded) until ``want``; returns the statuses seen."""
    seen: list[str] = []
    async with asyncio.timeout(5):
        while True:
            status = fake.computer(cid).status
            if not seen or seen[-1] != status:
                seen.append(status)
            if status == want:
                return seen
            await asyncio.sleep(0.002)


async def test_default_create_is_running_with_every_connection_field() -> None:
    # Reference §4.1 / §14: 201 with status running and the connection fields, so the
    # official SDK's Computer(...) then left_click(...) works right after create.
    async with FakeOrgo() as fake, aiohttp.ClientSession() as session:
        http = Http(session, fake)
        ws = await http.workspace()
        c = await http.computer(ws["id"])
        assert c["status"] == "running"
        for name in ("instance_id", "hostname", "connection_url", "vnc_password"):
            assert c[name], name
        assert c["connection_url"] == f"{fake.origin}/desktops/{c['instance_id']}"
        status, body = await http.call("POST", f"/computers/{c['id']}/click", json={"x": 1, "y": 1})
        assert (status, body["action"]) == (200, "click")
        status, clone = await http.call("POST", f"/computers/{c['id']}/clone")
        assert (status, clone["status"]) == (201, "running")


async def test_default_lifecycle_shows_its_intermediate_states() -> None:
    async with FakeOrgo() as fake, aiohttp.ClientSession() as session:
        http = Http(session, fake)
        ws = await http.workspace()
        cid = (await http.computer(ws["id"]))["id"]
        seen: list[str] = []
        fake.computer(cid).on_status.append(seen.append)
        for call, during, after in [
            ("stop", "stopping", "stopped"),
            ("start", "starting", "running"),
            ("restart", "restarting", "running"),
        ]:
            status, body = await http.call("POST", f"/computers/{cid}/{call}")
            assert (status, body["status"]) == (200, during), call
            await wait_status(fake, cid, after)
            assert seen[-2:] == [during, after], call  # passed through, not skipped
            seen.clear()


def test_slow_boot_needs_a_create_delay() -> None:
    t = Timings.slow_boot(create=0.1, boot=0.2)
    assert (t.create, t.boot) == (0.1, 0.2)
    with pytest.raises(ValueError, match="create > 0"):
        Timings.slow_boot(create=0)


async def test_slow_boot_walks_creating_starting_running(http: Http, fake: FakeOrgo) -> None:
    fake.timings = Timings.slow_boot(create=0.05, boot=0.05)
    transitions: list[str] = []
    ws = await http.workspace()
    c = await http.computer(ws["id"])
    assert c["status"] == "creating"
    fake.computer(c["id"]).on_status.append(transitions.append)
    status, body = await http.call("POST", f"/computers/{c['id']}/click", json={"x": 1, "y": 1})
    assert (status, body["error"]) == (400, "Desktop instance not available")
    await wait_status(fake, c["id"], "running")
    assert transitions == ["starting", "running"]
    status, got = await http.call("GET", f"/computers/{c['id']}")
    assert got["status"] == "running"


async def test_stop_start_restart_delete(http: Http, fake: FakeOrgo) -> None:
    fake.timings = Timings(create=0, boot=0.03, stop=0.03, restart=0.03)
    ws = await http.workspace()
    c = await http.computer(ws["id"])
    cid = c["id"]
    await wait_status(fake, cid, "running")
    seen: list[str] = []
    rotations: list[int] = []
    comp = fake.computer(cid)
    comp.on_status.append(seen.append)
    comp.on_rotate.append(lambda: rotations.append(1))

    status, body = await http.call("POST", f"/computers/{cid}/start")
    assert status == 409 and "not stopped" in body["error"]
    status, body = await http.call("POST", f"/computers/{cid}/stop")
    assert (status, body) == (200, {"success": True, "status": "stopping"})
    status, body = await http.call("POST", f"/computers/{cid}/stop")
    assert status == 409 and "not running" in body["error"]
    await wait_status(fake, cid, "stopped")
    status, body = await http.call("POST", f"/computers/{cid}/stop")
    assert status == 409
    status, body = await http.call("POST", f"/computers/{cid}/screenshot")
    assert status == 405
    status, body = await http.call("GET", f"/computers/{cid}/screenshot")
    assert (status, body["error"]) == (400, "Desktop instance not available")

    password = comp.vnc_password
    status, body = await http.call("POST", f"/computers/{cid}/start")
    assert (status, body) == (200, {"success": True, "status": "starting"})
    assert comp.vnc_password != password  # stop -> start rotates (documented choice)
    await wait_status(fake, cid, "running")

    password = comp.vnc_password
    status, body = await http.call(
        "POST",
        f"/computers/{cid}/restart",
        data=b"null",
        headers={"Content-Type": "application/json"},
    )
    assert (status, body) == (200, {"success": True, "status": "restarting"})
    status, got = await http.call("GET", f"/computers/{cid}")
    assert got["status"] == "restarting" and got["vnc_password"] != password
    status, body = await http.call("POST", f"/computers/{cid}/restart")
    assert status == 409
    await wait_status(fake, cid, "running")
    assert seen == ["stopping", "stopped", "starting", "running", "restarting", "running"]
    assert len(rotations) == 2
    assert comp.action_names() == ["stop", "start", "restart"]
    assert {"type": "screen_change", "width": 1280, "height": 720} in [
        {"type": e["type"], **e["data"]} for e in comp.events.history
    ]

    status, body = await http.call("DELETE", f"/computers/{cid}")
    assert (status, body) == (200, {"success": True})
    assert seen[-1] == "deleting"
    status, body = await http.call("GET", f"/computers/{cid}")
    assert status == 404


async def test_restart_from_stopped_and_suspended_resume(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    cid = running["id"]
    comp = fake.computer(cid)
    comp.set_status("suspended")
    status, _ = await http.call("POST", f"/computers/{cid}/type", json={"text": "hi"})
    assert status == 200 and comp.status == "running"  # suspended resumes on a call
    await http.call("POST", f"/computers/{cid}/stop")
    status, _ = await http.call("POST", f"/computers/{cid}/restart")
    assert status == 200 and comp.status == "running"


async def test_delays_cancelled_on_close() -> None:
    fake = FakeOrgo(timings=Timings.slow_boot(create=30, boot=30))
    before = asyncio.all_tasks()
    await fake.start()
    ws = fake.add_workspace("w")
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            fake.base_url + "/computers",
            json={"workspace_id": ws.id, "name": "c"},
            headers={"Authorization": f"Bearer {fake.api_key}"},
        ) as r,
    ):
        assert r.status == 201
        body = await r.json()
        assert body["status"] == "creating"
    pending = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert pending  # the 30 s boot is under way
    await fake.close()
    assert [t for t in pending if not t.done()] == []  # cancelled, not left behind
    assert fake.computer(body["id"]).status == "creating"  # and never finished
