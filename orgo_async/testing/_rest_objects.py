"""The documented objects (computer §2.1, workspace §2.2) and how routes find them.

Lookups apply the caller's key: another account's workspace or computer is a 404
("404 = not found or no access"), and a workspace-scoped key gets the documented 403
``workspace_scope_mismatch`` body for anything outside its workspace. A template preview
(``POST /templates/run``) is in no workspace (so no listing shows it) and belongs to the
account whose key started it: other accounts get the same 404.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ._rest_http import API_KEY, ApiError, Emulator
from ._state import ApiKey, FakeComputer, FakeWorkspace

__all__ = [
    "NOT_AVAILABLE",
    "computer_json",
    "find_computer",
    "find_workspace",
    "preview_workspace",
    "require_running",
    "scope_error",
    "visible_computer",
    "workspace_json",
]

NOT_AVAILABLE = "Desktop instance not available"


def computer_json(fake: Emulator, c: FakeComputer) -> dict[str, Any]:
    """The computer object (§2.1): create and get fields together, connection fields set."""
    ws = fake.world.workspaces.get(c.workspace_id)
    data: dict[str, Any] = {
        "id": c.id,
        "name": c.name,
        "workspace_id": c.workspace_id,
        "project_name": ws.name if ws else None,
        "os": c.os,
        "ram": c.ram,
        "cpu": c.cpu,
        "disk_size_gb": c.disk_size_gb,
        "resolution": c.resolution,
        "status": c.status,
        "url": f"https://orgo.ai/workspaces/{c.workspace_id}/computers/{c.id}",
        "created_at": c.created_at,
        "auto_stop_minutes": c.auto_stop_minutes,
        "instance_id": c.instance_id,
        "fly_instance_id": c.instance_id,
        "hostname": fake.hostname,
        "connection_url": f"{fake.origin}/desktops/{c.instance_id}",
        "vnc_password": c.vnc_password,
        # Not in v-C, but the official SDK reads instance_details.resolution (§15.3 #5).
        "instance_details": {"resolution": c.resolution},
    }
    for name in ("template_ref", "gpu", "image"):
        value = getattr(c, name)
        if value is not None:
            data[name] = value
    return data


def workspace_json(fake: Emulator, ws: FakeWorkspace, *, desktops: bool = True) -> dict[str, Any]:
    """The workspace object (§2.2), with ``desktops`` in list/get answers."""
    data: dict[str, Any] = {
        "id": ws.id,
        "name": ws.name,
        "user_id": ws.user_id,
        "status": ws.status,
        "icon_url": ws.icon_url,
        "created_at": ws.created_at,
        "updated_at": ws.updated_at,
    }
    if desktops:
        data["desktops"] = [
            computer_json(fake, c) for c in fake.world.computers.values() if c.workspace_id == ws.id
        ]
    return data


def scope_error(key: ApiKey, target: str | None) -> ApiError:
    """The documented 403 for a workspace-scoped key used outside its workspace."""
    what = f"access workspace {target}" if target else "create or list other workspaces"
    return ApiError(
        403,
        f"This API key is scoped to workspace {key.workspace_id}. It cannot {what}. "
        "Use an account-wide key, or create a key scoped to the target workspace.",
        code="workspace_scope_mismatch",
        key_workspace_id=key.workspace_id,
        target_workspace_id=target,
    )


def find_workspace(fake: Emulator, request: web.Request, workspace_id: str) -> FakeWorkspace:
    """The workspace with this id, as the request's key may see it."""
    key = request[API_KEY]
    ws = fake.world.workspaces.get(workspace_id)
    if ws is None or ws.user_id != key.user_id:
        raise ApiError(404, "Workspace not found")
    if key.workspace_id is not None and key.workspace_id != ws.id:
        raise scope_error(key, ws.id)
    return ws


def find_computer(
    fake: Emulator, request: web.Request, computer_id: str | None = None
) -> FakeComputer:
    """The computer ``computer_id`` (default: the path's ``{id}``), as the request's key
    may see it."""
    cid = request.match_info["id"] if computer_id is None else computer_id
    return visible_computer(fake, request[API_KEY], fake.world.computers.get(cid))


_PREVIEW = "preview:"


def preview_workspace(user_id: str) -> str:
    """The ``workspace_id`` of a preview started by ``user_id``'s key: a workspace that
    does not exist (previews stay out of listings) and names the owner."""
    return _PREVIEW + user_id


def _owner(fake: Emulator, c: FakeComputer) -> str:
    """The account a computer belongs to: its workspace's, a preview's starter, or (a
    computer seeded into no workspace) the emulator's own account."""
    ws = fake.world.workspaces.get(c.workspace_id)
    if ws is not None:
        return ws.user_id
    if c.workspace_id.startswith(_PREVIEW):
        return c.workspace_id[len(_PREVIEW) :]
    return fake.world.user_id


def visible_computer(fake: Emulator, key: ApiKey, c: FakeComputer | None) -> FakeComputer:
    """``c`` if ``key`` may see it: 404 when missing or another account's (previews
    included), 403 when a scoped key points outside its workspace."""
    if c is None or _owner(fake, c) != key.user_id:
        raise ApiError(404, "Computer not found")
    if key.workspace_id is not None and key.workspace_id != c.workspace_id:
        raise scope_error(key, c.workspace_id)
    return c


def require_running(c: FakeComputer) -> None:
    """Actions need a running desktop; a suspended one resumes on the call (auto-stop
    guide), anything else is 400 ``Desktop instance not available`` (§14)."""
    if c.status == "suspended":
        c.set_status("running")
    if c.status != "running":
        raise ApiError(400, NOT_AVAILABLE)
