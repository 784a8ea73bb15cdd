"""Request bodies: JSON parsing and field validation for the emulator's routes.

Every failure is a 400 with a message naming the field (``'x' must be an integer``), the
way the real API answers invalid values. With ``fake.strict`` (the default) unknown
fields are a 400 too, so a typo in a client shows up in its tests.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from ._rest_http import bad

__all__ = [
    "bool_field",
    "check_fields",
    "int_field",
    "is_int",
    "is_number",
    "num_field",
    "read_body",
    "str_field",
]


def is_int(v: Any) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    """An ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(v, int | float) and not isinstance(v, bool)


async def read_body(request: web.Request) -> dict[str, Any]:
    """The JSON object body; empty or ``null`` (what the SDK sends for no body) is ``{}``."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        bad("Invalid JSON body")
    if data is None:
        return {}
    if not isinstance(data, dict):
        bad("Request body must be a JSON object")
    return data


def check_fields(strict: bool, body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    """400 for fields outside ``allowed`` when ``strict``."""
    if not strict:
        return
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        bad(f"Unknown field(s): {', '.join(unknown)}")


def int_field(
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
    allowed: tuple[int, ...] | None = None,
    missing: str | None = None,
) -> int | None:
    """An integer field (``None`` when absent and not ``required``)."""
    if name not in body or body[name] is None:
        if required:
            bad(missing or f"'{name}' is required")
        return None
    v = body[name]
    if not is_int(v):
        bad(f"'{name}' must be an integer")
    if allowed is not None and v not in allowed:
        bad(f"'{name}' must be one of {', '.join(map(str, allowed))}")
    _check_range(name, v, minimum, maximum)
    return int(v)


def num_field(
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float | None:
    """A number field (``None`` when absent and not ``required``)."""
    if name not in body or body[name] is None:
        if required:
            bad(f"'{name}' is required")
        return None
    v = body[name]
    if not is_number(v):
        bad(f"'{name}' must be a number")
    _check_range(name, v, minimum, maximum)
    return float(v)


def _check_range(name: str, v: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and v < minimum:
        bad(f"'{name}' must be >= {minimum}")
    if maximum is not None and v > maximum:
        bad(f"'{name}' must be <= {maximum}")


def str_field(
    body: dict[str, Any],
    name: str,
    *,
    required: bool = False,
    allowed: tuple[str, ...] = (),
    nonempty: bool = False,
    missing: str | None = None,
) -> str | None:
    """A string field (``None`` when absent and not ``required``)."""
    if name not in body or body[name] is None:
        if required:
            bad(missing or f"'{name}' is required")
        return None
    v = body[name]
    if not isinstance(v, str):
        bad(f"'{name}' must be a string")
    if nonempty and not v.strip():
        bad(missing or f"'{name}' must not be empty")
    if allowed and v not in allowed:
        bad(f"'{name}' must be one of {', '.join(allowed)}")
    return v


def bool_field(body: dict[str, Any], name: str, default: bool = False) -> bool:
    """A boolean field (``default`` when absent)."""
    v = body.get(name)
    if v is None:
        return default
    if not isinstance(v, bool):
        bad(f"'{name}' must be a boolean")
    return v
