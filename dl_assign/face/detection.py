"""Face detectors with five landmarks: ``detect(image, detector=...) -> list[Face]`` (largest first).

Detectors (each offline, weights from an installed wheel):

* ``mtcnn``: facenet-pytorch's MTCNN (P/R/O-Net weights in its wheel): boxes, scores and its own 5 points.
* ``dlib_hog``: dlib's HOG + linear SVM frontal detector (no weights file).
* ``dlib_cnn``: dlib's MMOD CNN detector (``mmod_human_face_detector.dat`` from face-recognition-models).

The dlib detectors give boxes only; their five points come from dlib's 68-point shape predictor
(face-recognition-models) run in the box: eye centres = mean of the 6 points around each eye, the nose tip
(point 30) and the mouth corners (48, 54). dlib's 5-point predictor is not used for this: it marks eye
corners and the base of the nose, not the mouth, so its "mouth corners" would have to be invented.

Not offered, for reasons :func:`unavailable` checks on the installed packages: OpenCV's YuNet
(``cv2.FaceDetectorYN`` is there, but no wheel ships its ``face_detection_yunet*.onnx`` weights, so it
cannot run offline) and OpenCV's Haar cascades (opencv-python-headless 5.x has no ``CascadeClassifier``
and ``cv2.data`` holds no cascade files).

Points are in image coordinates, "left" meaning the image's left (the person's right eye), the order
of MTCNN and the ArcFace template: left eye, right eye, nose, left mouth corner, right mouth corner.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import types
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

DETECTORS = ("mtcnn", "dlib_hog", "dlib_cnn")
DEFAULT_DETECTOR = "mtcnn"  # chosen by results/faces.detectors.json (rule: experiments/faces/detectors.py)
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
_LOCK = threading.Lock()  # the dlib/torch detector objects are built once, shared, and not re-entrant


class NoFaceError(ValueError):
    """No face was found in the image."""


class DetectorUnavailable(RuntimeError):
    """A detector's package or weights are not installed."""


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (pixels; x1, y1 exclusive)
    landmarks: tuple[tuple[float, float], ...]  # 5 (x, y): LANDMARKS order
    score: float
    detector: str

    @property
    def area(self) -> int:
        x0, y0, x1, y1 = self.box
        return max(0, x1 - x0) * max(0, y1 - y0)

    @property
    def points(self) -> np.ndarray:
        return np.asarray(self.landmarks, dtype=np.float64)  # (5, 2)


def _package_dir(name: str) -> Path:
    """A package's folder found without importing it (face_recognition_models imports pkg_resources, which
    setuptools >= 81 no longer has; facenet_pytorch's __init__ imports requests, absent under --no-deps)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise DetectorUnavailable(f"the package {name} is not installed (pip install -e '.[faces]'; "
                                  "facenet-pytorch with --no-deps, as the Makefile does)")
    return Path(next(iter(spec.submodule_search_locations)))


def model_file(name: str) -> Path:
    """A face-recognition-models weights file, e.g. ``shape_predictor_68_face_landmarks.dat``."""
    path = _package_dir("face_recognition_models") / "models" / name
    if not path.is_file():
        raise DetectorUnavailable(f"{path} is missing (reinstall face-recognition-models)")
    return path


def _mtcnn_module():
    """facenet_pytorch.models.mtcnn loaded under a private package name, without the package's __init__
    (which imports InceptionResnetV1 and through it ``requests``, for weight downloads MTCNN never makes)."""
    alias = "_dl_assign_facenet"
    if f"{alias}.models.mtcnn" in sys.modules:
        return sys.modules[f"{alias}.models.mtcnn"]
    root = _package_dir("facenet_pytorch")
    pkg = types.ModuleType(alias)
    pkg.__path__ = [str(root)]  # submodules resolve in the real folder; models/ is a namespace package
    sys.modules[alias] = pkg
    return importlib.import_module(f"{alias}.models.mtcnn")


@cache
def _build(name: str):
    if name == "mtcnn":
        # min_face_size 20 px: MTCNN's default; keep_all so that every face is returned
        return _mtcnn_module().MTCNN(keep_all=True, min_face_size=20, device="cpu")
    if name in ("dlib_hog", "dlib_cnn"):
        import dlib

        if name == "dlib_hog":
            return dlib.get_frontal_face_detector()
        return dlib.cnn_face_detection_model_v1(str(model_file("mmod_human_face_detector.dat")))
    raise ValueError(f"unknown face detector {name!r}; choose one of {', '.join(DETECTORS)}")


@lru_cache(maxsize=1)
def _shape_predictor():
    import dlib

    return dlib.shape_predictor(str(model_file("shape_predictor_68_face_landmarks.dat")))


def _five_from_68(image: np.ndarray, box: tuple[int, int, int, int]) -> tuple[tuple[float, float], ...]:
    import dlib

    shape = _shape_predictor()(image, dlib.rectangle(*box))
    p = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float64)
    five = (p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54])
    return tuple((float(x), float(y)) for x, y in five)


def _check_image(image) -> np.ndarray:
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3 or min(a.shape[:2]) < 1:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {a.dtype} {a.shape}")
    return np.ascontiguousarray(a)


def _raw(name: str, image: np.ndarray, upsample: int) -> list[tuple[tuple[int, int, int, int], float, tuple | None]]:
    """(box, score, five points or None) per face, as the detector gives them."""
    det = _build(name)
    h, w = image.shape[:2]
    out = []
    if name == "mtcnn":
        import torch

        with torch.inference_mode():
            boxes, probs, points = det.detect(image, landmarks=True)
        for b, p, pts in zip(boxes if boxes is not None else [], probs if probs is not None else [],
                             points if points is not None else []):
            out.append(((int(round(b[0])), int(round(b[1])), int(round(b[2])), int(round(b[3]))), float(p),
                        tuple((float(x), float(y)) for x, y in pts)))
    elif name == "dlib_hog":
        rects, scores, _ = det.run(image, upsample, 0.0)
        out = [((r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(s), None) for r, s in zip(rects, scores)]
    else:  # dlib_cnn
        out = [((d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1), float(d.confidence), None)
               for d in det(image, upsample)]
    clipped = []
    for (x0, y0, x1, y1), s, pts in out:
        box = (max(0, x0), max(0, y0), min(w, x1), min(h, y1))
        if box[2] > box[0] and box[3] > box[1]:
            clipped.append((box, s, pts))
    return clipped


def detect(image: np.ndarray, detector: str = DEFAULT_DETECTOR, *, upsample: int = 1) -> list[Face]:
    """Every face in an (H, W, 3) uint8 RGB image with its 5 landmarks, largest box first.

    ``upsample``: how many times dlib's detectors double the image first (1 finds faces down to ~40 px
    with HOG); MTCNN searches every scale down to 20 px itself and ignore it.
    """
    if detector not in DETECTORS:
        raise ValueError(f"unknown face detector {detector!r}; choose one of {', '.join(DETECTORS)}")
    image = _check_image(image)
    with _LOCK:
        raw = _raw(detector, image, upsample)
        faces = [Face(box, pts if pts is not None else _five_from_68(image, box), s, detector) for box, s, pts in raw]
    return sorted(faces, key=lambda f: (-f.area, -f.score))


def largest_face(image: np.ndarray, detector: str = DEFAULT_DETECTOR, **kw) -> Face:
    """The largest face, or :class:`NoFaceError`."""
    faces = detect(image, detector, **kw)
    if not faces:
        h, w = np.asarray(image).shape[:2]
        raise NoFaceError(f"no face found in the {w} x {h} image (detector {detector})")
    return faces[0]


def iou(a, b) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def unavailable() -> dict[str, str]:
    """The candidate detectors that cannot run here, each with the reason found on the installed packages."""
    out = {}
    try:
        import cv2
    except ImportError:
        return {"yunet": "opencv-python-headless is not installed", "haar": "opencv-python-headless is not installed"}
    cv2_dir = Path(cv2.__file__).parent
    onnx = sorted(p.name for p in cv2_dir.rglob("*yunet*.onnx"))
    if not onnx:
        out["yunet"] = (f"cv2.FaceDetectorYN {'exists' if hasattr(cv2, 'FaceDetectorYN') else 'is missing'} in "
                        f"OpenCV {cv2.__version__}, but no face_detection_yunet*.onnx weights are installed (none in "
                        "any wheel here; they are a download from the OpenCV zoo), so it cannot run offline")
    cascades = sorted(p.name for p in cv2_dir.rglob("haarcascade_frontalface*.xml"))
    if not hasattr(cv2, "CascadeClassifier") or not cascades:
        out["haar"] = (f"OpenCV {cv2.__version__}: CascadeClassifier "
                       f"{'exists' if hasattr(cv2, 'CascadeClassifier') else 'is not in this build'}, "
                       f"{len(cascades)} frontal-face cascade file(s) in cv2.data")
    return out
