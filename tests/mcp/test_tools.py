"""Every MCP tool through the real MCP client, in process, against the emulator.

Results are checked against the emulator's own record (its action log and world), and
the screenshot's image content against the PNG the emulator draws.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("mcp.server", reason="the 'mcp' extra is not installed")

from mcp import Client
from mcp.types import CallToolResult, ImageContent, TextContent

from orgo_async.mcp import create_server
from orgo_async.mcp._agent import AGENT_TOOLS
from orgo_async.mcp._tools import TOOLS
from orgo_async.testing import FakeComputer, FakeOrgo, FakeWorkspace, Timings, render_screen


@dataclass
class Env:
    fake: FakeOrgo
    client: Client
    ws: FakeWorkspace
    c: FakeComputer

    async def call(self, tool: str, **arguments: Any) -> dict[str, Any]:
        result = await self.client.call_tool(tool, arguments)
        assert not result.is_error, result.content
        assert isinstance(result.structured_content, dict)
        return result.structured_content

    async def fail(self, tool: str, **arguments: Any) -> str:
        result = await self.client.call_tool(tool, arguments)
        assert result.is_error
        (content,) = result.content
        assert isinstance(content, TextContent)
        return content.text


@contextlib.asynccontextmanager
async def mcp_env() -> AsyncIterator[Env]:
    # Not a fixture: the MCP client's task group must be entered and left in one task.
    async with FakeOrgo(timings=Timings.instant()) as fake, fake.client() as orgo:
        ws = fake.add_workspace("prod")
        c = fake.add_computer(ws.id, "agent-1")
        async with Client(create_server(orgo)) as client:
            yield Env(fake, client, ws, c)


def texts(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def test_every_tool_is_listed_with_a_schema_and_hints() -> None:
    async with mcp_env() as env:
        tools = {t.name: t for t in (await env.client.list_tools()).tools}
        assert list(tools) == [name for name, _, _ in TOOLS] + [name for name, _ in AGENT_TOOLS]
        click = tools["click"]
        assert click.input_schema["required"] == ["computer_id", "x", "y"]
        assert click.input_schema["properties"]["button"]["enum"] == ["left", "right", "middle"]
        assert tools["computer_delete"].annotations is not None
        assert tools["computer_delete"].annotations.destructive_hint is True
        assert tools["screenshot"].annotations is not None
        assert tools["screenshot"].annotations.read_only_hint is True
        for tool in tools.values():  # the key is never an argument
            params = set(tool.input_schema.get("properties", {}))
            assert not params & {"api_key", "apikey", "token", "password", "base_url"}


async def test_workspace_tools() -> None:
    async with mcp_env() as env:
        listed = await env.call("workspaces_list")
        assert [w["name"] for w in listed["workspaces"]] == ["prod"]
        assert [c["name"] for c in listed["workspaces"][0]["desktops"]] == ["agent-1"]
        created = await env.call("workspace_create", name="staging")
        assert env.fake.workspace(created["id"]).name == "staging"
        assert await env.call("workspace_delete", workspace_id=created["id"]) == {
            "id": created["id"],
            "deleted": True,
        }
        assert created["id"] not in env.fake.world.workspaces


async def test_computer_tools() -> None:
    async with mcp_env() as env:
        fake = env.fake
        created = await env.call("computer_create", workspace_id=env.ws.id, name="agent-2", ram=8)
        cid = created["id"]
        assert (created["status"], created["ram"]) == ("running", 8)
        assert "vnc_password" not in created
        listed = await env.call("computers_list", workspace_id=env.ws.id)
        assert [c["name"] for c in listed["computers"]] == ["agent-1", "agent-2"]
        assert [c["id"] for c in (await env.call("computers_list"))["computers"]] == [env.c.id, cid]
        assert (await env.call("computer_get", computer_id=cid))["name"] == "agent-2"

        fake.timings.stop = fake.timings.boot = fake.timings.restart = 0.1
        assert (await env.call("computer_stop", computer_id=cid))["status"] == "stopped"
        assert (await env.call("computer_start", computer_id=cid))["status"] == "running"
        assert (await env.call("computer_restart", computer_id=cid))["status"] == "running"
        fake.timings.stop = 1.0  # "stopping" must outlast the tool call, even under load
        no_wait = await env.call("computer_stop", computer_id=cid, wait=False)
        assert no_wait["id"] == cid and fake.computer(cid).status == "stopping"
        assert (await env.call("computer_wait", computer_id=cid, status="stopped"))["status"] == (
            "stopped"
        )
        assert [a.name for a in fake.computer(cid).actions] == ["stop", "start", "restart", "stop"]
        assert await env.call("computer_delete", computer_id=cid) == {"id": cid, "deleted": True}
        assert cid not in fake.world.computers


async def test_action_tools_reach_the_desktop() -> None:
    async with mcp_env() as env:
        cid = env.c.id
        await env.call("click", computer_id=cid, x=10, y=20, button="right")
        await env.call("double_click", computer_id=cid, x=30, y=40)
        await env.call("drag", computer_id=cid, start_x=1, start_y=2, end_x=300, end_y=400)
        await env.call("scroll", computer_id=cid, direction="up", amount=2, x=5, y=6)
        typed = await env.call("type", computer_id=cid, text="héllo")
        await env.call("key", computer_id=cid, key="ctrl+c")
        await env.call("move_mouse", computer_id=cid, x=7, y=8)
        assert typed["success"] is True
        log = [(a.name, a.body) for a in env.fake.computer(cid).actions]
        assert log == [
            ("click", {"x": 10, "y": 20, "button": "right"}),
            ("click", {"x": 30, "y": 40, "button": "left", "double": True}),
            (
                "drag",
                {
                    "start_x": 1,
                    "start_y": 2,
                    "end_x": 300,
                    "end_y": 400,
                    "button": "left",
                    "duration": 0.5,
                },
            ),
            ("scroll", {"direction": "up", "amount": 2, "x": 5, "y": 6}),
            ("type", {"text": "héllo"}),
            ("key", {"key": "ctrl+c"}),
            ("move", {"x": 7, "y": 8}),
        ]


async def test_screenshot_is_image_content_of_the_served_png() -> None:
    async with mcp_env() as env:
        result = await env.client.call_tool("screenshot", {"computer_id": env.c.id})
        assert not result.is_error
        image, caption = result.content
        assert isinstance(image, ImageContent) and isinstance(caption, TextContent)
        assert image.mime_type == "image/png"
        c = env.fake.computer(env.c.id)
        assert base64.b64decode(image.data) == render_screen(c.width, c.height, c.screen, c.id)
        assert caption.text == "screenshot 1280x720 (image/png)"


async def test_bash_and_exec() -> None:
    async with mcp_env() as env:
        env.fake.on_bash(lambda command, computer: (f"ran {command}\n", 3))
        assert await env.call("bash", computer_id=env.c.id, command="ls /") == {
            "output": "ran ls /\n",
            "exit_code": 3,
            "success": True,
        }
        result = await env.call("exec", computer_id=env.c.id, code="print('hi')", timeout=5)
        assert (result["output"], result["success"]) == ("hi\n", True)
        assert [(a.name, a.body) for a in env.fake.computer(env.c.id).actions] == [
            ("bash", {"command": "ls /"}),
            ("exec", {"code": "print('hi')", "timeout": 5}),
        ]


async def test_errors_are_tool_errors_with_the_typed_message() -> None:
    async with mcp_env() as env:
        missing = "00000000-0000-4000-8000-000000000000"
        text = await env.fail("computer_get", computer_id=missing)
        assert "NotFoundError: 404: Computer not found" in text
        stopped = env.fake.add_computer(env.ws.id, "off", status="stopped")
        text = await env.fail("computer_stop", computer_id=stopped.id)
        assert "ConflictError: 409" in text
        text = await env.fail("computer_wait", computer_id=stopped.id, timeout=0.3)
        assert "WaitTimeoutError: 1 computer(s) did not reach ['running']" in text
        text = await env.fail("scroll", computer_id=env.c.id, amount=0)
        assert "ValueError: amount must be an int >= 1" in text
        text = await env.fail("click", computer_id=env.c.id, x=1, y=2, button="side")
        assert "button" in text  # the schema refuses it before the SDK is called
        env.fake.faults.malformed("GET", "/workspaces")
        assert "APIDecodeError" in await env.fail("workspaces_list")
        # The server is still up and answering after every one of them.
        assert (await env.call("computer_get", computer_id=env.c.id))["status"] == "running"


async def test_the_api_key_and_passwords_never_appear_in_results() -> None:
    async with mcp_env() as env:
        seen: list[str] = []
        for tool, args in (
            ("workspaces_list", {}),
            ("computers_list", {}),
            ("computer_get", {"computer_id": env.c.id}),
            ("computer_restart", {"computer_id": env.c.id}),
            ("computer_get", {"computer_id": "00000000-0000-4000-8000-000000000000"}),
        ):
            result = await env.client.call_tool(tool, args)
            seen.append(texts(result) + repr(result.structured_content))
        everything = "\n".join(seen)
        assert env.fake.api_key not in everything
        assert env.c.vnc_password not in everything  # the new one, after the restart
        assert "vnc_password" not in everything


CONTROL_L, SHIFT_L = 0xFFE3, 0xFFE1  # X11 keysyms


def rfb_input(env: Env) -> list[tuple[str, dict[str, Any]]]:
    """The RFB input events the emulator's VNC server received, in order; then forgotten."""
    c = env.fake.computer(env.c.id)
    events = [(a.name, a.body) for a in c.actions if a.name in ("vnc_pointer", "vnc_key")]
    c.actions.clear()
    return events


async def test_agent_surface_tools_send_rfb_input() -> None:
    async with mcp_env() as env:
        cid = env.c.id
        assert await env.call("mouse_down", computer_id=cid, x=10, y=20) == {
            "success": True,
            "x": 10,
            "y": 20,
        }
        await env.call("mouse_up", computer_id=cid, x=50, y=60)
        assert rfb_input(env) == [
            ("vnc_pointer", {"buttons": 1, "x": 10, "y": 20}),
            ("vnc_pointer", {"buttons": 0, "x": 50, "y": 60}),
        ]
        assert await env.call("cursor_position", computer_id=cid) == {"x": 50, "y": 60}

        await env.call("triple_click", computer_id=cid, x=5, y=6)
        presses = [e for e in rfb_input(env) if e[1]["buttons"] == 1]
        assert presses == [("vnc_pointer", {"buttons": 1, "x": 5, "y": 6})] * 3

        await env.call("modifier_click", computer_id=cid, x=7, y=8, modifiers="ctrl")
        events = rfb_input(env)
        assert events[0] == ("vnc_key", {"down": True, "key": CONTROL_L})
        assert events[-1] == ("vnc_key", {"down": False, "key": CONTROL_L})
        assert ("vnc_pointer", {"buttons": 1, "x": 7, "y": 8}) in events

        result = await env.call("hold_key", computer_id=cid, keys="shift", duration=0.1)
        assert result == {"keys": "shift", "held_seconds": 0.1}
        assert rfb_input(env) == [
            ("vnc_key", {"down": True, "key": SHIFT_L}),
            ("vnc_key", {"down": False, "key": SHIFT_L}),
        ]

        await env.call("scroll_horizontal", computer_id=cid, direction="left", amount=2, x=9, y=9)
        # The desktop's default horizontal scroll is the wheel with Shift held (what x11vnc
        # passes on): Shift down, two wheel-up clicks (mask 8) at the point, Shift up.
        events = rfb_input(env)
        assert events[0] == ("vnc_key", {"down": True, "key": SHIFT_L})
        assert events[-1] == ("vnc_key", {"down": False, "key": SHIFT_L})
        wheel = [e for e in events if e[0] == "vnc_pointer" and e[1]["buttons"] == 8]
        assert wheel == [("vnc_pointer", {"buttons": 8, "x": 9, "y": 9})] * 2


async def test_zoom_is_a_png_of_the_region() -> None:
    async with mcp_env() as env:
        result = await env.client.call_tool(
            "zoom", {"computer_id": env.c.id, "x0": 0, "y0": 0, "x1": 100, "y1": 50}
        )
        assert not result.is_error, result.content
        image, caption = result.content
        assert isinstance(image, ImageContent) and isinstance(caption, TextContent)
        png = base64.b64decode(image.data)
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (100, 50)
        assert caption.text == "zoom 100x50 at 0,0"
        text = await env.fail("zoom", computer_id=env.c.id, x0=50, y0=0, x1=10, y1=10)
        assert "ActionError: zoom region (50, 0, 10, 10) must have x0 < x1" in text


async def test_agent_tools_report_typed_errors() -> None:
    async with mcp_env() as env:
        text = await env.fail("cursor_position", computer_id=env.c.id)
        assert "ActionError: the pointer position is not known yet" in text
        stopped = env.fake.add_computer(env.ws.id, "off", status="stopped")
        text = await env.fail("mouse_down", computer_id=stopped.id, x=1, y=1)
        assert "ComputerNotRunningError" in text or "WebSocketError" in text
