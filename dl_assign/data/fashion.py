"""Fashion-MNIST: the four idx files, verified by md5 of their decompressed payload.

Looked for in ``<data root>/fashion-mnist/``, ``<data root>/FashionMNIST/raw/`` (where
torchvision downloads), then ``/usr/share/datasets/fashion-mnist/`` (Debian's
``dataset-fashion-mnist``). Debian recompressed the ``.gz`` wrappers, so identity is the md5
of the decompressed idx bytes, which is the same whichever source the files came from.

The seeds' split pools all 70,000 images and splits them 80/10/10, stratified, with a fixed
``split_seed``; the official 60,000/10,000 split is available as ``split="official"``.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dl_assign.data import (
    DatasetCorrupt,
    DatasetMissing,
    DatasetStatus,
    data_root,
    human_size,
    register_dataset,
)
from dl_assign.data.preprocess import to_unit

NAME = "fashion-mnist"
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# md5 of the decompressed idx payloads (identical for the upstream and Debian .gz files)
FILES = {
    "train_images": ("train-images-idx3-ubyte", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    "train_labels": ("train-labels-idx1-ubyte", "9018921c3c673c538a1fc5bad174d6f9"),
    "test_images": ("t10k-images-idx3-ubyte", "8181f5470baa50b63fa0f6fddb340f0a"),
    "test_labels": ("t10k-labels-idx1-ubyte", "15d484375f8d13e6eb1aabb0c3f46965"),
}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
HOW_TO_GET = (
    "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or "
    "`dl-assign data --download fashion-mnist` (needs a network; torchvision downloads into "
    "<data root>/FashionMNIST/raw), or copy the four idx .gz files into <data root>/fashion-mnist/"
)


def candidate_dirs() -> list[Path]:
    root = data_root()
    return [root / "fashion-mnist", root / "FashionMNIST" / "raw", DEBIAN_DIR]


def _file_in(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def locate() -> Path:
    """The first folder holding all four idx files; DatasetMissing names every place looked."""
    looked = candidate_dirs()
    for folder in looked:
        if all(_file_in(folder, stem) for stem, _ in FILES.values()):
            return folder
    raise DatasetMissing(NAME, looked, HOW_TO_GET)


def read_idx_bytes(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse an idx payload (magic: two zero bytes, dtype 0x08 = uint8, ndim) into an array."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DatasetCorrupt(f"{source}: not an unsigned-byte idx file (magic {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DatasetCorrupt(f"{source}: idx header says {dims} = {expected} bytes, file has {len(raw)}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _read(path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DatasetCorrupt(f"{path}: cannot be read/decompressed ({exc})") from None


@functools.lru_cache(maxsize=2)
def load_raw(folder: str | None = None, verify: bool = True) -> dict:
    """The official arrays as uint8: ``train_images (60000, 28, 28)``, ``train_labels``, ...

    With ``verify`` each payload's md5 must match; a mismatch raises DatasetCorrupt naming the file.
    """
    folder = Path(folder) if folder else locate()
    arrays = {}
    for key, (stem, md5) in FILES.items():
        path = _file_in(folder, stem)
        if path is None:
            raise DatasetMissing(NAME, [folder], HOW_TO_GET)
        raw = _read(path)
        if verify and (got := hashlib.md5(raw).hexdigest()) != md5:
            raise DatasetCorrupt(
                f"{path}: md5 of the decompressed payload is {got}, expected {md5} "
                f"(a damaged or different file; re-install it: {HOW_TO_GET})"
            )
        arrays[key] = read_idx_bytes(raw, str(path))
    arrays["folder"] = str(folder)
    return arrays


def info(folder: str | Path) -> dict:
    source = "debian:dataset-fashion-mnist" if Path(folder) == DEBIAN_DIR else str(folder)
    return {"name": NAME, "source": source,
            "identity": "md5 of decompressed idx payloads verified: "
                        + ", ".join(md5[:8] for _, md5 in FILES.values())}


@dataclass(frozen=True)
class FashionSplits:
    """Images as float32 in [0, 1], shape (N, 28, 28); labels int64."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    info: dict


def _stratified_take(y: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Indices of a stratified subsample of size ``n`` (all when n <= 0 or n >= len(y))."""
    if n <= 0 or n >= len(y):
        return np.arange(len(y))
    from sklearn.model_selection import train_test_split

    idx, _ = train_test_split(np.arange(len(y)), train_size=n, stratify=y, random_state=seed)
    return np.sort(idx)


def load_splits(split: str = "seeds", split_seed: int = 0, train_limit: int = 0,
                eval_limit: int = 0) -> FashionSplits:
    """Train/val/test arrays.

    ``split="seeds"``: all 70,000 images pooled, stratified 80/10/10 (56,000/7,000/7,000) with
    ``split_seed``. ``split="official"``: the official 60,000 train (10% held out, stratified,
    as validation) and the official 10,000 test. ``train_limit``/``eval_limit`` take
    stratified subsamples (used by the smoke budget).
    """
    from sklearn.model_selection import train_test_split

    raw = load_raw()
    if split == "seeds":
        x = np.concatenate([raw["train_images"], raw["test_images"]])
        y = np.concatenate([raw["train_labels"], raw["test_labels"]]).astype(np.int64)
        idx = np.arange(len(y))
        tr, rest = train_test_split(idx, test_size=0.2, stratify=y, random_state=split_seed)
        va, te = train_test_split(rest, test_size=0.5, stratify=y[rest], random_state=split_seed)
    elif split == "official":
        x, y = raw["train_images"], raw["train_labels"].astype(np.int64)
        tr, va = train_test_split(np.arange(len(y)), test_size=0.1, stratify=y, random_state=split_seed)
        te = None
    else:
        raise ValueError(f"unknown split {split!r}; use 'seeds' or 'official'")
    tr = np.sort(tr)[_stratified_take(y[np.sort(tr)], train_limit, split_seed)]
    va = np.sort(va)[_stratified_take(y[np.sort(va)], eval_limit, split_seed)]
    if te is None:
        x_te, y_te = raw["test_images"], raw["test_labels"].astype(np.int64)
    else:
        x_te, y_te = x[np.sort(te)], y[np.sort(te)]
    keep = _stratified_take(y_te, eval_limit, split_seed)
    x_te, y_te = x_te[keep], y_te[keep]
    meta = info(raw["folder"]) | {"split": split, "split_seed": split_seed,
                                  "sizes": [len(tr), len(va), len(y_te)]}
    return FashionSplits(to_unit(x[tr]), y[tr], to_unit(x[va]), y[va], to_unit(x_te), y_te, meta)


def download(root: Path | None = None) -> Path:
    """Download with torchvision into ``<data root>/FashionMNIST/raw`` (needs a network)."""
    from torchvision.datasets import FashionMNIST

    root = Path(root or data_root())
    try:
        FashionMNIST(str(root), train=True, download=True)
        FashionMNIST(str(root), train=False, download=True)
    except Exception as exc:  # urllib/HTTP errors vary by platform; the message is what matters
        raise DatasetMissing(NAME, candidate_dirs(),
                             f"the download failed ({exc.__class__.__name__}: {exc}). " + HOW_TO_GET) from None
    load_raw.cache_clear()
    return root / "FashionMNIST" / "raw"


@register_dataset(NAME)
def status() -> DatasetStatus:
    looked = [str(p) for p in candidate_dirs()]
    try:
        folder = locate()
    except DatasetMissing:
        return DatasetStatus(NAME, False, "", looked, how_to_get=HOW_TO_GET)
    size = sum(_file_in(folder, stem).stat().st_size for stem, _ in FILES.values())
    try:
        raw = load_raw(str(folder))
    except DatasetCorrupt as exc:
        return DatasetStatus(NAME, True, str(folder), looked, human_size(size), how_to_get=HOW_TO_GET,
                             error=str(exc))
    n = len(raw["train_labels"]) + len(raw["test_labels"])
    return DatasetStatus(NAME, True, str(folder), looked, f"{human_size(size)}, {n} images",
                         "md5 OK (decompressed idx)", HOW_TO_GET)
