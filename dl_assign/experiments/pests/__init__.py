"""Pest classification in the IP102 v1.1 layout (seed 000, question 3): a CNN from scratch, two transfer models
and their comparison; ``common`` holds what they share."""

from dl_assign.experiments.pests import cnn, cnn_study, compare, transfer  # noqa: F401  (importing registers them)
