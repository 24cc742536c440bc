"""dl_assign.web.images: every format and PIL mode people send becomes the right RGB array, or a clear error."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from dl_assign.web.images import MAX_ASPECT, ImageError, decode


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _halves(w=8, h=6) -> Image.Image:
    """Left half red, right half blue."""
    a = np.zeros((h, w, 3), np.uint8)
    a[:, : w // 2] = (255, 0, 0)
    a[:, w // 2:] = (0, 0, 255)
    return Image.fromarray(a)


@pytest.mark.parametrize("fmt, lossless", [("PNG", True), ("BMP", True), ("GIF", True),
                                           ("WEBP", True), ("JPEG", False)])
def test_formats_decode_to_the_same_pixels(fmt, lossless):
    im = _halves(16, 12)
    kw = {"lossless": True} if fmt == "WEBP" else {"quality": 95, "subsampling": 0} if fmt == "JPEG" else {}
    out = decode(_encode(im, fmt, **kw))
    assert out.shape == (12, 16, 3) and out.dtype == np.uint8 and out.flags.writeable
    diff = np.abs(out.astype(int) - np.asarray(im, int))
    assert diff.max() == 0 if lossless else diff.mean() < 8


def test_gif_gives_its_first_frame():
    red, blue = Image.new("RGB", (5, 5), (255, 0, 0)), Image.new("RGB", (5, 5), (0, 0, 255))
    buf = io.BytesIO()
    red.save(buf, "GIF", save_all=True, append_images=[blue], duration=50, loop=0)
    out = decode(buf.getvalue())
    assert tuple(out[2, 2]) == (255, 0, 0)


def test_exif_orientation_is_applied():
    im = _halves(20, 10)  # stored 20 wide x 10 high: red left, blue right
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    out = decode(_encode(im, "JPEG", quality=95, exif=exif.tobytes()))
    assert out.shape == (20, 10, 3)  # displayed 10 wide x 20 high
    top, bottom = out[:8].reshape(-1, 3).mean(0), out[12:].reshape(-1, 3).mean(0)
    assert top[0] > 200 > top[2] and bottom[2] > 200 > bottom[0]  # the left (red) side is now on top


def test_modes_become_rgb_with_the_right_values():
    grey = Image.fromarray(np.array([[0, 128, 255]] * 2, np.uint8), "L")  # 3 x 2: within MAX_ASPECT
    assert decode(_encode(grey, "PNG"))[0].tolist() == [[0] * 3, [128] * 3, [255] * 3]
    one = Image.fromarray(np.array([[0, 255]], np.uint8), "L").convert("1")
    assert decode(_encode(one, "PNG"))[0].tolist() == [[0] * 3, [255] * 3]
    rgba = Image.new("RGBA", (2, 1), (255, 0, 0, 0))
    rgba.putpixel((1, 0), (0, 255, 0, 255))
    assert decode(_encode(rgba, "PNG"))[0].tolist() == [[255, 255, 255], [0, 255, 0]]  # transparent -> white
    la = Image.new("LA", (1, 1), (0, 0))
    assert decode(_encode(la, "PNG"))[0].tolist() == [[255, 255, 255]]
    pal = _halves(4, 2).convert("P", palette=Image.Palette.ADAPTIVE, colors=2)
    assert decode(_encode(pal, "PNG"))[0].tolist() == [[255, 0, 0]] * 2 + [[0, 0, 255]] * 2
    pal_t = Image.new("P", (2, 1), 0)
    pal_t.putpalette([10, 20, 30, 200, 100, 50])
    pal_t.putpixel((1, 0), 1)
    assert decode(_encode(pal_t, "PNG", transparency=0))[0].tolist() == [[255, 255, 255], [200, 100, 50]]
    cmyk = Image.new("CMYK", (3, 3), (0, 255, 255, 0))  # pure red in CMYK
    out = decode(_encode(cmyk, "JPEG", quality=95))
    assert out.shape == (3, 3, 3) and out[1, 1, 0] > 230 and out[1, 1, 1:].max() < 30


def test_sixteen_bit_and_float_greyscale_are_scaled_not_clipped():
    a16 = np.array([[0, 32896, 65535]] * 2, np.uint16)
    png16 = _encode(Image.fromarray(a16), "PNG")  # 16-bit greyscale PNG; PIL opens it as I;16 or I
    assert decode(png16)[0, :, 0].tolist() == [0, 128, 255]
    f = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F")
    with pytest.raises(ImageError, match="not an image"):  # TIFF is not an accepted upload format
        decode(_encode(f, "TIFF"))
    from dl_assign.web.images import _to_rgb

    assert np.asarray(_to_rgb(f))[0, :, 0].tolist() == [0, 128, 255]
    i32 = Image.fromarray(np.array([[0, 100, 255]], np.int32), "I")  # 8-bit data in a 32-bit image: kept
    assert np.asarray(_to_rgb(i32))[0, :, 0].tolist() == [0, 100, 255]


def test_extreme_aspect_ratio_is_centre_cropped_to_the_bound():
    strip = np.zeros((1, 5000, 3), np.uint8)
    strip[0, 2499:2501] = 255  # the two centre pixels
    out = decode(_encode(Image.fromarray(strip), "PNG"))
    assert out.shape == (1, int(MAX_ASPECT), 3) and out.max() == 255
    tall = decode(_encode(Image.new("RGB", (3, 700)), "PNG"))
    assert tall.shape == (6, 3, 3)
    assert decode(_encode(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG")).tolist() == [[[1, 2, 3]]]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (the pixel data is a stub): a decompression bomb's header."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


@pytest.mark.parametrize("data, status, words", [
    (b"", 400, "empty"),
    (b"hello, this is text", 415, "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, 415, "not an image"),
    (_png_header_only(40_000, 40_000), 413, "decompression bomb"),
])
def test_bad_bytes_get_the_right_status(data, status, words):
    with pytest.raises(ImageError, match=words) as err:
        decode(data)
    assert err.value.status == status


def test_truncated_jpeg_is_400_and_max_pixels_is_honoured():
    rng = np.random.default_rng(0)
    jpeg = _encode(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), "JPEG", quality=90)
    with pytest.raises(ImageError, match="truncated") as err:
        decode(jpeg[: len(jpeg) // 2])
    assert err.value.status == 400
    assert decode(jpeg, max_pixels=64 * 64).shape == (64, 64, 3)
    with pytest.raises(ImageError, match="over the limit") as err:
        decode(jpeg, max_pixels=64 * 64 - 1)
    assert err.value.status == 413
