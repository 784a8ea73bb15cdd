"""Action endpoints (§6), screenshots, streaming (§7), the desktop proxy (§12), events."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any, cast

import aiohttp
import pytest

from orgo_async.testing import FakeComputer, FakeOrgo

from .conftest import Http

# §6 response examples, verbatim.
CLICK = {
    "success": True,
    "action": "click",
    "details": {"x": 100, "y": 200, "button": "left", "double": False},
}
DRAG = {
    "success": True,
    "action": "drag",
    "details": {"start_x": 100, "start_y": 100, "end_x": 300, "end_y": 200},
}
SCROLL = {"success": True, "action": "scroll", "details": {"direction": "down", "amount": 3}}
TYPE = {"success": True, "action": "type", "details": {"text_length": 13}}
KEY = {"success": True, "action": "key_press", "details": {"key": "Enter"}}
BASH = {
    "success": True,
    "action": "bash",
    "command": "ls -la /home/user",
    "output": "total 32\n...",
    "exit_code": 0,
}
EXEC_OK = {"output": "/home/user\n", "success": True, "action": "exec", "timeout": False}
EXEC_ERR = {
    "output": "",
    "success": False,
    "action": "exec",
    "error": "name 'undefined_var' is not defined",
    "error_type": "NameError",
}
WAIT = {"success": True, "action": "wait"}
SCREENSHOT_URL = {
    "success": True,
    "image": "https://storage.orgo.ai/screenshots/4d96f9a0/2026-04-20/abc123.png",
    "metadata": {
        "id": "9f2b7c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
        "timestamp": "2026-04-20T12:00:00Z",
        "size": 187342,
        "storage_path": "screenshots/4d96f9a0/2026-04-20/abc123.png",
    },
}
SCREENSHOT_B64 = {
    "success": True,
    "image": "iVBOR",
    "mime_type": "image/png",
    "width": 1280,
    "height": 720,
}
STREAM_START = {"success": True, "status": "streaming", "pid": 12345}
STREAM_STATUS = {"status": "streaming", "start_time": "2024-01-20T10:30:00Z", "pid": 12345}


def keys_of(example: dict[str, Any]) -> set[str]:
    return set(example)


def url(cid: str, action: str) -> str:
    return f"/computers/{cid}/{action}"


@pytest.mark.parametrize(
    "action, body, example",
    [
        ("click", {"x": 100, "y": 200}, CLICK),
        ("drag", {"start_x": 100, "start_y": 100, "end_x": 300, "end_y": 200}, DRAG),
        ("scroll", {"direction": "down", "amount": 3}, SCROLL),
        ("type", {"text": "Hello, world!"}, TYPE),
        ("key", {"key": "Enter"}, KEY),
        ("wait", {"duration": 0}, WAIT),
    ],
)
async def test_action_envelopes_equal_the_examples(
    http: Http, running: dict[str, Any], action: str, body: dict[str, Any], example: dict[str, Any]
) -> None:
    status, got = await http.call("POST", url(running["id"], action), json=body)
    assert status == 200
    assert got == example


async def test_double_click_and_right_click(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    cid = running["id"]
    status, got = await http.call(
        "POST", url(cid, "click"), json={"button": "left", "x": 5, "y": 6, "double": True}
    )
    assert status == 200 and got["action"] == "double_click" and got["details"]["double"] is True
    status, got = await http.call(
        "POST", url(cid, "click"), json={"button": "right", "x": 7, "y": 8}
    )
    assert got["details"] == {"x": 7, "y": 8, "button": "right", "double": False}
    log = fake.computer(cid).actions
    assert [(a.name, a.body) for a in log] == [
        ("click", {"button": "left", "x": 5, "y": 6, "double": True}),
        ("click", {"button": "right", "x": 7, "y": 8}),
    ]


@pytest.mark.parametrize(
    "action, body, status, fragment",
    [
        ("click", {"y": 1}, 400, "'x' is required"),
        ("click", {"x": -1, "y": 1}, 400, "'x' must be >= 0"),
        ("click", {"x": 1.5, "y": 1}, 400, "'x' must be an integer"),
        ("click", {"x": 1, "y": 1, "button": "back"}, 400, "'button' must be one of"),
        ("click", {"x": 1, "y": 1, "double": "yes"}, 400, "'double' must be a boolean"),
        ("click", {"x": 5000, "y": 1}, 400, "outside the 1280x720 screen"),
        ("click", {"x": 1, "y": 1, "dbl": True}, 400, "Unknown field(s): dbl"),
        ("drag", {"start_x": 1, "start_y": 1, "end_x": 2}, 400, "missing required coordinate"),
        (
            "drag",
            {"start_x": 1, "start_y": 1, "end_x": 2, "end_y": 2, "duration": -1},
            400,
            "'duration' must be >= 0",
        ),
        ("scroll", {"direction": "left"}, 400, "'direction' must be one of"),
        ("scroll", {"amount": 0}, 400, "'amount' must be >= 1"),
        ("type", {}, 400, "missing text"),
        ("type", {"text": 5}, 400, "'text' must be a string"),
        ("key", {}, 400, "missing key"),
        ("key", {"key": "ctrl+"}, 400, "invalid key"),
        ("bash", {}, 400, "'command' is required"),
        ("bash", {"command": "ls", "timeout": 0}, 400, "'timeout' must be >= 1"),
        ("exec", {"code": 5}, 400, "'code' is required and must be a string"),
        ("exec", {"code": "1", "timeout": 301}, 400, "'timeout' must be <= 300"),
        ("wait", {}, 400, "'duration' is required"),
        ("wait", {"duration": 61}, 400, "'duration' must be <= 60"),
        ("move", {"x": 1}, 400, "'y' is required"),
    ],
)
async def test_action_validation(
    http: Http,
    fake: FakeOrgo,
    running: dict[str, Any],
    action: str,
    body: Any,
    status: int,
    fragment: str,
) -> None:
    got_status, got = await http.call("POST", url(running["id"], action), json=body)
    assert got_status == status
    assert fragment in got["error"]
    assert "request_id" in got
    assert fake.computer(running["id"]).actions == []  # rejected actions are not performed


async def test_out_of_bounds_is_desktop_side(http: Http, running: dict[str, Any]) -> None:
    status, body = await http.call("POST", url(running["id"], "click"), json={"x": 1280, "y": 0})
    assert status == 400 and body["upstream_status"] == 400


async def test_actions_need_a_running_computer(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    cid = running["id"]
    await http.call("POST", url(cid, "stop"))
    for action, body in [
        ("click", {"x": 1, "y": 1}),
        ("type", {"text": "a"}),
        ("bash", {"command": "ls"}),
        ("stream/start", {"connection_name": "yt"}),
    ]:
        status, got = await http.call("POST", url(cid, action), json=body)
        assert (status, got["error"]) == (400, "Desktop instance not available"), action


async def test_scroll_pointer_quirk_and_windows(http: Http, fake: FakeOrgo) -> None:
    ws = await http.workspace()
    linux = await http.computer(ws["id"], "lin")
    await http.call(
        "POST", url(linux["id"], "scroll"), json={"direction": "up", "amount": 2, "x": 10}
    )
    assert fake.computer(linux["id"]).screen.pointer == (10, 0)
    win = await http.computer(ws["id"], "win", os="windows")
    status, body = await http.call("POST", url(win["id"], "scroll"), json={"x": 1, "y": 1})
    assert status == 400 and body["upstream_status"] == 400
    status, body = await http.call("POST", url(win["id"], "scroll"), json={"direction": "down"})
    assert status == 200 and body["details"] == {"direction": "down", "amount": 3}


async def test_mouse_move_post_vs_workspace_move_patch(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    cid = running["id"]
    status, body = await http.call("POST", url(cid, "move"), json={"x": 30, "y": 40})
    assert (status, body) == (
        200,
        {"success": True, "action": "move", "details": {"x": 30, "y": 40}},
    )
    assert fake.computer(cid).screen.pointer == (30, 40)
    assert fake.computer(cid).workspace_id == running["workspace_id"]


# -- bash / exec --------------------------------------------------------------------------


async def test_bash_default_shell(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    cid = running["id"]
    status, body = await http.call("POST", url(cid, "bash"), json={"command": "ls -la /home/user"})
    assert status == 200 and set(body) == set(BASH) and body["exit_code"] == 0
    cmds = {
        "echo hello world": ("hello world\n", 0),
        "echo hi > ~/Desktop/a.txt && cat Desktop/a.txt": ("hi\n", 0),
        "cat nope": ("cat: nope: No such file or directory\n", 1),
        "false || echo rescued": ("rescued\n", 0),
        "false && echo never": ("", 1),
        "ls Desktop": ("a.txt\n", 0),
        "pwd; whoami": ("/home/user\nuser\n", 0),
        "exit 3": ("", 3),
        "some-unknown-tool --flag": ("", 0),
    }
    for command, (output, code) in cmds.items():
        status, body = await http.call("POST", url(cid, "bash"), json={"command": command})
        assert status == 200
        assert (body["output"], body["exit_code"]) == (output, code), command
        assert body["command"] == command


async def test_bash_file_change_events(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    cid = running["id"]
    cmd = "touch ~/Desktop/x.txt; echo a >> /home/user/Desktop/x.txt; cp Desktop/x.txt Downloads/y; rm Desktop/x.txt; touch /tmp/z"
    await http.call("POST", url(cid, "bash"), json={"command": cmd})
    events = fake.computer(cid).events.history
    assert events[0]["type"] == "process_start" and events[-1]["type"] == "process_stop"
    changes = [
        (e["data"]["path"], e["data"]["action"]) for e in events if e["type"] == "file_change"
    ]
    assert changes == [
        ("/home/user/Desktop/x.txt", "created"),
        ("/home/user/Desktop/x.txt", "modified"),
        ("/home/user/Downloads/y", "created"),
        ("/home/user/Desktop/x.txt", "deleted"),
    ]


async def test_bash_handlers(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    cid = running["id"]
    seen: list[tuple[str, FakeComputer]] = []

    def sync_handler(command: str, computer: FakeComputer) -> Any:
        seen.append((command, computer))
        return {
            "str": "out",
            "tuple": ("t", 2),
            "int": 7,
            "dict": {"output": "d", "exit_code": 1},
            "none": None,
        }[command]

    fake.on_bash(sync_handler)
    answers = {}
    for cmd in ("str", "tuple", "int", "dict", "none"):
        status, body = await http.call("POST", url(cid, "bash"), json={"command": cmd})
        assert status == 200
        answers[cmd] = (body["output"], body["exit_code"])
    assert answers == {
        "str": ("out", 0),
        "tuple": ("t", 2),
        "int": ("", 7),
        "dict": ("d", 1),
        "none": ("", 0),
    }
    assert seen[0][1] is fake.computer(cid)

    @fake.on_bash
    async def async_handler(command: str, computer: FakeComputer) -> str:
        if command == "boom":
            raise RuntimeError("kaput")
        return command.upper()

    status, body = await http.call("POST", url(cid, "bash"), json={"command": "abc"})
    assert body["output"] == "ABC"
    status, body = await http.call("POST", url(cid, "bash"), json={"command": "boom"})
    assert status == 500 and body["upstream_status"] == 500 and "kaput" in body["error"]


async def test_exec_default_and_handler(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    cid = running["id"]
    status, body = await http.call(
        "POST", url(cid, "exec"), json={"code": "print('/home/user')", "timeout": 10}
    )
    assert status == 200 and body == EXEC_OK
    status, body = await http.call("POST", url(cid, "exec"), json={"code": "import os"})
    assert body == {"output": "", "success": True, "action": "exec", "timeout": False}
    status, body = await http.call("POST", url(cid, "exec"), json={"code": "def ("})
    assert body["success"] is False and body["error_type"] == "SyntaxError"

    fake.on_exec(
        lambda code, c: {
            "output": "",
            "success": False,
            "error": "name 'undefined_var' is not defined",
            "error_type": "NameError",
        }
    )
    status, body = await http.call("POST", url(cid, "exec"), json={"code": "undefined_var"})
    assert status == 200 and set(EXEC_ERR) <= set(body)
    assert {k: body[k] for k in EXEC_ERR} == EXEC_ERR
    fake.on_exec(lambda code, c: "plain\n")
    status, body = await http.call("POST", url(cid, "exec"), json={"code": "x"})
    assert body["output"] == "plain\n" and body["success"] is True


async def test_exec_file_change_events(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    cid = running["id"]
    await http.call(
        "POST",
        url(cid, "exec"),
        json={"code": "open('/home/user/Downloads/r.csv', 'w').write('1')"},
    )
    changes = [e["data"] for e in fake.computer(cid).events.history if e["type"] == "file_change"]
    assert changes == [{"path": "/home/user/Downloads/r.csv", "action": "created"}]


async def test_allow_exec_runs_for_real(caplog: pytest.LogCaptureFixture) -> None:
    from orgo_async.testing import Timings

    with caplog.at_level("WARNING", logger="orgo_async.testing"):
        fake = FakeOrgo(allow_exec=True, timings=Timings.instant())
        await fake.start()
    try:
        assert "RUN FOR REAL" in caplog.text
        ws = fake.add_workspace("w")
        c = fake.add_computer(ws.id, "c")
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {fake.api_key}"}) as s:
            async with s.post(
                f"{fake.base_url}/computers/{c.id}/bash",
                json={"command": "echo real $((6*7)); echo err >&2; exit 4"},
            ) as r:
                body = await r.json()
            assert body["output"] == "real 42\nerr\n" and body["exit_code"] == 4
            async with s.post(
                f"{fake.base_url}/computers/{c.id}/bash", json={"command": "sleep 5", "timeout": 1}
            ) as r:
                body = await r.json()
                assert r.status == 500 and body["upstream_status"] == 504
            async with s.post(
                f"{fake.base_url}/computers/{c.id}/exec",
                json={"code": "import sys; print(sys.version_info[0])"},
            ) as r:
                body = await r.json()
            assert body == {"action": "exec", "output": "3\n", "success": True, "timeout": False}
            async with s.post(
                f"{fake.base_url}/computers/{c.id}/exec", json={"code": "undefined_var"}
            ) as r:
                body = await r.json()
            assert body["success"] is False and body["error_type"] == "NameError"
            assert body["error"] == "name 'undefined_var' is not defined"
            async with s.post(
                f"{fake.base_url}/computers/{c.id}/exec",
                json={"code": "import time; time.sleep(5)", "timeout": 1},
            ) as r:
                body = await r.json()
            assert body["timeout"] is True and body["success"] is False
    finally:
        await fake.close()


async def test_wait_blocks_and_is_logged(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    fake.timings.wait_scale = 0.01
    status, body = await http.call("POST", url(running["id"], "wait"), json={"duration": 1.5})
    assert (status, body) == (200, WAIT)
    assert [(a.name, a.body) for a in fake.computer(running["id"]).actions] == [
        ("wait", {"duration": 1.5})
    ]


# -- screenshots ------------------------------------------------------------------------


def png_size(data: bytes) -> tuple[int, int]:
    """Parse a PNG: signature, every chunk's CRC, IHDR; decompress IDAT fully."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, size, idat = 8, (0, 0), b""
    kinds = []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunk = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + chunk) & 0xFFFFFFFF == crc, kind
        kinds.append(kind)
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", chunk[:10])
            assert (depth, ctype) == (8, 2)
            size = (w, h)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    raw = zlib.decompress(idat)
    assert len(raw) == size[1] * (1 + 3 * size[0])
    return size


async def test_screenshot_base64(http: Http, fake: FakeOrgo) -> None:
    ws = await http.workspace()
    c = await http.computer(ws["id"], resolution="1024x768x24")
    status, body = await http.call(
        "GET", url(c["id"], "screenshot"), params={"response_format": "base64"}
    )
    assert status == 200 and set(body) == set(SCREENSHOT_B64)
    assert (body["mime_type"], body["width"], body["height"]) == ("image/png", 1024, 768)
    assert not body["image"].startswith("data:")
    assert png_size(base64.b64decode(body["image"])) == (1024, 768)
    assert fake.computer(c["id"]).actions[-1].body == {"response_format": "base64"}


async def test_screenshot_url_and_storage(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    status, body = await http.call("GET", url(running["id"], "screenshot"))
    assert status == 200 and set(body) == set(SCREENSHOT_URL)
    assert set(body["metadata"]) == set(cast(dict[str, Any], SCREENSHOT_URL["metadata"]))
    assert body["image"] == "/api/storage/" + body["metadata"]["storage_path"]
    async with http.session.get(
        fake.origin + body["image"], headers={"Authorization": f"Bearer {fake.api_key}"}
    ) as r:
        assert r.status == 200 and r.content_type == "image/png"
        data = await r.read()
    assert len(data) == body["metadata"]["size"]
    assert png_size(data) == (1280, 720)
    async with http.session.get(fake.origin + body["image"]) as r:
        assert r.status == 401 and (await r.json())["error"] == "Missing API key."
    status, _ = await http.call("GET", "/storage/screenshots/nope.png")
    assert status == 404
    status, err = await http.call(
        "GET", url(running["id"], "screenshot"), params={"response_format": "jpeg"}
    )
    assert status == 400 and "response_format" in err["error"]


async def test_screenshots_change_with_actions(http: Http, running: dict[str, Any]) -> None:
    cid = running["id"]

    async def shot() -> bytes:
        _, body = await http.call(
            "GET", url(cid, "screenshot"), params={"response_format": "base64"}
        )
        return base64.b64decode(body["image"])

    first = await shot()
    assert await shot() == first  # nothing happened: same screen
    await http.call("POST", url(cid, "move"), json={"x": 600, "y": 300})
    second = await shot()
    assert second != first
    await http.call("POST", url(cid, "type"), json={"text": "abc"})
    assert await shot() != second


# -- events, streaming, proxy ---------------------------------------------------------------


async def test_event_catalog(http: Http, running: dict[str, Any]) -> None:
    status, body = await http.call("GET", url(running["id"], "events"))
    assert status == 200
    assert {e["type"] for e in body["events"]} >= {
        "window_focus",
        "file_change",
        "screen_change",
        "active",
    }


async def test_events_published_from_actions(
    http: Http, fake: FakeOrgo, running: dict[str, Any]
) -> None:
    cid = running["id"]
    queue = fake.computer(cid).events.listen()
    await http.call("POST", url(cid, "click"), json={"x": 10, "y": 10, "double": True})
    await http.call("POST", url(cid, "type"), json={"text": "copy me"})
    await http.call("POST", url(cid, "key"), json={"key": "ctrl+c"})
    types = []
    while not queue.empty():
        event = queue.get_nowait()
        types.append(event["type"])
        if event["type"] == "clipboard":
            assert event["data"] == {"content": "copy me"}
        if event["type"] == "window_focus":
            assert set(event["data"]) == {"window_id", "title"}
    assert types == ["window_open", "window_focus", "active", "active", "clipboard"]


async def test_stream_lifecycle(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    cid = running["id"]
    status, body = await http.call("GET", url(cid, "stream/status"))
    assert (status, body) == (200, {"status": "idle"})
    status, body = await http.call("POST", url(cid, "stream/stop"))
    assert body == {"success": False, "error": "No active stream to stop"}
    status, body = await http.call(
        "POST", url(cid, "stream/start"), json={"connection_name": "youtube"}
    )
    assert status == 200 and set(body) == set(STREAM_START) and body["status"] == "streaming"
    status, st = await http.call("GET", url(cid, "stream/status"))
    assert set(st) == set(STREAM_STATUS) and st["pid"] == body["pid"]
    status, body = await http.call(
        "POST", url(cid, "stream/start"), json={"connection_name": "youtube"}
    )
    assert status == 409
    status, body = await http.call("POST", url(cid, "stream/stop"))
    assert body == {"success": True}
    await http.call("POST", url(cid, "stream/start"), json={"connection_name": "youtube"})
    await http.call("POST", url(cid, "stop"))
    status, body = await http.call("GET", url(cid, "stream/status"))
    assert body == {"status": "terminated", "message": "Stream process was terminated unexpectedly"}
    kinds = [e["type"] for e in fake.computer(cid).events.history]
    assert kinds.count("audio_stream_start") == 2 and kinds.count("audio_stream_stop") == 2
    status, body = await http.call("POST", url(cid, "stream/start"), json={})
    assert status == 400


async def test_stream_connection_names(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    fake.rtmp_connections = {"twitch"}
    status, body = await http.call(
        "POST", url(running["id"], "stream/start"), json={"connection_name": "yt"}
    )
    assert status == 404 and "yt" in body["error"]


async def test_desktop_proxy(http: Http, fake: FakeOrgo, running: dict[str, Any]) -> None:
    inst, cid = running["instance_id"], running["id"]
    base = f"/desktops/{inst}/proxy"
    status, body = await http.call("GET", base + "/health")
    assert (status, body) == (200, {"status": "ok"})
    status, body = await http.call("POST", base + "/click", json={"x": 100, "y": 200})
    assert (status, body) == (200, CLICK)
    status, body = await http.call("POST", base + "/bash", json={"command": "echo via proxy"})
    assert body["output"] == "via proxy\n"
    status, body = await http.call("GET", base + "/screenshot")
    assert status == 200 and png_size(base64.b64decode(body["image"])) == (1280, 720)
    assert fake.computer(cid).action_names() == ["click", "bash", "screenshot"]
    status, body = await http.call("POST", base + "/teleport", json={})
    assert status == 404 and body["upstream_status"] == 404
    status, body = await http.call("GET", base + "/click")
    assert status == 405
    status, body = await http.call("GET", "/desktops/ffffffff/proxy/health")
    assert status == 404
    async with http.session.get(fake.base_url + base + "/health") as r:
        assert r.status == 401
    await http.call("POST", url(cid, "stop"))
    status, body = await http.call("GET", base + "/health")
    assert status == 503 and body["error"] == "Could not reach the desktop. Try again in a moment."
