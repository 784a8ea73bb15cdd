"""``orgo-async vnc-bridge COMPUTER_ID``: a local port for native VNC viewers.

Serves ``127.0.0.1:PORT`` and tunnels each viewer connection through the computer's
websockify WebSocket, fetching a fresh token when the old one is rejected. The VNC
password is not printed unless ``--show-password`` is given (it rotates on every
restart; get it with ``GET /computers/{id}/vnc-password``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``vnc-bridge`` subcommand."""
    parser.add_argument("computer_id", help="the computer's id (UUID)")
    parser.add_argument("--port", type=int, default=5900, help="local port (default 5900)")
    parser.add_argument("--host", default="127.0.0.1", help="local address (default 127.0.0.1)")
    parser.add_argument(
        "--base-url", default=None, help="API base URL (default: ORGO_BASE_URL or Orgo's)"
    )
    parser.add_argument(
        "--show-password",
        action="store_true",
        help="print the current VNC password for the viewer (off: it is a secret)",
    )


async def _serve(args: argparse.Namespace) -> int:
    from .. import AsyncOrgo

    async with AsyncOrgo(base_url=args.base_url) as orgo:
        conn = await orgo.connect(args.computer_id)
        async with conn.vnc_bridge(port=args.port, host=args.host) as bridge:
            print(f"VNC bridge for {args.computer_id} on {bridge.host}:{bridge.port}", flush=True)
            print(f"  vncviewer {bridge.host}::{bridge.port}", flush=True)
            if args.show_password:
                password = await orgo.computers.vnc_password(args.computer_id)
                print(f"  VNC password: {password}", flush=True)
            else:
                print("  VNC password: pass --show-password to print it", flush=True)
            await bridge.serve_forever()
    return 0


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns the exit code."""
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0
    except ValueError as e:  # no API key, bad id
        print(f"orgo-async vnc-bridge: {e}", file=sys.stderr)
        return 2
