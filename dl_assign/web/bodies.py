"""The request side of the server: the API's error, and the body readers every protocol uses.

Bodies are read from the stream in memory and refused as soon as they pass their limit; a body that
ends early, a multipart body without its closing boundary and a bad ``Content-Length`` are 400s in
words, never a 500.
"""

from __future__ import annotations

import base64

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect


class ApiError(Exception):
    """An error the API answers in plain words: ``status`` + ``message`` (+ extra JSON fields)."""

    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def _error(status: int, message: str, **extra) -> JSONResponse:
    return JSONResponse({"error": message, "status": status, **extra}, status_code=status)


# --- the request body --------------------------------------------------------------------------


def _declared_length(request: Request, limit: int, what: str) -> str | None:
    """The Content-Length header as sent (None if absent); 413 when it declares more than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ApiError(413, f"{what} of {int(declared):,} bytes is over the limit of {limit:,} bytes")
        except ValueError:
            raise ApiError(400, f"bad Content-Length header {declared!r}") from None
    return declared


async def read_form(request: Request, limit: int) -> tuple[dict[str, str], bytes | None, str | None]:
    """Parse a multipart (or urlencoded) body from the stream, in memory; 413 past ``limit`` bytes."""
    from python_multipart import FormParser
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import parse_options_header

    declared = _declared_length(request, limit, "upload")
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
    except ClientDisconnect:
        raise ApiError(400, f"the body ended early: the client closed the connection after {received:,} of "
                            f"{declared or 'an unknown number of'} bytes (a truncated upload)") from None
    except Exception as exc:  # noqa: BLE001  a malformed body is the client's error, never a 500
        raise ApiError(400, f"the form could not be parsed: {exc}") from None
    if ctype == "multipart/form-data" and not _multipart_complete(parser):
        raise ApiError(400, f"the multipart body is truncated: it ended after {received:,} bytes without its "
                            f"closing boundary, so the upload is incomplete")
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


def _multipart_complete(parser) -> bool:
    from python_multipart.multipart import MultipartState

    inner = getattr(parser, "parser", None)
    return inner is None or getattr(inner, "state", MultipartState.END) == MultipartState.END


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, read from the stream; 413 past ``limit`` bytes, 400 when it ends early."""
    declared = _declared_length(request, limit, "body")
    chunks, received = [], 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise ApiError(413, f"body is over the limit of {limit:,} bytes (stopped reading at {received:,})")
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, f"the body ended early: the client closed the connection after {received:,} of "
                            f"{declared or 'an unknown number of'} bytes") from None
    return b"".join(chunks)


def parse_top_k(raw, n_classes: int, name: str, default: int = 5) -> int:
    """``top_k`` as sent (a form string, a JSON int, or None = ``min(default, n_classes)``): 1 to the number of
    classes of model ``name``, else 422 naming that number."""
    if raw is None or raw == "":
        return min(default, n_classes)
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ApiError(422, f"top_k must be an integer, got {raw!r}")
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, f"top_k must be an integer, got {raw!r}") from None
    if not 1 <= value <= n_classes:
        raise ApiError(422, f"top_k must be between 1 and {n_classes} (the number of classes of {name}), "
                            f"got {value}")
    return value


def b64decode(text: str) -> bytes:
    """Standard or URL-safe base64 (padding optional) -> bytes; ValueError otherwise."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    t = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(t + "=" * (-len(t) % 4), validate=True)
