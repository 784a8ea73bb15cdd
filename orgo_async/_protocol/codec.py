"""Shared decoding machinery for the JSON channels: one prebuilt decoder per channel.

Decoding never raises anything but :class:`~orgo_async.ChannelProtocolError`: malformed
JSON, a non-object, a known ``type`` with wrong field types and an oversized frame are all
protocol errors, while an object whose ``type`` this SDK does not know comes back as an
:class:`Unknown` value so a newer server cannot crash an older client.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar, get_args

import msgspec

from .._errors import ChannelProtocolError, excerpt
from .limits import DEFAULT_MAX_SIZE

__all__ = ["DEFAULT_MAX_SIZE", "MessageDecoder", "Unknown", "encode", "tags_of"]

T = TypeVar("T")


class Unknown(msgspec.Struct):
    """A message whose ``type`` this SDK does not know; ``data`` is the whole object."""

    type: str
    data: dict[str, Any]


_raw_object = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()


def encode(message: msgspec.Struct) -> bytes:
    """Encode a client message as compact JSON (sent as a text frame)."""
    return _encoder.encode(message)


def tags_of(union: Any) -> frozenset[str]:
    """The ``type`` tags of a union of tagged Structs."""
    tags: set[str] = set()
    for cls in get_args(union) or (union,):
        tag = cls.__struct_config__.tag
        if isinstance(tag, str):
            tags.add(tag)
    return frozenset(tags)


class MessageDecoder(Generic[T]):
    """Decode one channel's server messages into the tagged union ``T`` (or :class:`Unknown`).

    Built once per channel; ``max_size`` bounds a single frame (in bytes, or characters for
    an already decoded text frame).
    """

    __slots__ = ("_channel", "_decoder", "_known", "max_size")

    def __init__(self, channel: str, union: Any, *, max_size: int = DEFAULT_MAX_SIZE) -> None:
        self._channel = channel
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(union)
        self._known = tags_of(union)
        self.max_size = max_size

    def decode(self, frame: str | bytes) -> T | Unknown:
        """Decode one text frame."""
        self.check_size(frame)
        try:
            return self._decoder.decode(frame)
        except msgspec.ValidationError as e:
            return self.fallback(frame, e)
        except msgspec.DecodeError:
            raise self.error(f"malformed JSON: {excerpt(frame)!r}") from None
        except UnicodeEncodeError:
            raise self.not_utf8() from None

    def not_utf8(self) -> ChannelProtocolError:
        """The error for a text frame holding lone surrogates (not encodable as UTF-8).

        websockets never hands over such a str (it decodes frames strictly), but a
        decoder fed by other code must still fail with a protocol error.
        """
        return self.error("the frame is not valid UTF-8 text")

    def check_size(self, frame: str | bytes) -> None:
        """Raise :class:`ChannelProtocolError` when ``frame`` is larger than ``max_size``."""
        if len(frame) > self.max_size:
            raise self.error(f"message of {len(frame)} bytes exceeds max_size={self.max_size}")

    def error(self, message: str) -> ChannelProtocolError:
        """A protocol error attributed to this channel."""
        return ChannelProtocolError(f"{self._channel}: {message}", channel=self._channel)

    def raw(self, frame: str | bytes, cause: msgspec.ValidationError) -> dict[str, Any]:
        """The frame as a plain object, for fallbacks; a protocol error if it is not one."""
        try:
            obj = _raw_object.decode(frame)
        except msgspec.DecodeError:
            raise self.error(f"expected a JSON object, got {excerpt(frame)!r}") from None
        if not isinstance(obj.get("type"), str):
            raise self.error(f"message has no string 'type': {excerpt(frame)!r}") from None
        return obj

    def fallback(self, frame: str | bytes, cause: msgspec.ValidationError) -> Unknown:
        """What a frame that failed typed decoding is: :class:`Unknown` for a ``type``
        this decoder does not know, a protocol error for anything else."""
        obj = self.raw(frame, cause)
        kind = obj["type"]
        if kind not in self._known:
            return Unknown(type=kind, data=obj)
        raise self.error(f"invalid {kind!r} message: {cause}") from None
