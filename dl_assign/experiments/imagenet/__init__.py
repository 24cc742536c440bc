"""Module 4: a CNN study on Tiny-ImageNet-100 (mini-ImageNet stand-in), the best model, occlusion sensitivity."""

from dl_assign.experiments.imagenet import cnn_best, cnn_study, occlusion  # noqa: F401
