"""OpenAI computer use on an Orgo computer: the Agents SDK and the Responses API.

::

    from agents import Agent, ComputerTool, Runner
    from orgo_async.agents.openai import OrgoComputer, orgo_computer_provider, run_computer_call

    async with OrgoComputer(orgo, computer_id) as computer:          # an agents.AsyncComputer
        agent = Agent(name="operator", tools=[ComputerTool(computer=computer)], model=...)
        await Runner.run(agent, "Open the terminal")

    # a fresh computer per run, deleted when the run ends:
    ComputerTool(computer=orgo_computer_provider(orgo, workspace_id=ws.id, ram=4))

    # the Responses API by hand: a computer_call item -> a computer_call_output item
    output = await run_computer_call(orgo, computer_id, item, on_safety_check=approve)

:class:`OrgoComputer` and :func:`orgo_computer_provider` need ``openai-agents``
(``pip install "orgo-async[openai-agents]"``, imported when first used);
:func:`run_computer_call` takes plain dicts or the ``openai`` SDK's objects and needs
neither package. Every action goes through one :class:`~orgo_async.agents.Desktop`;
failures raise the SDK's typed errors (an action is never reported done when it failed).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .._errors import OrgoError
from ._desktop import Desktop
from ._openai_actions import OpenAIActions, field

if TYPE_CHECKING:
    from .._client import AsyncOrgo
    from .._models import Computer
    from ._openai_agents import OrgoComputer, orgo_computer_provider

__all__ = [
    "OpenAIActions",
    "OrgoComputer",
    "SafetyCheckRejected",
    "orgo_computer_provider",
    "run_computer_call",
]


class SafetyCheckRejected(OrgoError):
    """A ``computer_call`` carried pending safety checks that were not acknowledged (no
    ``on_safety_check`` callback, or it said no). Nothing was executed."""

    def __init__(self, message: str, *, checks: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.checks = checks


SafetyCallback = Callable[[dict[str, Any]], bool | Awaitable[bool]]


async def run_computer_call(
    orgo: AsyncOrgo,
    computer: str | Computer,
    call: Any,
    *,
    on_safety_check: SafetyCallback | None = None,
    desktop: Desktop | None = None,
    scroll_unit: int = 100,
    wait_seconds: float = 1.0,
) -> dict[str, Any]:
    """Execute a Responses API ``computer_call`` item and return its ``computer_call_output``.

    Both forms are handled: the preview's single ``action`` and the batched ``actions``.
    ``pending_safety_checks`` are acknowledged only when ``on_safety_check(check)``
    (sync or async, given each check as a dict with ``id``, ``code``, ``message``) returns
    True for every one; otherwise :class:`SafetyCheckRejected` is raised and nothing runs.
    The output carries a screenshot taken after the actions (or the batch's own final
    screenshot) as a ``data:image/png;base64,...`` URL. Pass ``desktop=`` to reuse one
    :class:`~orgo_async.agents.Desktop` (and its RFB session) across calls.
    """
    checks = [
        {"id": field(c, "id"), "code": field(c, "code"), "message": field(c, "message")}
        for c in field(call, "pending_safety_checks") or []
    ]
    if checks:
        if on_safety_check is None:
            raise SafetyCheckRejected(
                "the computer_call has pending safety checks; pass on_safety_check= to "
                "acknowledge them (nothing was executed)",
                checks=checks,
            )
        for check in checks:
            verdict = on_safety_check(check)
            if not isinstance(verdict, bool):
                verdict = await verdict
            if verdict is not True:
                raise SafetyCheckRejected(
                    f"safety check {check['code'] or check['id']} was not acknowledged "
                    "(nothing was executed)",
                    checks=checks,
                )
    actions = field(call, "actions")
    if not actions:
        single = field(call, "action")
        actions = [single] if single is not None else []
    own = desktop is None
    desktop = desktop or Desktop(orgo, computer)
    try:
        runner = OpenAIActions(desktop, scroll_unit=scroll_unit, wait_seconds=wait_seconds)
        image: str | None = None
        for action in actions:
            image = await runner.run(action)
        if image is None:
            image = await runner.screenshot()
    finally:
        if own:
            await desktop.aclose()
    output: dict[str, Any] = {
        "type": "computer_call_output",
        "call_id": field(call, "call_id"),
        "output": {"type": "computer_screenshot", "image_url": f"data:image/png;base64,{image}"},
    }
    if checks:
        output["acknowledged_safety_checks"] = checks
    return output


def __getattr__(name: str) -> Any:
    # The Agents SDK classes are imported only when asked for: run_computer_call needs
    # neither openai nor openai-agents.
    if name in ("OrgoComputer", "orgo_computer_provider"):
        from . import _openai_agents

        return getattr(_openai_agents, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
