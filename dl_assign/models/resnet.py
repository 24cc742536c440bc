"""torchvision's ResNet-50 adapted to 28x28 grayscale images (Fashion-MNIST)."""

from __future__ import annotations

import torch
from torch import nn


class PretrainedWeightsUnavailable(RuntimeError):
    """torchvision could not load the ImageNet weights (no network and nothing in the torch hub cache)."""


def resnet50_small_images(n_classes: int = 10, in_channels: int = 1, *, weights: str = "none",
                          stem_pool: bool = False) -> nn.Module:
    """ResNet-50 whose stem suits 28x28 inputs; every bottleneck stage is torchvision's own.

    ImageNet's stem (7x7 stride-2 conv + 3x3 stride-2 max-pool) shrinks 224 px by 4 before the
    first stage; on 28 px it would leave 7x7 maps for stage 1 and a 1x1 map by stage 4. So:

    * ``conv1`` keeps 64 output channels but takes ``in_channels`` (1, grey) with stride 1:
      a 3x3 kernel from scratch (the CIFAR adaptation); with ``weights="imagenet"`` the
      pretrained 7x7 filters are kept (stride 1, padding 3) and summed over R, G, B, which is
      what they compute on a grey image replicated into three channels.
    * ``maxpool``: removed (stages at 28, 14, 7, 4 px) unless ``stem_pool`` (stages at 14, 7, 4,
      2 px: 4x fewer FLOPs, used where the CPU budget is the limit).
    * the head: torchvision's global average pool, then a new ``Linear(2048, n_classes)``.
    """
    from torchvision.models import ResNet50_Weights, resnet50

    if weights not in ("none", "imagenet"):
        raise ValueError(f"weights must be 'none' or 'imagenet', got {weights!r}")
    pretrained = ResNet50_Weights.IMAGENET1K_V2 if weights == "imagenet" else None
    try:  # torchvision downloads the weights into $TORCH_HOME/hub/checkpoints on first use
        model = resnet50(weights=pretrained)
    except (OSError, RuntimeError) as exc:  # URLError is an OSError; a truncated file a RuntimeError
        raise PretrainedWeightsUnavailable(
            f"ResNet-50 ImageNet weights ({pretrained.url if pretrained else '-'}) could not be loaded: "
            f"{exc.__class__.__name__}: {exc}. Needs a network once, or the file copied into "
            f"{torch.hub.get_dir()}/checkpoints/"
        ) from None
    old = model.conv1
    if pretrained is not None:
        conv1 = nn.Conv2d(in_channels, 64, 7, stride=1, padding=3, bias=False)
        with torch.no_grad():
            conv1.weight.copy_(old.weight.sum(1, keepdim=True).repeat(1, in_channels, 1, 1) / in_channels)
    else:
        conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        nn.init.kaiming_normal_(conv1.weight, mode="fan_out", nonlinearity="relu")  # torchvision's rule
    model.conv1 = conv1
    if not stem_pool:
        model.maxpool = nn.Identity()
    model.fc = nn.Linear(model.fc.in_features, n_classes)
    return model
