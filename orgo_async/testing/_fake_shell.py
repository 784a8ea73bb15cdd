"""The fake shell behind ``/bash`` and ``/exec``, and the file changes a command made.

Without a handler and without ``allow_exec`` the emulator answers ``/bash`` with
:class:`MiniShell` (a handful of commands over the computer's in-memory ``files``) and
``/exec`` with :func:`default_exec` (``print(<literals>)`` only). With ``allow_exec``
:func:`run_command` / :func:`run_python` run the code for real in a subprocess. Whatever
answered, :func:`bash_changes` / :func:`exec_changes` say which files a command
probably created, modified or deleted, for the ``file_change`` events.

No aiohttp here: the routes turn these results (and ``TimeoutError`` / ``TypeError``)
into HTTP answers.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import posixpath
import re
import shlex
import sys
from typing import Any

from ._state import FakeComputer

__all__ = [
    "WATCHED",
    "MiniShell",
    "abs_path",
    "bash_changes",
    "bash_result",
    "default_exec",
    "exec_changes",
    "exec_result",
    "run_command",
    "run_python",
    "watched",
]

HOME = "/home/user"
#: Directories whose changes are published as ``file_change`` events (§11.6).
WATCHED = ("/home/user/Desktop", "/home/user/Downloads")
_OPEN_RE = re.compile(r"open\(\s*['\"]([^'\"]+)['\"]\s*,\s*['\"]([wax])")


def abs_path(path: str) -> str:
    """``path`` made absolute against the home directory (``~`` expanded)."""
    if path == "~" or path.startswith("~/"):
        path = HOME + path[1:]
    return posixpath.normpath(posixpath.join(HOME, path))


def watched(path: str) -> bool:
    """Whether a change of ``path`` is reported as a ``file_change`` event."""
    return any(path == w or path.startswith(w + "/") for w in WATCHED)


class MiniShell:
    """The default ``/bash`` answer without a handler or ``allow_exec``: a handful of
    commands over ``computer.files``; reports the file changes it made."""

    SEPARATORS = (";", "&&", "||", "|", "&", "\n")

    def __init__(self, computer: FakeComputer) -> None:
        self.c = computer
        self.changes: list[tuple[str, str]] = []

    def _write(self, path: str, text: str, append: bool) -> None:
        existed = path in self.c.files
        self.c.files[path] = (self.c.files.get(path, "") if append else "") + text
        self.changes.append((path, "modified" if existed else "created"))

    def _delete(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        gone = [p for p in self.c.files if p == path or p.startswith(prefix)]
        for p in gone:
            del self.c.files[p]
            self.changes.append((p, "deleted"))
        return bool(gone)

    def run(self, command: str) -> tuple[str, int]:
        try:
            lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>")
            lexer.whitespace_split = True
            tokens = list(lexer)
        except ValueError as exc:
            return f"bash: syntax error: {exc}\n", 2
        out: list[str] = []
        code = 0
        cmd: list[str] = []
        skip = False
        for tok in [*tokens, ";"]:
            if tok in self.SEPARATORS:
                if cmd and not skip:
                    text, code = self._one(cmd)
                    out.append(text)
                skip = (tok == "&&" and code != 0) or (tok == "||" and code == 0)
                cmd = []
            else:
                cmd.append(tok)
        return "".join(out), code

    def _one(self, argv: list[str]) -> tuple[str, int]:
        redirect: tuple[str, bool] | None = None
        args: list[str] = []
        i = 0
        while i < len(argv):
            if argv[i] in (">", ">>") and i + 1 < len(argv):
                redirect = (abs_path(argv[i + 1]), argv[i] == ">>")
                i += 2
                continue
            args.append(argv[i])
            i += 1
        text, code = self._builtin(args) if args else ("", 0)
        if redirect is not None:
            self._write(redirect[0], text, redirect[1])
            text = ""
        return text, code

    def _builtin(self, args: list[str]) -> tuple[str, int]:
        name, rest = args[0], args[1:]
        if name in ("touch", "rm", "cat", "cp", "mv", "ls"):
            return self._file_command(name, rest)
        if name == "echo":
            if rest[:1] == ["-n"]:
                return " ".join(rest[1:]), 0
            return " ".join(rest) + "\n", 0
        if name == "pwd":
            return HOME + "\n", 0
        if name == "whoami":
            return "user\n", 0
        if name == "hostname":
            return self.c.instance_id + "\n", 0
        if name == "true":
            return "", 0
        if name == "false":
            return "", 1
        if name == "exit":
            return "", int(rest[0]) if rest and rest[0].isdigit() else 0
        return "", 0  # any other command: no output, success

    def _file_command(self, name: str, rest: list[str]) -> tuple[str, int]:
        files = self.c.files
        if name == "touch":
            for p in rest:
                self._write(abs_path(p), "", append=True)
            return "", 0
        if name == "rm":
            missing = [p for p in rest if not p.startswith("-") and not self._delete(abs_path(p))]
            if missing and "-f" not in rest and "-rf" not in rest:
                return "".join(
                    f"rm: cannot remove '{p}': No such file or directory\n" for p in missing
                ), 1
            return "", 0
        if name == "cat":
            out, code = [], 0
            for p in rest:
                if abs_path(p) in files:
                    out.append(files[abs_path(p)])
                else:
                    out.append(f"cat: {p}: No such file or directory\n")
                    code = 1
            return "".join(out), code
        if name in ("cp", "mv") and len(rest) == 2:
            src, dst = abs_path(rest[0]), abs_path(rest[1])
            if src not in files:
                return f"{name}: cannot stat '{rest[0]}': No such file or directory\n", 1
            content = files[src]
            if name == "mv":
                self._delete(src)
            self._write(dst, content, append=False)
            return "", 0
        if name == "ls":
            target = abs_path(next((a for a in rest if not a.startswith("-")), "."))
            prefix = target.rstrip("/") + "/"
            names = sorted({p[len(prefix) :].split("/")[0] for p in files if p.startswith(prefix)})
            return "".join(n + "\n" for n in names), 0
        return "", 0


def default_exec(code: str) -> dict[str, Any]:
    """``print(<literals>)`` statements are answered; anything else prints nothing."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return {"output": "", "success": False, "error": str(exc), "error_type": "SyntaxError"}
    out: list[str] = []
    for stmt in tree.body:
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "print"
            and not call.keywords
        ):
            try:
                values = [ast.literal_eval(a) for a in call.args]
            except ValueError:
                continue
            out.append(" ".join(str(v) for v in values) + "\n")
    return {"output": "".join(out), "success": True}


def bash_result(result: Any) -> tuple[str, int, dict[str, Any]]:
    """Normalise a bash handler's return value (see ``BashHandler``) to ``(output,
    exit_code, extra fields)``; ``TypeError`` for a value it cannot mean."""
    if result is None:
        return "", 0, {}
    if isinstance(result, str):
        return result, 0, {}
    if isinstance(result, bool):
        raise TypeError("bash handler returned a bool")
    if isinstance(result, int):
        return "", result, {}
    if isinstance(result, tuple) and len(result) == 2:
        return str(result[0]), int(result[1]), {}
    if isinstance(result, dict):
        extra = {k: v for k, v in result.items() if k not in ("output", "exit_code")}
        return str(result.get("output", "")), int(result.get("exit_code", 0)), extra
    raise TypeError("bash handler returned an unsupported value")


def exec_result(raw: Any) -> dict[str, Any]:
    """Normalise an exec handler's return value (see ``ExecHandler``); ``TypeError`` for
    a value it cannot mean."""
    if raw is None:
        return {"output": "", "success": True}
    if isinstance(raw, str):
        return {"output": raw, "success": True}
    if isinstance(raw, dict):
        return {"output": "", "success": True, **raw}
    raise TypeError("exec handler returned an unsupported value")


def bash_changes(command: str, c: FakeComputer) -> list[tuple[str, str]]:
    """File changes a real command probably made: run it through the mini shell against
    a scratch copy of the file table, then apply what it changed."""
    scratch = FakeComputer(id=c.id, name=c.name, workspace_id=c.workspace_id, files=dict(c.files))
    shell = MiniShell(scratch)
    with contextlib.suppress(Exception):
        shell.run(command)
    c.files.update(scratch.files)
    for path, act in shell.changes:
        if act == "deleted":
            c.files.pop(path, None)
    return shell.changes


def exec_changes(code: str, c: FakeComputer) -> list[tuple[str, str]]:
    """Watched files Python ``code`` opens for writing (``open("<path>", "w"/"a"/"x")``),
    recorded in the file table."""
    changes: list[tuple[str, str]] = []
    for path, _mode in _OPEN_RE.findall(code):
        full = abs_path(path)
        if watched(full):
            changes.append((full, "modified" if full in c.files else "created"))
            c.files.setdefault(full, "")
    return changes


async def _communicate(
    argv: list[str], timeout: float, cwd: str, *, merge_stderr: bool
) -> tuple[bytes, bytes, int]:
    """Run ``argv`` with no stdin: its output, its error output (empty when merged into
    the output) and its exit code. ``TimeoutError`` after ``timeout`` (the process is
    killed and reaped first)."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT if merge_stderr else asyncio.subprocess.PIPE,
        cwd=cwd,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return out, err or b"", proc.returncode or 0


async def run_command(argv: list[str], timeout: float, cwd: str) -> tuple[str, int]:
    """Run ``argv`` with stdout and stderr merged; ``TimeoutError`` after ``timeout``
    (the process is killed and reaped first)."""
    out, _, code = await _communicate(argv, timeout, cwd, merge_stderr=True)
    return out.decode("utf-8", "replace"), code


async def run_python(code: str, timeout: float, cwd: str) -> dict[str, Any]:
    """Run ``code`` with this Python; the ``/exec`` answer fields (a timeout is an
    answer, ``timeout: true``, as the API documents)."""
    try:
        out, err, status = await _communicate(
            [sys.executable, "-c", code], timeout, cwd, merge_stderr=False
        )
    except TimeoutError:
        return {
            "output": "",
            "success": False,
            "timeout": True,
            "error": f"Execution timed out after {timeout:g} s",
            "error_type": "TimeoutError",
        }
    output = out.decode("utf-8", "replace")
    if status == 0:
        return {"output": output, "success": True}
    last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["Error"]
    etype, _, msg = last[0].partition(": ")
    return {
        "output": output,
        "success": False,
        "error": msg or etype,
        "error_type": etype if etype.isidentifier() else "Error",
    }
