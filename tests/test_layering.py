"""The layers of design.md, checked on the source with ``ast`` and in a fresh interpreter.

The import graph covers every module of ``orgo_async/``: imports at module level and
inside functions (a lazy import is still a dependency), but not those under
``if TYPE_CHECKING:``, which never run. ``from package import Name`` counts as an import
of the package and of the module the package re-exports ``Name`` from (the lazy exports
of a package ``__init__`` are mirrored under its ``TYPE_CHECKING`` block, which is read
for that). Imports made by ``importlib.import_module`` with a computed name (the CLI's
subcommand table) are not seen.

Rules:

* no import cycle anywhere, except those in :data:`ALLOWED_CYCLES` with their reason;
* ``connection/`` never reaches ``_client`` or the resources (it gets what it needs, not
  the client), counting ``TYPE_CHECKING`` imports too;
* ``_protocol/`` imports nothing above it (its own modules, ``_errors``, ``_secrets``,
  ``_lazy``), counting ``TYPE_CHECKING`` imports too;
* ``testing/`` (the emulator, an independent oracle) imports nothing from the SDK but
  :data:`TESTING_MAY_IMPORT`;
* ``import orgo_async`` and ``orgo_async._client`` load no integration or extra;
* a module over 500 lines says why at its top: its docstring mentions its length.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import orgo_async

ROOT = Path(orgo_async.__file__).parent

#: Import cycles that are accepted, each with why it is harmless. None today.
ALLOWED_CYCLES: dict[frozenset[str], str] = {}

#: The SDK modules ``testing/`` may import directly: ``(importer, imported, lazy)``.
TESTING_MAY_IMPORT: dict[tuple[str, str, bool], str] = {
    (
        "orgo_async.testing._rfb",
        "orgo_async._protocol.des",
        False,
    ): "the DES primitive of VNC authentication: a cipher, not a shape to agree on",
    (
        "orgo_async.testing._server",
        "orgo_async",
        True,
    ): "FakeOrgo.client() builds an AsyncOrgo (lazily, for tests that want one)",
    (
        "orgo_async.testing._server",
        "orgo_async._client",
        True,
    ): "the AsyncOrgo of FakeOrgo.client(), reached through the package's lazy export",
}

#: Top-level packages that ``import orgo_async`` / ``orgo_async._client`` must not load.
HEAVY = (
    "anthropic",
    "agents",
    "openai",
    "fastapi",
    "starlette",
    "uvicorn",
    "mcp",
    "rich",
    "websockets",
    "yaml",
    "PIL",
    "numpy",
)
#: Our own integrations, which must not be loaded by the core either.
INTEGRATIONS = ("agents", "web", "mcp", "cli", "testing")

MAX_LINES = 500


@dataclass(frozen=True)
class Edge:
    """``src`` imports ``dst`` at ``line``; ``lazy``: inside a function; ``typing``: only
    under ``TYPE_CHECKING``."""

    src: str
    dst: str
    line: int
    lazy: bool
    typing: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(
    node: ast.AST, lazy: bool = False, typing: bool = False
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool, bool]]:
    """Every import statement under ``node``, with whether it is lazy / typing-only."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, lazy, typing
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _import_nodes(ast.Module([stmt], []), lazy, True)
            for stmt in child.orelse:
                yield from _import_nodes(ast.Module([stmt], []), lazy, typing)
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _import_nodes(child, True, typing)
        else:
            yield from _import_nodes(child, lazy, typing)


def _base(name: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = name if modules()[name].name == "__init__.py" else name.rpartition(".")[0]
    parts = package.split(".")
    parts = parts[: len(parts) - node.level + 1]
    return ".".join([*parts, node.module] if node.module else parts)


@cache
def exports(package: str) -> dict[str, str]:
    """Names a package ``__init__`` re-exports, and the module each comes from."""
    path = modules().get(package)
    if path is None or path.name != "__init__.py":
        return {}
    found: dict[str, str] = {}
    for node, _, _ in _import_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = _base(package, node)
            for alias in node.names:
                found[alias.asname or alias.name] = base
    return found


@cache
def edges() -> tuple[Edge, ...]:
    """Every import between two ``orgo_async`` modules."""
    known = modules()
    found: list[Edge] = []
    for name, path in known.items():
        for node, lazy, typing in _import_nodes(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = _base(name, node)
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in known:
                        targets.append(submodule)
                        continue
                    targets.append(base)
                    source = exports(base).get(alias.name)
                    if source is not None:  # a lazy re-export: its module is loaded too
                        targets.append(source)
            for target in targets:
                if target in known and target != name:
                    found.append(Edge(name, target, node.lineno, lazy, typing))
    return tuple(found)


def graph(*, typing: bool = False) -> dict[str, set[str]]:
    g: dict[str, set[str]] = {name: set() for name in modules()}
    for e in edges():
        if typing or not e.typing:
            g[e.src].add(e.dst)
    return g


def reachable(g: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in g[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def cycles(g: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in g:
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(g[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def _describe(component: frozenset[str]) -> str:
    lines = [
        f"  {e.src}:{e.line} -> {e.dst}{' (in a function)' if e.lazy else ''}"
        for e in edges()
        if not e.typing and e.src in component and e.dst in component
    ]
    return "\n".join(sorted(lines))


# -- the graph itself -----------------------------------------------------------------


def test_the_graph_sees_imports_of_every_kind() -> None:
    # The reader must not be blind: known imports of each kind are found as such.
    seen = {(e.src, e.dst): e for e in edges()}
    module_level = seen[("orgo_async._client", "orgo_async._http")]
    lazy = seen[("orgo_async.testing._server", "orgo_async._client")]  # via the re-export
    typing_only = seen[("orgo_async.cli._fleet", "orgo_async._client")]
    assert (module_level.lazy, module_level.typing) == (False, False)
    assert (lazy.lazy, lazy.typing) == (True, False)
    assert typing_only.typing
    # ``from .. import NotFoundError`` counts the package and the module it comes from.
    assert ("orgo_async.cli._common", "orgo_async._errors") in seen
    assert ("orgo_async.cli._common", "orgo_async") in seen


def test_cycles_are_found() -> None:
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(g) == [frozenset({"a", "b", "c"})]


# -- the rules --------------------------------------------------------------------------


def test_no_import_cycles() -> None:
    found = [c for c in cycles(graph()) if c not in ALLOWED_CYCLES]
    report = "\n".join(f"cycle of {len(c)} modules:\n{_describe(c)}" for c in found)
    assert not found, report
    # An allowed cycle that no longer exists must leave the list too.
    assert set(ALLOWED_CYCLES) <= set(cycles(graph()))


def test_connection_never_imports_the_client() -> None:
    g = graph(typing=True)
    for name in g:
        if name.startswith("orgo_async.connection"):
            reached = reachable(g, name)
            assert "orgo_async._client" not in reached, name
            assert not any(r.startswith("orgo_async._resources") for r in reached), name


def test_protocol_imports_nothing_above_it() -> None:
    allowed = ("orgo_async._protocol", "orgo_async._errors", "orgo_async._secrets")
    for e in edges():
        if e.src.startswith("orgo_async._protocol"):
            assert e.dst.startswith((*allowed, "orgo_async._lazy")), e


def lazy_only_edges() -> set[tuple[str, str]]:
    """Pairs only ever imported inside functions."""
    eager = {(e.src, e.dst) for e in edges() if not e.lazy and not e.typing}
    return {(e.src, e.dst) for e in edges() if e.lazy and (e.src, e.dst) not in eager}


def test_testing_imports_only_the_documented_sdk_pieces() -> None:
    unexpected = [
        e
        for e in edges()
        if e.src.startswith("orgo_async.testing")
        and not e.typing
        and not e.dst.startswith("orgo_async.testing")
        and (e.src, e.dst, e.lazy) not in TESTING_MAY_IMPORT
    ]
    assert not unexpected, unexpected
    # What the exceptions bring along at import time: the DES module and nothing else.
    g, lazy = graph(), lazy_only_edges()
    eager = {n: {d for d in deps if (n, d) not in lazy} for n, deps in g.items()}
    for name in g:
        if name.startswith("orgo_async.testing"):
            outside = {r for r in reachable(eager, name) if not r.startswith("orgo_async.testing")}
            assert outside <= {"orgo_async._protocol.des"}, (name, outside)


def test_importing_the_core_loads_no_integration() -> None:
    code = (
        "import sys, orgo_async, orgo_async._client\n"
        "orgo_async.AsyncOrgo, orgo_async.Computer, orgo_async.Watch, orgo_async.as_dict\n"
        f"heavy = {HEAVY!r}\n"
        f"ours = {tuple(f'orgo_async.{m}' for m in INTEGRATIONS)!r}\n"
        "print(sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in heavy or m.startswith(ours)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_the_subprocess_check_can_see_a_heavy_import() -> None:
    # The same probe, after importing an integration on purpose, must report it.
    code = (
        "import sys, orgo_async.cli._output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich')[:1])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "['rich']"


def test_long_modules_say_why() -> None:
    silent = []
    for name, path in modules().items():
        text = path.read_text()
        lines = len(text.splitlines())
        if lines <= MAX_LINES:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if not re.search(r"\b\d{3,}\s+lines\b", doc):
            silent.append(f"{name}: {lines} lines, and its docstring does not say why")
    assert not silent, "\n".join(silent)
