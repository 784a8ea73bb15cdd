"""A real shell on a pseudo-terminal, driven from asyncio (stdlib only, POSIX).

:class:`PtyShell` opens a PTY pair, starts ``bash`` (or ``sh``) on the slave side as a
session leader with the PTY as its controlling terminal, and exposes the master side as
async ``read`` / ``write`` / ``resize`` / ``close``. The shell runs in a throwaway
``HOME`` with ``TERM=xterm-256color`` and a coloured prompt, so clients are exercised
against realistic ANSI output. Its environment is built from scratch (``PATH``,
``LANG`` only): secrets in the emulator's own environment (API keys) don't leak into it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import shutil
import signal
import struct
import sys
import tempfile
import termios
from typing import Final

__all__ = ["PROMPT", "PtyShell"]

#: bash prompt: green ``user@orgo-fake``, blue working directory (``\[ \]`` mark
#: non-printing sequences so line editing stays right).
PROMPT: Final = r"\[\e[1;32m\]user@orgo-fake\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ "
_SH_PROMPT: Final = "\x1b[1;32muser@orgo-fake\x1b[0m$ "

# Runs in the child, before the shell: make the PTY (fd 0) the controlling terminal of
# the new session, so the shell gets job control and SIGWINCH. Done in a tiny exec'd
# interpreter instead of preexec_fn, which is unsafe in a threaded process.
_LAUNCHER: Final = (
    "import fcntl, os, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "os.execve(sys.argv[1], sys.argv[1:], os.environ)\n"
)


def _find_shell() -> list[str]:
    bash = shutil.which("bash") or ("/bin/bash" if os.path.exists("/bin/bash") else None)
    if bash:
        return [bash, "--noprofile", "--rcfile", "{home}/.bashrc", "-i"]
    return ["/bin/sh", "-i"]


def _session_members(sid: int) -> list[int]:
    """Live processes in session ``sid`` (Linux ``/proc``; empty elsewhere)."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # Fields after the parenthesised command: state, ppid, pgrp, session, ...
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] != b"Z":
            members.append(int(entry))
    return members


class PtyShell:
    """One interactive shell on a PTY. Use :meth:`spawn`, then always :meth:`close`."""

    def __init__(self) -> None:
        self.master_fd = -1
        self.home = ""
        self.proc: asyncio.subprocess.Process | None = None
        self._loop = asyncio.get_running_loop()
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self._eof = False
        self._out = bytearray()
        self._writing = False
        self._drained = asyncio.Event()
        self._drained.set()

    async def spawn(self, cols: int, rows: int, argv: list[str] | None = None) -> None:
        """Start the shell on a ``cols`` x ``rows`` PTY (raises ``OSError`` on failure)."""
        self.home = tempfile.mkdtemp(prefix="orgo-fake-home-")
        command = argv or _find_shell()
        command = [part.replace("{home}", self.home) for part in command]
        rc = os.path.join(self.home, ".bashrc")
        with open(rc, "w", encoding="utf-8") as f:  # noqa: ASYNC230 - tiny local file
            f.write(f"PS1='{PROMPT}'\nHISTFILE=/dev/null\n")
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": self.home,
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            "SHELL": command[0],
            "USER": "user",
            "PS1": _SH_PROMPT,
        }
        master, slave = os.openpty()
        self.master_fd = master
        try:
            self._set_size(cols, rows)
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _LAUNCHER,
                *command,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=self.home,
                env=env,
                start_new_session=True,
            )
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self._loop.add_reader(master, self._on_readable)

    def _set_size(self, cols: int, rows: int) -> None:
        fcntl.ioctl(self.master_fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def resize(self, cols: int, rows: int) -> None:
        """Apply a new window size; the kernel sends SIGWINCH to the foreground job."""
        if self.master_fd >= 0:
            self._set_size(cols, rows)

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master_fd, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            # Linux reports EIO once every slave fd is closed (the shell is gone).
            if exc.errno != errno.EIO:
                raise
            data = b""
        if not data:
            self._eof = True
            self._loop.remove_reader(self.master_fd)
        self._chunks.put_nowait(data)

    async def read(self) -> bytes:
        """The next chunk of output; ``b""`` at end of file."""
        if self._eof and self._chunks.empty():
            return b""
        return await self._chunks.get()

    async def write(self, data: bytes) -> None:
        """Write to the shell's input, waiting while the PTY buffer is full."""
        if self.master_fd < 0:
            return
        self._out += data
        self._flush()
        await self._drained.wait()

    def _flush(self) -> None:
        while self._out:
            try:
                n = os.write(self.master_fd, self._out)
            except BlockingIOError:
                break
            except OSError:
                self._out.clear()  # the shell is gone; input has nowhere to go
                break
            del self._out[:n]
        if self._out and not self._writing:
            self._writing = True
            self._drained.clear()
            self._loop.add_writer(self.master_fd, self._flush)
        elif not self._out:
            if self._writing:
                self._loop.remove_writer(self.master_fd)
                self._writing = False
            self._drained.set()

    async def wait(self) -> int:
        """Wait for the shell to exit; its exit code (``128 + n`` for signal n)."""
        assert self.proc is not None
        code = await self.proc.wait()
        return 128 - code if code < 0 else code

    async def close(self) -> None:
        """Kill the shell's process group, reap it, close the PTY, remove ``HOME``."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            # The shell leads its own session and process group; SIGHUP is what a
            # terminal hangup sends (bash forwards it to its jobs), SIGKILL the backstop.
            for sig, grace in ((signal.SIGHUP, 1.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, sig)
                try:
                    async with asyncio.timeout(grace):
                        await proc.wait()
                    break
                except TimeoutError:
                    continue
        if proc is not None:
            # Jobs started with job control sit in their own process groups but stay in
            # the shell's session: finish them too.
            for pid in _session_members(proc.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if self.master_fd >= 0:
            self._loop.remove_reader(self.master_fd)
            if self._writing:
                self._loop.remove_writer(self.master_fd)
                self._writing = False
            self._drained.set()
            os.close(self.master_fd)
            self.master_fd = -1
        if self.home:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = ""
