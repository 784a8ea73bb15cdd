"""Every route the emulator serves, in one table, and the application that serves them.

REST (reference §§3-7, 12) under ``/api``, each through the HTTP shell of
:mod:`._rest_http` (recording, faults, auth, documented errors); the handlers live in
:mod:`._rest_lifecycle` (workspaces and the computer lifecycle) and :mod:`._rest_desktop`
(what happens on the desktop). The four WebSockets of §11,
``GET /desktops/{instance_id}/ws/{terminal,audio,events,websockify}``, are registered by
:func:`._ws_routes.add_websocket_routes`.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from ._rest_desktop import DesktopRoutes
from ._rest_http import Emulator, Handler, api_middleware
from ._rest_lifecycle import LifecycleRoutes
from ._ws_core import FakeLike, SessionHub
from ._ws_routes import add_websocket_routes

__all__ = ["build_app", "rest_routes"]

#: Request bodies above this are answered 413 (a pasted file fits; a runaway client not).
MAX_BODY = 2 * 1024 * 1024


def rest_routes(fake: Emulator) -> list[tuple[str, str, Handler]]:
    """``(method, path, handler)`` for every REST route, bound to ``fake``."""
    life = LifecycleRoutes(fake)
    desk = DesktopRoutes(fake)
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
    return routes


class _Fake(Emulator, FakeLike, Protocol):
    """Both sides' contracts: what :func:`build_app` needs."""


def build_app(fake: _Fake) -> tuple[web.Application, SessionHub]:
    """The emulator's ``aiohttp`` application, and the hub of its open WebSockets (closed
    by :meth:`FakeOrgo.close <orgo_async.testing.FakeOrgo.close>` before the server)."""
    app = web.Application(middlewares=[api_middleware(fake)], client_max_size=MAX_BODY)
    for method, path, handler in rest_routes(fake):
        app.router.add_route(method, path, handler)
    hub = add_websocket_routes(app, fake)
    return app, hub
