"""Conformance: the official SDK's ``Computer(template=...)`` and ``Computer.prompt()``
(hosted-agent provider) run unchanged against FakeOrgo.

The template is registered the legacy way the official ``Template.build()`` does
(``/builds/create`` then ``/builds/update`` ``completed``), here through our own
``orgo.templates.legacy`` in a workspace called ``templates`` (the official default);
the SDK then finds its image through ``/builds/latest`` and passes it to create. Its
``prompt()`` talks to the emulator's ``/ws/prompt``: the hard-coded agent URL is the
one setting changed from outside (see ``official_agent_client.py``). The same
interpreter and cached venv as ``test_official_sdk.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orgo_async.testing import FakeOrgo, Timings

from ._runner import run_script

pytestmark = pytest.mark.conformance

SCRIPT = Path(__file__).with_name("official_agent_client.py")
INSTRUCTION = 'click 100, 200 then type "hello from the agent" and press Enter'


@pytest.mark.timeout(600)
async def test_official_template_and_prompt_run_unchanged(official_python: str) -> None:
    async with FakeOrgo(timings=Timings.instant()) as fake, fake.client() as orgo:
        templates_ws = await orgo.workspaces.create(name="templates")
        build = await orgo.templates.legacy.create(templates_ws.id, "data-science")
        assert build.id is not None
        await orgo.templates.legacy.update(build.id, "completed", logs="pushed")
        assert build.image_ref is not None and build.image_ref.startswith("registry.fly.io/")
        fake.agent.credits_cents = 5  # exactly the first run's five steps

        agent_origin = "ws" + fake.origin.removeprefix("http")
        result = await run_script(
            official_python, SCRIPT, fake.base_url, fake.api_key, agent_origin, "data-science"
        )

        # Computer(template=...): the image came from /builds/latest and went to create.
        create = next(r for r in fake.requests if (r.method, r.path) == ("POST", "/api/computers"))
        assert create.json["image"] == build.image_ref
        latest = next(r for r in fake.requests if r.path == "/api/builds/latest")
        assert latest.query["name"] == "data-science"
        assert latest.query["orgId"] == fake.world.user_id

        # prompt(): the scripted agent really acted on the computer, in order.
        computer = fake.computer(result["computer_id"])
        assert computer.image == build.image_ref
        assert [(a.name, a.body) for a in computer.actions] == [
            ("screenshot", {"by": "agent"}),
            ("click", {"x": 100, "y": 200, "button": "left"}),
            ("type", {"text": "hello from the agent"}),
            ("key", {"key": "Enter"}),
            ("screenshot", {"by": "agent"}),
        ]
        assert [(r.via, r.computer_id, r.cost_cents) for r in fake.agent.runs] == [
            ("websocket", computer.id, 5)
        ]
        assert result["messages"] == [
            {"role": "user", "content": INSTRUCTION},
            {
                "role": "assistant",
                "content": "Done: left click at (100, 200), typed 'hello from the agent', "
                "pressed Enter.",
            },
        ]
        kinds = [kind for kind, _ in result["events"]]
        assert kinds[0] == "status" and kinds[-2:] == ["text", "result"]
        assert ["tool_use", {"action": "left_click", "params": {"coordinate": [100, 200]}}] in (
            result["events"]
        )
        # The second prompt found the credits exhausted: the SDK raised the agent's error.
        assert "credits_exhausted" in result["prompt_error"]
        assert fake.agent.credits_cents == 0

        # The token on the socket was the API key, and only there.
        sockets = [r for r in fake.requests if r.path == "/ws/prompt"]
        assert len(sockets) == 2
        assert all(r.query["token"] == fake.api_key for r in sockets)
        assert fake.api_key not in repr(sockets[0])
