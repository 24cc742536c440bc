"""The API (TorchServe / KServe conventions) and the page, over the versioned model store.

``GET /api/models``, ``GET /api/models/{task}/{model}/{version}`` (a model's name is ``task/model``),
``POST /api/predict`` (multipart: ``file``, ``model``, ``version`` = latest, ``top_k`` = 5),
``GET /healthz``, OpenAPI at ``/openapi.json`` and ``/docs``; ``/`` is the page.

Bad input gets a JSON body ``{"error": "<what was wrong, in words>", "status": <code>}`` and never a
500. An upload is parsed from the request stream in memory (never written to disk) and refused with
413 as soon as it passes ``max_upload_bytes``, before the rest of the body is read. Models are
loaded on first use into a bounded LRU cache; decoding and inference run in a worker thread (at
most ``inference_workers`` at once, under ``torch.inference_mode()``), off the event loop.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from pathlib import Path

import anyio
import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from dl_assign import store
from dl_assign.web.images import ImageError, decode

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MiB: a large phone photo; a bigger body is refused unread
MAX_TOP_K = 100
# what the page says when the store is empty: the two quick ways to fill it (README "First five minutes")
EMPTY_STORE_HINT = ("The model store is empty. In seconds, with no training: `dl-assign pretrained` stores the "
                    "ImageNet EfficientNet-Lite0 (1000 classes) from the offline weights (`make serve` does it "
                    "and starts the server). In about a minute: `dl-assign run pests.transfer_mobilenet_v2 "
                    "--budget smoke` trains a small pest classifier (needs the pests data, see `dl-assign data`). "
                    "Then reload this page.")


class ApiError(Exception):
    """An error the API answers in plain words: ``status`` + ``message`` (+ extra JSON fields)."""

    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, "status": status, **extra}, status_code=status)


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
    keep = ("version", "metrics", "experiment", "budget", "seed", "created", "params", "sha256")
    return {k: meta.get(k) for k in keep} | {"test_accuracy": store._metric(meta.get("metrics", {}),
                                                                              "test_accuracy")}


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


# --- the request body --------------------------------------------------------------------------


async def read_form(request: Request, limit: int) -> tuple[dict[str, str], bytes | None, str | None]:
    """Parse a multipart (or urlencoded) body from the stream, in memory; 413 past ``limit`` bytes."""
    from python_multipart import FormParser
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import parse_options_header

    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ApiError(413, f"upload of {int(declared):,} bytes is over the limit of {limit:,} bytes")
        except ValueError:
            raise ApiError(400, f"bad Content-Length header {declared!r}") from None
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    ctype = ctype.decode("latin-1")
    if ctype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise ApiError(415 if ctype else 422, "send the image as multipart/form-data with a 'file' field "
                                              f"(got Content-Type {ctype or 'none'!r})")
    fields: dict[str, str] = {}
    files: list = []

    def on_field(f):
        if f.field_name is not None:
            fields[f.field_name.decode("utf-8", "replace")] = (f.value or b"").decode("utf-8", "replace")

    def on_file(f):
        files.append(f)

    try:
        parser = FormParser(ctype, on_field, on_file, boundary=params.get(b"boundary"),
                            config={"MAX_MEMORY_FILE_SIZE": limit + 1, "MAX_BODY_SIZE": limit + 1})
    except (FormParserError, ValueError) as exc:
        raise ApiError(400, f"the form could not be parsed: {exc}") from None
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise ApiError(413, f"upload is over the limit of {limit:,} bytes (stopped reading at "
                                    f"{received:,})")
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except ApiError:
        raise
    except Exception as exc:  # noqa: BLE001  a malformed body is the client's error, never a 500
        raise ApiError(400, f"the form could not be parsed: {exc}") from None
    data, filename = None, None
    for f in files:
        if (f.field_name or b"") == b"file":
            if not f.in_memory:  # cannot happen with the limits above; never keep a spilled upload
                raise ApiError(413, "upload too large to keep in memory")
            f.file_object.seek(0)
            data = f.file_object.read()
            filename = (f.file_name or b"").decode("utf-8", "replace")
        f.close()
    return fields, data, filename


def _int_field(fields: dict, key: str, default: int, lo: int, hi: int) -> int:
    raw = fields.get(key, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, f"{key} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ApiError(422, f"{key} must be between {lo} and {hi}, got {value}")
    return value


# --- the app -----------------------------------------------------------------------------------


def _predict_sync(loaded: store.Loaded, data: bytes, top_k: int, max_pixels: int | None) -> tuple[list, float]:
    from dl_assign.models.backbones import preprocess

    image = decode(data, max_pixels=max_pixels)  # (H, W, 3) uint8
    t0 = time.perf_counter()
    with torch.inference_mode():
        x = preprocess(image, loaded.preprocessing)  # (1, 3, S, S), the stored eval transform
        probs = torch.softmax(loaded.model(x).float(), dim=1)[0]  # (C,)
    inference_ms = (time.perf_counter() - t0) * 1000
    p, idx = probs.topk(min(top_k, probs.numel()))
    classes = loaded.meta["classes"]
    return [{"class": classes[i], "index": i, "probability": float(q)} for q, i in zip(p.tolist(), idx.tolist())], \
        inference_ms


def create_app(store_root: str | Path | None = None, *, max_upload_bytes: int = MAX_UPLOAD_BYTES,
               cache_size: int = 4, inference_workers: int = 1, max_pixels: int | None = None) -> FastAPI:
    """The app over ``store_root`` (default ``$DL_ASSIGN_MODELS`` or ./.models)."""
    root = store.store_root(store_root)
    cache = ModelCache(root, cache_size)
    limiter = anyio.CapacityLimiter(inference_workers)
    app = FastAPI(title="dl_assign model server", version="1",
                  description="Upload an image, pick stored models and versions, get the top-k classes.")
    app.state.cache, app.state.root = cache, root

    @app.exception_handler(ApiError)
    async def _api_error(request, exc: ApiError):
        return _error(exc.status, exc.message, **exc.extra)

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
        return {"status": "ok", "store": str(root.resolve()), "models": len(_names(root)), "cached": cache.keys()}

    @app.get("/api/models")
    def models():
        """Every stored model: name (task/model), task, versions with metrics, classes, preprocessing."""
        view = list_view(root)
        return {"store": str(root.resolve()), "models": view} | ({} if view else {"hint": EMPTY_STORE_HINT})

    @app.get("/api/models/{task}/{model}/{version}")
    def model_version(task: str, model: str, version: str):
        """One version's metadata (version = a number or latest)."""
        t, m, v = find(root, f"{task}/{model}", version)
        meta = _meta(root / t / m / str(v))
        return {"name": f"{t}/{m}", "task": t, "model": m, **_version_view(meta), "classes": meta["classes"],
                "preprocessing": meta["preprocessing"], "builder": meta.get("builder")}

    predict_body = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file", "model"], "properties": {
            "file": {"type": "string", "format": "binary", "description": "JPEG/PNG/WebP/BMP/GIF image"},
            "model": {"type": "string", "description": "task/model, e.g. pests14/mobilenet_v2"},
            "version": {"type": "string", "default": "latest"},
            "top_k": {"type": "integer", "default": 5, "minimum": 1, "maximum": MAX_TOP_K}}}}}}}

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
        top_k = _int_field(fields, "top_k", 0, 1, MAX_TOP_K)  # 0: not given, 5 or every class if fewer
        version = fields.get("version") or "latest"
        task, model, v = find(root, fields["model"], version)
        try:
            loaded = await anyio.to_thread.run_sync(cache.get, task, model, v, limiter=limiter)
        except store.StoreError as exc:  # checksum mismatch, damaged meta.json, unknown builder
            raise ApiError(503, f"{task}/{model} version {v} cannot be loaded: {exc}") from None
        top_k = top_k or min(5, len(loaded.meta["classes"]))
        if top_k > len(loaded.meta["classes"]):
            raise ApiError(422, f"top_k must be between 1 and {len(loaded.meta['classes'])} (the number of "
                                f"classes of {task}/{model}), got {top_k}")
        try:
            preds, inference_ms = await anyio.to_thread.run_sync(_predict_sync, loaded, data, top_k, max_pixels,
                                                                 limiter=limiter)
        except ImageError as exc:
            raise ApiError(exc.status, str(exc)) from None
        return {"model": f"{task}/{model}", "task": task, "version": v, "predictions": preds,
                "latency_ms": (time.perf_counter() - t0) * 1000, "inference_ms": inference_ms}

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
