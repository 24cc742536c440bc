"""The model side of the server: preprocessing and inference, the face front end for face models,
and the low-priority thread for costly decodes (used by :class:`dl_assign.web.app.Serving`)."""

from __future__ import annotations

import contextlib
import os
import threading

import numpy as np
import torch

from dl_assign import store
from dl_assign.web.bodies import ApiError


def _lowest_priority() -> None:
    """Run this thread at nice 19 (Linux schedules threads separately): costly decodes yield the CPU."""
    with contextlib.suppress(AttributeError, OSError, PermissionError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)


def _infer(loaded: store.Loaded, x: torch.Tensor) -> torch.Tensor:
    """(B, 3, S, S) float -> (B, C) class probabilities, in inference mode."""
    with torch.inference_mode():
        return torch.softmax(loaded.model(x).float(), dim=1)


def _preprocess(loaded: store.Loaded, image: np.ndarray) -> torch.Tensor:
    from dl_assign.models.backbones import preprocess

    with torch.inference_mode():
        return preprocess(image, loaded.preprocessing)  # (1, 3, S, S), the stored eval transform


FACE_TARGET = 512  # a face model's upload is decoded to a short side of at least 1024 px (see Serving.decode)


def is_face_model(loaded: store.Loaded) -> bool:
    """Models of the ``faces.*`` tasks classify a face, so the serving path finds and aligns one first."""
    return str(loaded.meta.get("task", "")).startswith("faces")


def face_crop(image: np.ndarray, loaded: store.Loaded) -> tuple[np.ndarray, dict]:
    """The largest face of ``image``, aligned into a UTKFace-like chip (dl_assign.face, the same front end as
    ``dl-assign predict``), and what was found; :class:`ApiError` 422 when there is no face."""
    from dl_assign import face

    h, w = image.shape[:2]
    try:
        crop, found = face.largest_face_crop(image, face.UTK_CHIP)
    except face.NoFaceError:
        raise ApiError(422, f"no face found in the image ({w} x {h} px as decoded): {loaded.meta.get('task')}/"
                            f"{loaded.meta.get('name')} classifies faces and does not guess from the background; "
                            f"upload a photo in which a face is visible", face=None) from None
    except face.DetectorUnavailable as exc:
        raise ApiError(503, f"the face detector is not installed here ({exc}); pip install -e '.[faces]'") from None
    view = {"box": list(found.box), "score": float(found.score), "detector": found.detector,
            "landmarks": [list(map(float, p)) for p in found.landmarks], "image_size": [w, h],
            "frame": "pixels of the image as decoded (EXIF-rotated, reduced to image_size)"}
    return crop, view


def input_size(loaded_or_meta) -> int:
    prep = loaded_or_meta.preprocessing if hasattr(loaded_or_meta, "preprocessing") else loaded_or_meta["preprocessing"]
    return int(prep["size"])
