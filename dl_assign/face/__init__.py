"""The face front end: detect faces with 5 landmarks, align the largest to a UTKFace-like chip.

``largest_face_crop(image, size)`` is what the web app and ``dl-assign predict`` call for ``faces.*``
models: the largest detected face, aligned (``alignment.TEMPLATE``), or :class:`NoFaceError`.
"""

from __future__ import annotations

import numpy as np

from dl_assign.face.alignment import TEMPLATE, UTK_CHIP, align
from dl_assign.face.detection import (
    DEFAULT_DETECTOR,
    DETECTORS,
    LANDMARKS,
    DetectorUnavailable,
    Face,
    NoFaceError,
    detect,
    iou,
    largest_face,
)

__all__ = ["DEFAULT_DETECTOR", "DETECTORS", "LANDMARKS", "TEMPLATE", "UTK_CHIP", "DetectorUnavailable", "Face",
           "NoFaceError", "align", "detect", "iou", "largest_face", "largest_face_crop"]


def largest_face_crop(image: np.ndarray, size: int = UTK_CHIP, detector: str = DEFAULT_DETECTOR
                      ) -> tuple[np.ndarray, Face]:
    """``(crop, face)``: the largest face of ``image`` aligned into a ``size`` x ``size`` uint8 chip."""
    face = largest_face(image, detector)
    return align(image, face, size), face
