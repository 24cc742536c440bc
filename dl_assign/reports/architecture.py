"""Architecture summaries generated from the models the committed results trained.

Each entry rebuilds an experiment's model from the config stored in its result record (never from
hand-written layer lists) and measures it with one forward pass (``models.summary.summarize``):
every layer, its output shape and its parameter count. An experiment without an entry (the NumPy
MLP, the studies' many cells, models whose pretrained weights are not on this machine) says so in
the report instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from dl_assign.results import markdown_table

MAX_ROWS = 45  # deeper models are summarised per block (ResNet-50 has 170 leaves)


def _config(record: dict):
    """The experiment's config dataclass, filled from the record (JSON lists back to tuples)."""
    from dl_assign import registry

    cls = registry.get(record["experiment"]).config_cls
    base = cls()
    values = {}
    for f in dataclasses.fields(cls):
        if f.name in record["config"]:
            value = record["config"][f.name]
            values[f.name] = tuple(value) if isinstance(getattr(base, f.name), tuple) and value is not None else value
    return dataclasses.replace(base, **values)


def _fashion_mlp(record):
    import torch

    from dl_assign.models.mlp import MLP

    cfg = _config(record)
    return MLP(784, cfg.hidden, 10, act=cfg.activation, dropout=cfg.dropout), torch.zeros(2, 784)  # (B, 784)


def _fashion_cnn(record):
    import torch

    from dl_assign.experiments.fashion.common import model_from

    return model_from(_config(record)), torch.zeros(2, 1, 28, 28)  # (B, 1, 28, 28)


def _fashion_resnet50(record):
    import torch

    from dl_assign.models.resnet import resnet50_small_images

    cfg = _config(record)
    return resnet50_small_images(10, 1, weights="none", stem_pool=cfg.stem_pool), torch.zeros(2, 1, 28, 28)


def _sine(kind: str):
    def build(record):
        import torch

        from dl_assign.experiments.sine import build_model

        cfg = _config(record)
        return build_model(kind, cfg), torch.zeros(2, cfg.window, 1)  # (B, T, 1)
    return build


def _pests_cnn(record):
    import torch

    from dl_assign.experiments.pests import tensors as pt

    cfg = _config(record)
    n_classes = len(record["artifacts"][0]["confusion"])
    return pt.build_model(cfg, n_classes), torch.zeros(2, 3, cfg.image_size, cfg.image_size)


def _faces_baseline(record):
    import torch

    from dl_assign.models.faces import baseline_cnn

    cfg = _config(record)
    return baseline_cnn(cfg.image_size), torch.zeros(2, 3, cfg.image_size, cfg.image_size)


def _faces_improved(record):
    import torch

    from dl_assign.models.faces import ImprovedCNN

    cfg = _config(record)
    model = ImprovedCNN(tuple(cfg.widths), cfg.convs_per_stage, cfg.dropout, cfg.grid)
    return model, torch.zeros(2, 3, cfg.image_size, cfg.image_size)


BUILDERS: dict[str, Callable] = {
    "fashion.mlp": _fashion_mlp,
    "fashion.cnn": _fashion_cnn,
    "fashion.resnet50": _fashion_resnet50,
    "sine.lstm": _sine("lstm"),
    "sine.gru": _sine("gru"),
    "sine.mlp": _sine("mlp"),
    "pests.cnn_scratch": _pests_cnn,
    "faces.gender_baseline": _faces_baseline,
    "faces.gender_improved": _faces_improved,
}


def _rows(model, example) -> list[tuple[str, str, str, int]]:
    """(layer, module, output shape, parameters): the leaves, or the blocks at the deepest depth that fits."""
    from dl_assign.models.summary import summarize

    leaves = summarize(model, example)
    if len(leaves) <= MAX_ROWS:
        return [(r.layer, r.module, r.output, r.params) for r in leaves]
    for depth in (3, 2, 1):
        names = [n for n, _ in model.named_modules() if n and n.count(".") == depth - 1]
        if len(names) <= MAX_ROWS:
            break
    return [(r.layer, r.module, r.output, r.params) for r in summarize(model, example, names=set(names))]


def architecture_md(record: dict) -> str | None:
    """The summary table of ``record``'s model, or None when there is no builder for it."""
    build = BUILDERS.get(record["experiment"])
    if build is None:
        return None
    model, example = build(record)
    rows = _rows(model, example)
    total = sum(p.numel() for p in model.parameters())
    table = markdown_table(["layer", "module", "output shape", "parameters"],
                           [[f"`{name}`", f"`{kind}`", f"`{shape}`", f"{params:,}"]
                            for name, kind, shape, params in rows])
    return (f"Generated from the model by one forward pass of an input of shape `{tuple(example.shape)}` "
            f"(batch first): {total:,} parameters in total.\n\n{table}")
