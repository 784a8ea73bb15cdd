"""The one lazy-export helper behind ``orgo_async``, ``orgo_async.connection`` and
``orgo_async._protocol``: names resolve on first use, are cached, and unknown names fail."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from orgo_async._lazy import lazy_exports


def test_resolves_caches_and_lists() -> None:
    package = types.ModuleType("fake_pkg_for_lazy")
    sys.modules[package.__name__] = package
    try:
        getattr_, dir_ = lazy_exports(
            package.__name__, {"dumps": "json", "decoder": "json.decoder"}
        )
        import json
        import json.decoder

        assert getattr_("dumps") is json.dumps
        assert package.__dict__["dumps"] is json.dumps  # cached: no second import
        assert getattr_("decoder") is json.decoder  # a submodule by its own name
        assert {"dumps", "decoder"} <= set(dir_())
        with pytest.raises(AttributeError, match=r"fake_pkg_for_lazy.*'missing'"):
            getattr_("missing")
    finally:
        del sys.modules[package.__name__]


@pytest.mark.parametrize(
    ("package", "name", "heavy"),
    [
        ("orgo_async", "AsyncOrgo", "aiohttp"),
        ("orgo_async.connection", "Terminal", "orgo_async.connection._terminal"),
        ("orgo_async._protocol", "Unknown", "msgspec"),
    ],
)
def test_packages_load_on_first_use(package: str, name: str, heavy: str) -> None:
    code = (
        f"import sys, importlib\n"
        f"pkg = importlib.import_module({package!r})\n"
        f"assert {heavy!r} not in sys.modules, 'loaded too early'\n"
        f"value = getattr(pkg, {name!r})\n"
        f"assert {heavy!r} in sys.modules and value.__name__ == {name!r}\n"
        f"assert {name!r} in dir(pkg)\n"
        f"try:\n    pkg.NoSuchName\nexcept AttributeError:\n    pass\n"
        f"else:\n    raise SystemExit('no AttributeError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
