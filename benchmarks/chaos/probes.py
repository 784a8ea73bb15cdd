"""What the chaos and soak runs measure: resources, event-loop lag, secrets in text.

Resources are counted for real: file descriptors from ``/proc/self/fd``, RSS from
``/proc/self/status``, asyncio tasks, and (through the garbage collector, after a
collection) every ``aiohttp.ClientSession``/``TCPConnector`` not closed, every open
``socket.socket`` and every ``websockets`` connection not closed; child processes (the
emulator's shells) from ``/proc``.

Secrets: every log record (the root logger at DEBUG, so aiohttp's, websockets' and
asyncio's records too), every exception's text (``str``, ``repr``, ``args`` and the
formatted traceback with its chained causes) and the ``repr`` of what operations return
are searched. The API key is searched for directly; ``vnc_password`` values are 16 hex
characters, so every 16-hex-character window of the text is kept and intersected at the
end with every password the emulator issued (a password minted after the text was
produced is still found).
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import re
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = [
    "LagMeter",
    "LeakReport",
    "SecretScanner",
    "child_pids",
    "client_leaks",
    "fd_count",
    "heap_in_use_mb",
    "leak_report",
    "rss_mb",
    "snapshot",
]

_HEX_RUN = re.compile(r"[0-9a-f]{16,}")
_PASSWORD_LEN = 16


def fd_count() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def _status_kb(field_name: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


def rss_mb() -> float:
    """Resident set size now, MB."""
    return _status_kb("VmRSS") / 1024


def peak_rss_mb() -> float:
    """The highest resident set size so far, MB."""
    return _status_kb("VmHWM") / 1024


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def _mallinfo2() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        fn = libc.mallinfo2
    except (OSError, AttributeError):  # not glibc >= 2.33
        return None
    fn.restype = _MallInfo2
    return fn


_MALLINFO2 = _mallinfo2()


def heap_in_use_mb() -> float | None:
    """Bytes the C allocator has handed out and not got back (every Python object,
    buffer and zlib context lives there), MB; ``None`` off glibc.

    Flatter than RSS, which also counts pages of freed chunks the allocator keeps and
    grows as already-reserved pages are touched for the first time.
    """
    if _MALLINFO2 is None:
        return None
    info = _MALLINFO2()
    return float(info.uordblks + info.hblkhd) / (1024 * 1024)


def child_pids() -> list[int]:
    """Live (not reaped) child processes of this process."""
    me = str(os.getpid())
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the ")".
        if stat.rsplit(")", 1)[1].split()[1] == me:
            found.append(int(entry))
    return found


@dataclass
class LeakReport:
    """Resources still held; every field must be 0 after everything is closed."""

    sessions: int = 0
    connectors: int = 0
    sockets: int = 0
    websockets: int = 0
    tasks: int = 0
    children: int = 0
    fds: int = 0  # above the baseline
    task_names: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return (
            self.sessions
            + self.connectors
            + self.sockets
            + self.websockets
            + self.tasks
            + self.children
            + max(0, self.fds)
        )


def _open_objects() -> tuple[int, int, int, int]:
    import aiohttp

    ws_types: tuple[type, ...] = ()
    if "websockets.asyncio.connection" in sys.modules:
        from websockets.asyncio.connection import Connection
        from websockets.protocol import State

        ws_types = (Connection,)
        closed_state = State.CLOSED
    sessions = connectors = socks = wss = 0
    gc.collect()
    for obj in gc.get_objects():
        # type(), not isinstance(): a dead weakref.proxy raises on isinstance().
        kind = type(obj)
        if issubclass(kind, aiohttp.ClientSession):
            sessions += not obj.closed
        elif issubclass(kind, aiohttp.BaseConnector):
            connectors += not obj.closed
        elif issubclass(kind, socket.socket):
            socks += obj.fileno() != -1
        elif ws_types and issubclass(kind, ws_types):
            wss += obj.state is not closed_state
    return sessions, connectors, socks, wss


def client_leaks() -> LeakReport:
    """The client's objects still open (sessions, connectors, websockets): to call after
    closing the client while the server, whose own sockets and tasks would count, runs."""
    sessions, connectors, _, wss = _open_objects()
    return LeakReport(sessions=sessions, connectors=connectors, websockets=wss)


def snapshot(*, ignore: Iterable[asyncio.Task[Any]] = ()) -> LeakReport:
    """What is open now, in absolute numbers (``fds``: every open descriptor)."""
    sessions, connectors, socks, wss = _open_objects()
    skip = {asyncio.current_task(), *ignore}
    tasks = [t for t in asyncio.all_tasks() if t not in skip and not t.done()]
    return LeakReport(
        sessions=sessions,
        connectors=connectors,
        sockets=socks,
        websockets=wss,
        tasks=len(tasks),
        children=len(child_pids()),
        fds=fd_count(),
        task_names=sorted(t.get_name() for t in tasks)[:10],
    )


def leak_report(before: LeakReport, *, ignore: Iterable[asyncio.Task[Any]] = ()) -> LeakReport:
    """What is open now beyond ``before`` (a :func:`snapshot` taken before the run; the
    event loop's own self-pipe sockets, say, were already there)."""
    now = snapshot(ignore=ignore)
    return LeakReport(
        sessions=now.sessions - before.sessions,
        connectors=now.connectors - before.connectors,
        sockets=now.sockets - before.sockets,
        websockets=now.websockets - before.websockets,
        tasks=now.tasks - before.tasks,
        children=now.children - before.children,
        fds=now.fds - before.fds,
        task_names=now.task_names,
    )


class LagMeter:
    """A ticker task measuring how late the event loop wakes it (scheduling delay)."""

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.worst = 0.0
        self.samples: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.period
            await asyncio.sleep(self.period)
            lag = loop.time() - due
            self.samples.append(lag)
            if lag > self.worst:
                self.worst = lag

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._tick(), name="chaos-lag")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    def percentile(self, q: float) -> float:
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class SecretScanner(logging.Handler):
    """Collects what may contain a secret; :meth:`findings` says what did.

    Installed on the root logger at DEBUG, it sees every record; :meth:`scan` takes any
    other text (exception messages, reprs). Warnings (ResourceWarning and the like) and
    unraisable exceptions are counted too, since an unclosed resource shows up there.
    """

    def __init__(self, api_key: str) -> None:
        super().__init__(logging.DEBUG)
        self.api_key = api_key
        self.key_hits: list[str] = []
        self.windows: dict[str, str] = {}  # 16-hex window -> where it was seen
        self.records = 0
        self.texts = 0
        self.warnings: list[str] = []
        self.unraisable: list[str] = []
        self.task_errors: list[str] = []
        self._formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        self._saved: dict[str, Any] = {}
        self._catcher: warnings.catch_warnings[None] | None = None

    # -- collection -------------------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self._formatter.format(record)
        except Exception:  # a broken record must not break the run
            text = repr(record.msg)
        self.records += 1
        if record.name == "asyncio" and record.levelno >= logging.ERROR:
            self.task_errors.append(text[:300])
        self._check(text, f"log record from {record.name}")

    def scan(self, text: str, where: str) -> None:
        """Search ``text`` (from ``where``) for secrets."""
        self.texts += 1
        self._check(text, where)

    def scan_exception(self, exc: BaseException, where: str) -> None:
        """Search an exception's str, repr, args and formatted chain."""
        parts = [str(exc), repr(exc), *(repr(a) for a in exc.args)]
        parts.extend(traceback.format_exception(exc))
        self.scan("\n".join(parts), where)

    def _check(self, text: str, where: str) -> None:
        if self.api_key in text:
            self.key_hits.append(f"{where}: {text[:200]}")
        for run in _HEX_RUN.findall(text):
            for i in range(len(run) - _PASSWORD_LEN + 1):
                self.windows.setdefault(run[i : i + _PASSWORD_LEN], where)

    def findings(self, passwords: Iterable[str]) -> list[str]:
        """Where the API key or any of ``passwords`` was seen."""
        hits = list(self.key_hits)
        for pw in passwords:
            where = self.windows.get(pw)
            if where is not None:
                hits.append(f"vnc_password in {where}")
        return hits

    # -- installation -----------------------------------------------------------------

    def install(self) -> None:
        root = logging.getLogger()
        self._saved = {"level": root.level, "unraisablehook": sys.unraisablehook}
        root.setLevel(logging.DEBUG)
        root.addHandler(self)
        # catch_warnings restores the filters and showwarning on uninstall.
        self._catcher = warnings.catch_warnings()
        self._catcher.__enter__()
        warnings.simplefilter("always", ResourceWarning)

        def showwarning(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: TextIO | None = None,
            line: str | None = None,
        ) -> None:
            text = f"{category.__name__}: {message}"
            self.warnings.append(text[:300])
            self._check(text, "a warning")

        def unraisable(info: Any) -> None:
            text = f"{info.exc_type.__name__}: {info.exc_value!r} in {info.object!r}"
            self.unraisable.append(text[:300])
            self._check(text, "an unraisable exception")

        warnings.showwarning = showwarning
        sys.unraisablehook = unraisable

    def uninstall(self) -> None:
        root = logging.getLogger()
        root.removeHandler(self)
        if self._saved:
            root.setLevel(self._saved["level"])
            sys.unraisablehook = self._saved["unraisablehook"]
            self._saved = {}
        if self._catcher is not None:
            self._catcher.__exit__(None, None, None)
            self._catcher = None


def now() -> float:
    return time.monotonic()
