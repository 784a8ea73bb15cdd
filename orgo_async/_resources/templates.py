"""``orgo.templates``: the template registry, builds, previews (``orgo-api.md`` §9).

Refs (``namespace/name@version``) are validated before any request
(:mod:`orgo_async._protocol.templates`). Documents are a ``dict``, JSON or YAML text, or a
path to a ``.json``/``.yaml``/``.yml`` file; they are always sent as JSON. YAML needs the
optional extra ``orgo-async[yaml]`` (PyYAML); without it, YAML input raises an
``ImportError`` that names the extra.

A validation failure (``{"ok": false, "errors": [...]}`` or a 422) raises one
:class:`~orgo_async.TemplateValidationError` carrying every field error.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any, Final

import msgspec

from .._errors import (
    APIDecodeError,
    NotFoundError,
    TemplateBuildError,
    TemplateValidationError,
    WaitTimeoutError,
)
from .._http import HTTPPipeline
from .._models import Success
from .._models_templates import (
    BuildEvent,
    BuildStart,
    BuildState,
    BuildStatus,
    CancelBuild,
    PublishResult,
    TemplateDeleted,
    TemplateList,
    TemplateRun,
    TemplateValidation,
    TemplateVersion,
    TemplateVersions,
)
from .._protocol.templates import (
    TemplateRef,
    check_document,
    looks_like_path,
    parse_document_text,
    parse_name,
    parse_ref,
)
from .._routes import Route, check_id
from .._streaming import ResponseStream, server_sent_events, stream
from .builds import LegacyBuilds

__all__ = ["Document", "Templates"]

Document = dict[str, Any] | str | os.PathLike[str]

_SCHEMA = Route("GET", "/template-schema", idempotent=True)
_VALIDATE = Route("POST", "/templates/validate", idempotent=True)  # no side effects
_PUBLISH = Route("POST", "/templates", idempotent=False)
_LIST = Route("GET", "/templates", idempotent=True)
_VERSIONS = Route("GET", "/templates/{}/{}", idempotent=True)
_GET = Route("GET", "/templates/{}/{}/{}", idempotent=True)
_DELETE = Route("DELETE", "/templates/{}/{}/{}", idempotent=True)
_BUILD = Route("POST", "/templates/{}/{}/{}/build", idempotent=False)
_BUILD_STATUS = Route("GET", "/templates/{}/{}/{}/build", idempotent=True)
_BUILD_CANCEL = Route("DELETE", "/templates/{}/{}/{}/build", idempotent=True)
_BUILD_EVENTS = Route("GET", "/templates/{}/{}/{}/build/events", idempotent=True)
_CURATED = Route("GET", "/templates/global", idempotent=True)
_CURATED_VERSIONS = Route("GET", "/templates/global/{}/{}", idempotent=True)
_RUN = Route("POST", "/templates/run", idempotent=False)
_STOP_RUN = Route("DELETE", "/templates/run", idempotent=True)

#: Silence tolerated between two build-log frames before the stream counts as dead.
BUILD_EVENTS_IDLE_TIMEOUT: Final = 300.0
_event_decoder = msgspec.json.Decoder(BuildEvent)


class Templates:
    """Publish, build and launch ``orgo.ai/v1`` templates::

    pub = await orgo.templates.publish("template.yaml", auto_build=True)
    await orgo.templates.wait_built(pub.ref, timeout=600)
    c = await orgo.computers.create(workspace_id=ws.id, name="a", template_ref=pub.ref)
    """

    def __init__(self, pipeline: HTTPPipeline) -> None:
        self._pipeline = pipeline
        #: The legacy Docker-template build API (``/builds/*``) the official SDK uses.
        self.legacy = LegacyBuilds(pipeline)

    # -- documents ----------------------------------------------------------------------

    async def schema(self) -> dict[str, Any]:
        """The JSON Schema of ``orgo.ai/v1`` templates (``GET /template-schema``)."""
        return await self._pipeline.call(_SCHEMA, response_type=dict[str, Any])

    async def validate(self, document: Document) -> dict[str, Any]:
        """Validate a document without side effects; returns the normalized template.

        Raises :class:`~orgo_async.TemplateValidationError` with every field error.
        """
        body = await _load_document(document)
        result = await self._pipeline.call(_VALIDATE, json=body, response_type=TemplateValidation)
        if not result.ok:
            raise TemplateValidationError.from_errors(
                result.errors or [], status_code=200, method="POST", url=_VALIDATE.path
            )
        return result.template or {}

    async def publish(
        self, document: Document, *, auto_build: bool = False, force: bool = False
    ) -> PublishResult:
        """Publish a new version (refs are immutable: different content under an existing
        ref is a 409 unless ``force=True``). ``auto_build`` starts its build at once."""
        body = await _load_document(document)
        params = {}
        if auto_build:
            params["auto_build"] = "true"
        if force:
            params["force"] = "true"
        return await self._pipeline.call(
            _PUBLISH, json=body, params=params or None, response_type=PublishResult
        )

    # -- the registry -------------------------------------------------------------------

    async def list(self, namespace: str | None = None) -> builtins.list[TemplateVersion]:
        """Your published versions (in ``namespace``, when given)."""
        params = None if namespace is None else {"namespace": check_id(namespace, "namespace")}
        result = await self._pipeline.call(_LIST, params=params, response_type=TemplateList)
        return result.templates

    async def versions(self, name: str) -> builtins.list[TemplateVersion]:
        """Every version of ``namespace/name``."""
        ns, short = parse_name(name)
        result = await self._pipeline.call(_VERSIONS, ns, short, response_type=TemplateVersions)
        return result.items

    async def get(self, ref: str | TemplateRef) -> TemplateVersion:
        """One version, with its full document."""
        return await self._pipeline.call(_GET, *_ids(ref), response_type=TemplateVersion)

    async def delete(self, ref: str | TemplateRef) -> TemplateDeleted:
        """Delete a version (curated ones cannot be; running computers are unaffected)."""
        return await self._pipeline.call(_DELETE, *_ids(ref), response_type=TemplateDeleted)

    async def curated(self) -> builtins.list[TemplateVersion]:
        """The curated templates (namespace ``system``)."""
        return (await self._pipeline.call(_CURATED, response_type=TemplateList)).templates

    async def curated_versions(self, name: str) -> builtins.list[TemplateVersion]:
        """Every version of a curated template (``system/claude-code``)."""
        ns, short = parse_name(name)
        result = await self._pipeline.call(
            _CURATED_VERSIONS, ns, short, response_type=TemplateVersions
        )
        return result.items

    # -- builds -------------------------------------------------------------------------

    async def build(self, ref: str | TemplateRef) -> BuildStart:
        """Start building the golden snapshot (202). ``status`` is ``ready`` with
        ``reused=True`` when the same digest was built before."""
        return await self._pipeline.call(_BUILD, *_ids(ref), response_type=BuildStart)

    async def build_status(self, ref: str | TemplateRef) -> BuildStatus:
        """``not_built``, ``building``, ``ready`` or ``failed``."""
        return await self._pipeline.call(_BUILD_STATUS, *_ids(ref), response_type=BuildStatus)

    async def cancel_build(self, ref: str | TemplateRef) -> CancelBuild:
        """Cancel a running build: ``status`` ``cancelling``, or ``idle`` when none ran (the
        server's 404 ``{"status": "idle"}``, returned rather than raised)."""
        try:
            return await self._pipeline.call(_BUILD_CANCEL, *_ids(ref), response_type=CancelBuild)
        except NotFoundError as e:
            if e.data.get("status") == "idle":
                return CancelBuild(status="idle")
            raise

    def build_events(
        self, ref: str | TemplateRef, *, idle_timeout: float = BUILD_EVENTS_IDLE_TIMEOUT
    ) -> ResponseStream[BuildEvent]:
        """The build log as typed frames (server-sent events), live.

        Ends after the ``ready`` frame or when the server closes the stream (a failed
        build); check :meth:`build_status` for the outcome. Use ``async with`` (or break
        out and let it go) to close the connection early; cancelling the iterating task
        closes it too. ``idle_timeout`` bounds the silence between two frames
        (:class:`~orgo_async.APITimeoutError` after it).
        """
        ids = _ids(ref)
        return ResponseStream(self._events(ids, idle_timeout))

    async def _events(
        self, ids: tuple[str, str, str], idle_timeout: float
    ) -> AsyncGenerator[BuildEvent, None]:
        async with stream(
            self._pipeline,
            _BUILD_EVENTS,
            *ids,
            read_timeout=idle_timeout,
            accept="text/event-stream",
        ) as resp:
            async for sse in server_sent_events(resp):
                try:
                    event = _event_decoder.decode(sse.data)
                except (msgspec.ValidationError, msgspec.DecodeError) as e:
                    raise APIDecodeError(
                        f"malformed build event: {e}",
                        status_code=resp.status,
                        body=sse.data.encode(),
                        method="GET",
                        url=_BUILD_EVENTS.path,
                    ) from None
                yield event
                if event.is_ready:
                    return

    async def wait_built(
        self,
        ref: str | TemplateRef,
        *,
        timeout: float | None = 900.0,
        interval: float = 1.0,
        max_interval: float = 10.0,
    ) -> BuildStatus:
        """Poll the build until it is ``ready`` (returned).

        Raises :class:`~orgo_async.TemplateBuildError` when it fails or was never started
        (call :meth:`build` or publish with ``auto_build=True`` first), and
        :class:`~orgo_async.WaitTimeoutError` after ``timeout`` seconds.
        """
        ids = _ids(ref)
        text = str(parse_ref(ref))
        ends = float("inf") if timeout is None else time.monotonic() + timeout
        delay = interval
        while True:
            status = await self._pipeline.call(_BUILD_STATUS, *ids, response_type=BuildStatus)
            if status.status == BuildState.READY:
                return status
            if status.status in (BuildState.FAILED, BuildState.NOT_BUILT):
                reason = status.error or (
                    "no build was started" if status.status == BuildState.NOT_BUILT else None
                )
                raise TemplateBuildError(
                    f"template {text} build {status.status}" + (f": {reason}" if reason else ""),
                    ref=text,
                    error=reason,
                )
            remaining = ends - time.monotonic()
            if remaining <= 0:
                raise WaitTimeoutError(
                    f"template {text} was not built within {timeout:g}s "
                    f"(last status: {status.status})",
                    last_status=status.status,
                )
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, max_interval)

    # -- previews -----------------------------------------------------------------------

    async def run(self, ref: str | TemplateRef) -> TemplateRun:
        """Boot a short-lived preview computer from a built template (409 if the build is
        not ready). Its ``vnc_password`` is redacted everywhere."""
        body = {"ref": str(parse_ref(ref))}
        return await self._pipeline.call(_RUN, json=body, response_type=TemplateRun)

    async def stop_run(self, desktop_id: str) -> Success:
        """Stop a preview (``desktop_id`` of :meth:`run`'s answer). Previews are also
        reaped automatically."""
        params = {"id": check_id(desktop_id, "desktop_id")}
        return await self._pipeline.call(_STOP_RUN, params=params, response_type=Success)


def _ids(ref: str | TemplateRef) -> tuple[str, str, str]:
    parsed = parse_ref(ref)
    return parsed.namespace, parsed.name, parsed.version


async def _load_document(document: Document) -> dict[str, Any]:
    """A document from a dict, JSON/YAML text or a file path (read off the event loop)."""
    if isinstance(document, dict):
        return check_document(document)
    if isinstance(document, os.PathLike) or (
        isinstance(document, str) and looks_like_path(document)
    ):
        path = Path(document)
        try:
            text = await asyncio.to_thread(path.read_text, "utf-8")
        except FileNotFoundError:
            raise ValueError(f"no such template file: {str(path)!r}") from None
        suffix = path.suffix.lower()
        return parse_document_text(text, yaml=suffix in (".yaml", ".yml"))
    if isinstance(document, str):
        return parse_document_text(document)
    raise TypeError(
        "a template document is a dict, JSON/YAML text or a file path, "
        f"not {type(document).__name__}"
    )
