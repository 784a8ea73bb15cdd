"""Claude computer use on an Orgo computer: the tool specs, a tool executor and a loop.

::

    from anthropic import AsyncAnthropic
    from orgo_async import AsyncOrgo
    from orgo_async.agents.anthropic import ComputerUseTools, run_claude

    async with AsyncOrgo() as orgo:
        run = await run_claude(orgo, computer_id, "Open the terminal and run uname -a",
                               client=AsyncAnthropic(), model="claude-sonnet-4-5")
        print(run.final_text)

        # or drive your own loop:
        async with ComputerUseTools(orgo, computer_id, version="20251124") as tools:
            response = await client.beta.messages.create(
                model=..., max_tokens=4096, messages=messages,
                tools=tools.params, betas=tools.betas)
            results = [await tools.run(b) for b in response.content if b.type == "tool_use"]

Every action of ``computer_20250124`` and ``computer_20251124`` (``zoom``, with
``enable_zoom``) and the ``bash_20250124`` tool run through one
:class:`~orgo_async.agents.Desktop`. A result is a ``tool_result`` dict with text and/or a
base64 PNG; a failed call is ``is_error: true`` with the typed error's (redacted)
message, and an unknown action or a bad parameter is ``is_error: true`` saying what was
wrong: never an exception out of :meth:`ComputerUseTools.run`, never a silent success.

``anthropic`` is needed only by :func:`run_claude` and
:meth:`ComputerUseTools.runner_tools` (``pip install "orgo-async[anthropic]"``).

About 520 lines, kept in one module on purpose: the tool specs of both versions, the
table from each model action to the desktop, and the loop that feeds the results back
are one contract with the Messages API and read best together (the request fast path
is in :mod:`._messages`, the desktop in :mod:`._desktop`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .._errors import OrgoError
from .._secrets import get_logger, redact
from ._desktop import ActionError, Button, Desktop, as_point

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

    from .._client import AsyncOrgo
    from .._models import Computer, Screenshot

__all__ = ["ClaudeRun", "ComputerUseTools", "run_claude"]

log = get_logger("orgo_async.agents")

Version = Literal["20251124", "20250124"]
BETAS: dict[str, str] = {
    "20251124": "computer-use-2025-11-24",
    "20250124": "computer-use-2025-01-24",
}
BASH_TOOL: dict[str, Any] = {"type": "bash_20250124", "name": "bash"}
_CLICKS: dict[str, tuple[Button, int]] = {
    "left_click": ("left", 1),
    "right_click": ("right", 1),
    "middle_click": ("middle", 1),
    "double_click": ("left", 2),
    "triple_click": ("left", 3),
}
_MODS = frozenset({"text", "key"})  # held keys: "text" (20251124), "key" (20250124)
# action -> (required parameters, optional parameters)
_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "screenshot": (frozenset(), frozenset()),
    "cursor_position": (frozenset(), frozenset()),
    "key": (frozenset({"text"}), frozenset({"repeat"})),
    "type": (frozenset({"text"}), frozenset()),
    "mouse_move": (frozenset({"coordinate"}), _MODS),
    **{name: (frozenset(), frozenset({"coordinate"}) | _MODS) for name in _CLICKS},
    "left_click_drag": (frozenset({"start_coordinate", "coordinate"}), _MODS),
    "left_mouse_down": (frozenset(), frozenset({"coordinate"})),
    "left_mouse_up": (frozenset(), frozenset({"coordinate"})),
    "scroll": (frozenset({"scroll_direction", "scroll_amount"}), frozenset({"coordinate"}) | _MODS),
    "hold_key": (frozenset({"text", "duration"}), frozenset()),
    "wait": (frozenset({"duration"}), frozenset()),
    "zoom": (frozenset({"region"}), frozenset()),
}
ACTIONS: dict[str, frozenset[str]] = {
    "20250124": frozenset(_PARAMS) - {"zoom"},
    "20251124": frozenset(_PARAMS),
}
"""The actions each tool version defines."""

#: A tool result's content: a string when it is only text (the Messages API accepts that
#: form, and it is fewer objects for the SDK to copy on every request), else blocks.
Content = str | list[dict[str, Any]]


def _text(text: str) -> Content:
    return text


def _image(shot: Screenshot) -> dict[str, Any]:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": shot.mime_type, "data": shot.b64()},
    }


def _block_parts(block: Any) -> tuple[str, str, Any]:
    """``(id, name, input)`` of a tool_use block (a dict or the SDK's object)."""
    if isinstance(block, Mapping):
        tool_id, name, args = block.get("id"), block.get("name"), block.get("input")
    else:
        tool_id = getattr(block, "id", None)
        name, args = getattr(block, "name", None), getattr(block, "input", None)
    if not isinstance(tool_id, str) or not tool_id:
        raise ValueError(f"not a tool_use block (no id): {block!r}")
    return tool_id, name if isinstance(name, str) else "", args


def _int(args: Mapping[str, Any], name: str) -> int:
    value = args[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ActionError(f"{name} must be an integer, not {value!r}")
    return value


def _number(args: Mapping[str, Any], name: str) -> float:
    value = args[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ActionError(f"{name} must be a number of seconds, not {value!r}")
    return float(value)


def _str(args: Mapping[str, Any], name: str) -> str:
    value = args[name]
    if not isinstance(value, str) or not value:
        raise ActionError(f"{name} must be a non-empty string, not {value!r}")
    return value


class ComputerUseTools:
    """Claude's ``computer`` and ``bash`` tools, executed on one Orgo computer.

    Arguments:
        orgo: the :class:`~orgo_async.AsyncOrgo` client.
        computer: a computer id or an :class:`~orgo_async.Computer`.
        version: ``"20251124"`` (adds ``zoom``) or ``"20250124"``.
        screenshot_after_action: append a screenshot to the result of every action that
            changes the screen (what Anthropic's reference implementation does; off by
            default: the model asks for screenshots when it wants them).
        input, screenshots: passed to :class:`~orgo_async.agents.Desktop`.
        desktop: use this :class:`~orgo_async.agents.Desktop` instead of making one.

    :attr:`params` needs the display size: pass a :class:`~orgo_async.Computer`
    (its ``resolution``), or ``await tools.open()`` / ``async with`` first.
    """

    def __init__(
        self,
        orgo: AsyncOrgo,
        computer: str | Computer,
        version: Version = "20251124",
        *,
        screenshot_after_action: bool = False,
        input: Literal["auto", "rfb"] = "auto",
        screenshots: Literal["rest", "rfb"] = "rest",
        desktop: Desktop | None = None,
    ) -> None:
        if version not in BETAS:
            raise ValueError(f"version must be one of {sorted(BETAS)}, not {version!r}")
        self.version: Version = version
        self.desktop = desktop or Desktop(orgo, computer, input=input, screenshots=screenshots)
        self._owns_desktop = desktop is None
        self.screenshot_after_action = screenshot_after_action
        self.actions = ACTIONS[version]

    async def open(self) -> ComputerUseTools:
        """Learn the display size (fetching the computer once if needed)."""
        await self.desktop.open()
        return self

    async def aclose(self) -> None:
        """Close the desktop's RFB session, if this object created the desktop."""
        if self._owns_desktop:
            await self.desktop.aclose()

    async def __aenter__(self) -> ComputerUseTools:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def betas(self) -> list[str]:
        """The beta flag for this tool version (pass as ``betas=``)."""
        return [BETAS[self.version]]

    @property
    def params(self) -> list[dict[str, Any]]:
        """``[computer tool spec, bash tool spec]`` for ``tools=``."""
        size = self.desktop.known_size
        if size is None:
            raise RuntimeError(
                "the display size is not known yet: await tools.open() (or use "
                "'async with ComputerUseTools(...)'), or pass a Computer with a resolution"
            )
        computer: dict[str, Any] = {
            "type": f"computer_{self.version}",
            "name": "computer",
            "display_width_px": size[0],
            "display_height_px": size[1],
        }
        if self.version == "20251124":
            computer["enable_zoom"] = True
        return [computer, dict(BASH_TOOL)]

    # -- running tool calls --------------------------------------------------------------

    async def run(self, block: Any) -> dict[str, Any]:
        """Execute one ``tool_use`` block (a dict or the SDK's object) and return the
        ``tool_result`` dict to send back. Errors become ``is_error`` results."""
        tool_id, name, args = _block_parts(block)
        content, is_error = await self.execute(name, args)
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id, "content": content}
        if is_error:
            result["is_error"] = True
        return result

    async def execute(self, name: str, args: Any) -> tuple[Content, bool]:
        """Run tool ``name`` with ``args``: ``(content blocks, is_error)``."""
        try:
            if not isinstance(args, Mapping):
                raise ActionError(f"tool input must be an object, not {args!r}")
            if name == "computer":
                return await self._computer(args), False
            if name == "bash":
                return await self._bash(args), False
            raise ActionError(f"unknown tool {name!r}: this tool set has 'computer' and 'bash'")
        except asyncio.CancelledError:
            raise
        except ActionError as e:
            return _text(f"Error: {e}"), True
        except OrgoError as e:
            return _text(f"Error: {type(e).__name__}: {e}"), True
        except Exception as e:  # a bug must not end the agent's loop either
            log.warning("%s tool failed unexpectedly", name, exc_info=True)
            return _text(f"Error: {type(e).__name__}: {redact(str(e))}"), True

    async def _bash(self, args: Mapping[str, Any]) -> Content:
        extra = set(args) - {"command", "restart"}
        if extra:
            raise ActionError(f"unexpected parameter(s) for bash: {', '.join(sorted(extra))}")
        if args.get("restart"):
            # Each command runs in a fresh shell behind POST /bash: nothing to restart.
            return _text("The bash tool has been restarted.")
        if args.get("command") is None:
            raise ActionError("bash needs a command (or restart: true)")
        result = await self.desktop.bash(_str(args, "command"))
        output = result.output or ""
        if result.exit_code not in (0, None):
            output += f"\n[exit code {result.exit_code}]"
        return _text(output or "(no output)")

    async def _computer(self, args: Mapping[str, Any]) -> Content:
        action = args.get("action")
        if not isinstance(action, str) or action not in self.actions:
            known = ", ".join(sorted(self.actions))
            raise ActionError(
                f"unknown action {action!r} for computer_{self.version}; known actions: {known}"
            )
        given = {k for k, v in args.items() if v is not None and k != "action"}
        required, optional = _PARAMS[action]
        missing, extra = required - given, given - required - optional
        if missing:
            raise ActionError(f"{action} needs {', '.join(sorted(missing))}")
        if extra:
            raise ActionError(f"unexpected parameter(s) for {action}: {', '.join(sorted(extra))}")
        if "text" in given and "key" in given and action in _CLICKS:
            raise ActionError(f"{action}: give held keys as 'text' or 'key', not both")
        text = await self._act(action, {k: args[k] for k in given})
        if not isinstance(text, str):
            return [_image(text)]
        if self.screenshot_after_action and action not in ("cursor_position", "wait"):
            return [{"type": "text", "text": text}, _image(await self.desktop.screenshot())]
        return text

    async def _act(self, action: str, a: dict[str, Any]) -> str | Screenshot:
        d = self.desktop
        mods = a.get("text", a.get("key")) if action not in ("key", "type", "hold_key") else None
        x: int | None = None
        y: int | None = None
        if "coordinate" in a:
            x, y = as_point(a["coordinate"])
        if action == "screenshot":
            return await d.screenshot()
        if action == "zoom":
            region = a["region"]
            if not isinstance(region, list | tuple) or len(region) != 4:
                raise ActionError(f"region must be [x0, y0, x1, y1], not {region!r}")
            return await d.zoom(*region)
        if action in _CLICKS:
            button, count = _CLICKS[action]
            await d.click(x, y, button=button, count=count, modifiers=mods)
            return f"{action.replace('_', ' ')} at {d.pointer}"
        if action == "mouse_move":
            assert x is not None and y is not None  # coordinate is required
            await d.move(x, y, modifiers=mods)
            return f"moved the pointer to {d.pointer}"
        if action == "left_click_drag":
            start = as_point(a["start_coordinate"], "start_coordinate")
            assert x is not None and y is not None  # coordinate is required
            await d.drag([start, (x, y)], modifiers=mods)
            return f"dragged from {start} to {d.pointer}"
        if action in ("left_mouse_down", "left_mouse_up"):
            if action == "left_mouse_down":
                await d.mouse_down(x, y)
            else:
                await d.mouse_up(x, y)
            return f"{action.replace('_', ' ')} at {d.pointer}"
        if action == "scroll":
            direction = a["scroll_direction"]
            await d.scroll(direction, _int(a, "scroll_amount"), x, y, modifiers=mods)
            return f"scrolled {direction} {a['scroll_amount']} at {d.pointer}"
        if action == "key":
            repeat = _int(a, "repeat") if "repeat" in a else 1
            await d.key(_str(a, "text"), repeat=repeat)
            return f"pressed {a['text']}" + (f" {repeat} times" if repeat > 1 else "")
        if action == "type":
            await d.type(_str(a, "text"))
            return f"typed {len(a['text'])} characters"
        if action == "hold_key":
            await d.hold_key(_str(a, "text"), _number(a, "duration"))
            return f"held {a['text']} for {a['duration']} s"
        if action == "wait":
            await d.wait(_number(a, "duration"))
            return f"waited {a['duration']} s"
        x, y = await d.cursor_position()  # cursor_position
        return f"X={x},Y={y}"

    def runner_tools(self) -> list[Any]:
        """The two tools as ``anthropic`` runnable tools, for Anthropic's own
        ``client.beta.messages.tool_runner(tools=tools.runner_tools(), betas=tools.betas,
        ...)``. Errors are raised as ``anthropic.lib.tools.ToolError`` (an ``is_error``
        result with our message)."""
        from anthropic.lib.tools import BetaAsyncBuiltinFunctionTool, ToolError

        owner = self

        class _Tool(BetaAsyncBuiltinFunctionTool):
            def __init__(self, spec: dict[str, Any]) -> None:
                self._spec = spec

            def to_dict(self) -> Any:
                return self._spec

            async def call(self, input: object) -> Any:
                content, is_error = await owner.execute(self._spec["name"], input)
                if is_error:
                    raise ToolError(content)  # type: ignore[arg-type]
                return content

        return [_Tool(spec) for spec in self.params]


# -- the loop ---------------------------------------------------------------------------


@dataclass
class ClaudeRun:
    """What :func:`run_claude` returns.

    ``messages`` is the whole transcript (plain dicts, as sent to and received from the
    Messages API, older screenshots replaced by a placeholder), ``final_text`` the text of
    the last answer, ``iterations`` the number of model calls, ``stop_reason`` the last
    one's (or ``"max_iterations"``), ``usage`` the summed token counts.
    """

    messages: list[dict[str, Any]]
    final_text: str
    iterations: int
    stop_reason: str | None
    usage: dict[str, int] = field(default_factory=dict)


SYSTEM_PROMPT = (
    "You are operating a Linux desktop ({width}x{height}) through the computer tool. "
    "The bash tool runs each command in a fresh shell on that computer. Take a screenshot "
    "when you need to see the screen; prefer keyboard shortcuts where they are reliable."
)
_PLACEHOLDER = {"type": "text", "text": "[older screenshot removed]"}


def prune_screenshots(messages: list[dict[str, Any]], keep: int) -> int:
    """Replace all but the last ``keep`` images inside tool results with a placeholder;
    returns how many were replaced."""
    seen = removed = 0
    for message in reversed(messages):
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for block in reversed(content):
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            inner = block.get("content")
            if not isinstance(inner, list):
                continue
            for i in range(len(inner) - 1, -1, -1):
                if isinstance(inner[i], dict) and inner[i].get("type") == "image":
                    seen += 1
                    if seen > keep:
                        inner[i] = dict(_PLACEHOLDER)
                        removed += 1
    return removed


async def run_claude(
    orgo: AsyncOrgo,
    computer: str | Computer,
    instruction: str,
    *,
    client: AsyncAnthropic,
    model: str,
    max_iterations: int = 50,
    version: Version = "20251124",
    max_tokens: int = 4096,
    system: str | None = None,
    keep_screenshots: int = 3,
    tools: ComputerUseTools | None = None,
    **create_kwargs: Any,
) -> ClaudeRun:
    """Let Claude work on the computer until it stops calling tools (or
    ``max_iterations`` model calls), and return the transcript and the final text.

    ``client.beta.messages`` is called with the tool specs and beta flag of ``version``;
    only the last ``keep_screenshots`` images stay in the history. ``system`` defaults to
    a short description of the desktop; extra keyword arguments (``thinking=``,
    ``metadata=``, ``extra_headers=`` ...) go to ``messages.create``. Cancel the task to
    stop it: the RFB session (if any) is closed on the way out. Tool failures never end
    the loop (they are ``is_error`` results for the model); errors of the Messages API
    itself propagate (the SDK's exceptions, after its retries).

    The first request goes through ``messages.create``; the following ones are the same
    request with the grown history, posted through ``client.post`` (the SDK's path for
    custom requests: same URL, headers, auth, retries and errors) with each message
    JSON-encoded once rather than the whole history copied and re-encoded on every call.
    With a client that has middleware or makes OpenTelemetry spans for its calls, or
    that is not a plain ``AsyncAnthropic``, every call goes through ``messages.create``.
    """
    import msgspec

    from ._messages import MessagesCaller

    if max_iterations < 1 or keep_screenshots < 0:
        raise ValueError("max_iterations must be >= 1 and keep_screenshots >= 0")
    own = tools is None
    tools = tools or ComputerUseTools(orgo, computer, version)
    decode = msgspec.json.Decoder(dict[str, Any])
    messages: list[dict[str, Any]] = [{"role": "user", "content": instruction}]
    usage: dict[str, int] = {}
    try:
        await tools.open()
        size = tools.desktop.known_size or (0, 0)
        if system is None:
            system = SYSTEM_PROMPT.format(width=size[0], height=size[1])
        caller = MessagesCaller(
            client,
            dict(model=model, max_tokens=max_tokens, system=system, tools=tools.params,
                 betas=tools.betas, **create_kwargs),
            messages,
        )  # fmt: skip
        # (message index, image's list, index in it) of the images in the history, oldest first
        images: deque[tuple[int, list[Any], int]] = deque()
        for iteration in range(1, max_iterations + 1):
            response = decode.decode(await caller.call())
            content = response.get("content") or []
            for key, value in (response.get("usage") or {}).items():
                if isinstance(value, int):
                    usage[key] = usage.get(key, 0) + value
            caller.append({"role": "assistant", "content": content})
            calls = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
            if not calls:
                return ClaudeRun(
                    messages, _final_text(content), iteration, response.get("stop_reason"), usage
                )
            results = [await tools.run(block) for block in calls]
            caller.append({"role": "user", "content": results})
            # Only the newest keep_screenshots images stay (tracked, not rescanned each step).
            for result in results:
                inner = result["content"]
                if isinstance(inner, list):
                    images.extend(
                        (len(messages) - 1, inner, i)
                        for i, b in enumerate(inner)
                        if b["type"] == "image"
                    )
            while len(images) > keep_screenshots:
                index, inner, i = images.popleft()
                inner[i] = dict(_PLACEHOLDER)
                caller.update(index)
        return ClaudeRun(
            messages, _final_text(messages[-2]["content"]), max_iterations, "max_iterations", usage
        )
    finally:
        if own:
            await tools.aclose()


def _final_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "\n".join(
        b["text"]
        for b in content
        if isinstance(b, dict) and b.get("type") == "text" and "text" in b
    )
