"""Secrets as a type: the API key and every ``vnc_password``.

A :class:`Secret` prints as ``'***'`` everywhere (``repr``, ``str``, f-strings, logs) and is
unwrapped with :meth:`Secret.get` only where a header or URL is built for sending. Every
secret value ever wrapped is also remembered (bounded) so :func:`redact` can scrub it from
text that came from elsewhere, such as a server's error message that echoes a token, and
the ``orgo_async`` logger carries a filter that does the same for every record.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Final

__all__ = ["REDACTED", "Secret", "redact"]

REDACTED: Final = "***"

# Most recent secrets first out; bounded so a long-lived process that sees many
# rotations does not grow without limit.
_MAX_KNOWN = 4096
_known: OrderedDict[str, None] = OrderedDict()


def remember(value: str) -> None:
    """Register a secret value that arrived as a plain str (e.g. in a decoded model)."""
    # Very short values would redact innocent text ("a", "1"); real keys and
    # passwords are far longer. A polled fleet decodes the same passwords again and
    # again: known values return at once (about a quarter of a Computer's decode time
    # otherwise), at the price of not refreshing their place in the bounded registry.
    if len(value) < 6 or value in _known:
        return
    _known[value] = None
    _known.move_to_end(value)
    while len(_known) > _MAX_KNOWN:
        _known.popitem(last=False)


def redact(text: str) -> str:
    """Return ``text`` with every known secret value replaced by ``***``.

    >>> s = Secret("sk_live_abcdef123")
    >>> redact("bad key sk_live_abcdef123")
    'bad key ***'
    """
    if not _known or not text:
        return text
    for value in reversed(_known):
        if value in text:
            text = text.replace(value, REDACTED)
    return text


class Secret:
    """A string that never shows itself.

    >>> key = Secret("sk_live_abcdef123")
    >>> key
    Secret('***')
    >>> key.get()
    'sk_live_abcdef123'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a str, not {type(value).__name__}")
        self._value = value
        remember(value)

    def get(self) -> str:
        """The raw value, for building a header or URL that is sent, never printed."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the value to disk or a queue in clear text.
        raise TypeError("Secret cannot be pickled")


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs known secrets from the rendered message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _known:
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg = cleaned
                record.args = None
        return True


def get_logger(name: str = "orgo_async") -> logging.Logger:
    """The package logger, with the redacting filter installed once."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
