"""Pest classification in the IP102 v1.1 layout (seed 000, question 3): a CNN from scratch, two transfer models,
their comparison and a transfer learning curve; ``common`` holds what they share."""

from dl_assign.experiments.pests import cnn, cnn_study, compare, transfer, transfer_curve  # noqa: F401  (importing registers them)
