"""Tiny-ImageNet validation images with their object boxes (``val/val_annotations.txt``).

Layout of the official ``tiny-imagenet-200`` (the 100-class ``tiny-imagenet-100`` stand-in here):
``wnids.txt`` (one WordNet id a line), ``words.txt`` (``<wnid>\\t<names>``), ``val/images/*.JPEG``
and ``val/val_annotations.txt`` with lines ``<file>\\t<wnid>\\t<x0>\\t<y0>\\t<x1>\\t<y1>`` (pixel
coordinates, inclusive, in the 64x64 image). Only what the segmentation experiment needs is read:
the validation images and their one box each. Every line is checked when read: a missing image,
an unknown wnid or a box outside the image raises DatasetCorrupt naming the file and line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dl_assign.data import (
    DatasetCorrupt,
    DatasetMissing,
    DatasetStatus,
    data_root,
    folder_size,
    human_size,
    register_dataset,
)

NAME = "tiny-imagenet"
HOW_TO_GET = (
    "unpack tiny-imagenet-200.zip (http://cs231n.stanford.edu/tiny-imagenet-200.zip) so that <data root>/"
    "tiny-imagenet-200/ holds wnids.txt, words.txt and val/; for development the 100-class stand-in "
    "unpacks to <data root>/tiny-imagenet-100/"
)


@dataclass(frozen=True)
class BoxedImage:
    """One validation image's file, class and object box ``(x0, y0, x1, y1)``, inclusive pixel corners."""

    file: str
    wnid: str
    box: tuple[int, int, int, int]


def candidate_dirs() -> list[Path]:
    root = data_root()
    return [root / "tiny-imagenet-200", root / "tiny-imagenet-100", root / "tiny-imagenet"]


def _is_tiny(folder: Path) -> bool:
    return (folder / "wnids.txt").is_file() and (folder / "val" / "val_annotations.txt").is_file() and \
        (folder / "val" / "images").is_dir()


def locate() -> Path:
    looked = candidate_dirs()
    for folder in looked:
        if _is_tiny(folder):
            return folder
    raise DatasetMissing(NAME, looked, HOW_TO_GET)


def read_wnids(root: Path) -> list[str]:
    return [w.strip() for w in (root / "wnids.txt").read_text().splitlines() if w.strip()]


def read_words(root: Path) -> dict[str, str]:
    """``{wnid: first name}`` from ``words.txt`` (empty when the file is absent)."""
    path = root / "words.txt"
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        wnid, _, names = line.partition("\t")
        if wnid.strip():
            out[wnid.strip()] = names.split(",")[0].strip()
    return out


def read_val_boxes(root: Path, size: int = 64) -> list[BoxedImage]:
    """Every validation line, checked: image exists, wnid listed, box inside the ``size`` x ``size`` image."""
    wnids = set(read_wnids(root))
    path = root / "val" / "val_annotations.txt"
    items = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 6 or not all(p.lstrip("-").isdigit() for p in parts[2:]):
            raise DatasetCorrupt(f"{path}:{lineno}: expected '<file> <wnid> <x0> <y0> <x1> <y1>', got {line!r}")
        file, wnid = parts[0], parts[1]
        x0, y0, x1, y1 = (int(p) for p in parts[2:])
        if wnid not in wnids:
            raise DatasetCorrupt(f"{path}:{lineno}: wnid {wnid!r} is not in wnids.txt")
        if not (0 <= x0 <= x1 < size and 0 <= y0 <= y1 < size):
            raise DatasetCorrupt(f"{path}:{lineno}: box {(x0, y0, x1, y1)} is outside the {size}x{size} image")
        if not (root / "val" / "images" / file).is_file():
            raise DatasetCorrupt(f"{path}:{lineno}: image {root / 'val' / 'images' / file} does not exist")
        items.append(BoxedImage(file, wnid, (x0, y0, x1, y1)))
    return items


def load_image(root: Path, file: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB (greyscale files are converted)."""
    from PIL import Image, UnidentifiedImageError

    path = root / "val" / "images" / file
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetCorrupt(f"{path}: unreadable image ({exc})") from None


def box_mask(box: tuple[int, int, int, int], shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool mask of an inclusive ``(x0, y0, x1, y1)`` box."""
    x0, y0, x1, y1 = box
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1 + 1, x0:x1 + 1] = True
    return mask


def info(root: Path) -> dict:
    listing = (root / "val" / "val_annotations.txt").read_bytes()
    return {"name": NAME, "source": str(root),
            "identity": f"sha256(val_annotations.txt)={hashlib.sha256(listing).hexdigest()[:16]}",
            "classes": len(read_wnids(root))}


@register_dataset(NAME)
def status() -> DatasetStatus:
    looked = [str(p) for p in candidate_dirs()]
    try:
        root = locate()
    except DatasetMissing:
        return DatasetStatus(NAME, False, "", looked, how_to_get=HOW_TO_GET)
    meta = info(root)
    n_val = sum(1 for line in (root / "val" / "val_annotations.txt").read_text().splitlines() if line.strip())
    val_size = human_size(folder_size(root / "val" / "images"))
    size = f"{val_size} (val), {meta['classes']} classes, {n_val} boxed val images"
    return DatasetStatus(NAME, True, str(root), looked, size, meta["identity"], HOW_TO_GET)
