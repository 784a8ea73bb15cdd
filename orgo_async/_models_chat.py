"""msgspec Structs for the agent endpoints: completions and chat threads (§10.1, §10.2).

No I/O. The same decoding rules as :mod:`orgo_async._models`. The hosted agent's
WebSocket messages live in :mod:`orgo_async._protocol.agent`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

__all__ = [
    "ChatChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatMessage",
    "ChatThread",
    "ChunkChoice",
    "ChunkDelta",
    "OrgoRunInfo",
    "ThreadCreated",
    "ThreadList",
    "ThreadStatus",
    "ThreadUpdated",
    "Usage",
]


class _Model(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of the chat models: keyword-only, unknown fields ignored."""


class ThreadStatus(StrEnum):
    """Known values of :attr:`ChatThread.status`."""

    ACTIVE = "active"
    ARCHIVED = "archived"


class ChatMessage(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One message: ``role`` (``user`` or ``assistant``) and its ``content`` text."""

    role: str
    content: str = ""


class Usage(_Model):
    """Token counts over the whole agent loop."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class OrgoRunInfo(_Model):
    """The ``orgo`` block of a completion: the thread it continued or created, the agent
    steps taken, their cost and (when reported) the credit balance left."""

    thread_id: str | None = None
    steps: int = 0
    cost_cents: int | float = 0
    credit_balance_cents: int | float | None = None


class ChatChoice(_Model):
    """``choices[i]`` of a completion."""

    index: int = 0
    message: ChatMessage | None = None
    finish_reason: str | None = None


class ChatCompletion(_Model):
    """A non-streamed ``chat.completion``: the agent's final answer, ``usage`` and ``orgo``."""

    id: str
    object: str = "chat.completion"
    created: int | None = None
    model: str | None = None
    choices: list[ChatChoice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    orgo: OrgoRunInfo | None = None

    @property
    def content(self) -> str:
        """The text of the first choice (``""`` if there is none)."""
        for choice in self.choices:
            if choice.message is not None:
                return choice.message.content
        return ""

    @property
    def thread_id(self) -> str | None:
        """The thread to continue with ``thread_id=`` (from the ``orgo`` block)."""
        return self.orgo.thread_id if self.orgo is not None else None


class ChunkDelta(_Model):
    """The new part of the message in a streamed chunk."""

    role: str | None = None
    content: str | None = None


class ChunkChoice(_Model):
    """``choices[i]`` of a streamed chunk."""

    index: int = 0
    delta: ChunkDelta = msgspec.field(default_factory=ChunkDelta)
    finish_reason: str | None = None


class ChatCompletionChunk(_Model):
    """One ``chat.completion.chunk`` of a streamed completion (only final text deltas)."""

    id: str | None = None
    object: str = "chat.completion.chunk"
    created: int | None = None
    model: str | None = None
    choices: list[ChunkChoice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
    orgo: OrgoRunInfo | None = None

    @property
    def content(self) -> str:
        """The text this chunk adds (``""`` for role-only and final chunks)."""
        return "".join(c.delta.content or "" for c in self.choices)

    @property
    def finish_reason(self) -> str | None:
        for choice in self.choices:
            if choice.finish_reason is not None:
                return choice.finish_reason
        return None


class ChatThread(_Model):
    """A chat thread. ``remote_id`` (``thr_...``) is the id the thread endpoints take;
    ``id`` is the client-side id it was created with (``localId``), when there was one."""

    remote_id: str | None = msgspec.field(default=None, name="remoteId")
    id: str | None = None
    status: str = ThreadStatus.ACTIVE
    title: str | None = None
    messages: list[ChatMessage] = msgspec.field(default_factory=list)
    updated_at: datetime | None = None

    @property
    def thread_id(self) -> str | None:
        """The id to pass to the thread methods (``remote_id``, else ``id``)."""
        return self.remote_id or self.id


class ThreadList(_Model):
    """``GET /chat/threads``: ``{"threads": [...]}``, newest first."""

    threads: list[ChatThread] = msgspec.field(default_factory=list)


class ThreadCreated(_Model):
    """``POST /chat/threads`` (201): ``{remoteId, externalId?}``."""

    remote_id: str = msgspec.field(name="remoteId")
    external_id: str | None = msgspec.field(default=None, name="externalId")


class ThreadUpdated(_Model):
    """``PATCH /chat/threads/{id}``: ``{remoteId, status, title?}``."""

    remote_id: str | None = msgspec.field(default=None, name="remoteId")
    status: str | None = None
    title: str | None = None
