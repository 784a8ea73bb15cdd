"""What ``orgo.computers.watch(workspace_id=...)`` needs from the API: workspace listings.

``GET /workspaces/{id}`` and ``GET /workspaces`` embed every computer with its status
(``desktops``, ``orgo-api.md`` §2.2, §3.2-3.3), so one request per workspace per round
tells the status of any number of computers. The generic polling and diffing is
:meth:`orgo_async._fleet.Watch.by_group`; this module says what to GET and what to read.

The hot path decodes the listing into :class:`ListedComputer` items, not :class:`Computer`:
only ``id``, ``name``, ``status``, ``os``, ``ram``, ``cpu`` (the fields of the
documented abbreviated listing items) are read, the rest of each object (connection
fields, dates, the ``vnc_password``) is skipped by msgspec in C, and the items are not
tracked by the garbage collector. On the emulator's ``GET /workspaces`` answer for
10,000 computers in 10 workspaces (6.4 MB of full computer objects), ``make bench``
("Fleet watch") measured 10 ms to decode it this way against 24 ms into
``Workspace``/``Computer`` models, where every ``Computer`` also registers its password
with the bounded secret registry (4,096 entries: 10,000 passwords evict each other on
every round).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import msgspec

from .._errors import NotFoundError
from .._fleet import Watch
from .._http import HTTPPipeline, Route, check_id
from .._models import Computer

__all__ = [
    "ListedComputer",
    "ListedWorkspace",
    "WorkspaceListing",
    "watch_workspaces",
    "workspace_keys",
]

_WORKSPACES = Route("GET", "/workspaces", idempotent=True)
_WORKSPACE = Route("GET", "/workspaces/{}", idempotent=True)


class ListedComputer(msgspec.Struct, kw_only=True, gc=False):
    """A computer as a workspace listing shows it (the fields every listing has).

    ``gc=False``: thousands are decoded per round and none can be part of a cycle (str
    and number fields only), so the garbage collector never needs to track them.
    """

    id: str
    name: str | None = None
    status: str = "unknown"
    os: str | None = None
    ram: int | None = None
    cpu: int | float | None = None


class ListedWorkspace(msgspec.Struct, kw_only=True):
    """A workspace of a listing. ``desktops`` is required: an answer without it (the old
    ``computer_count`` shape) cannot be watched, and says so as an ``APIDecodeError``
    instead of looking like a workspace whose computers were all deleted."""

    id: str
    desktops: list[ListedComputer]


class WorkspaceListing(msgspec.Struct, kw_only=True):
    """``GET /workspaces``; ``workspaces`` is required for the same reason."""

    workspaces: list[ListedWorkspace]


def _members(ws: ListedWorkspace) -> dict[str, ListedComputer]:
    return {c.id: c for c in ws.desktops}


def _status(listed: ListedComputer) -> str:
    return listed.status


def _value(workspace_id: str, listed: ListedComputer) -> Computer:
    # Only for a change, never for the steady state: a Computer with what the listing said.
    return Computer(
        id=listed.id,
        name=listed.name,
        status=listed.status,
        os=listed.os,
        ram=listed.ram,
        cpu=listed.cpu,
        workspace_id=workspace_id,
    )


def watch_workspaces(
    pipeline: HTTPPipeline,
    workspace_ids: list[str] | None,
    fetch: Callable[[str], Awaitable[Computer]] | None,
    *,
    interval: float,
    concurrency: int,
) -> Watch[Computer]:
    """A :class:`Watch` polling ``workspace_ids`` (``None``: every workspace, through one
    ``GET /workspaces`` per round); ``fetch`` gets the full computer of each change."""

    async def one(workspace_id: str) -> dict[str, dict[str, ListedComputer]]:
        ws = await pipeline.call(_WORKSPACE, workspace_id, response_type=ListedWorkspace)
        return {workspace_id: _members(ws)}

    async def every(_key: str) -> dict[str, dict[str, ListedComputer]]:
        answer = await pipeline.call(_WORKSPACES, response_type=WorkspaceListing)
        return {ws.id: _members(ws) for ws in answer.workspaces}

    keys: Iterable[str] = [""] if workspace_ids is None else workspace_ids
    return Watch.by_group(
        keys,
        every if workspace_ids is None else one,
        _status,
        _value,
        fetch=fetch,
        gone_on=(NotFoundError,),
        interval=interval,
        concurrency=concurrency,
    )


def workspace_keys(workspace_id: str | Iterable[str]) -> list[str]:
    """The workspace ids to watch, validated before anything is sent (``ValueError``)."""
    ids = [workspace_id] if isinstance(workspace_id, str) else list(workspace_id)
    for i in ids:
        check_id(i, "workspace_id")
    return list(dict.fromkeys(ids))
