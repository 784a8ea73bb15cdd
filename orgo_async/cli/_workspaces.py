"""``orgo-async workspaces list|get|create|delete``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ._common import confirm, leaf, run_handler
from ._computers import COLUMNS as COMPUTER_COLUMNS
from ._output import Column, Output

if TYPE_CHECKING:
    from .. import AsyncOrgo, Workspace

__all__ = ["COLUMNS", "add_arguments", "run"]

COLUMNS = (
    Column("ID", "id", style="cyan"),
    Column("NAME", "name", style="bold"),
    Column("STATUS", "status", is_status=True),
    Column("COMPUTERS", "desktops"),
    Column("CREATED", "created_at", style="dim"),
)

run = run_handler


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``workspaces`` subcommands."""
    subs = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    leaf(subs, "list", _list, "list every workspace the key can see")
    p = leaf(subs, "get", _get, "show one workspace and its computers")
    p.add_argument("workspace_id", metavar="WORKSPACE_ID")
    p = leaf(subs, "create", _create, "create a workspace")
    p.add_argument("name", metavar="NAME")
    p = leaf(subs, "delete", _delete, "delete a workspace AND every computer in it")
    p.add_argument("workspace_id", metavar="WORKSPACE_ID")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")


def _show(out: Output, ws: Workspace) -> None:
    if out.json:
        out.print_json(ws)
        return
    out.record(ws, skip=("desktops",))
    out.table(ws.desktops, COMPUTER_COLUMNS, empty="(no computers)")


async def _list(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    with out.spinner("listing workspaces"):
        workspaces = await orgo.workspaces.list()
    if out.json:
        out.print_json(workspaces)
    else:
        out.table(workspaces, COLUMNS, empty="no workspaces")
    return 0


async def _get(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    with out.spinner("fetching the workspace"):
        ws = await orgo.workspaces.get(args.workspace_id)
    _show(out, ws)
    return 0


async def _create(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    with out.spinner(f"creating workspace {args.name!r}"):
        ws = await orgo.workspaces.create(name=args.name)
    if out.json:
        out.print_json(ws)
    else:
        out.table([ws], COLUMNS[:3], empty="")
    return 0


async def _delete(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    if not args.yes:
        ws = await orgo.workspaces.get(args.workspace_id)
        confirm(
            f"Delete workspace {ws.name!r} and its {len(ws.desktops)} computer(s), permanently?",
            args.yes,
        )
    with out.spinner("deleting the workspace"):
        result = await orgo.workspaces.delete(args.workspace_id)
    out.deleted("workspace", args.workspace_id, result.success)
    return 0
