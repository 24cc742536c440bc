# ruff: noqa: E501  (a spec table of prose: long placeholder strings read better unbroken)
"""Gender recognition (seed 003): baseline and improved CNNs, transfer learning, another test set."""

from __future__ import annotations

from dl_assign.reports.assignments.spec import (
    FACES_ETHICS,
    GENDER_REFS,
    LIT_SEED_GENDER,
    PRETRAINED_CAVEAT,
    Assignment,
    Question,
    Substitution,
)

GENDER = Assignment(
    "gender", "Gender recognition: baseline CNN, improved CNN, transfer learning, another test set",
    "003_c1888febe895b374.txt",
    (
        Question("Task 1. Environment and libraries",
                 "Create a virtual environment and install tensorflow, SciPy, matplotlib, keras, seaborn libraries.",
                 (), items=("Task 1",), written=True,
                 answer="One virtual environment (`make venv`, pinned in `constraints.txt`) with PyTorch instead of "
                        "TensorFlow/Keras (the seed allows \"the ones of your choice\"): one training loop serves "
                        "all five assignments."),
        Question("Task 2. Baseline CNN (Fig. 1)", "Implement the baseline CNN algorithm that is shown in Fig. 1.",
                 ("faces.gender_baseline",), items=("Task 2",),
                 why="The layer list of the seed's first figure, its parameter count checked against the formula.",
                 answer="Two convolutions of sixteen 3x3 filters with ReLU, each followed by a 2x2 max pool of "
                        "stride one as the seed specifies, a 64-unit fully connected layer and a sigmoid output, on "
                        "[[cfg:faces.gender_baseline:image_size]] px images; [[faces.gender_baseline:params]] "
                        "parameters (formula check [[faces.gender_baseline:param_formula_ok]]), "
                        "[[faces.gender_baseline:fc_share]] of them in the fully connected layer, because the "
                        "stride-one pools keep the feature map almost full size."),
        Question("Task 3. Baseline analysis: curves, ROC/AUC, confusion, measures",
                 "Report performance measures (accuracy, sensitivity, specificity and F1-score).",
                 ("faces.gender_baseline",), items=("Task 3",),
                 answer="Validation AUC [[faces.gender_baseline:val_auc]], test AUC [[faces.gender_baseline:test_auc]] "
                        "(interval [[faces.gender_baseline:test_auc_low]] to [[faces.gender_baseline:test_auc_high]]); "
                        "test accuracy [[faces.gender_baseline:test_accuracy]], sensitivity "
                        "[[faces.gender_baseline:test_sensitivity]], specificity [[faces.gender_baseline:test_specificity]], "
                        "F1 [[faces.gender_baseline:test_f1]] at the threshold chosen on validation. Train accuracy "
                        "[[faces.gender_baseline:train_accuracy]] against validation gives a gap of "
                        "[[faces.gender_baseline:train_val_gap]]: the large fully connected layer starts to memorise.",
                 figures=("faces.gender_baseline.curves.png", "faces.gender_baseline.roc.png",
                          "faces.gender_baseline.confusion.png")),
        Question("Task 4. Improved CNN", "Once you have a baseline model, adapt/fine-tune the network",
                 ("faces.gender_improved", "faces.gender_compare"), items=("Task 4",),
                 answer="More stages (widths [[cfg:faces.gender_improved:widths]]) with BatchNorm and real "
                        "downsampling, a small pooled head with dropout [[cfg:faces.gender_improved:dropout]], AdamW "
                        "with a cosine schedule, flips and crops. Test AUC [[faces.gender_improved:test_auc]], "
                        "accuracy [[faces.gender_improved:test_accuracy]], sensitivity "
                        "[[faces.gender_improved:test_sensitivity]], specificity "
                        "[[faces.gender_improved:test_specificity]], F1 [[faces.gender_improved:test_f1]]. Against the "
                        "baseline on the same test images: [[gpair:faces.gender_compare:improved:baseline:test]]. Why: "
                        "downsampling turns the baseline's huge fully connected layer into a small head over learned "
                        "features (less memorisation, gap [[faces.gender_improved:train_val_gap]]), and BatchNorm lets "
                        "the deeper net train in the same few epochs. Augmentation alone adds little at this budget "
                        "(validation AUC gain [[faces.gender_compare:improved/augment_gain_val_auc]]).",
                 figures=("faces.gender_improved.roc.png",)),
        Question("Task 5. Transfer learning", "train a new model using transfer learning.",
                 ("faces.gender_transfer", "faces.gender_compare", "faces.gender_embedding"), items=("Task 5",),
                 answer="A frozen ImageNet EfficientNet-Lite0 trunk (not VGG16: see the disclosure) with our fully "
                        "connected layers [[cfg:faces.gender_transfer:hidden]]. Test AUC [[faces.gender_transfer:test_auc]], "
                        "accuracy [[faces.gender_transfer:test_accuracy]]. Against the baseline: "
                        "[[gpair:faces.gender_compare:transfer:baseline:test]]; against the improved CNN: "
                        "[[gpair:faces.gender_compare:transfer:improved:test]]. Frozen ImageNet features are generic: "
                        "they are not tuned to faces, and the trained-from-scratch improved CNN beats them on UTKFace. "
                        "The ImageNet backbone may have seen face photos like these. "
                        "**A second transfer model: a face network as the trunk.** dlib's ResNet face descriptor "
                        "(frozen; trained by dlib's author to tell people apart, never on gender, and not on ImageNet: "
                        "see the disclosure) turns each face into 128 numbers, and a logistic regression reads gender "
                        "off them (regularisation C [[faces.gender_embedding:C]], chosen on validation AUC; threshold chosen on "
                        "validation). It is trained on all [[faces.gender_embedding:train_faces]] UTKFace training faces, the same rows as "
                        "the CNNs. Test AUC [[faces.gender_embedding:test_auc]] (interval [[faces.gender_embedding:test_auc_low]] to [[faces.gender_embedding:test_auc_high]]), "
                        "accuracy [[faces.gender_embedding:test_accuracy]], sensitivity [[faces.gender_embedding:test_sensitivity]], specificity "
                        "[[faces.gender_embedding:test_specificity]], F1 [[faces.gender_embedding:test_f1]]. Paired on the same test images, the embedding model minus "
                        "each seed of the improved CNN: [[seeds:faces.gender_embedding:vs_improved:test]]. So on UTKFace the face trunk and "
                        "our own CNN are a tie: neither is shown better. Minus each seed of the frozen "
                        "EfficientNet-Lite0 model: [[seeds:faces.gender_embedding:vs_transfer:test]]: a trunk trained on faces beats "
                        "one trained on ImageNet objects, as expected of features learnt for the very input. "
                        "Against the goals of issue 29 it still falls short: test accuracy "
                        "[[goal:faces.gender_embedding:test_accuracy:>=:0.94]], test AUC [[goal:faces.gender_embedding:test_auc:>=:0.98]].",
                 figures=("faces.gender_transfer.roc.png", "faces.gender_transfer.confusion.png",
                          "faces.gender_embedding.roc.png", "faces.gender_embedding.confusion.png")),
        Question("2.1. Data set: a test set from a different dataset",
                 "It is important to have a test set that is from a different dataset.",
                 ("faces.gender_compare", "faces.gender_embedding", "faces.scenes"), items=("2.1",),
                 answer="Trained and validated on UTKFace, tested again on FairFace images "
                        "([[faces.gender_compare:fairface_images]] of them). The best model (the improved CNN) drops "
                        "from [[faces.gender_compare:best/test_accuracy]] to [[faces.gender_compare:best/fairface_accuracy]] "
                        "(AUC [[faces.gender_compare:best/test_auc]] to [[faces.gender_compare:best/fairface_auc]]). "
                        "Part of the drop is age: [[faces.gender_compare:fairface_share_under20]] of the FairFace "
                        "images are of people under twenty, where accuracy is "
                        "[[faces.gender_compare:improved/fairface_accuracy_under20]] against "
                        "[[faces.gender_compare:improved/fairface_accuracy_20plus]] for the rest. On FairFace, improved "
                        "against baseline: [[gpair:faces.gender_compare:improved:baseline:fairface]]; transfer against "
                        "improved: [[gpair:faces.gender_compare:transfer:improved:fairface]]. "
                        "**The face-embedding model on FairFace:** accuracy [[faces.gender_embedding:fairface_accuracy]], AUC "
                        "[[faces.gender_embedding:fairface_auc]] (interval [[faces.gender_embedding:fairface_auc_low]] to [[faces.gender_embedding:fairface_auc_high]]). "
                        "The embedding model minus each seed of the improved CNN on the FairFace images: "
                        "[[seeds:faces.gender_embedding:vs_improved:fairface]]; so its ranking of faces (AUC) is better on every seed, "
                        "while a better accuracy at the chosen threshold is not shown. Minus the Lite0 model: "
                        "[[seeds:faces.gender_embedding:vs_transfer:fairface]]. **Adults and under-20s apart:** on the "
                        "[[faces.gender_embedding:fairface_adult_n]] FairFace images of people twenty and over the embedding model's "
                        "accuracy is [[faces.gender_embedding:fairface_adult_accuracy]] (AUC [[faces.gender_embedding:fairface_adult_auc]], interval "
                        "[[faces.gender_embedding:fairface_adult_auc_low]] to [[faces.gender_embedding:fairface_adult_auc_high]]), on the "
                        "[[faces.gender_embedding:fairface_under20_n]] under twenty [[faces.gender_embedding:fairface_under20_accuracy]] (AUC "
                        "[[faces.gender_embedding:fairface_under20_auc]], interval [[faces.gender_embedding:fairface_under20_auc_low]] to "
                        "[[faces.gender_embedding:fairface_under20_auc_high]]). Why: children's faces carry weak gender cues (no "
                        "beards, hairstyles and face shapes that differ less between boys and girls, faces that change "
                        "fast with age) and UTKFace has few children to learn from; the same model on UTKFace's own "
                        "test children scores [[faces.gender_embedding:test_accuracy_age/0-9]] for ages 0-9 against "
                        "[[faces.gender_embedding:test_accuracy_age/20-39]] for ages 20-39. The adult goal of issue 29: "
                        "[[goal:faces.gender_embedding:fairface_adult_accuracy:>=:0.9]]. "
                        "**Uncropped pictures (scenes).** The models are trained on face crops, but a photo is not a "
                        "crop. The scenes test pastes the UTKFace test faces into Tiny-ImageNet backgrounds "
                        "([[cfg:faces.scenes:n_scenes]] synthetic composites at [[cfg:faces.scenes:scene_size]] px; "
                        "see the disclosure) and scores each stored model in three columns: the face's own crop, the "
                        "scene through the face front end (detect, crop by the training rule, classify; the front end "
                        "found the pasted face as the largest face in [[faces.scenes:front_end_hit_rate]] of the "
                        "scenes), and the whole scene squeezed to the model's input with no front end. Improved CNN: "
                        "crops [[faces.scenes:improved_cnn/crops_accuracy]], front end "
                        "[[faces.scenes:improved_cnn/front_end_accuracy]], no front end "
                        "[[faces.scenes:improved_cnn/no_front_end_accuracy]]; face-embedding model: crops "
                        "[[faces.scenes:embedding/crops_accuracy]], front end [[faces.scenes:embedding/front_end_accuracy]], "
                        "no front end [[faces.scenes:embedding/no_front_end_accuracy]]. Without the front end both are "
                        "near chance (AUC [[faces.scenes:improved_cnn/no_front_end_auc]] and "
                        "[[faces.scenes:embedding/no_front_end_auc]]). The goal of issue 29 is the front-end column "
                        "within two points of the crops (a gap of at most 0.02 in accuracy): the embedding model's gap "
                        "is [[goal:faces.scenes:embedding/front_end_gap:<=:0.02]], the improved CNN's "
                        "[[goal:faces.scenes:improved_cnn/front_end_gap:<=:0.02]] (a likely reason, not tested "
                        "here: the CNN is trained on UTKFace's own crops, so a detector's box that differs a little "
                        "from that crop costs it more, while the embedding path aligns every face on landmarks first). The same three "
                        "columns on FairFace's own photos (the table's `fairface` rows; the fixed crop is the rule "
                        "behind the CNNs' FairFace numbers above): improved CNN fixed crop "
                        "[[faces.scenes:improved_cnn/fairface/crop_accuracy]], front end "
                        "[[faces.scenes:improved_cnn/fairface/front_end_accuracy]], no front end "
                        "[[faces.scenes:improved_cnn/fairface/no_front_end_accuracy]]; face-embedding model "
                        "[[faces.scenes:embedding/fairface/crop_accuracy]], "
                        "[[faces.scenes:embedding/fairface/front_end_accuracy]] and "
                        "[[faces.scenes:embedding/fairface/no_front_end_accuracy]]. The Lite0 transfer model has no "
                        "stored model to score and is not in the table.",
                 figures=("faces.gender_compare.roc.png",),
                 table=("faces.scenes", ("crops_accuracy", "crop_accuracy", "front_end_accuracy",
                                         "no_front_end_accuracy", "front_end_gap"))),
        Question("3.1 (models). A summary of the models",
                 "A summary of your models (excluding the baseline model)",
                 ("faces.gender_improved", "faces.gender_transfer", "faces.gender_embedding"), items=("3.1 (models)",),
                 answer="The improved CNN's layer table (generated from the model) and the transfer model's "
                        "configuration are in the appendix; parameters: improved [[faces.gender_improved:params]], "
                        "transfer [[faces.gender_transfer:params_trainable]] trainable. The face-embedding model is "
                        "dlib's frozen descriptor with a logistic regression over its 128 numbers (one weight each and "
                        "a bias), regularisation C [[faces.gender_embedding:C]]."),
        Question("3.1 (experiments). Pre-processing, training, hyperparameters",
                 "A brief description of your experiments, including possible pre-processing steps",
                 ("faces.gender_baseline", "faces.gender_improved", "faces.gender_transfer", "faces.detectors"),
                 items=("3.1 (experiments)",),
                 answer="Faces are cropped by one fixed rule and resized to [[cfg:faces.gender_baseline:image_size]] px "
                        "([[cfg:faces.gender_transfer:image_size]] px for the pretrained trunk); "
                        "[[ds:faces.gender_baseline:sizes.train]] training, [[ds:faces.gender_baseline:sizes.val]] "
                        "validation and [[ds:faces.gender_baseline:sizes.test]] test images, the same for every "
                        "model. Baseline: Adam lr [[cfg:faces.gender_baseline:lr]], [[cfg:faces.gender_baseline:epochs]] "
                        "epochs, no augmentation. Improved: AdamW lr [[cfg:faces.gender_improved:lr]], weight decay "
                        "[[cfg:faces.gender_improved:weight_decay]], augmentation [[cfg:faces.gender_improved:augment]]. "
                        "Transfer: AdamW lr [[cfg:faces.gender_transfer:lr]], [[cfg:faces.gender_transfer:epochs]] "
                        "epochs on cached frozen features. Thresholds are chosen on validation. "
                        "**The face front end** (pre-processing for pictures that are not UTKFace crops: the web "
                        "page's uploads, the scenes of 2.1): a detector finds the face, the crop is cut by the rule "
                        "the models were trained on, and the crop is classified. Detectors compared on "
                        "[[faces.detectors:mtcnn/utkface_n]] images per set ([[cfg:faces.detectors:threads]] CPU thread, time of detection "
                        "alone): MTCNN finds a face on [[faces.detectors:mtcnn/utkface_detection_rate]] of the UTKFace crops, "
                        "[[faces.detectors:mtcnn/fairface_detection_rate]] of the FairFace images and "
                        "[[faces.detectors:mtcnn/scenes_detection_rate]] of the scenes (the pasted face as the largest in "
                        "[[faces.detectors:mtcnn/scenes_hit_rate]]) at [[faces.detectors:mtcnn/scenes_ms]] ms per scene; dlib's HOG detector "
                        "finds [[faces.detectors:dlib_hog/utkface_detection_rate]], [[faces.detectors:dlib_hog/fairface_detection_rate]] and "
                        "[[faces.detectors:dlib_hog/scenes_detection_rate]] (hit rate [[faces.detectors:dlib_hog/scenes_hit_rate]]) at "
                        "[[faces.detectors:dlib_hog/scenes_ms]] ms; dlib's CNN detector finds a face in every image it was given "
                        "but only [[faces.detectors:dlib_cnn/scenes_n]] per set were timed, at [[faces.detectors:dlib_cnn/scenes_ms]] ms per "
                        "scene. The rule (the highest scenes hit rate among detectors at most "
                        "[[cfg:faces.detectors:max_ms]] ms per scene) makes MTCNN the default. YuNet and OpenCV's Haar cascade "
                        "were not measured: their weights are not available offline (the record says why). The "
                        "face-embedding model boxes each face with dlib's HOG detector first and MTCNN where HOG "
                        "finds none (UTKFace test faces boxed by HOG [[faces.gender_embedding:box_dlib_hog/test]], by MTCNN "
                        "[[faces.gender_embedding:box_mtcnn/test]]; FairFace [[faces.gender_embedding:box_dlib_hog/fairface]] and "
                        "[[faces.gender_embedding:box_mtcnn/fairface]])."),
        Question("3.1 (literature). Our numbers and the literature [1]-[4]",
                 "A discussion of the performance of your solution and how it relates to the literature",
                 ("faces.gender_compare",), items=("3.1 (literature)",), literature=True,
                 answer="The table puts the seed's four references next to our best model. Only [3] states a number "
                        "we could check; [1], [2] and [4] are cited by title only, so their data and numbers are "
                        "marked as not stated. Our UTKFace test accuracy ([[faces.gender_compare:best/test_accuracy]]) "
                        "is above [3]'s Adience figure and our cross-dataset FairFace accuracy "
                        "([[faces.gender_compare:best/fairface_accuracy]]) below it, but neither comparison is like for "
                        "like: Adience is unconstrained photos scored by five-fold cross-validation, UTKFace is "
                        "cropped and more frontal, and FairFace is a different collection altogether. The nearest "
                        "analogue to [3]'s setting is our cross-dataset number, which suggests that unconstrained "
                        "images remain the hard case."),
        Question("3.1 (ethics). Ethics and limitations",
                 "A paragraph at the end of your report outlining the ethical concerns",
                 ("faces.gender_baseline", "faces.gender_improved", "faces.gender_transfer", "faces.gender_embedding"),
                 items=("3.1 (ethics)",), ethics=True,
                 answer="The face-embedding model, like the CNNs, errs unevenly (thresholded predictions on the "
                        "UTKFace test split, permutation tests): across race groups its accuracy differs by up to "
                        "[[faces.gender_embedding:fairness_race/accuracy_difference]] (p [[faces.gender_embedding:fairness_race/accuracy_difference_p]]) and "
                        "its disparate impact is [[faces.gender_embedding:fairness_race/disparate_impact]] (p "
                        "[[faces.gender_embedding:fairness_race/disparate_impact_p]]); across age groups the accuracy differs by "
                        "[[faces.gender_embedding:fairness_age/accuracy_difference]] (p [[faces.gender_embedding:fairness_age/accuracy_difference_p]]), "
                        "young children being the worst served. Its trunk was trained on other people's photos for "
                        "face identity, so it carries that collection's demographic balance, which we cannot inspect "
                        "(disclosure)."),
    ),
    ethics=FACES_ETHICS,
    group_metrics=("faces.gender_baseline", "faces.gender_improved", "faces.gender_transfer", "faces.gender_embedding"),
    items=("Task 1", "Task 2", "Task 3", "Task 4", "Task 5", "2.1", "3.1 (models)", "3.1 (experiments)",
           "3.1 (literature)", "3.1 (ethics)"),
    disclosure=(
        Substitution("2.1", "the seed's two Kaggle sets (gender-recognition-dataset for training and validation; "
                     "biggest-genderface-recognition-dataset as the test set)", "UTKFace (train, validation, test) and "
                     "FairFace-540 as the test set from another dataset",
                     "the Kaggle sets are not available offline", "different people, ages and capture conditions: "
                     "UTKFace covers all ages (children included), so accuracies are not directly comparable to "
                     "results on the seed's sets; the FairFace test has few images, so its intervals are wide",
                     ("faces.gender_baseline", "faces.gender_compare")),
        Substitution("Task 5", "VGG16 for feature extraction", "EfficientNet-Lite0 (ImageNet weights), frozen",
                     "VGG16 ImageNet weights are not available offline", "a smaller, more modern trunk than VGG16; "
                     + PRETRAINED_CAVEAT, ("faces.gender_transfer",)),
        Substitution("Task 5", "VGG16 for feature extraction (a second transfer model)",
                     "dlib's ResNet face descriptor (frozen, 128 numbers per face) with a logistic regression read-out",
                     "a network trained on faces is the strongest pretrained face trunk available offline here (the "
                     "face-recognition-models package ships its weights)",
                     "its trunk is not an ImageNet model: dlib's author trained it to tell people apart (face "
                     "recognition), never on gender, on faces gathered from public face datasets (FaceScrub, the VGG "
                     "face dataset) and images scraped from the web, by his own description of the model. Those "
                     "collections hold many web photos of people, and UTKFace's and FairFace's images also come from "
                     "the web, so the trunk may have seen some of these people or pictures (or near copies) before: "
                     "read its numbers as an upper estimate of what it would do on truly new faces",
                     ("faces.gender_embedding",)),
        Substitution("2.1", "ordinary uncropped photos of people (what the face front end is for)",
                     "synthetic scenes: UTKFace test faces pasted into Tiny-ImageNet validation backgrounds",
                     "no labelled uncropped photos are available offline; the composites can be rebuilt by anyone from one random seed",
                     "composites are easier than real photos (one pasted face, sharp paste edges, no real lighting or "
                     "occlusion; a background may hold another face), so the front-end numbers are an optimistic "
                     "estimate for real photos; the backgrounds come from ImageNet, which the pretrained trunks may "
                     "have seen", ("faces.scenes",)),
    ),
    literature=(LIT_SEED_GENDER, *GENDER_REFS),
)
