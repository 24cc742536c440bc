"""Unsupervised segmentation from CNN features (seed 000, question 3c); ``common`` holds what the family shares."""

from dl_assign.experiments.segment import cnn_features  # noqa: F401  (importing registers it)
