"""Size limits shared by the protocol and the I/O layer (no imports: cheap to load)."""

from __future__ import annotations

from typing import Final

#: Default limit for one incoming JSON message (bytes). Terminal output and event frames
#: are small; a megabyte leaves room for a burst of output without letting a broken
#: server make the client buffer without bound.
DEFAULT_MAX_SIZE: Final = 1 << 20
