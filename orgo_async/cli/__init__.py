"""The ``orgo-async`` command (also ``python -m orgo_async``).

Every subcommand lives in a private module that provides ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported by name when the parser is built, so a
broken or missing one (the demo needs the emulator) cannot take the others down. API
commands are thin: they call the public SDK and draw the result (:mod:`._output`).

Errors print one line, ``orgo-async: <kind>: <message>``, and exit with the code
:func:`._common.describe_error` assigns (README "Command line"); ``--debug`` shows the
traceback and the SDK's debug log instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["build_parser", "main"]

# (subcommand, module, one-line help), in the order --help lists them.
_SUBCOMMANDS: tuple[tuple[str, str, str], ...] = (
    ("workspaces", "._workspaces", "list, show, create and delete workspaces"),
    ("computers", "._computers", "list, create, start, stop, restart, delete, wait for computers"),
    ("screenshot", "._actions", "save a screenshot of a computer's screen"),
    ("bash", "._actions", "run a bash command on a computer (exits with its exit code)"),
    ("exec", "._actions", "run Python code on a computer"),
    ("audio", "._actions", "record the computer's audio to a WAV file"),
    ("terminal", "._terminal", "an interactive shell on a computer, in this terminal"),
    ("fleet", "._fleet", "watch every computer's status live"),
    ("mcp", "._mcp", "serve Orgo as MCP tools (stdio, or streamable HTTP with --http)"),
    ("vnc-bridge", "._vnc_bridge", "serve a local port for native VNC viewers (via websockify)"),
    ("fake-server", "._fake_server", "run the Orgo emulator standalone (REST + WebSockets)"),
    ("demo", "._demo", "start the embedded emulator and show the whole SDK working"),
)

_PROG = "orgo-async"


def _load(module: str) -> ModuleType | None:
    name = __name__ + module
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    from .._version import __version__
    from ._common import add_common_options

    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Drive Orgo cloud computers from the shell "
        "(ORGO_API_KEY and ORGO_BASE_URL from the environment).",
    )
    parser.add_argument("--version", action="version", version=f"{_PROG} {__version__}")
    add_common_options(parser, top=True)
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module, help_text in _SUBCOMMANDS:
        mod = _load(module)
        if mod is None:
            continue
        sub = subs.add_parser(name, help=help_text, description=help_text)
        add_arguments = getattr(mod, f"add_{name.replace('-', '_')}_arguments", None)
        (add_arguments or mod.add_arguments)(sub)
        sub.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``orgo-async``; returns the process exit code."""
    from ._common import EXIT_INTERRUPTED, EXIT_USAGE, describe_error

    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(run(args))
    except KeyboardInterrupt:
        print(f"{_PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            raise
        message, code = describe_error(exc)
        print(f"{_PROG}: {message}", file=sys.stderr)
        return code
