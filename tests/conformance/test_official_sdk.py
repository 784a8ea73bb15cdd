"""Conformance: the official ``orgo`` SDK from PyPI (0.0.47) runs unchanged against FakeOrgo.

The SDK runs in a subprocess on Python 3.12+ in a cached venv (``_runner.py`` says where
from). The test skips only when no such interpreter exists; a failing venv or pip install
is a failure.

The script runs twice: against the *default* emulator (what a user gets: create answers
``running`` as v-C documents, restart passes through ``restarting`` for a few tens of
milliseconds) and with instant transitions. The official SDK acts on a computer right
after creating it, which only works because the create answer says ``running``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orgo_async.testing import FakeComputer, FakeOrgo, Timings

from ._runner import run_script

pytestmark = pytest.mark.conformance

SCRIPT = Path(__file__).with_name("official_client.py")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("timings", [None, Timings.instant()], ids=["default", "instant"])
async def test_official_sdk_runs_unchanged(official_python: str, timings: Timings | None) -> None:
    async with FakeOrgo(timings=timings) as fake:
        seen: list[FakeComputer] = []

        def on_exec(code: str, computer: FakeComputer) -> dict[str, Any]:
            seen.append(computer)  # keep the computer: destroy() removes it from the world
            return {"output": "ok\n", "success": True}

        fake.on_exec(on_exec)
        result = await run_script(official_python, SCRIPT, fake.base_url, fake.api_key)

        # What the SDK got back.
        assert result["left_click"] == {
            "success": True,
            "action": "click",
            "details": {"x": 100, "y": 200, "button": "left", "double": False},
        }
        assert result["double_click"]["action"] == "double_click"
        assert result["type"]["details"] == {"text_length": 12}
        assert result["key"] == {
            "success": True,
            "action": "key_press",
            "details": {"key": "Enter"},
        }
        assert result["screenshot_size"] == [1280, 720]
        assert result["screenshot_base64_len"] > 100
        assert result["bash"] == "conformance\n"
        assert result["exec"] == {
            "action": "exec",
            "output": "ok\n",
            "success": True,
            "timeout": False,
        }
        assert result["wait"] == {"success": True, "action": "wait"}
        assert result["status"] == "running"
        assert result["restart"] == {"success": True, "status": "restarting"}
        assert result["status_after_restart"] == "running"
        assert set(result["statuses_after_restart"]) <= {"restarting", "running"}
        polls = len(result["statuses_after_restart"])
        if timings is not None:  # instant: running at the first look
            assert polls == 1
        assert result["destroy"] == {"success": True}

        # What the emulator's desktop was asked to do: exactly what the SDK sent.
        assert len(seen) == 1
        computer = seen[0]
        assert computer.id == result["computer_id"]
        assert [(a.name, a.body) for a in computer.actions] == [
            ("click", {"button": "left", "x": 100, "y": 200}),
            ("click", {"button": "right", "x": 110, "y": 210}),
            ("click", {"button": "left", "x": 120, "y": 220, "double": True}),
            ("type", {"text": "Hello, Orgo!"}),
            ("key", {"key": "Enter"}),
            ("scroll", {"direction": "down", "amount": 3, "x": 640, "y": 360}),
            (
                "drag",
                {
                    "start_x": 10,
                    "start_y": 20,
                    "end_x": 300,
                    "end_y": 400,
                    "button": "left",
                    "duration": 0.5,
                },
            ),
            ("screenshot", {"response_format": "base64"}),
            ("screenshot", {"response_format": "base64"}),
            ("bash", {"command": "echo conformance"}),
            ("exec", {"code": "print('ok')", "timeout": 10}),
            ("wait", {"duration": 0.1}),
            ("restart", {}),
        ]
        assert computer.status == "deleting" and computer.id not in fake.world.computers

        # The HTTP conversation, in order, with the headers the SDK documents (§1.2, §13).
        cid = computer.id
        calls = [(r.method, r.path.removeprefix("/api")) for r in fake.requests]
        assert calls[:3] == [("GET", "/projects"), ("POST", "/projects"), ("POST", "/computers")]
        assert calls[-3 - polls :] == [
            ("GET", f"/computers/{cid}"),
            ("POST", f"/computers/{cid}/restart"),
            *[("GET", f"/computers/{cid}")] * polls,
            ("DELETE", f"/computers/{cid}"),
        ]
        create = fake.requests[2].json
        ws_id = create["workspace_id"]
        assert create == {
            "workspace_id": ws_id,
            "name": "official-sdk",
            "os": "linux",
            "gpu": "none",
        }
        assert fake.world.workspaces[ws_id].name == result["project"]
        for r in fake.requests:
            assert r.headers["Authorization"] == f"Bearer {fake.api_key}"
            assert r.headers["Accept"] == "application/json"
