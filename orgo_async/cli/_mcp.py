"""``orgo-async mcp``: serve Orgo as MCP tools over stdio (default) or streamable HTTP.

The API key comes from ``ORGO_API_KEY`` only (no flag, no tool argument). Over stdio,
stdout belongs to the protocol: notes go to stderr. ``--http PORT`` serves
``http://HOST:PORT/mcp`` (``0`` picks a free port; the URL is printed on stderr once
the socket is bound). Whoever reaches the port drives the account, so: it binds loopback
unless ``--host`` says otherwise; with ``ORGO_MCP_TOKEN`` set, every request must carry
``Authorization: Bearer <token>``; and a non-loopback ``--host`` without a token is
refused (``--no-auth`` overrides that, with a warning).
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="serve a non-loopback --host without ORGO_MCP_TOKEN (anyone who reaches it "
        "drives your account)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until the host disconnects (stdio) or until Ctrl-C (HTTP)."""
    from ..mcp import require_mcp

    try:
        require_mcp()
    except ImportError as e:
        raise CLIError(str(e), EXIT_USAGE) from None
    if args.http is not None and not 0 <= args.http <= 65535:
        raise CLIError(f"invalid argument: bad port {args.http}")
    token = os.environ.get("ORGO_MCP_TOKEN") or None
    if args.http is not None and args.host not in _LOOPBACK and token is None and not args.no_auth:
        raise CLIError(
            f"refusing to serve {args.host} without ORGO_MCP_TOKEN: whoever reaches the port "
            "would drive your Orgo account. Set ORGO_MCP_TOKEN (clients then send "
            "'Authorization: Bearer <token>'), or pass --no-auth",
            EXIT_USAGE,
        )
    return asyncio.run(_serve(args, token))


async def _serve(args: argparse.Namespace, token: str | None) -> int:
    from .. import AsyncOrgo
    from ..mcp import BearerGate, create_server

    async with AsyncOrgo(base_url=getattr(args, "base_url", None)) as orgo:
        server = create_server(orgo)
        if args.http is None:
            print(f"orgo MCP server on stdio ({orgo.base_url})", file=sys.stderr, flush=True)
            await server.run_stdio_async()
            return 0
        app: object = server.streamable_http_app(host=args.host)
        if token is not None:
            try:
                app = BearerGate(app, token=token)  # type: ignore[arg-type]
            except ValueError as e:
                raise CLIError(f"invalid ORGO_MCP_TOKEN: {e}", EXIT_USAGE) from None
        await _serve_http(app, args.host, args.http, authenticated=token is not None)
    return 0


async def _serve_http(app: object, host: str, port: int, *, authenticated: bool) -> None:
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
    if host not in _LOOPBACK and not authenticated:
        print(
            f"WARNING: listening on {host}, not loopback, without ORGO_MCP_TOKEN: anyone "
            "who reaches this port drives your Orgo account with your API key.",
            file=sys.stderr,
            flush=True,
        )
    gate = " (bearer token required)" if authenticated else ""
    print(f"orgo MCP server on http://{shown}:{bound}/mcp{gate}", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")  # type: ignore[arg-type]
    try:
        await uvicorn.Server(config).serve(sockets=[sock])
    finally:
        sock.close()
