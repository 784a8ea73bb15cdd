"""How the command prints: ``rich`` tables and progress on a terminal, JSON with ``--json``.

Results go to stdout, everything else (progress, spinners, notes) to stderr, so
``orgo-async computers list --json | jq`` always reads clean JSON. Progress displays draw
only when stderr is a terminal and vanish when done. Secrets are left out of every
output unless ``--show-secrets`` (:func:`orgo_async.as_dict`).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import msgspec
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from .. import as_dict

__all__ = ["Column", "Output", "status_style"]

# Wide enough that ids are never folded when stdout is a pipe or a file.
_PIPE_WIDTH = 400

_STATUS_STYLES = {
    "running": "bold green",
    "active": "green",
    "stopped": "dim",
    "suspended": "dim",
    "inactive": "dim",
    "error": "bold red",
    "deleted": "red",
    "unreachable": "red",
}


def status_style(status: str | None) -> str:
    """The colour a status is shown in (transitional states are yellow)."""
    if status is None:
        return "dim"
    return _STATUS_STYLES.get(status, "yellow")


@dataclass(frozen=True)
class Column:
    """A table column: header, the field it reads, and how it is shown."""

    header: str
    field: str
    style: str | None = None
    is_status: bool = False


class Output:
    """Where and how results are printed for one invocation."""

    def __init__(
        self,
        *,
        json: bool = False,
        show_secrets: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.json = json
        self.show_secrets = show_secrets
        out = stdout or sys.stdout
        err = stderr or sys.stderr
        self.stdout = out
        self.console = Console(
            file=out, width=None if out.isatty() else _PIPE_WIDTH, highlight=False
        )
        self.err = Console(file=err, highlight=False)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Output:
        return cls(
            json=bool(getattr(args, "json", False)),
            show_secrets=bool(getattr(args, "show_secrets", False)),
        )

    # -- results ------------------------------------------------------------------------

    def data(self, obj: Any) -> Any:
        """``obj`` as JSON-ready data, secrets removed unless ``--show-secrets``."""
        return as_dict(obj, secrets=self.show_secrets)

    def print_json(self, obj: Any) -> None:
        """Print ``obj`` as indented JSON on stdout (keys in declaration order)."""
        text = msgspec.json.format(msgspec.json.encode(self.data(obj)), indent=2)
        self.stdout.write(text.decode() + "\n")
        self.stdout.flush()

    def table(self, rows: Sequence[Any], columns: Sequence[Column], *, empty: str) -> None:
        """Print ``rows`` (models) as a table, or ``empty`` when there are none."""
        if not rows:
            self.err.print(empty, style="dim")
            return
        self._print(build_table(rows, columns))

    def record(self, obj: Any, *, skip: Collection[str] = ()) -> None:
        """Print one model as a two-column field/value table (empty fields skipped)."""
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in self.data(obj).items():
            if key in skip or value is None or value == [] or value == {}:
                continue
            if isinstance(value, list | dict):
                value = msgspec.json.encode(value).decode()
            shown = Text(str(value), style=status_style(value) if key == "status" else "")
            table.add_row(key, shown)
        self._print(table)

    def deleted(self, kind: str, ident: str, success: bool) -> None:
        """The answer to a delete: ``{"id", "deleted"}`` with ``--json``, else a line
        naming the ``kind`` of thing deleted."""
        if self.json:
            self.print_json({"id": ident, "deleted": success})
        else:
            self.line(f"deleted {kind} {ident}")

    def _print(self, renderable: Any) -> None:
        if self.console.is_terminal:
            self.console.print(renderable)
            return
        # A pipe or a file gets no padding: rich pads every line to the table's width.
        with self.console.capture() as capture:
            self.console.print(renderable)
        text = "\n".join(line.rstrip() for line in capture.get().splitlines())
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def line(self, text: str) -> None:
        """A line of plain result text on stdout (no markup)."""
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def note(self, text: str) -> None:
        """A line for the human on stderr (not part of the result)."""
        self.err.print(text, markup=False, highlight=False, soft_wrap=True, style="dim")

    # -- waiting --------------------------------------------------------------------------

    @contextlib.contextmanager
    def spinner(self, text: str) -> Iterator[None]:
        """A spinner with ``text`` while the block runs (drawn on a terminal only)."""
        if not self.err.is_terminal:
            yield
            return
        with self.err.status(text):
            yield

    def progress(self, description: str, total: float | None) -> Progress:
        """A progress bar on stderr (drawn on a terminal only, removed when done)."""
        return Progress(
            SpinnerColumn(),
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn() if total is not None and total > 1 else TextColumn(""),
            TimeElapsedColumn(),
            console=self.err,
            transient=True,
            disable=not self.err.is_terminal,
        )


def build_table(rows: Sequence[Any], columns: Sequence[Column]) -> Table:
    """A ``rich`` table of ``rows`` (models or dicts) with ``columns``."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for col in columns:
        table.add_column(col.header, style=col.style, no_wrap=col.field == "id")
    for row in rows:
        cells: list[Text] = []
        for col in columns:
            value = row.get(col.field) if isinstance(row, dict) else getattr(row, col.field, None)
            shown = "" if value is None else _cell(value)
            style = status_style(shown) if col.is_status else ""
            cells.append(Text(shown, style=style))
        table.add_row(*cells)
    return table


def _cell(value: Any) -> str:
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d %H:%M"))
    if isinstance(value, list):
        return str(len(value))
    return str(value)
