"""``orgo.computers``: CRUD, lifecycle, waiting and fleets (§§4-5).

The actions, screenshots and streaming (§§6-7) are inherited from
:class:`~orgo_async._resources.actions.ComputerActions` (``actions.py``).

Every method is a few lines: validate the caller's input (``ValueError`` before any
request), pick the :class:`~orgo_async._routes.Route` (which says whether it is safe to
retry), and let the pipeline send it.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import time
from collections.abc import Callable, Iterable
from typing import Any, overload

from .._errors import ComputerStateError, NotFoundError, WaitTimeoutError
from .._fleet import FleetRun, Watch
from .._models import (
    AutoStop,
    Computer,
    ComputerStatus,
    MoveResult,
    ResizeResult,
    Success,
    VncPassword,
    Workspace,
)
from .._protocol.templates import TemplateRef, parse_ref
from .._routes import ALREADY_GONE, ALREADY_IN_STATE, Route, check_choice, check_id, check_int
from .actions import ComputerActions
from .fleet import watch_workspaces, workspace_keys

__all__ = ["Computers"]

_START_TIMEOUT = 180.0  # "starting a stopped computer can take longer than a normal request"

_CREATE = Route("POST", "/computers", idempotent=False)
_GET = Route("GET", "/computers/{}", idempotent=True)
_DELETE = Route("DELETE", "/computers/{}", idempotent=True, settled_on_retry=ALREADY_GONE)
_VNC_PASSWORD = Route("GET", "/computers/{}/vnc-password", idempotent=True)
# start/stop are documented as idempotent (and also as 409 in the wrong state): a retry
# never makes a second state change, and its 409 after a lost answer is a success.
_START = Route(
    "POST",
    "/computers/{}/start",
    idempotent=True,
    timeout=_START_TIMEOUT,
    settled_on_retry=ALREADY_IN_STATE,
)
_STOP = Route(
    "POST",
    "/computers/{}/stop",
    idempotent=True,
    timeout=_START_TIMEOUT,
    settled_on_retry=ALREADY_IN_STATE,
)
_RESTART = Route("POST", "/computers/{}/restart", idempotent=False, timeout=_START_TIMEOUT)
_CLONE = Route("POST", "/computers/{}/clone", idempotent=False, timeout=_START_TIMEOUT)
_MOVE = Route("PATCH", "/computers/{}/move", idempotent=True)
_RESIZE = Route("PATCH", "/computers/{}/resize", idempotent=True, timeout=_START_TIMEOUT)
_AUTO_STOP_GET = Route("GET", "/computers/{}/auto-stop", idempotent=True)
_AUTO_STOP_SET = Route("PATCH", "/computers/{}/auto-stop", idempotent=True)
_WORKSPACE = Route("GET", "/workspaces/{}", idempotent=True)

_RAM = frozenset({4, 8, 16, 32, 64})
_CPU = frozenset({0.5, 1, 2, 4, 8, 16})  # 0.5: the official SDK allows it; docs list 1..16
_RESIZE_VCPUS = frozenset({1, 2, 4, 8, 16})
_RESIZE_MEM = frozenset({4, 8, 16, 32})  # live resize max is 32; 64 only at create
_OS = frozenset({"linux", "windows"})
_RESOLUTION = re.compile(r"^[1-9][0-9]{1,4}x[1-9][0-9]{1,4}x(8|16|24|32)$")


class Computers(ComputerActions):
    """Cloud desktops: lifecycle, actions and fleet operations.

    >>> c = await orgo.computers.create(workspace_id=ws.id, name="agent-1")  # doctest: +SKIP
    >>> await orgo.computers.click(c.id, 100, 200)                          # doctest: +SKIP
    >>> shot = await orgo.computers.screenshot(c.id)                        # doctest: +SKIP
    """

    # -- CRUD and credentials (§4) ------------------------------------------------------

    async def create(
        self,
        *,
        workspace_id: str,
        name: str,
        os: str | None = None,
        ram: int | None = None,
        cpu: int | float | None = None,
        disk_size_gb: int | None = None,
        resolution: str | None = None,
        auto_stop_minutes: int | None = None,
        template_ref: str | TemplateRef | None = None,
        gpu: str | None = None,
        image: str | None = None,
    ) -> Computer:
        """Create (and boot) a computer; the answer carries the connection fields.

        Omitted sizes are left to the API (4 GB / 1 vCPU, or the template's size, capped
        to the plan). Allowed values: ``ram`` 4/8/16/32/64, ``cpu`` 1/2/4/8/16 (0.5 as the
        official SDK allows), ``resolution`` like ``1280x720x24``. ``template_ref``
        (``namespace/name@version``, validated here) launches from a built template.
        ``gpu`` and ``image`` are only sent when given (older API versions).
        """
        check_id(workspace_id, "workspace_id")
        if not isinstance(name, str) or not name:
            raise ValueError("computer name must be a non-empty str")
        body: dict[str, Any] = {"workspace_id": workspace_id, "name": name}
        if os is not None:
            body["os"] = check_choice("os", os, _OS)
        if ram is not None:
            body["ram"] = check_choice("ram", ram, _RAM)
        if cpu is not None:
            body["cpu"] = check_choice("cpu", cpu, _CPU)
        if disk_size_gb is not None:
            body["disk_size_gb"] = check_int("disk_size_gb", disk_size_gb)
        if resolution is not None:
            if not isinstance(resolution, str) or not _RESOLUTION.match(resolution):
                raise ValueError(
                    "resolution must look like '1280x720x24' (WIDTHxHEIGHTxDEPTH), "
                    f"not {resolution!r}"
                )
            body["resolution"] = resolution
        if auto_stop_minutes is not None:
            body["auto_stop_minutes"] = check_int("auto_stop_minutes", auto_stop_minutes, 0)
        if template_ref is not None:
            body["template_ref"] = str(parse_ref(template_ref))  # ValueError if malformed
        if gpu is not None:
            body["gpu"] = gpu
        if image is not None:
            body["image"] = image
        return await self._pipeline.call(_CREATE, json=body, response_type=Computer)

    async def get(self, computer_id: str) -> Computer:
        """The computer, with its current status and connection fields."""
        return await self._pipeline.call(_GET, computer_id, response_type=Computer)

    async def list(self, workspace_id: str) -> builtins.list[Computer]:
        """The computers of a workspace (the API has no ``GET /computers``; this reads the
        workspace's ``desktops``)."""
        ws = await self._pipeline.call(_WORKSPACE, workspace_id, response_type=Workspace)
        return ws.desktops

    async def delete(self, computer_id: str) -> Success:
        """Delete the computer and its disk, permanently.

        A 404 answering a retry (after an attempt whose answer was lost) means that
        attempt deleted it: the call succeeds. A 404 on the first attempt is raised.
        """
        return await self._pipeline.call(_DELETE, computer_id, response_type=Success)

    async def vnc_password(self, computer_id: str) -> str:
        """The current VNC / WebSocket token. It rotates on every restart: never cache it."""
        result = await self._pipeline.call(_VNC_PASSWORD, computer_id, response_type=VncPassword)
        return result.password

    # -- lifecycle (§5) -----------------------------------------------------------------

    async def start(self, computer_id: str) -> Success:
        """Start a stopped (or suspended) computer: a cold boot from its saved disk.

        The docs call it idempotent but also list 409 when the computer is not stopped;
        a 409 surfaces as :class:`~orgo_async.ConflictError`, except when it answers a
        retry after an attempt whose answer was lost: that attempt started the computer,
        and the call succeeds (``message`` says so).
        """
        return await self._pipeline.call(_START, computer_id, response_type=Success)

    async def stop(self, computer_id: str) -> Success:
        """Stop a running computer; its disk is kept. 409 if it is not running (a 409
        answering a retry after a lost answer is that attempt having stopped it: success)."""
        return await self._pipeline.call(_STOP, computer_id, response_type=Success)

    async def restart(self, computer_id: str) -> Success:
        """Stop then start. The ``vnc_password`` rotates: reconnect WebSockets afterwards."""
        return await self._pipeline.call(_RESTART, computer_id, response_type=Success)

    async def clone(self, computer_id: str) -> Computer:
        """Copy the computer, disk included. The answer has ``id``, ``name``, ``status``."""
        return await self._pipeline.call(_CLONE, computer_id, response_type=Computer)

    async def move(self, computer_id: str, workspace_id: str) -> MoveResult:
        """Move the computer to another workspace of the same owner.

        Sends both ``workspace_id`` and its deprecated alias ``project_id``: the docs
        disagree about which one is required (§15.2 #14).
        """
        check_id(workspace_id, "workspace_id")
        body = {"workspace_id": workspace_id, "project_id": workspace_id}
        return await self._pipeline.call(_MOVE, computer_id, json=body, response_type=MoveResult)

    async def resize(
        self,
        computer_id: str,
        *,
        vcpus: int | None = None,
        mem_gb: int | None = None,
        disk_size_gb: int | None = None,
        bandwidth_limit_mbps: int | None = None,
        auto_stop_minutes: int | None = None,
    ) -> ResizeResult:
        """Resize a running computer live. Returns the values applied.

        A partial success (HTTP 207) returns with ``partial=True`` and per-dimension
        ``results``; when every dimension fails (422) it raises
        :class:`~orgo_async.UnprocessableEntityError`.
        """
        body: dict[str, int] = {}
        if vcpus is not None:
            body["vcpus"] = check_choice("vcpus", vcpus, _RESIZE_VCPUS)
        if mem_gb is not None:
            body["mem_gb"] = check_choice("mem_gb", mem_gb, _RESIZE_MEM)
        if disk_size_gb is not None:
            body["disk_size_gb"] = check_int("disk_size_gb", disk_size_gb)
        if bandwidth_limit_mbps is not None:
            body["bandwidth_limit_mbps"] = check_int("bandwidth_limit_mbps", bandwidth_limit_mbps)
        if auto_stop_minutes is not None:
            body["auto_stop_minutes"] = check_int("auto_stop_minutes", auto_stop_minutes, 0)
        if not body:
            raise ValueError("resize needs at least one of vcpus, mem_gb, disk_size_gb, ...")
        return await self._pipeline.call(
            _RESIZE,
            computer_id,
            json=body,
            response_type=ResizeResult,
            ok_statuses=frozenset({207}),
        )

    async def auto_stop(self, computer_id: str) -> AutoStop:
        """The auto-stop setting (``auto_stop_minutes``; 0 = never)."""
        return await self._pipeline.call(_AUTO_STOP_GET, computer_id, response_type=AutoStop)

    async def set_auto_stop(self, computer_id: str, minutes: int) -> AutoStop:
        """Suspend the computer after ``minutes`` idle (0 disables auto-stop)."""
        body = {"auto_stop_minutes": check_int("minutes", minutes, 0)}
        return await self._pipeline.call(
            _AUTO_STOP_SET, computer_id, json=body, response_type=AutoStop
        )

    @overload
    async def wait_until(
        self,
        computer_id: str,
        status: str | Iterable[str] = ...,
        *,
        timeout: float | None = ...,
        interval: float = ...,
        max_interval: float = ...,
        concurrency: int = ...,
        on_poll: Callable[[Computer], object] | None = ...,
    ) -> Computer: ...

    @overload
    async def wait_until(
        self,
        computer_id: builtins.list[str] | tuple[str, ...],
        status: str | Iterable[str] = ...,
        *,
        timeout: float | None = ...,
        interval: float = ...,
        max_interval: float = ...,
        concurrency: int = ...,
        on_poll: Callable[[Computer], object] | None = ...,
    ) -> builtins.list[Computer]: ...

    async def wait_until(
        self,
        computer_id: str | builtins.list[str] | tuple[str, ...],
        status: str | Iterable[str] = ComputerStatus.RUNNING,
        *,
        timeout: float | None = 120.0,
        interval: float = 0.25,
        max_interval: float = 5.0,
        concurrency: int = 64,
        on_poll: Callable[[Computer], object] | None = None,
    ) -> Computer | builtins.list[Computer]:
        """Poll until the computer (or every computer of a list) has ``status``.

        Polls back off from ``interval`` to ``max_interval``. Raises
        :class:`~orgo_async.WaitTimeoutError` after ``timeout`` seconds and
        :class:`~orgo_async.ComputerStateError` as soon as a computer enters ``error``
        (unless that is what was asked for). For a list, the first error of any
        computer is raised and the others are not waited for; the result keeps the
        order of the ids. ``on_poll`` is called with every computer as it is polled (a
        progress display can count the ones already there).

        >>> c = await orgo.computers.wait_until(c.id, "running", timeout=120)  # doctest: +SKIP
        """
        wanted = {status} if isinstance(status, str) else set(status)
        if not wanted:
            raise ValueError("status must name at least one status")
        ids: builtins.list[str] = (
            [computer_id] if isinstance(computer_id, str) else builtins.list(computer_id)
        )
        for i in ids:
            check_id(i, "computer_id")
        ends = float("inf") if timeout is None else time.monotonic() + timeout
        done: dict[str, Computer] = {}
        last: dict[str, str] = {}
        pending = builtins.list(dict.fromkeys(ids))
        delay = interval
        while True:
            for c in await self._poll(pending, concurrency):
                last[c.id] = c.status
                if on_poll is not None:
                    on_poll(c)
                if _reached(c, wanted):
                    done[c.id] = c
            pending = [i for i in pending if i not in done]
            if not pending:
                break
            remaining = ends - time.monotonic()
            if remaining <= 0:
                raise _wait_timeout(pending, wanted, timeout, last)
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, max_interval)
        if isinstance(computer_id, str):
            return done[computer_id]
        return [done[i] for i in ids]

    async def _poll(self, ids: builtins.list[str], concurrency: int) -> builtins.list[Computer]:
        """One GET of each id; the first error is raised (and the other GETs cancelled)."""
        if len(ids) == 1:
            return [await self.get(ids[0])]
        found: builtins.list[Computer] = []
        async with self.get_many(ids, concurrency=concurrency) as results:
            async for r in results:
                found.append(r.unwrap())
        return found

    # -- fleets -------------------------------------------------------------------------

    def get_many(self, computer_ids: Iterable[str], *, concurrency: int = 64) -> FleetRun[Computer]:
        """GET many computers with at most ``concurrency`` requests in flight.

        Yields :class:`~orgo_async.FleetResult` items as they complete; an error (bad id,
        404, timeout) is delivered as ``result.error`` and never aborts the fleet. Use
        ``async with`` so stopping early cancels the workers at once::

            async with orgo.computers.get_many(ids, concurrency=100) as results:
                async for r in results:
                    print(r.id, r.value.status if r.ok else r.error)
        """
        return FleetRun(computer_ids, self.get, concurrency=concurrency)

    def watch(
        self,
        computer_ids: Iterable[str] | None = None,
        *,
        workspace_id: str | Iterable[str] | None = None,
        interval: float = 5.0,
        concurrency: int = 64,
        details: bool = False,
    ) -> Watch[Computer]:
        """Status changes across a fleet: per computer, or per workspace.

        With ``computer_ids``, each computer is polled (``GET /computers/{id}``) once per
        ``interval``, spread evenly instead of bursting; each item's ``value`` is the
        full computer. A computer that answers 404 (deleted) is reported once, with
        ``status=None`` and the :class:`~orgo_async.NotFoundError` as ``error``, and is
        not polled again; when every computer is gone the iteration ends.

        Without them, workspaces are polled instead: ``GET /workspaces/{id}`` for each
        ``workspace_id`` (one id or several), or one ``GET /workspaces`` for all of them
        when ``workspace_id`` is ``None`` (new workspaces and computers are picked up).
        That is one request per workspace per round, whatever the number of computers,
        and the same items: a computer's first status (``previous=None``), each change,
        and ``status=None`` once when it leaves the watched workspaces (deleted, or
        moved to an unwatched one); ``workspace_id`` says where it is, and a move between
        watched workspaces is an item too (with ``previous == status`` if that stayed).
        Its ``value`` is a :class:`~orgo_async.Computer` with what the listing says
        (``id``, ``name``, ``status``, ``os``, ``ram``, ``cpu``, ``workspace_id``);
        ``details=True`` GETs the full computer (connection fields, current
        ``vnc_password``) for each change only, at most ``concurrency`` at a time (the
        first round fetches every computer once; ``value.status`` may already be newer
        than the listing's ``status``).

        Errors are items with ``error`` set, and the watch goes on: a computer's failed
        poll, a workspace's failed poll (one item whose ``id`` is the workspace's, ``""``
        for ``GET /workspaces``; a 404 also reports its computers gone), a failed
        ``details`` fetch (with the status the listing showed). Use ``async with`` so
        leaving stops every request at once::

            async with orgo.computers.watch(workspace_id=ws.id, interval=2) as changes:
                async for ch in changes:
                    print(ch.id, ch.previous, "->", ch.status)
        """
        if computer_ids is None:
            keys = None if workspace_id is None else workspace_keys(workspace_id)
            fetch = self.get if details else None
            return watch_workspaces(
                self._pipeline, keys, fetch, interval=interval, concurrency=concurrency
            )
        if workspace_id is not None:
            raise ValueError("watch takes computer_ids or workspace_id, not both")
        ids = [computer_ids] if isinstance(computer_ids, str) else computer_ids
        return Watch(
            ids,
            self.get,
            _status_of,
            interval=interval,
            concurrency=concurrency,
            gone_on=(NotFoundError,),
        )


def _status_of(c: Computer) -> str:
    return c.status


def _reached(c: Computer, wanted: set[str]) -> bool:
    """Whether ``c`` has a wanted status; ``error`` (unless wanted) ends the wait."""
    if c.status in wanted:
        return True
    if c.status == ComputerStatus.ERROR:
        raise ComputerStateError(
            f"computer {c.id} entered status 'error' while waiting for {sorted(wanted)}",
            computer_id=c.id,
            status=c.status,
        )
    return False


def _wait_timeout(
    pending: list[str], wanted: set[str], timeout: float | None, last: dict[str, str]
) -> WaitTimeoutError:
    states = ", ".join(f"{i}={last.get(i)}" for i in pending[:5])
    return WaitTimeoutError(
        f"{len(pending)} computer(s) did not reach {sorted(wanted)} within "
        f"{timeout:g}s (last seen: {states})",
        last_status=last.get(pending[0]),
    )
