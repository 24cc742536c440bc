# ruff: noqa: E501  (a spec table of prose: long placeholder strings read better unbroken)
"""Assignment 3: the paper review, pests14 from scratch and by transfer, segmentation, faces fairness."""

from __future__ import annotations

from dl_assign.reports.assignments.spec import (
    FACES_ETHICS,
    LIT_IP102,
    LIT_RESNET,
    PRETRAINED_CAVEAT,
    SUB_BACKBONES,
    Assignment,
    Question,
    Substitution,
)

REVIEW = """\
**Paper chosen.** The seed asks for a paper "from the list of papers in Group 3", but the list is not part of the \
seed text we have, so we chose one the rest of this work depends on: He, Zhang, Ren and Sun, *Deep residual \
learning for image recognition* (CVPR 2016), the ResNet paper (ResNet-50 is trained in Homework 5, and the \
residual idea answers the vanishing-gradient question). This is our review, written for this report.

**Summary.** The paper starts from an observation: adding layers to a plain convolutional network makes its \
*training* error worse, which is not overfitting but an optimisation failure (the degradation problem). It \
proposes to let each block learn a residual F(x) and output F(x) + x through an identity shortcut, so a block \
that has nothing useful to add can stay close to the identity. With batch normalisation, bottleneck blocks \
(1x1, 3x3, 1x1 convolutions) and projection shortcuts only where shapes change, it trains networks far deeper \
than before on ImageNet and CIFAR-10; an ensemble won the ILSVRC 2015 classification task (the abstract's \
number is in the literature table below), and the features transfer to detection and segmentation.

**Strengths.** (1) A clear diagnosis before the remedy: plain and residual networks of equal depth and cost are \
compared, so the gain is attributable to the shortcuts. (2) The remedy is almost free: identity shortcuts add no \
parameters and little computation. (3) Broad evidence: two datasets, several depths, and downstream tasks. \
(4) The design became the default backbone of the field, which is the strongest evidence of its usefulness.

**Weaknesses.** (1) The explanation is empirical; why residual learning eases optimisation (gradient flow, \
ensembles of shallow paths, conditioning) is argued informally, not shown. (2) Results are mostly single runs \
without variance over seeds, so small differences between variants (shortcut types, depths) cannot be judged. \
(3) The deepest CIFAR model overfits and is reported as such but not analysed. (4) The comparison with other \
architectures mixes differences in training recipe with differences in design.

**What we would test.** (a) The degradation claim at small scale: plain against residual MLPs or CNNs of growing \
depth on Fashion-MNIST, with training error and per-layer gradient norms over seeds (our Homework 5 gradient \
experiments measure the plain side of this). (b) Whether BatchNorm alone closes most of the gap at moderate \
depth (our BatchNorm experiment shows a plain deep net failing to train without it). (c) Seeds: repeat the \
headline comparisons over several seeds and report intervals. (d) Budget: our ResNet-50 on a CPU budget stays \
below a small CNN (Homework 5, 2.1), so the benefit of depth depends on data and compute; we would measure \
the crossover."""

ASSIGNMENT3 = Assignment(
    "assignment3", "Assignment-3: RNNs, transfer learning, web app, segmentation, fairness",
    "000_6936b0710660fec7.txt",
    (
        Question("1. Paper review", "Paper Review – Select and review a technical paper", (), written=True,
                 items=("1",)),
        Question("2a. LSTM and GRU: the architecture", "Summarize the model architecture.",
                 ("sine.lstm", "sine.gru", "sine.mlp"), items=("2a",),
                 answer="Both read a window of [[cfg:sine.lstm:window]] past samples and predict the next one: one "
                        "recurrent layer of [[cfg:sine.lstm:hidden]] units and a linear read-out of the last hidden "
                        "state. The layer tables generated from the models are in the appendix.",
                 figures=("sine.compare.forecast.png",)),
        Question("2b. Hyperparameters and why", "Explain the hyperparameters used and the reason why they were used.",
                 ("sine.compare",), items=("2b",),
                 answer="AdamW at lr [[cfg:sine.lstm:lr]] with a cosine schedule, batch [[cfg:sine.lstm:batch_size]], "
                        "[[cfg:sine.lstm:epochs]] epochs, the best validation epoch restored. The reasons: the learning rate is the largest that kept the free-running rollout stable in the sweep (a larger "
                        "one: rollout MSE [[sine.compare:sweep/lstm/lr=0.03/rollout_mse]] against [[sine.compare:lstm/rollout_mse]]), "
                        "the batch is small because the series is short (many updates per epoch; a large batch: rollout "
                        "[[sine.compare:sweep/lstm/batch_size=512/rollout_mse]]), and the window covers more than one period. "
                        "The one-step test errors of the sweep are all tiny and mostly ties (fewer epochs against the chosen "
                        "run: [[welch:sine.compare:sweep/lstm/epochs=20/test_mse:sine.compare:lstm/test_mse]]; the large batch: "
                        "[[welch:sine.compare:sweep/lstm/batch_size=512/test_mse:sine.compare:lstm/test_mse]]), which is why the rollout decides.",
                 figures=("sine.compare.sweep.png",)),
        Question("2c. Parameters per layer", "Provide an explanation (calculation) of the number of parameters in each layer.",
                 ("sine.lstm", "sine.gru"), items=("2c",),
                 formulas="LSTM layer: 4 gates x (input x hidden + hidden x hidden + 2 x hidden biases)   (torch keeps\n"
                          "           two bias vectors per gate)\nGRU layer:  3 gates x (the same)\n"
                          "read-out:   hidden + 1",
                 answer="With one input feature and the hidden size above, the formula gives the LSTM "
                        "[[sine.lstm:params]] and the GRU [[sine.gru:params]] parameters, equal to the models' own "
                        "counts (formula check: [[sine.compare:param_formula_ok]]). The GRU has three gates to the "
                        "LSTM's four, hence three quarters of the recurrent parameters."),
        Question("2d. RNNs compared with the MLP", "Compare your RNN model with the MLP used earlier.",
                 ("sine.compare",), items=("2d",),
                 answer="One-step test MSE: LSTM [[sine.compare:lstm/test_mse]], GRU [[sine.compare:gru/test_mse]], MLP "
                        "[[sine.compare:mlp/test_mse]]; LSTM against MLP "
                        "[[welch:sine.compare:lstm/test_mse:sine.compare:mlp/test_mse]]. All three fit a clean sine "
                        "almost exactly. The test that separates them is the free-running rollout, feeding predictions "
                        "back: LSTM [[sine.compare:lstm/rollout_mse]], MLP [[sine.compare:mlp/rollout_mse]], GRU "
                        "[[sine.compare:gru/rollout_mse]]; the GRU's large mean and std come from one seed drifting "
                        "off, so its rollout is unreliable, not uniformly bad.",
                 figures=("sine.compare.rollout.png",)),
        Question("3a. Transfer learning on the pest images",
                 "Perform transfer learning using CNNs to classify the",
                 ("pests.cnn_study", "pests.cnn_scratch", "pests.transfer_effnet_lite0", "pests.transfer_mobilenet_v2",
                  "pests.transfer_compare", "pests.transfer_curve"), items=("3a",),
                 why="The custom CNN's recipe was chosen on validation by the study; both backbones train their "
                     "last blocks and a new head on the same splits, and the comparison is paired on the same test "
                     "images.",
                 answer="The data's own train/val/test split files are used. Two ImageNet-pretrained backbones "
                        "(EfficientNet-Lite0 and MobileNetV2, see the disclosure) are frozen except their last "
                        "blocks: Lite0 trains [[pests.transfer_effnet_lite0:params_trainable]] of "
                        "[[pests.transfer_effnet_lite0:params_total]] parameters. Test accuracy: Lite0 "
                        "[[pests.transfer_compare:effnet_lite0/test_accuracy]], MobileNetV2 "
                        "[[pests.transfer_compare:mobilenet_v2/test_accuracy]], our best custom CNN "
                        "[[pests.transfer_compare:custom_cnn/test_accuracy]]. Lite0 against the custom CNN: "
                        "[[paired:pests.transfer_compare:effnet_lite0_vs_custom_cnn]]; MobileNetV2 against it: "
                        "[[paired:pests.transfer_compare:mobilenet_v2_vs_custom_cnn]]; Lite0 against MobileNetV2: "
                        "[[paired:pests.transfer_compare:effnet_lite0_vs_mobilenet_v2]]. Macro-F1 follows accuracy "
                        "(Lite0 [[pests.transfer_compare:effnet_lite0/test_macro_f1]], custom "
                        "[[pests.transfer_compare:custom_cnn/test_macro_f1]]); calibration error (ECE) is lowest for "
                        "MobileNetV2 ([[pests.transfer_compare:mobilenet_v2/test_ece]]). The pretrained models may have "
                        "seen similar insect photos in ImageNet: their numbers are an upper estimate. "
                        "**How much to train, at which resolution (the transfer curve).** A second study varies the "
                        "number k of trainable last blocks (k = 0: a head on the pooled frozen features), the input "
                        "resolution and the backbone: [[cfg:pests.transfer_curve:points]] (backbone at pixels), k in "
                        "[[cfg:pests.transfer_curve:blocks]]. It trains on a smaller set than the comparison above "
                        "([[cfg:pests.transfer_curve:train_per_class]] training and [[cfg:pests.transfer_curve:val_per_class]] validation images per "
                        "class, [[cfg:pests.transfer_curve:train_views]] augmented views each, one seed), so its numbers are not that "
                        "comparison's. Every cell is in the table below; '+ flips' (`test_accuracy_flip_tta`) averages "
                        "the softmax of each test image and its mirror. The cell chosen on validation accuracy, before "
                        "looking at the test set, is [[art:pests.transfer_curve:best_cell]] (the table's `best` row): "
                        "validation [[pests.transfer_curve:best/val_accuracy]], test "
                        "[[pests.transfer_curve:best/test_accuracy]], with flips [[pests.transfer_curve:best/test_accuracy_flip_tta]]. The validation "
                        "set is small, so this choice is itself noisy; choosing by the test column instead would "
                        "report a number tuned on the test set. No paired test "
                        "between cells is stored and each cell is one seed, so no cell is claimed better than another "
                        "here; the record's own note puts the binomial standard error of one cell's test accuracy at "
                        "about 0.017. The goal set for this study: test accuracy [[goal:pests.transfer_curve:best/test_accuracy:>=:0.85]]; "
                        "with flips [[goal:pests.transfer_curve:best/test_accuracy_flip_tta:>=:0.85]]. **Leakage:** " + PRETRAINED_CAVEAT,
                 figures=("pests.transfer_compare.curves.png", "pests.transfer_compare.per_class_f1.png",
                          "pests.transfer_curve.curve.png"),
                 table=("pests.transfer_curve", ("test_accuracy", "test_accuracy_flip_tta", "val_accuracy", "train_accuracy"))),
        Question("3b. Web app", "Build a web application for users to upload test images and plot the predicted class.",
                 ("web.page", "web.load"), items=("3b",),
                 answer="A FastAPI app with a static page: upload an image, pick models and versions from a dropdown "
                        "([[web.page:dropdown_options]] options over [[web.page:dropdown_models]] models, matching the "
                        "store: [[web.page:dropdown_matches_store]]), and see the predicted classes as bars. A browser "
                        "test in Chromium checks the bars against the API (largest probability error "
                        "[[web.page:bar_prob_max_error_vs_api]]) and classified [[web.page:samples]] sample images "
                        "(accuracy [[web.page:sample_accuracy]]). Under load ([[web.load:clients]] clients, "
                        "[[web.load:requests]] requests) the 95th-percentile latency is [[web.load:p95_ms]] ms with "
                        "[[web.load:errors]] errors.",
                 figures=("web.page.png", "web.samples.png", "web.face.png")),
        Question("3c. Unsupervised segmentation", "Apply clustering algorithms (K-means or DBSCAN)",
                 ("segment.cnn_features",), items=("3c",),
                 answer="Feature maps of a CNN with its top removed are flattened per position and clustered; the "
                        "clusters colour the image. Against the object boxes the best CNN layer reaches IoU "
                        "[[segment.cnn_features:best_cnn/box_iou]] against [[segment.cnn_features:whole_image/box_iou]] "
                        "for predicting the whole image (gain [[segment.cnn_features:best_cnn_gain_over_whole_image/box_iou:mean]] "
                        "± [[segment.cnn_features:best_cnn_gain_over_whole_image/box_iou_sem:mean]] sem) and, on synthetic "
                        "mosaics with known segments, ARI [[segment.cnn_features:best_cnn/mosaic_ari]]. The "
                        "silhouette score is low ([[segment.cnn_features:best_cnn/silhouette]]): feature clusters are "
                        "not compact, yet they follow the objects; silhouette alone would undersell them. The ImageNet "
                        "backbone may have seen these Tiny-ImageNet pictures (they are ImageNet images).",
                 figures=("segment.cnn_features.gallery1.png", "segment.cnn_features.against_layer.png")),
        Question("4. Bias and fairness on FairFace", "Identify and analyze bias and fairness in deep learning models",
                 ("faces.fairness",), items=("4",), ethics=True,
                 answer="**What we analyse:** whether a gender classifier is equally accurate across race and age "
                        "groups, and whether re-balancing the training data by group reduces the gaps. **Model:** "
                        "a CNN of the gender assignment's improved family (widths [[cfg:faces.fairness:widths]], "
                        "[[faces.fairness:params]] parameters, trained on [[cfg:faces.fairness:train_limit]] UTKFace images): "
                        "small enough to train every variant on CPU, and its family is compared with other models in the gender report. "
                        "**Validation:** accuracy [[faces.fairness:erm/val_accuracy]], F1 [[faces.fairness:erm/val_f1]], "
                        "AUC [[faces.fairness:erm/val_auc]]. **Fairness on the test split** (race groups): disparate "
                        "impact [[faces.fairness:erm/test_race/disparate_impact]] (interval "
                        "[[faces.fairness:erm/test_race/disparate_impact_low]] to "
                        "[[faces.fairness:erm/test_race/disparate_impact_high]], permutation p "
                        "[[faces.fairness:erm/test_race/disparate_impact_p:mean]]; below the four-fifths rule), equal "
                        "opportunity difference [[faces.fairness:erm/test_race/equal_opportunity_difference]] (p "
                        "[[faces.fairness:erm/test_race/equal_opportunity_difference_p:mean]]). Group "
                        "accuracy ranges from [[faces.fairness:erm/test_race/group/Asian/accuracy]] (Asian) to "
                        "[[faces.fairness:erm/test_race/group/Indian/accuracy]] (Indian). Re-balancing changes the "
                        "accuracy by [[faces.fairness:mitigation/balanced/accuracy_change]] and the disparate impact "
                        "by [[faces.fairness:mitigation/balanced/disparate_impact_change]]. The full group table is "
                        "in the appendix.",
                 figures=("faces.fairness.groups_test_race.png", "faces.fairness.tradeoff.png")),
    ),
    ethics=FACES_ETHICS,
    group_metrics=("faces.fairness",),
    items=("1", "2a", "2b", "2c", "2d", "3a", "3b", "3c", "4"),
    disclosure=(
        Substitution("3a", "the IP102 dataset (102 pest classes)", "pests14: 14 IP102 classes with the data's own splits",
                     "only this 14-class subset of IP102 is available offline",
                     "14 classes instead of 102: chance is far higher and there are fewer look-alike classes, so "
                     "accuracies are not comparable to published IP102 results (which are for 102 classes)",
                     ("pests.cnn_scratch", "pests.transfer_compare", "pests.transfer_curve", "web.page")),
        SUB_BACKBONES,
        Substitution("4", "the FairFace dataset", "UTKFace for training and testing, FairFace (a 540-image "
                     "subset) as a second test set", "only this FairFace subset is available offline; UTKFace carries "
                     "race and age labels for the group analysis", "group metrics on UTKFace's groups; the FairFace "
                     "numbers rest on few images per group, so their intervals are wide", ("faces.fairness",)),
        Substitution("3c", "features of our best CNN", "an ImageNet-pretrained EfficientNet-Lite0 and our own CNN, "
                     "on Tiny-ImageNet images", "box annotations to score the segments exist for Tiny-ImageNet",
                     PRETRAINED_CAVEAT, ("segment.cnn_features",)),
    ),
    literature=(LIT_IP102, LIT_RESNET),
    review=REVIEW,
)
