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

    A new computer (create, clone) walks ``creating`` -(``create``)-> ``starting``
    -(``boot``)-> ``running``; with ``create`` 0 it is ``running`` in the 201.
    """

    create: float = 0.02  # a new computer: creating -> starting (0: running at once)
    boot: float = 0.05  # starting -> running (after start, or after a slow create)
    stop: float = 0.05  # stopping -> stopped
    restart: float = 0.05  # restarting -> running
    wait_scale: float = 1.0

    @classmethod
    def instant(cls) -> Timings:
        """Every transition immediate (``/wait`` still sleeps for real)."""
        return cls(create=0.0, boot=0.0, stop=0.0, restart=0.0)


@dataclass
class PlanLimits:
    """The emulated account's plan: caps checked by create, clone and resize."""

    max_vcpus: int = 16
    max_mem_gb: int = 64
    max_disk_gb: int = 500
    max_bandwidth_mbps: int = 10_000
    max_computers: int | None = None
