"""The emulator's scripted agent: turns an instruction into real actions on a computer.

Both ``/v1/chat/completions`` and the hosted-agent WebSocket run it. The default script
reads the instruction for these phrases, in the order they appear (case-insensitive):

==================================  =============================================
phrase                              action (as the action log records it)
==================================  =============================================
``double click 100, 200``           ``click`` with ``double: true``
``right click 100 200``             ``click`` with ``button: right``
``click (100, 200)`` / ``click at``   ``click``
``type "hello"`` / ``type 'hello'``   ``type``
``press Enter`` / ``press ctrl+c``  ``key``
```run `ls -la` ``` / ``run "ls"``  ``bash``
``scroll down 5`` / ``scroll up``   ``scroll``
``wait 1.5``                        ``wait``
==================================  =============================================

and always starts and ends with a screenshot. A custom ``fake.agent.script`` replaces it.
Actions go through the same code as the REST action endpoints, so they appear in
``fake.computer(id).actions`` and publish the same desktop events. An action the desktop
rejects (a click off screen) becomes an error tool result; the run goes on.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, Protocol

from ._rest_http import ApiError
from ._state import Action, FakeComputer
from ._state_agent import Step

__all__ = ["Desktop", "default_script", "describe", "perform", "usage_for"]

_PHRASES = re.compile(
    r"(?P<double>double[- ]click(?:\s+at)?\s*\(?\s*(?P<dx>\d+)\s*,?\s*(?P<dy>\d+)\s*\)?)"
    r"|(?P<right>right[- ]click(?:\s+at)?\s*\(?\s*(?P<rx>\d+)\s*,?\s*(?P<ry>\d+)\s*\)?)"
    r"|(?P<click>click(?:\s+at)?\s*\(?\s*(?P<cx>\d+)\s*,?\s*(?P<cy>\d+)\s*\)?)"
    r"|(?P<type>type\s+(?:\"(?P<t1>[^\"]*)\"|'(?P<t2>[^']*)'))"
    r"|(?P<key>press\s+(?P<k>[A-Za-z0-9_+\-]+))"
    r"|(?P<bash>run\s+(?:`(?P<b1>[^`]+)`|\"(?P<b2>[^\"]+)\"))"
    r"|(?P<scroll>scroll\s+(?P<sd>up|down)(?:\s+(?P<sa>\d+))?)"
    r"|(?P<wait>wait\s+(?P<w>\d+(?:\.\d+)?))",
    re.IGNORECASE,
)


class Desktop(Protocol):
    """What the agent drives: the REST action implementations
    (:class:`~._rest_desktop.DesktopRoutes`), so its actions are the endpoints' own."""

    def do_click(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]: ...
    def do_type(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]: ...
    def do_key(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]: ...
    def do_scroll(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]: ...
    def do_bash(self, c: FakeComputer, body: dict[str, Any]) -> Awaitable[dict[str, Any]]: ...
    def do_wait(self, c: FakeComputer, body: dict[str, Any]) -> Awaitable[dict[str, Any]]: ...
    def screenshot_png(self, c: FakeComputer) -> bytes: ...


def _step(m: re.Match[str]) -> Step:
    if m["double"]:
        return Step("double_click", {"coordinate": [int(m["dx"]), int(m["dy"])]})
    if m["right"]:
        return Step("right_click", {"coordinate": [int(m["rx"]), int(m["ry"])]})
    if m["click"]:
        return Step("left_click", {"coordinate": [int(m["cx"]), int(m["cy"])]})
    if m["type"]:
        return Step("type", {"text": m["t1"] if m["t1"] is not None else m["t2"]})
    if m["key"]:
        return Step("key", {"text": m["k"]})
    if m["bash"]:
        return Step("bash", {"command": m["b1"] or m["b2"]})
    if m["scroll"]:
        amount = int(m["sa"]) if m["sa"] else 3
        return Step("scroll", {"scroll_direction": m["sd"].lower(), "scroll_amount": amount})
    return Step("wait", {"duration": float(m["w"])})


def default_script(instruction: str, computer: FakeComputer) -> list[Step]:
    """Screenshot, the actions the instruction names (see the module doc), screenshot."""
    steps = [Step("screenshot")]
    steps.extend(_step(m) for m in _PHRASES.finditer(instruction))
    if len(steps) > 1:
        steps.append(Step("screenshot"))
    return steps


async def perform(desktop: Desktop, c: FakeComputer, step: Step) -> dict[str, Any]:
    """Do ``step`` on the computer; returns the tool result (``output`` or ``error``)."""
    p = step.params
    try:
        if step.action == "screenshot":
            c.actions.append(Action("screenshot", {"by": "agent"}))
            return {"output": "screenshot taken", "size": len(desktop.screenshot_png(c))}
        if step.action in ("left_click", "right_click", "double_click"):
            x, y = p["coordinate"]
            body: dict[str, Any] = {"x": x, "y": y, "button": "left"}
            if step.action == "right_click":
                body["button"] = "right"
            if step.action == "double_click":
                body["double"] = True
            return {"output": desktop.do_click(c, body)["details"]}
        if step.action == "type":
            return {"output": desktop.do_type(c, {"text": p["text"]})["details"]}
        if step.action == "key":
            return {"output": desktop.do_key(c, {"key": p["text"]})["details"]}
        if step.action == "scroll":
            body = {"direction": p["scroll_direction"], "amount": p["scroll_amount"]}
            body |= {"x": c.width // 2, "y": c.height // 2}
            return {"output": desktop.do_scroll(c, body)["details"]}
        if step.action == "wait":
            await desktop.do_wait(c, {"duration": p["duration"]})
            return {"output": f"waited {p['duration']}s"}
        if step.action == "bash":
            result = await desktop.do_bash(c, {"command": p["command"]})
            return {"output": result["output"], "exit_code": result["exit_code"]}
    except ApiError as e:
        return {"error": e.message}
    except (KeyError, TypeError, ValueError) as e:
        return {"error": f"bad step {step.action}: {e}"}
    return {"error": f"unknown action {step.action!r}"}


def describe(steps: list[Step]) -> str:
    """The agent's final answer: what it did."""
    done = []
    for s in steps:
        if s.action.endswith("click"):
            done.append(f"{s.action.replace('_', ' ')} at {tuple(s.params['coordinate'])}")
        elif s.action == "type":
            done.append(f"typed {s.params['text']!r}")
        elif s.action == "key":
            done.append(f"pressed {s.params['text']}")
        elif s.action == "bash":
            done.append(f"ran {s.params['command']!r}")
        elif s.action in ("scroll", "wait"):
            done.append(s.action + "ed" if s.action == "scroll" else "waited")
    if not done:
        return "I looked at the screen; there was nothing to do."
    return "Done: " + ", ".join(done) + "."


def usage_for(messages: list[dict[str, str]], answer: str, steps: int) -> dict[str, int]:
    """Deterministic token counts (words, scaled) for the ``usage`` block."""
    prompt = sum(len(m.get("content", "").split()) for m in messages) * 2 + 50 * steps
    completion = len(answer.split()) * 2 + 10 * steps
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
