"""``orgo.templates.legacy``: the legacy Docker-template build API (``orgo-api.md`` §9).

The official SDK's ``Template.build()`` registers a build (``POST /builds/create``),
pushes an image with ``docker buildx`` and reports it (``POST /builds/update``);
``Computer(template="name")`` looks the image up (``GET /builds/latest``) and passes it
as ``image`` to ``POST /computers``. These methods speak the same endpoints, so images
built either way are interchangeable. Prefer the template registry for new work.
"""

from __future__ import annotations

from typing import Final

from .._http import HTTPPipeline
from .._models import Success, Workspace
from .._models_templates import LegacyBuild, LegacyBuildCreated, LegacyBuildLatest
from .._routes import Route, check_id

__all__ = ["LegacyBuilds"]

_CREATE = Route("POST", "/builds/create", idempotent=False)
_UPDATE = Route("POST", "/builds/update", idempotent=True)  # sets a status: same twice
_LATEST = Route("GET", "/builds/latest", idempotent=True)
_WORKSPACE = Route("GET", "/workspaces/{}", idempotent=True)

_STATUSES: Final = frozenset({"building", "completed", "failed"})


class LegacyBuilds:
    """Register, update and look up legacy Docker-image builds.

    ``org_id`` is the workspace owner's id; when omitted it is read from the workspace
    (its ``user_id``), as the official SDK does.
    """

    def __init__(self, pipeline: HTTPPipeline) -> None:
        self._pipeline = pipeline

    async def _org_id(self, workspace_id: str, org_id: str | None) -> str:
        if org_id is not None:
            if not isinstance(org_id, str) or not org_id:
                raise ValueError("org_id must be a non-empty str")
            return org_id
        ws = await self._pipeline.call(_WORKSPACE, workspace_id, response_type=Workspace)
        return ws.user_id or "orgo"  # the official SDK's fallback

    async def create(
        self, workspace_id: str, name: str | None = None, *, org_id: str | None = None
    ) -> LegacyBuild:
        """Register a build; the answer has ``id``, ``tag`` and the ``image_ref`` to push to."""
        check_id(workspace_id, "workspace_id")
        body = {"orgId": await self._org_id(workspace_id, org_id), "projectId": workspace_id}
        if name is not None:
            if not isinstance(name, str) or not name:
                raise ValueError("name must be a non-empty str")
            body["name"] = name
        result = await self._pipeline.call(_CREATE, json=body, response_type=LegacyBuildCreated)
        return result.build

    async def update(
        self,
        build_id: str,
        status: str,
        *,
        logs: str | None = None,
        error_message: str | None = None,
    ) -> Success:
        """Report a build's progress: ``building``, ``completed`` or ``failed``."""
        check_id(build_id, "build_id")
        if status not in _STATUSES:
            raise ValueError(f"status must be one of {sorted(_STATUSES)}, not {status!r}")
        body = {"buildId": build_id, "status": status}
        if error_message is not None:
            body["errorMessage"] = error_message
        if logs is not None:
            body["logs"] = logs
        return await self._pipeline.call(_UPDATE, json=body, response_type=Success)

    async def latest(
        self, workspace_id: str, name: str, *, org_id: str | None = None
    ) -> LegacyBuild | None:
        """The latest completed build called ``name``, or ``None``."""
        check_id(workspace_id, "workspace_id")
        if not isinstance(name, str) or not name:
            raise ValueError("name must be a non-empty str")
        params = {
            "orgId": await self._org_id(workspace_id, org_id),
            "projectId": workspace_id,
            "name": name,
        }
        result = await self._pipeline.call(_LATEST, params=params, response_type=LegacyBuildLatest)
        return result.build
