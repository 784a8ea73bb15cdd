"""``orgo-async terminal COMPUTER_ID``: the computer's shell in this terminal, like ssh.

The local terminal goes to raw mode, so every key (Ctrl-C, arrows, Tab) reaches the
remote shell as typed; window resizes (SIGWINCH) are forwarded as PTY resizes. The
session ends when the remote shell exits (its exit status is ours), on the detach key
``Ctrl-]``, on SIGTERM/SIGHUP/SIGINT sent to this process, or when the connection drops
(one clear line, exit 1). In every case the terminal is restored to the exact settings
it had before (``termios``), before anything else is printed.

Everything else is the SDK's :class:`~orgo_async.connection.Terminal`: token refresh,
heartbeats, and the typed error when the session is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import contextlib
import os
import signal
import sys
import termios
import tty
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ._common import CLIError, add_common_options, run_handler
from ._output import Output

if TYPE_CHECKING:
    from .. import AsyncOrgo
    from ..connection import Terminal

__all__ = ["DETACH", "add_arguments", "run"]

DETACH = b"\x1d"  # Ctrl-], as telnet
_EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

run = run_handler


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``terminal COMPUTER_ID``."""
    add_common_options(parser)
    parser.set_defaults(_handler=_terminal)
    parser.add_argument("computer_id", metavar="COMPUTER_ID")


@contextlib.contextmanager
def raw_mode(fd: int) -> Iterator[None]:
    """Put the terminal ``fd`` in raw mode; restore its exact settings on the way out."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _size(fd: int) -> tuple[int, int]:
    size = os.get_terminal_size(fd)
    return max(1, size.columns), max(1, size.lines)


async def _terminal(orgo: AsyncOrgo, args: argparse.Namespace, out: Output) -> int:
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    if not (os.isatty(stdin) and os.isatty(stdout)):
        raise CLIError(
            "terminal needs an interactive terminal; for scripts use "
            "`orgo-async bash COMPUTER_ID COMMAND`"
        )
    cols, rows = _size(stdout)
    with out.spinner("connecting"):
        conn = await orgo.connect(args.computer_id)
    out.note(f"connected to {args.computer_id} (Ctrl-] to detach)")
    try:
        async with conn.terminal(cols=cols, rows=rows) as term:
            with raw_mode(stdin):
                session = _Session(term, stdin, stdout)
                code = await session.run()
    except BaseException:
        sys.stderr.write("\n")  # the error line starts on a line of its own
        raise
    if session.ended_by is not None:
        out.note(f"\n{session.ended_by}")
    return code


class _Session:
    """Wires this terminal to the remote PTY until one side ends."""

    def __init__(self, term: Terminal, stdin: int, stdout: int) -> None:
        self.term = term
        self.stdin = stdin
        self.stdout = stdout
        self.ended_by: str | None = None
        self._outbox: asyncio.Queue[str | tuple[int, int]] = asyncio.Queue()
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.stdin, self._on_stdin)
        loop.add_signal_handler(signal.SIGWINCH, self._on_resize)
        for sig in _EXIT_SIGNALS:
            loop.add_signal_handler(sig, self._finish, 128 + sig, f"ended by {sig.name}")
        tasks: list[asyncio.Future[None]] = [
            asyncio.ensure_future(self._pump_output()),
            asyncio.ensure_future(self._send()),
        ]
        watched: list[asyncio.Future[Any]] = [self._stop, *tasks]
        try:
            done, _ = await asyncio.wait(watched, return_when="FIRST_COMPLETED")
            for task in tasks:
                error = task.exception() if task in done else None
                if error is not None:
                    raise error
            return self._stop.result() if self._stop.done() else 0
        finally:
            loop.remove_reader(self.stdin)
            loop.remove_signal_handler(signal.SIGWINCH)
            for sig in _EXIT_SIGNALS:
                loop.remove_signal_handler(sig)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _finish(self, code: int, why: str | None) -> None:
        if not self._stop.done():
            self.ended_by = why
            self._stop.set_result(code)

    def _on_stdin(self) -> None:
        try:
            data = os.read(self.stdin, 4096)
        except OSError:
            data = b""
        if not data:  # the local terminal went away
            self._finish(0, "stdin closed")
            return
        head, detach, _ = data.partition(DETACH)
        if head:
            self._outbox.put_nowait(self._decoder.decode(head))
        if detach:
            self._finish(0, "detached")

    def _on_resize(self) -> None:
        self._outbox.put_nowait(_size(self.stdout))

    async def _send(self) -> None:
        # One sender keeps keystrokes and resizes in the order they happened.
        while True:
            item = await self._outbox.get()
            if isinstance(item, tuple):
                await self.term.resize(*item)
            elif item:
                await self.term.send(item)

    async def _pump_output(self) -> None:
        async for chunk in self.term:
            os.write(self.stdout, chunk.encode("utf-8", "replace"))
        # The shell exited: its status is ours.
        code = self.term.exit_code
        self._finish(code if code is not None else 0, None)
