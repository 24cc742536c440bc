"""mini-ImageNet in the ``mini-imagenet-tools`` layout, pooled for 100-way classification.

Layout: ``<root>/images/*.jpg`` and ``train.csv`` / ``val.csv`` / ``test.csv`` with a header
``filename,label`` (label = WordNet id); 100 classes of 600 images. Those three CSVs split the
*classes* (64 / 16 / 20, for few-shot work), so a 100-way classifier cannot use them as they are:
:func:`read_items` pools every row and :func:`split_items` splits each class seeded into 480 / 60 / 60
(train / val / test; the same 80/10/10 fractions for a class of another size). Images (84x84 in the
common release) are decoded once, resized (shorter side) and centre-cropped to ``size``, into one
uint8 tensor per split. Class names come from an optional ``words.txt`` (``<wnid>\\t<names>``) next to
the CSVs; otherwise the wnid is the name.

No copy of mini-ImageNet exists here (Tiny-ImageNet-100 stands in for it): the loader is tested on a
small tree the test writes.
"""

from __future__ import annotations

import csv
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
    located_status,
    register_dataset,
    tinyimagenet,
)

NAME = "mini-imagenet"
CSVS = ("train.csv", "val.csv", "test.csv")
HOW_TO_GET = ("build it with mini-imagenet-tools (https://github.com/yaoyao-liu/mini-imagenet-tools) from the "
              "ImageNet ILSVRC-2012 train set, so that <data root>/mini-imagenet/ holds images/ and train.csv, "
              "val.csv, test.csv")
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # 480 / 60 / 60 of a 600-image class


def candidate_dirs() -> list[Path]:
    root = data_root()
    return [root / "mini-imagenet", root / "miniimagenet", root / "mini_imagenet"]


def _is_mini(folder: Path) -> bool:
    return (folder / "images").is_dir() and all((folder / name).is_file() for name in CSVS)


def locate() -> Path:
    looked = candidate_dirs()
    for folder in looked:
        if _is_mini(folder):
            return folder
    raise DatasetMissing(NAME, looked, HOW_TO_GET)


def read_items(root: Path) -> list[tuple[str, str]]:
    """Every ``(filename, wnid)`` row of the three CSVs, pooled, checked (header, columns, image exists)."""
    items, seen = [], set()
    for name in CSVS:
        path = root / name
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
        if not rows or [c.strip().lower() for c in rows[0][:2]] != ["filename", "label"]:
            got = rows[0] if rows else "nothing"
            raise DatasetCorrupt(f"{path}:1: expected the header 'filename,label', got {got}")
        for lineno, row in enumerate(rows[1:], 2):
            if not row:
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise DatasetCorrupt(f"{path}:{lineno}: expected '<filename>,<wnid>', got {','.join(row)!r}")
            file, wnid = row[0].strip(), row[1].strip()
            if file in seen:
                raise DatasetCorrupt(f"{path}:{lineno}: {file} is listed twice")
            if not (root / "images" / file).is_file():
                raise DatasetCorrupt(f"{path}:{lineno}: image {root / 'images' / file} does not exist")
            seen.add(file)
            items.append((file, wnid))
    if not items:
        raise DatasetCorrupt(f"{root}: the CSVs list no image")
    return items


def split_items(labels: np.ndarray, seed: int, fractions=SPLIT_FRACTIONS) -> dict[str, np.ndarray]:
    """Seeded per-class split into ``{"train", "val", "test"}`` sorted indices (600 per class -> 480/60/60)."""
    rng = np.random.default_rng(seed)
    out = {"train": [], "val": [], "test": []}
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val, n_test = round(fractions[1] * len(idx)), round(fractions[2] * len(idx))
        out["val"].append(idx[:n_val])
        out["test"].append(idx[n_val:n_val + n_test])
        out["train"].append(idx[n_val + n_test:])
    return {k: np.sort(np.concatenate(v)) for k, v in out.items()}


@dataclass(frozen=True)
class MiniSplits:
    """uint8 (N, 3, S, S) images and int64 labels per split (train / val / test), the class ids and names."""

    x: dict
    y: dict
    files: dict[str, list[str]]
    wnids: list[str]
    names: list[str]
    info: dict


def _decode(path: Path, size: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            scale = size / min(w, h)
            im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
            w, h = im.size
            left, top = (w - size) // 2, (h - size) // 2
            return np.asarray(im.crop((left, top, left + size, top + size)))
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetCorrupt(f"{path}: unreadable image ({exc})") from None


def load_splits(root: Path | None = None, *, size: int = 84, split_seed: int = 0) -> MiniSplits:
    """The pooled 100 classes split 480/60/60 per class (seeded), decoded at ``size`` x ``size``."""
    import torch

    root = Path(root) if root is not None else locate()
    items = read_items(root)
    wnids = sorted({w for _, w in items})
    index = {w: i for i, w in enumerate(wnids)}
    labels = np.array([index[w] for _, w in items])
    parts = split_items(labels, split_seed)
    x, y, files = {}, {}, {}
    for split, idx in parts.items():
        arr = np.stack([_decode(root / "images" / items[i][0], size) for i in idx]) if len(idx) else \
            np.zeros((0, size, size, 3), np.uint8)
        x[split] = torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()  # (N, 3, S, S) uint8
        y[split] = torch.from_numpy(labels[idx]).long()
        files[split] = [items[i][0] for i in idx]
    words = tinyimagenet.read_words(root)  # the same words.txt format (optional beside the CSVs)
    digest = hashlib.sha256(b"".join((root / n).read_bytes() for n in CSVS)).hexdigest()[:16]
    info = {"name": NAME, "source": str(root), "identity": f"sha256(train+val+test.csv)={digest}",
            "classes": len(wnids), "sizes": {k: len(v) for k, v in parts.items()}, "split_seed": split_seed}
    return MiniSplits(x, y, files, wnids, [words.get(w, w) for w in wnids], info)


def _describe(root: Path) -> tuple[str, str]:
    items = read_items(root)
    digest = hashlib.sha256("".join((root / c).read_text() for c in CSVS).encode()).hexdigest()[:16]
    return (f"{human_size(folder_size(root))}, {len(items):,} images in {len({w for _, w in items})} classes",
            f"sha256(csvs)={digest}")


@register_dataset(NAME)
def status() -> DatasetStatus:
    """The ``dl-assign data`` row: found (with its size and image count) or where to put it."""
    return located_status(NAME, candidate_dirs(), locate, _describe, HOW_TO_GET)
