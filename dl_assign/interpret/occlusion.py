"""Occlusion sensitivity (Zeiler & Fergus 2014): slide a grey window over the image, record p(target).

:func:`occlusion_map` returns the confidence map ``conf[i, j]`` = softmax probability of ``target``
with the window's top-left corner at ``(i * stride, j * stride)``, on captum's grid: the positions run on
until a window reaches the image's last row (column), and a last window that runs past the edge is
clipped there (only its in-image part is grey), so every pixel is covered; every occluded copy goes through
the model in large batches (``batch_size`` copies per forward: no Python loop of one forward per
window). The fill is a pixel-space grey (0.5 of the [0, 1] range by default), normalised like the
image with ``mean`` / ``std`` when the model reads standardised inputs.

:func:`pixel_attribution` turns a map into captum's per-pixel occlusion attribution: the mean, over
the windows covering a pixel, of ``p(original) - p(occluded)`` (``captum.attr.Occlusion`` with the
same window, stride and baseline gives the same numbers on every geometry it accepts, a remainder
``(H - window) % stride`` included; tests/test_occlusion.py checks it to 1e-5 over random sizes).
:func:`localisation_ratio` measures where the drop falls: its share inside a box over the box's
share of the image (> 1: the evidence is on the object, < 1: around it).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dl_assign.engine.device import use_bf16
from dl_assign.interpret.incremental import check_supported, fold_batchnorm, incremental_logits

METHODS = ("batched", "incremental")


def grid_shape(size: tuple[int, int], window: int, stride: int) -> tuple[int, int]:
    """Window positions (rows, columns) for an (H, W) image: ``ceil((H - window) / stride) + 1`` each.

    captum's count (``Occlusion.attribute``: ``np.ceil(np.divide(current_shape, strides[i])) + 1`` per axis,
    ``current_shape = input shape - window``): where ``stride`` does not divide ``H - window`` the last window
    starts less than ``window`` rows before the edge and is clipped there. A stride above the window is
    refused, as captum refuses it (it would leave pixels no window covers), unless the window is the image.
    """
    h, w = size
    if not 1 <= window <= min(h, w) or stride < 1:
        raise ValueError(f"window must be in 1..{min(h, w)} and stride >= 1, got window {window}, stride {stride}")
    if stride > window and (h, w) != (window, window):
        raise ValueError(f"stride must be <= window (captum's Occlusion refuses a larger one: it leaves pixels no "
                         f"window covers), got window {window}, stride {stride}")
    return -(-(h - window) // stride) + 1, -(-(w - window) // stride) + 1


def fill_value(fill: float, channels: int, mean=None, std=None) -> torch.Tensor:
    """The pixel-space grey ``fill`` in the model's input scale: (C, 1, 1), ``(fill - mean) / std`` per channel."""
    value = torch.full((channels,), float(fill))
    if mean is not None:
        value = (value - torch.as_tensor(mean, dtype=torch.float32)) / torch.as_tensor(std, dtype=torch.float32)
    return value.view(channels, 1, 1)


def _window_masks(size: tuple[int, int], window: int, stride: int) -> torch.Tensor:
    """(P, 1, H, W) bool, True where window p (row-major over the grid) covers the pixel (clipped at the edge)."""
    h, w = size
    n_i, n_j = grid_shape(size, window, stride)
    rows = torch.arange(h)[None, :] - (torch.arange(n_i) * stride)[:, None]  # (n_i, H)
    cols = torch.arange(w)[None, :] - (torch.arange(n_j) * stride)[:, None]  # (n_j, W)
    in_r, in_c = (rows >= 0) & (rows < window), (cols >= 0) & (cols < window)
    return (in_r[:, None, :, None] & in_c[None, :, None, :]).reshape(n_i * n_j, 1, h, w)


@torch.no_grad()
def occlusion_map(model: nn.Module, image: torch.Tensor, target: int, window: int, stride: int, fill: float = 0.5,
                  *, mean=None, std=None, batch_size: int = 256, amp_bf16: bool | str = False,
                  channels_last: bool = False, method: str = "batched") -> torch.Tensor:
    """(n_i, n_j) float32 map of p(target | image with the window at (i*stride, j*stride) filled grey).

    The grid is :func:`grid_shape`'s (captum's): a last window running past the edge greys only its in-image part.

    ``image``: (C, H, W) float, already in the model's input scale; ``fill`` in pixel space, converted
    with ``mean`` / ``std`` (none: used as is). The model runs in eval mode; ``batch_size`` occluded
    copies per forward (1 = one window per forward, the slow reference the benchmark times).
    ``amp_bf16`` (a bool or ``auto | on | off``, resolved by ``engine.device.use_bf16``) and
    ``channels_last`` are the fast path for large batches (measured, 1 thread, 2-core EPYC, a 4-conv
    CNN, 169 windows: fp32 280 ms, channels-last 91 ms, + bf16 34 ms); the defaults (fp32, contiguous)
    are the exact path captum is compared with.

    ``method="batched"`` runs every occluded copy through the whole model; ``"incremental"`` (for a
    model made of ``features`` (an ``nn.Sequential`` of conv / pool / pointwise layers) then ``head``,
    like ``models.imagenet_cnn.ImageNetCNN``) recomputes only the part of each layer the window changes,
    still batched over the windows (``interpret.incremental``): the same map up to float rounding. A window
    clipped at the edge is pasted as a whole window moved back inside the image (at ``H - window``), grey where
    the clipped window lies and the original image elsewhere: the same occluded copy.
    """
    if image.ndim != 3:
        raise ValueError(f"expected one (C, H, W) image, got shape {tuple(image.shape)}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method == "incremental":
        if not isinstance(getattr(model, "features", None), nn.Sequential) or not hasattr(model, "head"):
            raise TypeError(f"method='incremental' needs a model with an nn.Sequential `features` and a `head` "
                            f"(forward = head(features(x))), got {type(model).__name__}; use method='batched'")
        check_supported(model.features)
    was = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        with torch.enable_grad():  # the first use_bf16 call runs the probe, which times a backward pass
            bf16 = use_bf16(amp_bf16, device)
        c, h, w = image.shape
        n_i, n_j = grid_shape((h, w), window, stride)
        masks = _window_masks((h, w), window, stride) if method == "batched" else None  # (P, 1, H, W)
        grey = fill_value(fill, c, mean, std).to(image.dtype)
        image = image.cpu()
        if channels_last:
            model.to(memory_format=torch.channels_last)
        out = []
        if method == "incremental":
            tops = (torch.arange(n_i, device=device) * stride).repeat_interleave(n_j)  # (P,) the windows' corners
            lefts = (torch.arange(n_j, device=device) * stride).repeat(n_i)
            # a window clipped at the edge is pasted as a whole window at H - window (W - window), grey from the
            # window's own start on: the same copy, and the patch stays inside the image (incremental_logits' rule)
            paste_top, paste_left = tops.clamp(max=h - window), lefts.clamp(max=w - window)
            on_device, grey_on_device = image.to(device), grey.to(device)
            offsets = torch.arange(window, device=device)
            layers = [layer.to(memory_format=torch.channels_last) if channels_last else layer
                      for layer in fold_batchnorm(model.features)]  # BatchNorm folded into the convs, once
        for k in range(0, n_i * n_j, batch_size):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                if method == "incremental":
                    top, left = paste_top[k:k + batch_size], paste_left[k:k + batch_size]
                    rows, cols = top[:, None] + offsets, left[:, None] + offsets  # (B, window) each
                    in_window = ((rows >= tops[k:k + batch_size, None])[:, None, :, None]
                                 & (cols >= lefts[k:k + batch_size, None])[:, None, None, :])  # (B, 1, win, win)
                    crops = on_device[:, rows[:, :, None], cols[:, None, :]].transpose(0, 1)  # (B, C, win, win)
                    logits = incremental_logits(layers, model.head, on_device,
                                                torch.where(in_window, grey_on_device, crops), top, left,
                                                channels_last=channels_last)
                else:
                    xb = torch.where(masks[k:k + batch_size], grey, image).to(device)  # (B, C, H, W): one window each
                    if channels_last:
                        xb = xb.contiguous(memory_format=torch.channels_last)
                    logits = model(xb)
            out.append(torch.softmax(logits.float(), dim=1)[:, target].cpu())
        return torch.cat(out).view(n_i, n_j)
    finally:
        if channels_last:
            model.to(memory_format=torch.contiguous_format)
        model.train(was)


@torch.no_grad()
def target_probability(model: nn.Module, image: torch.Tensor, target: int, *, amp_bf16: bool | str = False) -> float:
    """p(target | the unoccluded image), in eval mode (in the precision the map used: its drops then start at 0)."""
    was = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        with torch.enable_grad():  # the first use_bf16 call runs the probe, which times a backward pass
            bf16 = use_bf16(amp_bf16, device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(image[None].to(device))
        return float(torch.softmax(logits.float(), dim=1)[0, target])
    finally:
        model.train(was)


def pixel_attribution(conf: torch.Tensor, p_original: float, size: tuple[int, int], window: int,
                      stride: int) -> torch.Tensor:
    """(H, W): mean of ``p_original - conf[i, j]`` over the windows covering each pixel (0 where none does).

    This is what ``captum.attr.Occlusion.attribute`` returns (per channel, the same for every channel
    when the window spans all of them) for a forward function giving p(target).
    """
    masks = _window_masks(size, window, stride).squeeze(1).float()  # (P, H, W)
    drop = (p_original - conf.reshape(-1).float())[:, None, None]  # (P, 1, 1)
    total = (masks * drop).sum(0)
    count = masks.sum(0)
    return torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total))


def localisation_ratio(attribution: torch.Tensor, box: torch.Tensor) -> float:
    """(share of the positive confidence drop inside ``box``) / (``box``'s share of the image); NaN without drop.

    ``attribution``: (H, W) from :func:`pixel_attribution`; ``box``: (H, W) bool. Only drops count
    (a window that raises p(target) is not evidence for the class), so the ratio lies in
    [0, 1 / box share]; 1 is what a drop spread evenly over the image gives.
    """
    drop = attribution.clamp(min=0).double()
    box = torch.as_tensor(box, dtype=torch.bool)
    total, area = float(drop.sum()), float(box.double().mean())
    if total <= 0 or area <= 0 or not math.isfinite(total):
        return math.nan
    return float(drop[box].sum()) / total / area
