"""The FastAPI app the web tests serve: the README's pattern, plus probes for the tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import msgspec
from fastapi import FastAPI, WebSocket

from orgo_async import AsyncOrgo, Connection
from orgo_async.web import (
    CancelOnDisconnect,
    OrgoDep,
    RelayResult,
    add_exception_handlers,
    orgo_lifespan,
    relay_terminal,
    relay_vnc,
)


@dataclass
class Probe:
    """What the app did, for the tests to check."""

    clients: list[AsyncOrgo] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    relays: list[RelayResult] = field(default_factory=list)


def build_app(
    api_key: str,
    base_url: str,
    *,
    probe: Probe | None = None,
    cancel_on_disconnect: bool = True,
    ws_origin: str | None = None,
    terminal_options: dict[str, Any] | None = None,
    **client_options: Any,
) -> FastAPI:
    probe = probe if probe is not None else Probe()
    options = {"max_retries": 0, **client_options}

    def make_client() -> AsyncOrgo:
        orgo = AsyncOrgo(api_key=api_key, base_url=base_url, **options)
        probe.clients.append(orgo)
        return orgo

    app = FastAPI(lifespan=orgo_lifespan(make_client, relay_close_timeout=5))
    add_exception_handlers(app)
    if cancel_on_disconnect:
        app.add_middleware(CancelOnDisconnect)

    @app.get("/computers/{computer_id}")
    async def get_computer(computer_id: str, orgo: OrgoDep) -> dict[str, Any]:
        c = await orgo.computers.get(computer_id)
        return {"id": c.id, "name": c.name, "status": c.status, "client": id(orgo)}

    @app.get("/workspaces")
    async def workspaces(orgo: OrgoDep) -> list[str | None]:
        return [w.name for w in await orgo.workspaces.list()]

    @app.get("/slow/{computer_id}")
    async def slow(computer_id: str, orgo: OrgoDep) -> dict[str, str]:
        probe.started.append(computer_id)
        try:
            c = await orgo.computers.get(computer_id)
        except asyncio.CancelledError:
            probe.cancelled.append(computer_id)
            raise
        return {"status": c.status}

    async def connect(orgo: AsyncOrgo, computer_id: str) -> Connection:
        if ws_origin is None:
            return await orgo.connect(computer_id)
        # Route the channels through a TCP counter (public API only: a Computer with
        # another connection_url).
        c = await orgo.computers.get(computer_id)
        url = f"{ws_origin}/desktops/{c.instance_id}"
        return orgo.connection(msgspec.structs.replace(c, connection_url=url))

    @app.websocket("/computers/{computer_id}/terminal")
    async def terminal(websocket: WebSocket, computer_id: str, orgo: OrgoDep) -> None:
        stats = RelayResult("terminal")
        probe.relays.append(stats)
        await relay_terminal(
            websocket, lambda: connect(orgo, computer_id), stats=stats, **(terminal_options or {})
        )

    @app.websocket("/computers/{computer_id}/vnc")
    async def vnc(websocket: WebSocket, computer_id: str, orgo: OrgoDep) -> None:
        stats = RelayResult("vnc")
        probe.relays.append(stats)
        await relay_vnc(websocket, lambda: connect(orgo, computer_id), stats=stats)

    return app
