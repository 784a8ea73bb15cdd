"""msgspec Structs for every documented REST response (``orgo-api.md`` §§1-7). No I/O.

Decoding rules, the same for every model:

* unknown fields are ignored (the API adds fields; an old SDK must keep working);
* every field the docs do not promise on every version has a default, so a missing
  optional field never raises;
* enum-like values (``status``, ``os``, ``button`` ...) are plain ``str``: an unknown value
  from a newer server is kept as it came, never an error. The known values are listed in
  :class:`ComputerStatus` and friends, which are ``StrEnum``s that compare equal to the
  plain strings (``computer.status == ComputerStatus.RUNNING``).

Where the reference says the docs disagree, the model accepts every documented shape and
the field's docstring says so.
"""

from __future__ import annotations

import base64
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from ._errors import FieldError, describe_field_errors
from ._secrets import REDACTED
from ._secrets import remember as remember_secret

__all__ = [
    "ActionResult",
    "AutoStop",
    "BashResult",
    "Computer",
    "ComputerStatus",
    "ErrorBody",
    "ExecResult",
    "MoveResult",
    "ResizeDimension",
    "ResizeResult",
    "Screenshot",
    "ScreenshotMetadata",
    "ScreenshotResponse",
    "StreamStartResult",
    "StreamState",
    "StreamStatus",
    "StreamStopResult",
    "Success",
    "VncPassword",
    "Workspace",
    "WorkspaceList",
    "WorkspaceStatus",
]


class ComputerStatus(StrEnum):
    """Known values of :attr:`Computer.status` (v-C docs). Others are kept as plain str."""

    CREATING = "creating"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    RESTARTING = "restarting"
    SUSPENDED = "suspended"
    DELETING = "deleting"
    ERROR = "error"


class WorkspaceStatus(StrEnum):
    """Known values of :attr:`Workspace.status`."""

    ACTIVE = "active"
    INACTIVE = "inactive"


class StreamState(StrEnum):
    """Known values of :attr:`StreamStatus.status`."""

    IDLE = "idle"
    STREAMING = "streaming"
    TERMINATED = "terminated"


class _Model(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of every response model: keyword-only, unknown fields ignored."""


class Computer(_Model, kw_only=True):
    """A cloud desktop (§2.1). Returned by create, get, clone and inside workspaces.

    ``vnc_password`` is the current WebSocket/VNC token. It rotates on every restart, so
    never persist it; ``repr(computer)`` hides it. ``workspace_id`` appears in the create
    response and ``project_name`` in the get response (the docs disagree, §15.2 #5).
    ``cpu`` is a number because the official SDK also allows 0.5.
    """

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

    def __post_init__(self) -> None:
        # Remember the password so logs and error messages can redact it (_secrets).
        if self.vnc_password:
            remember_secret(self.vnc_password)

    def __repr__(self) -> str:
        fields = []
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is None or name == "instance_details":
                continue
            if name == "vnc_password":
                value = REDACTED
            fields.append(f"{name}={value!r}")
        return f"Computer({', '.join(fields)})"

    __str__ = __repr__

    @property
    def is_running(self) -> bool:
        """True when :attr:`status` is ``running``."""
        return self.status == ComputerStatus.RUNNING

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` parsed from :attr:`resolution` (``1280x720x24``), if known."""
        res = self.resolution
        if res is None and self.instance_details:
            value = self.instance_details.get("resolution")
            res = value if isinstance(value, str) else None
        if not res:
            return None
        parts = res.split("x")
        try:
            return int(parts[0]), int(parts[1])
        except (IndexError, ValueError):
            return None


class Workspace(_Model, kw_only=True):
    """A workspace (formerly "project") and, from list/get, its computers (``desktops``).

    Create returns no ``desktops``; the list and get responses embed them. An old doc
    version returned ``computer_count`` instead.
    """

    id: str
    name: str | None = None
    user_id: str | None = None
    status: str = "active"
    icon_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    desktops: list[Computer] = msgspec.field(default_factory=list)
    computer_count: int | None = None

    @property
    def computers(self) -> list[Computer]:
        """Alias of :attr:`desktops`, the name the rest of the SDK uses."""
        return self.desktops


class WorkspaceList(_Model):
    """``GET /workspaces`` (key ``workspaces``) or the ``/projects`` alias (key ``projects``)."""

    workspaces: list[Workspace] | None = None
    projects: list[Workspace] | None = None

    @property
    def items(self) -> list[Workspace]:
        return self.workspaces if self.workspaces is not None else (self.projects or [])


class Success(_Model):
    """``{"success": true}`` and its variants (delete, start, stop, restart)."""

    success: bool = True
    status: str | None = None
    message: str | None = None
    error: str | None = None


class VncPassword(_Model):
    """``GET /computers/{id}/vnc-password``."""

    password: str

    def __post_init__(self) -> None:
        remember_secret(self.password)

    def __repr__(self) -> str:
        return f"VncPassword(password={REDACTED!r})"


class MoveResult(_Model):
    """``PATCH /computers/{id}/move``. The docs show ``workspace_id``, ``project_id`` or both."""

    success: bool = True
    workspace_id: str | None = None
    project_id: str | None = None

    @property
    def destination(self) -> str | None:
        """The workspace the computer now belongs to, whichever key the server used."""
        return self.workspace_id or self.project_id


class ResizeDimension(_Model):
    """One entry of ``ResizeResult.results``: ``{requested, applied, ok, error?}``."""

    requested: int | float | None = None
    applied: int | float | None = None
    ok: bool = False
    error: str | None = None


class ResizeResult(_Model):
    """``PATCH /computers/{id}/resize``: the values actually applied.

    ``partial`` is true on HTTP 207 (some dimensions failed); a 422 (all failed) raises
    :class:`~orgo_async.UnprocessableEntityError` instead. ``results`` is present only when a
    resize ran (newer API versions).
    """

    vcpus: int | None = None
    mem_gb: int | None = None
    disk_size_gb: int | None = None
    bandwidth_limit_mbps: int | None = None
    auto_stop_minutes: int | None = None
    results: dict[str, ResizeDimension] | None = None
    partial: bool = False


class AutoStop(_Model):
    """``GET``/``PATCH /computers/{id}/auto-stop``. ``0`` minutes means never."""

    auto_stop_minutes: int | None = None
    configurable: bool | None = None
    auto_suspend_after: str | None = None


class ActionResult(_Model):
    """The action envelope ``{"success", "action", "details"}``.

    Older servers answer ``{"success": true}`` only; ``action`` is then ``None``.
    """

    success: bool = True
    action: str | None = None
    details: dict[str, Any] = msgspec.field(default_factory=dict)


class BashResult(_Model):
    """``POST /computers/{id}/bash``. ``output`` is stdout+stderr combined.

    ``success`` is true whenever the command ran; check ``exit_code`` (``None`` on servers
    that predate it).
    """

    output: str = ""
    exit_code: int | None = None
    success: bool = True
    action: str | None = None
    command: str | None = None

    @property
    def ok(self) -> bool:
        """True when the command ran and exited 0 (or the server reports no exit code)."""
        return self.success and (self.exit_code is None or self.exit_code == 0)


class ExecResult(_Model):
    """``POST /computers/{id}/exec`` (Python). ``success`` = no uncaught exception."""

    output: str = ""
    success: bool = True
    action: str | None = None
    timeout: bool = False
    error: str | None = None
    error_type: str | None = None

    @property
    def exit_code(self) -> int:
        """0 on success, 1 on an uncaught exception or timeout (Python's own convention)."""
        return 0 if self.success and not self.timeout else 1


class ScreenshotMetadata(_Model):
    """``metadata`` of the stored-URL screenshot form."""

    id: str | None = None
    timestamp: datetime | None = None
    size: int | None = None
    storage_path: str | None = None


class ScreenshotResponse(_Model):
    """The raw ``GET /computers/{id}/screenshot`` body, in any of its documented forms.

    ``image`` is raw base64 (``response_format=base64``), a ``data:`` URL (old schema), an
    absolute URL or an ``/api/storage/...`` path (stored-URL form).
    """

    image: str
    success: bool = True
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    metadata: ScreenshotMetadata | None = None


class Screenshot(msgspec.Struct, kw_only=True):
    """A screenshot as bytes, whatever form the server answered in.

    ``data`` is the image file (PNG or JPEG), ``mime_type`` its type, ``size`` its length in
    bytes; ``url`` is set when the server stored the image and answered with a URL.
    """

    data: bytes
    mime_type: str
    width: int | None = None
    height: int | None = None
    url: str | None = None
    metadata: ScreenshotMetadata | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def save(self, path: str) -> None:
        """Write the image file to ``path``."""
        with open(path, "wb") as f:
            f.write(self.data)

    def b64(self) -> str:
        """The image as base64 text (what LLM vision APIs take)."""
        return base64.b64encode(self.data).decode("ascii")

    def __repr__(self) -> str:
        return (
            f"Screenshot(mime_type={self.mime_type!r}, size={self.size}, "
            f"width={self.width}, height={self.height})"
        )


class StreamStartResult(_Model):
    """``POST /computers/{id}/stream/start``."""

    success: bool = True
    status: str | None = None
    pid: int | None = None
    start_time: datetime | None = None


class StreamStopResult(_Model):
    """``POST /computers/{id}/stream/stop`` (``message``/``error`` on older servers)."""

    success: bool = True
    message: str | None = None
    error: str | None = None


class StreamStatus(_Model):
    """``GET /computers/{id}/stream/status``: ``idle``, ``streaming`` or ``terminated``."""

    status: str = "idle"
    start_time: datetime | None = None
    pid: int | None = None
    message: str | None = None


class _NestedError(_Model):
    """``error`` as an object, the ``/v1/chat/completions`` shape."""

    type: str | None = None
    message: str | None = None
    code: str | None = None
    balance_cents: int | None = None


class ErrorBody(_Model):
    """A non-2xx answer's JSON body, in every documented shape (``orgo-api.md`` §1.4).

    * REST: ``{"error": "...", "request_id"?, "code"?, "upstream_status"?}`` plus
      ``key_workspace_id``/``target_workspace_id`` on a scope mismatch;
    * ``/v1/chat/completions``: ``{"error": {"type", "message", "code"}}``, with
      ``balance_cents`` on a 402 ``credits_exhausted`` (nested or beside ``error``);
    * templates: ``{"ok": false, "errors": [{"field", "code", "message", "hint"?}]}``;
    * older servers: ``{"success": false, "error": "..."}`` or ``{"message": "..."}``.

    >>> body = msgspec.json.decode(b'{"error": {"message": "m", "code": "c"}}', type=ErrorBody)
    >>> body.text(), body.error_code()
    ('m', 'c')
    """

    error: str | _NestedError | None = None
    message: str | None = None
    request_id: str | None = None
    code: str | None = None
    upstream_status: int | None = None
    key_workspace_id: str | None = None
    target_workspace_id: str | None = None
    ok: bool | None = None
    errors: list[FieldError] | None = None
    balance_cents: int | None = None

    def text(self) -> str | None:
        """The human-readable message, whichever shape carried it."""
        if isinstance(self.error, str):
            return self.error
        if isinstance(self.error, _NestedError) and self.error.message:
            return self.error.message
        if self.message:
            return self.message
        if self.errors:
            return describe_field_errors(self.errors)
        return None

    def error_code(self) -> str | None:
        """The machine-readable code (``workspace_scope_mismatch``...), if any."""
        if self.code:
            return self.code
        if isinstance(self.error, _NestedError):
            return self.error.code
        if self.errors:
            return self.errors[0].code
        return None

    def error_type(self) -> str | None:
        """``type`` of the nested chat error object, if that is the shape."""
        return self.error.type if isinstance(self.error, _NestedError) else None

    def balance(self) -> int | None:
        """``balance_cents`` of a ``credits_exhausted`` answer, wherever it was put."""
        if isinstance(self.error, _NestedError) and self.error.balance_cents is not None:
            return self.error.balance_cents
        return self.balance_cents
