"""``orgo-async demo``: the whole product, end to end, against the embedded emulator.

Starts :class:`~orgo_async.testing.FakeOrgo` in process, then uses only the public API:
creates a workspace and a fleet of computers, waits until they run (with a progress
bar), polls the fleet, opens a real terminal and runs a command, records a second of
audio to a WAV, takes a screenshot, and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import wave
from pathlib import Path
from typing import TextIO

from .. import AsyncOrgo, Computer

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``demo`` subcommand."""
    parser.add_argument("--computers", type=int, default=12, help="fleet size (default 12)")
    parser.add_argument(
        "--out", default="demo-out", help="where the WAV and PNG go (default ./demo-out)"
    )
    parser.add_argument(
        "--command", default="uname -a", help="command to run in the terminal (default uname -a)"
    )


class _Progress:
    """A one-line progress bar on a terminal, plain lines otherwise."""

    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.label = label
        self.stream = stream
        self.tty = stream.isatty()
        self._last = -1

    def update(self, done: int) -> None:
        if done == self._last:
            return
        self._last = done
        width = 30
        filled = width * done // max(self.total, 1)
        bar = "#" * filled + "-" * (width - filled)
        line = f"{self.label} [{bar}] {done}/{self.total}"
        if self.tty:
            self.stream.write("\r" + line)
            if done >= self.total:
                self.stream.write("\n")
        elif done in (0, self.total) or done % max(1, self.total // 4) == 0:
            self.stream.write(line + "\n")
        self.stream.flush()


async def _wait_for_fleet(orgo: AsyncOrgo, ids: list[str]) -> list[Computer]:
    bar = _Progress(len(ids), "booting ")
    bar.update(0)
    running: set[str] = set()
    async with orgo.computers.watch(ids, interval=0.1, concurrency=16) as changes:
        async for change in changes:
            if change.error is not None:
                raise change.error
            if change.status == "running":
                running.add(change.id)
            else:
                running.discard(change.id)
            bar.update(len(running))
            if len(running) == len(ids):
                break
    return await orgo.computers.wait_until(ids, "running", timeout=30)


async def _demo(args: argparse.Namespace) -> int:
    from ..testing import FakeOrgo

    out = Path(args.out)
    started = time.perf_counter()
    summary: list[tuple[str, str]] = []

    async with FakeOrgo() as fake, fake.client() as orgo:
        print(f"emulator   {fake.base_url}")
        ws = await orgo.workspaces.create(name="demo")
        created = await asyncio.gather(
            *(
                orgo.computers.create(workspace_id=ws.id, name=f"agent-{i + 1}")
                for i in range(args.computers)
            )
        )
        ids = [c.id for c in created]
        summary.append(("fleet", f"{len(ids)} computers created in workspace {ws.name!r}"))

        computers = await _wait_for_fleet(orgo, ids)
        summary.append(("running", f"{sum(c.is_running for c in computers)}/{len(ids)}"))

        t0 = time.perf_counter()
        polled = 0
        async with orgo.computers.get_many(ids * 10, concurrency=32) as results:
            async for r in results:
                r.unwrap()
                polled += 1
        elapsed = time.perf_counter() - t0
        summary.append(("polled", f"{polled} GETs in {elapsed * 1000:.0f} ms"))

        agent = computers[0]
        await orgo.computers.click(agent.id, 640, 360)
        await orgo.computers.type(agent.id, "hello from orgo-async")
        await orgo.computers.key(agent.id, "Enter")

        conn = orgo.connection(agent)
        async with conn.terminal(cols=100, rows=30) as term:
            result = await term.run(args.command, timeout=15)
        first_line = result.output.strip().splitlines()[0] if result.output.strip() else ""
        summary.append(("terminal", f"$ {args.command} -> exit {result.exit_code}: {first_line}"))

        wav_path = out / "audio.wav"
        async with conn.audio(sample_rate=24000, channels=1) as audio:
            await audio.record(str(wav_path), seconds=1.0)
        with wave.open(str(wav_path), "rb") as w:
            seconds = w.getnframes() / w.getframerate()
            summary.append(
                (
                    "audio",
                    f"{wav_path} ({w.getframerate()} Hz, {w.getnchannels()} ch, {seconds:.2f} s)",
                )
            )

        shot = await orgo.computers.screenshot(agent.id)
        png_path = out / "screenshot.png"
        shot.save(str(png_path))
        summary.append(("screenshot", f"{png_path} ({shot.mime_type}, {shot.size} bytes)"))

        actions = fake.computer(agent.id).actions
        summary.append(("actions", ", ".join(a.name for a in actions)))

        for c in computers:
            await orgo.computers.delete(c.id)
        await orgo.workspaces.delete(ws.id)

    summary.append(("total", f"{time.perf_counter() - started:.2f} s"))
    width = max(len(k) for k, _ in summary)
    print()
    for key, value in summary:
        print(f"{key:<{width}}  {value}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the process exit code."""
    Path(args.out).mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(_demo(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
