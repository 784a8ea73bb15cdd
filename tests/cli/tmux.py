"""A real terminal for tests: a private tmux server, keys in, the screen out.

Each :class:`Tmux` runs its own server (``tmux -L <unique>``, no user config), so tests
never see or touch anyone's sessions. Every wait has a short deadline and fails with the
screen's content, so a broken feature fails fast and says what it showed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import pytest

TMUX = shutil.which("tmux")
needs_tmux = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


def cli_command(*args: str) -> str:
    """The shell words that run ``python -m orgo_async ARGS``."""
    return shlex.join([sys.executable, "-m", "orgo_async", *args])


class Tmux:
    """One tmux server with one window running ``bash``."""

    def __init__(self, env: Mapping[str, str], cwd: Path) -> None:
        self.socket = f"orgo-test-{uuid.uuid4().hex[:12]}"
        self.env = {**env, "PS1": "$ ", "TERM": "xterm-256color", "HISTFILE": "/dev/null"}
        self.cwd = cwd

    async def _run(self, *args: str) -> str:
        assert TMUX is not None
        proc = await asyncio.create_subprocess_exec(
            TMUX,
            "-L",
            self.socket,
            "-f",
            "/dev/null",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            cwd=self.cwd,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {err.decode().strip()}")
        return out.decode()

    async def start(self, width: int = 80, height: int = 24) -> None:
        await self._run(
            "new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height),
            "bash --norc --noprofile",
        )  # fmt: skip
        await self.wait_for(lambda s: s.rstrip().endswith(("$", "#")))

    async def type(self, line: str) -> None:
        """Type ``line`` literally, then Enter."""
        await self._run("send-keys", "-t", "main", "-l", line)
        await self._run("send-keys", "-t", "main", "Enter")

    async def keys(self, *keys: str) -> None:
        """Press tmux key names (``C-c``, ``C-]``, ``Enter``)."""
        await self._run("send-keys", "-t", "main", *keys)

    async def resize(self, width: int, height: int) -> None:
        await self._run("resize-window", "-t", "main", "-x", str(width), "-y", str(height))

    async def screen(self, *, history: bool = False) -> str:
        """The visible screen (with ``history``: everything since the start)."""
        extra = ("-S", "-") if history else ()
        return await self._run("capture-pane", "-p", "-t", "main", *extra)

    async def wait_for(self, ready: Callable[[str], bool] | str, timeout: float = 10.0) -> str:
        """Poll the screen until ``ready`` (a predicate or a substring); its content."""
        check = ready if callable(ready) else (lambda s: ready in s)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            text = await self.screen()
            if check(text):
                return text
            if loop.time() > deadline:
                raise AssertionError(f"screen never became ready ({ready!r}):\n{text}")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # already gone
            await self._run("kill-server")


@contextlib.asynccontextmanager
async def started(
    env: Mapping[str, str], cwd: Path, *, width: int, height: int
) -> AsyncIterator[Tmux]:
    """A :class:`Tmux` of ``width`` x ``height`` at its shell prompt, in ``cwd``, with
    ``env`` added to this process's environment (:func:`shell_env`); its server is
    killed on the way out."""
    tmux = Tmux(shell_env(env), cwd)
    try:
        await tmux.start(width=width, height=height)
        yield tmux
    finally:
        await tmux.close()


def stty_settings(path: Path) -> str:
    """``stty -a`` output without the window size (which a test may change on purpose)."""
    first, *rest = path.read_text().splitlines()
    fields = [f for f in first.split(";") if "rows" not in f and "columns" not in f]
    return "\n".join([";".join(fields), *rest])


def pid_of(path: Path) -> int:
    return int(path.read_text().strip())


def shell_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORGO_", "TMUX"))}
    env.update(extra)
    return env
