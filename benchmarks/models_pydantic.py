"""pydantic v2 equivalents of ``orgo_async.Computer`` and ``Workspace``, field for field.

Same field names, types (``datetime`` parsed, ``None`` defaults) and unknown-field policy
(ignored), so the decode comparison measures the libraries, not different work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ComputerP(BaseModel):
    """The Computer object of orgo-api.md §2.1."""

    id: str
    name: str | None = None
    status: str = "unknown"
    workspace_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    os: str | None = None
    ram: int | None = None
    cpu: int | float | None = None
    disk_size_gb: int | None = None
    resolution: str | None = None
    url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    auto_stop_minutes: int | None = None
    template_ref: str | None = None
    instance_id: str | None = None
    fly_instance_id: str | None = None
    hostname: str | None = None
    connection_url: str | None = None
    vnc_password: str | None = None
    gpu: str | None = None
    image: str | None = None
    instance_details: dict[str, Any] | None = None


class WorkspaceP(BaseModel):
    """The Workspace object of orgo-api.md §2.2, with its ``desktops``."""

    id: str
    name: str | None = None
    user_id: str | None = None
    status: str = "active"
    icon_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    desktops: list[ComputerP] = Field(default_factory=list)
    computer_count: int | None = None
