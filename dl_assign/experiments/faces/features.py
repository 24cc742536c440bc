"""The frozen-trunk feature cache of ``faces.gender_transfer``: the trunk's frozen part runs once per
face and view (the image and its mirror), in memory and under build/cache/faces; epochs run only the
new fully connected layers on the cached vectors."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import OrderedDict

import torch
from torch import nn

from dl_assign.data.augment import Normalize
from dl_assign.experiments.faces.common import SPLITS, FaceTensors, cache_dir


def frozen_depth(bb) -> int:
    """Blocks run frozen: VGG16 through its last conv block (conv5, then pooled: 512), others the whole trunk."""
    names = list(bb.block_names)
    return names.index("conv5") + 1 if "conv5" in names else len(names)


@torch.no_grad()
def frozen_features(model: nn.Module, x: torch.Tensor, prep_norm: Normalize, *, batch: int = 128,
                    bf16: bool = False) -> torch.Tensor:
    """``model.features`` (the frozen part) of uint8 images (N, 3, S, S), channels-last: (N, D) fp32."""
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        xb = prep_norm(x[i:i + batch]).contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out.append(model.features(xb).float())
    return torch.cat(out)


_FEATURES: OrderedDict[str, dict] = OrderedDict()


def feature_cache(model: nn.Module, bb, data: FaceTensors, *, views: int, disk: bool, bf16: bool) -> dict:
    """``{"train": (N, K, D), "val" | "test" | "fairface": (N, D), "seconds", "source", "key"}``, computed once.

    View 0 is the image, view 1 its mirror (training picks one per step). Kept in memory and, with
    ``disk``, under build/cache/faces, keyed by backbone, weights sha256, frozen depth, data and precision.
    """
    desc = {"backbone": bb.name, "weights": (bb.weights or {}).get("sha256", "random"), "n_frozen": model.n_frozen,
            "data": data.key, "views": views, "bf16": bf16, "mean": bb.preprocessing["mean"]}
    key = f"feat-{bb.name}-{hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:20]}"
    if bb.pretrained and key in _FEATURES:
        return _FEATURES[key] | {"source": "memory"}
    path = cache_dir() / f"{key}.pt"
    if bb.pretrained and disk and path.is_file():
        try:
            got = torch.load(path, map_location="cpu", weights_only=True) | {"source": "disk", "key": key}
            _FEATURES[key] = got
            return got
        except Exception:
            pass
    norm = Normalize(bb.preprocessing["mean"], bb.preprocessing["std"])
    model.trunk.to(memory_format=torch.channels_last)
    t0 = time.perf_counter()
    train = torch.stack([frozen_features(model, data.x["train"] if v == 0 else data.x["train"].flip(-1), norm,
                                         bf16=bf16) for v in range(views)], 1)  # (N, K, D)
    got = {"train": train, **{s: frozen_features(model, data.x[s], norm, bf16=bf16) for s in SPLITS}}
    got["seconds"] = time.perf_counter() - t0
    model.trunk.to(memory_format=torch.contiguous_format)
    if bb.pretrained and disk:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        torch.save(got, tmp)
        os.replace(tmp, path)
    got |= {"source": "computed", "key": key}
    if bb.pretrained:
        _FEATURES[key] = got
        while len(_FEATURES) > 2:
            _FEATURES.popitem(last=False)
    return got
