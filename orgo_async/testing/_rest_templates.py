"""The emulator's template routes (``orgo-api.md`` §9) and the legacy build API.

Documents are accepted as JSON or, when PyYAML is installed, as ``application/yaml``
(400 otherwise, naming the extra). Validation failures answer the documented
``{"ok": false, "errors": [...]}``: with 200 from ``/templates/validate`` and 422 from
publish. Build events are server-sent events: the log so far, then live frames, a
``: keep-alive`` comment every ``registry.keepalive`` seconds of silence (which is also
how a client that went away is noticed), closed at ``ready``/``failed``.

Choices where the reference is open: a re-publish of identical content is answered 201
with the existing version (only different content is a 409); build events of a version
never built are a 404; cancelling turns the build ``failed`` (``error: "build
cancelled"``) after a ``cancel`` frame; ``DELETE /templates/run`` answers
``{"success": true}``; ``/builds/latest`` answers ``{"build": null}`` when no completed
build has the name (the official SDK then uses its default image).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

from ._rest_body import check_fields, read_body, str_field
from ._rest_http import API_KEY, ApiError, Emulator, bad, json_response
from ._rest_objects import find_workspace, preview_workspace
from ._state import FakeComputer, new_uuid
from ._state_templates import BuildRecord, TemplateVersionRecord
from ._template_rules import CPUS, RAM_GB, TOP_LEVEL, digest_of, normalize, validate

__all__ = ["TemplatesApi", "launch_hardware"]

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def _ref(request: web.Request) -> str:
    m = request.match_info
    return f"{m['ns']}/{m['name']}@{m['version']}"


async def _document(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        bad("Empty template document")
    ctype = request.content_type
    if ctype in YAML_TYPES:
        try:
            import yaml
        except ImportError:
            bad("YAML documents need PyYAML in the emulator: pip install 'orgo-async[yaml]'")
        try:
            return yaml.safe_load(raw)
        except yaml.YAMLError as e:
            bad(f"Unparseable YAML: {e}")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as e:
        bad(f"Unparseable template document: {e}")


def launch_hardware(fake: Emulator, user_id: str, ref: str) -> dict[str, Any]:
    """For ``POST /computers`` with ``template_ref``: the template's hardware, or an
    ``ApiError`` (404 unknown template, 409 build not ready)."""
    record = fake.templates.visible(ref, user_id)
    if record is None:
        raise ApiError(404, f"Template {ref} not found")
    build = fake.templates.builds.get(ref)
    if build is None or build.status != "ready":
        raise ApiError(
            409, f"Template {ref} is not built (status: {build.status if build else 'not_built'})"
        )
    hw = record.document.get("hardware") or {}
    return {"cpu": hw.get("cpu"), "ram": hw.get("ram_gb"), "resolution": hw.get("resolution")}


class TemplatesApi:
    """Route handlers of templates, their builds and previews, and the legacy build API,
    for one emulator. ``remove_computer`` is the lifecycle's delete (stopping a preview
    deletes its computer the same way)."""

    def __init__(self, fake: Emulator, remove_computer: Callable[[FakeComputer], None]) -> None:
        self.fake = fake
        self.registry = fake.templates
        self.remove_computer = remove_computer

    def _version(self, request: web.Request) -> TemplateVersionRecord:
        record = self.registry.visible(_ref(request), request[API_KEY].user_id)
        if record is None:
            bad(f"Template {_ref(request)} not found", 404)
        return record

    def _plan(self) -> None:
        if not self.registry.can_publish:
            bad("Publishing, building and test-running templates needs the Scale plan", 403)

    # documents -------------------------------------------------------------------------

    async def schema(self, request: web.Request) -> web.Response:
        """``GET /template-schema``: a JSON Schema (its real content was not retrieved)."""
        return json_response(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "orgo.ai/v1 template",
                "type": "object",
                "required": ["api_version", "template"],
                "properties": {
                    **{key: {} for key in TOP_LEVEL},
                    "hardware": {
                        "type": "object",
                        "properties": {
                            "cpu": {"enum": list(CPUS)},
                            "ram_gb": {"enum": list(RAM_GB)},
                            "resolution": {"type": "string"},
                        },
                    },
                },
                "additionalProperties": False,
            }
        )

    async def validate(self, request: web.Request) -> web.Response:
        doc = await _document(request)
        errors = validate(doc)
        if errors:
            return json_response({"ok": False, "errors": errors})
        return json_response({"ok": True, "template": normalize(doc)})

    async def publish(self, request: web.Request) -> web.Response:
        self._plan()
        doc = await _document(request)
        errors = validate(doc)
        if errors:
            return json_response({"ok": False, "errors": errors}, 422)
        doc = normalize(doc)
        auto_build = request.query.get("auto_build", "false").lower() == "true"
        force = request.query.get("force", "false").lower() == "true"
        user = request[API_KEY].user_id
        block = doc["template"]
        ref = f"{block['namespace']}/{block['name']}@{block['version']}"
        existing = self.registry.versions.get(ref)
        if existing is not None and existing.owner not in (None, user):
            bad(f"Template {ref} belongs to another account", 409)
        if existing is not None and existing.digest != digest_of(doc) and not force:
            bad(
                f"Template {ref} already exists with different content; "
                "publish a new version or pass force=true",
                409,
            )
        record = existing
        if record is None or record.digest != digest_of(doc):
            record = self.registry.publish(doc, owner=user)
        answer: dict[str, Any] = {
            "ref": record.ref,
            "digest": record.digest,
            "published": record.published,
        }
        if auto_build:
            answer["auto_build"] = self._start(record)["status"]
        return json_response(answer, 201)

    # registry ----------------------------------------------------------------------------

    async def list_templates(self, request: web.Request) -> web.Response:
        user = request[API_KEY].user_id
        ns = request.query.get("namespace")
        items = [
            r.json()
            for r in self.registry.versions.values()
            if r.owner == user and (ns is None or r.namespace == ns)
        ]
        return json_response({"templates": items})

    async def curated(self, request: web.Request) -> web.Response:
        items = [r.json() for r in self.registry.versions.values() if r.owner is None]
        return json_response({"templates": items})

    async def versions(self, request: web.Request) -> web.Response:
        """Versions of ``ns/name`` (curated ones under ``/templates/global/...``)."""
        user = request[API_KEY].user_id
        ns, name = request.match_info["ns"], request.match_info["name"]
        curated = request.path.startswith("/api/templates/global/")
        items = [
            r.json()
            for r in self.registry.versions.values()
            if r.namespace == ns
            and r.name == name
            and (r.owner is None if curated else r.owner in (None, user))
        ]
        if not items:
            bad(f"Template {ns}/{name} not found", 404)
        return json_response({"versions": items})

    async def get_version(self, request: web.Request) -> web.Response:
        return json_response(self._version(request).json())

    async def delete_version(self, request: web.Request) -> web.Response:
        record = self._version(request)
        if record.owner is None:
            bad("Curated templates cannot be deleted", 403)
        del self.registry.versions[record.ref]
        self.registry.builds.pop(record.ref, None)
        return json_response({"deleted": True})

    # builds ------------------------------------------------------------------------------

    def _start(self, record: TemplateVersionRecord) -> dict[str, Any]:
        build = self.registry.build_of(record)
        if build.status == "building":
            return {"ref": record.ref, "digest": record.digest, "status": "building"}
        if record.digest in self.registry.built_digests:
            build.status, build.reused, build.error = "ready", True, None
            build.golden_dir = build.golden_dir or f"/golden/{record.digest[:16]}"
            build.build_time_ms = build.build_time_ms or 0
            return {"ref": record.ref, "digest": record.digest, "status": "ready", "reused": True}
        if self.registry.building() >= self.registry.max_concurrent_builds:
            bad("Build rate limit or host capacity reached; try again later", 429)
        fresh = BuildRecord(record.ref, record.digest, status="building")
        self.registry.builds[record.ref] = fresh
        self.fake.spawn(self.registry.run_build(fresh))
        return {"ref": record.ref, "digest": record.digest, "status": "building"}

    async def build(self, request: web.Request) -> web.Response:
        self._plan()
        record = self._version(request)
        await read_body(request)
        return json_response(self._start(record), 202)

    async def build_status(self, request: web.Request) -> web.Response:
        record = self._version(request)
        return json_response(self.registry.build_of(record).json())

    async def cancel_build(self, request: web.Request) -> web.Response:
        record = self._version(request)
        build = self.registry.builds.get(record.ref)
        if build is None or build.status != "building":
            return json_response({"status": "idle"}, 404)
        build.cancel = True
        return json_response({"status": "cancelling"}, 202)

    async def build_events(self, request: web.Request) -> web.StreamResponse:
        record = self._version(request)
        build = self.registry.builds.get(record.ref)
        if build is None or build.status == "not_built":
            bad(f"No build has been started for {record.ref}", 404)
        resp = web.StreamResponse(headers={"Cache-Control": "no-cache"})
        resp.content_type = "text/event-stream"
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        done = build.status in ("ready", "failed")
        backlog = list(build.events)
        if not done:
            build.listeners.add(queue)
        self.registry.open_streams += 1
        try:
            await resp.prepare(request)
            for old in backlog:
                await resp.write(b"data: " + msgspec.json.encode(old) + b"\n\n")
            while not done:
                try:
                    frame = await asyncio.wait_for(queue.get(), self.registry.keepalive)
                except TimeoutError:
                    await resp.write(b": keep-alive\n\n")
                    continue
                if frame is None:
                    break
                await resp.write(b"data: " + msgspec.json.encode(frame) + b"\n\n")
            with contextlib.suppress(ConnectionError):
                await resp.write_eof()
        except ConnectionError:
            pass  # the client went away
        finally:
            build.listeners.discard(queue)
            self.registry.open_streams -= 1
        return resp

    # previews ----------------------------------------------------------------------------

    async def run(self, request: web.Request) -> web.Response:
        self._plan()
        body = await read_body(request)
        check_fields(self.fake.strict, body, ("ref",))
        ref = str_field(body, "ref", required=True, nonempty=True, missing="ref is required")
        assert ref is not None
        key = request[API_KEY]
        record = self.registry.visible(ref, key.user_id)
        if record is None:
            bad(f"Template {ref} not found", 404)
        build = self.registry.builds.get(ref)
        if build is None or build.status != "ready":
            bad(f"Template {ref} build is not ready", 409)
        if len(self.registry.runs) >= self.registry.max_runs:
            bad("Run-VM rate limit or concurrency cap reached", 429)
        hw = record.document.get("hardware", {})
        c = FakeComputer(
            id=new_uuid(),
            name=f"preview-{record.name}",
            workspace_id=preview_workspace(key.user_id),  # no such workspace: in no listing
            status="running",
            cpu=hw.get("cpu", 1),
            ram=hw.get("ram_gb", 4),
            resolution=hw.get("resolution", "1280x720x24"),
            template_ref=ref,
        )
        self.fake.world.computers[c.id] = c
        self.registry.runs[c.instance_id] = c.id
        return json_response(
            {
                "id": c.id,
                "desktop_id": c.instance_id,
                "status": c.status,
                "vnc_password": c.vnc_password,
                "public_host": self.fake.hostname,
                "resolution": c.resolution,
            }
        )

    async def stop_run(self, request: web.Request) -> web.Response:
        desktop_id = request.query.get("id")
        if not desktop_id:
            bad("id is required")
        cid = self.registry.runs.get(desktop_id)
        c = self.fake.world.computers.get(cid) if cid else None
        if c is None or c.workspace_id != preview_workspace(request[API_KEY].user_id):
            bad("Preview not found", 404)
        del self.registry.runs[desktop_id]
        self.remove_computer(c)
        return json_response({"success": True})

    # legacy builds ---------------------------------------------------------------------

    async def legacy_create(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        check_fields(self.fake.strict, body, ("orgId", "projectId", "name"))
        org = str_field(body, "orgId", required=True, nonempty=True, missing="orgId is required")
        project = str_field(
            body, "projectId", required=True, nonempty=True, missing="projectId is required"
        )
        name = str_field(body, "name")
        assert org is not None and project is not None
        find_workspace(self.fake, request, project)
        record = self.registry.new_legacy_build(org, project, name)
        return json_response({"success": True, "build": record.json()})

    async def legacy_update(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        check_fields(self.fake.strict, body, ("buildId", "status", "logs", "errorMessage"))
        build_id = str_field(
            body, "buildId", required=True, nonempty=True, missing="buildId is required"
        )
        status = str_field(
            body, "status", required=True, nonempty=True, missing="status is required"
        )
        record = self.registry.legacy.get(build_id or "")
        if record is None:
            bad("Build not found", 404)
        find_workspace(self.fake, request, record.project_id)
        if status not in ("building", "completed", "failed"):
            bad("status must be one of building, completed, failed")
        record.status = status
        record.logs = body.get("logs", record.logs)
        record.error_message = body.get("errorMessage", record.error_message)
        self.registry.touch(record)
        return json_response({"success": True})

    async def legacy_latest(self, request: web.Request) -> web.Response:
        q = request.query
        for name in ("orgId", "projectId", "name"):
            if not q.get(name):
                bad(f"{name} is required")
        find_workspace(self.fake, request, q["projectId"])
        record = self.registry.latest_legacy(q["orgId"], q["projectId"], q["name"])
        return json_response({"build": record.json() if record else None})
