"""Desktop routes (reference §§6-7, 12): actions, bash / exec, screenshots, RTMP
streaming and the Desktop API proxy.

Actions need a ``running`` computer (400 ``Desktop instance not available`` otherwise; a
``suspended`` one resumes on the call). Desktop-side failures carry ``upstream_status``:
click out of bounds -> 400/400, bash handler crash -> 500/500, bash timeout ->
500/504, unknown proxy endpoint -> 404/404.

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

import asyncio
import base64
import inspect
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ._fake_shell import (
    MiniShell,
    bash_changes,
    bash_result,
    default_exec,
    exec_changes,
    exec_result,
    run_command,
    run_python,
    watched,
)
from ._png import render_screen
from ._rest_body import (
    bool_field,
    check_fields,
    int_field,
    num_field,
    read_body,
    str_field,
)
from ._rest_http import API_KEY, ApiError, Emulator, Handler, bad, json_response
from ._rest_objects import find_computer, require_running, visible_computer
from ._state import Action, FakeComputer, new_uuid, now_iso

__all__ = ["EVENT_CATALOG", "DesktopRoutes"]

UNREACHABLE = "Could not reach the desktop. Try again in a moment."
BUTTONS = ("left", "right", "middle")  # middle: the SDK's Anthropic loop sends it

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

#: An action: the computer and the JSON body in, the answer's fields out.
ActionFn = Callable[[FakeComputer, dict[str, Any]], Any]


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class DesktopRoutes:
    """Route handlers for what happens on the desktop of one emulator's computers."""

    def __init__(self, fake: Emulator) -> None:
        self.fake = fake
        #: The per-VM agent endpoints, served both as ``/computers/{id}/<name>`` and
        #: through the Desktop proxy.
        self.actions: dict[str, ActionFn] = {
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

    def _target(self, request: web.Request) -> FakeComputer:
        c = find_computer(self.fake, request)
        require_running(c)
        return c

    def _strict(self, body: dict[str, Any], allowed: tuple[str, ...]) -> None:
        check_fields(self.fake.strict, body, allowed)

    def action(self, name: str) -> Handler:
        """The ``POST /computers/{id}/<name>`` handler of an action."""
        fn = self.actions[name]

        async def handler(request: web.Request) -> web.Response:
            c = self._target(request)
            body = await read_body(request)
            return json_response(await _maybe_await(fn(c, body)))

        return handler

    # pointer and keyboard ----------------------------------------------------------------

    @staticmethod
    def _in_bounds(c: FakeComputer, x: int, y: int) -> None:
        if x >= c.width or y >= c.height:
            raise ApiError(
                400,
                f"Coordinates ({x}, {y}) are outside the {c.width}x{c.height} screen",
                upstream_status=400,
            )

    def do_click(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        self._strict(body, ("x", "y", "button", "double"))
        x = int_field(body, "x", required=True, minimum=0)
        y = int_field(body, "y", required=True, minimum=0)
        assert x is not None and y is not None
        button = str_field(body, "button", allowed=BUTTONS) or "left"
        double = bool_field(body, "double")
        self._in_bounds(c, x, y)
        c.actions.append(Action("click", dict(body)))
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
        self._strict(body, ("start_x", "start_y", "end_x", "end_y", "button", "duration"))
        coords = {}
        for name in ("start_x", "start_y", "end_x", "end_y"):
            coords[name] = int_field(
                body, name, required=True, minimum=0, missing="missing required coordinate"
            )
        str_field(body, "button", allowed=("left", "right"))
        num_field(body, "duration", minimum=0, maximum=60)
        self._in_bounds(c, coords["start_x"] or 0, coords["start_y"] or 0)
        self._in_bounds(c, coords["end_x"] or 0, coords["end_y"] or 0)
        c.actions.append(Action("drag", dict(body)))
        c.screen.pointer = (coords["end_x"] or 0, coords["end_y"] or 0)
        return {"success": True, "action": "drag", "details": coords}

    def do_scroll(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        """On Linux an omitted ``x`` or ``y`` moves the pointer to 0 on that axis (the
        quirk the official SDK works around); Windows rejects ``x``/``y`` with 400."""
        self._strict(body, ("direction", "amount", "x", "y"))
        direction = str_field(body, "direction", allowed=("up", "down")) or "down"
        amount = int_field(body, "amount", minimum=1, maximum=100) or 3
        x = int_field(body, "x", minimum=0)
        y = int_field(body, "y", minimum=0)
        if c.os == "windows" and (x is not None or y is not None):
            raise ApiError(400, "x and y are not supported on Windows", upstream_status=400)
        if c.os != "windows":
            self._in_bounds(c, x or 0, y or 0)
            c.screen.pointer = (x or 0, y or 0)
        c.actions.append(Action("scroll", dict(body)))
        c.screen.scroll += amount if direction == "down" else -amount
        return {
            "success": True,
            "action": "scroll",
            "details": {"direction": direction, "amount": amount},
        }

    def do_type(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        self._strict(body, ("text", "delay_ms"))
        text = str_field(body, "text", required=True, missing="missing text")
        assert text is not None
        int_field(body, "delay_ms", minimum=0, maximum=10_000)
        c.actions.append(Action("type", dict(body)))
        c.screen.typed += len(text)
        c.screen.text = text
        c.events.publish("active", {})
        return {"success": True, "action": "type", "details": {"text_length": len(text)}}

    def do_key(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        self._strict(body, ("key",))
        key = str_field(body, "key", required=True, nonempty=True, missing="missing key")
        assert key is not None
        if any(not part for part in key.split("+")) or any(ch.isspace() for ch in key):
            bad(f"invalid key: {key!r}")
        c.actions.append(Action("key", dict(body)))
        c.screen.keys += 1
        c.events.publish("active", {})
        if key.lower() in ("ctrl+c", "ctrl+x"):
            c.events.publish("clipboard", {"content": c.screen.text})
        return {"success": True, "action": "key_press", "details": {"key": key}}

    def do_move(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        """SDK-only mouse move (§6.10); answer shape undocumented, the envelope is used."""
        self._strict(body, ("x", "y"))
        x = int_field(body, "x", required=True, minimum=0)
        y = int_field(body, "y", required=True, minimum=0)
        assert x is not None and y is not None
        self._in_bounds(c, x, y)
        c.actions.append(Action("move", dict(body)))
        c.screen.pointer = (x, y)
        return {"success": True, "action": "move", "details": {"x": x, "y": y}}

    async def do_wait(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        self._strict(body, ("duration",))
        duration = num_field(body, "duration", required=True, minimum=0, maximum=60)
        assert duration is not None
        c.actions.append(Action("wait", dict(body)))
        await asyncio.sleep(duration * self.fake.timings.wait_scale)
        return {"success": True, "action": "wait"}

    # bash and exec -----------------------------------------------------------------------

    async def _call_handler(self, handler: Callable[[str, FakeComputer], Any], *args: Any) -> Any:
        """A registered handler's answer; its crash is an upstream (desktop) failure."""
        try:
            return await _maybe_await(handler(*args))
        except ApiError:
            raise
        except Exception as exc:
            raise ApiError(
                500, f"Upstream desktop agent failure: {exc}", upstream_status=500
            ) from exc

    async def _bash(
        self, command: str, timeout: int, c: FakeComputer
    ) -> tuple[str, int, dict[str, Any], list[tuple[str, str]]]:
        """Output, exit code, extra answer fields and file changes of one command."""
        handler = self.fake.bash_handler
        if handler is not None:
            result = await self._call_handler(handler, command, c)
            try:
                output, code, extra = bash_result(result)
            except TypeError as exc:
                raise ApiError(500, str(exc), upstream_status=500) from None
            return output, code, extra, bash_changes(command, c)
        if self.fake.allow_exec:
            try:
                output, code = await run_command(
                    ["bash", "-c", command], timeout, self.fake.workdir()
                )
            except TimeoutError:
                raise ApiError(
                    500, f"Command timed out after {timeout:g} s", upstream_status=504
                ) from None
            return output, code, {}, bash_changes(command, c)
        shell = MiniShell(c)
        output, code = shell.run(command)
        return output, code, {}, shell.changes

    async def do_bash(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        self._strict(body, ("command", "timeout"))
        command = str_field(
            body, "command", required=True, nonempty=True, missing="'command' is required"
        )
        assert command is not None
        timeout = int_field(body, "timeout", minimum=1, maximum=3600) or 200
        c.actions.append(Action("bash", dict(body)))
        pid = self.fake.next_pid()
        name = command.split()[0] if command.split() else "bash"
        c.events.publish("process_start", {"pid": pid, "name": name})
        changes: list[tuple[str, str]] = []
        try:
            output, code, extra, changes = await self._bash(command, timeout, c)
        finally:
            for path, act in changes:
                if watched(path):
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

    async def _exec(self, code: str, timeout: int, c: FakeComputer) -> dict[str, Any]:
        handler = self.fake.exec_handler
        if handler is not None:
            raw = await self._call_handler(handler, code, c)
            try:
                return exec_result(raw)
            except TypeError as exc:
                raise ApiError(500, str(exc), upstream_status=500) from None
        if self.fake.allow_exec:
            return await run_python(code, timeout, self.fake.workdir())
        return default_exec(code)

    async def do_exec(self, c: FakeComputer, body: dict[str, Any]) -> dict[str, Any]:
        self._strict(body, ("code", "timeout"))
        if "code" not in body or not isinstance(body["code"], str):
            bad("'code' is required and must be a string")
        code: str = body["code"]
        timeout = int_field(body, "timeout", minimum=1, maximum=300) or 10
        c.actions.append(Action("exec", dict(body)))
        pid = self.fake.next_pid()
        c.events.publish("process_start", {"pid": pid, "name": "python3"})
        try:
            result = await self._exec(code, timeout, c)
        finally:
            for path, act in exec_changes(code, c):
                c.events.publish("file_change", {"path": path, "action": act})
            c.events.publish("process_stop", {"pid": pid, "name": "python3"})
        result.setdefault("timeout", False)
        return {"action": "exec", **result}

    # screenshots -------------------------------------------------------------------------

    @staticmethod
    def screenshot_png(c: FakeComputer) -> bytes:
        """The emulated screen as PNG at the computer's resolution."""
        return render_screen(c.width, c.height, c.screen, c.id)

    def _base64_screenshot(self, c: FakeComputer, query: dict[str, str]) -> web.Response:
        c.actions.append(Action("screenshot", query))
        png = self.screenshot_png(c)
        return json_response(
            {
                "success": True,
                "image": base64.b64encode(png).decode(),
                "mime_type": "image/png",
                "width": c.width,
                "height": c.height,
            }
        )

    async def screenshot(self, request: web.Request) -> web.Response:
        c = self._target(request)
        fmt = request.query.get("response_format", "url")
        if fmt not in ("url", "base64"):
            bad("'response_format' must be url or base64")
        if fmt == "base64":
            return self._base64_screenshot(c, dict(request.query))
        c.actions.append(Action("screenshot", dict(request.query)))
        png = self.screenshot_png(c)
        now = datetime.now(UTC)
        path = f"screenshots/{c.instance_id}/{now:%Y-%m-%d}/{uuid.uuid4().hex[:12]}.png"
        storage = self.fake.storage
        storage[path] = png
        while len(storage) > max(1, self.fake.max_stored_screenshots):
            del storage[next(iter(storage))]
        metadata = {
            "id": new_uuid(),
            "timestamp": now_iso(),
            "size": len(png),
            "storage_path": path,
        }
        return json_response(
            {"success": True, "image": "/api/storage/" + path, "metadata": metadata}
        )

    async def storage(self, request: web.Request) -> web.Response:
        data = self.fake.storage.get(request.match_info["path"])
        if data is None:
            raise ApiError(404, "Not found")
        return web.Response(body=data, content_type="image/png")

    async def event_catalog(self, request: web.Request) -> web.Response:
        find_computer(self.fake, request)
        return json_response({"events": EVENT_CATALOG})

    # RTMP streaming ----------------------------------------------------------------------

    async def stream_start(self, request: web.Request) -> web.Response:
        c = self._target(request)
        body = await read_body(request)
        self._strict(body, ("connection_name",))
        name = str_field(body, "connection_name", required=True, nonempty=True)
        allowed = self.fake.rtmp_connections
        if allowed is not None and name not in allowed:
            raise ApiError(404, f"RTMP connection '{name}' not found")
        if c.stream.get("status") == "streaming":
            raise ApiError(409, "A stream is already running")
        pid = self.fake.next_pid()
        c.stream = {"status": "streaming", "start_time": now_iso(), "pid": pid}
        c.actions.append(Action("stream_start", dict(body)))
        c.events.publish("audio_stream_start", {})
        return json_response({"success": True, "status": "streaming", "pid": pid})

    async def stream_stop(self, request: web.Request) -> web.Response:
        """``{"success": true}``; with no active stream the v-A answer
        ``{"success": false, "error": "No active stream to stop"}`` with status 200
        (the reference states no status for it)."""
        c = find_computer(self.fake, request)
        await read_body(request)
        c.actions.append(Action("stream_stop", {}))
        if not c.end_stream(terminated=False):
            return json_response({"success": False, "error": "No active stream to stop"})
        return json_response({"success": True})

    async def stream_status(self, request: web.Request) -> web.Response:
        return json_response(dict(find_computer(self.fake, request).stream))

    # the Desktop API proxy ---------------------------------------------------------------

    async def proxy(self, request: web.Request) -> web.Response:
        """``/api/desktops/{instance_id}/proxy/{endpoint}`` (§12), API-key auth.

        ``health``: 200 ``{"status": "ok"}`` when running, 503 otherwise. The per-VM
        agent endpoints ``click drag scroll type key move bash exec wait`` (POST) and
        ``screenshot`` (GET, raw base64 like the agent) take the platform bodies; anything
        else is 404 with ``upstream_status`` 404.
        """
        c = visible_computer(
            self.fake,
            request[API_KEY],
            self.fake.world.computer_by_instance(request.match_info["instance_id"]),
        )
        endpoint = request.match_info["endpoint"].strip("/")
        if c.status == "suspended":
            c.set_status("running")
        if c.status != "running":
            raise ApiError(503, UNREACHABLE)
        if endpoint == "health":
            return json_response({"status": "ok"})
        if endpoint == "screenshot" and request.method == "GET":
            return self._base64_screenshot(c, dict(request.query))
        if endpoint in self.actions:
            if request.method != "POST":
                raise ApiError(405, "Method not allowed", upstream_status=405)
            body = await read_body(request)
            return json_response(await _maybe_await(self.actions[endpoint](c, body)))
        raise ApiError(404, f"Unknown desktop endpoint: {endpoint}", upstream_status=404)
