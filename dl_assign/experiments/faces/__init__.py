"""Faces (seeds 003 and Assignment-3 question 4): binary gender recognition (the seed's baseline CNN, an improved
CNN, a frozen pretrained trunk with new fully connected layers, their comparison) and the fairness of such a model;
``common`` holds what they share."""

from dl_assign.experiments.faces import baseline, compare, detectors, embedding, fairness, improved, scenes, transfer  # noqa: F401  (registers them; fairness_report is fairness's report)
