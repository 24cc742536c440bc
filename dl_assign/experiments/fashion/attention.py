"""Attention over CNN image embeddings: the attention matrix, and why it is useful, in numbers.

The embedder is the trained 5-conv CNN of ``fashion.cnn`` when its checkpoint is saved under the
run's checkpoint folder (``dl-assign run fashion.cnn`` writes
``checkpoints/fashion.cnn/<budget>.seed<s>.pt``); when none is saved, a small CNN5 is trained
here through ``fit`` (the fallback). Its embeddings (``CNN5.embed``) of a labelled gallery and of
unseen queries go through scaled dot-product attention. Reading the label distribution off the
attention weights is a soft nearest-neighbour classifier; uniform weights (plain averaging) are
the baseline.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Annotated, ClassVar, Literal

import numpy as np
import torch
from torch import nn

from dl_assign.config import Range
from dl_assign.data import fashion
from dl_assign.data.preprocess import standardize
from dl_assign.engine import TensorLoader, TrainConfig, evaluate, fit
from dl_assign.engine.checkpoint import CheckpointError, load_checkpoint
from dl_assign.models.attention import AttentionClassifier, EmbeddingAttention
from dl_assign.models.cnn5 import CNN5
from dl_assign.registry import RunContext, SeedResult, experiment


@dataclass(frozen=True)
class AttentionConfig(TrainConfig):
    seeds: tuple[int, ...] = (0, 1, 2)
    # the embedder: a saved fashion.cnn network if there is one (and use_saved_cnn), else the
    # fallback CNN5 trained here with these fields and TrainConfig's
    use_saved_cnn: bool = True
    # base width of CNN5 (16-16-32-32-64): enough for embeddings, cheap on a CPU
    cnn_width: Annotated[int, Range(ge=1)] = 16
    epochs: int = 3
    lr: float = 2e-3
    schedule: Literal["none", "cosine", "linear", "step"] = "cosine"
    # 3 epochs on 10,000 images: ~0.85 accuracy, minutes on a shared CPU
    train_limit: Annotated[int, Range(ge=0)] = 10_000
    split_seed: Annotated[int, Range(ge=0)] = 0
    # the attention part
    gallery: Annotated[int, Range(ge=1)] = 1_000  # labelled gallery from the training split (stratified)
    # training-split images (not in the gallery) that fit the projections
    train_queries: Annotated[int, Range(ge=1)] = 5_000
    test_queries: Annotated[int, Range(ge=0)] = 2_000  # test-split images (0 = the whole test split)
    proj_dim: Annotated[int, Range(ge=1)] = 32
    attn_epochs: Annotated[int, Range(ge=1)] = 15
    attn_lr: Annotated[float, Range(gt=0)] = 3e-3
    # T-shirt, Shirt, Pullover, Coat, Sandal, Sneaker
    heatmap_classes: Annotated[tuple[int, ...], Range(ge=0, le=9)] = (0, 6, 2, 4, 5, 7)
    heatmap_per_class: Annotated[int, Range(ge=1)] = 2

    BUDGETS: ClassVar[dict] = {
        "smoke": {"seeds": (0,), "epochs": 1, "train_limit": 2_000, "gallery": 200, "train_queries": 500,
                  "test_queries": 300, "cnn_width": 8, "attn_epochs": 3},
        "full": {"epochs": 15, "train_limit": 0, "gallery": 2_000, "train_queries": 20_000, "test_queries": 0,
                 "cnn_width": 32, "seeds": (0, 1, 2)},
    }


def as_images(x: np.ndarray) -> torch.Tensor:
    """[0, 1] images (N, 28, 28) -> standardised tensors (N, 1, 28, 28)."""
    return torch.from_numpy(standardize(x)).unsqueeze(1)


def saved_cnn(ctx: RunContext, seed: int) -> tuple[CNN5, str] | None:
    """The finished ``fashion.cnn`` network saved under ``ctx.checkpoint_dir`` (this run's budget
    first, then full, then standard), rebuilt from that budget's config with the checkpoint's conv
    widths; None when there is none or when it does not fit that config."""
    if ctx.checkpoint_dir is None:
        return None
    from dl_assign import registry
    from dl_assign.experiments.fashion.common import model_from

    for budget in dict.fromkeys((ctx.budget, "full", "standard")):
        path = ctx.checkpoint_dir / "fashion.cnn" / f"{budget}.seed{seed}.pt"
        try:
            state = load_checkpoint(path)
        except CheckpointError as exc:  # unsafe, damaged or from an older dl_assign: never loaded
            warnings.warn(f"{exc} Using the fallback CNN5.", stacklevel=2)
            continue
        if state is None or not state.get("stopped"):  # absent, or training was interrupted
            continue
        weights = state["best_state"] or state["model"]
        # the conv widths are read off the checkpoint: the CNN family may have retuned them since
        widths = ",".join(str(v.shape[0]) for v in weights.values() if v.ndim == 4)
        model = model_from(registry.get("fashion.cnn").config(budget), filters=widths)
        try:
            model.load_state_dict(weights)
        except RuntimeError:  # saved with other shapes than the config builds now
            continue
        return model, f"fashion.cnn {budget} checkpoint ({path.name}, {len(state['history'])} epochs)"
    return None


@torch.no_grad()
def embed(model: CNN5, images: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model.embed(images[i:i + batch].to(device)).float().cpu() for i in range(0, len(images), batch)])


def attention_metrics(weights: torch.Tensor, query_labels: torch.Tensor, gallery_labels: torch.Tensor,
                      n_classes: int) -> dict[str, float]:
    """Accuracy of the attention-weighted label vote and the attention mass on same-class items."""
    onehot = nn.functional.one_hot(gallery_labels, n_classes).float()  # (G, C)
    votes = weights @ onehot  # (Q, C)
    same = (query_labels[:, None] == gallery_labels[None, :]).float()  # (Q, G)
    return {"accuracy": float((votes.argmax(1) == query_labels).float().mean()),
            "same_class_mass": float((weights * same).sum(1).mean())}


def attention_report(cfg: AttentionConfig, outputs: list[SeedResult], ctx: RunContext) -> str:
    from dl_assign.results import markdown_table
    from dl_assign.viz import attention as viz

    images = [o.artifacts.pop("_heatmap_images") for o in outputs][0]  # figure only, not for the JSON
    art = outputs[0].artifacts
    ctx.save_figure(viz.attention_heatmaps(images, art["heatmap"], art["heatmap_labels"], list(fashion.CLASSES)),
                    "heatmap")

    def mean(key):
        return float(np.mean([o.metrics[key] for o in outputs]))

    methods = [("uniform averaging (every gallery item weight 1/G)", "uniform"),
               ("attention, identity projections", "identity"),
               ("attention, learned projections", "learned"),
               ("hard attention = 1-nearest neighbour (dot product)", "nn1"),
               ("the CNN's own linear head (reference)", "cnn_head")]
    rows = [[label, f"{mean(f'{key}/accuracy'):.4f}",
             f"{mean(f'{key}/same_class_mass'):.4f}" if f"{key}/same_class_mass" in outputs[0].metrics else "-"]
            for label, key in methods]
    ctx.save_figure(viz.method_bars({label: mean(f"{key}/accuracy") for label, key in methods}), "accuracy")
    h, hl = np.asarray(art["heatmap"]["identity"]), np.asarray(art["heatmap"]["learned"])
    labels = np.asarray(art["heatmap_labels"])
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(len(labels), dtype=bool)
    return "\n".join([
        f"Embedder: {art['embedder']}; embedding dim {art['embed_dim']}. Gallery {cfg.gallery} labelled "
        f"training images, {art['n_test_queries']} test queries. Embeddings are standardised with the "
        f"gallery's per-dimension mean and std; scores are q.k / sqrt(d).",
        "",
        markdown_table(["method", "test accuracy", "attention mass on same-class items"], rows),
        "",
        f"Attention-weighted voting beats uniform averaging by "
        f"{mean('identity/accuracy') - mean('uniform/accuracy'):+.4f} (identity projections) and "
        f"{mean('learned/accuracy') - mean('uniform/accuracy'):+.4f} (learned {cfg.proj_dim}-dim projections): "
        f"averaging ignores which items resemble the query, attention puts "
        f"{mean('identity/same_class_mass'):.1%} of its weight on same-class items where uniform weights "
        f"put {mean('uniform/same_class_mass'):.1%}.",
        "",
        f"Heatmap (self-attention among {len(labels)} test images, identity projections): mean weight "
        f"between different images of the same class {h[same & off].mean():.4f}, between images of "
        f"different classes {h[~same].mean():.4f}; the diagonal (each image with itself) averages "
        f"{np.diag(h).mean():.4f}. Learned projections: same-class {hl[same & off].mean():.4f}, "
        f"different-class {hl[~same].mean():.4f}, diagonal {np.diag(hl).mean():.4f}.",
    ])


@experiment("fashion.attention", AttentionConfig, datasets=("fashion-mnist",), report=attention_report)
def fashion_attention(cfg: AttentionConfig, seed: int, ctx: RunContext) -> SeedResult:
    """Scaled dot-product attention over CNN5 embeddings: attention-weighted kNN vs uniform averaging."""
    n_classes = len(fashion.CLASSES)
    d = fashion.load_splits("seeds", cfg.split_seed, cfg.train_limit, cfg.test_queries)
    ctx.use_dataset(d.info)
    x_tr, y_tr = as_images(d.x_train), torch.from_numpy(d.y_train)
    x_te, y_te = as_images(d.x_test), torch.from_numpy(d.y_test)

    saved = saved_cnn(ctx, seed) if cfg.use_saved_cnn else None
    if saved is not None:
        cnn, embedder = saved
    else:  # the fallback: a small CNN5 trained here
        cnn = CNN5(in_channels=1, n_classes=n_classes, base_width=cfg.cnn_width)
        fit(cnn, TensorLoader(x_tr, y_tr, cfg.batch_size, shuffle=True, seed=seed),
            TensorLoader(as_images(d.x_val), torch.from_numpy(d.y_val), 1024), cfg,
            checkpoint=ctx.checkpoint_path(seed, "cnn5"), resume=ctx.resume, progress=ctx.progress,
            desc=f"fashion.attention cnn5 seed {seed}")
        embedder = (f"fallback CNN5 trained here (base width {cfg.cnn_width}, {cfg.epochs} epochs on "
                    f"{len(x_tr)} images)")
    cnn_head = evaluate(cnn, TensorLoader(x_te, y_te, 1024))["accuracy"]

    rng = np.random.default_rng(seed)
    gallery_idx = fashion._stratified_take(d.y_train, cfg.gallery, seed)
    rest = np.setdiff1d(np.arange(len(y_tr)), gallery_idx)
    query_idx = rng.choice(rest, size=min(cfg.train_queries, len(rest)), replace=False)
    emb_tr = embed(cnn, x_tr)  # (N, D)
    mu, sd = emb_tr[gallery_idx].mean(0), emb_tr[gallery_idx].std(0, correction=1).clamp_min(1e-6)
    norm = lambda e: (e - mu) / sd  # noqa: E731
    gallery, g_lab = norm(emb_tr[gallery_idx]), y_tr[gallery_idx]
    train_q, train_lab = norm(emb_tr[query_idx]), y_tr[query_idx]
    test_q = norm(embed(cnn, x_te))

    metrics: dict[str, float] = {}
    with torch.no_grad():
        uniform = torch.full((len(test_q), len(gallery)), 1.0 / len(gallery))
        _, w_identity = EmbeddingAttention(gallery.shape[1])(test_q, gallery)
        scores = test_q @ gallery.T
        hard = nn.functional.one_hot(scores.argmax(1), len(gallery)).float()
    learned = AttentionClassifier(gallery, g_lab, n_classes, projection="learned", proj_dim=cfg.proj_dim)
    attn_cfg = replace(cfg, epochs=cfg.attn_epochs, lr=cfg.attn_lr, optimizer="adamw", weight_decay=0.0)
    history = fit(learned, TensorLoader(train_q, train_lab, 256, shuffle=True, seed=seed), None, attn_cfg,
                  loss_fn=nn.NLLLoss(), progress=ctx.progress, desc=f"fashion.attention projections seed {seed}")
    learned.eval()
    with torch.no_grad():
        _, w_learned = learned.attend(test_q, gallery)
    for name, w in (("identity", w_identity), ("learned", w_learned), ("uniform", uniform), ("nn1", hard)):
        for key, value in attention_metrics(w, y_te, g_lab, n_classes).items():
            metrics[f"{name}/{key}"] = value
    metrics["cnn_head/accuracy"] = cnn_head
    metrics = {"gain_over_uniform": metrics["identity/accuracy"] - metrics["uniform/accuracy"]} | metrics

    # the heatmap: self-attention among a few test images of look-alike classes
    pick = np.concatenate([np.flatnonzero(d.y_test == c)[:cfg.heatmap_per_class] for c in cfg.heatmap_classes])
    with torch.no_grad():
        _, h_identity = EmbeddingAttention(gallery.shape[1])(test_q[pick])
        _, h_learned = learned.attend(test_q[pick])
    artifacts = {"embedder": embedder, "embed_dim": int(gallery.shape[1]), "n_test_queries": len(test_q),
                 "heatmap": {"identity": h_identity.numpy().round(5), "learned": h_learned.numpy().round(5)},
                 "heatmap_labels": d.y_test[pick].tolist(), "projection_history": history,
                 "_heatmap_images": d.x_test[pick]}
    return SeedResult(metrics, artifacts)
