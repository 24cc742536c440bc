"""Pest classification in the IP102 v1.1 layout (seed 000, question 3)."""

from dl_assign.experiments.pests import cnn  # noqa: F401  (importing registers the experiments)
