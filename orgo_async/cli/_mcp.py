"""``orgo-async mcp``: serve Orgo as MCP tools over stdio (default) or streamable HTTP.

The API key comes from ``ORGO_API_KEY`` only (no flag, no tool argument). Over stdio,
stdout belongs to the protocol: notes go to stderr. ``--http PORT`` serves
``http://HOST:PORT/mcp`` (``0`` picks a free port; the URL is printed on stderr once
the socket is bound); it binds loopback unless ``--host`` says otherwise, loudly,
because whoever reaches the port drives the account.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys

from ._common import EXIT_USAGE, CLIError, add_common_options

__all__ = ["add_arguments", "run"]

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``mcp`` subcommand."""
    add_common_options(parser)
    parser.add_argument(
        "--http", type=int, metavar="PORT", help="serve streamable HTTP on PORT instead of stdio"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")


def run(args: argparse.Namespace) -> int:
    """Serve until the host disconnects (stdio) or until Ctrl-C (HTTP)."""
    from ..mcp import require_mcp

    try:
        require_mcp()
    except ImportError as e:
        raise CLIError(str(e), EXIT_USAGE) from None
    if args.http is not None and not 0 <= args.http <= 65535:
        raise CLIError(f"invalid argument: bad port {args.http}")
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    from .. import AsyncOrgo
    from ..mcp import create_server

    async with AsyncOrgo(base_url=getattr(args, "base_url", None)) as orgo:
        server = create_server(orgo)
        if args.http is None:
            print(f"orgo MCP server on stdio ({orgo.base_url})", file=sys.stderr, flush=True)
            await server.run_stdio_async()
            return 0
        await _serve_http(server.streamable_http_app(host=args.host), args.host, args.http)
    return 0


async def _serve_http(app: object, host: str, port: int) -> None:
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise CLIError(f"cannot listen on {host}:{port}: {e.strerror or e}", 1) from None
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    if host not in _LOOPBACK:
        print(
            f"WARNING: listening on {host}, not loopback: anyone who reaches this port "
            "drives your Orgo account with your API key.",
            file=sys.stderr,
            flush=True,
        )
    print(f"orgo MCP server on http://{shown}:{bound}/mcp", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")  # type: ignore[arg-type]
    try:
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        sock.close()
