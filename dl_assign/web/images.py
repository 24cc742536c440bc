"""Uploaded bytes -> one uint8 RGB array, the way people really send images, or a clear error.

JPEG/PNG/WebP/BMP/GIF (the first frame), EXIF orientation applied, and every PIL mode a camera,
scanner or editor writes converted to RGB: greyscale (``1``, ``L``), with alpha (``LA``, ``RGBA``,
``PA``, composited over white), palette (``P``), ``CMYK``, ``YCbCr``, and 16-bit or float
greyscale (``I;16*``, ``I``, ``F``: scaled to 8 bits, not clipped). Everything happens in memory.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
MAX_ASPECT = 2.0  # a longer side beyond 2x the shorter one is centre-cropped first (see decode)


class ImageError(ValueError):
    """An upload that is not a usable image; ``status`` is the HTTP code that says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        a = np.asarray(im, dtype=np.float64)  # (H, W)
        if im.mode.startswith("I;16"):
            a = a / 257.0  # 0..65535 -> 0..255
        elif im.mode == "I":
            a = a / 257.0 if a.max(initial=0) > 255 else a  # 32-bit ints holding 16-bit data (PNG) or 8-bit
        else:
            a = a * 255.0 if a.max(initial=0) <= 1.0 else a  # float images in [0, 1] or [0, 255]
        grey = np.clip(np.nan_to_num(a), 0, 255).round().astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if (im.mode == "P" and "transparency" in im.info) or im.mode == "PA":
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")  # 1, L, P, CMYK, YCbCr, LAB, HSV


def decode(data: bytes, *, max_pixels: int | None = None) -> np.ndarray:
    """``data`` -> an (H, W, 3) uint8 RGB array; raises :class:`ImageError` (400/413/415) otherwise.

    ``max_pixels`` defaults to PIL's decompression-bomb limit (``Image.MAX_IMAGE_PIXELS``); the check
    happens on the header, before any pixel is decoded. An image whose long side exceeds
    ``MAX_ASPECT`` times its short side is centre-cropped to that ratio before conversion: the model
    only ever sees the centre square, and a 1 x 100000 strip would otherwise be resized to millions
    of pixels.
    """
    if not data:
        raise ImageError(400, "the uploaded file is empty (0 bytes)")
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=FORMATS)
            w, h = im.size
            if limit and w * h > limit:
                raise ImageError(413, f"image is {w} x {h} = {w * h:,} pixels, over the limit of {limit:,} "
                                      f"(a decompression bomb or an oversized image)")
            im.seek(0)  # GIF / animated WebP: the first frame
            im.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(413, f"image refused as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise ImageError(415, f"not an image in a supported format ({', '.join(FORMATS)}): "
                              f"the {len(data):,} bytes uploaded are not recognised") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct_error()) as exc:
        raise ImageError(400, f"the image could not be decoded (truncated or damaged?): {exc}") from None
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001  a damaged EXIF block: keep the pixels as stored
        pass
    w, h = im.size
    if max(w, h) > MAX_ASPECT * min(w, h):
        keep_w, keep_h = (min(w, round(MAX_ASPECT * h)), h) if w > h else (w, min(h, round(MAX_ASPECT * w)))
        left, top = (w - keep_w) // 2, (h - keep_h) // 2
        im = im.crop((left, top, left + keep_w, top + keep_h))
    try:
        rgb = _to_rgb(im)
        arr = np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise ImageError(400, f"the image could not be converted to RGB: {exc}") from None
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ImageError(400, f"the image decoded to an unusable array of shape {arr.shape}")
    return np.array(arr, dtype=np.uint8, copy=True, order="C")  # (H, W, 3) uint8, writable


def struct_error() -> type[Exception]:
    import struct

    return struct.error
