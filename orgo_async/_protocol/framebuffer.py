"""RFB pixels: the PIXEL_FORMAT record (RFC 6143 §7.4) and a framebuffer kept in the one
format :class:`~orgo_async._protocol.rfb.RfbClient` asks servers for. No I/O."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

__all__ = ["BGRX", "Framebuffer", "PixelFormat"]


@dataclass(frozen=True, slots=True)
class PixelFormat:
    """RFC 6143 §7.4 PIXEL_FORMAT."""

    bits_per_pixel: int = 32
    depth: int = 24
    big_endian: bool = False
    true_colour: bool = True
    red_max: int = 255
    green_max: int = 255
    blue_max: int = 255
    red_shift: int = 16
    green_shift: int = 8
    blue_shift: int = 0

    def pack(self) -> bytes:
        """The 16-byte wire form."""
        return struct.pack(
            ">BBBBHHHBBBxxx",
            self.bits_per_pixel,
            self.depth,
            self.big_endian,
            self.true_colour,
            self.red_max,
            self.green_max,
            self.blue_max,
            self.red_shift,
            self.green_shift,
            self.blue_shift,
        )

    @classmethod
    def unpack(cls, data: bytes) -> PixelFormat:
        """Parse the 16-byte wire form."""
        bpp, depth, be, tc, rmax, gmax, bmax, rs, gs, bs = struct.unpack(">BBBBHHHBBBxxx", data)
        return cls(bpp, depth, bool(be), bool(tc), rmax, gmax, bmax, rs, gs, bs)


#: The format this client asks for: 32 bpp little-endian, so pixels sit in memory as
#: B, G, R, padding, and turning them into RGB is three slice assignments.
BGRX: Final = PixelFormat()


class Framebuffer:
    """The remote screen as 32-bit B, G, R, X pixels (the :data:`BGRX` format)."""

    __slots__ = ("data", "height", "width")

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.data = bytearray(width * height * 4)

    def put(self, x: int, y: int, w: int, h: int, pixels: bytes | memoryview) -> None:
        """Copy ``w`` x ``h`` pixels (row-major BGRX) to ``(x, y)``."""
        stride, row = self.width * 4, w * 4
        if w == self.width and x == 0:
            self.data[y * stride : (y + h) * stride] = pixels
            return
        for i in range(h):
            start = (y + i) * stride + x * 4
            self.data[start : start + row] = pixels[i * row : (i + 1) * row]

    def copy(self, src_x: int, src_y: int, x: int, y: int, w: int, h: int) -> None:
        """CopyRect: the source region is read whole first, so overlaps are safe."""
        self.put(x, y, w, h, self.region_bgrx(src_x, src_y, src_x + w, src_y + h))

    def region_bgrx(self, x0: int, y0: int, x1: int, y1: int) -> bytes:
        """The pixels of ``[x0, x1) x [y0, y1)``, row-major BGRX."""
        stride = self.width * 4
        if x0 == 0 and x1 == self.width:
            return bytes(self.data[y0 * stride : y1 * stride])
        return b"".join(
            self.data[row * stride + x0 * 4 : row * stride + x1 * 4] for row in range(y0, y1)
        )

    def region_rgb(
        self, x0: int = 0, y0: int = 0, x1: int | None = None, y1: int | None = None
    ) -> bytes:
        """The pixels of a region as packed RGB (3 bytes per pixel), clipped to the screen."""
        x1 = self.width if x1 is None else min(x1, self.width)
        y1 = self.height if y1 is None else min(y1, self.height)
        x0, y0 = max(0, min(x0, x1)), max(0, min(y0, y1))
        bgrx = self.region_bgrx(x0, y0, x1, y1)
        rgb = bytearray(len(bgrx) // 4 * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = bgrx[2::4], bgrx[1::4], bgrx[0::4]
        return bytes(rgb)
