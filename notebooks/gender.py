# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Gender recognition: baseline CNN, improved CNN, transfer learning, another test set
#
# The paper's baseline CNN, an improved CNN, a frozen pretrained trunk with new fully connected
# layers, and a test on another dataset. The data is UTKFace (training) and FairFace (the other test
# set), standing in for the seed's Kaggle sets.
#
# Every number and figure below is read from the committed `results/*.json` and the PNGs beside
# them (`dl_assign.results`), question by question in the assignment's order
# (`dl_assign.reports.assignments`); nothing is typed in by hand. Regenerate this page with
# `make notebooks` (or `python -m dl_assign.reports.notebooks gender`).

# %%
import os

from dl_assign.reports import notebooks as nb
from dl_assign.reports.assignments import get

# %% tags=["parameters"]
RUN_SMOKE = os.environ.get(nb.SMOKE_ENV) == "1"  # re-run one experiment at the smoke budget
SMOKE_EXPERIMENT = "faces.gender_baseline"  # any experiment of this assignment (listed below); the cheapest
RESULTS_DIR = "results"

# %%
A = get("gender")
records = nb.load(RESULTS_DIR)
nb.show_overview(A, records, RESULTS_DIR)
nb.show_disclosure(A)

# %% [markdown]
# ## The questions

# %%
seen = nb.Seen()  # each experiment in full and each figure once, where first asked for
for question in A.questions:
    nb.show_question(question, records, RESULTS_DIR, seen, A)
nb.show_ethics(A)

# %% [markdown]
# ## SMOKE RE-RUN: one experiment of this assignment, run again now
#
# With `RUN_SMOKE = True` this cell trains `SMOKE_EXPERIMENT` at the smoke budget through the
# registry, as `dl-assign run NAME --budget smoke` does, into a temporary folder (nothing in the
# repository changes). A missing dataset is said and the run skipped; under `CI=true` it fails.

# %%
assert SMOKE_EXPERIMENT in nb.wanted(A), f"{SMOKE_EXPERIMENT} is not an experiment of {A.name}"
if RUN_SMOKE:
    nb.smoke_rerun(SMOKE_EXPERIMENT, records)
else:
    nb.smoke_off(SMOKE_EXPERIMENT)
