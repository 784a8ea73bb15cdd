"""Claude computer use: ``anthropic.AsyncAnthropic`` against a scripted Messages API on
loopback, the tools executed on the emulator. Asserted: the beta flag and tool specs
sent, the ``tool_result`` blocks that come back (images decode as PNGs of the right
size), errors as ``is_error`` results, and the emulator's action log, in order."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from orgo_async.agents._image import decode_png, image_size
from orgo_async.agents.anthropic import ComputerUseTools, prune_screenshots, run_claude
from tests.conftest import eventually

from .conftest import CTRL, LEFT, SHIFT, WHEEL_UP, Env, click, wheel
from .messages_server import ScriptedClaude

anthropic = pytest.importorskip("anthropic")

MODEL = "claude-sonnet-4-6"
SPEC_20251124 = {
    "type": "computer_20251124",
    "name": "computer",
    "display_width_px": 1280,
    "display_height_px": 720,
    "enable_zoom": True,
}
BASH = {"type": "bash_20250124", "name": "bash"}


@pytest.fixture
async def claude() -> AsyncIterator[ScriptedClaude]:
    async with ScriptedClaude() as srv:
        yield srv


def client_for(srv: ScriptedClaude) -> Any:
    return anthropic.AsyncAnthropic(api_key="sk-ant-test", base_url=srv.base_url, max_retries=0)


def _png(block: dict[str, Any]) -> tuple[int, int]:
    """The size of a tool result's image block, checking it really is a PNG."""
    assert block["type"] == "image"
    assert block["source"]["type"] == "base64" and block["source"]["media_type"] == "image/png"
    data = base64.b64decode(block["source"]["data"], validate=True)
    width, height, rgb = decode_png(data)
    assert len(rgb) == width * height * 3
    return image_size(data)


def _texts(result: dict[str, Any]) -> str:
    content = result["content"]
    if isinstance(content, str):  # text-only results are sent in the string form
        return content
    return " ".join(b["text"] for b in content if b["type"] == "text")


async def test_every_action_of_computer_20251124_and_bash(env: Env, claude: ScriptedClaude) -> None:
    env.fake.on_bash(lambda command, computer: "hi\n" if command == "echo hi" else "")
    c = claude.tool_use
    turns = [
        [c(action="screenshot")],
        [
            c(action="mouse_move", coordinate=[100, 100]),
            c(action="left_click", coordinate=[10, 20]),
            c(action="right_click", coordinate=[11, 21]),
            c(action="middle_click", coordinate=[12, 22]),
            c(action="double_click", coordinate=[13, 23]),
            c(action="triple_click", coordinate=[14, 24]),
        ],
        [
            c(action="left_click", coordinate=[15, 25], text="ctrl"),
            c(action="left_click_drag", start_coordinate=[30, 30], coordinate=[40, 50]),
            c(action="left_mouse_down"),
            c(action="mouse_move", coordinate=[60, 70]),
            c(action="left_mouse_up"),
        ],
        [
            c(action="scroll", scroll_direction="down", scroll_amount=3, coordinate=[200, 100]),
            c(action="scroll", scroll_direction="left", scroll_amount=2),
            c(
                action="scroll",
                scroll_direction="up",
                scroll_amount=1,
                coordinate=[5, 5],
                text="shift",
            ),
        ],
        [
            c(action="key", text="ctrl+shift+t"),
            c(action="type", text="hello"),
            c(action="hold_key", text="shift", duration=0),
            c(action="wait", duration=1),
            c(action="cursor_position"),
        ],
        [
            c(action="zoom", region=[0, 0, 320, 180]),
            c("bash", command="echo hi"),
            c("bash", restart=True),
        ],
        [
            c(action="fly"),
            c(action="left_click", coordinate=[5000, 5]),
            c(action="left_click", coordinate=[1, 1], bogus=True),
            c(action="key"),
            c("browser", action="open"),
        ],
    ]
    for turn in turns:
        claude.add_turn(*turn)
    claude.add_turn({"type": "text", "text": "Done."})

    async with client_for(claude) as client:
        run = await run_claude(
            env.orgo, env.cid, "Exercise every action", client=client, model=MODEL,
            keep_screenshots=1,
        )  # fmt: skip

    assert (run.final_text, run.iterations, run.stop_reason) == ("Done.", 8, "end_turn")
    assert run.usage == {"input_tokens": 800, "output_tokens": 80}
    reqs = claude.requests
    assert len(reqs) == 8
    for req in reqs:
        assert req.betas == ["computer-use-2025-11-24"]
        assert req.body["tools"] == [SPEC_20251124, BASH]
        assert req.body["model"] == MODEL and req.body["max_tokens"] == 4096
        assert "1280x720" in req.body["system"]
    assert reqs[0].body["messages"] == [{"role": "user", "content": "Exercise every action"}]

    # Each request answers the previous turn's tool_use blocks, in order, by id.
    results = [req.tool_results() for req in reqs[1:]]
    for turn, got in zip(turns, results, strict=True):
        assert [r["tool_use_id"] for r in got] == [b["id"] for b in turn]
    _shot, moves, held, scrolls, keys, extras, errors = results
    # The first screenshot was pruned from the history by the time it was re-sent...
    assert [b["type"] for b in reqs[1].tool_results()[0]["content"]] == ["image"]
    assert _png(reqs[1].tool_results()[0]["content"][0]) == (1280, 720)
    assert reqs[-1].body["messages"][2]["content"][0]["content"] == [
        {"type": "text", "text": "[older screenshot removed]"}
    ]
    assert all(not r.get("is_error") for r in [*moves, *held, *scrolls, *keys, *extras])
    assert _texts(keys[4]) == "X=5,Y=5"
    assert _png(extras[0]["content"][0]) == (320, 180)  # zoom: the region, native size
    assert _texts(extras[1]) == "hi\n"
    assert "restarted" in _texts(extras[2])
    assert all(r["is_error"] for r in errors)
    messages = [_texts(r) for r in errors]
    assert "unknown action 'fly'" in messages[0] and "left_click" in messages[0]
    assert "outside the 1280x720 display" in messages[1]
    assert "unexpected parameter(s) for left_click: bogus" in messages[2]
    assert "key needs text" in messages[3]
    assert "unknown tool 'browser'" in messages[4]

    assert env.log(screenshots=True) == [
        ("screenshot", {"response_format": "base64"}),
        ("move", {"x": 100, "y": 100}),
        ("click", {"x": 10, "y": 20, "button": "left"}),
        ("click", {"x": 11, "y": 21, "button": "right"}),
        ("click", {"x": 12, "y": 22, "button": "middle"}),
        ("click", {"x": 13, "y": 23, "button": "left", "double": True}),
        ("ptr", (0, 14, 24)),
        *[("ptr", (m, 14, 24)) for m in (LEFT, 0, LEFT, 0, LEFT, 0)],
        ("key", (True, CTRL)),
        *click(15, 25),
        ("key", (False, CTRL)),
        ("drag", {"start_x": 30, "start_y": 30, "end_x": 40, "end_y": 50, "button": "left",
                  "duration": 0.5}),
        ("ptr", (LEFT, 40, 50)),
        ("ptr", (LEFT, 60, 70)),
        ("ptr", (0, 60, 70)),
        ("scroll", {"direction": "down", "amount": 3, "x": 200, "y": 100}),
        *wheel(200, 100, WHEEL_UP, 2, held=SHIFT),  # left: the wheel with Shift held
        *wheel(5, 5, WHEEL_UP, 1, held=SHIFT),
        ("key", {"key": "ctrl+shift+t"}),
        ("type", {"text": "hello"}),
        ("key", (True, SHIFT)),
        ("key", (False, SHIFT)),
        ("wait", {"duration": 1.0}),
        ("screenshot", {"response_format": "base64"}),
        ("bash", {"command": "echo hi"}),
    ]  # fmt: skip


async def test_version_20250124(env: Env, claude: ScriptedClaude) -> None:
    c = claude.tool_use
    claude.add_turn(
        c(action="left_click", coordinate=[7, 8], key="ctrl"),  # 20250124 names it "key"
        c(action="zoom", region=[0, 0, 10, 10]),
    )
    claude.add_turn({"type": "text", "text": "ok"})
    async with client_for(claude) as client:
        run = await run_claude(
            env.orgo, env.cid, "x", client=client, model=MODEL, version="20250124"
        )
    assert run.final_text == "ok"
    first = claude.requests[0]
    assert first.betas == ["computer-use-2025-01-24"]
    assert first.body["tools"] == [
        {"type": "computer_20250124", "name": "computer", "display_width_px": 1280,
         "display_height_px": 720},
        BASH,
    ]  # fmt: skip
    clicked, zoom = claude.requests[1].tool_results()
    assert not clicked.get("is_error")
    assert zoom["is_error"] and "unknown action 'zoom' for computer_20250124" in _texts(zoom)
    assert env.log() == [("key", (True, CTRL)), *click(7, 8), ("key", (False, CTRL))]


@pytest.mark.parametrize("status", [400, 409, 500])
async def test_api_errors_become_is_error_and_the_loop_goes_on(
    env: Env, claude: ScriptedClaude, status: int
) -> None:
    env.fake.faults.add("POST", "/computers/{id}/click", statuses=[status])
    c = claude.tool_use
    claude.add_turn(c(action="left_click", coordinate=[1, 2]))
    claude.add_turn(c(action="left_click", coordinate=[3, 4]))
    claude.add_turn({"type": "text", "text": "done"})
    async with client_for(claude) as client:
        run = await run_claude(env.orgo, env.cid, "x", client=client, model=MODEL)
    assert run.final_text == "done"
    (failed,) = claude.requests[1].tool_results()
    (passed,) = claude.requests[2].tool_results()
    assert failed["is_error"] is True
    error_name = {400: "BadRequestError", 409: "ConflictError", 500: "InternalServerError"}
    assert _texts(failed).startswith(f"Error: {error_name[status]}: {status}")
    assert not passed.get("is_error")
    assert env.log() == [("click", {"x": 3, "y": 4, "button": "left"})]


async def test_4401_on_the_rfb_channel_mid_episode(env: Env, claude: ScriptedClaude) -> None:
    # The websockify socket is closed with 4401 right after the RFB handshake: the first
    # RFB action cannot be confirmed (is_error), the next one runs on a new session.
    env.fake.add_ws_fault(env.cid, "websockify", 4401, after_frames=5, reason="rotated")
    c = claude.tool_use
    claude.add_turn(c(action="triple_click", coordinate=[5, 5]))
    claude.add_turn(c(action="triple_click", coordinate=[6, 6]))
    claude.add_turn({"type": "text", "text": "done"})
    tools = ComputerUseTools(env.orgo, env.cid)
    async with client_for(claude) as client, tools:
        run = await run_claude(env.orgo, env.cid, "x", client=client, model=MODEL, tools=tools)
        session = tools.desktop.rfb
        assert session is not None and session.handshakes == 2
    assert run.final_text == "done"
    (lost,) = claude.requests[1].tool_results()
    (ok,) = claude.requests[2].tool_results()
    assert lost["is_error"] and "SessionLostError" in _texts(lost)
    assert "may not have reached the desktop" in _texts(lost)
    assert not ok.get("is_error")
    assert env.log()[-7:] == [("ptr", (0, 6, 6)), *[("ptr", (m, 6, 6)) for m in (1, 0) * 3]]


async def test_password_rotation_mid_episode_redoes_the_handshake(env: Env) -> None:
    def block(i: int, action: str) -> dict[str, Any]:
        args = {"action": action, "coordinate": [9, 9]}
        return {"type": "tool_use", "id": f"t{i}", "name": "computer", "input": args}

    async with ComputerUseTools(env.orgo, env.cid) as tools:
        first = await tools.run(block(1, "left_mouse_down"))
        old = env.computer.vnc_password
        new = env.fake.rotate_password(env.cid)  # open sockets close with 4401
        session = tools.desktop.rfb
        assert session is not None
        await eventually(lambda: not session.alive)
        second = await tools.run(block(2, "left_mouse_up"))
        assert session.handshakes == 2
    assert not first.get("is_error") and not second.get("is_error"), second
    assert old != new
    assert env.log() == [("ptr", (1, 9, 9)), ("ptr", (0, 9, 9))]


async def test_run_accepts_sdk_blocks_and_runs_in_anthropics_tool_runner(
    env: Env, claude: ScriptedClaude
) -> None:
    c = claude.tool_use
    claude.add_turn(c(action="left_click", coordinate=[2, 3]), c(action="fly"))
    claude.add_turn({"type": "text", "text": "finished"})
    async with client_for(claude) as client, ComputerUseTools(env.orgo, env.cid) as tools:
        runner = client.beta.messages.tool_runner(
            model=MODEL,
            max_tokens=1024,
            messages=[{"role": "user", "content": "click"}],
            tools=tools.runner_tools(),
            betas=tools.betas,
        )
        final = await runner.until_done()
        # The SDK's own block objects work with tools.run() as well.
        block = anthropic.types.beta.BetaToolUseBlock(
            id="toolu_x", name="computer", input={"action": "cursor_position"}, type="tool_use"
        )
        position = await tools.run(block)
    assert final.content[0].text == "finished"
    sent = claude.requests[0].body
    assert sent["tools"] == [SPEC_20251124, BASH]
    clicked, unknown = claude.requests[1].tool_results()
    assert not clicked.get("is_error") and unknown["is_error"]
    assert "unknown action 'fly'" in str(unknown["content"])
    assert position == {
        "type": "tool_result", "tool_use_id": "toolu_x",
        "content": "X=2,Y=3",
    }  # fmt: skip
    assert env.log() == [("click", {"x": 2, "y": 3, "button": "left"})]


async def test_max_iterations_and_cancellation(env: Env, claude: ScriptedClaude) -> None:
    for _ in range(3):
        claude.add_turn(claude.tool_use(action="mouse_move", coordinate=[1, 1]))
    async with client_for(claude) as client:
        run = await run_claude(env.orgo, env.cid, "x", client=client, model=MODEL, max_iterations=2)
        assert (run.iterations, run.stop_reason) == (2, "max_iterations")
        assert len(claude.requests) == 2
        # Cancelling a run in the middle of a long tool call ends it at once.
        claude.add_turn(claude.tool_use(action="wait", duration=30))
        env.fake.timings.wait_scale = 1.0
        task = asyncio.create_task(run_claude(env.orgo, env.cid, "y", client=client, model=MODEL))
        await eventually(lambda: env.log()[-1:] == [("wait", {"duration": 30.0})])
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_params_need_the_size_and_secrets_stay_out_of_results(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = ComputerUseTools(env.orgo, env.cid)
    with pytest.raises(RuntimeError, match=r"await tools\.open"):
        _ = tools.params
    with pytest.raises(ValueError, match="version"):
        ComputerUseTools(env.orgo, env.cid, version="2024")  # type: ignore[arg-type]
    password = env.computer.vnc_password
    # The API answering garbage that echoes the VNC password: a typed error, redacted.
    env.fake.faults.malformed("POST", "/computers/{id}/bash", body=b"<html>" + password.encode())
    async with tools:
        decoded = await tools.run(
            {"type": "tool_use", "id": "t1", "name": "bash", "input": {"command": "ls"}}
        )

        async def broken(command: str, **kw: object) -> None:
            raise RuntimeError(f"could not reach desktop with token {password}")

        monkeypatch.setattr(tools.desktop, "bash", broken)
        unexpected = await tools.run(
            {"type": "tool_use", "id": "t2", "name": "bash", "input": {"command": "ls"}}
        )
        not_object = await tools.run({"type": "tool_use", "id": "t3", "name": "bash", "input": []})
    assert decoded["is_error"] and "APIDecodeError" in _texts(decoded)
    assert unexpected["is_error"] and "RuntimeError: could not reach desktop" in _texts(unexpected)
    assert password not in str(decoded) and password not in str(unexpected)
    assert not_object["is_error"] and "tool input must be an object" in _texts(not_object)


def test_prune_screenshots_keeps_the_newest() -> None:
    def shot(i: int) -> dict[str, Any]:
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": str(i)},
        }

    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "go"},
        *[
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": str(i),
                                          "content": [shot(i)]}]}
            for i in range(4)
        ],
    ]  # fmt: skip
    assert prune_screenshots(messages, 2) == 2
    kept = [m["content"][0]["content"][0] for m in messages[1:]]
    assert [k.get("source", {}).get("data") for k in kept] == [None, None, "2", "3"]
    assert prune_screenshots(messages, 2) == 0


async def test_screenshot_after_action(env: Env) -> None:
    async with ComputerUseTools(env.orgo, env.cid, screenshot_after_action=True) as tools:
        clicked = await tools.run(
            {"type": "tool_use", "id": "a", "name": "computer",
             "input": {"action": "left_click", "coordinate": [4, 5]}}
        )  # fmt: skip
        where = await tools.run(
            {
                "type": "tool_use",
                "id": "b",
                "name": "computer",
                "input": {"action": "cursor_position"},
            }
        )
    text, image = clicked["content"]
    assert text == {"type": "text", "text": "left click at (4, 5)"}
    assert _png(image) == (1280, 720)
    assert where["content"] == "X=4,Y=5"  # no screenshot for a read-only action
    assert env.log(screenshots=True) == [
        ("click", {"x": 4, "y": 5, "button": "left"}),
        ("screenshot", {"response_format": "base64"}),
    ]
