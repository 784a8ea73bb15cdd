"""OpenAI computer use: the Agents SDK's real ``Runner`` with ``ComputerTool`` driven by the
SDK's own ``ScriptedModel`` emitting computer calls, and ``run_computer_call`` for the
Responses API. Asserted: the emulator's action log, the ``computer_call_output``
screenshots, safety-check acknowledgement, and the provider's create/delete."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from orgo_async.agents import ActionError
from orgo_async.agents._image import decode_png
from orgo_async.agents.openai import SafetyCheckRejected, run_computer_call

from .conftest import (
    BACK_KEY,
    CTRL,
    FORWARD_KEY,
    LEFT,
    MIDDLE,
    SHIFT,
    WHEEL_UP,
    Env,
    click,
    nav,
    wheel,
)  # fmt: skip

agents = pytest.importorskip("agents")
from agents import Agent, ComputerTool, RunConfig, Runner  # noqa: E402
from agents.testing import ScriptedModel  # noqa: E402
from agents.testing.model import assistant_message  # noqa: E402
from openai.types.responses import ResponseComputerToolCall  # noqa: E402

from orgo_async.agents.openai import OrgoComputer, orgo_computer_provider  # noqa: E402


def computer_call(
    call_id: str, *actions: dict[str, Any], batched: bool = True, checks: Any = ()
) -> Any:
    item: dict[str, Any] = {
        "id": f"cu_{call_id}",
        "call_id": call_id,
        "type": "computer_call",
        "status": "completed",
        "pending_safety_checks": list(checks),
    }
    if batched:
        item["actions"] = list(actions)
    else:
        (item["action"],) = actions
    return ResponseComputerToolCall.model_validate(item)


def _png_of(image_url: str) -> tuple[int, int]:
    prefix = "data:image/png;base64,"
    assert image_url.startswith(prefix)
    width, height, _ = decode_png(base64.b64decode(image_url[len(prefix) :], validate=True))
    return width, height


def _outputs(model: ScriptedModel) -> dict[str, Any]:
    """computer_call_output items the model was given, by call id."""
    out: dict[str, Any] = {}
    for call in model.calls:
        for item in call.input if isinstance(call.input, list) else []:
            if isinstance(item, dict) and item.get("type") == "computer_call_output":
                out[item["call_id"]] = item
    return out


async def test_runner_drives_every_async_computer_method(env: Env) -> None:
    model = ScriptedModel(
        [
            [computer_call("c1", {"type": "screenshot"}, batched=False)],
            [
                computer_call(
                    "c2",
                    {"type": "click", "x": 10, "y": 20, "button": "left"},
                    {"type": "click", "x": 11, "y": 21, "button": "right"},
                    {"type": "click", "x": 12, "y": 22, "button": "wheel"},
                    {"type": "click", "x": 13, "y": 23, "button": "back"},
                    {"type": "click", "x": 14, "y": 24, "button": "forward"},
                    {"type": "click", "x": 15, "y": 25, "button": "left", "keys": ["SHIFT"]},
                    {"type": "double_click", "x": 16, "y": 26},
                )
            ],
            [
                computer_call(
                    "c3",
                    {"type": "scroll", "x": 100, "y": 200, "scroll_x": 0, "scroll_y": 250},
                    {"type": "scroll", "x": 100, "y": 200, "scroll_x": -100, "scroll_y": 0},
                    {"type": "move", "x": 300, "y": 301},
                    {
                        "type": "drag",
                        "path": [{"x": 1, "y": 1}, {"x": 5, "y": 1}, {"x": 5, "y": 9}],
                    },
                    {"type": "type", "text": "hello"},
                    {"type": "keypress", "keys": ["CTRL", "C"]},
                    {"type": "wait"},
                    {"type": "screenshot"},
                )
            ],
            [assistant_message("done")],
        ]
    )
    async with OrgoComputer(env.orgo, env.cid, wait_seconds=0.5) as computer:
        assert computer.dimensions == (1280, 720) and computer.environment == "ubuntu"
        agent = Agent(name="operator", model=model, tools=[ComputerTool(computer=computer)])
        result = await Runner.run(agent, "do things", run_config=RunConfig(tracing_disabled=True))
    assert result.final_output == "done"
    outputs = _outputs(model)
    assert set(outputs) == {"c1", "c2", "c3"}
    for item in outputs.values():
        assert item["output"]["type"] == "computer_screenshot"
        assert _png_of(item["output"]["image_url"]) == (1280, 720)

    log = env.log(screenshots=True)
    shot = ("screenshot", {"response_format": "base64"})
    drag = log[24:43]
    assert log[:24] == [
        shot,
        ("click", {"x": 10, "y": 20, "button": "left"}),
        ("click", {"x": 11, "y": 21, "button": "right"}),
        ("click", {"x": 12, "y": 22, "button": "middle"}),
        *nav(13, 23, BACK_KEY),
        *nav(14, 24, FORWARD_KEY),
        ("key", (True, SHIFT)),
        *click(15, 25),
        ("key", (False, SHIFT)),
        ("click", {"x": 16, "y": 26, "button": "left", "double": True}),
        shot,  # c2's output screenshot
        # 250 px down is 3 wheel clicks of 100 px; 100 px left is one, Shift held.
        ("scroll", {"direction": "down", "amount": 3, "x": 100, "y": 200}),
        *wheel(100, 200, WHEEL_UP, 1, held=SHIFT),
        ("move", {"x": 300, "y": 301}),
    ]
    assert drag[:2] == [("ptr", (0, 1, 1)), ("ptr", (LEFT, 1, 1))] and drag[-1] == (
        "ptr",
        (0, 5, 9),
    )
    assert len(drag) == 2 + 16 + 1  # move, press, 8 steps per segment, release
    assert log[43:] == [
        ("type", {"text": "hello"}),
        ("key", {"key": "ctrl+c"}),
        ("wait", {"duration": 0.5}),
        shot,  # the batch ended with a screenshot: reused as the output, not taken twice
    ]


async def test_provider_creates_a_computer_per_run_and_deletes_it(env: Env) -> None:
    ws = env.fake.add_workspace("runs")
    seen: list[str] = []

    def remember_computer(call: Any) -> Any:
        seen.extend(c.id for c in env.fake.world.computers.values() if c.workspace_id == ws.id)
        return [computer_call("p1", {"type": "click", "x": 3, "y": 4, "button": "left"})]

    model = ScriptedModel([{"responder": remember_computer}, [assistant_message("ok")]])
    tool = ComputerTool(computer=orgo_computer_provider(env.orgo, workspace_id=ws.id, ram=4))
    agent = Agent(name="operator", model=model, tools=[tool])
    result = await Runner.run(agent, "click", run_config=RunConfig(tracing_disabled=True))
    assert result.final_output == "ok"
    (created,) = seen
    assert created not in env.fake.world.computers  # deleted when the run ended
    (create,) = env.fake.requests_to("POST", "/computers")
    assert create.json["workspace_id"] == ws.id and create.json["ram"] == 4
    assert create.json["name"].startswith("agent-")
    assert env.fake.requests_to("DELETE", f"/computers/{created}")
    assert _png_of(_outputs(model)["p1"]["output"]["image_url"]) == (1280, 720)


async def test_provider_deletes_a_computer_that_never_starts(env: Env) -> None:
    ws = env.fake.add_workspace("broken")
    env.fake.faults.add("GET", "/computers/{id}", statuses=[404])
    provider = orgo_computer_provider(env.orgo, workspace_id=ws.id, timeout=5)
    with pytest.raises(Exception, match="404"):
        await provider.create(run_context=None)  # type: ignore[arg-type, misc]
    assert not [c for c in env.fake.world.computers.values() if c.workspace_id == ws.id]


async def test_run_computer_call_preview_and_batched_forms(env: Env) -> None:
    preview = {
        "type": "computer_call", "id": "cu_1", "call_id": "call_1", "status": "completed",
        "pending_safety_checks": [], "action": {"type": "click", "x": 5, "y": 6, "button": "left"},
    }  # fmt: skip
    out = await run_computer_call(env.orgo, env.cid, preview)
    assert out["type"] == "computer_call_output" and out["call_id"] == "call_1"
    assert "acknowledged_safety_checks" not in out
    assert _png_of(out["output"]["image_url"]) == (1280, 720)
    batched = computer_call(
        "call_2",
        {"type": "keypress", "keys": ["ctrl", "shift", "t"]},
        {"type": "scroll", "x": 1, "y": 1, "scroll_x": 0, "scroll_y": 0},
    )
    out2 = await run_computer_call(env.orgo, env.cid, batched)
    assert out2["call_id"] == "call_2"
    assert env.log(screenshots=True) == [
        ("click", {"x": 5, "y": 6, "button": "left"}),
        ("screenshot", {"response_format": "base64"}),
        ("key", {"key": "ctrl+shift+t"}),
        ("move", {"x": 1, "y": 1}),
        ("screenshot", {"response_format": "base64"}),
    ]


async def test_safety_checks_are_acknowledged_only_through_the_callback(env: Env) -> None:
    check = {"id": "sc_1", "code": "malicious_instructions", "message": "Be careful."}
    call = computer_call("call_s", {"type": "type", "text": "x"}, checks=[check])
    with pytest.raises(SafetyCheckRejected, match="on_safety_check") as info:
        await run_computer_call(env.orgo, env.cid, call)
    assert info.value.checks == [check]
    with pytest.raises(SafetyCheckRejected, match="malicious_instructions"):
        await run_computer_call(env.orgo, env.cid, call, on_safety_check=lambda c: False)
    assert env.log(screenshots=True) == []  # nothing ran

    asked: list[dict[str, Any]] = []

    async def approve(c: dict[str, Any]) -> bool:
        asked.append(c)
        return True

    out = await run_computer_call(env.orgo, env.cid, call, on_safety_check=approve)
    assert asked == [check]
    assert out["acknowledged_safety_checks"] == [check]
    assert env.log() == [("type", {"text": "x"})]


async def test_errors_are_typed_and_nothing_is_reported_done(env: Env) -> None:
    with pytest.raises(ActionError, match="unknown computer action type 'teleport'"):
        await run_computer_call(
            env.orgo, env.cid, {"call_id": "c", "actions": [{"type": "teleport"}]}
        )
    with pytest.raises(ActionError, match="unknown button"):
        await run_computer_call(
            env.orgo, env.cid,
            {"call_id": "c", "action": {"type": "click", "x": 1, "y": 1, "button": "thumb"}},
        )  # fmt: skip
    with pytest.raises(ActionError, match="keys must be"):
        await run_computer_call(
            env.orgo, env.cid, {"call_id": "c", "action": {"type": "keypress", "keys": []}}
        )
    assert env.log(screenshots=True) == []
    # A held key with a middle click goes over RFB with the mask for button 2.
    await run_computer_call(
        env.orgo, env.cid,
        {"call_id": "c", "action": {"type": "click", "x": 2, "y": 2, "button": "wheel", "keys": ["ctrl"]}},
    )  # fmt: skip
    assert env.log() == [("key", (True, CTRL)), *click(2, 2, MIDDLE), ("key", (False, CTRL))]


def test_importing_the_module_needs_no_agents_package() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import orgo_async.agents.openai, orgo_async.agents.anthropic;"
        "print(sorted(m for m in ('agents', 'openai', 'anthropic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
