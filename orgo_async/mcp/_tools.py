"""The MCP tools: one method of :class:`OrgoTools` per tool, each a single SDK call.

Arguments are typed (the MCP SDK derives each tool's JSON schema from the signature) and
results are plain JSON objects from :func:`orgo_async.as_dict`, with every field present
and no secrets. Errors: the SDK's typed error is caught and re-raised as an MCP
``ToolError`` (the result has ``is_error`` set and the text ``NotFoundError: 404: ...``);
anything else is a bug and the MCP SDK reports it as a generic tool failure.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp.types import ToolAnnotations

from .. import OrgoError, as_dict

if TYPE_CHECKING:
    from .. import AsyncOrgo

__all__ = ["CHANGE", "INSTRUCTIONS", "READ", "TOOLS", "OrgoTools", "call"]

T = TypeVar("T")

READ = ToolAnnotations(read_only_hint=True, open_world_hint=True)
CHANGE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=True)
_IDEMPOTENT = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)
_DESTROY = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=True)

INSTRUCTIONS = (
    "Tools for Orgo cloud desktops. Find or create a workspace, create a computer in it "
    "(it is running when computer_create returns), then look with `screenshot` and act "
    "with click, type, key, scroll, drag; `bash` and `exec` run commands on it. Coordinates "
    "are screen pixels of the screenshot."
)


async def call(awaitable: Awaitable[T]) -> T:
    """Await an SDK call; its typed error becomes an MCP tool error with the same message."""
    try:
        return await awaitable
    except (OrgoError, ValueError, TypeError, TimeoutError) as e:
        raise ToolError(f"{type(e).__name__}: {e}") from e


class OrgoTools:
    """The tools, bound to one :class:`~orgo_async.AsyncOrgo` (which holds the key)."""

    def __init__(self, orgo: AsyncOrgo) -> None:
        self.orgo = orgo

    # -- workspaces --------------------------------------------------------------------

    async def workspaces_list(self) -> dict[str, Any]:
        """List every workspace, each with its computers (`desktops`)."""
        return {"workspaces": as_dict(await call(self.orgo.workspaces.list()))}

    async def workspace_create(self, name: str) -> dict[str, Any]:
        """Create a workspace; `name` must be unique in the account."""
        result: dict[str, Any] = as_dict(await call(self.orgo.workspaces.create(name=name)))
        return result

    async def workspace_delete(self, workspace_id: str) -> dict[str, Any]:
        """Delete a workspace AND every computer in it, permanently."""
        result = await call(self.orgo.workspaces.delete(workspace_id))
        return {"id": workspace_id, "deleted": result.success}

    # -- computers ---------------------------------------------------------------------

    async def computers_list(self, workspace_id: str | None = None) -> dict[str, Any]:
        """List the computers of one workspace, or of every workspace when omitted."""
        if workspace_id:
            computers = await call(self.orgo.computers.list(workspace_id))
        else:
            workspaces = await call(self.orgo.workspaces.list())
            computers = [c for ws in workspaces for c in ws.desktops]
        return {"computers": as_dict(computers)}

    async def computer_get(self, computer_id: str) -> dict[str, Any]:
        """A computer with its current status."""
        result: dict[str, Any] = as_dict(await call(self.orgo.computers.get(computer_id)))
        return result

    async def computer_create(
        self,
        workspace_id: str,
        name: str,
        ram: Literal[4, 8, 16, 32, 64] | None = None,
        cpu: Literal[1, 2, 4, 8, 16] | None = None,
        resolution: str | None = None,
        wait: bool = True,
        timeout: float = 180.0,
    ) -> dict[str, Any]:
        """Create a computer (ram in GB, resolution like 1280x720x24) and, unless `wait`
        is false, wait until it is running."""
        c = await call(
            self.orgo.computers.create(
                workspace_id=workspace_id, name=name, ram=ram, cpu=cpu, resolution=resolution
            )
        )
        if wait and not c.is_running:
            c = await call(self.orgo.computers.wait_until(c.id, "running", timeout=timeout))
        return self._computer(c)

    async def computer_start(
        self, computer_id: str, wait: bool = True, timeout: float = 180.0
    ) -> dict[str, Any]:
        """Start a stopped computer and, unless `wait` is false, wait until it runs."""
        return await self._lifecycle("start", computer_id, "running", wait, timeout)

    async def computer_stop(
        self, computer_id: str, wait: bool = True, timeout: float = 180.0
    ) -> dict[str, Any]:
        """Stop a running computer (its disk is kept); waits until stopped unless `wait`
        is false."""
        return await self._lifecycle("stop", computer_id, "stopped", wait, timeout)

    async def computer_restart(
        self, computer_id: str, wait: bool = True, timeout: float = 180.0
    ) -> dict[str, Any]:
        """Restart a computer; waits until it runs again unless `wait` is false."""
        return await self._lifecycle("restart", computer_id, "running", wait, timeout)

    async def computer_delete(self, computer_id: str) -> dict[str, Any]:
        """Delete a computer and its disk, permanently."""
        result = await call(self.orgo.computers.delete(computer_id))
        return {"id": computer_id, "deleted": result.success}

    async def computer_wait(
        self, computer_id: str, status: str = "running", timeout: float = 120.0
    ) -> dict[str, Any]:
        """Wait until the computer has `status` (default running); fails on timeout or
        when the computer enters `error`."""
        c = await call(self.orgo.computers.wait_until(computer_id, status, timeout=timeout))
        return self._computer(c)

    async def _lifecycle(
        self, operation: str, computer_id: str, wanted: str, wait: bool, timeout: float
    ) -> dict[str, Any]:
        result = await call(getattr(self.orgo.computers, operation)(computer_id))
        if not wait:
            return {"id": computer_id, **as_dict(result)}
        c = await call(self.orgo.computers.wait_until(computer_id, wanted, timeout=timeout))
        return self._computer(c)

    @staticmethod
    def _computer(c: Any) -> dict[str, Any]:
        result: dict[str, Any] = as_dict(c)
        return result

    # -- actions -----------------------------------------------------------------------

    async def screenshot(self, computer_id: str) -> list[Any]:
        """Capture the screen: the image, and its size as text."""
        shot = await call(self.orgo.computers.screenshot(computer_id))
        fmt = shot.mime_type.removeprefix("image/") if shot.mime_type.startswith("image/") else None
        size = f"{shot.width}x{shot.height} " if shot.width and shot.height else ""
        return [Image(data=shot.data, format=fmt), f"screenshot {size}({shot.mime_type})"]

    async def click(
        self,
        computer_id: str,
        x: int,
        y: int,
        button: Literal["left", "right", "middle"] = "left",
    ) -> dict[str, Any]:
        """Click at pixel (x, y) with `button`."""
        return self._action(await call(self.orgo.computers.click(computer_id, x, y, button)))

    async def double_click(self, computer_id: str, x: int, y: int) -> dict[str, Any]:
        """Double-click at pixel (x, y) with the left button."""
        return self._action(await call(self.orgo.computers.double_click(computer_id, x, y)))

    async def drag(
        self,
        computer_id: str,
        start_x: int,
        start_y: int,
        end_x: int,
        end_y: int,
        button: Literal["left", "right"] = "left",
        duration: float = 0.5,
    ) -> dict[str, Any]:
        """Press at (start_x, start_y), move to (end_x, end_y) over `duration` s, release."""
        request = self.orgo.computers.drag(
            computer_id, start_x, start_y, end_x, end_y, button=button, duration=duration
        )
        return self._action(await call(request))

    async def scroll(
        self,
        computer_id: str,
        direction: Literal["up", "down"] = "down",
        amount: int = 3,
        x: int | None = None,
        y: int | None = None,
    ) -> dict[str, Any]:
        """Turn the mouse wheel `amount` clicks, at (x, y) when given."""
        request = self.orgo.computers.scroll(computer_id, direction, amount, x=x, y=y)
        return self._action(await call(request))

    async def type_text(self, computer_id: str, text: str) -> dict[str, Any]:
        """Type `text` (unicode allowed) at the keyboard focus."""
        return self._action(await call(self.orgo.computers.type(computer_id, text)))

    async def key(self, computer_id: str, key: str) -> dict[str, Any]:
        """Press a key or combination: Enter, Tab, Escape, ctrl+c, alt+F4 ..."""
        return self._action(await call(self.orgo.computers.key(computer_id, key)))

    async def move_mouse(self, computer_id: str, x: int, y: int) -> dict[str, Any]:
        """Move the pointer to pixel (x, y) without clicking."""
        return self._action(await call(self.orgo.computers.move_mouse(computer_id, x, y)))

    @staticmethod
    def _action(result: Any) -> dict[str, Any]:
        out: dict[str, Any] = as_dict(result)
        return out

    # -- commands ----------------------------------------------------------------------

    async def bash(
        self, computer_id: str, command: str, timeout: int | None = None
    ) -> dict[str, Any]:
        """Run a bash command; returns its combined output and exit code."""
        result = await call(self.orgo.computers.bash(computer_id, command, timeout=timeout))
        return {"output": result.output, "exit_code": result.exit_code, "success": result.success}

    async def exec(self, computer_id: str, code: str, timeout: int = 10) -> dict[str, Any]:
        """Run Python code (timeout 1-300 s); returns its output and any error."""
        out: dict[str, Any] = as_dict(
            await call(self.orgo.computers.exec(computer_id, code, timeout=timeout))
        )
        return out


# (tool name, method, annotations), in the order tools are listed.
TOOLS: tuple[tuple[str, str, ToolAnnotations], ...] = (
    ("workspaces_list", "workspaces_list", READ),
    ("workspace_create", "workspace_create", CHANGE),
    ("workspace_delete", "workspace_delete", _DESTROY),
    ("computers_list", "computers_list", READ),
    ("computer_get", "computer_get", READ),
    ("computer_create", "computer_create", CHANGE),
    ("computer_start", "computer_start", _IDEMPOTENT),
    ("computer_stop", "computer_stop", _IDEMPOTENT),
    ("computer_restart", "computer_restart", CHANGE),
    ("computer_delete", "computer_delete", _DESTROY),
    ("computer_wait", "computer_wait", READ),
    ("screenshot", "screenshot", READ),
    ("click", "click", CHANGE),
    ("double_click", "double_click", CHANGE),
    ("drag", "drag", CHANGE),
    ("scroll", "scroll", CHANGE),
    ("type", "type_text", CHANGE),
    ("key", "key", CHANGE),
    ("move_mouse", "move_mouse", _IDEMPOTENT),
    ("bash", "bash", CHANGE),
    ("exec", "exec", CHANGE),
)
