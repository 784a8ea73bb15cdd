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
    AgentError,
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
    CreditsExhaustedError,
    EventSubscriptionError,
    FieldError,
    HeartbeatTimeoutError,
    InternalServerError,
    NotFoundError,
    OrgoError,
    PermissionDeniedError,
    RateLimitError,
    ServiceUnavailableError,
    SessionLostError,
    TemplateBuildError,
    TemplateValidationError,
    TokenRejectedError,
    UnprocessableEntityError,
    WaitTimeoutError,
    WebSocketError,
)
from ._version import __version__

if TYPE_CHECKING:
    from ._client import AsyncOrgo
    from ._http import RawResponse
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
    from ._models_chat import (
        ChatCompletion,
        ChatCompletionChunk,
        ChatMessage,
        ChatThread,
        OrgoRunInfo,
        ThreadCreated,
        ThreadStatus,
        ThreadUpdated,
        Usage,
    )
    from ._models_files import (
        DownloadURL,
        FileExport,
        FileSource,
        StoredFile,
    )
    from ._models_templates import (
        BuildEvent,
        BuildLevel,
        BuildPhase,
        BuildStart,
        BuildState,
        BuildStatus,
        CancelBuild,
        LegacyBuild,
        PublishResult,
        TemplateDeleted,
        TemplateRun,
        TemplateVersion,
    )
    from ._protocol.agent import (
        AgentResult,
        ErrorEvent,
        IterationEvent,
        PongEvent,
        ResultEvent,
        ScreenshotEvent,
        StatusEvent,
        TextEvent,
        ThinkingEvent,
        ToolResultEvent,
        ToolUse,
        ToolUseEvent,
    )
    from ._protocol.templates import TemplateRef
    from ._resources.agent import AgentRun
    from ._resources.fleet import FleetResult, FleetRun, StatusChange, Watch
    from ._streaming import ResponseStream
    from .connection import Connection

_LAZY: dict[str, str] = {
    "AsyncOrgo": "._client",
    "RawResponse": "._http",
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
    **dict.fromkeys(
        [
            "DownloadURL",
            "FileExport",
            "FileSource",
            "StoredFile",
        ],
        "._models_files",
    ),
    **dict.fromkeys(
        [
            "BuildEvent",
            "BuildLevel",
            "BuildPhase",
            "BuildStart",
            "BuildState",
            "BuildStatus",
            "CancelBuild",
            "LegacyBuild",
            "PublishResult",
            "TemplateDeleted",
            "TemplateRun",
            "TemplateVersion",
        ],
        "._models_templates",
    ),
    **dict.fromkeys(
        [
            "ChatCompletion",
            "ChatCompletionChunk",
            "ChatMessage",
            "ChatThread",
            "OrgoRunInfo",
            "ThreadCreated",
            "ThreadStatus",
            "ThreadUpdated",
            "Usage",
        ],
        "._models_chat",
    ),
    **dict.fromkeys(
        [
            "AgentResult",
            "ErrorEvent",
            "IterationEvent",
            "PongEvent",
            "ResultEvent",
            "ScreenshotEvent",
            "StatusEvent",
            "TextEvent",
            "ThinkingEvent",
            "ToolResultEvent",
            "ToolUse",
            "ToolUseEvent",
        ],
        "._protocol.agent",
    ),
    "TemplateRef": "._protocol.templates",
    "AgentRun": "._resources.agent",
    "ResponseStream": "._streaming",
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
    "AgentError",
    "AgentResult",
    "AgentRun",
    "AsyncOrgo",
    "AuthenticationError",
    "AutoStop",
    "BadRequestError",
    "BashResult",
    "BuildEvent",
    "BuildLevel",
    "BuildPhase",
    "BuildStart",
    "BuildState",
    "BuildStatus",
    "CancelBuild",
    "ChannelProtocolError",
    "ChannelStartError",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChatThread",
    "Computer",
    "ComputerGoingAwayError",
    "ComputerNotRunningError",
    "ComputerStateError",
    "ComputerStatus",
    "ConflictError",
    "Connection",
    "CreditsExhaustedError",
    "DownloadURL",
    "ErrorEvent",
    "EventSubscriptionError",
    "ExecResult",
    "FieldError",
    "FileExport",
    "FileSource",
    "FleetResult",
    "FleetRun",
    "HeartbeatTimeoutError",
    "InternalServerError",
    "IterationEvent",
    "LegacyBuild",
    "MoveResult",
    "NotFoundError",
    "OrgoError",
    "OrgoRunInfo",
    "PermissionDeniedError",
    "PongEvent",
    "PublishResult",
    "RateLimitError",
    "RawResponse",
    "ResizeDimension",
    "ResizeResult",
    "ResponseStream",
    "ResultEvent",
    "Screenshot",
    "ScreenshotEvent",
    "ScreenshotMetadata",
    "ServiceUnavailableError",
    "SessionLostError",
    "StatusChange",
    "StatusEvent",
    "StoredFile",
    "StreamStartResult",
    "StreamState",
    "StreamStatus",
    "StreamStopResult",
    "Success",
    "TemplateBuildError",
    "TemplateDeleted",
    "TemplateRef",
    "TemplateRun",
    "TemplateValidationError",
    "TemplateVersion",
    "TextEvent",
    "ThinkingEvent",
    "ThreadCreated",
    "ThreadStatus",
    "ThreadUpdated",
    "TokenRejectedError",
    "ToolResultEvent",
    "ToolUse",
    "ToolUseEvent",
    "UnprocessableEntityError",
    "Usage",
    "WaitTimeoutError",
    "Watch",
    "WebSocketError",
    "Workspace",
    "WorkspaceStatus",
    "__version__",
]
