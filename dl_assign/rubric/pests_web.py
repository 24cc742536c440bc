"""Rubric rows: seed 000 questions 3a and 3b: pests (custom CNN, transfer, the curve) and the web app."""

from dl_assign.rubric.core import IP102_PAPER, NOT_COMPARABLE, Row, seed

ROWS: tuple[Row, ...] = (
    # pests.cnn_scratch measured at standard: 0.5333 +- 0.0086 (Intel Xeon AMX; seeds 0.541, 0.524, 0.534;
    # earlier on a Zen 5 EPYC 0.5262 +- 0.0105; 24-192 net, flips only, 20 epochs, chosen by pests.cnn_study
    # on val; the old recipe measured 0.405); full not measured yet, held to the standard mark
    Row("seed 000 3a: the custom CNN from scratch on pests14, the model transfer learning is compared with",
        "pests.cnn_scratch", "test_accuracy", {"smoke": 0.10, "standard": 0.50, "full": 0.50}, 5,
        expectation_source=seed("000 3a", "compare with 'your best custom model'; no number")),
    # seed 000 question 3a (issue 11): transfer learning on the IP102-layout pest set, 20 points. Standard
    # thresholds sit below the committed standard runs (measured, 3 seeds, 2-core Intel Xeon AMX: Lite0 0.7567
    # ± 0.0054, MobileNetV2 0.7181 ± 0.0054; Zen 5 EPYC earlier: 0.7595, 0.7114: the goal of 0.85 is
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
    # 0.744 with flips). The guard sits below the pick; the 0.85 is not met.
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
    # p95 80-103 ms, RSS +0.2%. The p95 goal is the (MobileNetV2, 4 clients, 2 cores), standard only.
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
    # smoke model make a noisy p95; the 2x is gated at standard.
    Row("seed 000 3b: decode cost: normal p95 beside 4 clients sending maximum images (x p95 alone, <= 2)",
        "web.decode_cost", "p95_slowdown", {"smoke": 3.0, "standard": 2.0, "full": 2.0}, 1, higher_is_better=False,
        expectation_source=seed("000 3b", "no number: the seed asks for no attack test (issue 27's goal, 2x)")),
    Row("seed 000 3b: decode cost: errors of any kind among the normal requests",
        "web.decode_cost", "errors", {"smoke": 0, "standard": 0, "full": 0}, 1, higher_is_better=False,
        expectation_source=seed("000 3b", "no number: the seed asks for no attack test (issue 27)")),
)
