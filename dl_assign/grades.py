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
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from dl_assign.results import Scan, atomic_write_text, damaged_md, fmt_number, markdown_table, scan_results


@dataclass(frozen=True)
class Row:
    question: str
    experiment: str
    metric: str
    thresholds: dict  # budget -> threshold on the metric's mean over seeds
    points: float
    higher_is_better: bool = True


RUBRIC: tuple[Row, ...] = (
    Row("seed 001: MLP classifier on Fashion-MNIST (test accuracy)", "fashion.mlp", "test_accuracy",
        {"smoke": 0.70, "standard": 0.88, "full": 0.89}, 5),
    Row("seed 001: MLP classifier on Fashion-MNIST (macro-F1)", "fashion.mlp", "test_macro_f1",
        {"smoke": 0.65, "standard": 0.88, "full": 0.89}, 2),
    # seeds 001/004, Fashion-MNIST CNN family (issue 4). Standard thresholds sit below the committed
    # standard runs (measured values in the comments); smoke thresholds only check that the pipeline
    # learns at all at smoke size; a full threshold only where a full run was measured.
    Row("seed 001/004: 5-conv CNN on Fashion-MNIST (test accuracy; VGG16 scores 0.935)", "fashion.cnn",
        "test_accuracy", {"smoke": 0.55, "standard": 0.940}, 5),  # measured 0.9420 ± 0.0010 (Zen 5, bf16)
    Row("seed 004: 5-conv CNN reaches 0.930 test accuracy on every seed (time recorded)", "fashion.cnn",
        "reached_930", {"standard": 1.0}, 1),  # measured 3/3 seeds, 113 ± 5 s (Zen 5, bf16)
    # against a matmul in the precision the model trained in: measured 0.317 ± 0.017 (Zen 5, bf16 vs
    # a bf16 matmul), 0.107 on an AMX Xeon (bf16, 2048² bf16 matmul), 0.69 in fp32 vs fp32 (Xeon);
    # smoke's tiny model in bf16: 0.061 (Zen 5, idle), 0.0039 with three other jobs on the 2 cores; 0.23
    # in fp32 (AVX2-restricted): at smoke size the row only checks that a positive ratio is measured
    Row("seed 004: CNN training compute efficiency (model FLOP/s / matmul FLOP/s, training precision)",
        "fashion.cnn", "efficiency_ratio", {"smoke": 0.001, "standard": 0.1}, 1),
    Row("seed 004: pooling study (max pooling + flatten cell)", "fashion.cnn_pooling",
        "max pool + flatten/test_accuracy", {"smoke": 0.30, "standard": 0.82}, 1),  # measured 0.845 ± 0.010
    Row("seed 004: kernel size x filter schedule study (3x3 doubling cell)", "fashion.cnn_kernels",
        "k3 doubling/test_accuracy", {"smoke": 0.20, "standard": 0.80}, 1),  # measured 0.831 ± 0.003
    Row("seed 004: initialisation study (He cell, no BatchNorm)", "fashion.cnn_init",
        "he/test_accuracy", {"smoke": 0.20, "standard": 0.80}, 1),  # measured 0.826 ± 0.006
    Row("seed 004: CNN features into the NumPy MLP", "fashion.cnn_mlp",
        "mlp_on_features/test_accuracy", {"smoke": 0.15, "standard": 0.87}, 2),  # measured 0.8889 ± 0.0002
    Row("seed 001: torch MLP sweep (ReLU, middle batch size, last epoch mark)", "fashion.torch_mlp_sweep",
        "mlp/test_accuracy", {"smoke": 0.30, "standard": 0.82}, 1),  # measured 0.843
    Row("seed 004: torchvision ResNet-50 adapted to 28x28 grey (from scratch)", "fashion.resnet50",
        "test_accuracy", {"smoke": 0.05, "standard": 0.75, "full": 0.94}, 2),  # 0.799; full (H100, 1 seed) 0.948
    # pests.cnn_scratch measured at standard: 0.5333 +- 0.0086 (Intel Xeon AMX; seeds 0.541, 0.524, 0.534;
    # earlier on a Zen 5 EPYC 0.5262 +- 0.0105; 24-192 net, flips only, 20 epochs, chosen by pests.cnn_study
    # on val; the old recipe measured 0.405); full not measured yet, held to the standard mark
    Row("pests (IP102 layout): CNN trained from scratch, baseline for transfer learning",
        "pests.cnn_scratch", "test_accuracy", {"smoke": 0.10, "standard": 0.50, "full": 0.50}, 5),
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
        "pests.transfer_effnet_lite0", "test_accuracy", {"smoke": 0.2, "standard": 0.74}, 6),
    Row("seed 000 3a: MobileNetV2 transfer, last blocks + new head (test accuracy; pests14: leakage flag)",
        "pests.transfer_mobilenet_v2", "test_accuracy", {"smoke": 0.2, "standard": 0.69}, 6),
    Row("seed 000 3a: EfficientNet-Lite0 vs the custom CNN (test accuracy gain; pests14: leakage flag)",
        "pests.transfer_compare", "effnet_lite0/gain_over_custom", {"smoke": 0.0, "standard": 0.15}, 3),
    Row("seed 000 3a: MobileNetV2 vs the custom CNN (test accuracy gain; pests14: leakage flag)",
        "pests.transfer_compare", "mobilenet_v2/gain_over_custom", {"smoke": 0.0, "standard": 0.15}, 3),
    Row("seed 000 3a: EfficientNet-Lite0 vs the custom CNN, paired on the same test images (McNemar p)",
        "pests.transfer_compare", "effnet_lite0_vs_custom_cnn/mcnemar_p", {"smoke": 1.0, "standard": 0.01}, 2,
        higher_is_better=False),
    # seed 000 question 3b (issue 12): the web app, 20 points. Read from the records the benchmarks write
    # (benchmarks/bench_web.py): web.page = the real page driven in headless Chromium by dl_assign.web.shots
    # (every stored model version selected in turn, page vs /api/predict), web.load = the load benchmark.
    # Measured at smoke (build/models-smoke, 3 models, MobileNetV2 with 2 versions, two training jobs on the
    # 2 cores): class agreement 1.0, bar heights exact (0 px), 2 cards compared, 0 errors in 40 requests,
    # p95 80-103 ms, RSS +0.2%. The p95 goal is the issue's (MobileNetV2, 4 clients, 2 cores), standard only.
    Row("seed 000 3b: upload an image in the real page: the class shown = /api/predict's, every stored version",
        "web.page", "class_agreement", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 5),
    Row("seed 000 3b: the dropdown lists exactly the stored model versions", "web.page", "dropdown_matches_store",
        {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 1),
    Row("seed 000 3b: the dropdown offers several models", "web.page", "dropdown_models",
        {"smoke": 2, "standard": 2, "full": 2}, 2),
    Row("seed 000 3b: the dropdown offers several versions of a model", "web.page", "dropdown_max_versions",
        {"smoke": 2, "standard": 2, "full": 2}, 2),
    Row("seed 000 3b: two models compared side by side (prediction cards shown)", "web.page",
        "compared_side_by_side", {"smoke": 2, "standard": 2, "full": 2}, 2),
    Row("seed 000 3b: bar plot: drawn bar heights = probability x plot height (max error, px)", "web.page",
        "bar_height_max_error_px", {"smoke": 0.5, "standard": 0.5, "full": 0.5}, 1, higher_is_better=False),
    Row("seed 000 3b: an API error is shown in the page in words", "web.page", "api_error_shown",
        {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 1),
    Row("seed 000 3b: screenshots present (web.page.png after a 2-model comparison, web.samples.png)", "web.page",
        "screenshots_ok", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 2),
    Row("seed 000 3b: load benchmark: errors of any kind (4 concurrent clients)", "web.load", "errors",
        {"smoke": 0, "standard": 0, "full": 0}, 1, higher_is_better=False),
    Row("seed 000 3b: load benchmark: requests sent (1,000 at standard)", "web.load", "requests",
        {"smoke": 40, "standard": 1000, "full": 1000}, 1),
    Row("seed 000 3b: load benchmark: server RSS growth over the run (flat within 10%)", "web.load", "rss_growth",
        {"smoke": 0.10, "standard": 0.10, "full": 0.10}, 1, higher_is_better=False),
    Row("seed 000 3b: load benchmark: p95 latency <= 100 ms (MobileNetV2, 4 clients, 2 cores)", "web.load",
        "p95_ms", {"standard": 100.0, "full": 100.0}, 1, higher_is_better=False),
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
        "segment.cnn_features", "best_cnn/box_iou", {"smoke": 0.45, "standard": 0.58}, 5),
    Row("seed 000 3c: CNN segments beat taking the whole image as the object (box IoU gain)",
        "segment.cnn_features", "best_cnn_gain_over_whole_image/box_iou", {"smoke": 0.0, "standard": 0.07}, 3),
    Row("seed 000 3c: CNN segments vs the best baseline without a CNN (colour+position K-means, SLIC; box IoU gain)",
        "segment.cnn_features", "best_cnn_minus_best_baseline/box_iou", {"smoke": -0.2, "standard": 0.0}, 2),
    Row("seed 000 3c: CNN segments recover the regions of seeded mosaics (adjusted Rand index, true K)",
        "segment.cnn_features", "best_cnn/mosaic_ari", {"smoke": 0.2, "standard": 0.5}, 4),
    Row("seed 000 3c: silhouette of the K-means segments (late layer, K chosen by silhouette)",
        "segment.cnn_features", "late/kmeans/silhouette", {"smoke": 0.0, "standard": 0.1}, 2),
    Row("seed 000 3c: DBSCAN (eps from the k-distance curve) finds segments, not one blob (clusters per image)",
        "segment.cnn_features", "best_dbscan/clusters", {"smoke": 1.0, "standard": 2.0}, 2),
    Row("seed 000 3c: one 224x224 image segmented (features + K-means at the chosen K) in <= 100 ms",
        "segment.cnn_features", "speed_ms_224", {"smoke": 1000.0, "standard": 100.0}, 2, higher_is_better=False),
    # seed 000 question 4 (issue 15): bias and fairness of a face-attribute model, 20 points, faces.fairness (gender
    # model, female positive, on every UTKFace test face by race / age / gender / race x gender, FairFace by age and
    # gender). Standard thresholds sit below the committed standard run (3 seeds, AMD EPYC AVX512-BF16): 6 analyses
    # with >= 2 groups of >= 30 faces; val accuracy 0.880, F1 0.877, AUC 0.949; ERM TPR gap by race 0.073;
    # ThresholdOptimizer TPR gap 0.031 (change -0.042, accuracy +0.0005); disparate impact by race 0.709. Smoke
    # (256 training faces, 200 val / 200 test, 2 epochs): 5 analyses, val accuracy 0.745, F1 0.68, AUC 0.78; gaps
    # noisy (TPR gap 0.5): the smoke rows only check that the analysis ran.
    Row("seed 000 4: summary of what is analysed, with group sizes (analyses with >= 2 groups of >= 30 faces)",
        "faces.fairness", "summary/analyses", {"smoke": 4, "standard": 6, "full": 6}, 2),
    Row("seed 000 4: the justified model (improved CNN, from scratch): validation AUC", "faces.fairness", "val_auc",
        {"smoke": 0.55, "standard": 0.93}, 3),
    Row("seed 000 4: validation metric 1: accuracy", "faces.fairness", "val_accuracy",
        {"smoke": 0.55, "standard": 0.86}, 3),
    Row("seed 000 4: validation metric 2: F1 (female)", "faces.fairness", "val_f1",
        {"smoke": 0.4, "standard": 0.85}, 2),
    Row("seed 000 4: equal opportunity by race on the test split (TPR gap of the model, with interval and p)",
        "faces.fairness", "erm/test_race/equal_opportunity_difference", {"smoke": 1.0, "standard": 0.15}, 2,
        higher_is_better=False),
    Row("seed 000 4: disparate impact by race on the test split (selection-rate ratio, four-fifths flagged)",
        "faces.fairness", "erm/test_race/disparate_impact", {"smoke": 0.0, "standard": 0.6}, 2),
    Row("seed 000 4: mitigation: ThresholdOptimizer (equal opportunity) TPR gap by race on test",
        "faces.fairness", "erm_to/test_race/equal_opportunity_difference", {"smoke": 1.0, "standard": 0.06}, 3,
        higher_is_better=False),
    Row("seed 000 4: mitigation narrows the TPR gap against the same seed's plain model (change)",
        "faces.fairness", "mitigation/erm_to/equal_opportunity_difference_change", {"smoke": 1.0, "standard": 0.0}, 1,
        higher_is_better=False),
    Row("seed 000 4: mitigation's accuracy cost (test accuracy change, ThresholdOptimizer)", "faces.fairness",
        "mitigation/erm_to/accuracy_change", {"smoke": -0.2, "standard": -0.01}, 2),
    # seed 002 (Module 4, issue 16): the CNN study on Tiny-ImageNet-100 (mini-ImageNet stand-in, from scratch) and
    # occlusion sensitivity, 20 points. Standard thresholds sit below the committed standard run (AMD EPYC
    # AVX512-BF16, 1 thread): study base val top-1 0.108; cnn_best test top-1 0.497 ± 0.002 (flip TTA), top-5
    # 0.770, 787-911 s training a seed; smallest-box quartile error 0.618; occlusion vs captum 1.3e-07, median
    # localisation ratio 1.44 over 200 images. Smoke rows check that the pipeline runs (chance: 0.01 / 0.05).
    Row("seed 002 A: study covers conv layers, FC layers, filters, max pooling, epochs, stride (factors with a cell)",
        "imagenet.cnn_study", "factors_covered", {"smoke": 5, "standard": 6, "full": 6}, 1),
    Row("seed 002 A: study factorials: depth x pooling and depth x training length (6 cells each)",
        "imagenet.cnn_study", "length_factorial_cells", {"standard": 6, "full": 6}, 1),
    Row("seed 002 A: study base CNN learns (validation top-1; chance 0.01)", "imagenet.cnn_study", "base/val_top1",
        {"smoke": 0.0, "standard": 0.08}, 1),
    Row("seed 002 A: best CNN, Tiny-ImageNet-100 test top-1 >= 0.40 (issue goal; full 0.50)", "imagenet.cnn_best",
        "test_accuracy", {"smoke": 0.0, "standard": 0.40, "full": 0.50}, 4),
    Row("seed 002 A: best CNN, test top-5", "imagenet.cnn_best", "test_top5", {"smoke": 0.0, "standard": 0.70}, 1),
    Row("seed 002 A: best CNN, one standard seed trains in <= 30 min (2 CPU cores)", "imagenet.cnn_best",
        "train_seconds", {"standard": 1800.0}, 1, higher_is_better=False),
    Row("seed 002 A: misclassifications explained: error rate of the smallest-box quartile (measured)",
        "imagenet.cnn_best", "error_box_q1", {"smoke": 1.0, "standard": 0.75}, 1, higher_is_better=False),
    Row("seed 002 B: occlusion attribution equals captum's Occlusion (max |diff|, fp32)", "imagenet.occlusion",
        "captum_max_abs_diff", {"smoke": 1e-5, "standard": 1e-5, "full": 1e-5}, 3, higher_is_better=False),
    Row("seed 002 B: ~10 test images mapped (half right, half wrong)", "imagenet.occlusion", "images_shown",
        {"smoke": 4, "standard": 10, "full": 10}, 1),
    Row("seed 002 B: localisation ratio measured over 200 test images", "imagenet.occlusion", "images_scored",
        {"smoke": 12, "standard": 200, "full": 1000}, 2),
    Row("seed 002 B: the best model's evidence lies on the object (median localisation ratio > 1 over 200)",
        "imagenet.occlusion", "ratio_median", {"standard": 1.0, "full": 1.0}, 1),
    # the issue's goal: occlusion batched over the windows >= 5x one window per forward, on the study's base CNN
    # (measured x5.6 at standard with the incremental method, fp32, 1 thread, AVX2-only EPYC; cnn_best's CNN x4.5,
    # recorded beside it); smoke models are tiny, so smoke only checks that batching pays at all
    Row("seed 002 B: occlusion batched over the windows >= 5x faster than one window per forward (base CNN)",
        "imagenet.speed", "occlusion_speedup", {"smoke": 1.0, "standard": 5.0, "full": 5.0}, 2),
    Row("seed 002 B: the study's base CNN training throughput recorded (images/s)", "imagenet.speed",
        "base/images_per_s", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 1),
    # seed 003 (issue 14): binary gender recognition from faces, 25 points; positive class female, thresholds
    # chosen on UTKFace validation. Smoke thresholds only check the pipeline (measured at smoke, 256 training
    # faces, 2 epochs; 128 test / 96 FairFace: baseline test AUC 0.752, accuracy 0.703; improved AUC 0.777;
    # Lite0 transfer AUC 0.874; improved - baseline AUC +0.025; best FairFace accuracy 0.625). Standard
    # thresholds sit below the committed standard run (3 seeds, all 16,592 training faces, 4 epochs, 3,556 val /
    # 3,556 test / 540 FairFace; Intel Xeon AMX bf16, 2 threads; Lite0 transfer on an AMD EPYC AVX-512 bf16):
    # baseline test AUC 0.953 ± 0.004, accuracy 0.882; improved AUC 0.975 ± 0.001; improved - baseline AUC
    # +0.022 (seeds 0.018-0.024); Lite0 transfer AUC 0.945, accuracy 0.875; best FairFace accuracy 0.757 ± 0.009.
    # The issue's goals (0.94 accuracy, AUC 0.98, FairFace 0.90) are reported, not asserted here.
    Row("seed 003: the baseline CNN of Fig. 1 (layer list; parameter count = formula)", "faces.gender_baseline",
        "param_formula_ok", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 2),
    Row("seed 003: baseline analysed: curves, ROC with AUC, confusion matrices (UTKFace test AUC)",
        "faces.gender_baseline", "test_auc", {"smoke": 0.55, "standard": 0.94}, 4),
    Row("seed 003: baseline measures: accuracy, sensitivity, specificity, F1 (UTKFace test accuracy)",
        "faces.gender_baseline", "test_accuracy", {"smoke": 0.55, "standard": 0.865}, 2),
    Row("seed 003: improved CNN (layers, hyperparameters, augmentation): UTKFace test AUC", "faces.gender_improved",
        "test_auc", {"smoke": 0.55, "standard": 0.965}, 3),
    Row("seed 003: improved vs baseline by ROC/AUC on the same test images (paired AUC difference)",
        "faces.gender_compare", "improved_minus_baseline/test_auc", {"smoke": -0.5, "standard": 0.01}, 3),
    Row("seed 003: transfer learning, frozen pretrained trunk + own FC layers (UTKFace test AUC)",
        "faces.gender_transfer", "test_auc", {"smoke": 0.65, "standard": 0.935}, 4),
    Row("seed 003: transfer learning: UTKFace test accuracy", "faces.gender_transfer", "test_accuracy",
        {"smoke": 0.6, "standard": 0.86}, 2),
    Row("seed 003: test set from a different dataset: the best model (by validation AUC) on FairFace (accuracy)",
        "faces.gender_compare", "best/fairface_accuracy", {"smoke": 0.5, "standard": 0.72}, 4),
    Row("seed 003: every FairFace image of the budget scored by all three models", "faces.gender_compare",
        "fairface_images", {"smoke": 96, "standard": 540, "full": 540}, 1),
    # from-scratch NumPy MLP (seed questions: forward 8, backward 12, loss 1, study 15)
    Row("NumPy MLP forward pass: agrees with a torch float64 twin (max |diff|)", "numpy_nn.gradcheck",
        "torch_forward_max_abs_diff", {"smoke": 1e-10, "standard": 1e-10, "full": 1e-10}, 8, higher_is_better=False),
    Row("NumPy MLP backward pass: centred differences, smooth activations (max rel. error)", "numpy_nn.gradcheck",
        "max_rel_error_smooth", {"smoke": 1e-7, "standard": 1e-7, "full": 1e-7}, 6, higher_is_better=False),
    Row("NumPy MLP backward pass: centred differences, ReLU family away from kinks (max rel. error)",
        "numpy_nn.gradcheck", "max_rel_error_relu_family", {"smoke": 1e-6, "standard": 1e-6, "full": 1e-6}, 3,
        higher_is_better=False),
    Row("NumPy MLP backward pass: parameter gradients agree with the torch twin (max |diff|)", "numpy_nn.gradcheck",
        "torch_grad_max_abs_diff", {"smoke": 1e-10, "standard": 1e-10, "full": 1e-10}, 3, higher_is_better=False),
    Row("NumPy softmax cross-entropy: hand-computed cases (max |diff|)", "numpy_nn.gradcheck",
        "loss_hand_max_abs_diff", {"smoke": 1e-12, "standard": 1e-12, "full": 1e-12}, 1, higher_is_better=False),
    Row("NumPy MLP study: layers x dropout x activation, best cell (validation accuracy)",
        "fashion.numpy_mlp_study", "best_cell/val_accuracy", {"smoke": 0.30, "standard": 0.86, "full": 0.88}, 5),
    Row("NumPy MLP, chosen configuration, whole training split (test accuracy)", "fashion.numpy_mlp",
        "test_accuracy", {"smoke": 0.70, "standard": 0.900, "full": 0.900}, 8),
    Row("NumPy MLP training time, whole training split (seconds, goal <= 60 on 2 cores)", "fashion.numpy_mlp",
        "train_seconds", {"standard": 60.0}, 2, higher_is_better=False),
    # sine-wave forecasting (seed 000's RNN question)
    Row("seed 000: an LSTM learns the sine wave (one-step test MSE, noiseless wave)", "sine.lstm", "test_mse",
        {"smoke": 0.02, "standard": 1e-4, "full": 1e-4}, 4, higher_is_better=False),
    Row("seed 000: a GRU learns the sine wave (one-step test MSE, noiseless wave)", "sine.gru", "test_mse",
        {"smoke": 0.02, "standard": 1e-4, "full": 1e-4}, 4, higher_is_better=False),
    Row("seed 000: the LSTM's autoregressive rollout stays on the wave (rollout MSE; 1000 steps at standard)",
        "sine.lstm", "rollout_mse", {"smoke": 0.2, "standard": 1e-3, "full": 1e-3}, 2, higher_is_better=False),
    Row("seed 000: parameters of each layer calculated by formula equal torch's count", "sine.compare",
        "param_formula_ok", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 3),
    Row("seed 000: comparison with the MLP on the same windows (MLP one-step test MSE)", "sine.compare",
        "mlp/test_mse", {"smoke": 0.02, "standard": 1e-4, "full": 1e-4}, 2, higher_is_better=False),
    Row("seed 004: EDA pixel mean/std measured = published 0.2860/0.3530 (max abs error)", "fashion.eda",
        "pixel_stats_error_vs_published", {"smoke": 5e-4, "standard": 5e-4, "full": 5e-4}, 1, higher_is_better=False),
    Row("seed 004: EDA class balance computed per split (official train balanced)", "fashion.eda",
        "official_train_balanced", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 1),
    Row("seed 004: EDA edge+texture features (Sobel/Canny, LBP/GLCM): linear-probe test accuracy", "fashion.eda",
        "probe_edges_texture_accuracy", {"smoke": 0.65, "standard": 0.72, "full": 0.72}, 2),
    Row("seed 004: vanishing gradients measured (sigmoid, log10 first/last-hidden grad norm at init)",
        "fashion.theory_vanishing", "sigmoid_xavier/log10_grad_ratio_init",
        {"smoke": -2.0, "standard": -6.0, "full": -6.0}, 1, higher_is_better=False),
    Row("seed 004: exploding gradients measured (log10 first-layer grad, gain 1.5 over He init)",
        "fashion.theory_exploding", "log10_first_layer_grad_large_over_he",
        {"smoke": 0.8, "standard": 2.5, "full": 2.5}, 1),
    Row("seed 004: attention over CNN embeddings: test accuracy of the attention-weighted vote",
        "fashion.attention", "identity/accuracy", {"smoke": 0.2, "standard": 0.75, "full": 0.80}, 2),
    Row("seed 004: attention vs uniform averaging (accuracy gain)", "fashion.attention", "gain_over_uniform",
        {"smoke": 0.1, "standard": 0.6, "full": 0.6}, 1),
)
GATE = 1.0  # fraction of the rubric's points needed; every row must pass by default


# Records written by a benchmark rather than by a registered experiment, and what each needs besides code
# (a dataset name, or "chromium" for the browser): a row whose record is absent because one is missing
# is `not run` outside CI, like a registered experiment's.
BENCHMARK_RECORDS: dict[str, tuple[str, ...]] = {"web.page": ("ip102", "chromium"), "web.load": ("ip102",),
                                                  "imagenet.speed": ()}
CHROMIUM_HOW = ("not a dataset: a browser. apt-get install chromium (Debian's package, driven by the web extra's "
                "Playwright; never `playwright install`)")


DAMAGED = "damaged record"  # a row's status when its record is damaged: out of the gate outside CI, a failure under CI


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
                             "missing_datasets": {}}
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
            out.update(budget=rec["budget"], threshold=threshold)
            if threshold is None:
                out["status"] = "not graded at this budget"  # e.g. a time goal that only the standard run has
            elif metric is None or metric["mean"] is None:
                out["status"] = "metric missing"
            else:
                value = metric["mean"]
                ok = value >= threshold if row.higher_is_better else value <= threshold
                out.update(value=value, status="pass" if ok else "fail", earned=row.points if ok else 0.0)
        rows.append(out)
    return rows


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
    counted = [r for r in rows if r["status"] != "not graded at this budget" and not r["status"].startswith("not run")
               and (ci or not r["status"].startswith(DAMAGED))]  # outside CI a damaged record leaves the gate
    total = sum(r["points"] for r in counted)
    earned = sum(r["earned"] for r in rows)
    fraction = earned / total if total else 0.0
    missing = {n: how for r in rows for n, how in r["missing_datasets"].items()}
    summary = {"earned": earned, "total": total, "fraction": fraction, "gate": gate,
               "passed": fraction >= gate - 1e-12 and not (ci and damaged), "ci": ci, "damaged": damaged,
               "not_run": sum(r["status"].startswith("not run") for r in rows),
               "missing_datasets": dict(sorted(missing.items())), "rows": rows}
    out_dir = results_dir if out_dir is None else Path(out_dir)  # `make test` grades results/ into build/
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "grades.json", json.dumps(summary, indent=1) + "\n")
    atomic_write_text(out_dir / "grades.md", render(summary))
    return summary


def render(summary: dict) -> str:
    table = markdown_table(
        ["question", "experiment", "metric", "budget", "value", "threshold", "points", "status"],
        [[r["question"], r["experiment"], f"`{r['metric']}`", r["budget"] or "-",
          fmt_number(r["value"]) if r["value"] is not None else "-",
          (">= " if r["higher_is_better"] else "<= ") + f"{r['threshold']}" if r["threshold"] is not None else "-",
          f"{r['earned']:g}/{r['points']:g}", r["status"]] for r in summary["rows"]],
    )
    verdict = "PASS" if summary["passed"] else "FAIL"
    headline = (f"**{summary['earned']:g} / {summary['total']:g} points "
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
    return f"# Grades\n\n{headline}\n\n{table}\n"
