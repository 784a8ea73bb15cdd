"""``orgo-async fake-server``: the Orgo emulator as a standalone server.

For the official SDK, curl or clients in other languages::

    orgo-async fake-server --port 8080
    ORGO_API_KEY=<printed key> python my_agent.py   # with base URL http://127.0.0.1:8080/api

It binds loopback unless ``--host`` says otherwise, prints the base URL, the key it
accepts and the hosted agent's WebSocket URL, warns loudly when ``--allow-exec`` lets
``/bash`` and ``/exec`` run for real on this machine, and serves until Ctrl-C (or
SIGTERM). State transitions are instant by default: a created computer is ``running`` in
the 201, as the reference documents, so clients such as the official SDK can act on it
at once. ``--boot-delay S`` makes the state machine visible: a new computer answers
``creating``, is ``starting`` after ``S`` seconds and ``running`` after ``2 S``; start,
stop and restart spend ``S`` seconds in ``starting`` / ``stopping`` / ``restarting``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ..testing import FakeOrgo

__all__ = ["add_arguments", "run", "serve"]

_LOOPBACK = ("127.0.0.1", "::1", "localhost")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the ``fake-server`` subcommand."""
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080, 0 = any)")
    parser.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    parser.add_argument("--api-key", default=None, help="accepted key (default: a fresh one)")
    parser.add_argument(
        "--allow-exec",
        action="store_true",
        help="run /bash and /exec FOR REAL on this machine (dangerous; testing only)",
    )
    parser.add_argument(
        "--boot-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help=(
            "make the state machine visible: a new computer is 'creating', then "
            "'starting' after SECONDS and 'running' after 2 x SECONDS; start, stop and "
            "restart take SECONDS (default 0: every transition instant, a created "
            "computer is running at once)"
        ),
    )
    parser.add_argument(
        "--vnc-target",
        default=None,
        metavar="HOST:PORT",
        help="tunnel websockify to this real VNC server instead of the built-in one",
    )


def _parse_target(value: str | None) -> tuple[str, int] | None:
    if not value:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise SystemExit(f"--vnc-target must be HOST:PORT, not {value!r}")
    return host.strip("[]"), int(port)


def _emulator(args: argparse.Namespace) -> FakeOrgo:
    from ..testing import FakeOrgo, Timings

    delay = max(0.0, args.boot_delay)
    # create > 0 is a slow boot (the 201 says "creating"); see Timings.
    timings = (
        Timings(create=delay, boot=delay, stop=delay, restart=delay) if delay else Timings.instant()
    )
    return FakeOrgo(
        host=args.host,
        port=args.port,
        api_key=args.api_key,
        allow_exec=args.allow_exec,
        vnc_target=_parse_target(args.vnc_target),
        timings=timings,
        max_recorded=10_000,  # a long-running server must not grow without bound
    )


def _warn(args: argparse.Namespace) -> None:
    if args.allow_exec:
        from ..testing import EXEC_WARNING

        # Printed here rather than through the library's log record, so it shows once and
        # whatever logging is configured.
        logging.getLogger("orgo_async.testing").addHandler(logging.NullHandler())
        print(EXEC_WARNING, file=sys.stderr, flush=True)
    if args.host not in _LOOPBACK:
        print(
            f"WARNING: listening on {args.host}, not loopback: anyone who can reach this "
            "port and knows the key can drive the emulator.",
            file=sys.stderr,
            flush=True,
        )


async def serve(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Start the emulator, print how to reach it, serve until a stop signal."""
    if not 0 <= args.port <= 65535:
        print(f"error: bad port {args.port}", file=sys.stderr)
        return 2
    fake = _emulator(args)
    _warn(args)
    try:
        await fake.start()
    except OSError as exc:
        print(
            f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        print(f"Orgo emulator listening on {fake.origin}", file=out)
        print(f"  base URL : {fake.base_url}", file=out)
        print(f"  API key  : {fake.api_key}", file=out)
        print(f"  agent URL: {fake.agent_url}", file=out)
        exec_state = "ENABLED (commands run on this machine)" if args.allow_exec else "off"
        print(f"  exec     : {exec_state}", file=out)
        print("Press Ctrl-C to stop.", file=out, flush=True)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await fake.close()
    print("stopped", file=out, flush=True)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run :func:`serve` in a fresh event loop."""
    return asyncio.run(serve(args))
