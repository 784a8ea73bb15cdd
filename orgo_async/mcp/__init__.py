"""Orgo as Model Context Protocol tools, for Claude Desktop, Claude Code, Cursor, the OpenAI
Agents SDK, pydantic-ai and any other MCP host. Needs ``pip install "orgo-async[mcp]"``.

From the shell (``ORGO_API_KEY`` from the environment, never from a tool argument)::

    orgo-async mcp                  # stdio: what desktop hosts launch
    orgo-async mcp --http 8765      # streamable HTTP on http://127.0.0.1:8765/mcp
    ORGO_MCP_TOKEN=... orgo-async mcp --http 8765 --host 0.0.0.0   # bearer token required

From Python, with a client you own::

    from orgo_async import AsyncOrgo
    from orgo_async.mcp import create_server

    async with AsyncOrgo() as orgo:
        server = create_server(orgo)         # an mcp.server.MCPServer
        await server.run_stdio_async()

Every tool is a thin call to the SDK (see :class:`OrgoTools`); a failure comes back as an
MCP tool error carrying the SDK's typed error and message, never as a server crash.
The ``mcp`` package is imported only when a server is created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from .. import AsyncOrgo
    from ._bearer import BearerGate
    from ._tools import OrgoTools

__all__ = ["MISSING_EXTRA", "BearerGate", "OrgoTools", "create_server", "require_mcp"]

MISSING_EXTRA = (
    "the MCP server needs the 'mcp' extra: pip install 'orgo-async[mcp]' "
    "(mcp >= 2 is not installed)"
)


def require_mcp() -> None:
    """Raise :class:`ImportError` with :data:`MISSING_EXTRA` when ``mcp`` >= 2 is missing."""
    try:
        import mcp.server
    except ImportError as e:
        raise ImportError(MISSING_EXTRA) from e
    if not hasattr(mcp.server, "MCPServer"):  # mcp 1.x
        raise ImportError(MISSING_EXTRA)


def create_server(orgo: AsyncOrgo, *, name: str = "orgo") -> MCPServer:
    """An ``mcp.server.MCPServer`` whose tools drive Orgo through ``orgo``.

    The caller owns ``orgo`` (and so the API key, which no tool accepts or returns).
    Run it with ``await server.run_stdio_async()`` or
    ``await server.run_streamable_http_async(host=..., port=...)``, or connect an
    in-process ``mcp.Client(server)`` in tests.
    """
    require_mcp()
    from ._server import build_server

    return build_server(orgo, name=name)


def __getattr__(name: str) -> Any:
    if name == "BearerGate":  # plain ASGI: needs no extra
        from ._bearer import BearerGate

        return BearerGate
    if name == "OrgoTools":
        require_mcp()
        from ._tools import OrgoTools

        return OrgoTools
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
