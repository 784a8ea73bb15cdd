"""``orgo-async screenshot``, ``bash``, ``exec`` and ``audio``: one computer, one call each."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from typing import TYPE_CHECKING

from ._common import Handler, add_common_options, run_handler
from ._output import Output

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from .. import AsyncOrgo

__all__ = [
    "add_audio_arguments",
    "add_bash_arguments",
    "add_exec_arguments",
    "add_screenshot_arguments",
    "run",
]

run = run_handler


def _single(parser: argparse.ArgumentParser, handler: Handler) -> None:
    # These subcommands have no sub-actions: the subcommand's parser is the leaf.
    add_common_options(parser)
    parser.set_defaults(_handler=handler)
    parser.add_argument("computer_id", metavar="COMPUTER_ID")


def add_screenshot_arguments(parser: argparse.ArgumentParser) -> None:
    """``screenshot COMPUTER_ID [-o FILE]``."""
    _single(parser, _screenshot)
    parser.add_argument(
        "-o", "--output", default="screenshot.png", help="file to write (- for stdout)"
    )


def add_bash_arguments(parser: argparse.ArgumentParser) -> None:
    """``bash COMPUTER_ID COMMAND [--timeout S]``."""
    _single(parser, _bash)
    parser.add_argument("command", metavar="COMMAND", help="the command line (quote it)")
    parser.add_argument("--timeout", type=int, help="server-side limit in seconds (default 200)")


def add_exec_arguments(parser: argparse.ArgumentParser) -> None:
    """``exec COMPUTER_ID CODE [--timeout S]``."""
    _single(parser, _exec)
    parser.add_argument("code", metavar="CODE", help="Python source (- reads it from stdin)")
    parser.add_argument("--timeout", type=int, default=10, help="seconds, 1-300 (default 10)")


def add_audio_arguments(parser: argparse.ArgumentParser) -> None:
    """``audio COMPUTER_ID -o out.wav --seconds N``."""
    _single(parser, _audio)
    parser.add_argument("-o", "--output", default="audio.wav", help="WAV file to write")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long (default 5)")
    parser.add_argument("--rate", type=int, default=24000, help="sample rate (default 24000)")
    parser.add_argument("--channels", type=int, default=1, choices=(1, 2))


async def _screenshot(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    with out.spinner("taking a screenshot"):
        shot = await orgo.computers.screenshot(args.computer_id)
    if args.output == "-":
        sys.stdout.buffer.write(shot.data)
        sys.stdout.buffer.flush()
        return 0
    await asyncio.to_thread(shot.save, args.output)
    info = {
        "path": _absolute(args.output),
        "mime_type": shot.mime_type,
        "width": shot.width,
        "height": shot.height,
        "size": shot.size,
    }
    if out.json:
        out.print_json(info)
    else:
        size = f"{shot.width}x{shot.height}, " if shot.width and shot.height else ""
        out.line(f"saved {args.output} ({shot.mime_type}, {size}{shot.size} bytes)")
    return 0


async def _bash(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    with out.spinner(f"running {args.command!r}"):
        result = await orgo.computers.bash(args.computer_id, args.command, timeout=args.timeout)
    if out.json:
        out.print_json(result)
    else:
        out.stdout.write(result.output)
        if result.output and not result.output.endswith("\n"):
            out.stdout.write("\n")
        out.stdout.flush()
    # Like ssh: the remote command's status is ours.
    return result.exit_code if result.exit_code is not None else (0 if result.success else 1)


async def _exec(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    code = sys.stdin.read() if args.code == "-" else args.code
    with out.spinner("running the code"):
        result = await orgo.computers.exec(args.computer_id, code, timeout=args.timeout)
    if out.json:
        out.print_json(result)
        return result.exit_code
    if result.output:
        out.stdout.write(result.output if result.output.endswith("\n") else result.output + "\n")
        out.stdout.flush()
    if not result.success or result.timeout:
        reason = "timed out" if result.timeout else f"{result.error_type}: {result.error}"
        out.err.print(f"exec failed: {reason}", markup=False, style="red")
    return result.exit_code


async def _audio(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    conn = await orgo.connect(args.computer_id)
    async with conn.audio(sample_rate=args.rate, channels=args.channels) as audio:
        with out.progress("recording", total=args.seconds) as progress:
            task = progress.add_task(f"recording {args.seconds:g} s", total=args.seconds)
            ticker = asyncio.create_task(_tick(progress, task, args.seconds))
            try:
                rec = await audio.record(args.output, seconds=args.seconds)
            finally:
                ticker.cancel()
    if out.json:
        out.print_json(
            {
                "path": _absolute(rec.path),
                "sample_rate": rec.sample_rate,
                "channels": rec.channels,
                "frames": rec.frames,
                "seconds": rec.seconds,
                "dropped": audio.dropped,
            }
        )
    else:
        out.line(
            f"saved {args.output} ({rec.sample_rate} Hz, {rec.channels} ch, {rec.seconds:.2f} s)"
        )
    return 0


def _absolute(path: str) -> str:
    return os.path.abspath(path)  # no I/O: joins with the working directory


async def _tick(progress: Progress, task: TaskID, seconds: float) -> None:
    # The bar follows the clock; the recording itself decides when it is done.
    started = time.monotonic()
    while True:
        progress.update(task, completed=min(seconds, time.monotonic() - started))
        await asyncio.sleep(0.1)
