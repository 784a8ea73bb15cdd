"""``orgo-async fleet watch [WORKSPACE...]``: every computer's status, live.

The computers are those of the named workspaces (ids or names; all of them by default)
when the watch starts. Polling is :meth:`orgo.computers.watch
<orgo_async._resources.computers.Computers.watch>`: each computer once per
``--interval``, spread evenly, errors as values. On a terminal the table is redrawn in
place as statuses change; through a pipe each change is one line (``--json``: one JSON
object per line). Ctrl-C (or SIGTERM) stops it with exit code 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.live import Live
from rich.text import Text

from .. import NotFoundError
from ._common import EXIT_NOT_FOUND, CLIError, leaf, run_handler
from ._output import Column, Output, build_table

if TYPE_CHECKING:
    from .. import AsyncOrgo, Computer, StatusChange, Workspace

__all__ = ["add_arguments", "run"]

run = run_handler

_COLUMNS = (
    Column("WORKSPACE", "workspace", style="dim"),
    Column("NAME", "name", style="bold"),
    Column("ID", "id", style="cyan"),
    Column("STATUS", "status", is_status=True),
    Column("SINCE", "since", style="dim"),
    Column("NOTE", "note", style="red"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``fleet`` subcommands."""
    subs = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = leaf(subs, "watch", _watch, "a live table of every computer's status")
    p.add_argument("workspaces", nargs="*", metavar="WORKSPACE", help="ids or names (all)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between polls (2)")
    p.add_argument(
        "--concurrency", type=int, default=16, help="requests in flight at most (default 16)"
    )


@dataclass
class _Row:
    id: str
    name: str
    workspace: str
    status: str | None
    since: str = ""
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("id", "name", "workspace", "status", "note")}


def _select(workspaces: list[Workspace], wanted: list[str]) -> list[Workspace]:
    if not wanted:
        return workspaces
    chosen: list[Workspace] = []
    for key in wanted:
        match = [ws for ws in workspaces if key in (ws.id, ws.name)]
        if not match:
            raise CLIError(f"not found: no workspace with id or name {key!r}", EXIT_NOT_FOUND)
        chosen.extend(ws for ws in match if ws not in chosen)
    return chosen


def _apply(row: _Row, change: StatusChange[Computer]) -> bool:
    """Update ``row`` from ``change``; whether what it shows changed."""
    before = (row.status, row.note)
    if change.error is None:
        row.status, row.note = change.status, ""
    elif isinstance(change.error, NotFoundError):
        row.status, row.note = "deleted", ""
    else:
        row.status, row.note = "unreachable", f"{type(change.error).__name__}: {change.error}"
    if (row.status, row.note) == before:
        return False
    row.since = time.strftime("%H:%M:%S")
    return True


class _Display:
    """The live table on a terminal; change lines (text or JSON) elsewhere."""

    def __init__(self, out: Output, rows: dict[str, _Row], title: str) -> None:
        self.out = out
        self.rows = rows
        self.title = title
        self.live: Live | None = None
        if not out.json and out.console.is_terminal:
            self.live = Live(self._render(), console=out.console, auto_refresh=False)

    def _render(self) -> Group:
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row.status or "?"] = counts.get(row.status or "?", 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        header = Text.assemble((self.title, "bold"), "  ", (summary, "dim"))
        return Group(header, build_table(list(self.rows.values()), _COLUMNS))

    def changed(self, row: _Row, previous: str | None) -> None:
        if self.live is not None:
            self.live.update(self._render(), refresh=True)
        elif self.out.json:
            self.out.stdout.write(
                _json_line({**row.as_dict(), "previous": previous, "at": time.time()})
            )
            self.out.stdout.flush()
        else:
            note = f"  {row.note}" if row.note else ""
            self.out.line(f"{row.since} {row.name} {row.id} {previous} -> {row.status}{note}")


def _json_line(obj: dict[str, Any]) -> str:
    import msgspec

    return msgspec.json.encode(obj).decode() + "\n"


async def _watch(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    with out.spinner("listing workspaces"):
        workspaces = _select(await orgo.workspaces.list(), args.workspaces)
    rows = {
        c.id: _Row(c.id, c.name or "", ws.name or ws.id, c.status)
        for ws in workspaces
        for c in ws.desktops
    }
    if not rows:
        out.note("no computers to watch")
        return 0
    title = f"{len(rows)} computers in {len(workspaces)} workspace(s), every {args.interval:g} s"
    display = _Display(out, rows, title + " (Ctrl-C to stop)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        with display.live or contextlib.nullcontext():
            async with orgo.computers.watch(
                list(rows), interval=args.interval, concurrency=args.concurrency
            ) as changes:
                await _follow(changes, rows, display, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


async def _follow(
    changes: Any, rows: dict[str, _Row], display: _Display, stop: asyncio.Event
) -> None:
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while True:
            step = asyncio.ensure_future(anext(changes))
            done, _ = await asyncio.wait([step, stopped], return_when="FIRST_COMPLETED")
            if stopped in done:
                step.cancel()
                await asyncio.gather(step, return_exceptions=True)
                return
            change = step.result()
            row = rows[change.id]
            known = row.status
            if _apply(row, change):
                display.changed(row, known)
    finally:
        stopped.cancel()
