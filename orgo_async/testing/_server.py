"""``FakeOrgo``: the in-process Orgo emulator (REST on ``aiohttp.web``, WebSockets alongside).

::

    async with FakeOrgo() as fake:            # binds 127.0.0.1 on a free port
        async with fake.client() as orgo:      # an AsyncOrgo pointed at it
            ...
        fake.computer(computer_id).actions     # what the desktop was asked to do
        fake.requests                          # every HTTP request, as received

By default the emulator behaves as the reference documents: a created computer is
``running`` in the 201, and start / stop / restart pass through their intermediate
states for a few tens of milliseconds (:class:`Timings`; ``Timings.slow_boot()`` for a
create that has to be waited for, ``Timings.instant()`` for no delays at all). The
state machine is described in :mod:`._rest_lifecycle`, every route in :mod:`._routes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import socket
import tempfile
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from ._config import BashHandler, ExecHandler, PlanLimits, Timings
from ._faults import Faults
from ._rest_http import RecordedRequest
from ._routes import OpenSockets, build_app
from ._state import (
    ApiKey,
    FakeComputer,
    FakeWorkspace,
    World,
    WsFault,
    new_uuid,
)
from ._state_agent import AgentWorld
from ._state_files import FileStore
from ._state_templates import TemplateRegistry

if TYPE_CHECKING:
    from orgo_async import AsyncOrgo

__all__ = [
    "EXEC_WARNING",
    "BashHandler",
    "ExecHandler",
    "FakeOrgo",
    "PlanLimits",
    "RecordedRequest",
    "Timings",
]

log = logging.getLogger("orgo_async.testing")

#: What ``FakeOrgo(allow_exec=True)`` logs (a warning) when it starts; a command line
#: that runs the emulator may print it itself.
EXEC_WARNING = (
    "\n"
    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    "!! orgo-async FakeOrgo: allow_exec=True. /bash and /exec RUN FOR REAL on THIS  !!\n"
    "!! machine as the current user. Anyone who can reach the port and knows the   !!\n"
    "!! API key can run commands here. Use only on loopback, only for testing.     !!\n"
    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
)


class FakeOrgo:
    """An Orgo emulator serving the documented REST API and WebSockets on loopback.

    Options: ``host``/``port`` (default 127.0.0.1, a free port), ``api_key`` (default a
    fresh ``sk_live_...``), ``latency`` (seconds added to every ``/api`` request),
    ``timings`` (:class:`Timings`), ``plan`` (:class:`PlanLimits`), ``allow_exec``
    (run ``/bash`` and ``/exec`` for real in local subprocesses; off by default and loud
    when on), ``vnc_target`` (``(host, port)`` of a real VNC server for websockify,
    ``None`` = the built-in RFB server), ``rtmp_connections`` (names ``stream/start``
    accepts; ``None`` = any), ``strict`` (reject unknown body fields with 400, so a typo
    in a client shows up; fields the official SDK sends are always accepted),
    ``max_recorded`` (keep only the newest N entries of :attr:`requests`; default: all),
    ``max_stored_screenshots`` (URL-form screenshots kept for ``/api/storage``).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        latency: float = 0.0,
        timings: Timings | None = None,
        plan: PlanLimits | None = None,
        allow_exec: bool = False,
        vnc_target: tuple[str, int] | None = None,
        rtmp_connections: set[str] | None = None,
        strict: bool = True,
        max_recorded: int | None = None,
        max_stored_screenshots: int = 256,
    ) -> None:
        self.host = host
        self.port = port
        self.world = World()
        self.api_key = api_key or "sk_live_fake_" + secrets.token_hex(12)
        self.world.keys[self.api_key] = ApiKey(self.api_key, self.world.user_id)
        self.latency = latency
        self.timings = timings or Timings()
        self.plan = plan or PlanLimits()
        self.allow_exec = allow_exec
        self.vnc_target = vnc_target
        self.rtmp_connections = rtmp_connections
        self.strict = strict
        # Bounds for long-running servers (the CLI): the oldest entries go first.
        self.max_recorded = max_recorded
        self.max_stored_screenshots = max_stored_screenshots
        self.faults = Faults()
        self.requests: list[RecordedRequest] = []
        self.in_flight: dict[Any, int] = {}
        self.storage: dict[str, bytes] = {}
        #: Stored files (§8), the template registry (§9), the hosted agent (§10).
        self.files = FileStore()
        self.templates = TemplateRegistry()
        self.agent = AgentWorld()
        self.base_url = ""
        self.origin = ""
        self._bash_handler: BashHandler | None = None
        self._exec_handler: ExecHandler | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self._listener: socket.socket | None = None
        self._sockets: OpenSockets | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._workdir: str | None = None
        self._pid = 4000
        self._refuse_until = 0.0
        self._reopen: asyncio.Task[Any] | None = None

    def __repr__(self) -> str:
        return f"FakeOrgo(base_url={self.base_url!r}, computers={len(self.world.computers)})"

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> FakeOrgo:
        """Bind and start serving; sets :attr:`base_url` and :attr:`origin`."""
        if self._runner is not None:
            raise RuntimeError("FakeOrgo already started")
        if self.allow_exec:
            log.warning(EXEC_WARNING)
        app, self._sockets = build_app(self)
        # A short shutdown grace: a test that abandons a slow request must not hang close().
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        self._runner = runner
        try:
            await self._listen()
        except BaseException:
            self._runner = None
            await runner.cleanup()
            raise
        # The advertised origin (connection_url, hostname) may be changed afterwards, by
        # a test that puts a proxy in front; it is only set here.
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.origin = f"http://{host}:{self.port}"
        self.base_url = self.origin + "/api"
        return self

    async def close(self) -> None:
        """Stop serving: no new connections, open WebSockets closed with 1001 (their
        channels cleaned up: shells killed, tunnels closed), pending transitions
        cancelled, then the server shut down.

        The WebSockets are closed while the server still reads, so each close handshake
        completes as soon as the peer answers (aiohttp's own shutdown stops reading
        first, which would make every open socket wait out its close timeout).
        """
        if self._reopen is not None:
            self._reopen.cancel()
            with contextlib.suppress(BaseException):
                await self._reopen
            self._reopen = None
        await self._stop_listening()  # open connections keep working
        if self._sockets is not None:
            await self._sockets.close_all()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    async def __aenter__(self) -> FakeOrgo:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def hostname(self) -> str:
        """``host:port`` of the emulator, the value of every computer's ``hostname``."""
        return self.origin.split("://", 1)[1] if self.origin else f"{self.host}:{self.port}"

    @property
    def refusing(self) -> bool:
        """Whether new connections are being refused (:meth:`refuse_connections`)."""
        return self._reopen is not None and not self._reopen.done()

    async def refuse_connections(self, seconds: float, *, close_idle: bool = True) -> None:
        """Refuse new TCP connections for ``seconds``, then listen again on the same port.

        The listening socket is closed, so a client's connect gets ``ECONNREFUSED``
        (what a restarting load balancer gives); open connections, WebSockets included,
        keep working. ``close_idle`` also closes the keep-alive connections that are idle
        right now, so a client with a connection pool has to open a new one (a request
        racing that close sees its connection dropped, as against a real server); one
        busy with a request stays open. Called again while refusing, it extends the
        window. Returns at once.
        """
        if seconds <= 0:
            raise ValueError("seconds must be > 0")
        if self._runner is None:
            raise RuntimeError("FakeOrgo is not started")
        loop = asyncio.get_running_loop()
        self._refuse_until = max(self._refuse_until, loop.time() + seconds)
        await self._stop_listening()
        if close_idle and self._runner.server is not None:
            for conn in self._runner.server.connections:
                # A busy one is left alone: aiohttp's graceful close() would stop
                # reading it at once (a WebSocket would miss its peer's frames).
                if conn.transport is not None and conn.transport not in self.in_flight:
                    conn.force_close()
        if not self.refusing:
            self._reopen = loop.create_task(self._listen_again())

    async def _listen_again(self) -> None:
        loop = asyncio.get_running_loop()
        # The window may be extended while this sleeps: sleep again until it is over.
        while (wait := self._refuse_until - loop.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(wait)
        await self._listen()

    async def _listen(self) -> None:
        """Listen on ``host:port`` (a free port the first time; the same one after)."""
        assert self._runner is not None
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.port), family=family, backlog=128)
        site = web.SockSite(self._runner, sock)
        try:
            await site.start()
        except BaseException:
            sock.close()
            raise
        self._site, self._listener = site, sock
        self.port = int(sock.getsockname()[1])

    async def _stop_listening(self) -> None:
        """Close the listening socket; accepted connections keep working.

        Accepting stops first and the loop turns twice before the server closes: on
        Python 3.11 a connection accepted just before ``Server.close()`` but set up just
        after it fails an assertion in ``Server._attach``, and its socket is never
        closed (nor served: its client waits for an answer that never comes).
        """
        site, sock = self._site, self._listener
        if site is None or sock is None:
            return
        self._site = self._listener = None
        with contextlib.suppress(ValueError, OSError, NotImplementedError):
            asyncio.get_running_loop().remove_reader(sock.fileno())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        await site.stop()

    # -- conveniences for tests --------------------------------------------------------

    @property
    def agent_url(self) -> str:
        """The hosted agent's WebSocket URL here (``ws://host:port/ws/prompt``)."""
        return "ws" + self.origin.removeprefix("http") + "/ws/prompt"

    def client(self, **options: Any) -> AsyncOrgo:
        """An ``orgo_async.AsyncOrgo`` with this emulator's key, base URL and agent URL."""
        from orgo_async import AsyncOrgo  # lazily: the emulator must not need the SDK

        options.setdefault("agent_url", self.agent_url)
        return AsyncOrgo(api_key=self.api_key, base_url=self.base_url, **options)

    def computer(self, computer_id: str) -> FakeComputer:
        """The emulated computer with this id (or ``instance_id``); ``KeyError`` if none."""
        c = self.world.computer_by_instance(computer_id)
        if c is None:
            raise KeyError(f"no computer {computer_id!r}")
        return c

    def workspace(self, workspace_id: str) -> FakeWorkspace:
        """The emulated workspace with this id; ``KeyError`` if none."""
        return self.world.workspaces[workspace_id]

    def add_key(self, workspace_id: str | None = None, *, user_id: str | None = None) -> str:
        """Mint another accepted key: workspace-scoped when ``workspace_id`` is given;
        ``user_id`` makes it another account's key (which sees none of this one's data)."""
        key = "sk_live_fake_" + secrets.token_hex(12)
        self.world.keys[key] = ApiKey(key, user_id or self.world.user_id, workspace_id)
        return key

    def revoke_key(self, key: str) -> None:
        """Stop accepting ``key`` (its next use gets 401 ``Invalid API key``)."""
        self.world.keys.pop(key, None)

    def add_workspace(self, name: str, **fields: Any) -> FakeWorkspace:
        """Create a workspace directly in the world (no HTTP), for seeding tests."""
        ws = FakeWorkspace(id=new_uuid(), name=name, user_id=self.world.user_id, **fields)
        self.world.workspaces[ws.id] = ws
        return ws

    def add_computer(
        self, workspace_id: str, name: str, *, status: str = "running", **fields: Any
    ) -> FakeComputer:
        """Create a computer directly in the world (no HTTP, no boot delay)."""
        c = FakeComputer(
            id=new_uuid(), name=name, workspace_id=workspace_id, status=status, **fields
        )
        self.world.computers[c.id] = c
        return c

    @property
    def bash_handler(self) -> BashHandler | None:
        """The handler answering ``/bash`` (set with :meth:`on_bash`), or ``None``."""
        return self._bash_handler

    @property
    def exec_handler(self) -> ExecHandler | None:
        """The handler answering ``/exec`` (set with :meth:`on_exec`), or ``None``."""
        return self._exec_handler

    def on_bash(self, handler: BashHandler | None) -> BashHandler | None:
        """Answer ``/bash`` with ``handler`` (see :data:`BashHandler`); usable as a decorator.

        Without a handler: ``allow_exec=True`` runs the command with ``bash -c``; otherwise
        a tiny built-in shell answers ``echo``, ``printf``-free redirections (``>``/``>>``),
        ``cat``, ``ls``, ``touch``, ``rm``, ``cp``, ``mv``, ``pwd``, ``whoami``,
        ``hostname``, ``true``, ``false``, ``exit N`` over an in-memory file system, and
        any other command outputs ``""`` with exit code 0.
        """
        self._bash_handler = handler
        return handler

    def on_exec(self, handler: ExecHandler | None) -> ExecHandler | None:
        """Answer ``/exec`` with ``handler`` (see :data:`ExecHandler`); usable as a decorator.

        Without a handler: ``allow_exec=True`` runs the code with this Python; otherwise
        ``print(<literals>)`` statements are answered and anything else outputs ``""``
        successfully.
        """
        self._exec_handler = handler
        return handler

    def rotate_password(self, computer_id: str) -> str:
        """Mint a new ``vnc_password`` now (open WebSockets of the computer close 4401)."""
        return self.computer(computer_id).rotate_password()

    def add_ws_fault(
        self,
        computer_id: str,
        channel: Literal["terminal", "audio", "events", "websockify"],
        close_code: int | None = None,
        *,
        after_frames: int = 0,
        reason: str = "",
        times: int | None = 1,
        reset: bool = False,
    ) -> WsFault:
        """Close the next ``times`` sockets of ``channel`` with ``close_code`` after
        ``after_frames`` server frames; ``reset=True`` instead aborts the TCP connection
        there (a reset, no close frame: the client sees 1006)."""
        if (close_code is None) == (not reset):
            raise ValueError("give either a close_code or reset=True")
        fault = WsFault(channel, close_code or 1006, after_frames, reason, times, reset)
        self.computer(computer_id).ws_faults.append(fault)
        return fault

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests with this method and exact path (with or without ``/api``)."""
        full = path if path.startswith("/api") else "/api" + path
        return [r for r in self.requests if r.method == method.upper() and r.path == full]

    # -- internals shared with the routes ------------------------------------------------

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, cancelled by :meth:`close`."""

        async def run() -> Any:
            return await coro

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def next_pid(self) -> int:
        """A fake process id for ``process_start``/``stream`` answers."""
        self._pid += 1
        return self._pid

    def workdir(self) -> str:
        """A private temporary directory for ``allow_exec`` subprocesses."""
        if self._workdir is None:
            self._workdir = tempfile.mkdtemp(prefix="orgo-fake-")
        return self._workdir
