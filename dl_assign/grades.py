"""The grade rubric: seed question -> result metric -> threshold per budget -> points.

``dl-assign grade`` reads every ``results/<name>.json``, checks each rubric row against the
mean of its metric at the budget that result was produced with, writes ``grades.json`` and
``grades.md`` beside the results and exits non-zero when the score is below the gate. A row
whose result is missing earns nothing. When it is missing because one of its experiment's datasets
is absent, outside CI the row is ``not run``: it leaves the gate's denominator and the summary
names the dataset and how to get it (the benchmarks skip such an experiment too). Under
``CI=true`` a missing dataset is a failure, never a skip: the row stays ``missing`` and counts.

A damaged record (truncated or empty JSON, not an object, a field missing) never stops the others
from being graded: it is skipped, its rows are ``missing``, and the summary names the file and what
is wrong (``damaged``). Outside CI the rows of a damaged record leave the gate's denominator, like
``not run`` ones, and the command warns on stderr; under ``CI=true`` they count, and a damaged
record fails the grade whatever the score.

Two columns per row (issue 28). The **regression guard** (``thresholds``, ``status``, ``earned``) holds
the row to a number set just below the committed runs; the gate and the exit code read it alone. The
**assignment** column (``expectation``, ``assignment_status``, ``assignment_earned``) holds the same
value to what the assignment expects: a count or a yes/no the seed text itself gives, or a published
anchor; ``expectation_source`` names the seed file and part, or the publication. No seed sets an
accuracy target: where neither a seed nor an anchor gives a number the row says so in its source and
its assignment status is ``no threshold``, outside the assignment score. That column is never gated;
``grades.md`` lists every row that falls short of it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from dl_assign.results import Scan, atomic_write_text, damaged_md, fmt_number, markdown_table, scan_results


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


RUBRIC: tuple[Row, ...] = (
    Row("seed 004 2.3: MLP classifier on Fashion-MNIST, PyTorch (test accuracy)",
        "fashion.mlp", "test_accuracy", {"smoke": 0.70, "standard": 0.88, "full": 0.89}, 5,
        expectation=0.883,
        expectation_source=FMNIST_TABLE + ": 'MLP 256-128-100' 0.8833; " + seed("004 2.3", "sets no number")),
    Row("seed 004 2.3: MLP classifier on Fashion-MNIST, PyTorch (macro-F1)",
        "fashion.mlp", "test_macro_f1", {"smoke": 0.65, "standard": 0.88, "full": 0.89}, 2,
        expectation_source=seed("004 2.3.6", "'accuracy and any other relevant metrics'; no "
        "number")),
    # seeds 001/004, Fashion-MNIST CNN family (issue 4). Standard thresholds sit below the committed
    # standard runs (measured values in the comments); smoke thresholds only check that the pipeline
    # learns at all at smoke size; a full threshold only where a full run was measured.
    Row("seed 001 3a / seed 004 2.2: 5-conv CNN on Fashion-MNIST (test accuracy; VGG16 scores 0.935)",
        "fashion.cnn", "test_accuracy", {"smoke": 0.55, "standard": 0.940}, 5,
        expectation=0.931, expectation_source=FMNIST_TABLE + ": '5 Conv+BN+pooling' 0.931, the nearest listed "
        "CNN (VGG16 0.935); " + seed("001 3a / 004 2.2", "set no number")),  # measured 0.9420 ± 0.0010 (Zen 5, bf16)
    Row("seed 001 3a / seed 004 2.2: 5-conv CNN reaches 0.930 test accuracy on every seed (time recorded)",
        "fashion.cnn", "reached_930", {"standard": 1.0}, 1,
        expectation_source=seed("001 3a / 004 2.2", "no number: no seed asks for a time to "
        "accuracy (issue 4's goal)")),  # measured 3/3 seeds, 113 ± 5 s (Zen 5, bf16)
    # against a matmul in the precision the model trained in: measured 0.317 ± 0.017 (Zen 5, bf16 vs
    # a bf16 matmul), 0.107 on an AMX Xeon (bf16, 2048² bf16 matmul), 0.69 in fp32 vs fp32 (Xeon);
    # smoke's tiny model in bf16: 0.061 (Zen 5, idle), 0.0039 with three other jobs on the 2 cores; 0.23
    # in fp32 (AVX2-restricted): at smoke size the row only checks that a positive ratio is measured
    Row("seed 001 3a / seed 004 2.2: CNN training compute efficiency (model FLOP/s / matmul FLOP/s, training "
        "precision)",
        "fashion.cnn", "efficiency_ratio", {"smoke": 0.001, "standard": 0.1}, 1,
        expectation_source=seed("001 3a / 004 2.2", "no number: neither asks for compute "
        "efficiency (issue 4's goal)")),
    Row("seed 001 3a: pooling study (max pooling + flatten cell)",
        "fashion.cnn_pooling", "max pool + flatten/test_accuracy", {"smoke": 0.30, "standard": 0.82}, 1,
        expectation_source=seed("001 3a", "compare max, average and global average pooling; "
        "no number")),  # measured 0.845 ± 0.010
    Row("seed 001 3b: kernel size x filter schedule study (3x3 doubling cell)",
        "fashion.cnn_kernels", "k3 doubling/test_accuracy", {"smoke": 0.20, "standard": 0.80}, 1,
        expectation_source=seed("001 3b", "try kernel sizes and filters per layer, settle on "
        "the best; no number")),  # measured 0.831 ± 0.003
    # measured 0.826 ± 0.006
    Row("seed 001 3c: initialisation study (He cell, no BatchNorm)",
        "fashion.cnn_init", "he/test_accuracy", {"smoke": 0.20, "standard": 0.80}, 1,
        expectation_source=seed("001 3c", "try random, Xavier and He initialisation; no number")),
    Row("seed 001 3d: CNN features into the NumPy MLP",
        "fashion.cnn_mlp", "mlp_on_features/test_accuracy", {"smoke": 0.15, "standard": 0.87}, 2,
        expectation_source=seed("001 3d", "classify CNN features with the question-2 MLP; no "
        "number")),  # measured 0.8889 ± 0.0002
    Row("seed 004 2.3.5: torch MLP sweep (ReLU, middle batch size, last epoch mark)",
        "fashion.torch_mlp_sweep", "mlp/test_accuracy", {"smoke": 0.30, "standard": 0.82}, 1,
        expectation_source=seed("004 2.3.5", "experiment with training epochs and batch "
        "sizes; no number")),  # measured 0.843
    # measured 0.799 at standard; full (H100, 1 seed) 0.948
    Row("seed 004 2: torchvision ResNet-50 adapted to 28x28 grey (from scratch)",
        "fashion.resnet50", "test_accuracy", {"smoke": 0.05, "standard": 0.75, "full": 0.94}, 2,
        expectation=0.931, expectation_source=FMNIST_TABLE + ": 'Fastai Resnet50+Fine-tuning' 0.9312, "
        "ImageNet-pretrained and fine-tuned, where ours is trained from scratch (on 4,000 images at standard); "
        + seed("004 2", "sets no number")),
    # pests.cnn_scratch measured at standard: 0.5333 +- 0.0086 (Intel Xeon AMX; seeds 0.541, 0.524, 0.534;
    # earlier on a Zen 5 EPYC 0.5262 +- 0.0105; 24-192 net, flips only, 20 epochs, chosen by pests.cnn_study
    # on val; the old recipe measured 0.405); full not measured yet, held to the standard mark
    Row("seed 000 3a: the custom CNN from scratch on pests14, the model transfer learning is compared with",
        "pests.cnn_scratch", "test_accuracy", {"smoke": 0.10, "standard": 0.50, "full": 0.50}, 5,
        expectation_source=seed("000 3a", "compare with 'your best custom model'; no number")),
    # seed 000 question 3a (issue 11): transfer learning on the IP102-layout pest set, 20 points. Standard
    # thresholds sit below the committed standard runs (measured, 3 seeds, 2-core Intel Xeon AMX: Lite0 0.7567
    # ± 0.0054, MobileNetV2 0.7181 ± 0.0054; Zen 5 EPYC earlier: 0.7595, 0.7114: the issue's goal of 0.85 is
    # NOT met on CPU at 160 px with 2 blocks trained; gains over the custom CNN 0.223 and 0.185 meet its
    # >= 0.15, McNemar p 3.7e-22 and 6.5e-17); smoke ones only check that the
    # pipeline learns (measured at smoke, 280 training images at
    # 64 px, 4 epochs: Lite0 0.321, MobileNetV2 0.406, gains over the smoke custom CNN (0.160) 0.161 and 0.246).
    # pests14 images come from Tiny-ImageNet/ImageNet: an ImageNet-pretrained backbone may have seen these
    # images or their classes (leakage flag; not on the real IP102).
    Row("seed 000 3a: EfficientNet-Lite0 transfer, last blocks + new head (test accuracy; pests14: leakage flag)",
        "pests.transfer_effnet_lite0", "test_accuracy", {"smoke": 0.2, "standard": 0.74}, 6,
        expectation=0.494, expectation_source=IP102_PAPER + "; " + NOT_COMPARABLE + "; " + seed("000 3a", "sets "
        "no number")),
    Row("seed 000 3a: MobileNetV2 transfer, last blocks + new head (test accuracy; pests14: leakage flag)",
        "pests.transfer_mobilenet_v2", "test_accuracy", {"smoke": 0.2, "standard": 0.69}, 6,
        expectation=0.494, expectation_source=IP102_PAPER + "; " + NOT_COMPARABLE + "; " + seed("000 3a", "sets "
        "no number")),
    # pests.transfer_curve (issue 29): the cell chosen on validation (10 images a class) among backbone x resolution
    # x trainable blocks, scored with flip TTA. Committed standard run (60 training images a class, one seed, AMD
    # EPYC): validation picks Lite0@224 with no trainable block, test 0.693 (the best test cell, Lite2@260 k=0, has
    # 0.744 with flips). The guard sits below the pick; the issue's 0.85 is not met.
    Row("seed 000 3a: transfer at the trunk's resolution, best cell on validation (test accuracy with flips; "
        "pests14: leakage flag)",
        "pests.transfer_curve", "best/test_accuracy_flip_tta", {"smoke": 0.0, "standard": 0.65}, 2,
        expectation=0.494, expectation_source=IP102_PAPER + "; " + NOT_COMPARABLE + "; " + seed("000 3a", "sets "
        "no number")),
    Row("seed 000 3a: EfficientNet-Lite0 vs the custom CNN (test accuracy gain; pests14: leakage flag)",
        "pests.transfer_compare", "effnet_lite0/gain_over_custom", {"smoke": 0.0, "standard": 0.15}, 3,
        expectation_source=seed("000 3a", "compare the transfer models with the custom one in "
        "accuracy and other metrics; no number")),
    Row("seed 000 3a: MobileNetV2 vs the custom CNN (test accuracy gain; pests14: leakage flag)",
        "pests.transfer_compare", "mobilenet_v2/gain_over_custom", {"smoke": 0.0, "standard": 0.15}, 3,
        expectation_source=seed("000 3a", "compare the transfer models with the custom one in "
        "accuracy and other metrics; no number")),
    Row("seed 000 3a: EfficientNet-Lite0 vs the custom CNN, paired on the same test images (McNemar p)",
        "pests.transfer_compare", "effnet_lite0_vs_custom_cnn/mcnemar_p", {"smoke": 1.0, "standard": 0.01}, 2,
        higher_is_better=False, expectation_source=seed("000 3a", "compare in accuracy and other metrics; no number "
        "for a test of the difference")),
    # seed 000 question 3b (issue 12): the web app, 20 points. Read from the records the benchmarks write
    # (benchmarks/bench_web.py): web.page = the real page driven in headless Chromium by dl_assign.web.shots
    # (every stored model version selected in turn, page vs /api/predict), web.load = the load benchmark.
    # Measured at smoke (build/models-smoke, 3 models, MobileNetV2 with 2 versions, two training jobs on the
    # 2 cores): class agreement 1.0, bar heights exact (0 px), 2 cards compared, 0 errors in 40 requests,
    # p95 80-103 ms, RSS +0.2%. The p95 goal is the issue's (MobileNetV2, 4 clients, 2 cores), standard only.
    Row("seed 000 3b: upload an image in the real page: the class shown = /api/predict's, every stored version",
        "web.page", "class_agreement", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 5,
        expectation=1.0, expectation_source=seed("000 3b", "'upload test images and plot the predicted class': "
        "the page shows the model's class")),
    Row("seed 000 3b: the dropdown lists exactly the stored model versions",
        "web.page", "dropdown_matches_store", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 1,
        expectation_source=seed("000 3b", "'deploy your trained models into the webapp'; no "
        "number")),
    Row("seed 000 3b: the dropdown offers several models",
        "web.page", "dropdown_models", {"smoke": 2, "standard": 2, "full": 2}, 2,
        expectation=2, expectation_source=seed("000 3b", "'a dropdown selector so users can select multiple "
        "models/versions': >= 2 models")),
    Row("seed 000 3b: the dropdown offers several versions of a model",
        "web.page", "dropdown_max_versions", {"smoke": 2, "standard": 2, "full": 2}, 2,
        expectation=2, expectation_source=seed("000 3b", "'multiple models/versions': >= 2 versions of a model")),
    Row("seed 000 3b: two models compared side by side (prediction cards shown)",
        "web.page", "compared_side_by_side", {"smoke": 2, "standard": 2, "full": 2}, 2,
        expectation=2, expectation_source=seed("000 3b", "'select multiple models/versions for inference': >= 2 "
        "predictions shown")),
    Row("seed 000 3b: bar plot: drawn bar heights = probability x plot height (max error, px)",
        "web.page", "bar_height_max_error_px", {"smoke": 0.5, "standard": 0.5, "full": 0.5}, 1, higher_is_better=False,
        expectation_source=seed("000 3b", "'plot the predicted class'; no number for the "
        "plot's accuracy")),
    Row("seed 000 3b: an API error is shown in the page in words",
        "web.page", "api_error_shown", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 1,
        expectation_source=seed("000 3b", "no number: errors shown in words are ours (issue 12)")),
    Row("seed 000 3b: screenshots present (web.page.png after a 2-model comparison, web.samples.png)",
        "web.page", "screenshots_ok", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 2,
        expectation=1.0, expectation_source=seed("000 3b", "'provide screenshots of the web interface and "
        "sample predictions'")),
    Row("seed 000 3b: load benchmark: errors of any kind (4 concurrent clients)",
        "web.load", "errors", {"smoke": 0, "standard": 0, "full": 0}, 1, higher_is_better=False,
        expectation_source=seed("000 3b", "no number: the seed asks for no load test (issue "
        "12's goals)")),
    Row("seed 000 3b: load benchmark: requests sent (1,000 at standard)",
        "web.load", "requests", {"smoke": 40, "standard": 1000, "full": 1000}, 1,
        expectation_source=seed("000 3b", "no number: the seed asks for no load test (issue "
        "12's goals)")),
    Row("seed 000 3b: load benchmark: server RSS growth over the run (flat within 10%)",
        "web.load", "rss_growth", {"smoke": 0.10, "standard": 0.10, "full": 0.10}, 1, higher_is_better=False,
        expectation_source=seed("000 3b", "no number: the seed asks for no load test (issue "
        "12's goals)")),
    Row("seed 000 3b: load benchmark: p95 latency <= 100 ms (MobileNetV2, 4 clients, 2 cores)",
        "web.load", "p95_ms", {"standard": 100.0, "full": 100.0}, 1, higher_is_better=False,
        expectation_source=seed("000 3b", "no number: the seed asks for no latency (issue "
        "12's goal, 100 ms)")),
    # issue 27: a decode-cost attack (4 clients sending 24 MP PNGs back to back) may at most double a normal
    # request's p95 (web.decode_cost, benchmarks/bench_web.py). At smoke the guard is looser: 30 requests on a
    # smoke model make a noisy p95; the issue's 2x is gated at standard.
    Row("seed 000 3b: decode cost: normal p95 beside 4 clients sending maximum images (x p95 alone, <= 2)",
        "web.decode_cost", "p95_slowdown", {"smoke": 3.0, "standard": 2.0, "full": 2.0}, 1, higher_is_better=False,
        expectation_source=seed("000 3b", "no number: the seed asks for no attack test (issue 27's goal, 2x)")),
    Row("seed 000 3b: decode cost: errors of any kind among the normal requests",
        "web.decode_cost", "errors", {"smoke": 0, "standard": 0, "full": 0}, 1, higher_is_better=False,
        expectation_source=seed("000 3b", "no number: the seed asks for no attack test (issue 27)")),
    # seed 000 question 3c (issue 13): unsupervised segmentation from CNN features, 20 points, segment.cnn_features.
    # The committed standard run (3 x (100 + 100), stored Lite0 v3 + custom CNN, Intel Xeon, 1 thread) measured:
    # best CNN box IoU 0.636, gain over the whole image +0.135, over the best baseline +0.064 ± 0.012, mosaic
    # ARI 0.658, late silhouette 0.151, DBSCAN 3.15 clusters, 41 ms per 224x224 image. The thresholds were set
    # before it, below runs of the standard configuration on fewer images (ImageNet Lite0, the store
    # empty; 40 Tiny-ImageNet val boxes + 40 mosaics, 1 thread; seed 1 / seed 2): best CNN arm box IoU 0.656 /
    # 0.642 (whole image 0.539 / 0.534, gain +0.117 / +0.108 ± 0.018 s.e.m.; seed 0 on 20 images: +0.161), over
    # the best baseline (SLIC) +0.071 / +0.036 ± 0.018 (so that row asks only for no loss), mosaic ARI 0.598 /
    # 0.574, late-layer silhouette 0.152 / 0.162, DBSCAN 2.78 / 2.93 clusters per image, one 224x224 image 57 /
    # 36 ms. Smoke thresholds only check the pipeline (measured at smoke, 8 boxes + 6
    # mosaics, Lite0 / MobileNetV2 features: box IoU 0.694 / 0.656, gain 0.108 / 0.070, over the best baseline
    # +0.043 / +0.005, mosaic ARI 0.593 / 0.712, silhouette 0.153 / 0.184, DBSCAN 3.4 / 3.4 clusters, 30-57 ms).
    # Box IoU is the oracle best union of clusters (see segment.metrics.best_foreground).
    Row("seed 000 3c: K-means on CNN features covers the object box (best arm, box IoU, Tiny-ImageNet val)",
        "segment.cnn_features", "best_cnn/box_iou", {"smoke": 0.45, "standard": 0.58}, 5,
        expectation_source=seed("000 3c", "evaluate by visual inspection and metrics like the "
        "silhouette; no number")),
    Row("seed 000 3c: CNN segments beat taking the whole image as the object (box IoU gain)",
        "segment.cnn_features", "best_cnn_gain_over_whole_image/box_iou", {"smoke": 0.0, "standard": 0.07}, 3,
        expectation_source=seed("000 3c", "evaluate by visual inspection and metrics like the "
        "silhouette; no number")),
    Row("seed 000 3c: CNN segments vs the best baseline without a CNN (colour+position K-means, SLIC; box IoU gain)",
        "segment.cnn_features", "best_cnn_minus_best_baseline/box_iou", {"smoke": -0.2, "standard": 0.0}, 2,
        expectation_source=seed("000 3c", "evaluate by visual inspection and metrics like the "
        "silhouette; no number")),
    Row("seed 000 3c: CNN segments recover the regions of seeded mosaics (adjusted Rand index, true K)",
        "segment.cnn_features", "best_cnn/mosaic_ari", {"smoke": 0.2, "standard": 0.5}, 4,
        expectation_source=seed("000 3c", "evaluate by visual inspection and metrics like the "
        "silhouette; no number")),
    Row("seed 000 3c: silhouette of the K-means segments (late layer, K chosen by silhouette)",
        "segment.cnn_features", "late/kmeans/silhouette", {"smoke": 0.0, "standard": 0.1}, 2,
        expectation_source=seed("000 3c", "'metrics like Silhouette Score'; no number")),
    Row("seed 000 3c: DBSCAN (eps from the k-distance curve) finds segments, not one blob (clusters per image)",
        "segment.cnn_features", "best_dbscan/clusters", {"smoke": 1.0, "standard": 2.0}, 2,
        expectation_source=seed("000 3c", "'K-means or DBSCAN' into distinct segments; no number")),
    Row("seed 000 3c: one 224x224 image segmented (features + K-means at the chosen K) in <= 100 ms",
        "segment.cnn_features", "speed_ms_224", {"smoke": 1000.0, "standard": 100.0}, 2, higher_is_better=False,
        expectation_source=seed("000 3c", "no number: no speed asked (issue 13's goal, 100 ms)")),
    # seed 000 question 4 (issue 15): bias and fairness of a face-attribute model, 20 points, faces.fairness (gender
    # model, female positive, on every UTKFace test face by race / age / gender / race x gender, FairFace by age and
    # gender). Standard thresholds sit below the committed standard run (3 seeds, AMD EPYC AVX512-BF16): 6 analyses
    # with >= 2 groups of >= 30 faces; val accuracy 0.880, F1 0.877, AUC 0.949; ERM TPR gap by race 0.073;
    # ThresholdOptimizer TPR gap 0.031 (change -0.042, accuracy +0.0005); disparate impact by race 0.709. Smoke
    # (256 training faces, 200 val / 200 test, 2 epochs): 5 analyses, val accuracy 0.745, F1 0.68, AUC 0.78; gaps
    # noisy (TPR gap 0.5): the smoke rows only check that the analysis ran.
    Row("seed 000 4: summary of what is analysed, with group sizes (analyses with >= 2 groups of >= 30 faces)",
        "faces.fairness", "summary/analyses", {"smoke": 4, "standard": 6, "full": 6}, 2,
        expectation_source=seed("000 4", "'provide a summary of what you would like to "
        "analyze'; no number")),
    Row("seed 000 4: the justified model (improved CNN, from scratch): validation AUC",
        "faces.fairness", "val_auc", {"smoke": 0.55, "standard": 0.93}, 3,
        expectation_source=seed("000 4", "'justify your choice of architecture'; no number")),
    Row("seed 000 4: validation metric 1: accuracy",
        "faces.fairness", "val_accuracy", {"smoke": 0.55, "standard": 0.86}, 3,
        expectation_source=seed("000 4", "'at least two metrics such as accuracy, F1 score'; "
        "no number for their values")),
    Row("seed 000 4: validation metric 2: F1 (female)",
        "faces.fairness", "val_f1", {"smoke": 0.4, "standard": 0.85}, 2,
        expectation_source=seed("000 4", "'at least two metrics such as accuracy, F1 score'; "
        "no number for their values")),
    Row("seed 000 4: equal opportunity by race on the test split (TPR gap of the model, with interval and p)",
        "faces.fairness", "erm/test_race/equal_opportunity_difference", {"smoke": 1.0, "standard": 0.15}, 2,
        higher_is_better=False, expectation_source=seed("000 4", "names equal opportunity as a metric; no number")),
    Row("seed 000 4: disparate impact by race on the test split (selection-rate ratio, four-fifths flagged)",
        "faces.fairness", "erm/test_race/disparate_impact", {"smoke": 0.0, "standard": 0.6}, 2,
        expectation=0.8, expectation_source=FOUR_FIFTHS + "; " + seed("000 4", "names disparate impact, no number")),
    Row("seed 000 4: mitigation: ThresholdOptimizer (equal opportunity) TPR gap by race on test",
        "faces.fairness", "erm_to/test_race/equal_opportunity_difference", {"smoke": 1.0, "standard": 0.06}, 3,
        higher_is_better=False, expectation_source=seed("000 4", "no number: the seed asks to analyse bias, not to "
        "mitigate it (issue 15)")),
    Row("seed 000 4: mitigation narrows the TPR gap against the same seed's plain model (change)",
        "faces.fairness", "mitigation/erm_to/equal_opportunity_difference_change", {"smoke": 1.0, "standard": 0.0}, 1,
        higher_is_better=False, expectation_source=seed("000 4", "no number: the seed asks to analyse bias, not to "
        "mitigate it (issue 15)")),
    Row("seed 000 4: mitigation's accuracy cost (test accuracy change, ThresholdOptimizer)",
        "faces.fairness", "mitigation/erm_to/accuracy_change", {"smoke": -0.2, "standard": -0.01}, 2,
        expectation_source=seed("000 4", "no number: the seed asks to analyse bias, not to "
        "mitigate it (issue 15)")),
    # seed 002 (Module 4, issue 16): the CNN study on Tiny-ImageNet-100 (mini-ImageNet stand-in, from scratch) and
    # occlusion sensitivity, 20 points. Standard thresholds sit below the committed standard run (AMD EPYC
    # AVX512-BF16, 1 thread): study base val top-1 0.108; cnn_best test top-1 0.497 ± 0.002 (flip TTA), top-5
    # 0.770, 787-911 s training a seed; smallest-box quartile error 0.618; occlusion vs captum 1.3e-07, median
    # localisation ratio 1.44 over 200 images. Smoke rows check that the pipeline runs (chance: 0.01 / 0.05).
    Row("seed 002 A: study covers conv layers, FC layers, filters, max pooling, epochs, stride (factors with a cell)",
        "imagenet.cnn_study", "factors_covered", {"smoke": 5, "standard": 6, "full": 6}, 1,
        expectation=6, expectation_source=seed("002 A", "six parameters to study: conv layers, fc layers, "
        "filters, max pooling, epochs, stride")),
    Row("seed 002 A: study factorials: depth x pooling and depth x training length (6 cells each)",
        "imagenet.cnn_study", "length_factorial_cells", {"standard": 6, "full": 6}, 1,
        expectation_source=seed("002 A", "'a table that shows the classification performance "
        "as a function of these parameters'; no number")),
    Row("seed 002 A: study base CNN learns (validation top-1; chance 0.01)",
        "imagenet.cnn_study", "base/val_top1", {"smoke": 0.0, "standard": 0.08}, 1,
        expectation_source=seed("002 A", "no number")),
    Row("seed 002 A: best CNN, Tiny-ImageNet-100 test top-1 >= 0.40 (issue goal; full 0.50)",
        "imagenet.cnn_best", "test_accuracy", {"smoke": 0.0, "standard": 0.40, "full": 0.50}, 4,
        expectation_source=seed("002 A", "'improve the performance as much as possible'; no "
        "number (0.40 is issue 16's goal)")),
    Row("seed 002 A: best CNN, test top-5",
        "imagenet.cnn_best", "test_top5", {"smoke": 0.0, "standard": 0.70}, 1,
        expectation_source=seed("002 A", "no number")),
    Row("seed 002 A: best CNN, one standard seed trains in <= 30 min (2 CPU cores)",
        "imagenet.cnn_best", "train_seconds", {"standard": 1800.0}, 1, higher_is_better=False,
        expectation_source=seed("002 A", "no number: no time asked (issue 16's goal, 30 min)")),
    Row("seed 002 A: misclassifications explained: error rate of the smallest-box quartile (measured)",
        "imagenet.cnn_best", "error_box_q1", {"smoke": 1.0, "standard": 0.75}, 1, higher_is_better=False,
        expectation_source=seed("002 A", "'look at some of the images that are "
        "mis-classified'; no number")),
    Row("seed 002 B: occlusion attribution equals captum's Occlusion (max |diff|, fp32)",
        "imagenet.occlusion", "captum_max_abs_diff", {"smoke": 1e-5, "standard": 1e-5, "full": 1e-5}, 3,
        higher_is_better=False, expectation_source=seed("002 B", "no number: the cross-check against captum is ours")),
    Row("seed 002 B: ~10 test images mapped (half right, half wrong)",
        "imagenet.occlusion", "images_shown", {"smoke": 4, "standard": 10, "full": 10}, 1,
        expectation=10, expectation_source=seed("002 B", "'for some of the selected images (~ 10 images)'")),
    Row("seed 002 B: localisation ratio measured over 200 test images",
        "imagenet.occlusion", "images_scored", {"smoke": 12, "standard": 200, "full": 1000}, 2,
        expectation_source=seed("002 B", "~10 images mapped; no number for a localisation "
        "score (200 images is ours)")),
    Row("seed 002 B: the best model's evidence lies on the object (median localisation ratio > 1 over 200)",
        "imagenet.occlusion", "ratio_median", {"standard": 1.0, "full": 1.0}, 1,
        expectation_source=seed("002 B", "'has the model really learnt the location of the "
        "object': asked, no number")),
    # the issue's goal: occlusion batched over the windows >= 5x one window per forward, on the study's base CNN
    # (measured x5.6 at standard with the incremental method, fp32, 1 thread, AVX2-only EPYC; cnn_best's CNN x4.5,
    # recorded beside it); smoke models are tiny, so smoke only checks that batching pays at all
    Row("seed 002 B: occlusion batched over the windows >= 5x faster than one window per forward (base CNN)",
        "imagenet.speed", "occlusion_speedup", {"smoke": 1.0, "standard": 5.0, "full": 5.0}, 2,
        expectation_source=seed("002 B", "no number: no speed asked (issue 16's goal, 5x)")),
    Row("seed 002 B: the study's base CNN training throughput recorded (images/s)",
        "imagenet.speed", "base/images_per_s", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 1,
        expectation_source=seed("002 B", "no number: throughput is recorded for the speed "
        "comparison (ours)")),
    # seed 003 (issue 14): binary gender recognition from faces, 25 points; positive class female, thresholds
    # chosen on UTKFace validation. Smoke thresholds only check the pipeline (measured at smoke, 256 training
    # faces, 2 epochs; 128 test / 96 FairFace: baseline test AUC 0.752, accuracy 0.703; improved AUC 0.777;
    # Lite0 transfer AUC 0.874; improved - baseline AUC +0.025; best FairFace accuracy 0.625). Standard
    # thresholds sit below the committed standard run (3 seeds, all 16,592 training faces, 4 epochs, 3,556 val /
    # 3,556 test / 540 FairFace; Intel Xeon AMX bf16, 2 threads; Lite0 transfer on an AMD EPYC AVX-512 bf16):
    # baseline test AUC 0.953 ± 0.004, accuracy 0.882; improved AUC 0.975 ± 0.001; improved - baseline AUC
    # +0.022 (seeds 0.018-0.024); Lite0 transfer AUC 0.945, accuracy 0.875; best FairFace accuracy 0.757 ± 0.009.
    # The issue's goals (0.94 accuracy, AUC 0.98, FairFace 0.90) are reported, not asserted here.
    Row("seed 003 §2: the baseline CNN of Fig. 1 (layer list; parameter count = formula)",
        "faces.gender_baseline", "param_formula_ok", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 2,
        expectation=1.0, expectation_source=seed("003 §2", "'implement the baseline CNN algorithm that is shown "
        "in Fig. 1' (its layers are listed in the text)")),
    Row("seed 003 §2: baseline analysed: curves, ROC with AUC, confusion matrices (UTKFace test AUC)",
        "faces.gender_baseline", "test_auc", {"smoke": 0.55, "standard": 0.94}, 4,
        expectation_source=seed("003 §2", "plot the ROC curve with the AUC score; no number")),
    Row("seed 003 §2: baseline measures: accuracy, sensitivity, specificity, F1 (UTKFace test accuracy)",
        "faces.gender_baseline", "test_accuracy", {"smoke": 0.55, "standard": 0.865}, 2,
        expectation_source=seed("003 §2", "report accuracy, sensitivity, specificity and F1; "
        "no number")),
    Row("seed 003 §2: improved CNN (layers, hyperparameters, augmentation): UTKFace test AUC",
        "faces.gender_improved", "test_auc", {"smoke": 0.55, "standard": 0.965}, 3,
        expectation_source=seed("003 §2", "'adapt/fine-tune the network to improve its "
        "performance'; no number")),
    Row("seed 003 §2: improved vs baseline by ROC/AUC on the same test images (paired AUC difference)",
        "faces.gender_compare", "improved_minus_baseline/test_auc", {"smoke": -0.5, "standard": 0.01}, 3,
        expectation_source=seed("003 §2", "illustrate the improvement over the baseline; no number for its size")),
    Row("seed 003 §2: transfer learning, frozen pretrained trunk + own FC layers (UTKFace test AUC)",
        "faces.gender_transfer", "test_auc", {"smoke": 0.65, "standard": 0.935}, 4,
        expectation_source=seed("003 §2", "frozen VGG16 features + own FC layers (here a "
        "frozen EfficientNet-Lite0 trunk); no number")),
    Row("seed 003 §2: transfer learning: UTKFace test accuracy",
        "faces.gender_transfer", "test_accuracy", {"smoke": 0.6, "standard": 0.86}, 2,
        expectation_source=seed("003 §2", "performance measures on the test set; no number")),
    Row("seed 003 §2.1: test set from a different dataset: the best model (by validation AUC) on FairFace (accuracy)",
        "faces.gender_compare", "best/fairface_accuracy", {"smoke": 0.5, "standard": 0.72}, 4,
        expectation_source=seed("003 §2.1", "'a test set that is from a different dataset' "
        "(its Kaggle set; FairFace-540 here); no number")),
    Row("seed 003 §2.1: every FairFace image of the budget scored by all three models",
        "faces.gender_compare", "fairface_images", {"smoke": 96, "standard": 540, "full": 540}, 1,
        expectation_source=seed("003 §2.1", "its test set has 27,167 images, FairFace-540 has "
        "540: no number to hold ours to")),
    # issue 29: dlib's face embedding (a pretrained face network) + logistic read-out on every UTKFace face.
    # Measured at standard (AMD EPYC AVX-512, descriptors cached): test accuracy 0.922, AUC 0.978, FairFace
    # adults 0.875; smoke (96 faces): accuracy 0.958, AUC 0.960, FairFace adults 0.952 (tiny samples). Issue
    # 29's goals (0.94 / 0.98 / 0.90) are the project's, not a seed's or a paper's: the experiment's report
    # states each as met or not; they are not graded (an accuracy expectation must come from a publication).
    Row("seed 003 §2: transfer from a pretrained face network (dlib embedding + logistic read-out): test accuracy",
        "faces.gender_embedding", "test_accuracy", {"smoke": 0.55, "standard": 0.91}, 2, expectation_source=seed(
        "003 §2", "no number (issue 29's goal 0.94 is the project's: reported in the experiment, not graded)")),
    Row("seed 003 §2: transfer from a pretrained face network: UTKFace test AUC",
        "faces.gender_embedding", "test_auc", {"smoke": 0.55, "standard": 0.97}, 2, expectation_source=seed(
        "003 §2", "no number (issue 29's goal 0.98 is the project's: reported in the experiment, not graded)")),
    Row("seed 003 §2.1: the face-embedding model on the other dataset: FairFace adults (20 and over) accuracy",
        "faces.gender_embedding", "fairface_adult_accuracy", {"smoke": 0.5, "standard": 0.85}, 2,
        expectation_source=seed(
        "003 §2.1", "no number (issue 29's goal 0.90 is the project's: reported in the experiment, not graded)")),
    # issue 29's scenes: 300 UTKFace test faces in Tiny-ImageNet backgrounds; measured at standard: the embedding
    # read-out 0.923 on the crops, 0.920 through the front end (gap 0.003), 0.537 without it; smoke (8 scenes) 0.625.
    Row("seed 000 3b / seed 003 §2: gender in scenes through the face front end (embedding read-out accuracy)",
        "faces.scenes", "embedding/front_end_accuracy", {"smoke": 0.25, "standard": 0.88}, 2,
        expectation_source=seed("000 3b / 003 §2", "no number (issue 29 asks for the gap below, not a level)")),
    Row("seed 000 3b / seed 003 §2: scenes through the front end within 2 points of the crops (embedding gap)",
        "faces.scenes", "embedding/front_end_gap", {"smoke": 1.0, "standard": 0.03}, 2, higher_is_better=False,
        expectation_source=seed("000 3b / 003 §2", "no number (issue 29's goal, 2 points, is the project's: "
                                "reported in the experiment, not graded)")),
    # from-scratch NumPy MLP (seed questions: forward 8, backward 12, loss 1, study 15)
    Row("seed 001 2c: NumPy MLP forward pass: agrees with a torch float64 twin (max |diff|)",
        "numpy_nn.gradcheck", "torch_forward_max_abs_diff", {"smoke": 1e-10, "standard": 1e-10, "full": 1e-10}, 8,
        higher_is_better=False, expectation_source=seed("001 2c", "the forward pass from scratch; no number (the "
        "tolerance is ours)")),
    Row("seed 001 2d: NumPy MLP backward pass: centred differences, smooth activations (max rel. error)",
        "numpy_nn.gradcheck", "max_rel_error_smooth", {"smoke": 1e-7, "standard": 1e-7, "full": 1e-7}, 6,
        higher_is_better=False, expectation_source=seed("001 2d", "the backward pass from scratch; no number (the "
        "tolerance is ours)")),
    Row("seed 001 2d: NumPy MLP backward pass: centred differences, ReLU family away from kinks (max rel. error)",
        "numpy_nn.gradcheck", "max_rel_error_relu_family", {"smoke": 1e-6, "standard": 1e-6, "full": 1e-6}, 3,
        higher_is_better=False, expectation_source=seed("001 2d", "the backward pass from scratch; no number (the "
        "tolerance is ours)")),
    Row("seed 001 2d: NumPy MLP backward pass: parameter gradients agree with the torch twin (max |diff|)",
        "numpy_nn.gradcheck", "torch_grad_max_abs_diff", {"smoke": 1e-10, "standard": 1e-10, "full": 1e-10}, 3,
        higher_is_better=False, expectation_source=seed("001 2d", "the backward pass from scratch; no number (the "
        "tolerance is ours)")),
    Row("seed 001 2e: NumPy softmax cross-entropy: hand-computed cases (max |diff|)",
        "numpy_nn.gradcheck", "loss_hand_max_abs_diff", {"smoke": 1e-12, "standard": 1e-12, "full": 1e-12}, 1,
        higher_is_better=False, expectation_source=seed("001 2e", "a custom cross-entropy module; no number")),
    Row("seed 001 2f: NumPy MLP study: layers x dropout x activation, best cell (validation accuracy)",
        "fashion.numpy_mlp_study", "best_cell/val_accuracy", {"smoke": 0.30, "standard": 0.86, "full": 0.88}, 5,
        expectation_source=seed("001 2f", "compare layers, dropout and activations and settle "
        "on the best; no number")),
    Row("seed 001 2: NumPy MLP, chosen configuration, whole training split (test accuracy)",
        "fashion.numpy_mlp", "test_accuracy", {"smoke": 0.70, "standard": 0.900, "full": 0.900}, 8,
        expectation=0.883,
        expectation_source=FMNIST_TABLE + ": 'MLP 256-128-100' 0.8833; " + seed("001 2", "sets no number")),
    Row("seed 001 2: NumPy MLP training time, whole training split (seconds, goal <= 60 on 2 cores)",
        "fashion.numpy_mlp", "train_seconds", {"standard": 60.0}, 2, higher_is_better=False,
        expectation_source=seed("001 2", "no number: no time asked (issue 2's goal, 60 s)")),
    # sine-wave forecasting (seed 000's RNN question)
    Row("seed 000 2: an LSTM learns the sine wave (one-step test MSE, noiseless wave)",
        "sine.lstm", "test_mse", {"smoke": 0.02, "standard": 1e-4, "full": 1e-4}, 4, higher_is_better=False,
        expectation_source=seed("000 2", "'build two RNNs ... that can learn the Sine wave'; "
        "no number")),
    Row("seed 000 2: a GRU learns the sine wave (one-step test MSE, noiseless wave)",
        "sine.gru", "test_mse", {"smoke": 0.02, "standard": 1e-4, "full": 1e-4}, 4, higher_is_better=False,
        expectation_source=seed("000 2", "'build two RNNs ... that can learn the Sine wave'; "
        "no number")),
    Row("seed 000 2: the LSTM's autoregressive rollout stays on the wave (rollout MSE; 1000 steps at standard)",
        "sine.lstm", "rollout_mse", {"smoke": 0.2, "standard": 1e-3, "full": 1e-3}, 2, higher_is_better=False,
        expectation_source=seed("000 2", "no number: the rollout is ours")),
    Row("seed 000 2: parameters of each layer calculated by formula equal torch's count",
        "sine.compare", "param_formula_ok", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 3,
        expectation=1.0, expectation_source=seed("000 2", "'provide an explanation (calculation) of the number "
        "of parameters in each layer'")),
    Row("seed 000 2: comparison with the MLP on the same windows (MLP one-step test MSE)",
        "sine.compare", "mlp/test_mse", {"smoke": 0.02, "standard": 1e-4, "full": 1e-4}, 2, higher_is_better=False,
        expectation_source=seed("000 2", "'compare your RNN model with the MLP used earlier'; "
        "no number")),
    Row("seed 004 2.4.2: EDA pixel mean/std measured = published 0.2860/0.3530 (max abs error)",
        "fashion.eda", "pixel_stats_error_vs_published", {"smoke": 5e-4, "standard": 5e-4, "full": 5e-4}, 1,
        higher_is_better=False, expectation_source=seed("004 2.4.2", "calculate the mean and std of the pixel values; "
        "no number")),
    Row("seed 004 2.4.1: EDA class balance computed per split (official train balanced)",
        "fashion.eda", "official_train_balanced", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 1,
        expectation_source=seed("004 2.4.1", "examine whether the dataset is balanced; no number")),
    Row("seed 004 2.4.6: EDA edge+texture features (Sobel/Canny, LBP/GLCM): linear-probe test accuracy",
        "fashion.eda", "probe_edges_texture_accuracy", {"smoke": 0.65, "standard": 0.72, "full": 0.72}, 2,
        expectation_source=seed("004 2.4.6", "edge detection or texture analysis as extra "
        "features; no number")),
    Row("seed 004 1.1: vanishing gradients measured (sigmoid, log10 first/last-hidden grad norm at init)",
        "fashion.theory_vanishing", "sigmoid_xavier/log10_grad_ratio_init",
        {"smoke": -2.0, "standard": -6.0, "full": -6.0}, 1,
        higher_is_better=False, expectation_source=seed("004 1.1", "describe vanishing and exploding gradients and "
        "the solution; no number")),
    Row("seed 004 1.1: exploding gradients measured (log10 first-layer grad, gain 1.5 over He init)",
        "fashion.theory_exploding", "log10_first_layer_grad_large_over_he",
        {"smoke": 0.8, "standard": 2.5, "full": 2.5}, 1,
        expectation_source=seed("004 1.1", "describe vanishing and exploding gradients and "
        "the solution; no number")),
    # seed 004 question 1 (theory, issue 28): each claim checked against the measurement that shows it, at
    # standard (3 seeds); smoke only where the mechanism already shows in smoke's smaller nets.
    Row("seed 004 1.1: vanishing: the remedy, ReLU + He init, keeps the first/last-hidden gradient ratio near 1 "
        "(log10 at init)",
        "fashion.theory_vanishing", "relu_he/log10_grad_ratio_init", {"smoke": -1.0, "standard": -1.0}, 1,
        expectation_source=seed("004 1.1", "'what is the solution to this problem?'; no "
        "number")),  # measured 0.045 ± 0.204 (standard), 0.47 (smoke)
    # measured 1.0: 3/3 seeds diverge
    Row("seed 004 1.1: exploding: the too-large init diverges without a remedy (diverged, every seed)",
        "fashion.theory_exploding", "large/diverged", {"standard": 1.0}, 1,
        expectation_source=seed("004 1.1", "describe exploding gradients; no number")),
    Row("seed 004 1.1: exploding: gradient clipping trains the same too-large init (diverged)",
        "fashion.theory_exploding", "large_clip/diverged", {"standard": 0.0}, 1, higher_is_better=False,
        expectation_source=seed("004 1.1", "'what is the solution to this problem?'; no "
        "number")),  # measured 0.0: no seed diverges
    Row("seed 004 1.1: exploding: with clipping the too-large init learns (validation accuracy; chance 0.1)",
        "fashion.theory_exploding", "large_clip/val_accuracy", {"standard": 0.3}, 1,
        expectation_source=seed("004 1.1", "'what is the solution to this problem?'; no "
        "number")),  # measured 0.473 ± 0.066
    # measured -5.19 ± 0.20; smoke's smaller net -0.26
    Row("seed 004 1.2: batch norm: without it the deep ReLU MLP's gradient vanishes toward the input "
        "(log10 ratio at init)",
        "fashion.theory_batchnorm", "plain/log10_grad_ratio_init", {"standard": -3.0}, 1, higher_is_better=False,
        expectation_source=seed("004 1.2", "'what is batch normalization?'; no number")),
    # measured +1.86 ± 0.01 (standard), +1.18 (smoke)
    Row("seed 004 1.2: batch norm: with it the same MLP's gradient does not vanish (log10 ratio at init)",
        "fashion.theory_batchnorm", "bn/log10_grad_ratio_init", {"smoke": -1.0, "standard": -1.0}, 1,
        expectation_source=seed("004 1.2", "'what is batch normalization?'; no number")),
    # measured 0.696 ± 0.036 (plain stays at chance)
    Row("seed 004 1.2: batch norm: the same MLP trains with BN and not without (validation accuracy gain)",
        "fashion.theory_batchnorm", "bn_minus_plain_val_accuracy", {"standard": 0.3}, 1,
        expectation_source=seed("004 1.2", "'what is batch normalization?'; no number")),
    # measured 6 of 8 (plain: 0 of 8)
    Row("seed 004 1.2: batch norm widens the learning rates that train (of 8 tried, 0.001 to 3)",
        "fashion.theory_batchnorm", "bn/n_lrs_train", {"standard": 3}, 1,
        expectation_source=seed("004 1.2", "'what is batch normalization?'; no number")),
    Row("seed 004 1.3: dropout narrows the train/validation accuracy gap at the same budget (gap reduction)",
        "fashion.theory_dropout", "gap_reduction", {"standard": 0.01}, 1,
        expectation_source=seed("004 1.3", "'what is dropout, and what is its benefit?'; no "
        "number")),  # measured 0.029 ± 0.007
    Row("seed 004 3.2: attention over CNN embeddings: test accuracy of the attention-weighted vote",
        "fashion.attention", "identity/accuracy", {"smoke": 0.2, "standard": 0.75, "full": 0.80}, 2,
        expectation_source=seed("004 3.2", "implement attention over the image embeddings and "
        "explain why it is useful; no number")),
    Row("seed 004 3.2: attention vs uniform averaging (accuracy gain)",
        "fashion.attention", "gain_over_uniform", {"smoke": 0.1, "standard": 0.6, "full": 0.6}, 1,
        expectation_source=seed("004 3.2", "explain why attention is useful; no number")),
)
GATE = 1.0  # fraction of the rubric's points needed; every row must pass by default


# Records written by a benchmark rather than by a registered experiment, and what each needs besides code
# (a dataset name, or "chromium" for the browser): a row whose record is absent because one is missing
# is `not run` outside CI, like a registered experiment's.
BENCHMARK_RECORDS: dict[str, tuple[str, ...]] = {"web.page": ("ip102", "chromium"), "web.load": ("ip102",),
                                                  "web.decode_cost": ("ip102",), "imagenet.speed": ()}
CHROMIUM_HOW = ("not a dataset: a browser. apt-get install chromium (Debian's package, driven by the web extra's "
                "Playwright; never `playwright install`)")


DAMAGED = "damaged record"  # a row's status when its record is damaged: out of the gate outside CI, a failure under CI
NO_THRESHOLD = "no threshold"  # assignment column: neither the seed nor a published anchor sets a number
SHORT = "short"  # assignment column: measured, and below what the seed or the anchor expects


class NoResults(FileNotFoundError):
    """The results folder holds no result records (or does not exist): nothing to grade."""


def missing_datasets(experiment: str) -> dict[str, str]:
    """``{dataset: how to get it}`` for each dataset ``experiment`` declares that is not available.

    An experiment the registry does not know declares what ``BENCHMARK_RECORDS`` says (a custom
    rubric's: none).
    """
    from dl_assign import data, registry

    try:
        names = registry.get(experiment).datasets
    except registry.UnknownExperiment:
        names = BENCHMARK_RECORDS.get(experiment, ())
    missing = {}
    for name in names:
        if name == "chromium":
            from dl_assign.web.shots import browser_missing

            if browser_missing():
                missing[name] = CHROMIUM_HOW
            continue
        found = data.status(name)  # one status per name; `available` is the same test
        if not all(s.found and not s.error for s in found):
            missing[name] = " ".join(s.how_to_get for s in found)
    return missing


def grade_rows(records: dict[str, dict], rubric=None, ci: bool = False) -> list[dict]:
    """One dict per rubric row; ``ci`` keeps a row whose dataset is missing a failure (``missing``)."""
    rows, absent = [], {}  # absent: experiment -> its missing datasets, looked up once
    for row in RUBRIC if rubric is None else rubric:
        rec = records.get(row.experiment)
        out = asdict(row) | {"budget": None, "value": None, "threshold": None, "earned": 0.0, "status": "missing",
                             "missing_datasets": {}, "assignment_status": "missing", "assignment_earned": 0.0}
        if rec is None:
            if row.experiment not in absent:
                absent[row.experiment] = missing_datasets(row.experiment)
            out["missing_datasets"] = gone = absent[row.experiment]
            if gone and not ci:  # under CI the row stays `missing`: a failure, never a skip
                why = "; ".join(f"dataset missing: {n}; how to get it: {how}" for n, how in gone.items())
                out["status"] = f"not run ({why})"
        else:
            metric = rec["metrics"].get(row.metric)
            threshold = row.thresholds.get(rec["budget"])
            value = None if metric is None else metric["mean"]
            out.update(budget=rec["budget"], threshold=threshold, value=value)
            if threshold is None:
                out["status"] = "not graded at this budget"  # e.g. a time goal that only the standard run has
            elif value is None:
                out["status"] = "metric missing"
            else:
                ok = _meets(value, threshold, row.higher_is_better)
                out.update(status="pass" if ok else "fail", earned=row.points if ok else 0.0)
        # the assignment column: the same value against the seed's or the anchor's number, at any budget
        if row.expectation is None:
            out["assignment_status"] = NO_THRESHOLD
        elif out["value"] is not None:
            met = _meets(out["value"], row.expectation, row.higher_is_better)
            out.update(assignment_status="met" if met else SHORT, assignment_earned=row.points if met else 0.0)
        else:
            out["assignment_status"] = out["status"] if rec is None else "metric missing"  # missing / not run (...)
        rows.append(out)
    return rows


def _meets(value: float, threshold: float, higher_is_better: bool) -> bool:
    return value >= threshold if higher_is_better else value <= threshold


def assignment_summary(rows: list[dict]) -> dict:
    """The assignment column's score: only rows whose seed or anchor sets a number count; never gated."""
    numbered = [r for r in rows if r["expectation"] is not None  # a missing result counts, as in the guard
                and not r["assignment_status"].startswith(("not run", DAMAGED))]
    total = sum(r["points"] for r in numbered)
    earned = sum(r["assignment_earned"] for r in numbered)
    return {"earned": earned, "total": total, "fraction": earned / total if total else 0.0,
            "rows_met": sum(r["assignment_status"] == "met" for r in rows),
            "rows_short": sum(r["assignment_status"] == SHORT for r in rows),
            "rows_no_threshold": sum(r["assignment_status"] == NO_THRESHOLD for r in rows),
            "short": [r["question"] for r in rows if r["assignment_status"] == SHORT]}


def grade(results_dir: str | Path = "results", gate: float = GATE, rubric=None, ci: bool | None = None,
          out_dir: str | Path | None = None) -> dict:
    """Grade a results folder; writes grades.json and grades.md there and returns the summary.

    ``ci`` defaults to ``$CI == "true"``. Raises :class:`NoResults` when the folder holds no usable
    record (absent, a file, empty, or every record damaged). Damaged records are skipped and named in
    ``summary["damaged"]`` (path -> what is wrong); under ``ci`` any of them fails the grade.
    """
    results_dir = Path(results_dir)
    if results_dir.exists() and not results_dir.is_dir():
        raise NoResults(f"{results_dir} is a file, not a folder of result records")
    records, damaged = scan_results(results_dir) if results_dir.is_dir() else Scan({}, {})
    if not records:
        if damaged:  # nothing usable: say why, file by file, rather than grade zero points
            raise NoResults(f"no usable result records in {results_dir}: "
                            + "; ".join(f"{path}: {why}" for path, why in damaged.items()))
        where = "the folder does not exist" if not results_dir.exists() else "nothing to grade"
        raise NoResults(f"no result records (*.json) in {results_dir}: {where} "
                        "(run `dl-assign bench` or `dl-assign run NAME` first)")
    ci = os.environ.get("CI") == "true" if ci is None else ci
    rows = grade_rows(records, rubric, ci=ci)
    by_name = {Path(path).name.removesuffix(".json"): path for path in damaged}  # results are <experiment>.json
    for r in rows:
        if r["budget"] is None and r["experiment"] in by_name:  # its record exists but is damaged
            r.update(status=f"{DAMAGED}: {by_name[r['experiment']]}", missing_datasets={})
            if r["assignment_status"] != NO_THRESHOLD:
                r["assignment_status"] = r["status"]
    counted = [r for r in rows if r["status"] != "not graded at this budget" and not r["status"].startswith("not run")
               and (ci or not r["status"].startswith(DAMAGED))]  # outside CI a damaged record leaves the gate
    total = sum(r["points"] for r in counted)
    earned = sum(r["earned"] for r in rows)
    fraction = earned / total if total else 0.0
    missing = {n: how for r in rows for n, how in r["missing_datasets"].items()}
    summary = {"earned": earned, "total": total, "fraction": fraction, "gate": gate,
               "passed": fraction >= gate - 1e-12 and not (ci and damaged), "ci": ci, "damaged": damaged,
               "not_run": sum(r["status"].startswith("not run") for r in rows),
               "missing_datasets": dict(sorted(missing.items())), "assignment": assignment_summary(rows), "rows": rows}
    out_dir = results_dir if out_dir is None else Path(out_dir)  # `make test` grades results/ into build/
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "grades.json", json.dumps(summary, indent=1) + "\n")
    atomic_write_text(out_dir / "grades.md", render(summary))
    return summary


def _bound(higher_is_better: bool, threshold) -> str:
    return "-" if threshold is None else (">= " if higher_is_better else "<= ") + f"{threshold:g}"


TWO_COLUMNS = (
    "Two columns. The **regression guard** holds each row to a threshold set just below the committed runs: it "
    "catches a change that makes a result worse, and it is all that `dl-assign grade`'s exit code and CI gate on. "
    "The **assignment** column holds the same value to what the assignment expects: a number a seed text gives "
    "(a count such as ~10 images, six parameters, multiple models), 1.0 for a yes/no the seed asks for, or a "
    "published anchor (the Fashion-MNIST benchmark table, the IP102 paper, the four-fifths rule); "
    "`expectation_source` names the seed file and part or the publication. No seed sets an accuracy target. Where "
    "neither a seed nor an anchor gives a number the column says `no threshold` and the row is left out of the "
    "assignment score (it is not scored as its guard: the guard's numbers are ours, not the assignment's). The "
    "assignment column is never gated, and every row short of its expectation is listed below, at every budget "
    "(a smoke run is not expected to meet them).")


def render(summary: dict) -> str:
    rows = summary["rows"]
    cells = [[r["question"], r["experiment"], f"`{r['metric']}`", r["budget"] or "-",
              fmt_number(r["value"]) if r["value"] is not None else "-",
              _bound(r["higher_is_better"], r["threshold"]), f"{r['earned']:g}/{r['points']:g}", r["status"],
              _bound(r["higher_is_better"], r.get("expectation")), _assignment_cell(r),
              r.get("expectation_source") or "not given"] for r in rows]
    table = markdown_table(
        ["question", "experiment", "metric", "budget", "value", "guard", "points", "guard status",
         "assignment expects", "assignment", "expectation source"],
        [[str(c).replace("|", "\\|") for c in row] for row in cells])  # a cell's own bars would split it
    verdict = "PASS" if summary["passed"] else "FAIL"
    headline = (f"**Regression guard: {summary['earned']:g} / {summary['total']:g} points "
                f"({summary['fraction']:.0%}); gate {summary['gate']:.0%}: {verdict}**")
    missing = summary.get("missing_datasets") or {}
    names = ", ".join(missing)
    if summary.get("not_run"):
        headline += (f"\n\n{summary['not_run']} row(s) not run, left out of the gate: dataset(s) missing: {names} "
                     "(see `dl-assign data`; under CI=true this is a failure)")
    elif missing:  # only under CI: the rows stay `missing` and count
        headline += (f"\n\nCI=true: dataset(s) missing: {names}; their rows count as missing "
                     "(under CI a missing dataset is a failure, never a skip; see `dl-assign data`)")
    how = "".join(f"\n- `{n}`: {h}" for n, h in missing.items())
    if how:
        headline += "\n\nHow to get the missing data:" + how
    damaged = summary.get("damaged") or {}
    if damaged:
        effect = ("CI=true: a damaged record fails the grade whatever the score" if summary.get("ci")
                  else "their rows are left out of the gate; under CI=true a damaged record fails the grade")
        headline += f"\n\n{damaged_md(damaged)}\n\n({effect})"
    a = summary.get("assignment") or assignment_summary(rows)
    headline += (f"\n\n**Assignment: {a['earned']:g} / {a['total']:g} points ({a['fraction']:.0%}) on the rows with a "
                 f"number; {a['rows_met']} row(s) met, {a['rows_short']} short, {a['rows_no_threshold']} with no "
                 "threshold (not gated)**\n\n" + TWO_COLUMNS)
    short = [r for r in rows if r["assignment_status"] == SHORT]
    if short:
        headline += "\n\n### Short of the assignment\n\n" + "\n".join(
            f"- {r['question']} (`{r['experiment']}` `{r['metric']}`, {r['budget']}): {fmt_number(r['value'])}, "
            f"expected {_bound(r['higher_is_better'], r['expectation'])}; source: {r['expectation_source']}"
            for r in short)
    return f"# Grades\n\n{headline}\n\n## Every row\n\n{table}\n"


def _assignment_cell(r: dict) -> str:
    status = r["assignment_status"]
    return f"{status} ({r['assignment_earned']:g}/{r['points']:g})" if status in ("met", SHORT) else status
