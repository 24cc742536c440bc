"""Tiny-ImageNet: the validation images with their object boxes, and the training split, as uint8 tensors.

Layout of the official ``tiny-imagenet-200`` (the 100-class ``tiny-imagenet-100`` stand-in here):
``wnids.txt`` (one WordNet id a line), ``words.txt`` (``<wnid>\\t<names>``), ``val/images/*.JPEG``
and ``val/val_annotations.txt`` with lines ``<file>\\t<wnid>\\t<x0>\\t<y0>\\t<x1>\\t<y1>`` (pixel
coordinates, inclusive, in the 64x64 image), ``train/<wnid>/images/*.JPEG`` with
``train/<wnid>/<wnid>_boxes.txt`` (``<file>\\t<x0>\\t<y0>\\t<x1>\\t<y1>``). Every line is checked when
read: a missing image, an unknown wnid or a box outside the image raises DatasetCorrupt naming the
file and line.

The segmentation experiment reads the validation images one by one (``read_val_boxes``,
``load_image``). The classification experiments (``imagenet.*``) use :func:`load_splits`: the
official val images are the **test** split, a seeded per-class 90/10 split of train gives train and
validation, and every selected image is decoded once into one (N, 3, 64, 64) uint8 tensor, kept in
memory for the process and under ``$DL_ASSIGN_CACHE/tinyimagenet`` (default ``build/cache``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
)

if TYPE_CHECKING:
    import torch

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
    """``{wnid: first name}`` from ``words.txt`` (the wnid when its line names nothing; empty without the file)."""
    return {wnid: names[0] if names else wnid for wnid, names in read_names(root).items()}


def read_names(root: Path) -> dict[str, list[str]]:
    """``{wnid: [every comma-separated name]}`` from ``words.txt`` (empty when the file is absent)."""
    path = root / "words.txt"
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        wnid, _, names = line.partition("\t")
        if wnid.strip():
            out[wnid.strip()] = [n.strip() for n in names.split(",") if n.strip()]
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


def _decode_file(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.array(im.convert("RGB"))  # a writable copy
    except (UnidentifiedImageError, OSError) as exc:
        raise DatasetCorrupt(f"{path}: unreadable image ({exc})") from None


def read_train(root: Path, size: int = 64) -> list[BoxedImage]:
    """Every training image of every listed wnid with its box (``file`` is relative to ``train/``), checked.

    Raises DatasetMissing when ``train/`` is absent (a val-only tree serves the segmentation experiment
    but not the classifiers) and DatasetCorrupt for a class folder without images, a bad box line, a box
    outside the image or a listed image that does not exist.
    """
    train = root / "train"
    if not train.is_dir():
        raise DatasetMissing(NAME, [train], HOW_TO_GET)
    items = []
    for wnid in read_wnids(root):
        folder = train / wnid / "images"
        if not folder.is_dir():
            raise DatasetCorrupt(f"{folder} does not exist (wnid {wnid} is listed in wnids.txt)")
        boxes = {}
        path = train / wnid / f"{wnid}_boxes.txt"
        if path.is_file():
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                if not line.strip():
                    continue
                parts = line.split()
                if len(parts) != 5 or not all(p.lstrip("-").isdigit() for p in parts[1:]):
                    raise DatasetCorrupt(f"{path}:{lineno}: expected '<file> <x0> <y0> <x1> <y1>', got {line!r}")
                x0, y0, x1, y1 = (int(p) for p in parts[1:])
                if not (0 <= x0 <= x1 < size and 0 <= y0 <= y1 < size):
                    raise DatasetCorrupt(f"{path}:{lineno}: box {(x0, y0, x1, y1)} is outside the {size}x{size} image")
                if not (folder / parts[0]).is_file():
                    raise DatasetCorrupt(f"{path}:{lineno}: image {folder / parts[0]} does not exist")
                boxes[parts[0]] = (x0, y0, x1, y1)
        files = sorted(p.name for p in folder.iterdir() if p.suffix.lower() in (".jpeg", ".jpg", ".png"))
        if not files:
            raise DatasetCorrupt(f"{folder} holds no images")
        items += [BoxedImage(f"{wnid}/images/{f}", wnid, boxes.get(f, (0, 0, size - 1, size - 1))) for f in files]
    return items


def split_train(labels: np.ndarray, seed: int, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Seeded per-class split of the training images: (train indices, validation indices), each sorted.

    Each class keeps ``round(val_fraction * n_c)`` images (at least one when it has two or more) for
    validation, so 500 per class gives 450 / 50.
    """
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = min(len(idx) - 1, max(1 if len(idx) > 1 else 0, round(val_fraction * len(idx))))
        val.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


@dataclass(frozen=True)
class TinySplits:
    """uint8 images (N, 3, 64, 64) and int64 labels per split, the test split's boxes, the class names.

    ``x["test"]`` are the official val images (in ``val_annotations.txt`` order, ``files["test"]``);
    ``x["train"]`` / ``x["val"]`` the seeded 90/10 split of ``train/``. ``boxes[split]`` is (N, 4) int
    ``(x0, y0, x1, y1)`` inclusive. ``wnids[c]`` / ``names[c]`` (first name in ``words.txt``) name class c.
    """

    x: dict[str, torch.Tensor]  # torch is imported lazily (TYPE_CHECKING)
    y: dict[str, torch.Tensor]
    boxes: dict[str, np.ndarray]
    files: dict[str, list[str]]
    wnids: list[str]
    names: list[str]
    info: dict
    seconds: float  # to decode (recorded when built; a cache hit reports the original cost)
    source: str  # computed | memory | disk


CACHE_FORMAT = 1  # bump when decoding or the split rule change: old disk caches are then ignored
_MEMORY: dict[str, TinySplits] = {}


def cache_dir() -> Path:
    return Path(os.environ.get("DL_ASSIGN_CACHE", "build/cache")) / "tinyimagenet"


def _per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """The first ``per_class`` indices of each class (0 = all), sorted: a fixed subset, shared by seeds."""
    if per_class <= 0:
        return np.arange(len(labels))
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]))


def _decode_many(paths: list[Path]) -> torch.Tensor:
    import torch

    x = torch.empty((len(paths), 3, 64, 64), dtype=torch.uint8)  # (N, 3, 64, 64)
    for i, path in enumerate(paths):
        im = _decode_file(path)
        if im.shape[:2] != (64, 64):
            raise DatasetCorrupt(f"{path}: expected a 64x64 image, got {im.shape[1]}x{im.shape[0]}")
        x[i] = torch.from_numpy(im).permute(2, 0, 1)
    return x


def load_splits(root: Path | None = None, *, split_seed: int = 0, train_per_class: int = 0,
                val_per_class: int = 0, test_per_class: int = 0, disk: bool = True) -> TinySplits:
    """Train / val (seeded 90/10 of ``train/``) / test (the official val images) as uint8 tensors.

    ``*_per_class`` keep the first n images of each class of that split (0 = all; the subset does not
    depend on the training seed). Decoded once: kept in memory for the process and, with ``disk``, under
    :func:`cache_dir`, keyed by the annotation files' sha256, the split seed and the subset sizes.
    """
    import torch

    root = Path(root) if root is not None else locate()
    wnids = read_wnids(root)
    words = read_words(root)
    index = {w: i for i, w in enumerate(wnids)}
    train_items = read_train(root)
    test_items = read_val_boxes(root)
    labels = np.array([index[it.wnid] for it in train_items])
    tr, va = split_train(labels, split_seed)
    tr, va = tr[_per_class(labels[tr], train_per_class)], va[_per_class(labels[va], val_per_class)]
    te_labels = np.array([index[it.wnid] for it in test_items])
    te = _per_class(te_labels, test_per_class)
    chosen = {"train": [train_items[i] for i in tr], "val": [train_items[i] for i in va],
              "test": [test_items[i] for i in te]}
    meta = info(root)
    listing = hashlib.sha256("\n".join(f"{k}:{it.file}" for k, v in chosen.items() for it in v).encode())
    desc = {"format": CACHE_FORMAT, "identity": meta["identity"], "files": listing.hexdigest()[:20]}
    key = f"tiny-{len(wnids)}c-{hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:20]}"
    y = {k: torch.tensor([index[it.wnid] for it in v], dtype=torch.long) for k, v in chosen.items()}
    boxes = {k: np.array([it.box for it in v], dtype=np.int64).reshape(-1, 4) for k, v in chosen.items()}
    files = {k: [it.file for it in v] for k, v in chosen.items()}
    names = [words.get(w, w) for w in wnids]
    data_info = meta | {"sizes": {k: len(v) for k, v in chosen.items()}, "split_seed": split_seed,
                        "selection": desc["files"]}

    def make(x: dict, seconds: float, source: str) -> TinySplits:
        return TinySplits(x, y, boxes, files, wnids, names, data_info, seconds, source)

    if key in _MEMORY:
        return make(_MEMORY[key].x, _MEMORY[key].seconds, "memory")
    path = cache_dir() / f"{key}.pt"
    if disk and path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if all(tuple(state["x"][k].shape) == (len(v), 3, 64, 64) for k, v in chosen.items()):
                _MEMORY[key] = got = make(state["x"], float(state["seconds"]), "disk")
                return got
        except Exception:  # damaged or from another torch: decode again
            pass
    t0 = time.perf_counter()
    base = {"train": root / "train", "val": root / "train", "test": root / "val" / "images"}
    x = {k: _decode_many([base[k] / it.file for it in v]) for k, v in chosen.items()}
    got = make(x, time.perf_counter() - t0, "computed")
    if disk:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save({"x": x, "seconds": got.seconds}, tmp)
        os.replace(tmp, path)
    _MEMORY.clear()  # one selection at a time in memory (the whole set is ~0.6 GB)
    _MEMORY[key] = got
    return got


def box_mask(box: tuple[int, int, int, int], shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool mask of an inclusive ``(x0, y0, x1, y1)`` box."""
    x0, y0, x1, y1 = box
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1 + 1, x0:x1 + 1] = True
    return mask


# What Tiny-ImageNet replaces where a seed asked for other data, and what the substitution changes:
# merged into the ``dataset`` block by the experiments that use it that way (``stand_in``).
STANDS_IN = {
    "mini-imagenet": (
        "seed 002 asks for mini-ImageNet (100 ImageNet classes, 600 images each, 84x84), not in this workplace; "
        "Tiny-ImageNet-100 is 100 ImageNet classes at 64x64 with 500 training images each and boxed validation "
        "images. Expected change: lower resolution and fewer images per class than mini-ImageNet, and other "
        "classes, so accuracies are not comparable with mini-ImageNet numbers"),
    "ip102": (
        "seed 000 3c segments 'your images' (IP102's); IP102 is not in this workplace and its pests14 stand-in has "
        "no object boxes, so segmentation is scored on Tiny-ImageNet validation images with their boxes (box IoU) "
        "and on seeded mosaics. Expected change: ImageNet objects, not pest photos"),
}


def stand_in(replaces: str) -> dict:
    """``{"stands_in_for": replaces, "why": ...}`` for a result that uses Tiny-ImageNet in place of ``replaces``."""
    return {"stands_in_for": replaces, "why": STANDS_IN[replaces]}


def info(root: Path) -> dict:
    """The ``dataset`` block: ``tiny-imagenet-<classes>`` (``-100`` for the development subset, ``-200`` official)."""
    listing = (root / "val" / "val_annotations.txt").read_bytes()
    classes = len(read_wnids(root))
    return {"name": f"{NAME}-{classes}", "source": str(root),
            "identity": f"sha256(val_annotations.txt)={hashlib.sha256(listing).hexdigest()[:16]}",
            "classes": classes}


def _describe(root: Path) -> tuple[str, str]:
    meta = info(root)
    n_val = sum(1 for line in (root / "val" / "val_annotations.txt").read_text().splitlines() if line.strip())
    val_size = human_size(folder_size(root / "val" / "images"))
    return f"{val_size} (val), {meta['classes']} classes, {n_val} boxed val images", meta["identity"]


@register_dataset(NAME)
def status() -> DatasetStatus:
    return located_status(NAME, candidate_dirs(), locate, _describe, HOW_TO_GET)
