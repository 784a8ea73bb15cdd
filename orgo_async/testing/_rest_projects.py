"""The legacy project power routes: ``POST /api/projects/{id}/start|stop|restart`` (§3.5).

Listed in the v-A docs without their bodies. The emulator applies the per-computer
transition of :meth:`LifecycleRoutes.power <._rest_lifecycle.LifecycleRoutes.power>` to
every computer of the workspace whose state allows it (the states and delays of
``/computers/{id}/start|stop|restart``; others are skipped) and answers ``{"success":
true, "computers": [{"id", "status"}, ...]}`` with the computers it changed, each in its
status after the call. Only the deprecated ``/projects`` prefix serves them, as in the
legacy docs.
"""

from __future__ import annotations

from aiohttp import web

from ._rest_body import read_body
from ._rest_http import Emulator, Handler, json_response
from ._rest_lifecycle import POWER_FROM, LifecycleRoutes
from ._rest_objects import find_workspace

__all__ = ["project_power"]


def project_power(fake: Emulator, life: LifecycleRoutes, op: str) -> Handler:
    """The handler of ``POST /projects/{id}/<op>`` (``op``: start, stop or restart)."""
    allowed = POWER_FROM[op]

    async def handler(request: web.Request) -> web.Response:
        ws = find_workspace(fake, request, request.match_info["id"])
        await read_body(request)
        changed = [
            c
            for c in list(fake.world.computers.values())
            if c.workspace_id == ws.id and c.status in allowed
        ]
        for c in changed:
            life.power(c, op, via="project")
        return json_response(
            {"success": True, "computers": [{"id": c.id, "status": c.status} for c in changed]}
        )

    return handler
