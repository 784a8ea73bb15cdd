"""Every endpoint method: exact method, path, query, JSON body and headers, and the result.

Runs against a real aiohttp server on loopback that records each request; the answers
are the reference's documented JSON examples (orgo-api.md §§3-7).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from orgo_async import (
    ActionResult,
    AsyncOrgo,
    BashResult,
    Computer,
    ComputerStatus,
    ExecResult,
    Workspace,
)
from tests.conftest import API_KEY, RecordingServer

CID = "a3bb189e-8bf9-3888-9912-ace4e6543002"
WSID = "550e8400-e29b-41d4-a716-446655440000"

COMPUTER_GET = {
    "id": CID,
    "name": "agent-1",
    "project_name": "production",
    "os": "linux",
    "ram": 4,
    "cpu": 1,
    "disk_size_gb": 8,
    "status": "running",
    "url": f"https://orgo.ai/workspaces/{CID}",
    "created_at": "2026-04-07T10:35:00Z",
    "instance_id": "a3881618",
    "fly_instance_id": "a3881618",
    "hostname": "www.orgo.ai",
    "connection_url": "https://www.orgo.ai/desktops/a3881618",
    "vnc_password": "a06db12a8683df96",
}

COMPUTER_CREATE = {
    "id": CID,
    "name": "agent-1",
    "workspace_id": WSID,
    "os": "linux",
    "ram": 4,
    "cpu": 1,
    "resolution": "1280x720x24",
    "status": "running",
    "url": f"https://orgo.ai/workspaces/{WSID}/computers/{CID}",
    "created_at": "2026-04-07T10:35:00Z",
    "instance_id": "a3881618",
    "hostname": "www.orgo.ai",
    "connection_url": "https://www.orgo.ai/desktops/a3881618",
    "vnc_password": "a06db12a8683df96",
}

WORKSPACE_CREATE = {
    "id": WSID,
    "name": "production",
    "user_id": "4d96f9a0-7727-4b63-889a-32544c206d7c",
    "status": "active",
    "icon_url": None,
    "created_at": "2026-04-07T10:30:00Z",
}


def _assert_headers(req: Any, *, body: bool) -> None:
    assert req.headers["Authorization"] == f"Bearer {API_KEY}"
    assert req.headers["Accept"] == "application/json"
    assert req.headers["User-Agent"].startswith("orgo-async/")
    if body:
        assert req.headers["Content-Type"] == "application/json"


async def test_workspace_create(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond("POST", "/api/workspaces", status=201, json=WORKSPACE_CREATE)
    ws = await client.workspaces.create(name="production")
    req = server.last()
    assert (req.method, req.path, req.query) == ("POST", "/api/workspaces", {})
    assert req.json == {"name": "production"}
    _assert_headers(req, body=True)
    assert isinstance(ws, Workspace)
    assert ws.id == WSID and ws.name == "production" and ws.icon_url is None
    assert ws.created_at == datetime(2026, 4, 7, 10, 30, tzinfo=UTC)
    assert ws.desktops == []


async def test_workspace_create_optional_fields(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond("POST", "/api/workspaces", status=201, json=WORKSPACE_CREATE)
    await client.workspaces.create(name="p", icon_url="https://x/i.png", status="inactive")
    assert server.last().json == {"name": "p", "icon_url": "https://x/i.png", "status": "inactive"}


async def test_workspace_list_get_delete(server: RecordingServer, client: AsyncOrgo) -> None:
    listed = {
        "workspaces": [
            {
                **WORKSPACE_CREATE,
                "desktops": [
                    {
                        "id": CID,
                        "name": "agent-1",
                        "os": "linux",
                        "ram": 4,
                        "cpu": 1,
                        "status": "running",
                    }
                ],
            }
        ]
    }
    server.respond("GET", "/api/workspaces", json=listed)
    server.respond("GET", f"/api/workspaces/{WSID}", json=listed["workspaces"][0])
    server.respond("DELETE", f"/api/workspaces/{WSID}", json={"success": True})

    items = await client.workspaces.list()
    assert server.last().method == "GET" and server.last().path == "/api/workspaces"
    _assert_headers(server.last(), body=False)
    assert server.last().body == b""
    assert [w.id for w in items] == [WSID]
    assert items[0].desktops[0].status == ComputerStatus.RUNNING

    ws = await client.workspaces.get(WSID)
    assert server.last().path == f"/api/workspaces/{WSID}"
    assert ws.computers[0].id == CID

    result = await client.workspaces.delete(WSID)
    assert server.last().method == "DELETE" and result.success is True


async def test_workspace_list_projects_alias_shape(
    server: RecordingServer, client: AsyncOrgo
) -> None:
    server.respond("GET", "/api/workspaces", json={"projects": [WORKSPACE_CREATE]})
    assert [w.name for w in await client.workspaces.list()] == ["production"]


async def test_computer_create_minimal_and_full(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond("POST", "/api/computers", status=201, json=COMPUTER_CREATE)
    c = await client.computers.create(workspace_id=WSID, name="agent-1", ram=4, cpu=1)
    req = server.last()
    assert (req.method, req.path) == ("POST", "/api/computers")
    assert req.json == {"workspace_id": WSID, "name": "agent-1", "ram": 4, "cpu": 1}
    _assert_headers(req, body=True)
    assert isinstance(c, Computer)
    assert c.workspace_id == WSID and c.resolution == "1280x720x24" and c.size == (1280, 720)
    assert c.vnc_password == "a06db12a8683df96"

    await client.computers.create(
        workspace_id=WSID,
        name="big",
        os="linux",
        ram=64,
        cpu=16,
        disk_size_gb=50,
        resolution="1920x1080x24",
        auto_stop_minutes=0,
        template_ref="system/claude-code@1.0.0",
    )
    assert server.last().json == {
        "workspace_id": WSID,
        "name": "big",
        "os": "linux",
        "ram": 64,
        "cpu": 16,
        "disk_size_gb": 50,
        "resolution": "1920x1080x24",
        "auto_stop_minutes": 0,
        "template_ref": "system/claude-code@1.0.0",
    }


async def test_computer_get_delete_vnc_password(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond("GET", f"/api/computers/{CID}", json=COMPUTER_GET)
    server.respond("DELETE", f"/api/computers/{CID}", json={"success": True})
    server.respond(
        "GET", f"/api/computers/{CID}/vnc-password", json={"password": "0a017c595fa7689753a3"}
    )

    c = await client.computers.get(CID)
    assert server.last().path == f"/api/computers/{CID}" and server.last().method == "GET"
    assert c.project_name == "production" and c.fly_instance_id == "a3881618" and c.is_running
    assert (await client.computers.delete(CID)).success
    assert server.last().method == "DELETE"
    assert await client.computers.vnc_password(CID) == "0a017c595fa7689753a3"
    assert server.last().path == f"/api/computers/{CID}/vnc-password"


@pytest.mark.parametrize(
    ("method_name", "path", "answer", "status_field"),
    [
        ("start", "start", {"success": True, "status": "starting"}, "starting"),
        ("stop", "stop", {"success": True, "status": "stopping"}, "stopping"),
        ("restart", "restart", {"success": True, "status": "restarting"}, "restarting"),
    ],
)
async def test_lifecycle(
    server: RecordingServer,
    client: AsyncOrgo,
    method_name: str,
    path: str,
    answer: dict[str, Any],
    status_field: str,
) -> None:
    server.respond("POST", f"/api/computers/{CID}/{path}", json=answer)
    result = await getattr(client.computers, method_name)(CID)
    req = server.last()
    assert (req.method, req.path, req.body) == ("POST", f"/api/computers/{CID}/{path}", b"")
    assert result.success and result.status == status_field


async def test_clone_move_resize_autostop(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond(
        "POST",
        f"/api/computers/{CID}/clone",
        status=201,
        json={
            "id": "b4cc290f-9bf9-3888-9912-ace4e6543003",
            "name": "agent-1 (clone)",
            "status": "running",
        },
    )
    clone = await client.computers.clone(CID)
    assert server.last().method == "POST" and server.last().body == b""
    assert clone.name == "agent-1 (clone)" and clone.vnc_password is None

    other = "550e8400-e29b-41d4-a716-446655440099"
    server.respond(
        "PATCH", f"/api/computers/{CID}/move", json={"success": True, "project_id": other}
    )
    moved = await client.computers.move(CID, other)
    assert server.last().method == "PATCH"
    assert server.last().json == {"workspace_id": other, "project_id": other}
    assert moved.destination == other

    resize_answer = {
        "vcpus": 4,
        "mem_gb": 8,
        "disk_size_gb": 30,
        "bandwidth_limit_mbps": 1000,
        "results": {
            "vcpus": {"requested": 4, "applied": 4, "ok": True},
            "mem_mb": {"requested": 8192, "applied": 8192, "ok": True},
            "disk_gb": {"requested": 30, "applied": 30, "ok": True},
        },
        "partial": False,
    }
    server.respond("PATCH", f"/api/computers/{CID}/resize", json=resize_answer)
    r = await client.computers.resize(CID, vcpus=4, mem_gb=8, disk_size_gb=30)
    assert server.last().json == {"vcpus": 4, "mem_gb": 8, "disk_size_gb": 30}
    assert r.vcpus == 4 and r.results is not None and r.results["mem_mb"].applied == 8192
    assert r.partial is False

    server.respond(
        "PATCH",
        f"/api/computers/{CID}/resize",
        status=207,
        json={
            "vcpus": 2,
            "mem_gb": 8,
            "partial": True,
            "results": {"vcpus": {"requested": 4, "applied": 2, "ok": False, "error": "plan cap"}},
        },
    )
    partial = await client.computers.resize(CID, vcpus=4)
    assert partial.partial and partial.results is not None
    assert partial.results["vcpus"].error == "plan cap"

    server.respond(
        "GET",
        f"/api/computers/{CID}/auto-stop",
        json={"auto_stop_minutes": 0, "configurable": True},
    )
    server.respond(
        "PATCH",
        f"/api/computers/{CID}/auto-stop",
        json={"auto_stop_minutes": 15, "auto_suspend_after": "15m"},
    )
    got = await client.computers.auto_stop(CID)
    assert server.last().method == "GET" and got.auto_stop_minutes == 0 and got.configurable
    updated = await client.computers.set_auto_stop(CID, 15)
    assert server.last().json == {"auto_stop_minutes": 15}
    assert updated.auto_suspend_after == "15m"


async def test_actions_exact_bodies(server: RecordingServer, client: AsyncOrgo) -> None:
    base = f"/api/computers/{CID}"
    server.respond(
        "POST",
        f"{base}/click",
        json={
            "success": True,
            "action": "click",
            "details": {"x": 100, "y": 200, "button": "left", "double": False},
        },
    )
    r = await client.computers.click(CID, 100, 200)
    assert server.last().json == {"x": 100, "y": 200, "button": "left"}
    assert isinstance(r, ActionResult) and r.action == "click" and r.details["x"] == 100

    await client.computers.click(CID, 5, 6, button="right")
    assert server.last().json == {"x": 5, "y": 6, "button": "right"}
    await client.computers.double_click(CID, 7, 8)
    assert server.last().json == {"x": 7, "y": 8, "button": "left", "double": True}

    await client.computers.drag(CID, 100, 100, 300, 200)
    assert server.last().path == f"{base}/drag"
    assert server.last().json == {
        "start_x": 100,
        "start_y": 100,
        "end_x": 300,
        "end_y": 200,
        "button": "left",
        "duration": 0.5,
    }

    await client.computers.scroll(CID, "up", 2, x=10, y=20)
    assert server.last().json == {"direction": "up", "amount": 2, "x": 10, "y": 20}
    await client.computers.scroll(CID)
    assert server.last().json == {"direction": "down", "amount": 3}

    server.respond(
        "POST",
        f"{base}/type",
        json={"success": True, "action": "type", "details": {"text_length": 13}},
    )
    t = await client.computers.type(CID, "Hello, world!")
    assert server.last().json == {"text": "Hello, world!"}
    assert t.details == {"text_length": 13}
    await client.computers.type(CID, "x", delay_ms=0)
    assert server.last().json == {"text": "x", "delay_ms": 0}

    await client.computers.key(CID, "ctrl+c")
    assert server.last().path == f"{base}/key" and server.last().json == {"key": "ctrl+c"}

    await client.computers.move_mouse(CID, 640, 360)
    assert (server.last().method, server.last().path) == ("POST", f"{base}/move")
    assert server.last().json == {"x": 640, "y": 360}

    server.respond("POST", f"{base}/wait", json={"success": True, "action": "wait"})
    w = await client.computers.wait(CID, 0.5)
    assert server.last().json == {"duration": 0.5} and w.action == "wait"


async def test_bash_and_exec(server: RecordingServer, client: AsyncOrgo) -> None:
    base = f"/api/computers/{CID}"
    server.respond(
        "POST",
        f"{base}/bash",
        json={
            "success": True,
            "action": "bash",
            "command": "ls -la /home/user",
            "output": "total 32\n",
            "exit_code": 0,
        },
    )
    b = await client.computers.bash(CID, "ls -la /home/user")
    assert server.last().json == {"command": "ls -la /home/user"}
    assert isinstance(b, BashResult) and b.output == "total 32\n" and b.exit_code == 0 and b.ok
    await client.computers.bash(CID, "sleep 1", timeout=5)
    assert server.last().json == {"command": "sleep 1", "timeout": 5}

    server.respond(
        "POST", f"{base}/bash", json={"output": "boom\n", "success": True, "exit_code": 2}
    )
    failed = await client.computers.bash(CID, "false")
    assert failed.exit_code == 2 and not failed.ok

    server.respond(
        "POST",
        f"{base}/exec",
        json={
            "output": "",
            "success": False,
            "action": "exec",
            "error": "name 'undefined_var' is not defined",
            "error_type": "NameError",
        },
    )
    e = await client.computers.exec(CID, "print(undefined_var)")
    assert server.last().json == {"code": "print(undefined_var)", "timeout": 10}
    assert isinstance(e, ExecResult) and e.error_type == "NameError" and e.exit_code == 1

    server.respond(
        "POST",
        f"{base}/exec",
        json={"output": "/home/user\n", "success": True, "action": "exec", "timeout": False},
    )
    ok = await client.computers.exec(CID, "import os; print(os.getcwd())", timeout=30)
    assert server.last().json["timeout"] == 30 and ok.output == "/home/user\n" and ok.exit_code == 0


PNG_1x1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def test_screenshot_base64(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond(
        "GET",
        f"/api/computers/{CID}/screenshot",
        json={
            "success": True,
            "image": base64.b64encode(PNG_1x1).decode(),
            "mime_type": "image/png",
            "width": 1,
            "height": 1,
        },
    )
    shot = await client.computers.screenshot(CID)
    req = server.last()
    assert req.query == {"response_format": "base64"} and req.method == "GET"
    assert shot.data == PNG_1x1 and shot.mime_type == "image/png" and shot.size == len(PNG_1x1)
    assert (shot.width, shot.height) == (1, 1) and shot.url is None


async def test_screenshot_data_url(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond(
        "GET",
        f"/api/computers/{CID}/screenshot",
        json={"image": "data:image/png;base64," + base64.b64encode(PNG_1x1).decode()},
    )
    shot = await client.computers.screenshot(CID)
    assert shot.data == PNG_1x1 and shot.mime_type == "image/png"


async def test_screenshot_stored_url_same_origin_sends_key(
    server: RecordingServer, client: AsyncOrgo
) -> None:
    server.respond(
        "GET",
        f"/api/computers/{CID}/screenshot",
        json={
            "success": True,
            "image": "/api/storage/screenshots/abc.png",
            "metadata": {
                "id": "9f2b",
                "timestamp": "2026-04-20T12:00:00Z",
                "size": len(PNG_1x1),
                "storage_path": "screenshots/abc.png",
            },
        },
    )
    server.respond(
        "GET",
        "/api/storage/screenshots/abc.png",
        body=PNG_1x1,
        headers={"Content-Type": "image/png"},
    )
    shot = await client.computers.screenshot(CID, format="url")
    assert server.requests[-2].query == {"response_format": "url"}
    download = server.last()
    assert download.path == "/api/storage/screenshots/abc.png"
    assert download.headers["Authorization"] == f"Bearer {API_KEY}"
    assert shot.data == PNG_1x1 and shot.mime_type == "image/png"
    assert shot.url == server.origin + "/api/storage/screenshots/abc.png"
    assert shot.metadata is not None and shot.metadata.size == len(PNG_1x1)


async def test_screenshot_foreign_url_gets_no_key(server: RecordingServer) -> None:
    # A second server plays the storage host on another origin.
    storage = RecordingServer()
    await storage.start()
    try:
        async with AsyncOrgo(
            api_key=API_KEY, base_url=server.base_url, default_headers={"X-Team": "t-secret"}
        ) as orgo:
            server.respond(
                "GET",
                f"/api/computers/{CID}/screenshot",
                json={"success": True, "image": storage.origin + "/screenshots/x.png"},
            )
            storage.respond(
                "GET",
                "/screenshots/x.png",
                body=PNG_1x1,
                headers={"Content-Type": "application/octet-stream"},
            )
            shot = await orgo.computers.screenshot(CID)
        # Neither the key nor the caller's default headers go to another origin.
        assert "Authorization" not in storage.last().headers
        assert "X-Team" not in storage.last().headers
        assert server.last().headers["X-Team"] == "t-secret"
        assert shot.data == PNG_1x1 and shot.mime_type == "image/png"  # sniffed
    finally:
        await storage.close()


async def test_stream_endpoints(server: RecordingServer, client: AsyncOrgo) -> None:
    base = f"/api/computers/{CID}/stream"
    server.respond(
        "POST", f"{base}/start", json={"success": True, "status": "streaming", "pid": 12345}
    )
    server.respond("POST", f"{base}/stop", json={"success": True})
    server.respond(
        "GET",
        f"{base}/status",
        json={"status": "streaming", "start_time": "2024-01-20T10:30:00Z", "pid": 12345},
    )
    started = await client.computers.stream_start(CID, "my-twitch")
    assert server.last().json == {"connection_name": "my-twitch"}
    assert started.pid == 12345 and started.status == "streaming"
    status = await client.computers.stream_status(CID)
    assert status.status == "streaming" and status.pid == 12345
    assert (await client.computers.stream_stop(CID)).success
    assert server.last().path == f"{base}/stop" and server.last().body == b""

    server.respond(
        "GET",
        f"{base}/status",
        json={"status": "terminated", "message": "Stream process was terminated unexpectedly"},
    )
    assert (await client.computers.stream_status(CID)).message is not None


async def test_list_computers_and_event_catalog(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond(
        "GET", f"/api/workspaces/{WSID}", json={**WORKSPACE_CREATE, "desktops": [COMPUTER_GET]}
    )
    computers = await client.computers.list(WSID)
    assert [c.id for c in computers] == [CID]
    server.respond("GET", f"/api/computers/{CID}/events", json={"event_types": ["window_focus"]})
    assert await client.computers.event_catalog(CID) == {"event_types": ["window_focus"]}


async def test_ids_are_path_quoted(server: RecordingServer, client: AsyncOrgo) -> None:
    server.respond("GET", "/api/computers/weird:id@x", json=COMPUTER_GET)
    server.respond("GET", "/api/computers/a+b&c=d", json=COMPUTER_GET)
    await client.computers.get("weird:id@x")
    # The request line carries the quoted form; aiohttp's request.path decodes it.
    assert server.last().raw_path == "/api/computers/weird%3Aid%40x"
    await client.computers.click("a+b&c=d", 1, 2)
    assert server.last().raw_path == "/api/computers/a%2Bb%26c%3Dd/click"
