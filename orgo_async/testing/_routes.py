"""Every route the emulator serves, in one table, and the application that serves them.

REST (reference §§3-10, 12) under ``/api``, each through the HTTP shell of
:mod:`._rest_http` (recording, faults, auth, documented errors); the handlers live in
:mod:`._rest_lifecycle` (workspaces and the computer lifecycle), :mod:`._rest_projects`
(legacy workspace power), :mod:`._rest_desktop` (what happens on the desktop),
:mod:`._rest_files` (files and the storage host), :mod:`._rest_templates` (templates and
legacy builds) and :mod:`._rest_chat` (completions, chat threads). The hosted agent's
``GET /ws/prompt`` (:mod:`._ws_agent`) is in the table too; the four desktop WebSockets of
§11, ``GET /desktops/{instance_id}/ws/{terminal,audio,events,websockify}``, are
registered by :func:`._ws_routes.add_websocket_routes`.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from aiohttp import web

from ._rest_chat import ChatApi, nested_errors
from ._rest_desktop import DesktopRoutes
from ._rest_files import FilesApi, upload_limit
from ._rest_http import Emulator, Handler, api_middleware
from ._rest_lifecycle import POWER_FROM, LifecycleRoutes
from ._rest_projects import project_power
from ._rest_templates import TemplatesApi
from ._ws_agent import AgentSockets
from ._ws_core import FakeLike, SessionHub
from ._ws_routes import add_websocket_routes

__all__ = ["OpenSockets", "build_app", "route_table"]

#: Request bodies above this are answered 413 (a pasted file fits; a runaway client not).
MAX_BODY = 2 * 1024 * 1024


def route_table(
    fake: Emulator, desk: DesktopRoutes, agent: AgentSockets
) -> list[tuple[str, str, Handler]]:
    """``(method, path, handler)`` for every route but the desktop WebSockets, bound to
    ``fake``; ``desk`` does what happens on the desktops (the agents act through it too),
    ``agent`` serves ``/ws/prompt``."""
    life = LifecycleRoutes(fake)
    files = FilesApi(fake)
    tpl = TemplatesApi(fake, life.remove_computer)
    chat = ChatApi(fake, desk)
    cid = "/api/computers/{id}"
    routes: list[tuple[str, str, Handler]] = []
    for base in ("/api/workspaces", "/api/projects"):  # /projects: the legacy alias (§3.5)
        routes += [
            ("POST", base, life.create_workspace),
            ("GET", base, life.list_workspaces),
            ("GET", base + "/{id}", life.get_workspace),
            ("DELETE", base + "/{id}", life.delete_workspace),
        ]
    routes += [
        ("GET", "/api/projects/by-name/{name}", life.workspace_by_name),
        ("POST", "/api/computers", life.create_computer),
        ("GET", cid, life.get_computer),
        ("DELETE", cid, life.delete_computer),
        ("GET", cid + "/vnc-password", life.vnc_password),
        ("POST", cid + "/ensure-running", life.ensure_running),
        ("POST", cid + "/start", life.start),
        ("POST", cid + "/stop", life.stop),
        ("POST", cid + "/restart", life.restart),
        ("POST", cid + "/clone", life.clone),
        ("PATCH", cid + "/move", life.move_workspace),
        ("PATCH", cid + "/resize", life.resize),
        ("GET", cid + "/auto-stop", life.get_auto_stop),
        ("PATCH", cid + "/auto-stop", life.set_auto_stop),
        ("GET", cid + "/screenshot", desk.screenshot),
    ]
    # click drag scroll type key move (the mouse) bash exec wait
    routes += [("POST", f"{cid}/{name}", desk.action(name)) for name in desk.actions]
    routes += [
        ("GET", cid + "/events", desk.event_catalog),
        ("POST", cid + "/stream/start", desk.stream_start),
        ("POST", cid + "/stream/stop", desk.stream_stop),
        ("GET", cid + "/stream/status", desk.stream_status),
        ("GET", "/api/storage/{path:.+}", desk.storage),
        ("*", "/api/desktops/{instance_id}/proxy/{endpoint:.*}", desk.proxy),
    ]
    # legacy workspace power (§3.5): every computer of the workspace
    routes += [
        ("POST", f"/api/projects/{{id}}/{op}", project_power(fake, life, op)) for op in POWER_FROM
    ]
    routes += [  # files (§8) and the storage host their pre-signed URLs point to
        ("POST", "/api/files/upload", files.upload),
        ("POST", "/api/files/export", files.export),
        ("GET", "/api/files", files.list_files),
        ("GET", "/api/files/download", files.download),
        ("DELETE", "/api/files/delete", files.delete),
        ("GET", "/storage/files/{id}", files.storage),
    ]
    tv = "/api/templates/{ns}/{name}/{version}"
    routes += [  # templates (§9); fixed words before the {ns}/{name} patterns they match
        ("GET", "/api/template-schema", tpl.schema),
        ("POST", "/api/templates/validate", tpl.validate),
        ("GET", "/api/templates", tpl.list_templates),
        ("POST", "/api/templates", tpl.publish),
        ("GET", "/api/templates/global", tpl.curated),
        ("GET", "/api/templates/global/{ns}/{name}", tpl.versions),
        ("POST", "/api/templates/run", tpl.run),
        ("DELETE", "/api/templates/run", tpl.stop_run),
        ("GET", "/api/templates/{ns}/{name}", tpl.versions),
        ("GET", tv, tpl.get_version),
        ("DELETE", tv, tpl.delete_version),
        ("POST", tv + "/build", tpl.build),
        ("GET", tv + "/build", tpl.build_status),
        ("DELETE", tv + "/build", tpl.cancel_build),
        ("GET", tv + "/build/events", tpl.build_events),
        ("POST", "/api/builds/create", tpl.legacy_create),  # the legacy build API
        ("POST", "/api/builds/update", tpl.legacy_update),
        ("GET", "/api/builds/latest", tpl.legacy_latest),
    ]
    routes += [  # the agent (§10): completions, chat threads, the hosted agent's socket
        ("POST", "/api/v1/chat/completions", chat.completions),
        ("GET", "/api/chat/threads", chat.list_threads),
        ("POST", "/api/chat/threads", chat.create_thread),
        ("GET", "/api/chat/threads/{id}", chat.get_thread),
        ("PATCH", "/api/chat/threads/{id}", chat.update_thread),
        ("DELETE", "/api/chat/threads/{id}", chat.delete_thread),
        ("POST", "/api/chat/threads/{id}/title", chat.title),
        ("GET", "/ws/prompt", agent.handler),
    ]
    return routes


class _Fake(Emulator, FakeLike, Protocol):
    """Both sides' contracts: what :func:`build_app` needs."""


class OpenSockets:
    """Every WebSocket the application holds open: the desktop channels' and the hosted
    agent's sessions."""

    def __init__(self, hub: SessionHub, agent: AgentSockets) -> None:
        self.hub = hub
        self.agent = agent

    async def close_all(self) -> None:
        """Close them all with 1001 and return once their handlers are done with them
        (:meth:`SessionHub.close_all <._ws_core.SessionHub.close_all>`)."""
        await asyncio.gather(self.hub.close_all(), self.agent.close_all())


def build_app(fake: _Fake) -> tuple[web.Application, OpenSockets]:
    """The emulator's ``aiohttp`` application, and its open WebSockets (closed by
    :meth:`FakeOrgo.close <orgo_async.testing.FakeOrgo.close>` before the server)."""
    # Outermost first: the upload limit must apply before the HTTP shell reads the body;
    # nested_errors rewrites the shell's flat errors under /api/v1/.
    middlewares = [nested_errors, upload_limit, api_middleware(fake)]
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY)
    desk = DesktopRoutes(fake)
    agent = AgentSockets(fake, desk)
    for method, path, handler in route_table(fake, desk, agent):
        app.router.add_route(method, path, handler)
    app.on_shutdown.append(agent.on_shutdown)
    hub = add_websocket_routes(app, fake)
    return app, OpenSockets(hub, agent)
