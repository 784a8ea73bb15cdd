"""The README's Agents examples run as written, each in a fresh interpreter: the desktop is
the emulator they create, the model is a scripted Messages API / Responses API on
loopback (``ANTHROPIC_BASE_URL`` / ``OPENAI_BASE_URL``, which the SDKs read)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .messages_server import ScriptedClaude
from .responses_server import ScriptedResponses, computer_call, message

pytest.importorskip("anthropic")
pytest.importorskip("agents")

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"<!-- agents-example: ([\w-]+) -->\n```python\n(.*?)```", re.S)


def examples() -> dict[str, str]:
    section = (ROOT / "README.md").read_text().split("\n## Agents\n", 1)[1]
    return dict(_BLOCK.findall(section))


async def _run(code: str, claude: ScriptedClaude, openai: ScriptedResponses) -> str:
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": claude.base_url,
        "ANTHROPIC_API_KEY": "sk-ant-readme",
        "OPENAI_BASE_URL": openai.base_url,
        "OPENAI_API_KEY": "sk-readme",
        "OPENAI_AGENTS_DISABLE_TRACING": "1",  # no trace export to the internet
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(90):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()[-3000:]
    return out.decode()


def _claude(c: ScriptedClaude, o: ScriptedResponses) -> None:
    c.add_turn(c.tool_use(action="screenshot"))
    c.add_turn(c.tool_use(action="left_click", coordinate=[100, 100]))
    c.add_turn({"type": "text", "text": "Kernel checked."})


def _claude_loop(c: ScriptedClaude, o: ScriptedResponses) -> None:
    c.add_turn(c.tool_use(action="screenshot"))
    c.add_turn({"type": "text", "text": "Here it is."})


def _agents_sdk(c: ScriptedClaude, o: ScriptedResponses) -> None:
    o.add(computer_call("c1", {"type": "click", "x": 10, "y": 10, "button": "left"}))
    o.add(message("Opened."))


def _agents_provider(c: ScriptedClaude, o: ScriptedResponses) -> None:
    o.add(computer_call("p1", {"type": "type", "text": "uname -a"}))
    o.add(message("ok"))


def _responses(c: ScriptedClaude, o: ScriptedResponses) -> None:
    check = {"id": "sc1", "code": "irrelevant_domain", "message": "Check it."}
    o.add(computer_call("r1", {"type": "keypress", "keys": ["CTRL", "ALT", "T"]}, checks=[check]))
    o.add(message("Terminal open."))


SCRIPTS: dict[str, tuple[Callable[[ScriptedClaude, ScriptedResponses], None], list[str]]] = {
    "claude": (_claude, ["Kernel checked. 3 end_turn", "'screenshot', 'click'"]),
    "claude-loop": (_claude_loop, ["'computer_20251124'", "'enable_zoom': True"]),
    "agents-sdk": (_agents_sdk, ["(1280, 720) ubuntu", "Opened.", "'click', 'screenshot'"]),
    "agents-provider": (_agents_provider, ["ok 0"]),
    "responses": (_responses, ["safety check: irrelevant_domain Check it.", "Terminal open."]),
}


def test_every_example_is_covered() -> None:
    assert set(examples()) == set(SCRIPTS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SCRIPTS))
async def test_readme_example_runs(name: str) -> None:
    script, expected = SCRIPTS[name]
    async with ScriptedClaude() as claude, ScriptedResponses() as openai:
        script(claude, openai)
        out = await _run(examples()[name], claude, openai)
        requests: list[Any] = [*claude.requests, *openai.requests]
        assert not claude.turns and not openai.outputs, out  # the whole script was used
    for text in expected:
        assert text in out, out
    assert requests
    if name == "responses":
        # The second request carried the screenshot and the acknowledged check.
        (output,) = openai.requests[1].body["input"]
        assert output["type"] == "computer_call_output" and output["call_id"] == "r1"
        assert output["output"]["image_url"].startswith("data:image/png;base64,")
        assert output["acknowledged_safety_checks"][0]["id"] == "sc1"
        assert openai.requests[1].body["previous_response_id"] == "resp_1"
