"""Face images for binary gender recognition (seed 003): UTKFace, FairFace and the seed's Kaggle folders.

Labels everywhere: 0 = male, 1 = female (UTKFace's own coding; FairFace's ``Male``/``Female`` and the
Kaggle folders are mapped to it). **female (1) is the positive class** of every ROC curve,
sensitivity and precision in dl_assign.

* **UTKFace** (``<root>/UTKFace/``, "aligned & cropped", 200x200): labels in the file name
  ``<age>_<gender>_<race>_<datetime>.jpg.chip.jpg``. A name that does not parse is skipped, counted
  and reported (:attr:`UTKIndex.skipped`), never a crash. :func:`split_utkface` makes a seeded
  train/val/test split stratified by gender x race.
* **FairFace** (``<root>/fairface*/``: image folders + ``fairface_label_{train,val}.csv`` with
  ``file, age, gender[, race, service_test]``): the test set from another dataset. The race column
  is optional (the 540-image subset here has none).
* **The seed's Kaggle layout**: the gender-recognition dataset's ``Training/{female,male}`` and
  ``Validation/{female,male}`` folders, and the "biggest gender face" set with its class folders
  renamed ``Female``/``Male`` (:func:`read_class_folders` reads either; folder names are matched
  case-insensitively).

**One crop rule for every dataset** (:func:`face_crop`): a centre square of the shorter side scaled
by ``(1 + 2 * 0.25) / (1 + 2 * margin)``, resized to S x S (antialiased bilinear). ``margin`` is the
dlib face-chip padding the images were cut with: UTKFace's aligned chips count as the reference
(0.25: the face fills the image), the FairFace images here are its ``padding=1.25`` release (448x448,
face in the middle ~43 %), so a FairFace image is cut to its central 0.43 before resizing and its
face reaches the model at the size a UTKFace face does. The Kaggle sets are taken as cut like
UTKFace (margin 0.25); any dataset can pass its own margin.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, field
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

CLASSES = ("male", "female")  # label 0, 1; female is the positive class
POSITIVE = "female"
RACES = ("White", "Black", "Asian", "Indian", "Others")  # UTKFace race codes 0-4
REFERENCE_MARGIN = 0.25  # dlib chip padding the UTKFace aligned faces stand for
UTK_MARGIN, FAIRFACE_MARGIN, KAGGLE_MARGIN = 0.25, 1.25, 0.25
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

UTK_HOW = ("download UTKFace 'Aligned&Cropped Faces' (UTKFace.tar.gz, https://susanqq.github.io/UTKFace/; "
           "non-commercial research only) and unpack it so that <data root>/UTKFace/ holds the .jpg.chip.jpg files")
FAIRFACE_HOW = ("download FairFace (https://github.com/joojs/fairface; CC BY 4.0): the padding=1.25 images "
                "(train/, val/) and fairface_label_train.csv / fairface_label_val.csv, into <data root>/fairface/ "
                "(the 540-image development subset unpacks to <data root>/fairface-540/)")
KAGGLE_HOW = ("download https://www.kaggle.com/rashikrahmanpritom/gender-recognition-dataset into "
              "<data root>/gender-recognition/ (Training/{female,male}, Validation/{female,male}) and, for the seed's "
              "test set, https://www.kaggle.com/maciejgronczynski/biggest-genderface-recognition-dataset into "
              "<data root>/biggest-genderface/ with its class folders renamed Female and Male")


# --- UTKFace -------------------------------------------------------------------------------------


def parse_utk_name(name: str) -> tuple[int, int, int] | None:
    """``(age, gender, race)`` from ``<age>_<gender>_<race>_<datetime>.jpg.chip.jpg``; None if malformed."""
    parts = name.split("_")
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
        return None
    age, gender, race = (int(p) for p in parts[:3])
    if gender not in (0, 1) or not 0 <= race < len(RACES) or not 0 <= age <= 130:
        return None
    return age, gender, race


@dataclass(frozen=True)
class UTKIndex:
    """The parsed UTKFace folder: files (sorted), their labels, and the names that were skipped."""

    root: Path
    files: tuple[str, ...]
    age: np.ndarray  # int (N,)
    gender: np.ndarray  # int (N,): 0 male, 1 female
    race: np.ndarray  # int (N,): 0-4
    skipped: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.files)

    @property
    def identity(self) -> str:
        return "sha256(names)=" + hashlib.sha256("\n".join(self.files).encode()).hexdigest()[:16]


def utk_candidates() -> list[Path]:
    root = data_root()
    return [root / "UTKFace", root / "utkface", root / "UTKFace" / "UTKFace"]


def locate_utkface() -> Path:
    for folder in utk_candidates():
        if folder.is_dir() and any(folder.glob("*.jpg")):
            return folder
    raise DatasetMissing("utkface", utk_candidates(), UTK_HOW)


def read_utkface(root: str | Path | None = None) -> UTKIndex:
    """Every well-named image of a UTKFace folder; malformed names are skipped and listed."""
    root = Path(root) if root else locate_utkface()
    files, labels, skipped = [], [], []
    for name in sorted(os.listdir(root)):
        if not name.lower().endswith(".jpg"):
            continue
        parsed = parse_utk_name(name)
        if parsed is None:
            skipped.append(name)
            continue
        files.append(name)
        labels.append(parsed)
    if not files:
        raise DatasetCorrupt(f"{root}: no UTKFace image with a well-formed name (<age>_<gender>_<race>_<date>.jpg...)")
    a = np.asarray(labels, dtype=np.int64).reshape(-1, 3)
    return UTKIndex(root, tuple(files), a[:, 0], a[:, 1], a[:, 2], tuple(skipped))


def split_utkface(index: UTKIndex, seed: int = 0, fractions=(0.7, 0.15, 0.15)) -> dict[str, np.ndarray]:
    """Seeded train/val/test row indices, stratified by gender x race (each stratum split by ``fractions``)."""
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) < 0:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    out: dict[str, list] = {"train": [], "val": [], "test": []}
    strata = index.gender * len(RACES) + index.race
    for s in np.unique(strata):
        rows = rng.permutation(np.flatnonzero(strata == s))
        n_val, n_test = round(len(rows) * fractions[1]), round(len(rows) * fractions[2])
        out["val"].append(rows[:n_val])
        out["test"].append(rows[n_val:n_val + n_test])
        out["train"].append(rows[n_val + n_test:])
    return {k: np.sort(np.concatenate(v)) for k, v in out.items()}


def stratified_subset(strata: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A seeded subset of ``n`` positions (of ``strata``) keeping each stratum's share; all if n <= 0."""
    if n <= 0 or n >= len(strata):
        return np.arange(len(strata))
    rng = np.random.default_rng(seed)
    keep = []
    values, counts = np.unique(strata, return_counts=True)
    quota = np.floor(counts / counts.sum() * n).astype(int)
    order = np.argsort(-(counts / counts.sum() * n - quota))  # largest remainders get the leftover places
    quota[order[: n - quota.sum()]] += 1
    for v, q in zip(values, quota):
        keep.append(rng.permutation(np.flatnonzero(strata == v))[:q])
    return np.sort(np.concatenate(keep))


# --- FairFace ------------------------------------------------------------------------------------

FAIRFACE_REQUIRED = ("file", "age", "gender")


@dataclass(frozen=True)
class FairFaceIndex:
    root: Path
    files: tuple[str, ...]  # relative to root, e.g. val/1.jpg
    gender: np.ndarray  # int (N,)
    age: tuple[str, ...]
    race: tuple[str, ...] | None  # None when the CSV has no race column

    def __len__(self) -> int:
        return len(self.files)

    @property
    def identity(self) -> str:
        rows = "\n".join(f"{f},{g}" for f, g in zip(self.files, self.gender))
        return "sha256(file,gender)=" + hashlib.sha256(rows.encode()).hexdigest()[:16]


def fairface_candidates() -> list[Path]:
    root = data_root()
    return [root / "fairface", root / "FairFace", root / "fairface-540"]


def locate_fairface(split: str = "val") -> Path:
    for folder in fairface_candidates():
        if (folder / f"fairface_label_{split}.csv").is_file():
            return folder
    raise DatasetMissing("fairface", fairface_candidates(), FAIRFACE_HOW)


def read_fairface(root: str | Path | None = None, split: str = "val", *, check_files: bool = True) -> FairFaceIndex:
    """A FairFace label CSV (``file, age, gender[, race, service_test]``), every row checked."""
    if split not in ("train", "val"):
        raise ValueError(f"unknown FairFace split {split!r}; choose train or val")
    root = Path(root) if root else locate_fairface(split)
    path = root / f"fairface_label_{split}.csv"
    if not path.is_file():
        raise DatasetMissing("fairface", [path], FAIRFACE_HOW)
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if missing := [c for c in FAIRFACE_REQUIRED if c not in columns]:
            have = ", ".join(columns) or "none"
            raise DatasetCorrupt(f"{path}: missing column(s) {', '.join(missing)} (has: {have}; needs "
                                 f"{', '.join(FAIRFACE_REQUIRED)}, optionally race, service_test)")
        has_race = "race" in columns
        files, gender, age, race = [], [], [], []
        for lineno, row in enumerate(reader, 2):
            row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
            g = row["gender"].lower()
            if g not in CLASSES:
                raise DatasetCorrupt(f"{path}:{lineno}: gender {row['gender']!r} is not Male or Female")
            if check_files and not (root / row["file"]).is_file():
                raise DatasetCorrupt(f"{path}:{lineno}: image {root / row['file']} does not exist")
            files.append(row["file"])
            gender.append(CLASSES.index(g))
            age.append(row["age"])
            race.append(row.get("race", ""))
    if not files:
        raise DatasetCorrupt(f"{path}: no rows")
    return FairFaceIndex(root, tuple(files), np.asarray(gender, dtype=np.int64), tuple(age),
                         tuple(race) if has_race else None)


# --- the seed's Kaggle folders -------------------------------------------------------------------


def read_class_folders(folder: str | Path) -> tuple[list[Path], np.ndarray]:
    """Images under ``folder/{female,male}`` (any case, e.g. Female/Male): (paths, labels 0 male / 1 female)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetMissing("gender-kaggle", [folder], KAGGLE_HOW)
    found = {d.name.lower(): d for d in folder.iterdir() if d.is_dir()}
    if missing := [c for c in CLASSES if c not in found]:
        names = ", ".join(sorted(d.name for d in found.values())) or "none"
        raise DatasetCorrupt(f"{folder}: no class folder {' or '.join(missing)} (found: {names}; expected female and "
                             "male, any case; rename the biggest-gender-face folders to Female/Male as the seed says)")
    paths, labels = [], []
    for label, cls in enumerate(CLASSES):
        imgs = sorted(p for p in found[cls].rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not imgs:
            raise DatasetCorrupt(f"{found[cls]}: empty class folder (no {'/'.join(IMAGE_SUFFIXES)} image)")
        paths += imgs
        labels += [label] * len(imgs)
    return paths, np.asarray(labels, dtype=np.int64)


def kaggle_candidates() -> list[Path]:
    root = data_root()
    return [root / "gender-recognition", root / "gender-recognition-dataset"]


def read_kaggle(root: str | Path | None = None) -> dict[str, tuple[list[Path], np.ndarray]]:
    """The gender-recognition set: ``{"train": Training/, "val": Validation/}`` (the seed's split)."""
    if root is None:
        root = next((c for c in kaggle_candidates() if (c / "Training").is_dir()), None)
        if root is None:
            raise DatasetMissing("gender-kaggle", kaggle_candidates(), KAGGLE_HOW)
    root = Path(root)
    dirs = {d.name.lower(): d for d in root.iterdir() if d.is_dir()} if root.is_dir() else {}
    out = {}
    for split, name in (("train", "training"), ("val", "validation")):
        if name not in dirs:
            raise DatasetCorrupt(f"{root}: no {name.title()}/ folder (found: {', '.join(sorted(dirs)) or 'none'})")
        out[split] = read_class_folders(dirs[name])
    return out


# --- images: decode, crop, resize ----------------------------------------------------------------


def load_image(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB; greyscale, palette, CMYK and alpha images are converted; unreadable -> DatasetCorrupt."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, im)
            return np.array(im.convert("RGB"))  # a writable copy
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DatasetCorrupt(f"{path}: unreadable image ({exc})") from None


def crop_fraction(margin: float) -> float:
    """Share of the shorter side kept by :func:`face_crop` for images cut with dlib chip padding ``margin``."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    return min(1.0, (1 + 2 * REFERENCE_MARGIN) / (1 + 2 * margin))


def face_crop(image, size: int, margin: float = REFERENCE_MARGIN):
    """THE crop + resize rule: (H, W, 3) or (3, H, W) uint8 -> (3, size, size) uint8 tensor.

    Shorter side resized to ``round(size / crop_fraction(margin))``, then a centre crop of
    ``size`` x ``size`` (antialiased bilinear): the same two steps ``backbones.preprocess`` applies
    with the stored ``{"size": size, "resize": that}``, so the web app sees what training saw.
    """
    import torch
    from torchvision.transforms.v2 import functional as F

    x = torch.as_tensor(np.ascontiguousarray(image)) if isinstance(image, np.ndarray) else image
    if x.ndim == 3 and x.shape[-1] == 3 and x.shape[0] != 3:
        x = x.permute(2, 0, 1)  # (H, W, 3) -> (3, H, W)
    if x.dtype != torch.uint8 or x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"expected a uint8 RGB image, got {x.dtype} {tuple(x.shape)}")
    x = F.resize(x, resize_for(size, margin), antialias=True)
    return F.center_crop(x, [size, size])


def resize_for(size: int, margin: float) -> int:
    return round(size / crop_fraction(margin))


def preprocessing(size: int, margin: float, mean, std) -> dict:
    """The face rule for ``size`` and ``margin`` as the model store records it (``backbones.preprocess`` runs it)."""
    return {"size": size, "resize": resize_for(size, margin), "interpolation": "bilinear", "crop": "center",
            "resize_rule": "shorter side to `resize`, then a centre crop of `size` x `size` (dl_assign.data.faces."
                           f"face_crop, margin {margin}: crop fraction {crop_fraction(margin):.4f})",
            "scale": "RGB in [0, 1], then (x - mean) / std", "mean": list(mean), "std": list(std),
            "source": "dl_assign.data.faces.face_crop"}


def decode_all(paths, size: int, margin: float):
    """Every image decoded, face-cropped and resized into one (N, 3, size, size) uint8 tensor."""
    import torch

    x = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)
    for i, p in enumerate(paths):
        x[i] = face_crop(load_image(p), size, margin)
    return x


# --- dl-assign data rows -------------------------------------------------------------------------


@register_dataset("utkface")
def utk_status() -> DatasetStatus:
    looked = [str(p) for p in utk_candidates()]
    try:
        root = locate_utkface()
    except DatasetMissing:
        return DatasetStatus("utkface", False, "", looked, how_to_get=UTK_HOW)
    index = read_utkface(root)
    female = int(index.gender.sum())
    size = (f"{human_size(folder_size(root))}, {len(index):,} images ({len(index) - female:,} male / {female:,} female)"
            f", {len(index.skipped)} malformed name(s) skipped")
    return DatasetStatus("utkface", True, str(root), looked, size, index.identity, UTK_HOW)


@register_dataset("fairface")
def fairface_status() -> DatasetStatus:
    looked = [str(p) for p in fairface_candidates()]
    try:
        root = locate_fairface("val")
    except DatasetMissing:
        return DatasetStatus("fairface", False, "", looked, how_to_get=FAIRFACE_HOW)
    index = read_fairface(root, "val")
    female = int(index.gender.sum())
    size = (f"{human_size(folder_size(root))}, val {len(index):,} images ({len(index) - female} male / {female} "
            f"female), race column: {'yes' if index.race is not None else 'no'}")
    return DatasetStatus("fairface", True, str(root), looked, size, index.identity, FAIRFACE_HOW)


@register_dataset("gender-kaggle")
def kaggle_status() -> DatasetStatus:
    looked = [str(p) for p in kaggle_candidates()]
    try:
        splits = read_kaggle()
    except DatasetMissing:
        return DatasetStatus("gender-kaggle", False, "", looked, how_to_get=KAGGLE_HOW)
    root = next(c for c in kaggle_candidates() if (c / "Training").is_dir())
    size = ", ".join(f"{k} {len(v[1]):,}" for k, v in splits.items())
    return DatasetStatus("gender-kaggle", True, str(root), looked, size, "", KAGGLE_HOW)
