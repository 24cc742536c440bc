# ruff: noqa: E501  (a spec table of prose: long placeholder strings read better unbroken)
"""Module 4 (seed 002): the Tiny-ImageNet-100 CNN study and occlusion sensitivity."""

from __future__ import annotations

from dl_assign.reports.assignments.spec import LIT_MINI, LIT_TINY, Assignment, Question, Substitution

STUDY = "imagenet.cnn_study"
MODULE4 = Assignment(
    "module4", "Module 4: a CNN study on Tiny-ImageNet-100 and occlusion sensitivity", "002_a9675b85dca789f6.txt",
    (
        Question("A.1 / A.2 / A.3 / A.4 / A.5 / A.6. The study: conv layers, fc layers, filters, max pooling, epochs, stride",
                 "You should experiment with the following network parameters:",
                 (STUDY,), items=("A.1", "A.2", "A.3", "A.4", "A.5", "A.6"),
                 answer="One base CNN and one cell per change, all on the same Tiny-ImageNet-100 subset "
                        "([[cfg:imagenet.cnn_study:train_per_class]] training images per class, scored on validation, "
                        "[[cfg:imagenet.cnn_study:epochs]] epochs), three seeds each; every comparison below is against "
                        "the base ([[imagenet.cnn_study:base/val_top1]] top-1). "
                        "**A.1 conv layers:** fewer layers lose ([[welch:imagenet.cnn_study:conv2/val_top1:imagenet.cnn_study:base/val_top1]]) "
                        "and so do more at this budget ([[welch:imagenet.cnn_study:conv8/val_top1:imagenet.cnn_study:base/val_top1]]); "
                        "with twice the epochs the deeper net recovers part of the gap but still trails the base at "
                        "the same length ([[welch:imagenet.cnn_study:conv8_long/val_top1:imagenet.cnn_study:epochs_double/val_top1]]). "
                        "**A.2 fc layers:** extra hidden fc layers hurt ([[welch:imagenet.cnn_study:fc2/val_top1:imagenet.cnn_study:base/val_top1]]; "
                        "three: [[imagenet.cnn_study:fc3/val_top1]]): with so few images per class they overfit. "
                        "**A.3 filters:** half the filters lose ([[welch:imagenet.cnn_study:filters_half/val_top1:imagenet.cnn_study:base/val_top1]]), "
                        "double the filters tie ([[welch:imagenet.cnn_study:filters_double/val_top1:imagenet.cnn_study:base/val_top1]]) "
                        "at [[imagenet.cnn_study:filters_double/mflop_per_image:mean]] MFLOP per image against "
                        "[[imagenet.cnn_study:base/mflop_per_image:mean]]. **A.4 max pooling:** pooling after the first two "
                        "stages only is the best pooling cell ([[welch:imagenet.cnn_study:pool12/val_top1:imagenet.cnn_study:base/val_top1]]); "
                        "no pooling at all: [[welch:imagenet.cnn_study:nopool/val_top1:imagenet.cnn_study:base/val_top1]]. "
                        "**A.5 epochs:** the strongest factor: twice the epochs "
                        "[[welch:imagenet.cnn_study:epochs_double/val_top1:imagenet.cnn_study:base/val_top1]], half "
                        "[[welch:imagenet.cnn_study:epochs_half/val_top1:imagenet.cnn_study:base/val_top1]]: every "
                        "cell is under-trained. **A.6 stride:** a first convolution of stride one "
                        "[[welch:imagenet.cnn_study:stride1/val_top1:imagenet.cnn_study:base/val_top1]] at "
                        "[[imagenet.cnn_study:stride1/mflop_per_image:mean]] MFLOP per image.",
                 figures=("imagenet.cnn_study.factors.png",)),
        Question("A (table). Accuracy as a function of the parameters, and the final model",
                 "present the results of such a study in the form of a table",
                 (STUDY, "imagenet.cnn_best", "imagenet.cnn_best_depth"), items=("A (table)",),
                 answer="The table of every cell is below (validation top-1 and top-5, mean ± std over seeds). "
                        "The final model trains on all [[ds:imagenet.cnn_best:sizes.train]] training images for "
                        "[[cfg:imagenet.cnn_best:epochs]] epochs and reaches test top-1 [[imagenet.cnn_best:test_accuracy]] "
                        "(top-5 [[imagenet.cnn_best:test_top5]]). **It deviates from the study:** it uses "
                        "[[cfg:imagenet.cnn_best:convs_per_stage]] convolutions per stage (eight in all) where the "
                        "study favoured four, and max pooling after every stage where pooling after the first two "
                        "stages was the best cell. The study ran on [[cfg:imagenet.cnn_study:train_per_class]] "
                        "images per class; the final model has about fifteen times more data, where a deeper net is "
                        "expected to overfit less. The departure is measured (`imagenet.cnn_best_depth`: the study's "
                        "pick, one convolution a stage with pooling after the first two stages, trained beside the "
                        "final recipe with the same seed and budget): [[ablation:imagenet.cnn_best_depth]]. The "
                        "deeper network costs [[imagenet.cnn_best_depth:final/mflop_per_image]] against "
                        "[[imagenet.cnn_best_depth:alternative/mflop_per_image]] MFLOP per image and "
                        "[[imagenet.cnn_best_depth:final/train_seconds]] against "
                        "[[imagenet.cnn_best_depth:alternative/train_seconds]] s of training; at the study's budget "
                        "the extra capacity could not be used, on every training image it pays. The study's "
                        "ranking of depth did not survive the change of budget; its other directions (train "
                        "longer, keep max pooling, one FC layer) were followed.",
                 table=(STUDY, ("val_top1", "val_top5", "conv_layers", "fc_layers", "epochs"))),
        Question("A (errors). Misclassified images",
                 "Also look at some of the images that are mis-classified",
                 ("imagenet.cnn_best",), items=("A (errors)",),
                 answer="Errors concentrate where the object is small (error rate [[imagenet.cnn_best:error_box_q1]] "
                        "in the smallest box-area quartile against [[imagenet.cnn_best:error_box_q3]] in the third) "
                        "and on greyscale images ([[imagenet.cnn_best:error_grey]] against "
                        "[[imagenet.cnn_best:error_colour]] for colour ones): at 64 px a small object is a few pixels, "
                        "and colour is a cue the model relies on. The most confused pairs are semantically close "
                        "(lakeside and seashore, altar and organ; the table is in the appendix), and errors fall on a "
                        "sibling class at [[imagenet.cnn_best:sibling_share]] against a chance of "
                        "[[imagenet.cnn_best:sibling_chance]].",
                 figures=("imagenet.cnn_best.gallery.png",)),
        Question("B.1 / B.2. Occlusion sensitivity",
                 "perform occlusion sensitivity experiment as follows",
                 ("imagenet.occlusion",), items=("B.1", "B.2"),
                 answer="A grey window slides over each of [[imagenet.occlusion:images_shown]] test images (and "
                        "[[imagenet.occlusion:images_scored]] scored), and the true-class probability is mapped. The "
                        "probability drops more when the window covers the object's box than elsewhere: the mean "
                        "ratio of the drop inside to outside the box is [[imagenet.occlusion:ratio_mean]] (median "
                        "[[imagenet.occlusion:ratio_median]]; above one means the object matters more than the "
                        "context), and [[imagenet.occlusion:object_share]] of the sensitivity mass lies on the object. "
                        "The ratio grows with the window ([[imagenet.occlusion:sweep_ratio_mean/8]] at the smallest, "
                        "[[imagenet.occlusion:sweep_ratio_mean/24]] at the largest): small windows hide too little of "
                        "a 64 px object to matter. The maps agree with captum's occlusion to "
                        "[[imagenet.occlusion:captum_max_abs_diff]]. Note: the occluded model is the study's "
                        "four-convolution recipe trained [[cfg:imagenet.occlusion:epochs]] epochs (test accuracy "
                        "[[imagenet.occlusion:model_test_accuracy]]), not the final eight-convolution model of Part A.",
                 figures=("imagenet.occlusion.maps.png", "imagenet.occlusion.sweep.png")),
    ),
    items=("A.1", "A.2", "A.3", "A.4", "A.5", "A.6", "A (table)", "A (errors)", "B.1", "B.2"),
    disclosure=(Substitution(
        "A, B", "mini-ImageNet (100 classes, 84 x 84 px)", "Tiny-ImageNet-100: 100 Tiny-ImageNet classes at 64 x 64 px",
        "mini-ImageNet is not available offline; Tiny-ImageNet is, and its 100-class subset matches the class count",
        "smaller images (64 against 84 px: about three fifths of the pixels) make small objects harder, so accuracies are "
        "expected to be lower than on mini-ImageNet; our models are trained from scratch, so no pretrained model "
        "saw these ImageNet-derived images", ("imagenet.cnn_study", "imagenet.cnn_best", "imagenet.occlusion")),),
    literature=(LIT_MINI, LIT_TINY),
)
