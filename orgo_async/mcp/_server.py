"""Assemble the MCP server: the REST tools (:mod:`._tools`) and the agent-surface tools
(:mod:`._agent`), with a lifespan that closes the agent tools' RFB sessions."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from mcp.server import MCPServer

from .. import __version__
from ._agent import AGENT_TOOLS, AgentTools
from ._tools import CHANGE, INSTRUCTIONS, READ, TOOLS, OrgoTools

if TYPE_CHECKING:
    from .. import AsyncOrgo

__all__ = ["build_server"]

# Tools that answer with image content rather than a JSON object.
_IMAGES = frozenset({"screenshot", "zoom"})
_LOOK_ONLY = frozenset({"cursor_position", "zoom"})


def build_server(orgo: AsyncOrgo, *, name: str = "orgo") -> MCPServer:
    """An MCPServer with every tool of :data:`TOOLS` and :data:`AGENT_TOOLS` bound to
    ``orgo``."""
    agent = AgentTools(orgo)

    @contextlib.asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[None]:
        try:
            yield None
        finally:
            await agent.aclose()

    server: MCPServer = MCPServer(
        name,
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
        lifespan=lifespan,
    )
    tools = OrgoTools(orgo)
    entries: list[tuple[str, Any, Any]] = [
        (tool, getattr(tools, method), hints) for tool, method, hints in TOOLS
    ]
    entries += [
        (tool, getattr(agent, method), READ if tool in _LOOK_ONLY else CHANGE)
        for tool, method in AGENT_TOOLS
    ]
    for tool, fn, hints in entries:
        server.add_tool(fn, name=tool, annotations=hints, structured_output=tool not in _IMAGES)
    return server
