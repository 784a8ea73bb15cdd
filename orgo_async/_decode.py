"""Step 4 of the pipeline (:mod:`orgo_async._http`): a successful answer's body -> the
caller's type. No I/O.

Decoders are built once per type and kept: building one is the costly part, and a fleet
poll decodes the same type thousands of times.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from ._errors import APIDecodeError
from ._response import RawResponse
from ._transport import Request, Response

__all__ = ["decode_response"]

T = TypeVar("T")

_decoders: dict[Any, msgspec.json.Decoder[Any]] = {}


def _decoder(tp: type[T]) -> msgspec.json.Decoder[T]:
    """Decoders are built once per type and reused: building one is the costly part."""
    dec = _decoders.get(tp)
    if dec is None:
        dec = _decoders[tp] = msgspec.json.Decoder(tp)
    return dec


def decode_response(tp: type[Any] | None, response: Response, request: Request) -> Any:
    """The body of a successful ``response`` as ``tp``, or :class:`APIDecodeError`.

    ``tp`` is a msgspec type (decoded by a decoder built once per type), ``bytes``,
    :class:`RawResponse` or ``None`` (body ignored). An empty body stands for a model
    whose fields all have defaults. Nothing else escapes: a body that is not JSON, or
    JSON of the wrong shape, raises :class:`APIDecodeError` with a scrubbed excerpt.
    """
    data = response.body
    dec = _decoders.get(tp)
    if dec is not None and data:
        try:
            return dec.decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass  # fall through to the slow path, which says what is wrong
    if tp is None:
        return None
    if tp is RawResponse:
        return RawResponse(response.status, dict(response.headers), data, request.full_url)
    if tp is bytes:
        return data
    if not data.strip():
        # Some endpoints answer 200 with no body; models whose fields all have
        # defaults (Success, ActionResult) stand for that.
        try:
            return tp()
        except TypeError:
            msg = f"empty response, expected {tp.__name__}"
            raise _decode_error(msg, response, request) from None
    try:
        return _decoder(tp).decode(data)
    except msgspec.ValidationError as e:
        msg = f"response does not match {tp.__name__}: {e}"
        raise _decode_error(msg, response, request) from None
    except msgspec.DecodeError as e:
        raise _decode_error(f"malformed JSON in response: {e}", response, request) from None


def _decode_error(message: str, response: Response, request: Request) -> APIDecodeError:
    # The message carries a scrubbed excerpt of the body; .body keeps the raw bytes.
    return APIDecodeError(
        message,
        status_code=response.status,
        body=response.body,
        method=request.method,
        url=request.path,
    )
