"""The rubric's row type, the seed files an expectation cites, and the published anchors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    question: str  # starts with the seed(s) and part that ask for it: "seed 001 2f: ..."
    experiment: str
    metric: str
    thresholds: dict  # the regression guard: budget -> threshold on the metric's mean over seeds (CI gates on it)
    points: float
    higher_is_better: bool = True
    expectation: float | None = None  # the assignment's number (a seed's or a published anchor's); None: none set
    expectation_source: str = ""  # where `expectation` comes from, or that the seed sets no number


# The five assignments (../shared/seeds/README.md): an expectation source names the file and its part.
SEED_FILES = {"000": "000_6936b0710660fec7.txt", "001": "001_083a506c678af477.txt", "002": "002_a9675b85dca789f6.txt",
              "003": "003_c1888febe895b374.txt", "004": "004_8d83cfde88193daf.txt"}


def seed(where: str, says: str) -> str:
    """``seed("001 3a / 004 2.2", "...")`` -> ``"seed 001 (001_....txt) 3a / seed 004 (004_....txt) 2.2: ..."``."""
    parts = []
    for item in where.split(" / "):
        number, _, part = item.partition(" ")
        parts.append(f"seed {number} ({SEED_FILES[number]}) {part}".rstrip())
    return " / ".join(parts) + f": {says}"


# Published anchors, quoted only where the number was read at its source. No seed sets a numeric target:
# the assignment column's numbers are these, or counts the seed text itself gives ("~10 images", "multiple
# models/versions", six parameters), or 1.0 for a yes/no the seed asks for.
FMNIST_TABLE = ("Fashion-MNIST benchmark table (README of github.com/zalandoresearch/fashion-mnist; submitted results, "
                "not re-tested by Zalando)")
IP102_PAPER = "Wu et al., IP102, CVPR 2019: ResNet-50 49.4% top-1 on IP102's 102 classes"
NOT_COMPARABLE = ("not comparable: pests14 has 14 classes (chance 0.071, not 0.0098) of ImageNet images that a "
                  "pretrained backbone may have seen")
FOUR_FIFTHS = ("the four-fifths rule (US Uniform Guidelines on Employee Selection Procedures, 29 CFR 1607.4(D)): "
               "selection-rate ratio >= 0.8")
ANCHORS = (FMNIST_TABLE, IP102_PAPER, FOUR_FIFTHS)
NO_NUMBER = "no number"  # what the source of a row without an expectation says
