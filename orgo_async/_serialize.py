"""Models as plain JSON-ready data, every field present, secrets left out. No I/O.

Shared by everything that prints or returns models as JSON (the ``orgo-async`` command's
``--json``, the MCP server's tool results): msgspec's own ``to_builtins`` omits fields at
their default (the models are ``omit_defaults``), which would make keys come and go
between answers; here every declared field is present (``None`` when unknown).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from ._secrets import REDACTED, Secret

__all__ = ["SECRET_FIELDS", "as_dict"]

#: Fields that carry a credential: left out unless ``secrets=True``.
SECRET_FIELDS: Final = frozenset({"vnc_password", "password", "api_key", "token"})


def as_dict(obj: Any, *, secrets: bool = False) -> Any:
    """``obj`` (a model, or lists/dicts of them) as JSON-ready builtins with stable keys.

    Every field of a Struct is present (``None`` when unknown); datetimes become ISO 8601
    strings and bytes base64 (msgspec's rules). Secret fields (:data:`SECRET_FIELDS`) are
    dropped unless ``secrets=True``; a :class:`~orgo_async._secrets.Secret` value prints
    as ``***`` either way.

    >>> from orgo_async import Computer
    >>> as_dict(Computer(id="c1", status="running", vnc_password="s3cr3t-pw"))["status"]
    'running'
    >>> "vnc_password" in as_dict(Computer(id="c1", vnc_password="s3cr3t-pw"))
    False
    """
    if isinstance(obj, msgspec.Struct):
        return {
            name: as_dict(getattr(obj, name), secrets=secrets)
            for name in obj.__struct_fields__
            if secrets or name not in SECRET_FIELDS
        }
    if isinstance(obj, Secret):
        return REDACTED
    if isinstance(obj, Mapping):
        return {
            str(k): as_dict(v, secrets=secrets)
            for k, v in obj.items()
            if secrets or k not in SECRET_FIELDS
        }
    if isinstance(obj, list | tuple):
        return [as_dict(v, secrets=secrets) for v in obj]
    if isinstance(obj, datetime.datetime | datetime.date | bytes | bytearray):
        return msgspec.to_builtins(obj)
    return obj
