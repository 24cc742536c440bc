"""Scenes: held-out UTKFace test faces pasted into Tiny-ImageNet backgrounds, rebuilt from a seed.

Each scene is one Tiny-ImageNet validation image upscaled (bicubic) to ``size`` x ``size`` px with one
UTKFace test chip (the split every gender experiment tests on: ``faces.split_utkface(index, 0)["test"]``)
pasted in: scaled so that the chip (the face: UTKFace's 200 px chips are cut tight around it, dlib's and
MTCNN's boxes cover the chip) is 8 % to 40 % of the image height, rotated by up to 15 degrees either way,
at a uniform position where it lies whole inside the image, its edges feathered over 6 % of its side so
no hard square is left. Kept per scene: the true gender, the pasted box (the axis-aligned box of the rotated
chip, x1/y1 exclusive), the angle and scale, and where both parts came from.

Nothing is written anywhere: :func:`build` makes the scenes in memory (about 0.8 MB each at 512 px).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from dl_assign.data import faces as fd
from dl_assign.data import tinyimagenet as tin

SIZE = 512
FACE_FRACTION = (0.08, 0.40)  # chip side / image height
MAX_ANGLE = 15.0  # degrees, either way
FEATHER = 0.06  # share of the chip's side over which its edge fades into the background
SPLIT_SEED = 0  # the gender experiments' UTKFace split (experiments/faces/common.FacesConfig.split_seed)


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # (size, size, 3) uint8 RGB
    gender: int  # 0 male, 1 female (data.faces.CLASSES)
    box: tuple[int, int, int, int]  # the pasted face: x0, y0, x1, y1 (exclusive)
    angle: float  # degrees, counter-clockwise
    face_fraction: float  # chip side / image height
    face_file: str  # the UTKFace file
    background_file: str  # the Tiny-ImageNet val file


def _feather_mask(side: int) -> Image.Image:
    """An ``L`` mask, 255 inside, fading to 0 over ``FEATHER * side`` at every edge."""
    ramp = max(1, round(FEATHER * side))
    d = np.minimum.outer(np.minimum(np.arange(side), np.arange(side)[::-1]),
                         np.minimum(np.arange(side), np.arange(side)[::-1]))  # distance to the nearest edge
    return Image.fromarray(np.clip((d + 0.5) / ramp * 255, 0, 255).astype(np.uint8), "L")


def compose(face: np.ndarray, background: np.ndarray, rng: np.random.Generator, *, size: int = SIZE,
            face_fraction: tuple[float, float] = FACE_FRACTION, max_angle: float = MAX_ANGLE
            ) -> tuple[np.ndarray, tuple[int, int, int, int], float, float]:
    """Paste the square ``face`` chip into ``background`` (upscaled to ``size``): (image, box, angle, fraction)."""
    frac = float(rng.uniform(*face_fraction))
    angle = float(rng.uniform(-max_angle, max_angle))
    side = max(8, round(frac * size))
    bg = Image.fromarray(np.asarray(background, np.uint8)).convert("RGB").resize((size, size), Image.BICUBIC)
    chip = Image.fromarray(np.asarray(face, np.uint8)).convert("RGB").resize((side, side), Image.BILINEAR)
    mask = _feather_mask(side)
    solid = Image.new("L", (side, side), 255)  # the chip's own extent, for the box
    chip = chip.rotate(angle, resample=Image.BICUBIC, expand=True)
    mask = mask.rotate(angle, resample=Image.BILINEAR, expand=True)
    solid = solid.rotate(angle, resample=Image.NEAREST, expand=True)
    w, h = chip.size
    x = int(rng.integers(0, size - w + 1))
    y = int(rng.integers(0, size - h + 1))
    bg.paste(chip, (x, y), mask)
    bx0, by0, bx1, by1 = solid.getbbox()
    return np.array(bg), (x + bx0, y + by0, x + bx1, y + by1), angle, frac


def test_faces(index: fd.UTKIndex | None = None) -> tuple[fd.UTKIndex, np.ndarray]:
    """The UTKFace index and the rows of its test split (the gender experiments' split)."""
    index = index or fd.read_utkface()
    return index, fd.split_utkface(index, SPLIT_SEED)["test"]


def build(n: int, seed: int = 0, *, size: int = SIZE) -> list[Scene]:
    """``n`` scenes, the same for the same ``seed`` and data: faces drawn without replacement from the test split,
    backgrounds from Tiny-ImageNet's validation images."""
    index, rows = test_faces()
    tiny = tin.locate()
    backs = sorted(b.file for b in tin.read_val_boxes(tiny))
    if n > len(rows):
        raise ValueError(f"{n} scenes asked for, the UTKFace test split has {len(rows)} faces")
    rng = np.random.default_rng(seed)
    faces = rng.choice(rows, n, replace=False)
    bg_pick = rng.choice(len(backs), n, replace=n > len(backs))
    out = []
    for i, b in zip(faces, bg_pick):
        img, box, angle, frac = compose(fd.load_image(index.root / index.files[i]), tin.load_image(tiny, backs[b]),
                                        rng, size=size)
        out.append(Scene(img, int(index.gender[i]), box, angle, frac, index.files[i], backs[b]))
    return out
