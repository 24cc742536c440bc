#!/bin/bash
# `make bench` split over a SLURM job array: task K of N runs `dl-assign bench --shard K/N` (disjoint
# slices of the experiment list; an experiment that reads another's results or stored models runs in
# the same slice). Each task writes into its own folder; the merge job copies the per-experiment files
# together (they never collide) and renders the reports and the grades.
#
#   sbatch --array=1-4 scripts/slurm_bench.sh                          # 4 slices
#   sbatch --dependency=afterok:<array job id> scripts/slurm_bench.sh merge
#
# Assumes the repository (with .venv set up by `make setup` and the data under $DL_ASSIGN_DATA) on a
# filesystem every node sees. For one experiment on several GPUs of a node use torchrun instead:
#   torchrun --standalone --nproc-per-node 4 -m dl_assign run fashion.resnet50 --budget full
#SBATCH --job-name=dl-assign-bench
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=04:00:00
#SBATCH --output=build/slurm-%A_%a.out
set -euo pipefail
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}"
BUDGET=${BUDGET:-standard}
export DL_ASSIGN_DATA=${DL_ASSIGN_DATA:-$PWD/.data}
export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}

if [ "${1:-}" = merge ]; then
    mkdir -p results
    shopt -s nullglob
    for dir in build/shards/*/results; do
        cp -p "$dir"/* results/  # results files are per experiment: slices merge by copying
    done
    .venv/bin/dl-assign report --results-dir results  # results/index.md over the merged set
    .venv/bin/dl-assign report --assignment all --results-dir results
    exec .venv/bin/dl-assign grade --results-dir results
fi

K=${SLURM_ARRAY_TASK_ID:?run as a job array: sbatch --array=1-N scripts/slurm_bench.sh}
N=${SLURM_ARRAY_TASK_COUNT:?}
OUT=build/shards/$K-of-$N
mkdir -p "$OUT/results"
# each slice its own model store too: the pests/faces models stay with the readers of the same slice
export DL_ASSIGN_MODELS=$OUT/models
exec .venv/bin/dl-assign bench --budget "$BUDGET" --shard "$K/$N" --results-dir "$OUT/results"
