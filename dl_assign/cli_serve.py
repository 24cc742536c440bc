"""``dl-assign serve`` and ``dl-assign predict``: the two commands that put a stored model in front of a user.

Split from :mod:`dl_assign.cli` (which builds the parser and imports these when it does); bad input is a
:class:`dl_assign.cli.UsageError`, one line on stderr and exit 2, as everywhere in the CLI.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from pathlib import Path

from dl_assign.cli import UsageError, _folder


def _check_bind(host: str, port: int) -> None:
    """Bind ``host:port`` as uvicorn will, then let go: an unknown host or a port in use is one line
    here, before seconds of imports, not a traceback from inside the server."""
    if not host or "/" in host or any(ch.isspace() for ch in host):  # a URL or a typo: never looked up
        raise UsageError(f"--host {host!r}: give a host name or an address (127.0.0.1, ::1, 0.0.0.0), "
                         "not a URL or a path")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # uvicorn's choice
    try:
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: cannot be resolved to an address to serve on ({exc.strerror})") from None
    fam, kind, proto, _, address = infos[0]
    with socket.socket(fam, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a port in TIME_WAIT is free
        try:
            sock.bind(address)
        except OSError as exc:
            hint = {errno.EADDRINUSE: "the port is in use; pick another with --port",
                    errno.EADDRNOTAVAIL: "not an address of this machine",
                    errno.EACCES: "a port below 1024 needs root"}.get(exc.errno)
            raise UsageError(f"cannot serve on {host}:{port}: {exc.strerror}"
                             + (f" ({hint})" if hint else "")) from None


def _cmd_serve(args) -> int:
    from dl_assign.store import store_root

    _folder(store_root(args.store), "--store" if args.store is not None else "$DL_ASSIGN_MODELS")
    _check_bind(args.host, args.port)
    try:
        from dl_assign.web.server import serve
    except ImportError as exc:  # fastapi / uvicorn come with the `web` extra
        print(f"dl-assign: error: the web app needs the `web` extra (pip install -e '.[web]'): {exc}",
              file=sys.stderr)
        return 2
    serve(args.store, host=args.host, port=args.port, workers=args.workers, threads=args.threads)
    return 0


def _model_arg(text: str) -> tuple[str, str, str]:
    """``task/model[@version]`` -> (task, model, version), version a positive integer or ``latest``."""
    name, _, version = text.partition("@")
    parts = name.split("/")
    if len(parts) != 2 or not all(parts):
        raise argparse.ArgumentTypeError(f"takes task/model[@version], e.g. faces.gender/improved_cnn@3; got {text!r}")
    version = version or "latest"
    if version != "latest" and not (version.isdigit() and int(version) >= 1):
        raise argparse.ArgumentTypeError(f"the version after @ is a positive integer or latest; got {version!r}")
    return parts[0], parts[1], version


def _cmd_predict(args) -> int:
    """One image through a stored model; ``faces*`` models see the largest aligned face (dl_assign.face)."""
    from dl_assign import store

    path = Path(args.image)
    if path.is_dir():
        raise UsageError(f"IMAGE {path} is a folder, not an image file")
    if not path.is_file():
        raise UsageError(f"IMAGE {path}: no such file")
    root = _folder(store.store_root(args.store), "--store" if args.store is not None else "$DL_ASSIGN_MODELS")
    task, model, version = args.model
    try:
        loaded = store.load(task, model, version, root=root)
    except (store.StoreError, OSError) as exc:  # unknown model or version, damaged files, unsafe names
        raise UsageError(f"--model {task}/{model}@{version}: {exc}") from None
    import torch

    from dl_assign.models.backbones import preprocess
    from dl_assign.web.images import ImageError, decode

    try:
        data = path.read_bytes()
        image = decode(data)  # (H, W, 3) uint8 RGB
    except (ImageError, OSError) as exc:
        raise UsageError(f"IMAGE {path}: {exc}") from None
    version_no = loaded.meta.get("version", version)
    print(f"model: {task}/{model} version {version_no}")
    if task.startswith("faces"):
        from dl_assign import face

        try:
            image, found = face.largest_face_crop(image, face.UTK_CHIP, args.detector)
        except face.NoFaceError as exc:
            print(f"dl-assign: {exc}: {path}", file=sys.stderr)
            return 1
        x0, y0, x1, y1 = found.box
        print(f"face: box {x0},{y0},{x1},{y1} (x0,y0,x1,y1 px), score {found.score:.3f}, detector {found.detector}")
    with torch.inference_mode():
        probs = torch.softmax(loaded.model(preprocess(image, loaded.preprocessing)).float(), dim=1)[0]  # (C,)
    classes = loaded.meta["classes"]
    p, idx = probs.topk(min(args.top_k, probs.numel()))
    for q, i in zip(p.tolist(), idx.tolist()):
        print(f"  {classes[i]:24s} {q:.4f}")
    return 0
