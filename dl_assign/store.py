"""The versioned model store: ``save`` / ``list_models`` / ``load(task, model, version="latest")``.

Layout, under ``$DL_ASSIGN_MODELS`` (default ``./.models``; never committed)::

    <root>/<task>/<model>/<version>/model.pt     state dict (loads with torch.load(weights_only=True))
    <root>/<task>/<model>/<version>/meta.json    how to rebuild it, classes, preprocessing, metrics,
                                                 provenance, sha256 of model.pt
    <root>/<task>/<model>/.last_version          the highest version ever published

Versions are integers from 1 that only go up: the next is ``max(highest version folder,
.last_version) + 1``, so deleting the latest version never hands its number out again.

Writes are atomic: everything is written (and fsynced) into a hidden ``.tmp-<pid>-<hex>`` folder
inside the model folder, then ``os.rename``d to the version number. A rename onto an existing
version folder fails, so two writers racing for one number cannot both win: the loser picks the
next number and retries. A writer killed mid-write leaves only its hidden folder, which is never
listed and is removed by the next ``save`` once its process is gone.

The model is rebuilt from meta.json's ``builder`` (a name registered with ``@builder("name")``)
and ``builder_kwargs``; ``save`` rebuilds it once to check the state dict fits before writing.
"""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import importlib
import io
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn

try:
    import fcntl
except ImportError:  # not POSIX: .last_version updates are then unlocked
    fcntl = None

FORMAT = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VERSION = re.compile(r"^[1-9][0-9]*$")


class StoreError(RuntimeError):
    """A store problem; the message names the folder or file."""


class UnsafeName(StoreError, ValueError):
    """A task or model name that could leave the store (``..``, ``/``, absolute) or hide (leading dot)."""


class IncompleteVersion(StoreError):
    """A version folder without meta.json or model.pt: not something ``save`` published."""


class ChecksumMismatch(StoreError):
    """model.pt's sha256 differs from the one recorded in meta.json."""


# --- builders ----------------------------------------------------------------------------------

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def builder(name: str):
    """``@builder("small_cnn")``: register how to rebuild a stored model from its JSON kwargs."""

    def deco(fn):
        old = _BUILDERS.get(name)
        if old is not None and (old.__module__, old.__qualname__) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"builder {name!r} is already registered by {old.__module__}.{old.__qualname__}")
        _BUILDERS[name] = fn
        return fn

    return deco


def builders() -> list[str]:
    return sorted(_BUILDERS)


@builder("backbone_classifier")
def _backbone_classifier(backbone: str, num_classes: int, dropout: float = 0.2) -> nn.Module:
    """A pretrained-trunk classifier; rebuilt with a random trunk (model.pt holds every weight)."""
    from dl_assign.models.backbones import BackboneClassifier
    from dl_assign.models.backbones import backbone as make

    return BackboneClassifier(make(backbone, pretrained=False).trunk, num_classes, dropout)


@builder("small_cnn")
def _small_cnn(n_classes: int, widths=(32, 64, 128, 256), in_channels: int = 3, dropout: float = 0.3,
               convs_per_stage: int = 1) -> nn.Module:
    from dl_assign.models.small_cnn import SmallCNN

    return SmallCNN(n_classes, tuple(widths), in_channels, dropout, convs_per_stage)


def _build(name: str, kwargs: Mapping, module: str | None = None) -> nn.Module:
    if name not in _BUILDERS and module:
        importlib.import_module(module)  # the module whose import registers it
    if name not in _BUILDERS:
        raise StoreError(f"unknown builder {name!r}; registered: {', '.join(builders())} "
                         f"(import the module that registers it with @store.builder)")
    return _BUILDERS[name](**kwargs)


# --- paths -------------------------------------------------------------------------------------


def store_root(root: str | Path | None = None) -> Path:
    return Path(root if root is not None else os.environ.get("DL_ASSIGN_MODELS", ".models"))


def _check_name(kind: str, value) -> str:
    if not isinstance(value, str) or not _NAME.match(value) or ".." in value:
        raise UnsafeName(f"{kind} name {value!r} refused: use letters, digits, '.', '_', '-' (no leading dot, "
                         f"no '..', no '/', not absolute)")
    return value


def _model_dir(root: Path, task: str, name: str) -> Path:
    d = root / _check_name("task", task) / _check_name("model", name)
    if not d.resolve().is_relative_to(root.resolve()):  # belt and braces: a symlink inside the store
        raise UnsafeName(f"{d} resolves outside the store {root.resolve()}")
    return d


def _version_dirs(model_dir: Path) -> list[int]:
    """Every published version number (a folder named by a positive integer), complete or not."""
    if not model_dir.is_dir():
        return []
    return sorted(int(p.name) for p in model_dir.iterdir() if p.is_dir() and _VERSION.match(p.name))


def _is_complete(vdir: Path) -> bool:
    return (vdir / "meta.json").is_file() and (vdir / "model.pt").is_file()


def _read_last(model_dir: Path) -> int:
    try:
        return int((model_dir / ".last_version").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _next_version(model_dir: Path) -> int:
    return max([_read_last(model_dir), *_version_dirs(model_dir)]) + 1


def _bump_last(model_dir: Path, version: int) -> None:
    """Raise ``.last_version`` to ``version`` (never lower it), under a lock, atomically."""
    with open(model_dir / ".lock", "a+") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        if version > _read_last(model_dir):
            tmp = model_dir / f".last_version.{os.getpid()}.{uuid.uuid4().hex}"
            _write_bytes(tmp, f"{version}\n".encode())
            os.replace(tmp, model_dir / ".last_version")


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_stale_temps(model_dir: Path) -> None:
    """Remove ``.tmp-<pid>-*`` folders whose writer process no longer exists (a killed save)."""
    for p in model_dir.glob(".tmp-*"):
        try:
            pid = int(p.name.split("-")[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except (ValueError, IndexError, PermissionError, OSError):
            continue


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --- save / list / load ------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionInfo:
    task: str
    name: str
    version: int
    path: Path
    sha256: str


def save(model: nn.Module, *, task: str, name: str, builder: str, builder_kwargs: Mapping, classes,
         preprocessing: Mapping, metrics: Mapping, experiment: str, budget: str, seed: int,
         root: str | Path | None = None, source: Mapping | None = None) -> VersionInfo:
    """Publish ``model``'s state dict as the next version of ``<task>/<name>``; returns where it went.

    ``source`` (JSON) says where weights that were not trained here came from (a package's file and
    its sha256, say); meta.json keeps it. Under torchrun only rank 0 publishes; every rank gets rank
    0's :class:`VersionInfo`.
    """
    from dl_assign.engine import distributed

    kwargs = dict(task=task, name=name, builder=builder, builder_kwargs=builder_kwargs, classes=classes,
                  preprocessing=preprocessing, metrics=metrics, experiment=experiment, budget=budget,
                  seed=seed, root=root, source=source)
    if distributed.active():
        return distributed.on_main(lambda: _save(model, **kwargs))
    return _save(model, **kwargs)


def _save(model: nn.Module, *, task: str, name: str, builder: str, builder_kwargs: Mapping, classes,
          preprocessing: Mapping, metrics: Mapping, experiment: str, budget: str, seed: int,
          root: str | Path | None = None, source: Mapping | None = None) -> VersionInfo:
    from dl_assign.results import git_sha

    root = store_root(root)
    model_dir = _model_dir(root, task, name)
    builder_kwargs = dict(builder_kwargs)
    meta = {"format": FORMAT, "task": task, "name": name, "version": None,
            "builder": builder, "builder_module": None, "builder_kwargs": builder_kwargs,
            "class": f"{type(model).__module__}.{type(model).__qualname__}",
            "classes": list(classes), "preprocessing": dict(preprocessing), "metrics": dict(metrics),
            "experiment": experiment, "budget": budget, "seed": seed, "git_sha": git_sha(),
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "torch": torch.__version__, "params": sum(p.numel() for p in model.parameters()),
            "sha256": None, "bytes": None}
    if source is not None:
        meta["source"] = dict(source)
    try:
        json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"meta.json for {task}/{name} is not JSON-serialisable: {exc}") from None

    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    rebuilt = _build(builder, builder_kwargs)
    meta["builder_module"] = _BUILDERS[builder].__module__
    want = {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in state.items()}
    if want != have:
        diff = sorted(set(want.items()) ^ set(have.items()))[:4]
        raise StoreError(f"{builder}(**{builder_kwargs}) does not rebuild this model (state dict keys/shapes "
                         f"differ, e.g. {diff}); nothing was written")
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    meta["sha256"], meta["bytes"] = hashlib.sha256(data).hexdigest(), len(data)
    same = _same_weights(model_dir, meta["sha256"])
    if same is not None:  # bit-identical to a stored version (a re-run with the same seed): marked, not hidden
        meta["duplicate_of"] = same

    model_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(model_dir)
    tmp = model_dir / f".tmp-{os.getpid()}-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        _write_bytes(tmp / "model.pt", data)
        for _ in range(1000):
            version = _next_version(model_dir)
            meta["version"] = version
            _write_bytes(tmp / "meta.json", (json.dumps(meta, indent=2) + "\n").encode())
            _fsync_dir(tmp)
            try:
                os.rename(tmp, model_dir / str(version))
                break
            except OSError as exc:  # another writer took this number first: take the next
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        else:
            raise StoreError(f"could not claim a version number in {model_dir} after 1000 attempts")
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(model_dir)
    _bump_last(model_dir, version)
    return VersionInfo(task, name, version, model_dir / str(version), meta["sha256"])


def _same_weights(model_dir: Path, sha256: str) -> int | None:
    """The first complete version of ``model_dir`` whose weights hash is ``sha256``, or None."""
    if not model_dir.is_dir():
        return None
    for vdir in sorted((p for p in model_dir.iterdir() if p.name.isdigit()), key=lambda p: int(p.name)):
        try:
            if json.loads((vdir / "meta.json").read_text()).get("sha256") == sha256 and (vdir / "model.pt").is_file():
                return int(vdir.name)
        except (OSError, ValueError):
            continue
    return None


@dataclass(frozen=True)
class ModelRecord:
    task: str
    model: str
    versions: tuple[int, ...]  # complete versions only
    latest: int | None
    test_accuracy: float | None  # of the latest version
    incomplete: tuple[int, ...] = ()  # version folders without meta.json / model.pt


def _metric(metrics: Mapping, key: str) -> float | None:
    value = metrics.get(key)
    if isinstance(value, Mapping):
        value = value.get("mean")
    return float(value) if isinstance(value, int | float) else None


def _read_meta(vdir: Path) -> dict:
    if not (vdir / "meta.json").is_file():
        raise IncompleteVersion(f"{vdir} has no meta.json: not a version published by store.save "
                                f"(written by hand, or damaged); delete it or restore meta.json")
    if not (vdir / "model.pt").is_file():
        raise IncompleteVersion(f"{vdir} has no model.pt: not a complete version")
    try:
        return json.loads((vdir / "meta.json").read_text())
    except (OSError, ValueError) as exc:
        raise IncompleteVersion(f"{vdir / 'meta.json'} cannot be read: {exc}") from None


def list_models(root: str | Path | None = None) -> list[ModelRecord]:
    """Every ``<task>/<model>`` in the store with its complete versions and latest test accuracy."""
    root = store_root(root)
    records = []
    if not root.is_dir():
        return records
    for task_dir in sorted(p for p in root.iterdir() if p.is_dir() and _NAME.match(p.name)):
        for model_dir in sorted(p for p in task_dir.iterdir() if p.is_dir() and _NAME.match(p.name)):
            all_versions = _version_dirs(model_dir)
            done = tuple(v for v in all_versions if _is_complete(model_dir / str(v)))
            acc = None
            if done:
                try:
                    acc = _metric(json.loads((model_dir / str(done[-1]) / "meta.json").read_text())
                                  .get("metrics", {}), "test_accuracy")
                except (OSError, ValueError):
                    acc = None
            records.append(ModelRecord(task_dir.name, model_dir.name, done, done[-1] if done else None, acc,
                                       tuple(v for v in all_versions if v not in done)))
    return records


class Loaded(NamedTuple):
    """What ``load`` returns: unpacks as ``model, meta``."""

    model: nn.Module
    meta: dict

    @property
    def preprocessing(self) -> dict:
        return self.meta["preprocessing"]


def resolve(task: str, model: str, version: int | str = "latest", *, root: str | Path | None = None) -> Path:
    """The folder of ``<task>/<model>/<version>``; "latest" is the highest complete version."""
    root = store_root(root)
    model_dir = _model_dir(root, task, model)
    if not model_dir.is_dir():
        known = [f"{r.task}/{r.model}" for r in list_models(root)]
        raise StoreError(f"no model {task}/{model} in {root}; stored: {', '.join(known) or 'none'}")
    if version == "latest":
        done = [v for v in _version_dirs(model_dir) if _is_complete(model_dir / str(v))]
        if not done:
            raise IncompleteVersion(f"{model_dir} holds no complete version")
        return model_dir / str(done[-1])
    if isinstance(version, bool) or not _VERSION.match(str(version)):
        raise StoreError(f"version must be a positive integer or 'latest', got {version!r}")
    vdir = model_dir / str(int(version))
    if not vdir.is_dir():
        raise StoreError(f"{task}/{model} has no version {version}; versions: {_version_dirs(model_dir)}")
    return vdir


def load(task: str, model: str, version: int | str = "latest", *, root: str | Path | None = None,
         map_location: str | torch.device = "cpu") -> Loaded:
    """``(model in eval mode, meta)``; refuses a model.pt whose sha256 differs from meta.json."""
    vdir = resolve(task, model, version, root=root)
    meta = _read_meta(vdir)
    digest = _sha256_file(vdir / "model.pt")
    if digest != meta.get("sha256"):
        raise ChecksumMismatch(f"{vdir / 'model.pt'} has sha256 {digest}, but meta.json records "
                               f"{meta.get('sha256')}: the file was changed or damaged; refusing to load it")
    net = _build(meta["builder"], meta.get("builder_kwargs", {}), meta.get("builder_module"))
    state = torch.load(vdir / "model.pt", map_location=map_location, weights_only=True)
    net.load_state_dict(state, strict=True)
    return Loaded(net.to(map_location).eval(), meta)
