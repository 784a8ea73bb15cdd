"""Small helpers shared by the emulator's product routes (files, templates, chat, agent).

Lookups with the same ownership and scope rules as the core routes (another account's
resource is a 404, a workspace-scoped key outside its workspace gets the documented 403
``workspace_scope_mismatch``), JSON answers and body-field checks that raise
:class:`~orgo_async.testing._rest.ApiError` (400 unless said otherwise).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

import msgspec
from aiohttp import web

from ._rest import API_KEY, ApiError
from ._state import ApiKey, FakeComputer, FakeWorkspace

if TYPE_CHECKING:
    from ._server import FakeOrgo

__all__ = [
    "bad",
    "bool_field",
    "find_computer",
    "find_workspace",
    "int_field",
    "json_response",
    "key_of",
    "only_fields",
    "require_running",
    "scope_error",
    "str_field",
]


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON answer."""
    return web.Response(
        status=status,
        body=msgspec.json.encode(data),
        content_type="application/json",
        headers=headers,
    )


def bad(message: str, status: int = 400, **extra: Any) -> NoReturn:
    """Answer ``status`` with the documented error body."""
    raise ApiError(status, message, **extra)


def key_of(request: web.Request) -> ApiKey:
    """The API key the middleware authenticated."""
    return request[API_KEY]


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


def find_workspace(fake: FakeOrgo, request: web.Request, workspace_id: str) -> FakeWorkspace:
    """The workspace, if this key may see it (404 / 403 otherwise)."""
    key = key_of(request)
    ws = fake.world.workspaces.get(workspace_id)
    if ws is None or ws.user_id != key.user_id:
        raise ApiError(404, "Workspace not found")
    if key.workspace_id is not None and key.workspace_id != ws.id:
        raise scope_error(key, ws.id)
    return ws


def find_computer(
    fake: FakeOrgo, request: web.Request, computer_id: str, *, message: str = "Computer not found"
) -> FakeComputer:
    """The computer, if this key may see it (404 / 403 otherwise)."""
    key = key_of(request)
    c = fake.world.computers.get(computer_id)
    ws = fake.world.workspaces.get(c.workspace_id) if c else None
    if c is None or (ws is not None and ws.user_id != key.user_id):
        raise ApiError(404, message)
    if key.workspace_id is not None and key.workspace_id != c.workspace_id:
        raise scope_error(key, c.workspace_id)
    return c


def require_running(c: FakeComputer) -> None:
    """Desktop work needs a running computer; a suspended one resumes on the call."""
    if c.status == "suspended":
        c.set_status("running")
    if c.status != "running":
        raise ApiError(400, "Desktop instance not available")


def only_fields(fake: FakeOrgo, body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """400 for unknown body fields when the emulator is strict."""
    if not fake.strict:
        return
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        bad(f"Unknown field(s): {', '.join(unknown)}")


def str_field(
    body: dict[str, Any], name: str, *, required: bool = False, message: str | None = None
) -> str | None:
    """A non-empty string field (``None`` when absent and optional)."""
    value = body.get(name)
    if value is None:
        if required:
            bad(message or f"{name} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        bad(message or f"'{name}' must be a non-empty string")
    return value


def int_field(body: dict[str, Any], name: str, *, minimum: int | None = None) -> int | None:
    """An integer field (bools refused)."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        bad(f"'{name}' must be an integer")
    if minimum is not None and value < minimum:
        bad(f"'{name}' must be >= {minimum}")
    return value


def bool_field(body: dict[str, Any], name: str) -> bool:
    """A boolean field, false when absent."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        bad(f"'{name}' must be a boolean")
    return value
