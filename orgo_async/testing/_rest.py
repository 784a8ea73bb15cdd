"""The emulator's REST routes (reference §§1-7, 12), written from the documented shapes.

Every ``/api`` request passes one middleware that records it (``fake.requests``), applies
the global latency and scripted faults, checks the Bearer key, and turns every failure
into the documented error body ``{"error", "request_id"[, "code", "upstream_status"...]}``.

Choices where the reference is open (each is documented where it is implemented):

* wrong-state ``start``/``stop``/``restart`` -> 409; actions on a computer that is not
  ``running`` -> 400 ``Desktop instance not available`` (a ``suspended`` computer resumes
  on the call instead, as the auto-stop guide says);
* workspace-scoped keys get the documented 403 ``workspace_scope_mismatch`` body for any
  other workspace, for creating workspaces (``target_workspace_id: null``) and for moves;
  keys of another account see nothing (404), as "404 = not found or no access" says;
* unknown body fields -> 400 when ``fake.strict`` (the default), so a client typo fails a
  test; the v-A fields the official SDK still sends (``gpu``, ``image``) are accepted;
* desktop-side failures carry ``upstream_status`` (click out of bounds -> 400/400,
  bash handler crash -> 500/500, bash timeout -> 500/504, unknown proxy endpoint ->
  404/404).

Desktop events published on the computer's ``EventHub`` (read by the events WebSocket):

=====================  ===============================================================
what happened          event(s)
=====================  ===============================================================
click                  ``window_focus {window_id, title}`` (double click: ``window_open``
                       first); the window id is derived from the clicked screen region
type, key              ``active {}``; ``ctrl+c``/``ctrl+x`` also ``clipboard {content}``
                       with the text typed last
bash                   ``process_start {pid, name}``, one ``file_change {path, action}``
                       per file the command creates/modifies/deletes under
                       ``/home/user/Desktop`` or ``/home/user/Downloads`` (a simple parse:
                       ``touch``, ``rm``, ``cp``, ``mv``, ``>``/``>>`` redirections), then
                       ``process_stop {pid, name}``
exec                   ``process_start``/``process_stop`` (name ``python3``) and
                       ``file_change`` for ``open("<path>", "w"/"a"/"x")`` in the code
restart, start         ``screen_change {width, height}`` once running again
stream start / stop    ``audio_stream_start {}`` / ``audio_stream_stop {}``
=====================  ===============================================================
"""

from __future__ import annotations

import ast
import asyncio
import base64
import contextlib
import inspect
import logging
import posixpath
import re
import shlex
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn

import msgspec
from aiohttp import web

from ._png import render_screen
from ._state import ApiKey, FakeComputer, FakeWorkspace, new_uuid, now_iso

if TYPE_CHECKING:
    from ._server import FakeOrgo

from ._ws import add_websocket_routes

__all__ = ["ApiError", "build_app"]

log = logging.getLogger("orgo_async.testing")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REQUEST_ID = web.RequestKey("orgo_request_id", str)
API_KEY = web.RequestKey("orgo_api_key", ApiKey)

MISSING_KEY = "Missing API key."
INVALID_KEY = (
    "Invalid API key. Check it for typos or generate a new one at https://www.orgo.ai/start."
)
NOT_AVAILABLE = "Desktop instance not available"
UNREACHABLE = "Could not reach the desktop. Try again in a moment."
HOME = "/home/user"
WATCHED = ("/home/user/Desktop", "/home/user/Downloads")

RAM_VALUES = (4, 8, 16, 32, 64)
CPU_VALUES = (0.5, 1, 2, 4, 8, 16)  # 0.5 only because the official SDK allows it
OS_VALUES = ("linux", "windows")
GPU_VALUES = ("none", "a10", "l40s", "a100-40gb", "a100-80gb")
RESIZE_VCPUS = (1, 2, 4, 8, 16)
RESIZE_MEM_GB = (4, 8, 16, 32)  # live max 32; 64 only at create (§5.6)
BUTTONS = ("left", "right", "middle")  # middle: the SDK's Anthropic loop sends it
RESOLUTION_RE = re.compile(r"^(\d{2,5})x(\d{2,5})x(8|16|24|32)$")
TEMPLATE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*/[a-z0-9][a-z0-9_.-]*@[0-9A-Za-z.+-]+$")

#: Event catalog served by ``GET /computers/{id}/events`` (shape undocumented, §6.11):
#: ``{"events": [{"type", "detection", "data"}]}`` with the §11.6 table's rows.
EVENT_CATALOG: list[dict[str, Any]] = [
    {"type": "window_focus", "detection": "poll 100ms", "data": ["window_id", "title"]},
    {"type": "window_open", "detection": "poll 100ms", "data": ["window_id", "title"]},
    {"type": "window_close", "detection": "poll 100ms", "data": ["window_id"]},
    {"type": "clipboard", "detection": "poll 250ms", "data": ["content"]},
    {"type": "file_change", "detection": "inotify", "data": ["path", "action"]},
    {"type": "screen_change", "detection": "poll 1s", "data": ["width", "height"]},
    {"type": "audio_stream_start", "detection": "poll 500ms", "data": []},
    {"type": "audio_stream_stop", "detection": "poll 500ms", "data": []},
    {"type": "process_start", "detection": "poll 2s", "data": ["pid", "name"]},
    {"type": "process_stop", "detection": "poll 2s", "data": ["pid", "name"]},
    {"type": "idle", "detection": "poll 1s", "data": ["idle_seconds"]},
    {"type": "active", "detection": "poll 1s", "data": []},
]


class ApiError(Exception):
    """Raised by a route to answer ``status`` with ``{"error": message, **extra}``."""

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def _bad(message: str) -> NoReturn:
    raise ApiError(400, message)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=msgspec.json.encode(data),
        content_type="application/json",
        headers=headers,
    )


def error_response(
    status: int,
    message: str,
    request_id: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """The documented error body (§1.4)."""
    return _json({"error": message, "request_id": request_id, **extra}, status, headers)


# -- body validation ---------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


async def read_body(request: web.Request) -> dict[str, Any]:
    """The JSON object body; empty or ``null`` (what the SDK sends for no body) is ``{}``."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        _bad("Invalid JSON body")
    if data is None:
        return {}
    if not isinstance(data, dict):
        _bad("Request body must be a JSON object")
    return data


def _fields(fake: FakeOrgo, body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    if not fake.strict:
        return
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        _bad(f"Unknown field(s): {', '.join(unknown)}")


def _int(
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
    allowed: tuple[int, ...] | None = None,
    missing: str | None = None,
) -> int | None:
    if name not in body or body[name] is None:
        if required:
            _bad(missing or f"'{name}' is required")
        return None
    v = body[name]
    if not _is_int(v):
        _bad(f"'{name}' must be an integer")
    if allowed is not None and v not in allowed:
        _bad(f"'{name}' must be one of {', '.join(map(str, allowed))}")
    if minimum is not None and v < minimum:
        _bad(f"'{name}' must be >= {minimum}")
    if maximum is not None and v > maximum:
        _bad(f"'{name}' must be <= {maximum}")
    return int(v)


def _num(
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float | None:
    if name not in body or body[name] is None:
        if required:
            _bad(f"'{name}' is required")
        return None
    v = body[name]
    if not _is_number(v):
        _bad(f"'{name}' must be a number")
    if minimum is not None and v < minimum:
        _bad(f"'{name}' must be >= {minimum}")
    if maximum is not None and v > maximum:
        _bad(f"'{name}' must be <= {maximum}")
    return float(v)


def _str(
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    allowed: tuple[str, ...] = (),
    nonempty: bool = False,
    missing: str | None = None,
) -> str | None:
    if name not in body or body[name] is None:
        if required:
            _bad(missing or f"'{name}' is required")
        return None
    v = body[name]
    if not isinstance(v, str):
        _bad(f"'{name}' must be a string")
    if nonempty and not v.strip():
        _bad(missing or f"'{name}' must not be empty")
    if allowed and v not in allowed:
        _bad(f"'{name}' must be one of {', '.join(allowed)}")
    return v


def _bool(body: dict[str, Any], name: str, default: bool = False) -> bool:
    v = body.get(name)
    if v is None:
        return default
    if not isinstance(v, bool):
        _bad(f"'{name}' must be a boolean")
    return v


# -- shapes ------------------------------------------------------------------------------


def computer_json(fake: FakeOrgo, c: FakeComputer) -> dict[str, Any]:
    """The computer object (§2.1): create and get fields together, connection fields set."""
    ws = fake.world.workspaces.get(c.workspace_id)
    data: dict[str, Any] = {
        "id": c.id,
        "name": c.name,
        "workspace_id": c.workspace_id,
        "project_name": ws.name if ws else None,
        "os": c.os,
        "ram": c.ram,
        "cpu": c.cpu,
        "disk_size_gb": c.disk_size_gb,
        "resolution": c.resolution,
        "status": c.status,
        "url": f"https://orgo.ai/workspaces/{c.workspace_id}/computers/{c.id}",
        "created_at": c.created_at,
        "auto_stop_minutes": c.auto_stop_minutes,
        "instance_id": c.instance_id,
        "fly_instance_id": c.instance_id,
        "hostname": fake.hostname,
        "connection_url": f"{fake.origin}/desktops/{c.instance_id}",
        "vnc_password": c.vnc_password,
        # Not in v-C, but the official SDK reads instance_details.resolution (§15.3 #5).
        "instance_details": {"resolution": c.resolution},
    }
    for name in ("template_ref", "gpu", "image"):
        value = getattr(c, name)
        if value is not None:
            data[name] = value
    return data


def workspace_json(fake: FakeOrgo, ws: FakeWorkspace, *, desktops: bool = True) -> dict[str, Any]:
    """The workspace object (§2.2), with ``desktops`` in list/get answers."""
    data: dict[str, Any] = {
        "id": ws.id,
        "name": ws.name,
        "user_id": ws.user_id,
        "status": ws.status,
        "icon_url": ws.icon_url,
        "created_at": ws.created_at,
        "updated_at": ws.updated_at,
    }
    if desktops:
        data["desktops"] = [
            computer_json(fake, c) for c in fake.world.computers.values() if c.workspace_id == ws.id
        ]
    return data


def _scope_error(key: ApiKey, target: str | None) -> ApiError:
    what = f"access workspace {target}" if target else "create or list other workspaces"
    return ApiError(
        403,
        f"This API key is scoped to workspace {key.workspace_id}. It cannot {what}. "
        "Use an account-wide key, or create a key scoped to the target workspace.",
        code="workspace_scope_mismatch",
        key_workspace_id=key.workspace_id,
        target_workspace_id=target,
    )


# -- the mini shell (default /bash) -----------------------------------------------------


def _abs(path: str) -> str:
    if path == "~" or path.startswith("~/"):
        path = HOME + path[1:]
    return posixpath.normpath(posixpath.join(HOME, path))


class MiniShell:
    """The default ``/bash`` answer without a handler or ``allow_exec``: a handful of
    commands over ``computer.files``; reports the file changes it made."""

    SEPARATORS = (";", "&&", "||", "|", "&", "\n")

    def __init__(self, computer: FakeComputer) -> None:
        self.c = computer
        self.changes: list[tuple[str, str]] = []

    def _write(self, path: str, text: str, append: bool) -> None:
        existed = path in self.c.files
        self.c.files[path] = (self.c.files.get(path, "") if append else "") + text
        self.changes.append((path, "modified" if existed else "created"))

    def _delete(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        gone = [p for p in self.c.files if p == path or p.startswith(prefix)]
        for p in gone:
            del self.c.files[p]
            self.changes.append((p, "deleted"))
        return bool(gone)

    def run(self, command: str) -> tuple[str, int]:
        try:
            lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError as exc:
            return f"bash: syntax error: {exc}\n", 2
        out: list[str] = []
        code = 0
        cmd: list[str] = []
        skip = False
        for tok in [*tokens, ";"]:
            if tok in self.SEPARATORS:
                if cmd and not skip:
                    text, code = self._one(cmd)
                    out.append(text)
                skip = (tok == "&&" and code != 0) or (tok == "||" and code == 0)
                cmd = []
            else:
                cmd.append(tok)
        return "".join(out), code

    def _one(self, argv: list[str]) -> tuple[str, int]:
        redirect: tuple[str, bool] | None = None
        args: list[str] = []
        i = 0
        while i < len(argv):
            if argv[i] in (">", ">>") and i + 1 < len(argv):
                redirect = (_abs(argv[i + 1]), argv[i] == ">>")
                i += 2
                continue
            args.append(argv[i])
            i += 1
        text, code = self._builtin(args) if args else ("", 0)
        if redirect is not None:
            self._write(redirect[0], text, redirect[1])
            text = ""
        return text, code

    def _builtin(self, args: list[str]) -> tuple[str, int]:
        name, rest = args[0], args[1:]
        files = self.c.files
        if name == "echo":
            if rest[:1] == ["-n"]:
                return " ".join(rest[1:]), 0
            return " ".join(rest) + "\n", 0
        if name == "pwd":
            return HOME + "\n", 0
        if name == "whoami":
            return "user\n", 0
        if name == "hostname":
            return self.c.instance_id + "\n", 0
        if name == "true":
            return "", 0
        if name == "false":
            return "", 1
        if name == "exit":
            return "", int(rest[0]) if rest and rest[0].isdigit() else 0
        if name == "touch":
            for p in rest:
                self._write(_abs(p), "", append=True)
            return "", 0
        if name == "rm":
            missing = [p for p in rest if not p.startswith("-") and not self._delete(_abs(p))]
            if missing and "-f" not in rest and "-rf" not in rest:
                return "".join(
                    f"rm: cannot remove '{p}': No such file or directory\n" for p in missing
                ), 1
            return "", 0
        if name == "cat":
            out, code = [], 0
            for p in rest:
                if _abs(p) in files:
                    out.append(files[_abs(p)])
                else:
                    out.append(f"cat: {p}: No such file or directory\n")
                    code = 1
            return "".join(out), code
        if name in ("cp", "mv") and len(rest) == 2:
            src, dst = _abs(rest[0]), _abs(rest[1])
            if src not in files:
                return f"{name}: cannot stat '{rest[0]}': No such file or directory\n", 1
            content = files[src]
            if name == "mv":
                self._delete(src)
            self._write(dst, content, append=False)
            return "", 0
        if name == "ls":
            target = _abs(next((a for a in rest if not a.startswith("-")), "."))
            prefix = target.rstrip("/") + "/"
            names = sorted({p[len(prefix) :].split("/")[0] for p in files if p.startswith(prefix)})
            return "".join(n + "\n" for n in names), 0
        return "", 0


_OPEN_RE = re.compile(r"open\(\s*['\"]([^'\"]+)['\"]\s*,\s*['\"]([wax])")


def _default_exec(code: str) -> dict[str, Any]:
    """``print(<literals>)`` statements are answered; anything else prints nothing."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return {"output": "", "success": False, "error": str(exc), "error_type": "SyntaxError"}
    out: list[str] = []
    for stmt in tree.body:
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "print"
            and not call.keywords
        ):
            try:
                values = [ast.literal_eval(a) for a in call.args]
            except ValueError:
                continue
            out.append(" ".join(str(v) for v in values) + "\n")
    return {"output": "".join(out), "success": True}


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


# -- the application ---------------------------------------------------------------------


class RestApi:
    """Route handlers bound to one :class:`FakeOrgo`."""

    def __init__(self, fake: FakeOrgo) -> None:
        self.fake = fake

    # middleware ----------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        from ._server import RecordedRequest

        fake = self.fake
        rid = str(uuid.uuid4())
        request[REQUEST_ID] = rid
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, "Request body too large", rid)
        parsed: Any = None
        if body:
            with contextlib.suppress(msgspec.DecodeError):
                parsed = msgspec.json.decode(body)
        fake.requests.append(
            RecordedRequest(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                body,
                rid,
                parsed,
            )
        )
        if fake.max_recorded is not None and len(fake.requests) > fake.max_recorded:
            del fake.requests[: len(fake.requests) - fake.max_recorded]
        path = request.path
        is_api = path == "/api" or path.startswith("/api/")
        if fake.latency:
            await asyncio.sleep(fake.latency)
        # Faults also apply to WebSocket handshakes (``/desktops/{id}/ws/terminal``), so a
        # client's reconnect path can meet a 503 before the upgrade.
        applied = fake.faults.take(request.method, (path[4:] or "/") if is_api else path)
        if applied is not None:
            if applied.latency:
                await asyncio.sleep(applied.latency)
            if applied.status is not None:
                from ._faults import ERROR_TEXT

                headers = {}
                if applied.retry_after is not None:
                    ra = applied.retry_after
                    headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
                return error_response(
                    applied.status,
                    ERROR_TEXT.get(applied.status, "Injected fault"),
                    rid,
                    headers,
                )
        if not is_api:
            return await handler(request)  # WebSockets authenticate with their token
        try:
            request[API_KEY] = self._authenticate(request)
            response = await handler(request)
        except ApiError as exc:
            response = error_response(exc.status, exc.message, rid, exc.headers, **exc.extra)
        except web.HTTPException as exc:  # router 404/405, oversized bodies
            text = {404: "Not found", 405: "Method not allowed"}.get(exc.status, exc.reason)
            response = error_response(exc.status, text, rid)
        except Exception:  # an emulator bug must still answer the documented shape
            log.exception("emulator route failed: %s %s", request.method, request.path)
            response = error_response(500, "Internal server error", rid)
        if applied is not None and applied.kind is not None:
            return await self._damage(request, response, applied.kind, applied.body)
        return response

    @staticmethod
    async def _damage(
        request: web.Request, response: web.StreamResponse, kind: str, bad: bytes | None
    ) -> web.StreamResponse:
        body = response.body if isinstance(response, web.Response) else b""
        raw = body if isinstance(body, bytes) else b""
        if kind == "malformed":
            return web.Response(
                status=response.status,
                body=bad or b"<html>oops</html>",
                content_type="application/json",
            )
        half = raw[: max(1, len(raw) // 2)]
        if kind == "truncated":
            return web.Response(
                status=response.status, body=half, content_type=response.content_type
            )
        # "drop": promise the whole body, send half, close the connection.
        stream = web.StreamResponse(status=response.status)
        stream.content_type = response.content_type
        stream.content_length = max(len(raw), 2)
        await stream.prepare(request)
        await stream.write(half)
        if request.transport is not None:
            request.transport.close()
        return stream

    def _authenticate(self, request: web.Request) -> ApiKey:
        header = request.headers.get("Authorization")
        if not header or not header.strip():
            raise ApiError(401, MISSING_KEY)
        scheme, _, token = header.strip().partition(" ")
        key = self.fake.world.keys.get(token.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            raise ApiError(401, INVALID_KEY)
        return key

    # lookups -------------------------------------------------------------------------

    def _workspace(self, request: web.Request, workspace_id: str) -> FakeWorkspace:
        key = request[API_KEY]
        ws = self.fake.world.workspaces.get(workspace_id)
        if ws is None or ws.user_id != key.user_id:
            raise ApiError(404, "Workspace not found")
        if key.workspace_id is not None and key.workspace_id != ws.id:
            raise _scope_error(key, ws.id)
        return ws

    def _computer(self, request: web.Request) -> FakeComputer:
        key = request[API_KEY]
        c = self.fake.world.computers.get(request.match_info["id"])
        ws = self.fake.world.workspaces.get(c.workspace_id) if c else None
        if c is None or (ws is not None and ws.user_id != key.user_id):
            raise ApiError(404, "Computer not found")
        if key.workspace_id is not None and key.workspace_id != c.workspace_id:
            raise _scope_error(key, c.workspace_id)
        return c

    def _running(self, c: FakeComputer) -> None:
        """Actions need a running desktop; a suspended one resumes on the call."""
        if c.status == "suspended":
            c.set_status("running")
        if c.status != "running":
            raise ApiError(400, NOT_AVAILABLE)

    # workspaces --------------------------------------------------------------------------

    def _list_key(self, request: web.Request) -> str:
        return "projects" if request.path.startswith("/api/projects") else "workspaces"

    async def create_workspace(self, request: web.Request) -> web.Response:
        key = request[API_KEY]
        if key.workspace_id is not None:
            raise _scope_error(key, None)
        body = await read_body(request)
        _fields(self.fake, body, ("name", "icon_url", "status"))
        name = _str(body, "name", required=True, nonempty=True, missing="'name' is required")
        assert name is not None
        icon = _str(body, "icon_url")
        status = _str(body, "status", allowed=("active", "inactive")) or "active"
        for ws in self.fake.world.workspaces.values():
            if ws.user_id == key.user_id and ws.name == name:
                _bad(f"A workspace named '{name}' already exists")
        ws = FakeWorkspace(
            id=new_uuid(), name=name, user_id=key.user_id, status=status, icon_url=icon
        )
        self.fake.world.workspaces[ws.id] = ws
        return _json(workspace_json(self.fake, ws, desktops=False), 201)

    async def list_workspaces(self, request: web.Request) -> web.Response:
        key = request[API_KEY]
        items = [
            workspace_json(self.fake, ws)
            for ws in self.fake.world.workspaces.values()
            if ws.user_id == key.user_id and key.workspace_id in (None, ws.id)
        ]
        return _json({self._list_key(request): items})

    async def get_workspace(self, request: web.Request) -> web.Response:
        ws = self._workspace(request, request.match_info["id"])
        return _json(workspace_json(self.fake, ws))

    async def workspace_by_name(self, request: web.Request) -> web.Response:
        key = request[API_KEY]
        name = request.match_info["name"]
        for ws in self.fake.world.workspaces.values():
            if ws.user_id == key.user_id and ws.name == name:
                return _json(workspace_json(self.fake, self._workspace(request, ws.id)))
        raise ApiError(404, "Workspace not found")

    async def delete_workspace(self, request: web.Request) -> web.Response:
        ws = self._workspace(request, request.match_info["id"])
        for c in [c for c in self.fake.world.computers.values() if c.workspace_id == ws.id]:
            self._remove(c)
        del self.fake.world.workspaces[ws.id]
        return _json({"success": True})

    # computers ---------------------------------------------------------------------------

    def _check_capacity(self, cpu: float, ram: int) -> None:
        plan = self.fake.plan
        if cpu > plan.max_vcpus or ram > plan.max_mem_gb:
            raise ApiError(
                403,
                f"Requested size exceeds your plan's limit "
                f"({plan.max_vcpus} vCPU, {plan.max_mem_gb} GB)",
            )
        if plan.max_computers is not None and len(self.fake.world.computers) >= plan.max_computers:
            raise ApiError(403, f"Plan limit reached: at most {plan.max_computers} computers")

    def _boot(self, c: FakeComputer, first: str) -> None:
        """Run ``first`` -> (starting) -> running with the configured delays."""
        t = self.fake.timings
        if first == "creating" and t.create == 0 and t.boot == 0:
            c.set_status("running")
            return
        c.set_status(first)

        async def go() -> None:
            if first == "creating":
                await asyncio.sleep(t.create)
                if c.status != "creating":
                    return
                c.set_status("starting")
            await asyncio.sleep(t.boot)
            if c.status == "starting":
                c.set_status("running")
                if first != "creating":
                    c.events.publish("screen_change", {"width": c.width, "height": c.height})

        if first == "starting" and t.boot == 0:
            c.set_status("running")
            c.events.publish("screen_change", {"width": c.width, "height": c.height})
            return
        self.fake.spawn(go())

    def _unique_name(self, workspace_id: str, name: str) -> bool:
        return not any(
            c.name == name and c.workspace_id == workspace_id
            for c in self.fake.world.computers.values()
        )

    async def create_computer(self, request: web.Request) -> web.Response:
        body = await read_body(request)
        _fields(
            self.fake,
            body,
            (
                "workspace_id",
                "project_id",
                "name",
                "os",
                "ram",
                "cpu",
                "disk_size_gb",
                "resolution",
                "auto_stop_minutes",
                "template_ref",
                "image",
                "gpu",
            ),
        )
        ws_id = _str(body, "workspace_id") or _str(body, "project_id")
        if not ws_id:
            _bad("'workspace_id' is required")
        ws = self._workspace(request, ws_id)
        name = _str(body, "name", required=True, nonempty=True)
        assert name is not None
        os_name = _str(body, "os", allowed=OS_VALUES) or "linux"
        ram = _int(body, "ram", allowed=RAM_VALUES) or 4
        cpu: float = 1
        if body.get("cpu") is not None:
            if not _is_number(body["cpu"]) or body["cpu"] not in CPU_VALUES:
                _bad("'cpu' must be one of 1, 2, 4, 8, 16")
            cpu = body["cpu"]
        disk = _int(body, "disk_size_gb", minimum=8, maximum=self.fake.plan.max_disk_gb) or 8
        resolution = _str(body, "resolution") or "1280x720x24"
        m = RESOLUTION_RE.match(resolution)
        if m is None or not (320 <= int(m[1]) <= 7680 and 200 <= int(m[2]) <= 4320):
            _bad("'resolution' must look like WIDTHxHEIGHTxDEPTH, e.g. 1280x720x24")
        auto_stop = _int(body, "auto_stop_minutes", minimum=0)
        template = _str(body, "template_ref")
        if template is not None and not TEMPLATE_RE.match(template):
            _bad("'template_ref' must look like namespace/name@version")
        if template is not None:  # launch from a built template: its size, unless given
            from ._rest_templates import launch_hardware

            hw = launch_hardware(self.fake, request[API_KEY].user_id, template)
            ram = ram if body.get("ram") is not None else hw["ram"] or ram
            cpu = cpu if body.get("cpu") is not None else hw["cpu"] or cpu
            if body.get("resolution") is None and hw["resolution"]:
                resolution = hw["resolution"]
        gpu = _str(body, "gpu", allowed=GPU_VALUES)
        image = _str(body, "image")
        if not self._unique_name(ws.id, name):
            _bad(f"A computer named '{name}' already exists in this workspace")
        self._check_capacity(cpu, ram)
        c = FakeComputer(
            id=new_uuid(),
            name=name,
            workspace_id=ws.id,
            os=os_name,
            ram=ram,
            cpu=int(cpu) if float(cpu).is_integer() else cpu,
            disk_size_gb=disk,
            resolution=resolution,
            auto_stop_minutes=auto_stop,
            template_ref=template,
            gpu=gpu,
            image=image,
        )
        c.screen.pointer = (c.width // 2, c.height // 2)
        self.fake.world.computers[c.id] = c
        self._boot(c, "creating")
        return _json(computer_json(self.fake, c), 201)

    async def get_computer(self, request: web.Request) -> web.Response:
        return _json(computer_json(self.fake, self._computer(request)))

    def _remove(self, c: FakeComputer) -> None:
        c.set_status("deleting")  # open WebSockets close
        self.fake.world.computers.pop(c.id, None)

    async def delete_computer(self, request: web.Request) -> web.Response:
        self._remove(self._computer(request))
        return _json({"success": True})

    async def vnc_password(self, request: web.Request) -> web.Response:
        return _json({"password": self._computer(request).vnc_password})

    async def ensure_running(self, request: web.Request) -> web.Response:
        """Third-party endpoint (§0 #21): start if needed, answer ``instance_details``."""
        c = self._computer(request)
        if c.status in ("stopped", "suspended"):
            c.rotate_password()
            self._boot(c, "starting")
        host, _, port = self.fake.hostname.rpartition(":")
        return _json(
            {
                "success": True,
                "status": c.status,
                "instance_details": {
                    "publicHost": host,
                    "vncHost": host,
                    "apiPort": int(port),
                    "vncPort": int(port),
                    "webPort": int(port),
                    "resolution": c.resolution,
                    "id": c.instance_id,
                    "name": c.name,
                },
            }
        )

    # lifecycle -----------------------------------------------------------------------------

    async def start(self, request: web.Request) -> web.Response:
        c = self._computer(request)
        await read_body(request)
        if c.status not in ("stopped", "suspended"):
            raise ApiError(409, f"Computer is not stopped (status: {c.status})")
        c.actions.append(_action("start", {}))
        c.rotate_password()
        self._boot(c, "starting")
        return _json({"success": True, "status": "starting"})

    async def stop(self, request: web.Request) -> web.Response:
        c = self._computer(request)
        await read_body(request)
        if c.status not in ("running", "suspended"):
            raise ApiError(409, f"Computer is not running (status: {c.status})")
        c.actions.append(_action("stop", {}))
        self._stop_stream(c, terminated=True)
        t = self.fake.timings
        c.set_status("stopping")
        if t.stop == 0:
            c.set_status("stopped")
        else:

            async def go() -> None:
                await asyncio.sleep(t.stop)
                if c.status == "stopping":
                    c.set_status("stopped")

            self.fake.spawn(go())
        return _json({"success": True, "status": "stopping"})

    async def restart(self, request: web.Request) -> web.Response:
        c = self._computer(request)
        await read_body(request)
        if c.status not in ("running", "stopped", "suspended"):
            raise ApiError(409, f"Computer cannot restart now (status: {c.status})")
        c.actions.append(_action("restart", {}))
        self._stop_stream(c, terminated=True)
        c.set_status("restarting")  # open sockets go away (1001) ...
        c.rotate_password()  # ... and their token is dead (4401)
        t = self.fake.timings

        def back() -> None:
            c.set_status("running")
            c.events.publish("screen_change", {"width": c.width, "height": c.height})

        if t.restart == 0:
            back()
        else:

            async def go() -> None:
                await asyncio.sleep(t.restart)
                if c.status == "restarting":
                    back()

            self.fake.spawn(go())
        return _json({"success": True, "status": "restarting"})

    async def clone(self, request: web.Request) -> web.Response:
        src = self._computer(request)
        await read_body(request)
        if src.status in ("creating", "deleting", "error"):
            _bad("Source computer has no server address")
        self._check_capacity(src.cpu, src.ram)
        name = f"{src.name} (clone)"
        n = 2
        while not self._unique_name(src.workspace_id, name):
            name = f"{src.name} (clone {n})"
            n += 1
        c = FakeComputer(
            id=new_uuid(),
            name=name,
            workspace_id=src.workspace_id,
            os=src.os,
            ram=src.ram,
            cpu=src.cpu,
            disk_size_gb=src.disk_size_gb,
            resolution=src.resolution,
            auto_stop_minutes=src.auto_stop_minutes,
            template_ref=src.template_ref,
            gpu=src.gpu,
            image=src.image,
            files=dict(src.files),
            bandwidth_limit_mbps=src.bandwidth_limit_mbps,
        )
        c.screen.pointer = (c.width // 2, c.height // 2)
        self.fake.world.computers[c.id] = c
        self._boot(c, "creating")
        return _json(computer_json(self.fake, c), 201)

    async def move_workspace(self, request: web.Request) -> web.Response:
        c = self._computer(request)
        body = await read_body(request)
        _fields(self.fake, body, ("workspace_id", "project_id"))
        target = _str(body, "workspace_id") or _str(body, "project_id")
        if not target:
            _bad("'workspace_id' is required")
        key = request[API_KEY]
        if key.workspace_id is not None:  # scoped keys may not move computers at all
            raise _scope_error(key, target)
        ws = self._workspace(request, target)
        if ws.id == c.workspace_id:
            _bad("Computer is already in that workspace")
        if not self._unique_name(ws.id, c.name):
            _bad(f"A computer named '{c.name}' already exists in the target workspace")
        c.workspace_id = ws.id
        return _json({"success": True, "workspace_id": ws.id, "project_id": ws.id})

    async def resize(self, request: web.Request) -> web.Response:
        """Live resize (§5.6). Values outside the allowed sets -> 400; values above the
        plan's caps fail that dimension (``ok: false``): 200 all applied, 207 mixed,
        422 all failed."""
        c = self._computer(request)
        body = await read_body(request)
        _fields(
            self.fake,
            body,
            (
                "vcpus",
                "mem_gb",
                "disk_size_gb",
                "bandwidth_limit_mbps",
                "auto_stop_minutes",
            ),
        )
        vcpus = _int(body, "vcpus", allowed=RESIZE_VCPUS)
        mem = _int(body, "mem_gb", allowed=RESIZE_MEM_GB)
        disk = _int(body, "disk_size_gb", minimum=1)
        bw = _int(body, "bandwidth_limit_mbps", minimum=1)
        auto_stop = _int(body, "auto_stop_minutes", minimum=0)
        if disk is not None and disk < c.disk_size_gb:
            _bad(f"Disk can only grow (current {c.disk_size_gb} GB)")
        if c.status != "running":
            raise ApiError(409, f"Computer must be running to resize (status: {c.status})")
        plan = self.fake.plan
        results: dict[str, dict[str, Any]] = {}

        def attempt(
            key: str,
            requested: int | None,
            cap: int,
            unit: int,
            current: int,
            apply: Callable[[int], None],
        ) -> None:
            if requested is None:
                return
            entry: dict[str, Any] = {"requested": requested * unit}
            if requested > cap:
                entry.update(applied=current * unit, ok=False, error=f"exceeds plan limit ({cap})")
            else:
                apply(requested)
                entry.update(applied=requested * unit, ok=True)
            results[key] = entry

        attempt("vcpus", vcpus, plan.max_vcpus, 1, int(c.cpu), lambda v: setattr(c, "cpu", v))
        attempt(
            "mem_mb", mem, min(plan.max_mem_gb, 32), 1024, c.ram, lambda v: setattr(c, "ram", v)
        )
        attempt(
            "disk_gb",
            disk,
            plan.max_disk_gb,
            1,
            c.disk_size_gb,
            lambda v: setattr(c, "disk_size_gb", v),
        )
        attempt(
            "bandwidth_limit_mbps",
            bw,
            plan.max_bandwidth_mbps,
            1,
            c.bandwidth_limit_mbps,
            lambda v: setattr(c, "bandwidth_limit_mbps", v),
        )
        if auto_stop is not None:
            c.auto_stop_minutes = auto_stop or None
        oks = [r["ok"] for r in results.values()]
        status = 200 if all(oks) else (422 if not any(oks) else 207)
        data: dict[str, Any] = {
            "vcpus": c.cpu,
            "mem_gb": c.ram,
            "disk_size_gb": c.disk_size_gb,
            "bandwidth_limit_mbps": c.bandwidth_limit_mbps,
        }
        if results:
            data["results"] = results
            data["partial"] = status == 207
        if auto_stop is not None:
            data["auto_stop_minutes"] = auto_stop
        c.actions.append(_action("resize", body))
        return _json(data, status)

    async def get_auto_stop(self, request: web.Request) -> web.Response:
        c = self._computer(request)
        return _json({"auto_stop_minutes": c.auto_stop_minutes or 0, "configurable": True})

    async def set_auto_stop(self, request: web.Request) -> web.Response:
        """Stores the setting; the emulator does not suspend idle computers by itself
        (tests can ``set_status("suspended")`` to see the resume-on-call behaviour)."""
        c = self._computer(request)
        body = await read_body(request)
        _fields(self.fake, body, ("auto_stop_minutes",))
        minutes = _int(body, "auto_stop_minutes", required=True, minimum=0)
        assert minutes is not None
        c.auto_stop_minutes = minutes or None
        return _json(
            {"auto_stop_minutes": minutes, "auto_suspend_after": f"{minutes}m" if minutes else "0s"}
        )

    # actions -------------------------------------------------------------------------------

    def _action_target(self, request: web.Request) -> FakeComputer:
        c = self._computer(request)
        self._running(c)
        return c

    def _in_bounds(self, c: FakeComputer, x: int, y: int) -> None:
        if x >= c.width or y >= c.height:
            raise ApiError(
                400,
                f"Coordinates ({x}, {y}) are outside the {c.width}x{c.height} screen",
                upstream_status=400,
            )

    def do_click(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        _fields(self.fake, body, ("x", "y", "button", "double"))
        x = _int(body, "x", required=True, minimum=0)
        y = _int(body, "y", required=True, minimum=0)
        assert x is not None and y is not None
        button = _str(body, "button", allowed=BUTTONS) or "left"
        double = _bool(body, "double")
        self._in_bounds(c, x, y)
        c.actions.append(_action("click", body))
        c.screen.pointer = (x, y)
        c.screen.window = (max(0, x - 40), max(0, y - 20))
        region = (x * 4 // c.width) + 4 * (y * 4 // c.height)
        window = {"window_id": f"0x{0x3200000 + region:07x}", "title": f"Window {region + 1}"}
        if double:
            c.events.publish("window_open", window)
        c.events.publish("window_focus", window)
        return {
            "success": True,
            "action": "double_click" if double else "click",
            "details": {"x": x, "y": y, "button": button, "double": double},
        }

    def do_drag(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        _fields(self.fake, body, ("start_x", "start_y", "end_x", "end_y", "button", "duration"))
        coords = {}
        for name in ("start_x", "start_y", "end_x", "end_y"):
            coords[name] = _int(
                body, name, required=True, minimum=0, missing="missing required coordinate"
            )
        _str(body, "button", allowed=("left", "right"))
        _num(body, "duration", minimum=0, maximum=60)
        self._in_bounds(c, coords["start_x"] or 0, coords["start_y"] or 0)
        self._in_bounds(c, coords["end_x"] or 0, coords["end_y"] or 0)
        c.actions.append(_action("drag", body))
        c.screen.pointer = (coords["end_x"] or 0, coords["end_y"] or 0)
        return {"success": True, "action": "drag", "details": coords}

    def do_scroll(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        """On Linux an omitted ``x`` or ``y`` moves the pointer to 0 on that axis (the
        quirk the official SDK works around); Windows rejects ``x``/``y`` with 400."""
        _fields(self.fake, body, ("direction", "amount", "x", "y"))
        direction = _str(body, "direction", allowed=("up", "down")) or "down"
        amount = _int(body, "amount", minimum=1, maximum=100) or 3
        x = _int(body, "x", minimum=0)
        y = _int(body, "y", minimum=0)
        if c.os == "windows" and (x is not None or y is not None):
            raise ApiError(400, "x and y are not supported on Windows", upstream_status=400)
        if c.os != "windows":
            self._in_bounds(c, x or 0, y or 0)
            c.screen.pointer = (x or 0, y or 0)
        c.actions.append(_action("scroll", body))
        c.screen.scroll += amount if direction == "down" else -amount
        return {
            "success": True,
            "action": "scroll",
            "details": {"direction": direction, "amount": amount},
        }

    def do_type(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        _fields(self.fake, body, ("text", "delay_ms"))
        text = _str(body, "text", required=True, missing="missing text")
        assert text is not None
        _int(body, "delay_ms", minimum=0, maximum=10_000)
        c.actions.append(_action("type", body))
        c.screen.typed += len(text)
        c.screen.text = text
        c.events.publish("active", {})
        return {"success": True, "action": "type", "details": {"text_length": len(text)}}

    def do_key(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        _fields(self.fake, body, ("key",))
        key = _str(body, "key", required=True, nonempty=True, missing="missing key")
        assert key is not None
        if any(not part for part in key.split("+")) or any(ch.isspace() for ch in key):
            _bad(f"invalid key: {key!r}")
        c.actions.append(_action("key", body))
        c.screen.keys += 1
        c.events.publish("active", {})
        if key.lower() in ("ctrl+c", "ctrl+x"):
            c.events.publish("clipboard", {"content": c.screen.text})
        return {"success": True, "action": "key_press", "details": {"key": key}}

    def do_move(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        """SDK-only mouse move (§6.10); answer shape undocumented, the envelope is used."""
        _fields(self.fake, body, ("x", "y"))
        x = _int(body, "x", required=True, minimum=0)
        y = _int(body, "y", required=True, minimum=0)
        assert x is not None and y is not None
        self._in_bounds(c, x, y)
        c.actions.append(_action("move", body))
        c.screen.pointer = (x, y)
        return {"success": True, "action": "move", "details": {"x": x, "y": y}}

    async def do_bash(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        _fields(self.fake, body, ("command", "timeout"))
        command = _str(
            body, "command", required=True, nonempty=True, missing="'command' is required"
        )
        assert command is not None
        timeout = _int(body, "timeout", minimum=1, maximum=3600) or 200
        c.actions.append(_action("bash", body))
        pid = self.fake.next_pid()
        name = command.split()[0] if command.split() else "bash"
        c.events.publish("process_start", {"pid": pid, "name": name})
        extra: dict[str, Any] = {}
        changes: list[tuple[str, str]] = []
        try:
            if self.fake._bash_handler is not None:
                try:
                    result = await _maybe_await(self.fake._bash_handler(command, c))
                except ApiError:
                    raise
                except Exception as exc:
                    raise ApiError(
                        500, f"Upstream desktop agent failure: {exc}", upstream_status=500
                    ) from exc
                output, code, extra = _bash_result(result)
                changes = _parse_changes(command, c)
            elif self.fake.allow_exec:
                output, code = await self._subprocess(["bash", "-c", command], timeout, True)
                changes = _parse_changes(command, c)
            else:
                shell = MiniShell(c)
                output, code = shell.run(command)
                changes = shell.changes
        finally:
            for path, act in changes:
                if any(path == w or path.startswith(w + "/") for w in WATCHED):
                    c.events.publish("file_change", {"path": path, "action": act})
            c.events.publish("process_stop", {"pid": pid, "name": name})
        return {
            "success": True,
            "action": "bash",
            "command": command,
            "output": output,
            "exit_code": code,
            **extra,
        }

    async def do_exec(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        _fields(self.fake, body, ("code", "timeout"))
        if "code" not in body or not isinstance(body["code"], str):
            _bad("'code' is required and must be a string")
        code: str = body["code"]
        timeout = _int(body, "timeout", minimum=1, maximum=300) or 10
        c.actions.append(_action("exec", body))
        pid = self.fake.next_pid()
        c.events.publish("process_start", {"pid": pid, "name": "python3"})
        result: dict[str, Any]
        try:
            if self.fake._exec_handler is not None:
                try:
                    raw = await _maybe_await(self.fake._exec_handler(code, c))
                except ApiError:
                    raise
                except Exception as exc:
                    raise ApiError(
                        500, f"Upstream desktop agent failure: {exc}", upstream_status=500
                    ) from exc
                if raw is None:
                    result = {"output": "", "success": True}
                elif isinstance(raw, str):
                    result = {"output": raw, "success": True}
                elif isinstance(raw, dict):
                    result = {"output": "", "success": True, **raw}
                else:
                    raise ApiError(
                        500, "exec handler returned an unsupported value", upstream_status=500
                    )
            elif self.fake.allow_exec:
                result = await self._python(code, timeout)
            else:
                result = _default_exec(code)
        finally:
            for path, _mode in _OPEN_RE.findall(code):
                full = _abs(path)
                if any(full.startswith(w + "/") for w in WATCHED):
                    act = "modified" if full in c.files else "created"
                    c.files.setdefault(full, "")
                    c.events.publish("file_change", {"path": full, "action": act})
            c.events.publish("process_stop", {"pid": pid, "name": "python3"})
        result.setdefault("timeout", False)
        return {"action": "exec", **result}

    async def _subprocess(self, argv: list[str], timeout: float, merge: bool) -> tuple[str, int]:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT if merge else asyncio.subprocess.PIPE,
            cwd=self.fake.workdir(),
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise ApiError(
                500, f"Command timed out after {timeout:g} s", upstream_status=504
            ) from None
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        return out.decode("utf-8", "replace"), proc.returncode or 0

    async def _python(self, code: str, timeout: float) -> dict[str, Any]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            code,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.fake.workdir(),
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return {
                "output": "",
                "success": False,
                "timeout": True,
                "error": f"Execution timed out after {timeout:g} s",
                "error_type": "TimeoutError",
            }
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        output = out.decode("utf-8", "replace")
        if proc.returncode == 0:
            return {"output": output, "success": True}
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["Error"]
        etype, _, msg = last[0].partition(": ")
        return {
            "output": output,
            "success": False,
            "error": msg or etype,
            "error_type": etype if etype.isidentifier() else "Error",
        }

    async def do_wait(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        _fields(self.fake, body, ("duration",))
        duration = _num(body, "duration", required=True, minimum=0, maximum=60)
        assert duration is not None
        c.actions.append(_action("wait", body))
        await asyncio.sleep(duration * self.fake.timings.wait_scale)
        return {"success": True, "action": "wait"}

    def screenshot_png(self, c: FakeComputer) -> bytes:
        """The emulated screen as PNG at the computer's resolution."""
        return render_screen(c.width, c.height, c.screen, c.id)

    async def screenshot(self, request: web.Request) -> web.Response:
        c = self._action_target(request)
        fmt = request.query.get("response_format", "url")
        if fmt not in ("url", "base64"):
            _bad("'response_format' must be url or base64")
        c.actions.append(_action("screenshot", dict(request.query)))
        png = self.screenshot_png(c)
        if fmt == "base64":
            return _json(
                {
                    "success": True,
                    "image": base64.b64encode(png).decode(),
                    "mime_type": "image/png",
                    "width": c.width,
                    "height": c.height,
                }
            )
        now = datetime.now(UTC)
        path = f"screenshots/{c.instance_id}/{now:%Y-%m-%d}/{uuid.uuid4().hex[:12]}.png"
        storage = self.fake.storage
        storage[path] = png
        while len(storage) > max(1, self.fake.max_stored_screenshots):
            del storage[next(iter(storage))]
        return _json(
            {
                "success": True,
                "image": "/api/storage/" + path,
                "metadata": {
                    "id": new_uuid(),
                    "timestamp": now_iso(),
                    "size": len(png),
                    "storage_path": path,
                },
            }
        )

    async def storage(self, request: web.Request) -> web.Response:
        data = self.fake.storage.get(request.match_info["path"])
        if data is None:
            raise ApiError(404, "Not found")
        return web.Response(body=data, content_type="image/png")

    def _endpoint(self, fn: Callable[[FakeComputer, dict[str, Any]], Any]) -> Handler:
        async def handler(request: web.Request) -> web.Response:
            c = self._action_target(request)
            body = await read_body(request)
            return _json(await _maybe_await(fn(c, body)))

        return handler

    async def event_catalog(self, request: web.Request) -> web.Response:
        self._computer(request)
        return _json({"events": EVENT_CATALOG})

    # streaming -----------------------------------------------------------------------------

    def _stop_stream(self, c: FakeComputer, *, terminated: bool) -> bool:
        if c.stream.get("status") != "streaming":
            return False
        c.stream = (
            {"status": "terminated", "message": "Stream process was terminated unexpectedly"}
            if terminated
            else {"status": "idle"}
        )
        c.events.publish("audio_stream_stop", {})
        return True

    async def stream_start(self, request: web.Request) -> web.Response:
        c = self._action_target(request)
        body = await read_body(request)
        _fields(self.fake, body, ("connection_name",))
        name = _str(body, "connection_name", required=True, nonempty=True)
        allowed = self.fake.rtmp_connections
        if allowed is not None and name not in allowed:
            raise ApiError(404, f"RTMP connection '{name}' not found")
        if c.stream.get("status") == "streaming":
            raise ApiError(409, "A stream is already running")
        pid = self.fake.next_pid()
        c.stream = {"status": "streaming", "start_time": now_iso(), "pid": pid}
        c.actions.append(_action("stream_start", body))
        c.events.publish("audio_stream_start", {})
        return _json({"success": True, "status": "streaming", "pid": pid})

    async def stream_stop(self, request: web.Request) -> web.Response:
        """``{"success": true}``; with no active stream the v-A answer
        ``{"success": false, "error": "No active stream to stop"}`` with status 200
        (the reference states no status for it)."""
        c = self._computer(request)
        await read_body(request)
        c.actions.append(_action("stream_stop", {}))
        if not self._stop_stream(c, terminated=False):
            return _json({"success": False, "error": "No active stream to stop"})
        return _json({"success": True})

    async def stream_status(self, request: web.Request) -> web.Response:
        return _json(dict(self._computer(request).stream))

    # desktop proxy -----------------------------------------------------------------------

    async def proxy(self, request: web.Request) -> web.Response:
        """``/api/desktops/{instance_id}/proxy/{endpoint}`` (§12), API-key auth.

        ``health``: 200 ``{"status": "ok"}`` when running, 503 otherwise. The per-VM
        agent endpoints ``click drag scroll type key move bash exec wait`` (POST) and
        ``screenshot`` (GET, raw base64 like the agent) take the platform bodies; anything
        else is 404 with ``upstream_status`` 404.
        """
        key = request[API_KEY]
        c = self.fake.world.computer_by_instance(request.match_info["instance_id"])
        ws = self.fake.world.workspaces.get(c.workspace_id) if c else None
        if c is None or (ws is not None and ws.user_id != key.user_id):
            raise ApiError(404, "Computer not found")
        if key.workspace_id is not None and key.workspace_id != c.workspace_id:
            raise _scope_error(key, c.workspace_id)
        endpoint = request.match_info["endpoint"].strip("/")
        if c.status == "suspended":
            c.set_status("running")
        if c.status != "running":
            raise ApiError(503, UNREACHABLE)
        if endpoint == "health":
            return _json({"status": "ok"})
        posts: dict[str, Callable[[FakeComputer, dict[str, Any]], Any]] = {
            "click": self.do_click,
            "drag": self.do_drag,
            "scroll": self.do_scroll,
            "type": self.do_type,
            "key": self.do_key,
            "move": self.do_move,
            "bash": self.do_bash,
            "exec": self.do_exec,
            "wait": self.do_wait,
        }
        if endpoint == "screenshot" and request.method == "GET":
            c.actions.append(_action("screenshot", dict(request.query)))
            png = self.screenshot_png(c)
            return _json(
                {
                    "success": True,
                    "image": base64.b64encode(png).decode(),
                    "mime_type": "image/png",
                    "width": c.width,
                    "height": c.height,
                }
            )
        if endpoint in posts:
            if request.method != "POST":
                raise ApiError(405, "Method not allowed", upstream_status=405)
            body = await read_body(request)
            return _json(await _maybe_await(posts[endpoint](c, body)))
        raise ApiError(404, f"Unknown desktop endpoint: {endpoint}", upstream_status=404)

    # routing -------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        for base in ("/api/workspaces", "/api/projects"):
            r.add_post(base, self.create_workspace)
            r.add_get(base, self.list_workspaces)
            r.add_get(base + "/{id}", self.get_workspace)
            r.add_delete(base + "/{id}", self.delete_workspace)
        r.add_get("/api/projects/by-name/{name}", self.workspace_by_name)
        r.add_post("/api/computers", self.create_computer)
        cid = "/api/computers/{id}"
        r.add_get(cid, self.get_computer)
        r.add_delete(cid, self.delete_computer)
        r.add_get(cid + "/vnc-password", self.vnc_password)
        r.add_post(cid + "/ensure-running", self.ensure_running)
        r.add_post(cid + "/start", self.start)
        r.add_post(cid + "/stop", self.stop)
        r.add_post(cid + "/restart", self.restart)
        r.add_post(cid + "/clone", self.clone)
        r.add_patch(cid + "/move", self.move_workspace)
        r.add_patch(cid + "/resize", self.resize)
        r.add_get(cid + "/auto-stop", self.get_auto_stop)
        r.add_patch(cid + "/auto-stop", self.set_auto_stop)
        r.add_get(cid + "/screenshot", self.screenshot)
        r.add_post(cid + "/click", self._endpoint(self.do_click))
        r.add_post(cid + "/drag", self._endpoint(self.do_drag))
        r.add_post(cid + "/scroll", self._endpoint(self.do_scroll))
        r.add_post(cid + "/type", self._endpoint(self.do_type))
        r.add_post(cid + "/key", self._endpoint(self.do_key))
        r.add_post(cid + "/move", self._endpoint(self.do_move))
        r.add_post(cid + "/bash", self._endpoint(self.do_bash))
        r.add_post(cid + "/exec", self._endpoint(self.do_exec))
        r.add_post(cid + "/wait", self._endpoint(self.do_wait))
        r.add_get(cid + "/events", self.event_catalog)
        r.add_post(cid + "/stream/start", self.stream_start)
        r.add_post(cid + "/stream/stop", self.stream_stop)
        r.add_get(cid + "/stream/status", self.stream_status)
        r.add_get("/api/storage/{path:.+}", self.storage)
        r.add_route("*", "/api/desktops/{instance_id}/proxy/{endpoint:.*}", self.proxy)


def _action(name: str, body: dict[str, Any]) -> Any:
    from ._state import Action

    return Action(name, dict(body))


def _bash_result(result: Any) -> tuple[str, int, dict[str, Any]]:
    """Normalise a bash handler's return value (see ``BashHandler``)."""
    if result is None:
        return "", 0, {}
    if isinstance(result, str):
        return result, 0, {}
    if isinstance(result, bool):
        raise ApiError(500, "bash handler returned a bool", upstream_status=500)
    if isinstance(result, int):
        return "", result, {}
    if isinstance(result, tuple) and len(result) == 2:
        return str(result[0]), int(result[1]), {}
    if isinstance(result, dict):
        extra = {k: v for k, v in result.items() if k not in ("output", "exit_code")}
        return str(result.get("output", "")), int(result.get("exit_code", 0)), extra
    raise ApiError(500, "bash handler returned an unsupported value", upstream_status=500)


def _parse_changes(command: str, c: FakeComputer) -> list[tuple[str, str]]:
    """File changes a real command probably made, for ``file_change`` events: run it
    through the mini shell against a scratch copy of the file table."""
    scratch = FakeComputer(id=c.id, name=c.name, workspace_id=c.workspace_id, files=dict(c.files))
    shell = MiniShell(scratch)
    with contextlib.suppress(Exception):
        shell.run(command)
    c.files.update(scratch.files)
    for path, act in shell.changes:
        if act == "deleted":
            c.files.pop(path, None)
    return shell.changes


def build_app(fake: FakeOrgo) -> web.Application:
    """The emulator's ``aiohttp`` application: REST routes plus the WebSocket routes."""
    from ._rest_chat import add_chat_routes
    from ._rest_files import add_files_routes
    from ._rest_projects import add_project_routes
    from ._rest_templates import add_template_routes
    from ._ws_agent import add_agent_route

    api = RestApi(fake)
    app = web.Application(middlewares=[api.middleware], client_max_size=2 * 1024 * 1024)
    api.add_routes(app)
    add_websocket_routes(app, fake)
    add_project_routes(app, fake)
    add_files_routes(app, fake)
    add_template_routes(app, fake)
    add_chat_routes(app, fake, api)
    add_agent_route(app, fake, api)
    return app
