"""``orgo_async.agents``: put a computer-use model on an Orgo computer.

* :class:`Desktop` is the one surface every adapter drives: clicks (any button, 1-3
  times, with held keys), mouse down/up, moves, drags along a path, scrolling in four
  directions, typing, key combos, held keys, the cursor position, screenshots, zoomed
  regions, waits and shell commands; REST action endpoints where they exist, RFB input
  events over the websockify channel for the rest.
* :mod:`orgo_async.agents.anthropic`: Claude computer use (``ComputerUseTools``,
  ``run_claude``), ``pip install "orgo-async[anthropic]"``.
* :mod:`orgo_async.agents.openai`: the OpenAI Agents SDK's ``AsyncComputer``
  (``OrgoComputer``, ``orgo_computer_provider``) and the Responses API
  (``run_computer_call``), ``pip install "orgo-async[openai-agents]"``.

Nothing here is imported by ``import orgo_async``; the model SDKs are imported only by
the adapter modules that need them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._desktop import ActionError, Button, Desktop, Direction
    from ._rfb import RfbSession

__all__ = ["ActionError", "Button", "Desktop", "Direction", "RfbSession"]


def __getattr__(name: str) -> Any:
    if name in ("ActionError", "Button", "Desktop", "Direction"):
        from . import _desktop

        return getattr(_desktop, name)
    if name == "RfbSession":
        from ._rfb import RfbSession

        return RfbSession
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
