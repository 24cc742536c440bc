"""Uploaded bytes -> one uint8 RGB array, the way people really send images, or a clear error.

JPEG/PNG/WebP/BMP/GIF (the first frame), EXIF orientation applied, and every PIL mode a camera,
scanner or editor writes converted to RGB: greyscale (``1``, ``L``), with alpha (``LA``, ``RGBA``,
``PA``, composited over white), palette (``P``), ``CMYK``, ``YCbCr``, and 16-bit or float
greyscale (``I;16*``, ``I``, ``F``: scaled to 8 bits, not clipped). Everything happens in memory.

Decoding costs pixels, not bytes: a 9000 x 9000 PNG of one colour is 87 kB on the wire and 243 MB
decoded. So the pixel budget (:data:`MAX_PIXELS`) is checked on the header, before any pixel is
decoded; a JPEG is decoded at a reduced scale (libjpeg's DCT scaling, ``Image.draft``) when the
model needs fewer pixels, and any other image is box-reduced right after decoding, so that later
steps (EXIF rotation, RGB conversion, the model's resize) touch a small image. :func:`open_image`
reads the header and says what the decode will cost (:func:`decode_cost`), so a server can send
costly decodes to a lane of their own.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
MAX_ASPECT = 2.0  # a longer side beyond 2x the shorter one is centre-cropped first (see decode)
# The models read at most 260 px; 24 MP is a 6000 x 4000 camera photo. A PNG at the budget decodes in
# about a second on one core (results/web.decode_cost.json); PIL's own bomb limit is 89.5 MP.
MAX_PIXELS = 24_000_000
REDUCE_TO = 2  # keep the short side at least this many times the model's resize before its antialiased resize


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


def open_image(data: bytes, *, max_pixels: int | None = None, target: int | None = None) -> Image.Image:
    """The lazily opened image (header read, no pixel decoded); :class:`ImageError` (400/413/415) otherwise.

    ``max_pixels`` (default :data:`MAX_PIXELS`; 0 = no limit) is checked on the header's dimensions.
    ``target``: the short side the model resizes to; a JPEG is then set to decode at the smallest DCT
    scale (1/2, 1/4, 1/8) whose short side stays at least ``REDUCE_TO * target``.
    """
    if not data:
        raise ImageError(400, "the uploaded file is empty (0 bytes)")
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if limit:  # our budget, below PIL's, decides: PIL's own check in open() would speak first otherwise
                im = _open_unchecked(data)
            else:
                im = Image.open(io.BytesIO(data), formats=FORMATS)
            w, h = im.size
            if limit and w * h > limit:
                raise ImageError(413, f"image is {w} x {h} = {w * h:,} pixels, over the limit of {limit:,} "
                                      f"pixels (an oversized image or a decompression bomb; the models read at most "
                                      f"260 px: scale it down before uploading)")
            if target and im.format == "JPEG" and min(w, h) > REDUCE_TO * target:
                scale = REDUCE_TO * target / min(w, h)
                im.draft(None, (max(1, int(w * scale + 0.999)), max(1, int(h * scale + 0.999))))
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(413, f"image refused as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise ImageError(415, f"not an image in a supported format ({', '.join(FORMATS)}): "
                              f"the {len(data):,} bytes uploaded are not recognised") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct_error()) as exc:
        raise ImageError(400, f"the image could not be read (truncated or damaged?): {exc}") from None
    return im


_OPEN_LOCK = __import__("threading").Lock()


def _open_unchecked(data: bytes) -> Image.Image:
    """``Image.open`` with PIL's bomb check off: the caller checks the header's size against a smaller budget
    at once. (PIL's limit is a module global, hence the lock; open() reads only the header.)"""
    with _OPEN_LOCK:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(io.BytesIO(data), formats=FORMATS)
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def decode_cost(im: Image.Image) -> int:
    """Pixels the decode of ``im`` (from :func:`open_image`) will produce: after a JPEG's draft scale."""
    w, h = im.size
    return w * h


def finish(im: Image.Image, *, target: int | None = None) -> np.ndarray:
    """Decode ``im`` (from :func:`open_image`) -> an (H, W, 3) uint8 RGB array, or :class:`ImageError`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.seek(0)  # GIF / animated WebP: the first frame
            im.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(413, f"image refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct_error()) as exc:
        raise ImageError(400, f"the image could not be decoded (truncated or damaged?): {exc}") from None
    if target and min(im.size) >= 2 * REDUCE_TO * target:
        factor = min(im.size) // (REDUCE_TO * target)  # box reduce, still >= REDUCE_TO * target on the short side
        try:
            im = im.reduce(factor)
        except (ValueError, OSError):  # modes reduce() does not take (e.g. P, 1): converted below at full size
            pass
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


def decode(data: bytes, *, max_pixels: int | None = None, target: int | None = None) -> np.ndarray:
    """``data`` -> an (H, W, 3) uint8 RGB array; raises :class:`ImageError` (400/413/415) otherwise.

    ``max_pixels`` defaults to :data:`MAX_PIXELS` and is checked on the header, before any pixel is
    decoded. With ``target`` (the model's resize), large images are decoded or reduced to a short side
    of at least ``REDUCE_TO * target``. An image whose long side exceeds ``MAX_ASPECT`` times its short
    side is centre-cropped to that ratio before conversion: the model only ever sees the centre square,
    and a 1 x 100000 strip would otherwise be resized to millions of pixels.
    """
    return finish(open_image(data, max_pixels=max_pixels, target=target), target=target)


def struct_error() -> type[Exception]:
    import struct

    return struct.error
