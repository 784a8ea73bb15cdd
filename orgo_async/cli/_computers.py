"""``orgo-async computers list|get|create|start|stop|restart|delete|wait``.

Lifecycle commands wait for the state they ask for (``--no-wait`` to return at once),
with a progress display fed by ``wait_until(..., on_poll=...)``: the waiting, its
timeout and the ``error`` state are the SDK's, the command only draws them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._common import confirm, leaf, run_handler
from ._output import Column, Output

if TYPE_CHECKING:
    from .. import AsyncOrgo, Computer

__all__ = ["COLUMNS", "add_arguments", "run", "wait_with_progress"]

COLUMNS = (
    Column("ID", "id", style="cyan"),
    Column("NAME", "name", style="bold"),
    Column("STATUS", "status", is_status=True),
    Column("CPU", "cpu"),
    Column("RAM", "ram"),
    Column("RESOLUTION", "resolution"),
    Column("CREATED", "created_at", style="dim"),
)

run = run_handler


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``computers`` subcommands."""
    subs = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = leaf(subs, "list", _list, "list computers (of one workspace, or of all)")
    p.add_argument("workspace_id", nargs="?", metavar="WORKSPACE_ID")
    p = leaf(subs, "get", _get, "show one computer")
    p.add_argument("computer_id", metavar="COMPUTER_ID")
    _add_create(subs)
    for name, wanted, text in (
        ("start", "running", "start a stopped computer"),
        ("stop", "stopped", "stop a running computer (its disk is kept)"),
        ("restart", "running", "restart a computer (its VNC password rotates)"),
    ):
        p = leaf(subs, name, _lifecycle, text)
        p.add_argument("computer_id", metavar="COMPUTER_ID")
        _add_wait_options(p, wanted)
        p.set_defaults(operation=name)
    p = leaf(subs, "delete", _delete, "delete a computer and its disk, permanently")
    p.add_argument("computer_id", metavar="COMPUTER_ID")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p = leaf(subs, "wait", _wait, "wait until computers reach a status")
    p.add_argument("computer_ids", nargs="+", metavar="COMPUTER_ID")
    p.add_argument("--status", default="running", help="the status to wait for (running)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds (default 120)")


def _add_create(subs: Any) -> None:
    p = leaf(subs, "create", _create, "create (and boot) a computer")
    p.add_argument("name", metavar="NAME")
    p.add_argument("-w", "--workspace", required=True, metavar="WORKSPACE_ID")
    p.add_argument("--ram", type=int, help="GB: 4, 8, 16, 32 or 64")
    p.add_argument("--cpu", type=float, help="vCPUs: 1, 2, 4, 8 or 16")
    p.add_argument("--disk", type=int, dest="disk_size_gb", help="disk size in GB")
    p.add_argument("--resolution", help="WIDTHxHEIGHTxDEPTH, e.g. 1280x720x24")
    p.add_argument("--os", choices=("linux", "windows"))
    p.add_argument("--auto-stop", type=int, dest="auto_stop_minutes", metavar="MINUTES")
    p.add_argument("--template", dest="template_ref", metavar="NAMESPACE/NAME@VERSION")
    _add_wait_options(p, "running")


def _add_wait_options(p: argparse.ArgumentParser, wanted: str) -> None:
    p.add_argument(
        "--no-wait", dest="wait", action="store_false", help=f"return without waiting for {wanted}"
    )
    p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait (default 180)")
    p.set_defaults(wanted=wanted)


async def wait_with_progress(
    orgo: AsyncOrgo, out: Output, ids: list[str], status: str, timeout: float | None
) -> list[Computer]:
    """``orgo.computers.wait_until`` with a progress bar of the computers already there."""
    with out.progress(f"waiting for {status}", total=len(ids)) as progress:
        task = progress.add_task(f"waiting for {status}", total=len(ids))
        there: set[str] = set()

        def on_poll(c: Computer) -> None:
            if c.status == status:
                there.add(c.id)
            else:
                there.discard(c.id)
            label = f"{c.name or c.id}: {c.status}" if len(ids) == 1 else f"waiting for {status}"
            progress.update(task, completed=len(there), description=label)

        return await orgo.computers.wait_until(ids, status, timeout=timeout, on_poll=on_poll)


def _show(out: Output, computers: list[Computer], *, single: bool) -> None:
    if out.json:
        out.print_json(computers[0] if single else computers)
    elif single:
        out.record(computers[0])
    else:
        out.table(computers, COLUMNS, empty="no computers")


async def _list(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    with out.spinner("listing computers"):
        if args.workspace_id:
            computers = await orgo.computers.list(args.workspace_id)
        else:
            computers = [c for ws in await orgo.workspaces.list() for c in ws.desktops]
    _show(out, computers, single=False)
    return 0


async def _get(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    with out.spinner("fetching the computer"):
        computer = await orgo.computers.get(args.computer_id)
    _show(out, [computer], single=True)
    return 0


async def _create(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    cpu = args.cpu
    if cpu is not None and cpu.is_integer():
        cpu = int(cpu)
    options = {
        name: getattr(args, name)
        for name in ("ram", "disk_size_gb", "resolution", "os", "auto_stop_minutes")
        if getattr(args, name) is not None
    }
    with out.spinner(f"creating {args.name!r}"):
        computer = await orgo.computers.create(
            workspace_id=args.workspace,
            name=args.name,
            cpu=cpu,
            template_ref=args.template_ref,
            **options,
        )
    if args.wait and computer.status != args.wanted:
        (computer,) = await wait_with_progress(orgo, out, [computer.id], args.wanted, args.timeout)
    _show(out, [computer], single=True)
    return 0


async def _lifecycle(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    method = getattr(orgo.computers, args.operation)
    with out.spinner(f"{args.operation} {args.computer_id}"):
        result = await method(args.computer_id)
    if not args.wait:
        if out.json:
            out.print_json({"id": args.computer_id, **out.data(result)})
        else:
            out.line(f"{args.operation}: {result.status or 'accepted'} ({args.computer_id})")
        return 0
    (computer,) = await wait_with_progress(orgo, out, [args.computer_id], args.wanted, args.timeout)
    _show(out, [computer], single=True)
    return 0


async def _delete(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    if not args.yes:
        computer = await orgo.computers.get(args.computer_id)
        confirm(f"Delete computer {computer.name!r} and its disk, permanently?", args.yes)
    with out.spinner("deleting the computer"):
        result = await orgo.computers.delete(args.computer_id)
    out.deleted("computer", args.computer_id, result.success)
    return 0


async def _wait(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    ids = list(dict.fromkeys(args.computer_ids))
    computers = await wait_with_progress(orgo, out, ids, args.status, args.timeout)
    _show(out, computers, single=len(args.computer_ids) == 1)
    return 0
