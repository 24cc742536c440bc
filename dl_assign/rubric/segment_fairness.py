"""Rubric rows: seed 000 questions 3c and 4: unsupervised segmentation, bias and fairness."""

from dl_assign.rubric.core import FOUR_FIFTHS, Row, seed

ROWS: tuple[Row, ...] = (
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
)
