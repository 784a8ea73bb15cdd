"""Waiting for our own tasks without swallowing the caller's cancellation (channels,
relays, the RFB session, the ASGI disconnect watcher).

``await asyncio.wait_for(asyncio.shield(task), t)`` inside
``contextlib.suppress(asyncio.CancelledError)`` (the usual way to wait for a task that
may itself be cancelled) also swallows a cancellation of the *caller*: a task cancelled
while a channel closes carried on after its ``async with`` block, and an
``asyncio.timeout`` around a write did not end it. ``asyncio.wait`` never raises the
waited task's outcome, so the caller's own ``CancelledError`` is the only one that can
come out.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

__all__ = ["cancel_and_wait", "wait_done"]


def _retrieve(task: asyncio.Task[Any]) -> None:
    # Mark the outcome as seen, so a failed task is not logged as "never retrieved".
    if not task.cancelled():
        task.exception()


async def wait_done(task: asyncio.Task[Any], timeout: float) -> None:
    """Wait up to ``timeout`` seconds for ``task`` to end on its own (its outcome is not
    raised; the caller's cancellation is)."""
    if not task.done():
        await asyncio.wait({task}, timeout=timeout)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait until they have ended. If the caller is cancelled
    meanwhile, its cancellation propagates; the tasks are cancelled either way."""
    pending = [t for t in tasks if not t.done()]
    for task in tasks:
        task.add_done_callback(_retrieve)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
