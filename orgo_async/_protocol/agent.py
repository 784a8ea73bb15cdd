"""The hosted agent's WebSocket messages (``wss://agent.orgo.ai/ws/prompt``, §10.3). No I/O.

After connecting (the API key is the ``?token=``), the client sends one
``{"type": "start", "config": {...}}``; the server then streams ``{"type", "data"}``
frames until ``result``, after which the client closes. Every frame decodes into a typed
event; a ``type`` this SDK does not know comes back as :class:`Unknown` instead of
failing, and malformed JSON or a known type with wrong field types is a
:class:`~orgo_async.ChannelProtocolError`.

=============  ==========================================  ==========================
``type``       ``data``                                    event
=============  ==========================================  ==========================
status         str                                         :class:`StatusEvent`
thinking       str                                         :class:`ThinkingEvent`
text           str                                         :class:`TextEvent`
tool_use       ``{action, params}``                        :class:`ToolUseEvent`
tool_result    anything (the tool's output)                :class:`ToolResultEvent`
screenshot     ``{size}``                                  :class:`ScreenshotEvent`
iteration      int                                         :class:`IterationEvent`
pong           (nothing)                                   :class:`PongEvent`
error          str (or an object with ``message``)         :class:`ErrorEvent`
result         ``{success, iterations, messages?, error?}``  :class:`ResultEvent`
=============  ==========================================  ==========================
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from .codec import DEFAULT_MAX_SIZE, MessageDecoder, Unknown, encode

__all__ = [
    "PING",
    "AgentConfig",
    "AgentEvent",
    "AgentResult",
    "ErrorEvent",
    "IterationEvent",
    "PongEvent",
    "ResultEvent",
    "ScreenshotEvent",
    "ScreenshotInfo",
    "StatusEvent",
    "TextEvent",
    "ThinkingEvent",
    "ToolResultEvent",
    "ToolUse",
    "ToolUseEvent",
    "Unknown",
    "decoder",
    "encode_start",
]

# Results carry the whole conversation (``messages``), so they can be large.
MAX_FRAME: Final = max(DEFAULT_MAX_SIZE, 16 << 20)


class _Event(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True):
    pass


class StatusEvent(_Event, tag="status"):
    """A progress line (``"Iteration 3"``, ``"Connecting to computer"``)."""

    data: str = ""


class ThinkingEvent(_Event, tag="thinking"):
    """The model's extended thinking (when enabled)."""

    data: str = ""


class TextEvent(_Event, tag="text"):
    """Text the model wrote to the user."""

    data: str = ""


class ToolUse(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A computer-use action: ``action`` (``left_click``, ``type``, ``key``, ``screenshot``,
    ``scroll``, ``bash`` ...) and its ``params`` (``coordinate``, ``text`` ...)."""

    action: str = "unknown"
    params: dict[str, Any] = msgspec.field(default_factory=dict)


class ToolUseEvent(_Event, tag="tool_use"):
    """The agent is about to act on the computer."""

    data: ToolUse = msgspec.field(default_factory=ToolUse)


class ToolResultEvent(_Event, tag="tool_result"):
    """What an action returned (shape up to the tool)."""

    data: Any = None


class ScreenshotInfo(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A screenshot the agent took: its ``size`` in bytes (the image itself stays server-side)."""

    size: int | None = None


class ScreenshotEvent(_Event, tag="screenshot"):
    """The agent looked at the screen."""

    data: ScreenshotInfo = msgspec.field(default_factory=ScreenshotInfo)


class IterationEvent(_Event, tag="iteration"):
    """The agent loop's iteration number."""

    data: int = 0


class PongEvent(_Event, tag="pong"):
    """The answer to a ``ping``."""

    data: Any = None


class ErrorEvent(_Event, tag="error"):
    """The agent reported an error; a ``result`` with ``success: false`` usually follows."""

    data: Any = None

    @property
    def message(self) -> str:
        if isinstance(self.data, dict) and isinstance(self.data.get("message"), str):
            return str(self.data["message"])
        return "" if self.data is None else str(self.data)


class AgentResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The end of a run: ``success``, ``iterations``, the conversation (``messages``) and,
    on failure, ``error``."""

    success: bool = False
    iterations: int = 0
    messages: list[Any] = msgspec.field(default_factory=list)
    error: str | None = None


class ResultEvent(_Event, tag="result"):
    """The final frame of a run."""

    data: AgentResult = msgspec.field(default_factory=AgentResult)


AgentEvent = (
    StatusEvent
    | ThinkingEvent
    | TextEvent
    | ToolUseEvent
    | ToolResultEvent
    | ScreenshotEvent
    | IterationEvent
    | PongEvent
    | ErrorEvent
    | ResultEvent
)


class AgentConfig(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The ``config`` of the start message. Unset options are left to the server's
    defaults (agent.orgo.ai documents model ``claude-sonnet-4-5-20250929``, 1024x768,
    thinking on with a 1024 budget, ``max_tokens`` 4096, 100 iterations)."""

    computer_id: str
    instruction: str
    model: str | None = None
    display_width: int | None = None
    display_height: int | None = None
    thinking_enabled: bool | None = None
    thinking_budget: int | None = None
    max_tokens: int | None = None
    max_iterations: int | None = None
    system_prompt: str | None = None


class _Start(msgspec.Struct, tag_field="type", tag="start"):
    config: AgentConfig


class _Ping(msgspec.Struct, tag_field="type", tag="ping"):
    pass


PING: Final = encode(_Ping())


def encode_start(config: AgentConfig) -> bytes:
    """The ``start`` message for ``config``."""
    return encode(_Start(config))


def decoder(max_size: int = MAX_FRAME) -> MessageDecoder[AgentEvent]:
    """A decoder of server frames into :data:`AgentEvent` (or :class:`Unknown`)."""
    return MessageDecoder("agent", AgentEvent, max_size=max_size)
