"""``orgo-async demo``: the whole product, end to end, against the embedded emulator.

Starts :class:`~orgo_async.testing.FakeOrgo` in process, then uses only the public API:
creates a workspace and a fleet of computers, waits until they run (with a progress
bar), polls the fleet, clicks and types, opens a real terminal and runs a command,
records a second of audio to a WAV, takes a screenshot, and prints a summary table.

The emulator boots slowly on purpose (``Timings.slow_boot``, half a second from
``creating`` through ``starting`` to ``running``): by default a created computer runs
at once, and the wait would have nothing to show.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import wave
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from ._computers import wait_with_progress
from ._output import Output

if TYPE_CHECKING:
    from .. import AsyncOrgo, Computer
    from ..testing import FakeOrgo

__all__ = ["add_arguments", "run"]

_Report = list[tuple[str, str]]

#: Seconds a new computer spends ``creating``, then ``starting``: a wait long enough to
#: watch, short enough for ``make demo`` to take about two seconds.
BOOT = (0.2, 0.3)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``demo`` subcommand."""
    parser.add_argument("--computers", type=int, default=12, help="fleet size (default 12)")
    parser.add_argument(
        "--out", default="demo-out", help="where the WAV and PNG go (default ./demo-out)"
    )
    parser.add_argument(
        "--command", default="uname -a", help="command to run in the terminal (default uname -a)"
    )


def _step(out: Output, report: _Report, key: str, value: str) -> None:
    report.append((key, value))
    out.err.print(f"[green]✓[/] [bold]{key:<10}[/] {value}", highlight=False, soft_wrap=True)


async def _create_fleet(orgo: AsyncOrgo, out: Output, n: int, report: _Report) -> list[Computer]:
    ws = await orgo.workspaces.create(name="demo")
    with out.spinner(f"creating {n} computers"):
        created = await asyncio.gather(
            *(orgo.computers.create(workspace_id=ws.id, name=f"agent-{i + 1}") for i in range(n))
        )
    states = ", ".join(sorted({c.status for c in created}))
    _step(out, report, "fleet", f"{n} computers created in workspace {ws.name!r} ({states})")
    ids = [c.id for c in created]
    computers = await wait_with_progress(orgo, out, ids, "running", timeout=30)
    _step(out, report, "running", f"{sum(c.is_running for c in computers)}/{n}")
    return computers


async def _poll_fleet(orgo: AsyncOrgo, out: Output, ids: list[str], report: _Report) -> None:
    t0 = time.perf_counter()
    polled = 0
    async with orgo.computers.get_many(ids * 10, concurrency=32) as results:
        async for r in results:
            r.unwrap()
            polled += 1
    _step(out, report, "polled", f"{polled} GETs in {(time.perf_counter() - t0) * 1000:.0f} ms")


async def _use_desktop(
    orgo: AsyncOrgo, out: Output, agent: Computer, args: argparse.Namespace, report: _Report
) -> None:
    await orgo.computers.click(agent.id, 640, 360)
    await orgo.computers.type(agent.id, "hello from orgo-async")
    await orgo.computers.key(agent.id, "Enter")

    conn = orgo.connection(agent)
    async with conn.terminal(cols=100, rows=30) as term:
        result = await term.run(args.command, timeout=15)
    lines = result.output.strip().splitlines()
    first = lines[0] if lines else ""
    _step(out, report, "terminal", f"$ {args.command} -> exit {result.exit_code}: {first}")

    wav_path = Path(args.out) / "audio.wav"
    async with conn.audio(sample_rate=24000, channels=1) as audio:
        await audio.record(str(wav_path), seconds=1.0)
    with wave.open(str(wav_path), "rb") as w:
        rate, channels = w.getframerate(), w.getnchannels()
        seconds = w.getnframes() / rate
    _step(out, report, "audio", f"{wav_path} ({rate} Hz, {channels} ch, {seconds:.2f} s)")

    shot = await orgo.computers.screenshot(agent.id)
    png_path = Path(args.out) / "screenshot.png"
    shot.save(str(png_path))
    _step(out, report, "screenshot", f"{png_path} ({shot.mime_type}, {shot.size} bytes)")


async def _demo(args: argparse.Namespace, out: Output) -> int:
    from ..testing import FakeOrgo, Timings

    started = time.perf_counter()
    report: _Report = []
    timings = Timings.slow_boot(create=BOOT[0], boot=BOOT[1])
    async with FakeOrgo(timings=timings) as fake, fake.client() as orgo:
        out.note(f"emulator   {fake.base_url}")
        computers = await _create_fleet(orgo, out, args.computers, report)
        await _poll_fleet(orgo, out, [c.id for c in computers], report)
        await _use_desktop(orgo, out, computers[0], args, report)
        _step(out, report, "actions", _actions(fake, computers[0]))
        with out.spinner("cleaning up"):
            await asyncio.gather(*(orgo.computers.delete(c.id) for c in computers))
            await orgo.workspaces.delete(computers[0].workspace_id or "")
    report.append(("total", f"{time.perf_counter() - started:.2f} s"))
    out.console.print(_summary(report))
    return 0


def _actions(fake: FakeOrgo, agent: Computer) -> str:
    return ", ".join(a.name for a in fake.computer(agent.id).actions)


def _summary(report: _Report) -> Table:
    table = Table(title="orgo-async demo", box=box.ROUNDED, show_header=False, title_justify="left")
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in report:
        table.add_row(key, value)
    return table


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the process exit code."""
    Path(args.out).mkdir(parents=True, exist_ok=True)
    return asyncio.run(_demo(args, Output()))


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
