"""What each seed assignment asks for, item by item in the seed's own order, and which results answer it.

A spec table (fairlearn's habit): one :class:`Question` per numbered item (or run of items) of a seed,
naming the experiments whose ``results/<name>.json`` answer it and the answer's prose. The prose holds
no typed number: it names results with ``[[experiment:metric]]`` placeholders that
:mod:`dl_assign.reports.prose` fills in at render time. ``items`` lists the seed's own numbering
(``Assignment.items`` is the whole list, in the seed's order; ``tests/test_reports.py`` checks that
the report's headings follow it). Cited literature numbers live in :data:`LITERATURE`, each with its
source, and nowhere else.

The table is split by assignment: :mod:`.spec` holds the record types and the shared literature,
substitutions and ethics text; :mod:`.cs776`, :mod:`.hw5`, :mod:`.module4`, :mod:`.assignment3` and
:mod:`.gender` hold one :class:`Assignment` each. This package re-exports them all.
"""

from __future__ import annotations

from dl_assign.reports.assignments.assignment3 import ASSIGNMENT3, REVIEW
from dl_assign.reports.assignments.cs776 import CS776
from dl_assign.reports.assignments.gender import GENDER
from dl_assign.reports.assignments.hw5 import F_ATTN, F_BN, F_DROPOUT, F_VANISH, HW5
from dl_assign.reports.assignments.module4 import MODULE4, STUDY
from dl_assign.reports.assignments.spec import (
    FACES_ETHICS,
    GENDER_REFS,
    LIT_IP102,
    LIT_MINI,
    LIT_RESNET,
    LIT_SEED_GENDER,
    LIT_TINY,
    LITERATURE,
    PRETRAINED_CAVEAT,
    SUB_BACKBONES,
    SUB_FASHION,
    Assignment,
    Question,
    Reference,
    Substitution,
)

__all__ = [
    "ASSIGNMENT3", "ASSIGNMENTS", "CS776", "F_ATTN", "F_BN", "F_DROPOUT", "F_VANISH", "FACES_ETHICS", "GENDER",
    "GENDER_REFS", "HW5", "LIT_IP102", "LIT_MINI", "LIT_RESNET", "LIT_SEED_GENDER", "LIT_TINY", "LITERATURE",
    "MODULE4", "PRETRAINED_CAVEAT", "REVIEW", "STUDY", "SUB_BACKBONES", "SUB_FASHION", "Assignment", "Question",
    "Reference", "Substitution", "get",
]

ASSIGNMENTS: tuple[Assignment, ...] = (CS776, HW5, MODULE4, ASSIGNMENT3, GENDER)


def get(name: str) -> Assignment:
    for a in ASSIGNMENTS:
        if a.name == name:
            return a
    raise KeyError(f"unknown assignment {name!r}; one of {', '.join(a.name for a in ASSIGNMENTS)}")
