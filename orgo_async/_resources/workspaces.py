"""``orgo.workspaces``: create, list, get and delete workspaces (``orgo-api.md`` §3).

Plus the legacy project endpoints that only exist under the deprecated ``/projects``
alias (§3.5): lookup by name and starting/stopping/restarting every computer at once.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from .._errors import APIStatusError, NotFoundError
from .._http import HTTPPipeline
from .._models import Success, Workspace, WorkspaceList
from .._routes import ALREADY_GONE, Route

__all__ = ["Workspaces"]

_CREATE = Route("POST", "/workspaces", idempotent=False)
_LIST = Route("GET", "/workspaces", idempotent=True)
_GET = Route("GET", "/workspaces/{}", idempotent=True)
_DELETE = Route("DELETE", "/workspaces/{}", idempotent=True, settled_on_retry=ALREADY_GONE)
# Legacy (v-A) endpoints, served only under /projects.
_BY_NAME = Route("GET", "/projects/by-name/{}", idempotent=True)
_POWER_TIMEOUT = 180.0  # like a single computer's start: booting takes a while
_START_ALL = Route("POST", "/projects/{}/start", idempotent=True, timeout=_POWER_TIMEOUT)
_STOP_ALL = Route("POST", "/projects/{}/stop", idempotent=True, timeout=_POWER_TIMEOUT)
_RESTART_ALL = Route("POST", "/projects/{}/restart", idempotent=False, timeout=_POWER_TIMEOUT)
# A name that can be one path segment as it is (after quoting) without surprises.
_PATH_SAFE_NAME = re.compile(r"[^/\\?#%\x00-\x1f\x7f]{1,256}")

_STATUSES = frozenset({"active", "inactive"})


class Workspaces:
    """Workspaces group computers; deleting one deletes its computers.

    >>> ws = await orgo.workspaces.create(name="prod")      # doctest: +SKIP
    >>> [c.name for c in (await orgo.workspaces.get(ws.id)).desktops]  # doctest: +SKIP
    """

    def __init__(self, pipeline: HTTPPipeline) -> None:
        self._pipeline = pipeline

    async def create(
        self, *, name: str, icon_url: str | None = None, status: str | None = None
    ) -> Workspace:
        """Create a workspace. ``name`` must be unique in the account (else 400)."""
        if not isinstance(name, str) or not name:
            raise ValueError("workspace name must be a non-empty str")
        if status is not None and status not in _STATUSES:
            raise ValueError(f"status must be one of {sorted(_STATUSES)}, not {status!r}")
        body: dict[str, str] = {"name": name}
        if icon_url is not None:
            body["icon_url"] = icon_url
        if status is not None:
            body["status"] = status
        return await self._pipeline.call(_CREATE, json=body, response_type=Workspace)

    async def list(self) -> list[Workspace]:
        """Every workspace the key can see, each with its computers (``desktops``)."""
        return (await self._pipeline.call(_LIST, response_type=WorkspaceList)).items

    async def get(self, workspace_id: str) -> Workspace:
        """One workspace with its computers. :class:`~orgo_async.NotFoundError` if unknown."""
        return await self._pipeline.call(_GET, workspace_id, response_type=Workspace)

    async def delete(self, workspace_id: str) -> Success:
        """Delete the workspace and permanently delete all its computers."""
        return await self._pipeline.call(_DELETE, workspace_id, response_type=Success)

    async def get_by_name(self, name: str) -> Workspace | None:
        """The workspace called ``name``, or ``None``.

        Asks the legacy ``GET /projects/by-name/{name}`` first; when it answers 404 or 405
        (the current API may not serve the legacy route, so a 404 from it proves nothing)
        or the name cannot be a path segment (``/``, ``%`` ...), lists the workspaces and
        filters, which always works.
        """
        if not isinstance(name, str) or not name:
            raise ValueError("workspace name must be a non-empty str")
        if _PATH_SAFE_NAME.fullmatch(name) and name not in (".", ".."):
            try:
                ws = await self._pipeline.request(
                    _BY_NAME.method,
                    _BY_NAME.path.format(quote(name, safe="")),
                    idempotent=_BY_NAME.idempotent,
                    response_type=Workspace,
                )
            except NotFoundError:
                pass
            except APIStatusError as e:
                if e.status_code != 405:
                    raise
            else:
                if ws.name in (None, name):
                    return ws
        for ws in await self.list():
            if ws.name == name:
                return ws
        return None

    async def start_all(self, workspace_id: str) -> Success:
        """Start every stopped computer of the workspace (legacy
        ``POST /projects/{id}/start``; the answer's shape is not documented, so it is
        read as a :class:`~orgo_async.Success` and extra fields are ignored)."""
        return await self._pipeline.call(_START_ALL, workspace_id, response_type=Success)

    async def stop_all(self, workspace_id: str) -> Success:
        """Stop every running computer of the workspace (legacy ``/projects/{id}/stop``)."""
        return await self._pipeline.call(_STOP_ALL, workspace_id, response_type=Success)

    async def restart_all(self, workspace_id: str) -> Success:
        """Restart every computer of the workspace (legacy ``/projects/{id}/restart``); the
        computers' ``vnc_password`` s rotate."""
        return await self._pipeline.call(_RESTART_ALL, workspace_id, response_type=Success)
