"""``orgo.workspaces``: create, list, get and delete workspaces (``orgo-api.md`` §3)."""

from __future__ import annotations

from .._http import HTTPPipeline
from .._models import Success, Workspace, WorkspaceList
from .._routes import Route

__all__ = ["Workspaces"]

_CREATE = Route("POST", "/workspaces", idempotent=False)
_LIST = Route("GET", "/workspaces", idempotent=True)
_GET = Route("GET", "/workspaces/{}", idempotent=True)
_DELETE = Route("DELETE", "/workspaces/{}", idempotent=True)

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
        """The workspace called ``name``, or ``None`` (list and filter: there is no
        lookup-by-name endpoint in the current API)."""
        for ws in await self.list():
            if ws.name == name:
                return ws
        return None
