"""Lifecycle routes (reference §§3-5): workspaces, computers CRUD, start / stop / restart,
clone, move, resize and auto-stop, with the visible state machine.

State machine (delays in :class:`~orgo_async.testing.Timings`):

* create / clone: ``running`` in the 201 by default, as v-C documents (§4.1: boots in
  under 500 ms). A slow boot (``Timings.create > 0``, :meth:`Timings.slow_boot`) answers
  ``creating`` and walks ``creating`` -(``create``)-> ``starting`` -(``boot``)->
  ``running``.
* ``running`` -stop-> ``stopping`` -(``stop``)-> ``stopped``; ``stopped``/``suspended``
  -start-> ``starting`` -(``boot``)-> ``running``; ``running``/``stopped``/``suspended``
  -restart-> ``restarting`` -(``restart``)-> ``running``; delete removes the computer
  (passing through ``deleting`` so open sockets close).
* A new ``vnc_password`` is minted on every restart **and** on every start from
  ``stopped``/``suspended`` (the reference leaves stop->start open, §15.1 #7; rotating is
  the conservative choice a client must cope with anyway).

Choices where the reference is open:

* wrong-state ``start``/``stop``/``restart`` answer **409** (v-C pages list 409 even
  though they also call the calls idempotent, §15.2 #9);
* workspace-scoped keys get the documented 403 ``workspace_scope_mismatch`` body for
  creating workspaces (``target_workspace_id: null``) and for moves;
* ``resize``: values outside the allowed sets -> 400; values above the plan's caps fail
  that dimension (``ok: false``): 200 all applied, 207 mixed, 422 all failed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ._rest_body import check_fields, int_field, is_number, read_body, str_field
from ._rest_http import API_KEY, ApiError, Emulator, bad, json_response
from ._rest_objects import (
    computer_json,
    find_computer,
    find_workspace,
    scope_error,
    workspace_json,
)
from ._rest_templates import launch_hardware
from ._state import Action, FakeComputer, FakeWorkspace, new_uuid

__all__ = ["POWER_FROM", "LifecycleRoutes"]

RAM_VALUES = (4, 8, 16, 32, 64)
CPU_VALUES = (0.5, 1, 2, 4, 8, 16)  # 0.5 only because the official SDK allows it
OS_VALUES = ("linux", "windows")
GPU_VALUES = ("none", "a10", "l40s", "a100-40gb", "a100-80gb")
RESIZE_VCPUS = (1, 2, 4, 8, 16)
RESIZE_MEM_GB = (4, 8, 16, 32)  # live max 32; 64 only at create (§5.6)
RESOLUTION_RE = re.compile(r"^(\d{2,5})x(\d{2,5})x(8|16|24|32)$")
TEMPLATE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*/[a-z0-9][a-z0-9_.-]*@[0-9A-Za-z.+-]+$")
CREATE_FIELDS = (
    "workspace_id",
    "project_id",
    "name",
    "os",
    "ram",
    "cpu",
    "disk_size_gb",
    "resolution",
    "auto_stop_minutes",
    "template_ref",
    "image",
    "gpu",
)
#: The states each power operation applies to (others: 409, or skipped workspace-wide).
POWER_FROM: dict[str, tuple[str, ...]] = {
    "start": ("stopped", "suspended"),
    "stop": ("running", "suspended"),
    "restart": ("running", "stopped", "suspended"),
}
_MIDDLE = {"start": "starting", "stop": "stopping", "restart": "restarting"}
_WRONG_STATE = {
    "start": "Computer is not stopped (status: {status})",
    "stop": "Computer is not running (status: {status})",
    "restart": "Computer cannot restart now (status: {status})",
}
RESIZE_FIELDS = ("vcpus", "mem_gb", "disk_size_gb", "bandwidth_limit_mbps", "auto_stop_minutes")


class LifecycleRoutes:
    """Route handlers for workspaces and the computer lifecycle of one emulator."""

    def __init__(self, fake: Emulator) -> None:
        self.fake = fake

    # workspaces ------------------------------------------------------------------------

    @staticmethod
    def _list_key(request: web.Request) -> str:
        return "projects" if request.path.startswith("/api/projects") else "workspaces"

    async def create_workspace(self, request: web.Request) -> web.Response:
        key = request[API_KEY]
        if key.workspace_id is not None:
            raise scope_error(key, None)
        body = await read_body(request)
        check_fields(self.fake.strict, body, ("name", "icon_url", "status"))
        name = str_field(body, "name", required=True, nonempty=True, missing="'name' is required")
        assert name is not None
        icon = str_field(body, "icon_url")
        status = str_field(body, "status", allowed=("active", "inactive")) or "active"
        for ws in self.fake.world.workspaces.values():
            if ws.user_id == key.user_id and ws.name == name:
                bad(f"A workspace named '{name}' already exists")
        ws = FakeWorkspace(
            id=new_uuid(), name=name, user_id=key.user_id, status=status, icon_url=icon
        )
        self.fake.world.workspaces[ws.id] = ws
        return json_response(workspace_json(self.fake, ws, desktops=False), 201)

    async def list_workspaces(self, request: web.Request) -> web.Response:
        key = request[API_KEY]
        items = [
            workspace_json(self.fake, ws)
            for ws in self.fake.world.workspaces.values()
            if ws.user_id == key.user_id and key.workspace_id in (None, ws.id)
        ]
        return json_response({self._list_key(request): items})

    async def get_workspace(self, request: web.Request) -> web.Response:
        ws = find_workspace(self.fake, request, request.match_info["id"])
        return json_response(workspace_json(self.fake, ws))

    async def workspace_by_name(self, request: web.Request) -> web.Response:
        key = request[API_KEY]
        name = request.match_info["name"]
        for ws in self.fake.world.workspaces.values():
            if ws.user_id == key.user_id and ws.name == name:
                found = find_workspace(self.fake, request, ws.id)
                return json_response(workspace_json(self.fake, found))
        raise ApiError(404, "Workspace not found")

    async def delete_workspace(self, request: web.Request) -> web.Response:
        ws = find_workspace(self.fake, request, request.match_info["id"])
        for c in [c for c in self.fake.world.computers.values() if c.workspace_id == ws.id]:
            self.remove_computer(c)
        del self.fake.world.workspaces[ws.id]
        return json_response({"success": True})

    # computers -------------------------------------------------------------------------

    def _check_capacity(self, cpu: float, ram: int) -> None:
        plan = self.fake.plan
        if cpu > plan.max_vcpus or ram > plan.max_mem_gb:
            raise ApiError(
                403,
                f"Requested size exceeds your plan's limit "
                f"({plan.max_vcpus} vCPU, {plan.max_mem_gb} GB)",
            )
        if plan.max_computers is not None and len(self.fake.world.computers) >= plan.max_computers:
            raise ApiError(403, f"Plan limit reached: at most {plan.max_computers} computers")

    def _unique_name(self, workspace_id: str, name: str) -> bool:
        return not any(
            c.name == name and c.workspace_id == workspace_id
            for c in self.fake.world.computers.values()
        )

    def _walk(
        self,
        c: FakeComputer,
        steps: list[tuple[str, float]],
        then: Callable[[], None] | None = None,
    ) -> None:
        """Walk ``c`` through ``steps`` (``(status, seconds in it)``; the last status is
        final), then run ``then``. A delay of 0 moves on at once; a status changed by
        someone else meanwhile (a stop during a boot) ends the walk."""
        status, delay = steps[0]
        c.set_status(status)
        if len(steps) == 1:
            if then is not None:
                then()
            return
        if delay == 0:
            self._walk(c, steps[1:], then)
            return

        async def go() -> None:
            await asyncio.sleep(delay)
            if c.status == status:
                self._walk(c, steps[1:], then)

        self.fake.spawn(go())

    def _boot_new(self, c: FakeComputer) -> None:
        """A new computer (create, clone): running at once, or a slow boot."""
        t = self.fake.timings
        if t.create == 0:
            c.set_status("running")
        else:
            self._walk(c, [("creating", t.create), ("starting", t.boot), ("running", 0)])

    def _boot(self, c: FakeComputer) -> None:
        """``start`` (and ensure-running): starting -(boot)-> running, screen back."""
        self._walk(c, [("starting", self.fake.timings.boot), ("running", 0)], _screen_back(c))

    async def create_computer(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        check_fields(self.fake.strict, body, CREATE_FIELDS)
        ws_id = str_field(body, "workspace_id") or str_field(body, "project_id")
        if not ws_id:
            bad("'workspace_id' is required")
        ws = find_workspace(self.fake, request, ws_id)
        name = str_field(body, "name", required=True, nonempty=True)
        assert name is not None
        options = _create_options(body, self.fake.plan.max_disk_gb)
        if options["template_ref"] is not None:  # a built template: its size, unless given
            hw = launch_hardware(self.fake, request[API_KEY].user_id, options["template_ref"])
            for field in ("ram", "cpu", "resolution"):
                if body.get(field) is None and hw[field]:
                    options[field] = hw[field]
        if not self._unique_name(ws.id, name):
            bad(f"A computer named '{name}' already exists in this workspace")
        self._check_capacity(options["cpu"], options["ram"])
        return self._add_new(FakeComputer(id=new_uuid(), name=name, workspace_id=ws.id, **options))

    def _add_new(self, c: FakeComputer) -> web.Response:
        c.screen.pointer = (c.width // 2, c.height // 2)
        self.fake.world.computers[c.id] = c
        self._boot_new(c)
        return json_response(computer_json(self.fake, c), 201)

    async def get_computer(self, request: web.Request) -> web.Response:
        return json_response(computer_json(self.fake, find_computer(self.fake, request)))

    def remove_computer(self, c: FakeComputer) -> None:
        """Delete ``c`` (a computer or a template preview)."""
        c.set_status("deleting")  # open WebSockets close
        self.fake.world.computers.pop(c.id, None)

    async def delete_computer(self, request: web.Request) -> web.Response:
        self.remove_computer(find_computer(self.fake, request))
        return json_response({"success": True})

    async def vnc_password(self, request: web.Request) -> web.Response:
        return json_response({"password": find_computer(self.fake, request).vnc_password})

    async def ensure_running(self, request: web.Request) -> web.Response:
        """Third-party endpoint (§0 #21): start if needed, answer ``instance_details``."""
        c = find_computer(self.fake, request)
        if c.status in ("stopped", "suspended"):
            c.rotate_password()
            self._boot(c)
        host, _, port = self.fake.hostname.rpartition(":")
        details = {
            "publicHost": host,
            "vncHost": host,
            "apiPort": int(port),
            "vncPort": int(port),
            "webPort": int(port),
            "resolution": c.resolution,
            "id": c.instance_id,
            "name": c.name,
        }
        return json_response({"success": True, "status": c.status, "instance_details": details})

    # start / stop / restart ------------------------------------------------------------

    def power(self, c: FakeComputer, op: str, **details: Any) -> None:
        """Begin ``op`` (``start``, ``stop`` or ``restart``) on ``c``, whose status must be
        one of ``POWER_FROM[op]``; the action log records it with ``details``. Also what
        the legacy workspace-wide power routes do to each computer."""
        c.actions.append(Action(op, details))
        t = self.fake.timings
        if op == "start":
            c.rotate_password()
            self._boot(c)
            return
        c.end_stream(terminated=True)
        if op == "stop":
            self._walk(c, [("stopping", t.stop), ("stopped", 0)])
            return
        c.set_status("restarting")  # open sockets go away (1001) ...
        c.rotate_password()  # ... and their token is dead (4401)
        self._walk(c, [("restarting", t.restart), ("running", 0)], _screen_back(c))

    async def _power_route(self, request: web.Request, op: str) -> web.Response:
        c = find_computer(self.fake, request)
        await read_body(request)
        if c.status not in POWER_FROM[op]:
            raise ApiError(409, _WRONG_STATE[op].format(status=c.status))
        self.power(c, op)
        return json_response({"success": True, "status": _MIDDLE[op]})

    async def start(self, request: web.Request) -> web.Response:
        return await self._power_route(request, "start")

    async def stop(self, request: web.Request) -> web.Response:
        return await self._power_route(request, "stop")

    async def restart(self, request: web.Request) -> web.Response:
        return await self._power_route(request, "restart")

    # clone / move / resize / auto-stop -------------------------------------------------

    async def clone(self, request: web.Request) -> web.Response:
        src = find_computer(self.fake, request)
        await read_body(request)
        if src.status in ("creating", "deleting", "error"):
            bad("Source computer has no server address")
        self._check_capacity(src.cpu, src.ram)
        name = f"{src.name} (clone)"
        n = 2
        while not self._unique_name(src.workspace_id, name):
            name = f"{src.name} (clone {n})"
            n += 1
        c = FakeComputer(
            id=new_uuid(),
            name=name,
            workspace_id=src.workspace_id,
            os=src.os,
            ram=src.ram,
            cpu=src.cpu,
            disk_size_gb=src.disk_size_gb,
            resolution=src.resolution,
            auto_stop_minutes=src.auto_stop_minutes,
            template_ref=src.template_ref,
            gpu=src.gpu,
            image=src.image,
            files=dict(src.files),
            bandwidth_limit_mbps=src.bandwidth_limit_mbps,
        )
        return self._add_new(c)

    async def move_workspace(self, request: web.Request) -> web.Response:
        c = find_computer(self.fake, request)
        body = await read_body(request)
        check_fields(self.fake.strict, body, ("workspace_id", "project_id"))
        target = str_field(body, "workspace_id") or str_field(body, "project_id")
        if not target:
            bad("'workspace_id' is required")
        key = request[API_KEY]
        if key.workspace_id is not None:  # scoped keys may not move computers at all
            raise scope_error(key, target)
        ws = find_workspace(self.fake, request, target)
        if ws.id == c.workspace_id:
            bad("Computer is already in that workspace")
        if not self._unique_name(ws.id, c.name):
            bad(f"A computer named '{c.name}' already exists in the target workspace")
        c.workspace_id = ws.id
        return json_response({"success": True, "workspace_id": ws.id, "project_id": ws.id})

    async def resize(self, request: web.Request) -> web.Response:
        """Live resize (§5.6): see the module docstring for the status codes."""
        c = find_computer(self.fake, request)
        body = await read_body(request)
        check_fields(self.fake.strict, body, RESIZE_FIELDS)
        vcpus = int_field(body, "vcpus", allowed=RESIZE_VCPUS)
        mem = int_field(body, "mem_gb", allowed=RESIZE_MEM_GB)
        disk = int_field(body, "disk_size_gb", minimum=1)
        bw = int_field(body, "bandwidth_limit_mbps", minimum=1)
        auto_stop = int_field(body, "auto_stop_minutes", minimum=0)
        if disk is not None and disk < c.disk_size_gb:
            bad(f"Disk can only grow (current {c.disk_size_gb} GB)")
        if c.status != "running":
            raise ApiError(409, f"Computer must be running to resize (status: {c.status})")
        results = _apply_resize(c, self.fake, vcpus, mem, disk, bw)
        if auto_stop is not None:
            c.auto_stop_minutes = auto_stop or None
        oks = [r["ok"] for r in results.values()]
        status = 200 if all(oks) else (422 if not any(oks) else 207)
        data: dict[str, Any] = {
            "vcpus": c.cpu,
            "mem_gb": c.ram,
            "disk_size_gb": c.disk_size_gb,
            "bandwidth_limit_mbps": c.bandwidth_limit_mbps,
        }
        if results:
            data["results"] = results
            data["partial"] = status == 207
        if auto_stop is not None:
            data["auto_stop_minutes"] = auto_stop
        c.actions.append(Action("resize", dict(body)))
        return json_response(data, status)

    async def get_auto_stop(self, request: web.Request) -> web.Response:
        c = find_computer(self.fake, request)
        return json_response({"auto_stop_minutes": c.auto_stop_minutes or 0, "configurable": True})

    async def set_auto_stop(self, request: web.Request) -> web.Response:
        """Stores the setting; the emulator does not suspend idle computers by itself
        (tests can ``set_status("suspended")`` to see the resume-on-call behaviour)."""
        c = find_computer(self.fake, request)
        body = await read_body(request)
        check_fields(self.fake.strict, body, ("auto_stop_minutes",))
        minutes = int_field(body, "auto_stop_minutes", required=True, minimum=0)
        assert minutes is not None
        c.auto_stop_minutes = minutes or None
        suspend_after = f"{minutes}m" if minutes else "0s"
        return json_response({"auto_stop_minutes": minutes, "auto_suspend_after": suspend_after})


def _create_options(body: dict[str, Any], max_disk_gb: int) -> dict[str, Any]:
    """The validated create fields that become the computer's own fields (§4.1)."""
    os_name = str_field(body, "os", allowed=OS_VALUES) or "linux"
    ram = int_field(body, "ram", allowed=RAM_VALUES) or 4
    cpu: float = 1
    if body.get("cpu") is not None:
        if not is_number(body["cpu"]) or body["cpu"] not in CPU_VALUES:
            bad("'cpu' must be one of 1, 2, 4, 8, 16")
        cpu = body["cpu"]
    disk = int_field(body, "disk_size_gb", minimum=8, maximum=max_disk_gb) or 8
    resolution = str_field(body, "resolution") or "1280x720x24"
    m = RESOLUTION_RE.match(resolution)
    if m is None or not (320 <= int(m[1]) <= 7680 and 200 <= int(m[2]) <= 4320):
        bad("'resolution' must look like WIDTHxHEIGHTxDEPTH, e.g. 1280x720x24")
    auto_stop = int_field(body, "auto_stop_minutes", minimum=0)
    template = str_field(body, "template_ref")
    if template is not None and not TEMPLATE_RE.match(template):
        bad("'template_ref' must look like namespace/name@version")
    return {
        "os": os_name,
        "ram": ram,
        "cpu": int(cpu) if float(cpu).is_integer() else cpu,
        "disk_size_gb": disk,
        "resolution": resolution,
        "auto_stop_minutes": auto_stop,
        "template_ref": template,
        "gpu": str_field(body, "gpu", allowed=GPU_VALUES),
        "image": str_field(body, "image"),
    }


def _apply_resize(
    c: FakeComputer,
    fake: Emulator,
    vcpus: int | None,
    mem: int | None,
    disk: int | None,
    bw: int | None,
) -> dict[str, dict[str, Any]]:
    """Apply each requested dimension within the plan's caps; the ``results`` entries."""
    plan = fake.plan
    results: dict[str, dict[str, Any]] = {}

    def attempt(
        key: str, requested: int | None, cap: int, unit: int, field: str, current: int
    ) -> None:
        if requested is None:
            return
        entry: dict[str, Any] = {"requested": requested * unit}
        if requested > cap:
            entry.update(applied=current * unit, ok=False, error=f"exceeds plan limit ({cap})")
        else:
            setattr(c, field, requested)
            entry.update(applied=requested * unit, ok=True)
        results[key] = entry

    attempt("vcpus", vcpus, plan.max_vcpus, 1, "cpu", int(c.cpu))
    attempt("mem_mb", mem, min(plan.max_mem_gb, 32), 1024, "ram", c.ram)
    attempt("disk_gb", disk, plan.max_disk_gb, 1, "disk_size_gb", c.disk_size_gb)
    attempt(
        "bandwidth_limit_mbps",
        bw,
        plan.max_bandwidth_mbps,
        1,
        "bandwidth_limit_mbps",
        c.bandwidth_limit_mbps,
    )
    return results


def _screen_back(c: FakeComputer) -> Callable[[], None]:
    """Publish ``screen_change`` once ``c`` runs again after a start or restart."""

    def publish() -> None:
        c.events.publish("screen_change", {"width": c.width, "height": c.height})

    return publish
