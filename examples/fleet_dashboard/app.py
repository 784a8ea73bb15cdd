"""The fleet dashboard: a FastAPI app with one page (fleet list with live status, the
selected computer's live desktop through noVNC and its terminal through xterm.js).

Everything secret stays here: the API key is in the app's one ``AsyncOrgo``; the
``vnc_password`` of each computer is used only by the relays, which speak to Orgo for
the browser. The page talks to this app alone, guarded by the app's own session cookie
(a stand-in for your real auth).

Run it with ``make example`` (against the emulator) or, against Orgo::

    ORGO_API_KEY=sk_live_... uvicorn examples.fleet_dashboard.app:app
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgspec
from fastapi import Depends, FastAPI, HTTPException, WebSocket
from fastapi.responses import FileResponse, StreamingResponse
from starlette.requests import HTTPConnection
from starlette.staticfiles import StaticFiles

from orgo_async import AsyncOrgo
from orgo_async.web import (
    CancelOnDisconnect,
    OrgoDep,
    add_exception_handlers,
    orgo_lifespan,
    relay_terminal,
    relay_vnc,
)

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
VENDOR = HERE / "node_modules"


def create_app(
    client: Callable[[], AsyncOrgo] | None = None, *, watch_interval: float = 2.0
) -> FastAPI:
    """The app. ``client`` builds its ``AsyncOrgo`` (default: from ``ORGO_API_KEY``)."""
    if not (VENDOR / "@novnc" / "novnc" / "core" / "rfb.js").exists():
        raise RuntimeError(
            f"the front-end libraries are not installed: run `make example` or `npm ci` in {HERE}"
        )
    session = secrets.token_urlsafe(24)  # the demo's "login": a cookie set by the page

    app = FastAPI(title="Orgo fleet dashboard", lifespan=orgo_lifespan(client))
    add_exception_handlers(app)
    app.add_middleware(CancelOnDisconnect)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/vendor", StaticFiles(directory=VENDOR), name="vendor")

    def signed_in(conn: HTTPConnection) -> bool:
        return hmac.compare_digest(conn.cookies.get("session", ""), session)

    def require_session(request: HTTPConnection) -> None:
        if not signed_in(request):
            raise HTTPException(401, "sign in first (load the page)")

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        page = FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})
        page.set_cookie("session", session, httponly=True, samesite="strict")
        return page

    @app.get("/api/computers", dependencies=[Depends(require_session)])
    async def computers(orgo: OrgoDep) -> list[dict[str, Any]]:
        # Only what the page shows: never a Computer as is (it carries vnc_password).
        return [
            {"id": c.id, "name": c.name, "status": c.status, "workspace": ws.name}
            for ws in await orgo.workspaces.list()
            for c in ws.desktops
        ]

    @app.post("/api/computers/{computer_id}/restart", dependencies=[Depends(require_session)])
    async def restart(computer_id: str, orgo: OrgoDep) -> dict[str, str]:
        await orgo.computers.restart(computer_id)
        return {"status": "restarting"}

    @app.get("/api/computers/status", dependencies=[Depends(require_session)])
    async def status_stream(orgo: OrgoDep) -> StreamingResponse:
        ids = [c.id for ws in await orgo.workspaces.list() for c in ws.desktops]

        async def events() -> AsyncIterator[bytes]:
            async with orgo.computers.watch(ids, interval=watch_interval) as changes:
                async for ch in changes:
                    if ch.status is not None:
                        data = {"id": ch.id, "status": ch.status}
                        yield b"data: " + msgspec.json.encode(data) + b"\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.websocket("/ws/computers/{computer_id}/vnc")
    async def vnc(websocket: WebSocket, computer_id: str, orgo: OrgoDep) -> None:
        if not signed_in(websocket):
            await websocket.close(1008, "sign in first")
            return
        await relay_vnc(websocket, lambda: orgo.connect(computer_id))

    @app.websocket("/ws/computers/{computer_id}/terminal")
    async def terminal(websocket: WebSocket, computer_id: str, orgo: OrgoDep) -> None:
        if not signed_in(websocket):
            await websocket.close(1008, "sign in first")
            return
        await relay_terminal(websocket, lambda: orgo.connect(computer_id))

    return app


def __getattr__(name: str) -> Any:
    # ``uvicorn examples.fleet_dashboard.app:app`` builds the app on first use only.
    if name == "app":
        return create_app()
    raise AttributeError(name)
