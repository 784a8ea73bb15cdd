"""The layers of design.md, checked on the source: ``connection/`` sits below ``_client``
and ``_protocol/`` below both, with no cycle, counting imports under TYPE_CHECKING and
inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import orgo_async

ROOT = Path(orgo_async.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every ``orgo_async`` module ``path`` imports, anywhere in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("orgo_async"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if not target.startswith("orgo_async"):
                continue
            found.add(target)
            for alias in node.names:  # ``from . import urls`` imports a submodule
                candidate = f"{target}.{alias.name}"
                if (ROOT.parent / candidate.replace(".", "/")).with_suffix(".py").exists():
                    found.add(candidate)
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    return {name: imports_of(path) & set(modules) for name, path in modules.items()}


def reachable(g: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in g.get(todo.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_connection_never_imports_the_client() -> None:
    g = graph()
    for name, deps in g.items():
        if name.startswith("orgo_async.connection"):
            assert "orgo_async._client" not in reachable(g, name), name
            assert not any(d.startswith("orgo_async._resources") for d in deps), name


def test_protocol_imports_nothing_above_it() -> None:
    g = graph()
    allowed = ("orgo_async._protocol", "orgo_async._errors", "orgo_async._secrets")
    for name, deps in g.items():
        if name.startswith("orgo_async._protocol"):
            assert all(d.startswith((*allowed, "orgo_async._lazy")) for d in deps), (name, deps)


def test_client_and_connection_form_no_cycle() -> None:
    g = graph()
    for name in g:
        if name == "orgo_async._client" or name.startswith("orgo_async.connection"):
            assert name not in reachable(g, name), f"{name} imports itself through a cycle"
