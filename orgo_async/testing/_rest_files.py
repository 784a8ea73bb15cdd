"""The emulator's files routes (``orgo-api.md`` §8) and its storage host.

* ``POST /api/files/upload`` (``multipart/form-data``: ``file``, ``projectId`` or
  ``workspaceId``, optional ``desktopId``): at most 10 MiB (400 beyond, 413 past the
  body limit). A file uploaded for a running computer also lands on its desktop, at
  ``/home/user/Desktop/<filename>`` (the migrate guide says ``/root/Desktop``, but export
  only allows ``/home/user`` and the events watch ``/home/user/Desktop``, §15.2 #18:
  this way an uploaded file can be exported back) with a ``file_change`` event.
* ``POST /api/files/export`` ``{desktopId, path}``: a file the computer holds (see the
  mini shell of ``_fake_shell.py``) is stored; 403 outside ``/home/user``, 404 if missing.
* ``GET /api/files?projectId=[&desktopId=]``, ``GET /api/files/download?id=``,
  ``DELETE /api/files/delete?id=``.
* ``GET /storage/files/{id}?expires=&signature=``: the pre-signed URL's target. Like a
  real object store it takes no API key: a request that *sends* an ``Authorization``
  header is refused with 400 (as S3 refuses two authentication mechanisms), so a
  client leaking its key to the storage host fails loudly.

Multipart bodies are parsed here by hand (the core middleware has already read the body
to record it), strictly: a missing boundary, a truncated body or a part without a name
is a 400.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from aiohttp import web

from ._rest_body import check_fields, read_body, str_field
from ._rest_http import API_KEY, Emulator, Handler, bad, json_response
from ._rest_objects import find_computer, find_workspace, require_running
from ._state import Action
from ._state_files import MAX_UPLOAD_BYTES, StoredFileRecord

__all__ = ["FilesApi", "Part", "parse_multipart", "upload_limit"]

HOME = "/home/user"
UPLOAD_DIR = "/home/user/Desktop"
# Room for the form fields and multipart framing around a 10 MiB file.
UPLOAD_BODY_LIMIT = MAX_UPLOAD_BYTES + 256 * 1024

_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


@dataclass
class Part:
    """One part of a ``multipart/form-data`` body."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None


def _params(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _PARAM.finditer(header):
        value = m[2].strip()
        if value.startswith('"') and value.endswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[m[1].lower()] = value
    return out


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """The parts of a ``multipart/form-data`` body (``ValueError`` when malformed)."""
    if content_type.split(";")[0].strip().lower() != "multipart/form-data":
        raise ValueError("Expected a multipart/form-data body")
    boundary = _params(content_type).get("boundary")
    if not boundary:
        raise ValueError("multipart/form-data without a boundary")
    sections = (b"\r\n" + body).split(b"\r\n--" + boundary.encode())
    parts: list[Part] = []
    closed = False
    for section in sections[1:]:
        if section.startswith(b"--"):
            closed = True
            break
        head, sep, data = section.partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("malformed multipart part: no blank line after its headers")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n")[1:]:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        params = _params(disposition)
        if not disposition.lower().startswith("form-data") or "name" not in params:
            raise ValueError("multipart part without Content-Disposition: form-data; name=")
        filename = params.get("filename")
        if filename is not None:
            filename = filename.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")
        parts.append(Part(params["name"], data, filename, headers.get("content-type")))
    if not closed:
        raise ValueError("truncated multipart body (no closing boundary)")
    return parts


def _home_path(path: str) -> str | None:
    """The absolute path for an export ``path``, or ``None`` outside ``/home/user``."""
    if path == "~" or path.startswith("~/"):
        path = HOME + path[1:]
    full = posixpath.normpath(posixpath.join(HOME, path))
    return full if full == HOME or full.startswith(HOME + "/") else None


class FilesApi:
    """Route handlers of the files API and the storage host for one emulator."""

    def __init__(self, fake: Emulator) -> None:
        self.fake = fake

    def _record(self, request: web.Request, file_id: str | None) -> StoredFileRecord:
        if not file_id:
            bad("id is required")
        record = self.fake.files.files.get(file_id)
        if record is None:
            bad("File not found", 404)
        ws = self.fake.world.workspaces.get(record.workspace_id)
        key = request[API_KEY]
        if ws is None or ws.user_id != key.user_id:
            bad("File not found", 404)
        find_workspace(self.fake, request, ws.id)  # scope check
        return record

    async def upload(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            parts = parse_multipart(body, request.headers.get("Content-Type", ""))
        except ValueError as e:
            bad(str(e))
        fields: dict[str, Part] = {}
        for part in parts:
            if part.name in fields:
                bad(f"Duplicate form field: {part.name}")
            fields[part.name] = part
        check_fields(
            self.fake.strict, dict(fields), ("file", "projectId", "workspaceId", "desktopId")
        )
        file = fields.get("file")
        if file is None or file.filename is None:
            bad("file is required")
        ws_part = fields.get("projectId") or fields.get("workspaceId")
        if ws_part is None or not ws_part.data.strip():
            bad("projectId is required")
        ws = find_workspace(self.fake, request, ws_part.data.decode("utf-8", "replace").strip())
        if len(file.data) > MAX_UPLOAD_BYTES:
            bad(f"File too large: {len(file.data)} bytes (max 10 MB)")
        name = posixpath.basename(file.filename.replace("\\", "/")).strip()
        if not name or name in (".", ".."):
            bad("Invalid filename")
        desktop = None
        if "desktopId" in fields:
            cid = fields["desktopId"].data.decode("utf-8", "replace").strip()
            desktop = find_computer(self.fake, request, cid)
            if desktop.workspace_id != ws.id:
                bad("Computer not found in this workspace", 404)
        record = self.fake.files.add(
            ws.id,
            name,
            file.data,
            "upload",
            desktop_id=desktop.id if desktop else None,
            content_type=file.content_type,
        )
        if desktop is not None and desktop.status == "running":
            path = f"{UPLOAD_DIR}/{name}"
            existed = path in desktop.files
            # surrogateescape: binary files survive the str-valued file table unchanged.
            desktop.files[path] = file.data.decode("utf-8", "surrogateescape")
            desktop.actions.append(Action("file_upload", {"path": path, "size": len(file.data)}))
            action = "modified" if existed else "created"
            desktop.events.publish("file_change", {"path": path, "action": action})
        return json_response({"file": record.json()})

    async def export(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        check_fields(self.fake.strict, body, ("desktopId", "path"))
        cid = str_field(
            body, "desktopId", required=True, nonempty=True, missing="desktopId is required"
        )
        path = str_field(body, "path", required=True, nonempty=True, missing="path is required")
        assert cid is not None and path is not None
        c = find_computer(self.fake, request, cid)
        require_running(c)
        full = _home_path(path)
        if full is None:
            bad("Only files under /home/user can be exported", 403)
        if full not in c.files:
            bad(f"File not found: {full}", 404)
        data = c.files[full].encode("utf-8", "surrogateescape")
        record = self.fake.files.add(
            c.workspace_id, posixpath.basename(full), data, "export", desktop_id=c.id
        )
        c.actions.append(Action("file_export", {"path": full}))
        url = self.fake.origin + self.fake.files.signed_path(record.id)
        return json_response({"success": True, "file": record.json(), "url": url})

    async def list_files(self, request: web.Request) -> web.Response:
        query = request.query
        ws_id = query.get("projectId") or query.get("workspaceId")
        if not ws_id:
            bad("projectId is required")
        ws = find_workspace(self.fake, request, ws_id)
        desktop = query.get("desktopId")
        items = [
            r.json()
            for r in self.fake.files.files.values()
            if r.workspace_id == ws.id and (desktop is None or r.desktop_id == desktop)
        ]
        return json_response({"files": items})

    async def download(self, request: web.Request) -> web.Response:
        record = self._record(request, request.query.get("id"))
        return json_response({"url": self.fake.origin + self.fake.files.signed_path(record.id)})

    async def delete(self, request: web.Request) -> web.Response:
        record = self._record(request, request.query.get("id"))
        del self.fake.files.files[record.id]
        return json_response({"success": True})

    async def storage(self, request: web.Request) -> web.Response:
        """The storage host: no API key, a signed URL instead."""
        if "Authorization" in request.headers:
            return _storage_error(
                400, "InvalidArgument", "Only one auth mechanism allowed; send no Authorization"
            )
        file_id = request.match_info["id"]
        problem = self.fake.files.check(
            file_id, request.query.get("expires", ""), request.query.get("signature", "")
        )
        if problem is not None:
            return _storage_error(403, "AccessDenied", problem)
        record = self.fake.files.files.get(file_id)
        if record is None:
            return _storage_error(404, "NoSuchKey", "The specified key does not exist")
        return web.Response(
            body=record.data,
            content_type=record.content_type,
            headers={"Content-Disposition": f'attachment; filename="{record.filename}"'},
        )


def _storage_error(status: int, code: str, message: str) -> web.Response:
    # Object stores answer XML; a client must not try to read it as the API's JSON.
    xml = f"<?xml version='1.0'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    return web.Response(status=status, text=xml, content_type="application/xml")


@web.middleware
async def upload_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let upload bodies reach the documented 10 MB (the app's body limit is smaller);
    it must run before the middleware of :mod:`._rest_http` reads the body."""
    if request.method == "POST" and request.path == "/api/files/upload":
        request = request.clone(client_max_size=UPLOAD_BODY_LIMIT)
    return await handler(request)
