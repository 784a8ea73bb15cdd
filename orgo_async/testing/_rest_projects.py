"""The legacy project power routes: ``POST /api/projects/{id}/start|stop|restart`` (§3.5).

Listed in the v-A docs without their bodies. The emulator applies the per-computer
transition to every computer of the workspace that is in a state allowing it (the same
states and delays as ``/computers/{id}/start|stop|restart``; others are skipped) and
answers ``{"success": true, "computers": [{"id", "status"}, ...]}`` with the computers
it changed. Only the deprecated ``/projects`` prefix serves them, as in the legacy docs.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ._rest import read_body
from ._rest_shared import find_workspace, json_response
from ._state import Action, FakeComputer

if TYPE_CHECKING:
    from ._server import FakeOrgo

__all__ = ["add_project_routes"]

# operation -> (states it applies to, transitional state, delay attribute of Timings)
_RULES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "start": (("stopped", "suspended"), "starting", "boot"),
    "stop": (("running", "suspended"), "stopping", "stop"),
    "restart": (("running", "stopped", "suspended"), "restarting", "restart"),
}


def _transition(fake: FakeOrgo, c: FakeComputer, op: str) -> None:
    _, middle, delay_name = _RULES[op]
    final = "stopped" if op == "stop" else "running"
    c.actions.append(Action(op, {"via": "project"}))
    c.set_status(middle)
    if op != "stop":
        c.rotate_password()  # like a single start/restart: open sockets get 4401
    delay = getattr(fake.timings, delay_name)

    def land() -> None:
        c.set_status(final)
        if final == "running":
            c.events.publish("screen_change", {"width": c.width, "height": c.height})

    if delay == 0:
        land()
        return

    async def later() -> None:
        await asyncio.sleep(delay)
        if c.status == middle:
            land()

    fake.spawn(later())


def add_project_routes(app: web.Application, fake: FakeOrgo) -> None:
    """Register the three legacy project power routes on ``app``."""

    def route(op: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            ws = find_workspace(fake, request, request.match_info["id"])
            await read_body(request)
            allowed = _RULES[op][0]
            changed = [
                c
                for c in list(fake.world.computers.values())
                if c.workspace_id == ws.id and c.status in allowed
            ]
            for c in changed:
                _transition(fake, c, op)
            return json_response(
                {"success": True, "computers": [{"id": c.id, "status": c.status} for c in changed]}
            )

        return handler

    for op in _RULES:
        app.router.add_post(f"/api/projects/{{id}}/{op}", route(op))
