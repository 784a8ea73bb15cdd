"""FastAPI-only sugar: the ``OrgoDep`` annotation (imports FastAPI, unlike the rest)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from .._client import AsyncOrgo
from ._app import get_orgo

__all__ = ["OrgoDep"]

#: ``orgo: OrgoDep`` in a FastAPI handler's signature gives the app's ``AsyncOrgo``.
OrgoDep = Annotated[AsyncOrgo, Depends(get_orgo)]
