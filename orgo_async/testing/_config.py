"""What an emulator is told: state-transition timings, plan limits, handler signatures.

Plain data, shared by :class:`~orgo_async.testing.FakeOrgo` (which takes them as
options) and the REST routes (which read them), so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._state import FakeComputer

__all__ = ["BashHandler", "ExecHandler", "PlanLimits", "Timings"]

#: ``handler(command, computer)`` for ``/bash``: returns the output (``str``), ``(output,
#: exit_code)``, an exit code (``int``), a dict merged into the response, or ``None``;
#: may be a coroutine function.
BashHandler = Callable[[str, FakeComputer], Any]
#: ``handler(code, computer)`` for ``/exec``: returns the output (``str``), a dict merged
#: into the response (``output``, ``success``, ``error``, ``error_type``, ``timeout``),
#: or ``None``; may be a coroutine function.
ExecHandler = Callable[[str, FakeComputer], Any]


@dataclass
class Timings:
    """Seconds each state transition takes; ``wait_scale`` multiplies ``/wait`` sleeps.

    The default is the documented service (reference §4.1, §14): a new computer
    (create, clone) boots "in under 500 ms", so the 201 already says ``running`` with
    every connection field, and an action right after create works, as it does against
    Orgo. ``start``, ``stop`` and ``restart`` keep their intermediate states
    (``starting``, ``stopping``, ``restarting``) for a few tens of milliseconds, so a
    client sees the state machine the docs list.

    ``create > 0`` is a slow boot (what the v-A docs showed: a create answering
    ``starting``): the 201 says ``creating``, after ``create`` seconds the computer is
    ``starting`` and ``boot`` seconds later ``running``, so ``wait_until(..., "running")``
    has something to wait for. :meth:`slow_boot` builds one::

        FakeOrgo(timings=Timings.slow_boot())          # creating -> starting -> running
        FakeOrgo(timings=Timings.instant())            # every transition at once
    """

    create: float = 0.0  # a new computer: creating -> starting (0: running at once)
    boot: float = 0.05  # starting -> running (after start, or after a slow create)
    stop: float = 0.05  # stopping -> stopped
    restart: float = 0.05  # restarting -> running
    wait_scale: float = 1.0

    @classmethod
    def instant(cls) -> Timings:
        """Every transition immediate (``/wait`` still sleeps for real)."""
        return cls(create=0.0, boot=0.0, stop=0.0, restart=0.0)

    @classmethod
    def slow_boot(cls, create: float = 0.5, boot: float = 0.5) -> Timings:
        """A new computer answers ``creating`` and runs after ``create + boot`` seconds
        (``boot`` is also how long ``start`` takes); stop and restart keep the defaults."""
        if create <= 0:
            raise ValueError("a slow boot needs create > 0 (create=0 is running at once)")
        return cls(create=create, boot=boot)


@dataclass
class PlanLimits:
    """The emulated account's plan: caps checked by create, clone and resize."""

    max_vcpus: int = 16
    max_mem_gb: int = 64
    max_disk_gb: int = 500
    max_bandwidth_mbps: int = 10_000
    max_computers: int | None = None
