"""Issue 27 item 6: a catalogue of bad inputs, each sent to one real server (``running(store)``, uvicorn with the
JSON h11 protocol), each checked for its status, a JSON ``{"error": ...}`` that names the problem, never a 500,
and a normal ``/api/predict`` answered with 200 right after it.

Rows are ``(id, send, status, words)``: ``send(url)`` returns ``(status, body bytes)``; ``words`` must all appear in
the error (case-insensitive). A few rows are allowed inputs that look hostile (an image exactly at the pixel
budget, a 1 x 20000 strip, a GIF of 100,000 frames): they expect 200 and predictions, and are counted apart from
the error rows. The store is random-weight CNNs (no dataset needed).
"""

import functools
import io
import json
import select
import socket
import struct
import time
import warnings
import zlib

import httpx
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install -e '.[web]')")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from test_web import _jpeg, _png, _save_cnn  # noqa: E402  the tiny store's helpers (tests/ is on sys.path)

from dl_assign.web.app import MAX_BATCH, MAX_UPLOAD_BYTES  # noqa: E402
from dl_assign.web.images import MAX_PIXELS  # noqa: E402
from dl_assign.web.server import running  # noqa: E402

MODEL = "bugs/cnn_a"
V2 = f"/v2/models/{MODEL}/infer"
TIMEOUT = 60


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    root = tmp_path_factory.mktemp("web-fuzz") / "store"
    _save_cnn(root, "cnn_a", 0, 0.25)
    _save_cnn(root, "cnn_a", 1, 0.5)
    _save_cnn(root, "cnn_b", 2, 0.75)
    with running(root) as u:
        yield u


# --- ways to send ------------------------------------------------------------------------------


def _form(data: bytes | None, path="/api/predict", **fields):
    def send(url):
        files = None if data is None else {"file": ("upload.bin", data() if callable(data) else data,
                                                    "application/octet-stream")}
        r = httpx.post(url + path, files=files, data={"model": MODEL, **fields}, timeout=TIMEOUT)
        return r.status_code, r.content
    return send


def _http(method: str, path: str, **kwargs):
    def send(url):
        r = httpx.request(method, url + path, timeout=TIMEOUT, **kwargs)
        return r.status_code, r.content
    return send


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        n = int(size_line.split(b";")[0], 16)
        if n == 0:
            break
        out, body = out + rest[:n], rest[n + 2:]
    return out


def _parse(response: bytes) -> tuple[int, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])}
    if headers.get(b"transfer-encoding") == b"chunked":
        body = _dechunk(body)
    elif b"content-length" in headers:
        body = body[:int(headers[b"content-length"])]
    return status, body


def _connect(url) -> socket.socket:
    host, port = url.split("//")[1].split(":")
    return socket.create_connection((host, int(port)), timeout=TIMEOUT)


def _read_all(s: socket.socket) -> bytes:
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def _raw(request: bytes):
    """Bytes on a socket as they are (no client to tidy them), the response read until the server closes."""
    def send(url):
        with _connect(url) as s:
            s.sendall(request)
            return _parse(_read_all(s))
    return send


def _raw_stream(head: bytes, chunk: bytes, count: int):
    """``head``, then up to ``count`` copies of ``chunk``, stopping as soon as the server answers (a server that
    refuses early stops reading; sending on would reset the connection and lose its answer)."""
    def send(url):
        with _connect(url) as s:
            s.sendall(head)
            for _ in range(count):
                if select.select([s], [], [], 0)[0]:
                    break
                try:
                    s.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
            return _parse(_read_all(s))
    return send


def _multipart(parts: list[tuple[str, bytes, str | None]], boundary=b"fuzzb0undary") -> bytes:
    out = b""
    for name, value, filename in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += b"--" + boundary + b"\r\nContent-Disposition: " + disp.encode() + b"\r\n\r\n" + value + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def _hexchunk(data: bytes) -> bytes:
    return f"{len(data):x}".encode() + b"\r\n" + data + b"\r\n"


def _post_raw(path: bytes, body: bytes, ctype: bytes, extra: bytes = b"") -> bytes:
    return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: " + ctype
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


def _v2(body, path=V2, headers=None):
    """A /v2 infer body: a dict (sent as JSON), or bytes as they are."""
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return _http("POST", path, content=content, headers={"content-type": "application/json", **(headers or {})})


def _fp32(shape=(1, 3, 32, 32), **extra) -> dict:
    n = int(np.prod(shape)) if all(isinstance(d, int) and d >= 0 for d in shape) else 1
    return {"name": "input", "datatype": "FP32", "shape": list(shape), "data": [0.0] * n} | extra


def _req(*inputs, **extra) -> dict:
    return {"inputs": list(inputs)} | extra


def _b64_png() -> str:
    import base64

    return base64.b64encode(_png(20, 20)).decode()


# --- hostile images ----------------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG whose header claims w x h (RGB) and whose data is 100 bytes: the size a bomb has on the wire."""
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", zlib.compress(b"\0" * 100)) + _chunk(b"IEND", b""))


@functools.cache
def _png_one_colour(w: int, h: int) -> bytes:
    """A real, complete w x h RGB PNG of one colour: every row a filter byte and zeros, so it is small on the
    wire (about 70 kB at 24 MP) and costs its full size to decode."""
    row = b"\0" * (1 + 3 * w)
    z = zlib.compressobj(9)
    data = b"".join(z.compress(row) for _ in range(h)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))


@functools.cache
def _jpeg_one_colour(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (90, 140, 30)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _png_with_ztxt(decompressed: int) -> bytes:
    """A small valid PNG with a zTXt chunk that inflates to ``decompressed`` bytes (a text bomb)."""
    png = _png(20, 20)
    ztxt = _chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"a" * decompressed, 9))
    at = 8 + 25  # after the signature and IHDR
    return png[:at] + ztxt + png[at:]


def _gif_frames(frames: int, w: int = 1, h: int = 1) -> bytes:
    """A GIF89a of ``frames`` 1 x 1 frames on a w x h logical screen (16 bytes a frame on the wire)."""
    head = b"GIF89a" + struct.pack("<HHBBB", w, h, 0x80, 0, 0) + b"\xff\xff\xff\x00\x00\x00"
    frame = b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00"
    return head + frame * frames + b";"


def _png_bad_crc() -> bytes:
    png = bytearray(_png(20, 20))
    png[8 + 8 + 13] ^= 0xFF  # IHDR's CRC
    return bytes(png)


def _png_bad_idat() -> bytes:
    png = bytearray(_png(40, 30))
    start = png.index(b"IDAT") + 4
    png[start:start + 40] = b"\x55" * 40  # the deflate stream's start: not zlib any more
    # recompute the CRC so the damage is in the pixel data, not the chunk framing
    n = struct.unpack(">I", png[start - 8:start - 4])[0]
    png[start + n:start + n + 4] = struct.pack(">I", zlib.crc32(bytes(png[start - 4:start + n])))
    return bytes(png)


def _jpeg_bad_header() -> bytes:
    jpg = bytearray(_jpeg(64, 48))
    sof = jpg.index(b"\xff\xc0")
    jpg[sof + 5:sof + 9] = b"\x00\x00\x00\x00"  # SOF0 says 0 x 0
    return bytes(jpg)


# --- the catalogue -----------------------------------------------------------------------------

H = b"Host: x\r\nConnection: close\r\n"
BIG = MAX_UPLOAD_BYTES + 1024 * 1024
B = b"fuzzb0undary"
MP = b"multipart/form-data; boundary=" + B
W, HH = 6000, MAX_PIXELS // 6000  # exactly at the budget (6000 x 4000)

ERROR_CASES = [
    # decode cost and hostile files (/api/predict)
    # 30000 x 30000 is over twice PIL's own bomb limit: the server opens the header with PIL's check off and applies
    # its own budget at once, so even this names the dimensions and 24,000,000
    ("png header 30000x30000", _form(_png_header_only(30000, 30000)), 413, ("30000 x 30000", "24,000,000")),
    ("png header 9000x9000", _form(_png_header_only(9000, 9000)), 413, ("9000 x 9000", "24,000,000")),
    ("png just over the budget", _form(lambda: _png_one_colour(W + 1, HH)), 413, ("6001 x 4000", "over the limit")),
    ("gif logical screen 65535x65535", _form(_gif_frames(1, 65535, 65535)), 413, ("65535 x 65535", "24,000,000")),
    ("png zTXt inflating to 50 MB", _form(lambda: _png_with_ztxt(50_000_000)), 400, ("could not be read",)),
    ("truncated jpeg", _form(_jpeg(200, 150)[:1500]), 400, ("truncated",)),
    ("truncated png", _form(_png(200, 150)[:3000]), 400, ("truncated",)),
    ("png signature only", _form(b"\x89PNG\r\n\x1a\n"), 415, ("not recognised",)),
    ("png with a bad crc", _form(_png_bad_crc()), 415, ("not recognised",)),
    ("png with corrupt pixel data", _form(_png_bad_idat()), 400, ("could not be decoded",)),
    ("jpeg claiming 0x0", _form(_jpeg_bad_header()), 415, ("not recognised",)),
    ("jpeg SOI then garbage", _form(b"\xff\xd8\xff" + bytes(range(256)) * 8), 415, ("not recognised",)),
    ("0-byte file", _form(b""), 400, ("empty", "0 bytes")),
    ("plain text", _form(b"hello, this is not an image\n" * 20), 415, ("not an image",)),
    ("pdf header", _form(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"), 415, ("not an image",)),
    ("svg", _form(b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"><rect/></svg>'), 415,
     ("not an image",)),
    ("no file field", _form(None), 422, ("no file",)),
    # malformed HTTP and bodies, on raw sockets
    ("content-length abc", _raw(b"POST /api/predict HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n"), 400,
     ("malformed http request", "content-length")),
    ("content-length negative", _raw(b"POST /api/predict HTTP/1.1\r\n" + H + b"Content-Length: -5\r\n\r\n"), 400,
     ("malformed http request", "content-length")),
    ("content-length twice, different", _raw(b"POST /api/predict HTTP/1.1\r\n" + H
                                              + b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"), 400,
     ("malformed http request", "content-length")),
    ("header line without colon", _raw(b"GET /healthz HTTP/1.1\r\n" + H + b"Bad header line\r\n\r\n"), 400,
     ("malformed http request", "header line")),
    ("request line garbage", _raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"), 400,
     ("malformed http request",)),
    ("bare LF post without a body", _raw(b"POST /api/predict HTTP/1.1\nHost: x\nConnection: close\n"
                                         b"Content-Length: 0\n\n"), 422, ("multipart/form-data",)),
    ("multipart missing its closing boundary", _raw(_post_raw(
        b"/api/predict", _multipart([("model", MODEL.encode(), None), ("file", _png(), "a.png")])[:-20], MP)),
     400, ("truncated", "closing boundary")),
    ("multipart without a boundary parameter", _raw(_post_raw(
        b"/api/predict", _multipart([("model", MODEL.encode(), None)]), b"multipart/form-data")), 400,
     ("form could not be parsed", "boundary")),
    ("wrong content-type", _raw(_post_raw(b"/api/predict", _png(), b"image/png")), 415,
     ("multipart/form-data", "image/png")),
    ("declared body over 10 MiB", _raw(b"POST /api/predict HTTP/1.1\r\n" + H + b"Content-Type: " + MP
                                       + b"\r\nContent-Length: " + str(BIG).encode() + b"\r\n\r\n"), 413,
     ("over the limit", f"{MAX_UPLOAD_BYTES:,}")),
    ("v2 declared body over 20 MiB", _raw(b"POST " + V2.encode() + b" HTTP/1.1\r\n" + H
                                          + b"Content-Length: 30000000\r\n\r\n"), 413, ("over the limit",)),
    ("torchserve declared body over 10 MiB", _raw(b"POST /predictions/bugs/cnn_a HTTP/1.1\r\n" + H
                                                  + b"Content-Length: " + str(BIG).encode() + b"\r\n\r\n"), 413,
     ("over the limit",)),
    # methods and routes
    ("GET /api/predict", _http("GET", "/api/predict"), 405, ("method not allowed",)),
    ("POST /api/models", _http("POST", "/api/models"), 405, ("method not allowed",)),
    ("DELETE /api/models/bugs/cnn_a/1", _http("DELETE", "/api/models/bugs/cnn_a/1"), 405, ("method not allowed",)),
    ("POST /healthz", _http("POST", "/healthz"), 405, ("method not allowed",)),
    ("PUT /", _http("PUT", "/"), 405, ("method not allowed",)),
    ("POST /v2", _http("POST", "/v2"), 405, ("method not allowed",)),
    ("POST /v2/health/live", _http("POST", "/v2/health/live"), 405, ("method not allowed",)),
    ("POST /v2/health/ready", _http("POST", "/v2/health/ready"), 405, ("method not allowed",)),
    ("PUT /v2/models/bugs/cnn_a", _http("PUT", "/v2/models/bugs/cnn_a"), 405, ("method not allowed",)),
    ("POST /v2/models/bugs/cnn_a (metadata)", _http("POST", "/v2/models/bugs/cnn_a"), 405, ("only .../infer",)),
    ("POST /v2/models/bugs/cnn_a/ready", _http("POST", "/v2/models/bugs/cnn_a/ready"), 405, ("only .../infer",)),
    ("GET /v2/models/bugs/cnn_a/infer", _http("GET", V2), 405, ("infer",)),
    ("GET /ping with POST", _http("POST", "/ping"), 405, ("method not allowed",)),
    ("GET /predictions/bugs/cnn_a", _http("GET", "/predictions/bugs/cnn_a"), 405, ("method not allowed",)),
    ("unknown route", _http("GET", "/no/such/route"), 404, ("not found",)),
    ("unknown /v2 route", _http("GET", "/v2/nothing"), 404, ("not found",)),
    ("unknown /v2/models tail", _http("GET", "/v2/models/bugs/cnn_a/versions/1/stats/x"), 404, ("no such route",)),
    # top_k
    ("top_k 0", _form(_png(), top_k="0"), 422, ("top_k", "between 1 and 4")),
    ("top_k -1", _form(_png(), top_k="-1"), 422, ("top_k", "between 1 and 4")),
    ("top_k above the class count", _form(_png(), top_k="5"), 422, ("between 1 and 4", MODEL)),
    ("top_k not an integer", _form(_png(), top_k="2.5"), 422, ("top_k must be an integer",)),
    ("top_k text", _form(_png(), top_k="many"), 422, ("top_k must be an integer",)),
    ("top_k huge", _form(_png(), top_k="9" * 40), 422, ("between 1 and 4",)),
    ("torchserve top_k 0", _http("POST", "/predictions/bugs/cnn_a?top_k=0", content=_png()), 422, ("top_k",)),
    ("torchserve top_k above the classes", _http("POST", "/predictions/bugs/cnn_a?top_k=99", content=_png()), 422,
     ("between 1 and 4",)),
    # unknown model / version / traversal, in all three APIs
    ("api unknown model", _form(_png(), model="bugs/nope"), 404, ("no model", "bugs/cnn_a, bugs/cnn_b")),
    ("api unknown version", _form(_png(), version="9"), 404, ("no version", "versions: 1, 2")),
    ("api version text", _form(_png(), version="newest"), 404, ("versions: 1, 2",)),
    ("api traversal", _form(_png(), model="../../etc/passwd"), 404, ("no model",)),
    ("api ambiguous bare name", _form(_png(), model="bugs"), 404, ("no model",)),
    ("v2 metadata unknown model", _http("GET", "/v2/models/bugs/nope"), 404, ("no model", "stored")),
    ("v2 metadata unknown version", _http("GET", "/v2/models/bugs/cnn_a/versions/7"), 404, ("versions: 1, 2",)),
    ("v2 infer unknown model", _v2(_req(_fp32()), path="/v2/models/bugs/nope/infer"), 404, ("no model",)),
    ("v2 infer unknown version", _v2(_req(_fp32()), path="/v2/models/bugs/cnn_a/versions/3/infer"), 404,
     ("no version",)),
    ("v2 traversal %2e%2e", _v2(_req(_fp32()), path="/v2/models/bugs/%2e%2e/infer"), 404, ("no model",)),
    ("v2 traversal in the version", _http("GET", "/v2/models/bugs/cnn_a/versions/%2e%2e"), 404, ("no version",)),
    ("torchserve unknown model", _http("POST", "/predictions/bugs/nope", content=_png()), 404, ("no model",)),
    ("torchserve unknown version", _http("POST", "/predictions/bugs/cnn_a/5", content=_png()), 404,
     ("no version",)),
    ("torchserve traversal", _http("POST", "/predictions/bugs/%2e%2e", content=_png()), 404, ("no model",)),
    ("torchserve empty body", _http("POST", "/predictions/bugs/cnn_a", content=b""), 400, ("empty",)),
    ("torchserve multipart without data", _http("POST", "/predictions/bugs/cnn_a", data={"other": "x"}), 422,
     ("no image", "data")),
    # /v2 infer: the request body
    ("v2 not JSON", _v2(b"this is not json"), 400, ("not valid json",)),
    ("v2 empty body", _v2(b""), 400, ("empty request",)),
    ("v2 JSON not an object", _v2(b"[1, 2, 3]"), 400, ("must be a json object", "list")),
    ("v2 inputs missing", _v2({"id": "x"}), 400, ("inputs must be a list",)),
    ("v2 inputs empty", _v2(_req()), 400, ("inputs must be a list",)),
    ("v2 inputs not a list", _v2({"inputs": {"name": "input"}}), 400, ("inputs must be a list",)),
    ("v2 two inputs", _v2(_req(_fp32(), _fp32())), 400, ("exactly one tensor",)),
    ("v2 wrong input name", _v2(_req(_fp32(name="pixels"))), 400, ("no input named 'pixels'",)),
    ("v2 datatype INT64", _v2(_req(_fp32(datatype="INT64"))), 400, ("'INT64'",)),
    ("v2 datatype FP16", _v2(_req(_fp32(datatype="FP16"))), 400, ("'FP16'",)),
    ("v2 BYTES on 'input'", _v2(_req(_fp32(datatype="BYTES"))), 400, ("'input'", "'BYTES'")),
    ("v2 FP32 on 'image'", _v2(_req({"name": "image", "datatype": "FP32", "shape": [1], "data": [0.5]})), 400,
     ("'image'", "'FP32'")),
    ("v2 shape not a list", _v2(_req(_fp32() | {"shape": "1x3x32x32"})), 400, ("shape must be",)),
    ("v2 shape missing", _v2(_req({"name": "input", "datatype": "FP32", "data": [0.0]})), 400, ("shape must be",)),
    ("v2 shape of floats", _v2(_req(_fp32() | {"shape": [1.0, 3, 32, 32]})), 400, ("shape must be",)),
    ("v2 negative shape", _v2(_req(_fp32() | {"shape": [-1, 3, 32, 32]})), 400, ("negative dimension",)),
    ("v2 wrong rank", _v2(_req(_fp32((3, 32, 32)))), 400, ("[n, 3, 32, 32]", "[3, 32, 32]")),
    ("v2 wrong spatial size", _v2(_req(_fp32((1, 3, 64, 64)))), 400, ("[n, 3, 32, 32]", "[1, 3, 64, 64]")),
    ("v2 wrong channels", _v2(_req(_fp32((1, 1, 32, 32)))), 400, ("[n, 3, 32, 32]",)),
    ("v2 FP32 batch 0", _v2(_req(_fp32((0, 3, 32, 32)))), 400, ("1 to 16", "got 0")),
    ("v2 FP32 batch 17", _v2(_req(_fp32((MAX_BATCH + 1, 3, 32, 32)))), 413, ("1 to 16", "got 17")),
    ("v2 BYTES batch 0", _v2(_req({"name": "image", "datatype": "BYTES", "shape": [0], "data": []})), 400,
     ("1 to 16",)),
    ("v2 BYTES batch 17", _v2(_req({"name": "image", "datatype": "BYTES", "shape": [17], "data": ["x"] * 17})),
     413, ("1 to 16", "got 17")),
    ("v2 BYTES wrong rank", _v2(_req({"name": "image", "datatype": "BYTES", "shape": [1, 2], "data": ["x"]})),
     400, ("shape [n]",)),
    ("v2 data shorter than the shape", _v2(_req(_fp32() | {"data": [0.0] * 3071})), 400,
     ("3,072 elements", "3,071")),
    ("v2 data longer than the shape", _v2(_req(_fp32() | {"data": [0.0] * 3073})), 400, ("3,073",)),
    ("v2 data missing", _v2(_req({"name": "input", "datatype": "FP32", "shape": [1, 3, 32, 32]})), 400,
     ("no data",)),
    ("v2 data with a string", _v2(_req(_fp32() | {"data": ["0.5"] + [0.0] * 3071})), 400,
     ("must be numbers", "'0.5'")),
    ("v2 data with a boolean", _v2(_req(_fp32() | {"data": [True] + [0.0] * 3071})), 400,
     ("must be numbers", "true")),
    ("v2 data with null", _v2(_req(_fp32() | {"data": [None] + [0.0] * 3071})), 400, ("must be numbers", "none")),
    ("v2 data with a NaN token", _v2(b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 3, 32, 32], '
                                     b'"data": [NaN' + b", 0" * 3071 + b"]}]}"), 400, ("nan or infinite",)),
    ("v2 data with Infinity", _v2(b'{"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 3, 32, 32], '
                                  b'"data": [-Infinity' + b", 0" * 3071 + b"]}]}"), 400, ("nan or infinite",)),
    ("v2 data beyond 1e6", _v2(_req(_fp32() | {"data": [1e30] + [0.0] * 3071})), 400, ("beyond 1e6",)),
    ("v2 BYTES base64 garbage", _v2(_req({"name": "image", "datatype": "BYTES", "shape": [1],
                                          "data": ["@@not base64!!"]})), 400, ("not a base64 string",)),
    ("v2 BYTES a number for base64", _v2(_req({"name": "image", "datatype": "BYTES", "shape": [1], "data": [7]})),
     400, ("element 0", "base64")),
    ("v2 BYTES base64 of not an image", _v2(_req({"name": "image", "datatype": "BYTES", "shape": [1],
                                                  "data": ["aGVsbG8gd29ybGQ="]})), 415, ("not an image",)),
    ("v2 BYTES count not the shape", _v2(_req({"name": "image", "datatype": "BYTES", "shape": [2],
                                               "data": [_b64_png()]})), 400, ("says 2", "has 1")),
    ("v2 binary_data_size past the body", _v2(
        json.dumps(_req(_fp32() | {"data": None, "parameters": {"binary_data_size": 12288}})).encode() + b"\0" * 100,
        headers={"Inference-Header-Content-Length": str(len(json.dumps(
            _req(_fp32() | {"data": None, "parameters": {"binary_data_size": 12288}}))))}), 400,
     ("runs past", "100 binary bytes")),
    ("v2 binary_data_size negative", _v2(_req(_fp32() | {"parameters": {"binary_data_size": -4}})), 400,
     ("binary_data_size must be a byte count",)),
    ("v2 binary FP32 of the wrong length", _v2(
        json.dumps(_req(_fp32() | {"data": None, "parameters": {"binary_data_size": 400}})).encode() + b"\0" * 400,
        headers={"Inference-Header-Content-Length": str(len(json.dumps(
            _req(_fp32() | {"data": None, "parameters": {"binary_data_size": 400}}))))}), 400,
     ("needs 12,288 bytes", "got 400")),
    ("v2 binary BYTES length prefix past the data", _v2(
        json.dumps(_req({"name": "image", "datatype": "BYTES", "shape": [1],
                         "parameters": {"binary_data_size": 8}})).encode() + struct.pack("<I", 999) + b"abcd",
        headers={"Inference-Header-Content-Length": str(len(json.dumps(
            _req({"name": "image", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 8}}))))}),
     400, ("says 999 bytes",)),
    ("v2 Inference-Header-Content-Length text", _v2(_req(_fp32()), headers={
        "Inference-Header-Content-Length": "abc"}), 400, ("inference-header-content-length", "'abc'")),
    ("v2 Inference-Header-Content-Length too large", _v2(_req(_fp32()), headers={
        "Inference-Header-Content-Length": "99999999"}), 400, ("99,999,999", "the body has")),
    ("v2 Inference-Header-Content-Length zero", _v2(_req(_fp32()), headers={
        "Inference-Header-Content-Length": "0"}), 400, ("inference-header-content-length is 0",)),
    ("v2 outputs naming an unknown output", _v2(_req(_fp32(), outputs=[{"name": "logits"}])), 400,
     ("no output 'logits'", "probabilities")),
    ("v2 outputs not a list", _v2(_req(_fp32(), outputs="probabilities")), 400, ("outputs must be a list",)),
    ("v2 classification negative", _v2(_req(_fp32(), outputs=[{"name": "probabilities",
                                                               "parameters": {"classification": -2}}])), 400,
     ("classification must be a non-negative integer", "-2")),
    ("v2 classification text", _v2(_req(_fp32(), outputs=[{"name": "probabilities",
                                                           "parameters": {"classification": "3"}}])), 400,
     ("classification must be",)),
    ("v2 parameters not an object", _v2(_req(_fp32(), parameters=[1])), 400, ("parameters must be an object",)),
    ("v2 id not a string", _v2(_req(_fp32(), id=5)), 400, ("id must be a string",)),
]

ALLOWED_CASES = [  # hostile-looking but within every limit: 200 and predictions
    ("png at the budget, one colour", _form(lambda: _png_one_colour(W, HH)), 200, ()),
    ("jpeg at the budget", _form(lambda: _jpeg_one_colour(W, HH)), 200, ()),
    ("gif of 100,000 frames (only the first is decoded)", _form(_gif_frames(100_000)), 200, ()),
    ("png 1 x 20000 (extreme aspect ratio)", _form(lambda: _png_one_colour(1, 20000)), 200, ()),
    ("png 20000 x 1", _form(lambda: _png_one_colour(20000, 1)), 200, ()),
    ("png zTXt inflating to 500 kB (under PIL's text limit)", _form(lambda: _png_with_ztxt(500_000)), 200, ()),
]

# Not in the catalogue: a chunked (undeclared) body over 10 MiB. The server does answer 413 JSON after reading
# 10 MiB (test_web.py checks it over raw ASGI), but it then closes with our unsent bytes unread, the kernel sends
# a reset, and the reset discards the answer from our receive buffer before we can read it: on a socket the answer
# is lost by a race, not by the server.
# Not in the catalogue, by design: a Content-Length larger than the body and then the client closes its side.
# uvicorn sees the end of the stream, closes the connection and hands the app a disconnect: there is nobody
# left to answer, so no status or JSON can come back (test_truncated_body_then_close checks the server lives on).


def _normal(url) -> int:
    r = httpx.post(url + "/api/predict", files={"file": ("ok.png", _png(24, 24))}, data={"model": MODEL},
                   timeout=TIMEOUT)
    return r.status_code


def test_the_catalogue_has_at_least_60_error_cases():
    ids = [c[0] for c in ERROR_CASES + ALLOWED_CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(ERROR_CASES) >= 60, len(ERROR_CASES)
    assert all(400 <= c[2] < 500 for c in ERROR_CASES)


@pytest.mark.parametrize("case, send, status, words", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_bad_input_gets_its_status_and_a_json_error_and_the_server_serves_on(url, case, send, status, words):
    got, body = send(url)
    assert got != 500 and got < 500, (case, got, body[:300])
    payload = json.loads(body)
    assert isinstance(payload, dict) and isinstance(payload.get("error"), str) and payload["error"], payload
    assert got == status, (case, got, payload)
    for word in words:
        assert word.lower() in payload["error"].lower(), (case, word, payload["error"])
    assert _normal(url) == 200, f"after {case!r} a normal request failed"


@pytest.mark.parametrize("case, send, status, words", ALLOWED_CASES, ids=[c[0] for c in ALLOWED_CASES])
def test_allowed_hostile_images_are_answered(url, case, send, status, words):
    got, body = send(url)
    payload = json.loads(body)
    assert got == status, (case, got, payload)
    assert len(payload["predictions"]) == 4 and abs(sum(p["probability"] for p in payload["predictions"]) - 1) < 1e-4
    assert _normal(url) == 200


def test_hostile_images_are_small_on_the_wire():
    """The decode-cost rows are what makes them hostile: little to send, much to decode."""
    assert len(_png_header_only(30000, 30000)) < 200
    assert len(_png_one_colour(W + 1, HH)) < 200_000 and (W + 1) * HH > MAX_PIXELS >= W * HH
    assert len(_gif_frames(100_000)) < 2_000_000


def test_truncated_body_then_close(url):
    """Content-Length 500, 9 bytes, then the client shuts its side: the server answers nothing (no one to answer)
    or a JSON 400, never a 500, and serves the next request."""
    with _connect(url) as s:
        s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: " + MP
                  + b"\r\nContent-Length: 500\r\n\r\n--" + B + b"\r\n")
        s.shutdown(socket.SHUT_WR)
        s.settimeout(TIMEOUT)
        out = _read_all(s)
    if out:
        status, body = _parse(out)
        assert status == 400 and "error" in json.loads(body), out
    time.sleep(0.1)
    assert _normal(url) == 200
