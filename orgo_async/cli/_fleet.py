"""``orgo-async fleet watch [WORKSPACE...]``: every computer's status, live.

The named workspaces (ids or names), or every workspace, are watched with
:meth:`orgo.computers.watch(workspace_id=...)
<orgo_async._resources.computers.Computers.watch>`: one request per workspace per
``--interval`` (one ``GET /workspaces`` for all of them when none is named), whatever the
number of computers. Computers created while it runs appear; deleted ones (and those moved
out of the watched workspaces) show ``deleted``. A failed poll is an error item: it is
shown (the table's footer, or a line through a pipe) and the watch goes on.

On a terminal the table is redrawn in place as statuses change; through a pipe each change
is one line (``--json``: one JSON object per line). Ctrl-C (or SIGTERM) stops it with
exit code 0.
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

from ._common import EXIT_NOT_FOUND, CLIError, leaf, run_handler
from ._output import Column, Output, build_table

if TYPE_CHECKING:
    from .. import AsyncOrgo, Computer, StatusChange, Watch, Workspace

__all__ = ["add_arguments", "run"]

run = run_handler

_COLUMNS = (
    Column("WORKSPACE", "workspace", style="dim"),
    Column("NAME", "name", style="bold"),
    Column("ID", "id", style="cyan"),
    Column("STATUS", "status", is_status=True),
    Column("SINCE", "since", style="dim"),
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

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("id", "name", "workspace", "status")}


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


class _Fleet:
    """What the watch shows: a row per computer seen, the last failed poll per workspace."""

    def __init__(self, orgo: AsyncOrgo, workspaces: list[Workspace]) -> None:
        self.orgo = orgo
        self.names = {ws.id: ws.name or ws.id for ws in workspaces}
        self.rows = {
            c.id: _Row(c.id, c.name or "", self.names[ws.id], c.status)
            for ws in workspaces
            for c in ws.desktops
        }
        self.errors: dict[str, tuple[str, str]] = {}  # workspace -> (when, what)

    async def workspace_name(self, workspace_id: str | None) -> str:
        """The name of a workspace (one ``GET`` the first time a new one shows up)."""
        if not workspace_id:
            return ""
        if workspace_id not in self.names:
            try:
                ws = await self.orgo.workspaces.get(workspace_id)
            except Exception:  # the id will do; the next new computer there asks again
                return workspace_id
            self.names[workspace_id] = ws.name or workspace_id
        return self.names[workspace_id]

    async def apply(self, change: StatusChange[Computer]) -> _Row | None:
        """Update the rows from a change; the row if what it shows changed."""
        row = self.rows.get(change.id)
        status = "deleted" if change.status is None else change.status
        if row is None:
            if change.status is None:
                return None  # gone before it was ever shown
            name = change.value.name if change.value is not None else None
            where = await self.workspace_name(change.workspace_id)
            row = self.rows[change.id] = _Row(change.id, name or "", where, None)
        elif row.status == status:
            return None
        row.status = status
        row.since = time.strftime("%H:%M:%S")
        return row

    async def failed(self, change: StatusChange[Computer]) -> tuple[str, str]:
        """Record a failed poll; which workspace (``""``: all) and the one-line error."""
        where = await self.workspace_name(change.workspace_id)
        err = change.error
        text = " ".join(f"{type(err).__name__}: {err}".split())
        self.errors[where] = (time.strftime("%H:%M:%S"), text)
        return where, text


class _Display:
    """The live table on a terminal; change lines (text or JSON) elsewhere."""

    def __init__(self, out: Output, fleet: _Fleet, title: str) -> None:
        self.out = out
        self.fleet = fleet
        self.title = title
        self.live: Live | None = None
        if not out.json and out.console.is_terminal:
            self.live = Live(self._render(), console=out.console, auto_refresh=False)

    def _render(self) -> Group:
        rows = self.fleet.rows.values()
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.status or "?"] = counts.get(row.status or "?", 0) + 1
        present = sum(n for status, n in counts.items() if status != "deleted")
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        header = Text.assemble(
            (f"{present} computers {self.title}", "bold"), "  ", (summary, "dim")
        )
        parts: list[Any] = [header, build_table(list(rows), _COLUMNS)]
        for where, (when, text) in sorted(self.fleet.errors.items()):
            label = f"workspace {where}" if where else "all workspaces"
            parts.append(Text(f"last failed poll {when}, {label}: {text}", style="red"))
        return Group(*parts)

    def _emit(self, text: str, obj: dict[str, Any]) -> None:
        if self.live is not None:
            self.live.update(self._render(), refresh=True)
        elif self.out.json:
            self.out.stdout.write(_json_line({**obj, "at": time.time()}))
            self.out.stdout.flush()
        else:
            self.out.line(text)

    def changed(self, row: _Row, previous: str | None) -> None:
        text = f"{row.since} {row.name} {row.id} {previous} -> {row.status}"
        self._emit(text, {**row.as_dict(), "previous": previous, "error": None})

    def failed(self, key: str, where: str, text: str) -> None:
        label = f"workspace {where}" if where else "all workspaces"
        line = f"{time.strftime('%H:%M:%S')} poll failed, {label}: {text}"
        obj = {"id": key, "name": None, "workspace": where or None, "status": None}
        self._emit(line, {**obj, "previous": None, "error": text})


def _json_line(obj: dict[str, Any]) -> str:
    import msgspec

    return msgspec.json.encode(obj).decode() + "\n"


async def _watch(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    with out.spinner("listing workspaces"):
        workspaces = _select(await orgo.workspaces.list(), args.workspaces)
    fleet = _Fleet(orgo, workspaces)
    # No WORKSPACE: every workspace, those created later included (one GET /workspaces).
    ids = [ws.id for ws in workspaces] if args.workspaces else None
    where = f"in {len(workspaces)} workspace(s)" if ids is not None else "in every workspace"
    display = _Display(out, fleet, f"{where}, every {args.interval:g} s (Ctrl-C to stop)")
    if not fleet.rows:
        out.note("no computers yet: watching for new ones (Ctrl-C to stop)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        with display.live or contextlib.nullcontext():
            async with orgo.computers.watch(
                workspace_id=ids, interval=args.interval, concurrency=args.concurrency
            ) as changes:
                await _follow(changes, fleet, display, stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


async def _follow(
    changes: Watch[Computer], fleet: _Fleet, display: _Display, stop: asyncio.Event
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
            if change.error is not None:
                where, text = await fleet.failed(change)
                display.failed(change.id, where, text)
                continue
            known = fleet.rows[change.id].status if change.id in fleet.rows else None
            row = await fleet.apply(change)
            if row is not None:
                display.changed(row, known)
    finally:
        stopped.cancel()
