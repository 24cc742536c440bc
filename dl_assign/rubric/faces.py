"""Rubric rows: seed 003: gender recognition, the face embedding, the scenes."""

from dl_assign.rubric.core import Row, seed

ROWS: tuple[Row, ...] = (
    # seed 003 (issue 14): binary gender recognition from faces, 25 points; positive class female, thresholds
    # chosen on UTKFace validation. Smoke thresholds only check the pipeline (measured at smoke, 256 training
    # faces, 2 epochs; 128 test / 96 FairFace: baseline test AUC 0.752, accuracy 0.703; improved AUC 0.777;
    # Lite0 transfer AUC 0.874; improved - baseline AUC +0.025; best FairFace accuracy 0.625). Standard
    # thresholds sit below the committed standard run (3 seeds, all 16,592 training faces, 4 epochs, 3,556 val /
    # 3,556 test / 540 FairFace; Intel Xeon AMX bf16, 2 threads; Lite0 transfer on an AMD EPYC AVX-512 bf16):
    # baseline test AUC 0.953 ± 0.004, accuracy 0.882; improved AUC 0.975 ± 0.001; improved - baseline AUC
    # +0.022 (seeds 0.018-0.024); Lite0 transfer AUC 0.945, accuracy 0.875; best FairFace accuracy 0.757 ± 0.009.
    # The goals (0.94 accuracy, AUC 0.98, FairFace 0.90) are reported, not asserted here.
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
)
