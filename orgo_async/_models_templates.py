"""msgspec Structs for the template registry and the legacy build API (§9). No I/O.

The same decoding rules as :mod:`orgo_async._models`: unknown fields ignored, optional
fields defaulted, enum-like values (``status``, ``level``, ``phase``) kept as plain
``str`` with their known values listed in ``StrEnum`` s that compare equal to them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from ._errors import FieldError
from ._secrets import REDACTED
from ._secrets import remember as remember_secret

__all__ = [
    "BuildEvent",
    "BuildLevel",
    "BuildPhase",
    "BuildStart",
    "BuildState",
    "BuildStatus",
    "CancelBuild",
    "LegacyBuild",
    "LegacyBuildCreated",
    "LegacyBuildLatest",
    "PublishResult",
    "TemplateDeleted",
    "TemplateList",
    "TemplateRun",
    "TemplateValidation",
    "TemplateVersion",
    "TemplateVersions",
]


class _Model(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Base of the template models: keyword-only, unknown fields ignored."""


class BuildState(StrEnum):
    """Known values of :attr:`BuildStatus.status`."""

    NOT_BUILT = "not_built"
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class BuildLevel(StrEnum):
    """Known values of :attr:`BuildEvent.level`."""

    INFO = "info"
    SUCCESS = "success"
    WARN = "warn"
    ERROR = "error"


class BuildPhase(StrEnum):
    """Known values of :attr:`BuildEvent.phase`."""

    PUBLISH = "publish"
    COMPILE = "compile"
    BOOT = "boot"
    INSTALL = "install"
    SNAPSHOT = "snapshot"
    RECORD = "record"
    ARCHIVE = "archive"
    READY = "ready"
    CANCEL = "cancel"
    TIMEOUT = "timeout"


class TemplateVersion(_Model):
    """One published version: ``{ref, digest, published, template}`` (the full document)."""

    ref: str
    digest: str | None = None
    published: datetime | None = None
    template: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.ref.partition("/")[0]

    @property
    def name(self) -> str:
        return self.ref.partition("/")[2].partition("@")[0]

    @property
    def version(self) -> str:
        return self.ref.partition("@")[2]


class TemplateList(_Model):
    """``GET /templates`` and ``GET /templates/global``: ``{"templates": [...]}``."""

    templates: list[TemplateVersion] = msgspec.field(default_factory=list)


class TemplateVersions(_Model):
    """``GET /templates/{ns}/{name}``: ``{"versions": [...]}``. The curated variant's shape
    is not documented; a ``templates`` key is accepted too."""

    versions: list[TemplateVersion] | None = None
    templates: list[TemplateVersion] | None = None

    @property
    def items(self) -> list[TemplateVersion]:
        return self.versions if self.versions is not None else (self.templates or [])


class TemplateValidation(_Model):
    """``POST /templates/validate``: ``ok`` and the normalized ``template`` (``errors``
    when not ok; :meth:`Templates.validate` raises those as one typed error)."""

    ok: bool
    template: dict[str, Any] | None = None
    errors: list[FieldError] | None = None


class PublishResult(_Model):
    """``POST /templates``: the new ``ref`` and ``digest``; ``auto_build`` is ``"building"``
    when a build was started with it."""

    ref: str
    digest: str | None = None
    published: datetime | None = None
    auto_build: str | None = None


class TemplateDeleted(_Model):
    """``DELETE /templates/{ns}/{name}/{version}``: ``{"deleted": true}``."""

    deleted: bool = True


class BuildStart(_Model):
    """``POST .../build`` (202): ``status`` ``building``, or ``ready`` with ``reused`` when
    a build of the same digest already exists."""

    status: str
    ref: str | None = None
    digest: str | None = None
    reused: bool = False


class BuildStatus(_Model):
    """``GET .../build``: ``not_built``, ``building``, ``ready`` (``golden_dir``,
    ``build_time_ms``) or ``failed`` (``error``)."""

    status: str = BuildState.NOT_BUILT
    ref: str | None = None
    digest: str | None = None
    golden_dir: str | None = None
    build_time_ms: int | None = None
    reused: bool = False
    error: str | None = None

    @property
    def done(self) -> bool:
        """True once the build is ``ready`` or ``failed``."""
        return self.status in (BuildState.READY, BuildState.FAILED)


class CancelBuild(_Model):
    """``DELETE .../build``: ``cancelling`` (202) or ``idle`` (no build was running)."""

    status: str


class BuildEvent(_Model):
    """One build-log frame: ``{ts, level, phase, source?, line}``."""

    line: str = ""
    ts: datetime | None = None
    level: str = BuildLevel.INFO
    phase: str | None = None
    source: str | None = None

    @property
    def is_ready(self) -> bool:
        """True for the ``ready`` frame, the last one of a successful build."""
        return self.phase == BuildPhase.READY


class TemplateRun(_Model):
    """``POST /templates/run``: a short-lived preview computer.

    Connect through ``/desktops/{desktop_id}/...`` with :attr:`vnc_password` (hidden from
    ``repr``, redacted from logs and errors).
    """

    id: str
    desktop_id: str | None = None
    status: str | None = None
    vnc_password: str | None = None
    public_host: str | None = None
    resolution: str | None = None

    def __post_init__(self) -> None:
        if self.vnc_password:
            remember_secret(self.vnc_password)

    def __repr__(self) -> str:
        password = REDACTED if self.vnc_password else None
        return (
            f"TemplateRun(id={self.id!r}, desktop_id={self.desktop_id!r}, "
            f"status={self.status!r}, vnc_password={password!r}, "
            f"public_host={self.public_host!r}, resolution={self.resolution!r})"
        )

    __str__ = __repr__


class LegacyBuild(_Model):
    """A legacy Docker-template build (``/builds/*``): ``imageRef`` is what ``image=`` of
    ``computers.create`` takes."""

    id: str | None = None
    tag: str | None = None
    image_ref: str | None = msgspec.field(default=None, name="imageRef")
    buildkit_url: str | None = msgspec.field(default=None, name="buildkitUrl")
    status: str | None = None
    name: str | None = None


class LegacyBuildCreated(_Model):
    """``POST /builds/create``: ``{"success", "build": {...}}``."""

    build: LegacyBuild
    success: bool = True


class LegacyBuildLatest(_Model):
    """``GET /builds/latest``: ``{"build": {...}}``, ``null`` when none completed."""

    build: LegacyBuild | None = None
