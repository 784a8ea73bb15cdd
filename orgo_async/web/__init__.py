"""``orgo_async.web``: the SDK inside an ASGI app (FastAPI, Starlette), and WebSocket
relays that put a computer's desktop and terminal in a browser with every secret kept
on the server. Install with ``pip install "orgo-async[web]"``.

::

    from fastapi import FastAPI, WebSocket
    from orgo_async.web import OrgoDep, add_exception_handlers, orgo_lifespan, relay_vnc

    app = FastAPI(lifespan=orgo_lifespan())    # one AsyncOrgo, opened and closed with the app
    add_exception_handlers(app)                # typed errors -> JSON (404, 429, 5xx -> 502)

    @app.get("/computers/{computer_id}")
    async def computer(computer_id: str, orgo: OrgoDep) -> dict[str, str]:
        c = await orgo.computers.get(computer_id)
        return {"id": c.id, "status": c.status}

    @app.websocket("/computers/{computer_id}/vnc")     # noVNC connects here, no password
    async def vnc(websocket: WebSocket, computer_id: str, orgo: OrgoDep) -> None:
        ...  # your own auth check first: this socket is the desktop
        await relay_vnc(websocket, lambda: orgo.connect(computer_id))

Names load lazily; the relays and :func:`error_answer` need no web framework at all,
:func:`orgo_lifespan` and friends need Starlette, ``OrgoDep`` needs FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._answers import ErrorAnswer, error_answer
    from ._app import (
        CancelOnDisconnect,
        add_exception_handlers,
        get_orgo,
        orgo_exception_handler,
        orgo_lifespan,
    )
    from ._fastapi import OrgoDep
    from ._relay import RelayRegistry, RelayResult
    from ._socket import ASGIWebSocket, CloseCode
    from ._terminal import relay_terminal
    from ._vnc import relay_vnc

__all__ = [
    "ASGIWebSocket",
    "CancelOnDisconnect",
    "CloseCode",
    "ErrorAnswer",
    "OrgoDep",
    "RelayRegistry",
    "RelayResult",
    "add_exception_handlers",
    "error_answer",
    "get_orgo",
    "orgo_exception_handler",
    "orgo_lifespan",
    "relay_terminal",
    "relay_vnc",
]

_LAZY: dict[str, str] = {
    "ErrorAnswer": "._answers",
    "error_answer": "._answers",
    "CancelOnDisconnect": "._app",
    "add_exception_handlers": "._app",
    "get_orgo": "._app",
    "orgo_exception_handler": "._app",
    "orgo_lifespan": "._app",
    "OrgoDep": "._fastapi",
    "RelayRegistry": "._relay",
    "RelayResult": "._relay",
    "ASGIWebSocket": "._socket",
    "CloseCode": "._socket",
    "relay_terminal": "._terminal",
    "relay_vnc": "._vnc",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
