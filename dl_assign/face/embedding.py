"""Face embeddings: dlib's ResNet face descriptor (128-d) on the chip dlib cuts around five landmarks.

The network is ``dlib_face_recognition_resnet_model_v1.dat`` from face-recognition-models: a 29-layer
ResNet that dlib trained for face *identity* (about 3 million faces; 99.38 % on LFW pairs, as its
author reports). It was never trained on gender; a linear read-out of its 128 numbers is the transfer.

How one face becomes 128 numbers (:func:`embed`):

1. a face box: dlib's HOG detector first (the boxes dlib's landmark model was trained on), MTCNN's
   box where HOG finds none, and for a UTKFace chip that neither finds, :data:`UTK_FALLBACK_BOX`
   (the median HOG box over 94 of 100 chips, every 200th file). What was used is recorded per image.
2. dlib's 5-point landmark model (``shape_predictor_5_face_landmarks.dat``: eye corners, nose base)
   in that box, then dlib's own 150 px chip (padding 0.25) and the descriptor, no jitter.

:class:`EmbeddingCache` keeps descriptors on disk keyed by the SHA-256 of each image's bytes (or
pixels) and the rule above, so a renamed file hits, an edited one does not, and training on them
takes seconds. :func:`embed_many` fills it with worker processes, one dlib thread each.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from dl_assign.face.detection import DetectorUnavailable, NoFaceError, detect, model_file

DIM = 128
RULE = "dlib_hog>mtcnn>utk_fallback; shape_predictor_5; chip 150 padding 0.25; jitter 0; v1"
UTK_FALLBACK_BOX = (12, 12, 181, 168)  # x0, y0, x1, y1 (exclusive) in a 200 px UTKFace chip
HOW = ("dlib_hog", "mtcnn", "fallback")  # how the box was found (codes 0, 1, 2)


@lru_cache(maxsize=1)
def _models():
    try:
        import dlib
    except ImportError as exc:
        raise DetectorUnavailable("dlib is not installed (pip install -e '.[faces]')") from exc
    return (dlib.shape_predictor(str(model_file("shape_predictor_5_face_landmarks.dat"))),
            dlib.face_recognition_model_v1(str(model_file("dlib_face_recognition_resnet_model_v1.dat"))))


def face_box(image: np.ndarray, *, utk_chip: bool = False) -> tuple[tuple[int, int, int, int], int]:
    """The largest face's box and how it was found (an index into :data:`HOW`), or :class:`NoFaceError`."""
    for code, name in enumerate(HOW[:2]):
        faces = detect(image, name, upsample=0 if utk_chip else 1)
        if faces:
            return faces[0].box, code
    if utk_chip:
        return UTK_FALLBACK_BOX, 2
    h, w = image.shape[:2]
    raise NoFaceError(f"no face found in the {w} x {h} image (dlib HOG, then MTCNN)")


def embed(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The (128,) float32 descriptor of the face in ``box`` (x0, y0, x1, y1 exclusive) of an RGB uint8 image."""
    import dlib

    shape_predictor, net = _models()
    image = np.ascontiguousarray(image, dtype=np.uint8)
    shape = shape_predictor(image, dlib.rectangle(int(box[0]), int(box[1]), int(box[2]) - 1, int(box[3]) - 1))
    return np.asarray(net.compute_face_descriptor(image, shape, 0, 0.25), dtype=np.float32)


def embed_image(image: np.ndarray, *, utk_chip: bool = False) -> tuple[np.ndarray, int]:
    """Detect, then embed: ``(descriptor, how)``; :class:`NoFaceError` when no face is found."""
    box, how = face_box(image, utk_chip=utk_chip)
    return embed(image, box), how


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


class EmbeddingCache:
    """Descriptors by content hash, in one ``.npz`` per rule under ``folder`` (written atomically)."""

    def __init__(self, folder: str | Path | None):
        rule = hashlib.sha256(RULE.encode()).hexdigest()[:12]
        self.path = None if folder is None else Path(folder) / f"dlib-embeddings-{rule}.npz"
        self.table: dict[str, tuple[np.ndarray, int]] = {}
        if self.path is not None and self.path.is_file():
            try:
                with np.load(self.path) as z:
                    self.table = {k: (e, int(h)) for k, e, h in zip(z["keys"].tolist(), z["emb"], z["how"])}
            except (OSError, ValueError, KeyError):  # damaged: start again
                self.table = {}

    def save(self) -> None:
        if self.path is None or not self.table:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keys = sorted(self.table)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, keys=np.array(keys), emb=np.stack([self.table[k][0] for k in keys]),
                 how=np.array([self.table[k][1] for k in keys], dtype=np.int8))
        os.replace(tmp, self.path)


def _work(item: tuple[int, bytes | str, bool]):
    """One image in a worker: (position, descriptor or None, how or -1)."""
    i, source, utk_chip = item
    from dl_assign.data.faces import load_image

    image = load_image(source) if isinstance(source, str) else np.load(_bytes_io(source))
    try:
        e, how = embed_image(image, utk_chip=utk_chip)
        return i, e, how
    except NoFaceError:
        return i, None, -1


def _bytes_io(data: bytes):
    import io

    return io.BytesIO(data)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # MTCNN's fallback: one thread per worker process


def embed_many(sources: Sequence[str | Path | np.ndarray], cache: EmbeddingCache, *, utk_chip: bool = False,
               workers: int = 2, progress: Callable[[int, int], None] | None = None
               ) -> tuple[np.ndarray, np.ndarray, dict]:
    """Descriptors of image files or RGB arrays, from the cache where their content is known.

    Returns ``(emb (N, 128) float32, how (N,) int8: -1 = no face)``, and ``{"hits", "computed", "seconds"}``.
    A missed face gets a row of NaN. ``workers`` processes (spawned, one thread each) do the new ones.
    """
    t0 = time.perf_counter()
    keys, todo = [], []
    for i, s in enumerate(sources):
        if isinstance(s, np.ndarray):
            buf = _bytes_io(b"")
            np.save(buf, np.ascontiguousarray(s, dtype=np.uint8))
            payload = buf.getvalue()
            key = content_key(payload)
        else:
            payload = str(s)
            key = content_key(Path(s).read_bytes())
        keys.append(key)
        if key not in cache.table:
            todo.append((i, payload, utk_chip))
    emb = np.full((len(sources), DIM), np.nan, dtype=np.float32)
    how = np.full(len(sources), -1, dtype=np.int8)
    for i, k in enumerate(keys):
        if k in cache.table:
            emb[i], how[i] = cache.table[k]
    done = 0
    if todo:
        results = _run(todo, workers)
        for i, e, h in results:
            if e is not None:
                emb[i], how[i] = e, h
            cache.table[keys[i]] = (emb[i].copy(), int(how[i]))
            done += 1
            if progress and (done % 200 == 0 or done == len(todo)):
                progress(done, len(todo))
        cache.save()
    return emb, how, {"hits": len(sources) - len(todo), "computed": len(todo), "seconds": time.perf_counter() - t0}


def _run(todo, workers: int):
    if workers <= 1 or len(todo) < 64:
        yield from map(_work, todo)
        return
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap_unordered(_work, todo, chunksize=32)


def fit_readout(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                cs: Sequence[float] = (0.01, 0.1, 1.0, 10.0)):
    """A logistic regression on standardised descriptors, its inverse regularisation ``C`` chosen by validation
    AUC: ``(model, C, {C: val AUC})``. ``model.predict_proba(x)[:, 1]`` is P(label 1)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if not np.isfinite(x_train).all():
        raise ValueError("training descriptors hold NaN (faces not found): drop those rows first")
    found = np.isfinite(x_val).all(1)
    fits, aucs = {}, {}
    for c in cs:
        m = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        m.fit(x_train, y_train)
        fits[c] = m
        aucs[c] = float(roc_auc_score(y_val[found], m.predict_proba(x_val[found])[:, 1]))
    best = max(cs, key=lambda c: (aucs[c], -c))
    return fits[best], best, aucs


def readout_scores(model, x: np.ndarray, missing: float = 0.5) -> np.ndarray:
    """P(label 1) per row; rows without a face (NaN) get ``missing`` (they are counted, never dropped)."""
    p = np.full(len(x), missing, dtype=np.float64)
    found = np.isfinite(x).all(1)
    if found.any():
        p[found] = model.predict_proba(x[found])[:, 1]
    return p
