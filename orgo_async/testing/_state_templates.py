"""The emulator's template registry, its builds and the legacy Docker builds (§9).

Plain data plus the build "engine": a build walks the documented phases (``compile``,
``boot``, ``install``, ``snapshot``, ``record``, ``archive``, ``ready``), one log frame
``{ts, level, phase, source?, line}`` per step, ``step_delay`` seconds apart, and every
frame is pushed to the open build-event streams. Tests script the rest:

* ``registry.fail_next = "apt-get failed"``: the next build fails at ``install``;
* ``registry.step_delay``: how long a step takes (0 = instant);
* ``registry.can_publish = False``: the account is not on the Scale plan (403);
* ``registry.max_concurrent_builds`` / ``max_runs``: capacity (429).

Curated templates (``system/claude-code@1.0.0``, ``system/openclaw@1.0.0``,
``system/hermes-agent@1.0.0``) exist and are built from the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field
from typing import Any, Final

from ._state import new_uuid, now_iso, now_iso_ms
from ._template_rules import API_VERSION, digest_of, normalize

__all__ = ["BuildRecord", "LegacyBuildRecord", "TemplateRegistry", "TemplateVersionRecord"]

PHASES: Final = (
    ("compile", "builder", "compiling the template"),
    ("boot", "builder", "booting the build VM"),
    ("install", "apt", "installing packages"),
    ("snapshot", "builder", "taking the golden snapshot"),
    ("record", "builder", "recording the snapshot"),
    ("archive", "builder", "archiving the golden snapshot"),
)
CURATED: Final = ("claude-code", "openclaw", "hermes-agent")


@dataclass
class TemplateVersionRecord:
    """One published version; :meth:`json` is the documented list item."""

    namespace: str
    name: str
    version: str
    document: dict[str, Any]
    digest: str
    owner: str | None  # user id; None for curated templates
    published: str = field(default_factory=now_iso)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}@{self.version}"

    def json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "digest": self.digest,
            "published": self.published,
            "template": self.document,
        }


@dataclass
class BuildRecord:
    """The build of one ref: its status, its log, and the streams listening to it."""

    ref: str
    digest: str
    status: str = "not_built"
    events: list[dict[str, Any]] = field(default_factory=list)
    golden_dir: str | None = None
    build_time_ms: int | None = None
    reused: bool = False
    error: str | None = None
    cancel: bool = False
    listeners: set[asyncio.Queue[dict[str, Any] | None]] = field(default_factory=set)

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ref": self.ref,
            "digest": self.digest,
            "status": self.status,
            "reused": self.reused,
        }
        if self.status == "ready":
            data["golden_dir"] = self.golden_dir
            data["build_time_ms"] = self.build_time_ms
        if self.status == "failed":
            data["error"] = self.error
        return data

    def emit(self, level: str, phase: str, line: str, source: str | None = None) -> None:
        frame: dict[str, Any] = {"ts": now_iso_ms(), "level": level, "phase": phase, "line": line}
        if source is not None:
            frame["source"] = source
        self.events.append(frame)
        for q in self.listeners:
            q.put_nowait(frame)

    def finish(self, status: str, error: str | None = None) -> None:
        self.status = status
        self.error = error
        for q in self.listeners:
            q.put_nowait(None)  # the end of every open stream


@dataclass
class LegacyBuildRecord:
    """A ``/builds/create`` registration."""

    id: str
    org_id: str
    project_id: str
    name: str | None
    tag: str
    status: str = "pending"
    logs: str | None = None
    error_message: str | None = None
    updated: int = 0

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tag": self.tag,
            "name": self.name,
            "imageRef": f"registry.fly.io/orgoforge:{self.tag}",
            "buildkitUrl": "tcp://buildkit.orgo.internal:1234",
            "status": self.status,
        }


@dataclass
class TemplateRegistry:
    """Every template version, build, preview run and legacy build of the emulator."""

    versions: dict[str, TemplateVersionRecord] = field(default_factory=dict)
    builds: dict[str, BuildRecord] = field(default_factory=dict)
    built_digests: set[str] = field(default_factory=set)
    runs: dict[str, str] = field(default_factory=dict)  # desktop_id -> computer id
    legacy: dict[str, LegacyBuildRecord] = field(default_factory=dict)
    step_delay: float = 0.01
    keepalive: float = 15.0
    fail_next: str | None = None
    can_publish: bool = True
    max_concurrent_builds: int = 8
    max_runs: int = 4
    open_streams: int = 0
    _legacy_counter: int = 0

    def __post_init__(self) -> None:
        for name in CURATED:
            doc = normalize(
                {
                    "api_version": API_VERSION,
                    "template": {"name": name, "version": "1.0.0", "namespace": "system"},
                    "hardware": {"cpu": 2, "ram_gb": 8},
                }
            )
            record = self.publish(doc, owner=None)
            build = self.build_of(record)
            build.status, build.golden_dir, build.build_time_ms = "ready", "/golden/curated", 0
            self.built_digests.add(record.digest)

    def visible(self, ref: str, user_id: str) -> TemplateVersionRecord | None:
        """The version if it is curated or this user's."""
        record = self.versions.get(ref)
        if record is None or record.owner not in (None, user_id):
            return None
        return record

    def publish(self, document: dict[str, Any], *, owner: str | None) -> TemplateVersionRecord:
        block = document["template"]
        record = TemplateVersionRecord(
            namespace=block["namespace"],
            name=block["name"],
            version=block["version"],
            document=document,
            digest=digest_of(document),
            owner=owner,
        )
        self.versions[record.ref] = record
        self.builds.pop(record.ref, None)  # a forced re-publish starts from scratch
        return record

    def build_of(self, record: TemplateVersionRecord) -> BuildRecord:
        build = self.builds.get(record.ref)
        if build is None or build.digest != record.digest:
            build = self.builds[record.ref] = BuildRecord(record.ref, record.digest)
        return build

    def building(self) -> int:
        return sum(1 for b in self.builds.values() if b.status == "building")

    async def run_build(self, build: BuildRecord) -> None:
        """Walk the phases; honours ``cancel`` and ``fail_next``."""
        failure, self.fail_next = self.fail_next, None
        started = asyncio.get_running_loop().time()
        build.emit("info", "publish", f"building {build.ref} ({build.digest[:12]})")
        try:
            for phase, source, line in PHASES:
                await asyncio.sleep(self.step_delay)
                if build.cancel:
                    build.emit("error", "cancel", "build cancelled")
                    build.finish("failed", "build cancelled")
                    return
                if failure is not None and phase == "install":
                    build.emit("error", phase, f"build failed: {failure}", source)
                    build.finish("failed", failure)
                    return
                build.emit("info", phase, line, source)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                build.finish("failed", "emulator shut down")
            raise
        elapsed = asyncio.get_running_loop().time() - started
        build.golden_dir = f"/golden/{build.digest[:16]}"
        build.build_time_ms = int(elapsed * 1000)
        self.built_digests.add(build.digest)
        build.emit("success", "ready", f"golden snapshot ready in {elapsed:.1f}s")
        build.finish("ready")

    def new_legacy_build(self, org_id: str, project_id: str, name: str | None) -> LegacyBuildRecord:
        self._legacy_counter += 1
        tag = f"{name or 'build'}-{secrets.token_hex(4)}"
        record = LegacyBuildRecord(new_uuid(), org_id, project_id, name, tag)
        self.legacy[record.id] = record
        return record

    def latest_legacy(self, org_id: str, project_id: str, name: str) -> LegacyBuildRecord | None:
        """The latest completed build called ``name`` of the org: one of ``project_id``
        if there is one, else any of the org's (the official SDK builds templates in a
        workspace called ``templates`` and looks them up from the computer's own
        project, so a lookup bound to one project would never find them)."""
        done = [
            b
            for b in self.legacy.values()
            if b.status == "completed" and b.name == name and b.org_id == org_id
        ]
        same = [b for b in done if b.project_id == project_id]
        pool = same or done
        return max(pool, key=lambda b: b.updated) if pool else None

    def touch(self, record: LegacyBuildRecord) -> None:
        self._legacy_counter += 1
        record.updated = self._legacy_counter
