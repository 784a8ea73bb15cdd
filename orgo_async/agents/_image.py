"""PNG in the standard library only: encode RGB, read an image's size, crop a region.

Agents need three things from images: the size of a screenshot (to learn the display
size when the computer object carries no ``resolution``), a PNG of pixels that arrived
over RFB, and a region cut out of a screenshot (Claude's ``zoom``). Pillow would do all
three, but ``orgo_async`` must not need it, and none of them needs more than ``zlib``:

* :func:`image_size` reads PNG's IHDR or a JPEG's SOF marker;
* :func:`encode_png` writes 8-bit RGB with filter type 0 (screens compress well without
  prediction, and the encoder stays a few slice operations plus ``zlib``);
* :func:`crop_png` decodes only the rows and columns up to the region's far corner (PNG
  filters predict from the left and from above, so nothing beyond is needed), undoes the
  five filter types and re-encodes the region. Interlaced PNGs and bit depths other than 8
  are refused with a clear ``ValueError``.
"""

from __future__ import annotations

import struct
import zlib
from typing import Final

__all__ = ["PNG_SIGNATURE", "crop_png", "decode_png", "encode_png", "image_size"]

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_CHANNELS: Final = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(width: int, height: int, rgb: bytes | bytearray, *, level: int = 1) -> bytes:
    """PNG of ``height`` rows of ``width`` packed RGB pixels (filter 0, zlib ``level``)."""
    stride = 3 * width
    if width <= 0 or height <= 0 or len(rgb) != stride * height:
        raise ValueError(f"expected {width}x{height} RGB pixels ({stride * height} bytes)")
    raw = bytearray((stride + 1) * height)  # a zero filter byte starts every row
    view = memoryview(rgb)
    for row in range(height):
        start = row * (stride + 1) + 1
        raw[start : start + stride] = view[row * stride : (row + 1) * stride]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), level))
        + _chunk(b"IEND", b"")
    )


def image_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` of a PNG or JPEG file; ``ValueError`` for anything else."""
    if data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack_from(">II", data, 16)
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                raise ValueError("malformed JPEG")
            marker = data[i + 1]
            (length,) = struct.unpack_from(">H", data, i + 2)
            # SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack_from(">HH", data, i + 5)
                return int(width), int(height)
            i += 2 + length
        raise ValueError("JPEG without a frame header")
    raise ValueError("not a PNG or JPEG image")


def _chunks(data: bytes) -> tuple[int, int, int, bytes, bytes]:
    """``(width, height, colour type, palette, compressed data)`` of a PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG image")
    pos, header, idat, palette = 8, None, bytearray(), b""
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        body = data[pos + 8 : pos + 8 + length]
        if len(body) != length:
            raise ValueError("truncated PNG")
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise ValueError("PNG without IHDR")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ValueError(
            f"unsupported PNG (bit depth {depth}, colour type {colour}, interlace {interlace});"
            " 8-bit non-interlaced images are supported"
        )
    return int(width), int(height), int(colour), palette, bytes(idat)


def _unfilter(raw: bytes, stride: int, bpp: int, rows: int, keep: int) -> list[bytearray]:
    """Undo PNG filters on the first ``rows`` scanlines, keeping the first ``keep`` bytes."""
    out: list[bytearray] = []
    prev = bytearray(keep)
    for r in range(rows):
        base = r * (stride + 1)
        kind = raw[base]
        line = bytearray(raw[base + 1 : base + 1 + keep])
        if kind == 1:  # Sub
            for i in range(bpp, keep):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:  # Up
            for i in range(keep):
                line[i] = (line[i] + prev[i]) & 0xFF
        elif kind == 3:  # Average
            for i in range(keep):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(keep):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        elif kind != 0:
            raise ValueError(f"bad PNG filter type {kind}")
        out.append(line)
        prev = line
    return out


def decode_png(
    data: bytes, *, x1: int | None = None, y1: int | None = None
) -> tuple[int, int, bytes]:
    """Decode a PNG to ``(width, height, rgb)`` (alpha dropped, grey and palette expanded).

    ``x1``/``y1`` limit the work to the pixels left of and above that corner (the
    returned ``rgb`` then covers ``min(x1, width)`` x ``min(y1, height)``).
    """
    width, height, colour, palette, idat = _chunks(data)
    channels = _CHANNELS[colour]
    stride = width * channels
    try:
        raw = zlib.decompress(idat)
    except zlib.error as e:
        raise ValueError(f"corrupt PNG data: {e}") from None
    if len(raw) < (stride + 1) * height:
        raise ValueError("truncated PNG data")
    w = width if x1 is None else max(0, min(x1, width))
    h = height if y1 is None else max(0, min(y1, height))
    lines = _unfilter(raw, stride, channels, h, w * channels)
    joined = b"".join(lines)
    if colour == 2:
        return w, h, joined
    rgb = bytearray(w * h * 3)
    if colour == 6:
        rgb[0::3], rgb[1::3], rgb[2::3] = joined[0::4], joined[1::4], joined[2::4]
    elif colour == 0:
        rgb[0::3] = rgb[1::3] = rgb[2::3] = joined
    elif colour == 4:
        rgb[0::3] = rgb[1::3] = rgb[2::3] = joined[0::2]
    else:  # palette
        table = [palette[3 * i : 3 * i + 3].ljust(3, b"\0") for i in range(256)]
        rgb = bytearray(b"".join(table[v] for v in joined))
    return w, h, bytes(rgb)


def crop_png(data: bytes, x0: int, y0: int, x1: int, y1: int, *, level: int = 1) -> bytes:
    """The region ``[x0, x1) x [y0, y1)`` of a PNG, as a new PNG (clipped to the image)."""
    width, height, rgb = decode_png(data, x1=x1, y1=y1)
    x0, y0 = max(0, min(x0, width)), max(0, min(y0, height))
    if x0 >= width or y0 >= height:
        raise ValueError(f"region starts outside the {width}x{height} image")
    out_w, stride = width - x0, width * 3
    region = b"".join(rgb[r * stride + 3 * x0 : (r + 1) * stride] for r in range(y0, height))
    return encode_png(out_w, height - y0, region, level=level)
