"""IP102 v1.1 layout: ``images/``, ``train.txt``/``val.txt``/``test.txt`` (``<file> <label>``,
0-based labels) and ``classes.txt`` (``<n> <name>``, 1-based).

Runs on the 14-class ``pests14/ip102_v1.1`` stand-in here and on the real IP102 (102 classes)
for users who have it. Every split line is checked when the dataset is built: a missing image
or a label out of range raises DatasetCorrupt naming the file and line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

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

NAME = "ip102"
SPLITS = ("train", "val", "test")
HOW_TO_GET = (
    "unpack the IP102 v1.1 classification archive so that <data root>/ip102_v1.1/ holds images/, "
    "train.txt, val.txt, test.txt and classes.txt (https://github.com/xpwu95/IP102); for "
    "development the 14-class stand-in unpacks to <data root>/pests14/ip102_v1.1/"
)


def candidate_dirs() -> list[Path]:
    root = data_root()
    return [root / "ip102_v1.1", root / "IP102" / "ip102_v1.1", root / "pests14" / "ip102_v1.1"]


def _is_ip102(folder: Path) -> bool:
    return (folder / "images").is_dir() and (folder / "classes.txt").is_file() and all(
        (folder / f"{s}.txt").is_file() for s in SPLITS)


def locate() -> Path:
    looked = candidate_dirs()
    for folder in looked:
        if _is_ip102(folder):
            return folder
    raise DatasetMissing(NAME, looked, HOW_TO_GET)


def read_classes(root: Path) -> list[str]:
    """Class names in label order from ``classes.txt`` (``<n> <name>``, n 1-based)."""
    names: dict[int, str] = {}
    for lineno, line in enumerate((root / "classes.txt").read_text().splitlines(), 1):
        if not line.strip():
            continue
        number, _, name = line.strip().partition(" ")
        if not number.isdigit() or not name.strip():
            raise DatasetCorrupt(f"{root / 'classes.txt'}:{lineno}: expected '<n> <name>', got {line!r}")
        names[int(number)] = name.strip()
    if sorted(names) != list(range(1, len(names) + 1)):
        raise DatasetCorrupt(f"{root / 'classes.txt'}: class numbers must run 1..{len(names)}")
    return [names[i] for i in range(1, len(names) + 1)]


def read_split(root: Path, split: str, n_classes: int) -> list[tuple[str, int]]:
    """``(file, label)`` pairs of a split file, every image and label checked."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    path = root / f"{split}.txt"
    items = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
            raise DatasetCorrupt(f"{path}:{lineno}: expected '<file> <label>', got {line!r}")
        name, label = parts[0], int(parts[1])
        if not 0 <= label < n_classes:
            raise DatasetCorrupt(f"{path}:{lineno}: label {label} out of range 0..{n_classes - 1}")
        if not (root / "images" / name).is_file():
            raise DatasetCorrupt(f"{path}:{lineno}: image {root / 'images' / name} does not exist")
        items.append((name, label))
    return items


class IP102Dataset:
    """A torch-style dataset of ``(image, label)``; ``transform`` maps a PIL RGB image.

    ``cache=True`` keeps decoded images in memory (worth it for small sets like pests14).
    """

    def __init__(self, root: str | Path | None = None, split: str = "train",
                 transform: Callable | None = None, cache: bool = False):
        self.root = Path(root) if root else locate()
        self.classes = read_classes(self.root)
        self.items = read_split(self.root, split, len(self.classes))
        self.split, self.transform, self.cache = split, transform, cache
        self._cache: dict[int, object] = {}

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.items]

    def __len__(self) -> int:
        return len(self.items)

    def load_image(self, index: int):
        from PIL import Image, UnidentifiedImageError

        if index in self._cache:
            return self._cache[index]
        path = self.root / "images" / self.items[index][0]
        try:
            with Image.open(path) as im:
                image = im.convert("RGB")
        except (UnidentifiedImageError, OSError) as exc:
            raise DatasetCorrupt(f"{path}: unreadable image ({exc})") from None
        if self.cache:
            self._cache[index] = image
        return image

    def __getitem__(self, index: int):
        image = self.load_image(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.items[index][1]


STAND_IN = "pests14"  # the 14-class development stand-in's name: what results report as their dataset
STAND_IN_WHY = (
    "IP102 (102 classes, ~75,000 field photos) is not in this workplace; pests14 is 14 pest classes in IP102's v1.1 "
    "layout, 64x64 images taken from Tiny-ImageNet/ImageNet. Expected change: far easier than IP102 (chance 1/14, "
    "not 1/102; an ImageNet-pretrained backbone may have seen these images), so its accuracies are not comparable "
    "with IP102's published ones (Wu et al., CVPR 2019: ResNet-50 49.4% top-1 on 102 classes)")


def dataset_name(root: Path) -> str:
    """``pests14`` for the stand-in (its folder is ``pests14/ip102_v1.1``), ``ip102`` for the real set."""
    return STAND_IN if STAND_IN in Path(root).parts else NAME


def info(root: Path) -> dict:
    """The result records' ``dataset`` block: the real name; on the stand-in what it replaces and why."""
    listing = "".join(sorted((root / f"{s}.txt").read_text() for s in SPLITS))
    digest = hashlib.sha256(listing.encode()).hexdigest()[:16]
    out = {"name": dataset_name(root), "source": str(root), "identity": f"sha256(split files)={digest}",
           "classes": len(read_classes(root))}
    if out["name"] == STAND_IN:
        out |= {"stands_in_for": NAME, "why": STAND_IN_WHY}
    return out


def _describe(root: Path) -> tuple[str, str]:
    meta = info(root)
    counts = {s: sum(1 for line in (root / f"{s}.txt").read_text().splitlines() if line.strip()) for s in SPLITS}
    size = f"{human_size(folder_size(root / 'images'))}, {meta['classes']} classes, " + \
        "/".join(str(counts[s]) for s in SPLITS) + " train/val/test"
    return size, meta["identity"]


@register_dataset(NAME)
def status() -> DatasetStatus:
    return located_status(NAME, candidate_dirs(), locate, _describe, HOW_TO_GET)
