"""orgo-async: the asyncio-native Python SDK for the Orgo API (cloud desktops for AI agents).

::

    from orgo_async import AsyncOrgo

    async with AsyncOrgo() as orgo:                  # ORGO_API_KEY from the environment
        ws = await orgo.workspaces.create(name="prod")
        c = await orgo.computers.create(workspace_id=ws.id, name="agent-1")
        c = await orgo.computers.wait_until(c.id, "running")
        shot = await orgo.computers.screenshot(c.id)

Names are imported lazily: ``import orgo_async`` costs almost nothing, aiohttp is loaded
with the client and ``websockets`` only when a WebSocket is opened.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import (
    APIConnectionError,
    APIDecodeError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ChannelProtocolError,
    ChannelStartError,
    ComputerGoingAwayError,
    ComputerNotRunningError,
    ComputerStateError,
    ConflictError,
    EventSubscriptionError,
    HeartbeatTimeoutError,
    InternalServerError,
    NotFoundError,
    OrgoError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    SessionLostError,
    TokenRejectedError,
    UnprocessableEntityError,
    WaitTimeoutError,
    WebSocketError,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._client import AsyncOrgo
    from ._models import (
        ActionResult,
        AutoStop,
        BashResult,
        Computer,
        ComputerStatus,
        ExecResult,
        MoveResult,
        ResizeDimension,
        ResizeResult,
        Screenshot,
        ScreenshotMetadata,
        StreamStartResult,
        StreamState,
        StreamStatus,
        StreamStopResult,
        Success,
        Workspace,
        WorkspaceStatus,
    )
    from ._resources.fleet import FleetResult, FleetRun, StatusChange, Watch
    from ._response import RawResponse
    from .connection import Connection

_LAZY: dict[str, str] = {
    "AsyncOrgo": "._client",
    "RawResponse": "._response",
    "Connection": ".connection",
    "FleetResult": "._resources.fleet",
    "FleetRun": "._resources.fleet",
    "StatusChange": "._resources.fleet",
    "Watch": "._resources.fleet",
    **dict.fromkeys(
        [
            "ActionResult",
            "AutoStop",
            "BashResult",
            "Computer",
            "ComputerStatus",
            "ExecResult",
            "MoveResult",
            "ResizeDimension",
            "ResizeResult",
            "Screenshot",
            "ScreenshotMetadata",
            "StreamStartResult",
            "StreamState",
            "StreamStatus",
            "StreamStopResult",
            "Success",
            "Workspace",
            "WorkspaceStatus",
        ],
        "._models",
    ),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'orgo_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "APIConnectionError",
    "APIDecodeError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "ActionResult",
    "AsyncOrgo",
    "AuthenticationError",
    "AutoStop",
    "BadRequestError",
    "BashResult",
    "ChannelProtocolError",
    "ChannelStartError",
    "Computer",
    "ComputerGoingAwayError",
    "ComputerNotRunningError",
    "ComputerStateError",
    "ComputerStatus",
    "ConflictError",
    "Connection",
    "EventSubscriptionError",
    "ExecResult",
    "FleetResult",
    "FleetRun",
    "HeartbeatTimeoutError",
    "InternalServerError",
    "MoveResult",
    "NotFoundError",
    "OrgoError",
    "PermissionDeniedError",
    "RateLimitError",
    "RawResponse",
    "ResizeDimension",
    "ResizeResult",
    "Screenshot",
    "ScreenshotMetadata",
    "ServiceUnavailableError",
    "SessionLostError",
    "StatusChange",
    "StreamStartResult",
    "StreamState",
    "StreamStatus",
    "StreamStopResult",
    "Success",
    "TokenRejectedError",
    "UnprocessableEntityError",
    "WaitTimeoutError",
    "Watch",
    "WebSocketError",
    "Workspace",
    "WorkspaceStatus",
    "__version__",
]
