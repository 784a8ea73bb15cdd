"""Lazy re-exports for package ``__init__`` modules (PEP 562), written once.

A package lists ``{name: module}`` and gets a module ``__getattr__`` that imports the
module on first access and caches the value in the package, so ``import orgo_async``
does not load aiohttp, msgspec or websockets until a name that needs them is used::

    __getattr__, __dir__ = lazy_exports(__name__, {"AsyncOrgo": "._client"})

Only the standard library is imported here: this module is loaded by every package
``__init__``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` for ``package`` resolving ``names`` lazily.

    ``names`` maps an exported name to the module holding it, relative to ``package``
    (``"._client"``) or absolute. A name's value is the module's attribute of the same
    name, or the module itself when the name is the module's own last component
    (``{"urls": ".urls"}`` exports the submodule).
    """
    table = dict(names)

    def __getattr__(name: str) -> Any:
        target = table.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(target, package)
        value = module if target.rsplit(".", 1)[-1] == name else getattr(module, name)
        # Cache in the package: the next access is a plain attribute lookup.
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
