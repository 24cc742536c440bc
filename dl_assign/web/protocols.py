"""Two standard inference protocols over the same :class:`~dl_assign.web.app.Serving`.

**Open Inference Protocol (KServe v2)**, REST binding (https://kserve.github.io/website/docs/concepts/
architecture/data-plane/v2-protocol, the same as Triton's HTTP API):

- ``GET /v2`` server metadata; ``GET /v2/health/live``; ``GET /v2/health/ready`` (200 only when at least
  one model loads, else 503).
- ``GET /v2/models/{name}[/versions/{v}]`` model metadata; ``.../ready``.
- ``POST /v2/models/{name}[/versions/{v}]/infer``: one input, either ``image`` (``BYTES``, shape ``[N]``:
  encoded JPEG/PNG/... images, base64 strings in JSON or raw in the binary extension) or ``input``
  (``FP32``, shape ``[N, 3, S, S]``: tensors already preprocessed with the model's ``preprocessing``).
  The output ``probabilities`` is ``FP32 [N, C]``; asking for it with ``parameters: {"classification":
  k}`` gives Triton's classification extension instead (``BYTES [N, k]``, ``"score:index:label"``).
  The binary tensor data extension (``Inference-Header-Content-Length``) works both ways.

``{name}`` is the store's ``task/model`` (the slash stays a path separator, as tritonclient sends it),
or a model name that is unique in the store.

**TorchServe's inference API**: ``GET /ping`` (``{"status": "Healthy"}``, 503 ``Unhealthy`` when no
model loads) and ``POST /predictions/{name}[/{version}]`` with the image as the raw body (or a
multipart field ``data`` or ``file``), answered as TorchServe's image classifier does: ``{class:
probability}`` for the top 5 (``?top_k=`` for more). Management (registering models) is not offered:
the store is the registry.

Every error is ``{"error": "...", "status": N}`` (KServe's error body is ``{"error": "..."}``).
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np
import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from dl_assign import __version__, store
from dl_assign.web.app import MAX_BATCH, Serving, _meta
from dl_assign.web.bodies import ApiError, b64decode, parse_top_k, read_body, read_form
from dl_assign.web.inference import input_size

V2_EXTENSIONS = ["binary_tensor_data", "classification"]
PLATFORM = "pytorch_eager"  # a state dict rebuilt by the store's builder and run in eager mode
HEADER = "Inference-Header-Content-Length"


def _split_name(rest: str, *, tail: tuple[str, ...]) -> tuple[str, str, str]:
    """``task/model[/versions/v][/<tail>]`` (or a bare unique model name) -> (name, version, tail)."""
    parts = [p for p in rest.split("/")]
    end = ""
    if parts and parts[-1] in tail:
        end = parts.pop()
    version = "latest"
    if len(parts) >= 3 and parts[-2] == "versions":
        version = parts.pop()
        parts.pop()
    if not parts or len(parts) > 2 or not all(parts):
        raise ApiError(404, f"no such route /v2/models/{rest}: use /v2/models/<task>/<model>[/versions/<v>]"
                            f"[/{'|'.join(tail)}]")
    return "/".join(parts), version, end


def _model_metadata(serving: Serving, task: str, model: str, v: int) -> dict:
    meta = _meta(serving.root / task / model / str(v))
    size, n = int(meta["preprocessing"]["size"]), len(meta["classes"])
    versions = [str(x) for rec in store.list_models(serving.root) if (rec.task, rec.model) == (task, model)
                for x in rec.versions]
    return {"name": f"{task}/{model}", "versions": versions, "platform": PLATFORM,
            "inputs": [{"name": "image", "datatype": "BYTES", "shape": [-1],
                        "parameters": {"content": "encoded JPEG/PNG/WebP/BMP/GIF; base64 in JSON"}},
                       {"name": "input", "datatype": "FP32", "shape": [-1, 3, size, size],
                        "parameters": {"preprocessing": meta["preprocessing"]}}],
            "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, n]}],
            "parameters": {"version": str(v), "classes": meta["classes"], "metrics": meta.get("metrics", {})}}


# --- the v2 request body ------------------------------------------------------------------------


def _parse_infer_body(body: bytes, header_length: str | None) -> tuple[dict, bytes]:
    """(the JSON request, the binary tail) of a v2 infer body; 400 in words otherwise."""
    if header_length is not None:
        try:
            n = int(header_length)
        except ValueError:
            raise ApiError(400, f"bad {HEADER} header {header_length!r}: an integer byte count") from None
        if not 0 < n <= len(body):
            raise ApiError(400, f"{HEADER} is {n:,} but the body has {len(body):,} bytes")
        head, tail = body[:n], body[n:]
    else:
        head, tail = body, b""
    if not head.strip():
        raise ApiError(400, "empty request: send a JSON object with an 'inputs' list")
    try:
        request = json.loads(head)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the request is not valid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise ApiError(400, f"the request must be a JSON object, got {type(request).__name__}")
    return request, tail


def _shape(spec: dict) -> list[int]:
    shape = spec.get("shape")
    if not isinstance(shape, list) or not shape or not all(isinstance(d, int) and not isinstance(d, bool)
                                                           for d in shape):
        raise ApiError(400, f"input {spec.get('name')!r}: shape must be a non-empty list of integers, got {shape!r}")
    if any(d < 0 for d in shape):
        raise ApiError(400, f"input {spec.get('name')!r}: shape {shape} has a negative dimension")
    return shape


def _flatten(data, name: str) -> list:
    out, stack = [], [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            out.append(item)
        if len(out) > 10_000_000:
            raise ApiError(413, f"input {name!r}: too many elements")
    return out


def _binary_slice(spec: dict, tail: bytes, offset: int) -> tuple[bytes | None, int]:
    params = spec.get("parameters") or {}
    if not isinstance(params, dict):
        raise ApiError(400, f"input {spec.get('name')!r}: parameters must be an object")
    size = params.get("binary_data_size")
    if size is None:
        return None, offset
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ApiError(400, f"input {spec.get('name')!r}: binary_data_size must be a byte count, got {size!r}")
    if offset + size > len(tail):
        raise ApiError(400, f"input {spec.get('name')!r}: binary_data_size {size:,} runs past the body's "
                            f"{len(tail) - offset:,} binary bytes")
    return tail[offset:offset + size], offset + size


def _bytes_elements(raw: bytes, name: str) -> list[bytes]:
    """Triton's BYTES serialisation: each element a 4-byte little-endian length, then the bytes."""
    out, i = [], 0
    while i < len(raw):
        if i + 4 > len(raw):
            raise ApiError(400, f"input {name!r}: the BYTES data ends inside an element's length prefix")
        (n,) = struct.unpack_from("<I", raw, i)
        i += 4
        if i + n > len(raw):
            raise ApiError(400, f"input {name!r}: a BYTES element says {n:,} bytes but {len(raw) - i:,} remain")
        out.append(raw[i:i + n])
        i += n
    return out


def _images(spec: dict, shape: list[int], raw: bytes | None) -> list[bytes]:
    name = spec["name"]
    if len(shape) != 1 and not (len(shape) == 2 and shape[1] == 1):
        raise ApiError(400, f"input 'image' (BYTES) has shape [N] (or [N, 1]): one encoded image per element, "
                            f"got {shape}")
    n = shape[0]
    if not 1 <= n <= MAX_BATCH:
        raise ApiError(400 if n < 1 else 413, f"input 'image': 1 to {MAX_BATCH} images per request, got {n}")
    if raw is not None:
        items = _bytes_elements(raw, name)
    else:
        if "data" not in spec:
            raise ApiError(400, "input 'image' has no data: give 'data' (base64 strings) or binary data")
        items = []
        for k, item in enumerate(_flatten(spec["data"], name)):
            try:
                items.append(b64decode(item))
            except (ValueError, TypeError):
                raise ApiError(400, f"input 'image': element {k} is not a base64 string (BYTES data in JSON "
                                    f"carries each encoded image as base64)") from None
    if len(items) != n:
        raise ApiError(400, f"input 'image': shape {shape} says {n} element(s), the data has {len(items)}")
    return items


def _tensor(spec: dict, shape: list[int], raw: bytes | None, size: int) -> torch.Tensor:
    want = [3, size, size]
    if len(shape) != 4 or shape[1:] != want:
        raise ApiError(400, f"input 'input' (FP32) has shape [N, 3, {size}, {size}] for this model (its "
                            f"preprocessing), got {shape}")
    n = shape[0]
    if not 1 <= n <= MAX_BATCH:
        raise ApiError(400 if n < 1 else 413, f"input 'input': 1 to {MAX_BATCH} tensors per request, got {n}")
    count = math.prod(shape)
    if raw is not None:
        if len(raw) != 4 * count:
            raise ApiError(400, f"input 'input': shape {shape} needs {4 * count:,} bytes of FP32, got {len(raw):,}")
        arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    else:
        if "data" not in spec:
            raise ApiError(400, "input 'input' has no data: give 'data' (numbers, row-major) or binary data")
        flat = _flatten(spec["data"], "input")
        if len(flat) != count:
            raise ApiError(400, f"input 'input': shape {shape} says {count:,} elements, the data has {len(flat):,}")
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in flat):
            bad = next(x for x in flat if not isinstance(x, int | float) or isinstance(x, bool))
            raise ApiError(400, f"input 'input': FP32 data must be numbers, found {bad!r}")
        arr = np.asarray(flat, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ApiError(400, "input 'input': the data has NaN or infinite values")
    if np.abs(arr).max(initial=0) > 1e6:
        raise ApiError(400, "input 'input': values beyond 1e6 are not a preprocessed image")
    return torch.from_numpy(arr.astype(np.float32).reshape(shape))


def _requested(request: dict) -> tuple[int, bool]:
    """(classification k or 0, binary output?) from the request's ``outputs`` and parameters."""
    params = request.get("parameters") or {}
    if not isinstance(params, dict):
        raise ApiError(400, "the request's parameters must be an object")
    binary = bool(params.get("binary_data_output", False))
    outputs = request.get("outputs")
    if outputs is None:
        return 0, binary
    if not isinstance(outputs, list) or len(outputs) > 1:
        raise ApiError(400, "outputs must be a list with at most one entry: this model has one output, "
                            "'probabilities'")
    k = 0
    for out in outputs:
        if not isinstance(out, dict) or out.get("name") != "probabilities":
            name = out.get("name") if isinstance(out, dict) else out
            raise ApiError(400, f"no output {name!r}: this model has one output, 'probabilities'")
        p = out.get("parameters") or {}
        if not isinstance(p, dict):
            raise ApiError(400, "an output's parameters must be an object")
        k = p.get("classification", 0)
        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ApiError(400, f"classification must be a non-negative integer, got {k!r}")
        binary = bool(p.get("binary_data", binary))
    return k, binary


def _response(model: str, version: int, rid, probs: torch.Tensor, classes: list[str], k: int,
              binary: bool, faces: list | None = None) -> Response:
    n, c = probs.shape
    if k:
        k = min(k, c)
        p, idx = probs.topk(k, dim=1)
        data = [f"{q:.6f}:{i}:{classes[i]}" for row_p, row_i in zip(p.tolist(), idx.tolist())
                for q, i in zip(row_p, row_i)]
        out = {"name": "probabilities", "datatype": "BYTES", "shape": [n, k]}
        raw = b"".join(struct.pack("<I", len(s.encode())) + s.encode() for s in data) if binary else None
    else:
        data = probs.flatten().tolist()
        out = {"name": "probabilities", "datatype": "FP32", "shape": [n, c]}
        raw = probs.numpy().astype("<f4").tobytes() if binary else None
    head = ({"model_name": model, "model_version": str(version)} | ({"id": rid} if rid is not None else {})
            | ({"parameters": {"faces": json.dumps(faces)}} if faces else {}))  # a face model: the face each saw
    if raw is None:
        return JSONResponse(head | {"outputs": [out | {"data": data}]})
    header = json.dumps(head | {"outputs": [out | {"parameters": {"binary_data_size": len(raw)}}]}).encode()
    return Response(header + raw, media_type="application/octet-stream", headers={HEADER: str(len(header))})


def add_kserve_v2(app: FastAPI, serving: Serving, *, max_body_bytes: int) -> None:
    """The Open Inference Protocol's REST routes."""

    @app.get("/v2", tags=["KServe v2"])
    def server_metadata():
        """Server metadata: name, version, extensions."""
        return {"name": "dl_assign", "version": __version__, "extensions": V2_EXTENSIONS}

    @app.get("/v2/health/live", tags=["KServe v2"])
    def live():
        """Liveness: the process answers."""
        return {"live": True}

    @app.get("/v2/health/ready", tags=["KServe v2"])
    def ready():
        """Readiness: 200 when at least one stored model is loaded (or loads now), else 503."""
        ok, why = serving.ready()
        return JSONResponse({"ready": ok, "detail": why} | ({} if ok else {"error": why, "status": 503}),
                            status_code=200 if ok else 503)

    @app.get("/v2/models/{rest:path}", tags=["KServe v2"])
    async def model_get(rest: str):
        """``/v2/models/{task}/{model}[/versions/{v}]`` metadata, or ``.../ready`` readiness."""
        name, version, end = _split_name(rest, tail=("ready", "infer"))
        if end == "infer":
            raise ApiError(405, f"GET /v2/models/{rest}: .../infer takes a POST with a JSON inference request")
        task, model, v = serving.find(name, version)
        if end == "ready":
            await serving.load(task, model, v)  # 503 in words when it cannot load
            return {"name": f"{task}/{model}", "version": str(v), "ready": True}
        return _model_metadata(serving, task, model, v)

    @app.post("/v2/models/{rest:path}", tags=["KServe v2"],
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                  "type": "object", "required": ["inputs"], "properties": {
                      "id": {"type": "string"}, "parameters": {"type": "object"},
                      "inputs": {"type": "array", "items": {"type": "object", "required": ["name", "shape",
                                                                                           "datatype"]}},
                      "outputs": {"type": "array", "items": {"type": "object"}}}}}}}})
    async def model_infer(rest: str, request: Request):
        """``/v2/models/{task}/{model}[/versions/{v}]/infer``: one input, ``image`` (BYTES) or ``input`` (FP32)."""
        name, version, end = _split_name(rest, tail=("infer", "ready"))
        if end != "infer":
            raise ApiError(405, f"POST /v2/models/{rest}: only .../infer takes a POST (metadata and ready are GETs)")
        task, model, v = serving.find(name, version)
        body = await read_body(request, max_body_bytes)
        req, tail = _parse_infer_body(body, request.headers.get(HEADER.lower()))
        inputs = req.get("inputs")
        if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
            raise ApiError(400, "inputs must be a list of exactly one tensor: 'image' (BYTES, encoded images) or "
                                "'input' (FP32, preprocessed [N, 3, S, S])")
        spec = inputs[0]
        k, binary = _requested(req)
        rid = req.get("id")
        if rid is not None and not isinstance(rid, str):
            raise ApiError(400, f"id must be a string, got {type(rid).__name__}")
        shape = _shape(spec)
        raw, _ = _binary_slice(spec, tail, 0)
        loaded = await serving.load(task, model, v)
        pair = (spec.get("name"), spec.get("datatype"))
        if pair == ("image", "BYTES"):
            answers = [await serving.image_probs(loaded, data) for data in _images(spec, shape, raw)]
            probs = torch.stack([a[0] for a in answers])
            faces = [a[2] for a in answers]
        elif pair == ("input", "FP32"):
            faces = [None]
            probs = await serving.tensor_probs(loaded, _tensor(spec, shape, raw, input_size(loaded)))
        else:
            raise ApiError(400, f"no input named {spec.get('name')!r} of datatype {spec.get('datatype')!r}: this "
                                f"model takes 'image' (BYTES) or 'input' (FP32)")
        return _response(f"{task}/{model}", v, rid, probs, loaded.meta["classes"], k, binary,
                         faces=faces if any(f is not None for f in faces) else None)


def add_torchserve(app: FastAPI, serving: Serving, *, max_body_bytes: int) -> None:
    """TorchServe's inference API: health and predictions (no management API)."""

    @app.get("/ping", tags=["TorchServe"])
    def ping():
        """``{"status": "Healthy"}`` when at least one model loads, else 503 ``Unhealthy``."""
        ok, why = serving.ready()
        return JSONResponse({"status": "Healthy" if ok else "Unhealthy", "detail": why}
                            | ({} if ok else {"error": why}), status_code=200 if ok else 503)

    async def _predict(request: Request, name: str, version: str):
        task, model, v = serving.find(name, version)
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            fields, data, _ = await read_form(request, max_body_bytes)
            if data is None:
                data = fields.get("data", "").encode() or None
            if data is None:
                raise ApiError(422, "no image: send it as the raw body, or in a multipart field 'data' or 'file'")
        else:
            data = await read_body(request, max_body_bytes)
        loaded = await serving.load(task, model, v)
        top_k = parse_top_k(request.query_params.get("top_k"), len(loaded.meta["classes"]), f"{task}/{model}")
        probs, _, _ = await serving.image_probs(loaded, data)
        return {row["class"]: row["probability"] for row in serving.top(loaded, probs, top_k)}

    @app.post("/predictions/{task}/{model}/{version}", tags=["TorchServe"])
    async def predictions_version(task: str, model: str, version: str, request: Request):
        """TorchServe ``/predictions/{model}/{version}``: ``{class: probability}``, top 5 (``?top_k=``)."""
        return await _predict(request, f"{task}/{model}", version)

    @app.post("/predictions/{task}/{model}", tags=["TorchServe"])
    async def predictions(task: str, model: str, request: Request):
        """TorchServe ``/predictions/{model}`` with ``{model}`` = ``task/model``, the latest version (or
        ``/predictions/{model}/{version}`` for a model name unique in the store)."""
        try:
            serving.find(f"{task}/{model}")
        except ApiError:
            if model.isdigit():
                return await _predict(request, task, model)
            raise
        return await _predict(request, f"{task}/{model}", "latest")

    @app.post("/predictions/{model}", tags=["TorchServe"])
    async def predictions_bare(model: str, request: Request):
        """TorchServe ``/predictions/{model}`` with a model name that is unique in the store."""
        return await _predict(request, model, "latest")
