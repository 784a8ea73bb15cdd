"""Endpoints as data: a :class:`Route` says verb, path and whether a retry is safe.

Ids go into paths only through :func:`check_id`, which refuses what could change which
URL is requested. No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final, TypeVar
from urllib.parse import quote

__all__ = [
    "ALREADY_GONE",
    "ALREADY_IN_STATE",
    "Route",
    "check_choice",
    "check_id",
    "check_int",
]

T = TypeVar("T")

# Ids made only of these need no quoting (UUIDs, hex instance ids): the fast path.
_SAFE_ID = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9_.~-]{0,255}")
_BAD_ID = re.compile(r"[/\\?#%\s\x00-\x1f\x7f]")


def check_id(value: object, what: str = "id") -> str:
    """Validate an id before it goes into a URL path, and path-quote it.

    Refuses (``ValueError``) what can never be a valid id and could change which URL is
    requested: empty strings, ``.``/``..``, slashes, ``?``/``#``/``%``, whitespace and
    control characters. ``TypeError`` for non-strings (a common slip: passing a
    ``Computer`` instead of ``computer.id``).

    >>> check_id("a3bb189e-8bf9-3888-9912-ace4e6543002")
    'a3bb189e-8bf9-3888-9912-ace4e6543002'
    >>> check_id("ünï")
    '%C3%BCn%C3%AF'
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if _SAFE_ID.fullmatch(value) is not None:
        return value
    if not value:
        raise ValueError(f"{what} must not be empty")
    if value in (".", "..") or len(value) > 256 or _BAD_ID.search(value) is not None:
        raise ValueError(f"invalid {what}: {value[:64]!r}")
    if not value.isprintable():
        raise ValueError(f"invalid {what}: contains control characters")
    return quote(value, safe="")


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` if it is an ``int`` (not a ``bool``) of at least ``minimum``; otherwise
    ``ValueError`` naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, not {value!r}")
    return value


def check_choice(name: str, value: T, allowed: Collection[T]) -> T:
    """``value`` if it is one of ``allowed`` (never a ``bool``, although ``True == 1``);
    otherwise ``ValueError`` listing them."""
    if isinstance(value, bool) or value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, not {value!r}")  # type: ignore[type-var]
    return value


#: ``settled_on_retry`` of a DELETE: a 404 after a lost answer is that attempt's work.
ALREADY_GONE: Final = frozenset({404})
#: ``settled_on_retry`` of start/stop: a 409 ("not stopped"/"not running") after a lost
#: answer is that attempt's work.
ALREADY_IN_STATE: Final = frozenset({409})


@dataclass(frozen=True, slots=True)
class Route:
    """One endpoint: verb, path template (``{}`` placeholders for ids) and retry safety.

    ``idempotent`` says whether the pipeline may send the request again after it may
    have reached the server (see :mod:`orgo_async._retry`). ``timeout`` overrides the
    client default for endpoints whose server-side work is long (bash, exec, wait, start).

    ``settled_on_retry`` are the statuses that mean "already done" when they answer a
    retry sent after an attempt the server may have acted on (its answer was lost, or a
    transient error that can come after the work): a DELETE answered 404 then, or a
    ``start`` answered 409, is the earlier attempt having taken effect, so the call
    succeeds instead of raising about its own first attempt. The first attempt's 404 or
    409 is still raised.

    >>> click = Route("POST", "/computers/{}/click", idempotent=False)
    >>> click.idempotent, click.timeout, click.settled_on_retry
    (False, None, frozenset())
    """

    method: str
    path: str
    idempotent: bool
    timeout: float | None = None
    settled_on_retry: frozenset[int] = frozenset()
