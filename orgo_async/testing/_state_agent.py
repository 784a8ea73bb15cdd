"""The emulator's hosted-agent state: credits, chat threads, runs, scripted faults (§10).

Plain data, no aiohttp. ``fake.agent`` is an :class:`AgentWorld`::

    fake.agent.credits_cents = 0          # the next run without a BYOK key gets 402
    fake.agent.script = my_script         # (instruction, computer) -> [Step, ...]
    fake.agent.drop_after_frames = 3      # the next WebSocket run closes 1011 mid-run
    fake.agent.runs                       # every run: via, computer, instruction, steps
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._state import now_iso

if TYPE_CHECKING:
    from ._state import FakeComputer

__all__ = ["AgentRunRecord", "AgentWorld", "Script", "Step", "ThreadRecord"]


@dataclass
class Step:
    """One computer-use action of the scripted agent: ``action`` (``screenshot``,
    ``left_click``, ``right_click``, ``double_click``, ``type``, ``key``, ``scroll``,
    ``wait``, ``bash``) and its ``params`` (``coordinate``, ``text``, ``command`` ...)."""

    action: str
    params: dict[str, Any] = field(default_factory=dict)


#: ``script(instruction, computer) -> steps``: what the scripted agent does.
Script = Callable[[str, "FakeComputer"], list[Step]]


@dataclass
class ThreadRecord:
    """A chat thread (``remote_id`` is the ``thr_...`` id the endpoints take)."""

    remote_id: str
    desktop_id: str
    user_id: str
    local_id: str | None = None
    status: str = "active"
    title: str | None = None
    messages: list[dict[str, str]] = field(default_factory=list)
    updated_at: str = field(default_factory=now_iso)

    def item(self) -> dict[str, Any]:
        """The list item shape ``{id, remoteId, status, title?, messages, updated_at}``."""
        data: dict[str, Any] = {
            "id": self.local_id or self.remote_id,
            "remoteId": self.remote_id,
            "status": self.status,
            "messages": self.messages,
            "updated_at": self.updated_at,
        }
        if self.title is not None:
            data["title"] = self.title
        return data


@dataclass
class AgentRunRecord:
    """One agent run, by ``via`` ``completions`` or ``websocket``."""

    via: str
    computer_id: str
    instruction: str
    steps: list[Step]
    byok: bool
    cost_cents: int
    thread_id: str | None = None


@dataclass
class AgentWorld:
    """Credits (``None`` = unlimited), the per-step cost, the script and the threads."""

    credits_cents: int | None = 10_000
    cost_per_step_cents: int = 1
    script: Script | None = None
    step_delay: float = 0.0
    drop_after_frames: int | None = None
    threads: dict[str, ThreadRecord] = field(default_factory=dict)
    runs: list[AgentRunRecord] = field(default_factory=list)
    open_sockets: int = 0

    def new_thread(
        self, desktop_id: str, user_id: str, local_id: str | None = None
    ) -> ThreadRecord:
        thread = ThreadRecord("thr_" + secrets.token_hex(12), desktop_id, user_id, local_id)
        self.threads[thread.remote_id] = thread
        return thread

    def can_pay(self, byok: bool) -> bool:
        """Whether a run may start: a BYOK run uses no Orgo credits."""
        return byok or self.credits_cents is None or self.credits_cents >= self.cost_per_step_cents

    def charge(self, byok: bool) -> int:
        """Charge one step; returns its cost in cents."""
        if byok:
            return 0
        if self.credits_cents is not None:
            self.credits_cents -= self.cost_per_step_cents
        return self.cost_per_step_cents
