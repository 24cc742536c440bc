"""The grade rubric (``dl_assign.grades`` applies it): seed question -> result metric -> thresholds -> points.

One module per part of the coursework, each a tuple of rows; ``RUBRIC`` is their concatenation in this order,
which is the order of ``grades.json`` and ``grades.md``. The row type, the seed files and the published anchors
are in :mod:`dl_assign.rubric.core`.
"""

from dl_assign.rubric import faces, fashion_cnn, imagenet, mlp_sine_theory, pests_web, segment_fairness
from dl_assign.rubric.core import (
    ANCHORS,
    FMNIST_TABLE,
    FOUR_FIFTHS,
    IP102_PAPER,
    NO_NUMBER,
    NOT_COMPARABLE,
    SEED_FILES,
    Row,
    seed,
)

RUBRIC: tuple[Row, ...] = (*fashion_cnn.ROWS, *pests_web.ROWS, *segment_fairness.ROWS, *imagenet.ROWS, *faces.ROWS,
                           *mlp_sine_theory.ROWS)

__all__ = ["ANCHORS", "FMNIST_TABLE", "FOUR_FIFTHS", "IP102_PAPER", "NOT_COMPARABLE", "NO_NUMBER", "RUBRIC",
           "SEED_FILES", "Row", "seed"]
