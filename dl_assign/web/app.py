"""The model server: its own API, the Open Inference Protocol (KServe v2) and TorchServe's inference
routes, and the page, over the versioned model store.

Own API: ``GET /api/models`` (with ``default``, the best model by validation metric),
``GET /api/models/{task}/{model}/{version}`` (a model's name is ``task/model``), ``POST /api/predict``
(multipart: ``file``, ``model``, ``version`` = latest, ``top_k`` = 5), ``GET /healthz``. The other two
protocols are in :mod:`dl_assign.web.protocols`. OpenAPI at ``/openapi.json``; ``/docs`` and ``/redoc``
are served from fastapi-offline's bundled assets (no CDN); ``/`` is the page.

Bad input gets a JSON body ``{"error": "<what was wrong, in words>", "status": <code>}`` and never a
500 (HTTP-level errors too: see :class:`dl_assign.web.server.JsonErrorH11Protocol`). An upload is
parsed from the request stream in memory (never written to disk) and refused with 413 as soon as it
passes ``max_upload_bytes``. An image is refused with 413 from its header when it has more than
``max_pixels`` pixels; a JPEG decodes at a reduced DCT scale. Decodes that still cost more than
``HEAVY_PIXELS`` run on a thread of their own at the lowest CPU priority (at most ``heavy_decodes``
at once, ``MAX_HEAVY_WAITING`` waiting, else 503), so they cannot queue or starve normal requests.
Models are loaded into a bounded LRU cache, warmed up at server start; decoding and inference run in
worker threads (at most ``inference_workers`` at once, under ``torch.inference_mode()``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from dl_assign import store
from dl_assign.web.bodies import ApiError, _error, parse_top_k, read_form
from dl_assign.web.images import MAX_PIXELS, ImageError, decode_cost, finish, open_image
from dl_assign.web.inference import (
    FACE_TARGET,
    _infer,
    _lowest_priority,
    _preprocess,
    face_crop,
    input_size,
    is_face_model,
)

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MiB: a large phone photo; a bigger body is refused unread
HEAVY_PIXELS = 4_000_000  # decodes above this (after a JPEG's DCT scaling) go to the low-priority lane
MAX_HEAVY_WAITING = 8  # costly decodes queued beyond this are refused with 503 and Retry-After
MAX_BATCH = 16  # images or tensors in one /v2 infer request
# the validation metrics that choose the default model, best first; test metrics are never used to choose
VALIDATION_METRICS = ("val_accuracy", "val_auc", "val_macro_f1")
# what the page says when the store is empty: the two quick ways to fill it (README "First five minutes")
EMPTY_STORE_HINT = ("The model store is empty. In seconds, with no training: `dl-assign pretrained` stores the "
                    "ImageNet EfficientNet-Lite0 (1000 classes) from the offline weights (`make serve` does it "
                    "and starts the server). In about a minute: `dl-assign run pests.transfer_mobilenet_v2 "
                    "--budget smoke` trains a small pest classifier (needs the pests data, see `dl-assign data`). "
                    "Then reload this page.")



class ModelCache:
    """At most ``size`` loaded models, least recently used evicted; one load per key at a time."""

    def __init__(self, root: Path, size: int = 4):
        self.root, self.size = root, size
        self._models: OrderedDict[tuple[str, str, int], store.Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, task: str, model: str, version: int) -> store.Loaded:
        key = (task, model, version)
        with self._lock:  # loads are rare and short; holding the lock keeps one copy per key
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            loaded = store.load(task, model, version, root=self.root)
            self.loads += 1
            self._models[key] = loaded
            while len(self._models) > self.size:
                self._models.popitem(last=False)
            return loaded

    def keys(self) -> list[str]:
        with self._lock:
            return [f"{t}/{m}/{v}" for t, m, v in self._models]


# --- the store, as the API shows it ------------------------------------------------------------


def _meta(vdir: Path) -> dict:
    return store._read_meta(vdir)  # the store's own reader: same checks, same messages


def _version_view(meta: dict) -> dict:
    keep = ("version", "metrics", "experiment", "budget", "seed", "created", "params", "sha256", "bytes")
    metrics = meta.get("metrics", {})
    return {k: meta.get(k) for k in keep} | {"test_accuracy": store._metric(metrics, "test_accuracy"),
                                             "validation": _validation(metrics),
                                             "duplicate_of": meta.get("duplicate_of")}


def _validation(metrics: dict) -> dict | None:
    """``{metric, value}``: the first of :data:`VALIDATION_METRICS` the version recorded, or None."""
    for key in VALIDATION_METRICS:
        value = store._metric(metrics, key)
        if value is not None:
            return {"metric": key, "value": value}
    return None


def default_model(view: list[dict]) -> str | None:
    """``task/model@version`` with the highest validation metric (a model's versions included), or, when
    no version recorded one, the latest version of the first model; None for an empty store. Versions
    marked as duplicates are skipped."""
    best, best_value = None, -1.0
    for m in view:
        for v in m["versions"]:
            val = v.get("validation")
            if val is not None and v.get("duplicate_of") is None and val["value"] > best_value:
                best, best_value = f"{m['name']}@{v['version']}", val["value"]
    if best is None and view:
        best = f"{view[0]['name']}@{view[0]['latest']}"
    return best


def list_view(root: Path) -> list[dict]:
    """Every stored model with a complete version: name, task, versions, classes, metrics, preprocessing."""
    out = []
    for rec in store.list_models(root):
        if not rec.versions:
            continue
        versions = []
        for v in rec.versions:
            try:
                versions.append(_version_view(_meta(root / rec.task / rec.model / str(v))))
            except store.StoreError:
                continue
        if not versions:
            continue
        latest = _meta(root / rec.task / rec.model / str(versions[-1]["version"]))
        out.append({"name": f"{rec.task}/{rec.model}", "task": rec.task, "model": rec.model,
                    "versions": versions, "latest": versions[-1]["version"], "classes": latest["classes"],
                    "metrics": latest.get("metrics", {}), "preprocessing": latest["preprocessing"]})
    return out


def _names(root: Path) -> list[str]:
    return [f"{r.task}/{r.model}" for r in store.list_models(root) if r.versions]


def find(root: Path, name: str, version: str | int = "latest") -> tuple[str, str, int]:
    """``(task, model, version)`` for an API model name (``task/model``, or a model name unique in the
    store) and version; 404 naming what exists. Names are checked before any path is built."""
    known = _names(root)
    parts = name.split("/") if isinstance(name, str) else []
    if len(parts) == 1 and parts[0]:
        matches = [k for k in known if k.split("/")[1] == parts[0]]
        parts = matches[0].split("/") if len(matches) == 1 else parts
    if len(parts) != 2 or not all(store._NAME.match(p) and ".." not in p for p in parts):
        raise ApiError(404, f"no model {name!r} in the store (names are task/model); stored: "
                            f"{', '.join(known) or 'none'}", models=known)
    task, model = parts
    try:
        vdir = store.resolve(task, model, version, root=root)
    except store.UnsafeName:
        raise ApiError(404, f"no model {name!r} in the store; stored: {', '.join(known) or 'none'}",
                       models=known) from None
    except store.IncompleteVersion as exc:
        raise ApiError(404, f"{task}/{model} has no complete version ({exc})", models=known) from None
    except store.StoreError:
        if f"{task}/{model}" not in known:
            raise ApiError(404, f"no model {name!r} in the store; stored: {', '.join(known) or 'none'}",
                           models=known) from None
        versions = [r.versions for r in store.list_models(root) if (r.task, r.model) == (task, model)][0]
        raise ApiError(404, f"{task}/{model} has no version {version!r}; versions: "
                            f"{', '.join(map(str, versions))} or 'latest'", versions=list(versions)) from None
    v = int(vdir.name)
    if not (vdir / "meta.json").is_file() or not (vdir / "model.pt").is_file():
        raise ApiError(404, f"{task}/{model} version {v} is incomplete (no meta.json or model.pt)")
    return task, model, v


# --- serving: decode lanes, inference, warm-up, readiness --------------------------------------


class Serving:
    """What every protocol's route calls: find and load a model, turn an upload or a tensor into
    class probabilities, and say whether the server is ready."""

    def __init__(self, root: Path, *, cache_size: int, inference_workers: int, max_pixels: int,
                 heavy_decodes: int):
        self.root, self.max_pixels = root, max_pixels
        self.cache = ModelCache(root, cache_size)
        self.limiter = anyio.CapacityLimiter(inference_workers)
        self.heavy = ThreadPoolExecutor(max_workers=heavy_decodes, thread_name_prefix="dl-assign-heavy-decode",
                                        initializer=_lowest_priority)
        self.heavy_waiting = 0
        self.warm: dict = {"state": "not started", "loaded": [], "errors": [], "seconds": None}

    # models
    def names(self) -> list[str]:
        return _names(self.root)

    def find(self, name: str, version: str | int = "latest") -> tuple[str, str, int]:
        return find(self.root, name, version)

    async def load(self, task: str, model: str, v: int) -> store.Loaded:
        try:
            return await anyio.to_thread.run_sync(self.cache.get, task, model, v, limiter=self.limiter)
        except store.StoreError as exc:  # checksum mismatch, damaged meta.json, unknown builder
            raise ApiError(503, f"{task}/{model} version {v} cannot be loaded: {exc}") from None

    # inputs -> probabilities
    def _target(self, loaded: store.Loaded) -> int:
        """The short side the decode keeps (halved by REDUCE_TO): the model's resize; for a face model more
        (``FACE_TARGET``), since the detector looks for the face in the whole photo, where it may be small."""
        target = int(loaded.preprocessing.get("resize", loaded.preprocessing["size"]))
        return max(target, FACE_TARGET) if is_face_model(loaded) else target

    @staticmethod
    def _classify(loaded: store.Loaded, image: np.ndarray) -> tuple[torch.Tensor, float, dict | None]:
        """Decoded image -> (C,) probabilities, inference ms, and for a face model the face it classified."""
        face = None
        if is_face_model(loaded):
            image, face = face_crop(image, loaded)
        t0 = time.perf_counter()
        probs = _infer(loaded, _preprocess(loaded, image))[0]
        return probs, (time.perf_counter() - t0) * 1000, face

    async def image_probs(self, loaded: store.Loaded, data: bytes) -> tuple[torch.Tensor, float, dict | None]:
        """(C,) probabilities of one uploaded image, the inference time in ms, and for a face model the face it
        classified (``face_crop``). A face model never sees the whole photo: no face is a 422 in words.

        A normal image is read, decoded and classified in one worker-thread hop (one inference slot, held
        throughout); one whose decode costs more than ``HEAVY_PIXELS`` is decoded on the low-priority lane
        first, holding no inference slot while it decodes."""
        target = self._target(loaded)

        def normal():
            im = open_image(data, max_pixels=self.max_pixels, target=target)
            if decode_cost(im) > HEAVY_PIXELS:
                return im, None
            return None, self._classify(loaded, finish(im, target=target))

        try:
            im, out = await anyio.to_thread.run_sync(normal, limiter=self.limiter)
            if out is not None:
                return out
            if self.heavy_waiting >= MAX_HEAVY_WAITING:
                w, h = im.size
                raise ApiError(503, f"busy: {self.heavy_waiting} large images ({w} x {h} is one) are being decoded; "
                                    f"retry shortly or send a smaller image", retry_after_s=2)
            self.heavy_waiting += 1
            try:
                image = await asyncio.wrap_future(self.heavy.submit(finish, im, target=target))
            finally:
                self.heavy_waiting -= 1
            return await anyio.to_thread.run_sync(self._classify, loaded, image, limiter=self.limiter)
        except ImageError as exc:
            raise ApiError(exc.status, str(exc)) from None

    async def tensor_probs(self, loaded: store.Loaded, x: torch.Tensor) -> torch.Tensor:
        """(B, C) probabilities of a preprocessed (B, 3, S, S) float batch."""
        return await anyio.to_thread.run_sync(_infer, loaded, x, limiter=self.limiter)

    @staticmethod
    def top(loaded: store.Loaded, probs: torch.Tensor, k: int) -> list[dict]:
        p, idx = probs.topk(min(k, probs.numel()))
        classes = loaded.meta["classes"]
        return [{"class": classes[i], "index": i, "probability": float(q)} for q, i in zip(p.tolist(), idx.tolist())]

    # start-up and readiness
    def warm_up(self) -> None:
        """Load the default model, then the other models' latest versions (up to the cache size), and run one
        inference on each, so that the first request pays no load or first-call cost."""
        t0 = time.perf_counter()
        self.warm["state"] = "warming"
        view = list_view(self.root)
        order = []
        default = default_model(view)
        if default:
            name, v = default.rsplit("@", 1)
            order.append((name, int(v)))
        order += [(m["name"], m["latest"]) for m in view if (m["name"], m["latest"]) not in order]
        for name, v in order[: self.cache.size]:
            task, model = name.split("/")
            try:
                loaded = self.cache.get(task, model, v)
                size = input_size(loaded)
                _infer(loaded, torch.zeros(1, 3, size, size))
                self.warm["loaded"].append(f"{name}/{v}")
            except Exception as exc:  # noqa: BLE001  a damaged version: reported by readiness, never fatal
                self.warm["errors"].append(f"{name}/{v}: {type(exc).__name__}: {exc}")
        self.warm["state"], self.warm["seconds"] = "done", round(time.perf_counter() - t0, 3)

    def ready(self) -> tuple[bool, str]:
        """Ready when at least one model is loaded (or loads now): ``(ready, why)``."""
        if self.cache.keys():
            return True, f"{len(self.cache.keys())} model(s) loaded: {', '.join(self.cache.keys())}"
        view = list_view(self.root)
        if not view:
            return False, "the model store is empty: no model to serve (" + EMPTY_STORE_HINT.split(". ")[1] + ")"
        errors = []
        for m in view:
            try:
                self.cache.get(m["task"], m["model"], m["latest"])
                return True, f"{m['name']}/{m['latest']} loaded"
            except store.StoreError as exc:
                errors.append(f"{m['name']}/{m['latest']}: {exc}")
        return False, "no stored model loads: " + "; ".join(errors)


# --- the app -----------------------------------------------------------------------------------


def create_app(store_root: str | Path | None = None, *, max_upload_bytes: int = MAX_UPLOAD_BYTES,
               cache_size: int = 4, inference_workers: int = 1, max_pixels: int = MAX_PIXELS,
               heavy_decodes: int = 1, warm_up: bool = True) -> FastAPI:
    """The app over ``store_root`` (default ``$DL_ASSIGN_MODELS`` or ./.models). With ``warm_up``, the
    models load in a background thread when the server starts (its lifespan), not on first use."""
    from fastapi_offline import FastAPIOffline

    from dl_assign.web import protocols

    root = store.store_root(store_root)
    serving = Serving(root, cache_size=cache_size, inference_workers=inference_workers, max_pixels=max_pixels,
                      heavy_decodes=heavy_decodes)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if warm_up:
            threading.Thread(target=serving.warm_up, name="dl-assign-warm-up", daemon=True).start()
        yield
        serving.heavy.shutdown(wait=False, cancel_futures=True)

    app = FastAPIOffline(title="dl_assign model server", version="2", lifespan=lifespan,
                         description="Upload an image, pick stored models and versions, get the top-k classes. "
                                     "Also speaks the Open Inference Protocol (KServe v2, under /v2) and "
                                     "TorchServe's inference API (/ping, /predictions/{model}).")
    app.state.serving, app.state.cache, app.state.root = serving, serving.cache, root
    cache = serving.cache

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        response = _error(exc.status, exc.message, **exc.extra)
        if "retry_after_s" in exc.extra:
            response.headers["Retry-After"] = str(exc.extra["retry_after_s"])
        return response

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(request, exc):
        words = "; ".join(f"{'.'.join(map(str, e.get('loc', [])))}: {e.get('msg')}" for e in exc.errors())
        return _error(422, f"invalid request: {words}")

    @app.exception_handler(Exception)
    async def _unexpected(request, exc):  # the last resort; tests assert it is never reached
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")

    @app.get("/healthz")
    def healthz():
        """Liveness with detail: the store, how many models, which are loaded, the warm-up's state."""
        return {"status": "ok", "store": str(root.resolve()), "models": len(_names(root)), "cached": cache.keys(),
                "warm_up": serving.warm}

    @app.get("/api/models")
    def models():
        """Every stored model: name (task/model), task, versions with metrics, classes, preprocessing; and
        ``default``, the version the page preselects (best validation metric)."""
        view = list_view(root)
        return ({"store": str(root.resolve()), "models": view, "default": default_model(view),
                 "default_rule": "highest " + " / ".join(VALIDATION_METRICS) + " among stored versions "
                                 "(duplicates skipped); the first model when none recorded one"}
                | ({} if view else {"hint": EMPTY_STORE_HINT}))

    @app.get("/api/models/{task}/{model}/{version}")
    def model_version(task: str, model: str, version: str):
        """One version's metadata (version = a number or latest)."""
        t, m, v = find(root, f"{task}/{model}", version)
        meta = _meta(root / t / m / str(v))
        return {"name": f"{t}/{m}", "task": t, "model": m, **_version_view(meta), "classes": meta["classes"],
                "preprocessing": meta["preprocessing"], "builder": meta.get("builder")}

    predict_body = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file", "model"], "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": f"JPEG/PNG/WebP/BMP/GIF image, at most {max_upload_bytes:,} bytes and "
                                    f"{max_pixels:,} pixels"},
            "model": {"type": "string", "description": "task/model, e.g. pests14/mobilenet_v2"},
            "version": {"type": "string", "default": "latest"},
            "top_k": {"type": "integer", "default": 5, "minimum": 1,
                      "description": "1 to the model's number of classes"}}}}}}}

    @app.post("/api/predict", openapi_extra=predict_body)
    async def predict(request: Request):
        """Top-k classes of the upload: ``{model, version, predictions: [{class, probability}], latency_ms}``."""
        t0 = time.perf_counter()
        fields, data, _ = await read_form(request, max_upload_bytes)
        if data is None:
            raise ApiError(422, "no file uploaded: send the image in a multipart field named 'file'")
        if not fields.get("model"):
            raise ApiError(422, f"no model chosen: send a 'model' field (one of: {', '.join(_names(root))})",
                           models=_names(root))
        version = fields.get("version") or "latest"
        task, model, v = find(root, fields["model"], version)
        loaded = await serving.load(task, model, v)
        top_k = parse_top_k(fields.get("top_k"), len(loaded.meta["classes"]), f"{task}/{model}")
        probs, inference_ms, face = await serving.image_probs(loaded, data)
        return {"model": f"{task}/{model}", "task": task, "version": v,
                "predictions": serving.top(loaded, probs, top_k),
                "latency_ms": (time.perf_counter() - t0) * 1000, "inference_ms": inference_ms} | (
                   {"face": face} if face is not None else {})

    protocols.add_kserve_v2(app, serving, max_body_bytes=2 * max_upload_bytes)
    protocols.add_torchserve(app, serving, max_body_bytes=max_upload_bytes)

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        icon = STATIC / "favicon.svg"
        if not icon.is_file():
            raise ApiError(404, "no favicon")
        return FileResponse(icon, media_type="image/svg+xml")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
