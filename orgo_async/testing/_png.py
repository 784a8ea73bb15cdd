"""A tiny PNG encoder and the emulated desktop's "screen", with the standard library only.

The screen is drawn from the computer's state so that screenshots change with actions:
a background colour derived from the computer id, a task bar, a window for the last
clicked spot, one small block per typed character (up to a row), and a pointer square at
the current mouse position. Rows are built by slicing ``bytearray`` s, so even a
1920x1080 frame renders in a few tens of milliseconds.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

__all__ = ["PNG_SIGNATURE", "Screen", "encode_png", "render_screen"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

RGB = tuple[int, int, int]


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 over type and data."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(width: int, height: int, rgb: bytes | bytearray) -> bytes:
    """Encode ``height`` rows of ``width`` RGB8 pixels (``3*width*height`` bytes) as PNG."""
    stride = 3 * width
    if len(rgb) != stride * height:
        raise ValueError(f"expected {stride * height} bytes of RGB, got {len(rgb)}")
    raw = bytearray()
    for row in range(height):
        raw.append(0)  # filter type 0 (None) for every scanline
        raw += rgb[row * stride : (row + 1) * stride]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 1))
        + _chunk(b"IEND", b"")
    )


@dataclass
class Screen:
    """What the emulated display shows; the REST side updates it as actions arrive."""

    pointer: tuple[int, int] = (0, 0)
    window: tuple[int, int] | None = None  # top-left of the focused window, if any
    typed: int = 0  # characters typed so far
    keys: int = 0  # keys pressed so far
    scroll: int = 0  # net wheel clicks (down positive)
    text: str = ""  # the text typed last (what ctrl+c "copies")


def _colour_for(seed: str) -> RGB:
    h = zlib.crc32(seed.encode())
    return (40 + (h & 0x3F), 60 + ((h >> 8) & 0x3F), 90 + ((h >> 16) & 0x3F))


def _fill(buf: bytearray, width: int, height: int, x: int, y: int, w: int, h: int, c: RGB) -> None:
    """Fill a rectangle, clipped to the screen."""
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x0 >= x1 or y0 >= y1:
        return
    span = bytes(c) * (x1 - x0)
    stride = 3 * width
    for row in range(y0, y1):
        start = row * stride + 3 * x0
        buf[start : start + len(span)] = span


def render_screen(width: int, height: int, screen: Screen, seed: str = "") -> bytes:
    """Render ``screen`` at ``width`` x ``height`` and return PNG bytes."""
    buf = bytearray(bytes(_colour_for(seed)) * (width * height))
    bar = max(8, height // 24)
    _fill(buf, width, height, 0, height - bar, width, bar, (30, 30, 30))
    if screen.window is not None:
        wx, wy = screen.window
        ww, wh = max(40, width // 3), max(30, height // 3)
        _fill(buf, width, height, wx, wy, ww, wh, (235, 235, 235))
        _fill(buf, width, height, wx, wy, ww, max(4, bar // 2), (70, 110, 200))
    block = max(2, width // 160)
    per_row = max(1, (width - 2 * block) // (2 * block))
    for i in range(min(screen.typed, per_row)):
        _fill(buf, width, height, block + 2 * block * i, block, block, block, (250, 250, 250))
    for i in range(min(screen.keys, per_row)):
        _fill(buf, width, height, block + 2 * block * i, 3 * block, block, block, (250, 200, 0))
    offset = (screen.scroll * block) % max(1, height - bar)
    _fill(buf, width, height, width - block, offset, block, block * 4, (180, 180, 180))
    px, py = screen.pointer
    size = max(4, width // 100)
    _fill(buf, width, height, px, py, size, size, (255, 0, 0))
    return encode_png(width, height, buf)
