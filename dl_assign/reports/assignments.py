# ruff: noqa: E501  (a spec table of prose: long placeholder strings read better unbroken)
"""What each seed assignment asks for, item by item in the seed's own order, and which results answer it.

A spec table (fairlearn's habit): one :class:`Question` per numbered item (or run of items) of a seed,
naming the experiments whose ``results/<name>.json`` answer it and the answer's prose. The prose holds
no typed number: it names results with ``[[experiment:metric]]`` placeholders that
:mod:`dl_assign.reports.prose` fills in at render time. ``items`` lists the seed's own numbering
(``Assignment.items`` is the whole list, in the seed's order; ``tests/test_reports.py`` checks that
the report's headings follow it). Cited literature numbers live in :data:`LITERATURE`, each with its
source, and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Question:
    title: str  # the heading: the seed's item numbers, then a short name
    asks: str  # what the item asks, quoted from the seed (checked against the seed text)
    experiments: tuple[str, ...]  # results that answer it (in reading order)
    why: str = ""  # how the models were built and why (no numbers: those come from results/)
    written: bool = False  # answered in prose only: no result expected
    items: tuple[str, ...] = ()  # the seed's own numbers this heading answers, in the seed's order
    answer: str = ""  # the argued answer, with [[placeholders]] for every number
    figures: tuple[str, ...] = ()  # results/ figures shown with the answer
    formulas: str = ""  # a plain-text block of formulas (theory), shown next to the measurement
    ethics: bool = False  # the assignment's ethics paragraph and per-group summary go here
    literature: bool = False  # the assignment's literature table goes here
    table: tuple = ()  # (experiment, metric suffixes): a compact table of a study's cells


@dataclass(frozen=True)
class Substitution:
    """One line of a report's disclosure block: asked for, used, why, what it is expected to change."""

    part: str
    asked: str
    used: str
    why: str
    effect: str  # may hold [[placeholders]] and numbers cited in LITERATURE
    experiments: tuple[str, ...] = ()  # whose dataset block is quoted (name, stands_in_for, why)


@dataclass(frozen=True)
class Reference:
    key: str
    citation: str
    data: str
    model: str
    published: str  # the published number as the source states it, or "not stated in the seed"
    source: str  # where the number comes from


@dataclass(frozen=True)
class Assignment:
    name: str  # file name under results/reports/
    title: str
    seed: str  # the seed file in ../shared/seeds/
    questions: tuple[Question, ...]
    ethics: str = ""  # the ethics and limitations paragraph (face tasks)
    group_metrics: tuple[str, ...] = field(default=())  # experiments whose per-group rows back the ethics text
    items: tuple[str, ...] = ()  # every numbered item of the seed, in the seed's order
    disclosure: tuple[Substitution, ...] = ()
    literature: tuple[Reference, ...] = ()  # the literature comparison (gender: the seed's [1]-[4])
    review: str = ""  # a written paper review (Assignment-3 Q1)


LIT_IP102 = Reference(
    "IP102", "X. Wu, C. Zhan, Y.-K. Lai, M.-M. Cheng, J. Yang, \"IP102: A large-scale benchmark dataset for insect "
    "pest recognition\", CVPR 2019",
    "more than 75,000 field images of 102 pest classes, long-tailed", "hand-crafted features and CNN baselines",
    "the paper's baseline accuracies are for 102 classes; we quote none that we could not check offline",
    "the paper's abstract")
LIT_MINI = Reference(
    "mini-ImageNet", "O. Vinyals et al., \"Matching networks for one shot learning\", NeurIPS 2016 (the seed's [4] "
    "points to its tools)", "100 ImageNet classes, 600 images each, 84 x 84 px", "-", "-", "the dataset's definition")
LIT_TINY = Reference(
    "Tiny-ImageNet", "Stanford CS231n Tiny ImageNet", "200 ImageNet classes at 64 x 64 px; we use 100 of them",
    "-", "-", "the dataset's definition")
LIT_SEED_GENDER = Reference(
    "seed data", "the seed's section 2.1 (Kaggle gender-recognition-dataset; biggest-genderface-recognition-dataset)",
    "11135 training and 1279 validation images at 100 x 100 px; a test set of 27167 images from another collection",
    "-", "-", "the seed text")
LIT_RESNET = Reference(
    "ResNet", "K. He, X. Zhang, S. Ren, J. Sun, \"Deep residual learning for image recognition\", CVPR 2016",
    "ImageNet (ILSVRC), CIFAR-10", "residual networks up to 152 layers on ImageNet",
    "an ensemble of residual nets won ILSVRC 2015 classification with 3.57% top-5 test error", "the paper's abstract")

GENDER_REFS = (
    Reference("[1]", "Z. Xu, L. Lu, P. Shi, \"A hybrid approach to gender classification from face images\", ICPR 2008",
              "not stated in the seed", "appearance and geometric face features with a classical classifier "
              "(the title's 'hybrid')", "not stated in the seed", "the seed cites the title only"),
    Reference("[2]", "Z. Yang, M. Li, H. Ai, \"An experimental study on automatic face gender classification\", "
              "ICPR 2006", "not stated in the seed", "a comparison of classical classifiers (the title's "
              "'experimental study')", "not stated in the seed", "the seed cites the title only"),
    Reference("[3]", "G. Levi, T. Hassner, \"Age and gender classification using convolutional neural networks\", "
              "CVPR Workshops 2015", "Adience (unconstrained photos), five-fold cross-validation",
              "a small CNN (three conv, two fully connected layers) trained from scratch",
              "gender accuracy 86.8% with over-sampled crops, 85.9% single crop",
              "the paper's results table, as listed by Papers with Code"),
    Reference("[4]", "D. Yaman, F. I. Eyiokur, H. K. Ekenel, \"Multimodal age and gender classification using ear and "
              "profile face images\", CVPR Workshops 2019", "ear and profile-face images (the title)",
              "CNNs fusing the two modalities", "not stated in the seed", "the seed cites the title only"),
)
LITERATURE = (LIT_IP102, LIT_MINI, LIT_TINY, LIT_SEED_GENDER, LIT_RESNET, *GENDER_REFS)

PRETRAINED_CAVEAT = ("ImageNet-pretrained weights: ImageNet holds many insect, face and object photos, and "
                     "Tiny-ImageNet's images are drawn from ImageNet itself, so a pretrained model may have seen "
                     "these very pictures (or near copies) before its own training: read its numbers as an upper "
                     "estimate of what it would do on truly new images.")

SUB_FASHION = Substitution(
    "all", "Fashion-MNIST", "Fashion-MNIST (the Debian package's files, checksums verified)",
    "the seed's own dataset: no substitution", "none: the numbers are on the seed's data",
    ("fashion.eda",))
SUB_BACKBONES = Substitution(
    "models", "VGG16 or ResNet pretrained backbones", "EfficientNet-Lite0 and MobileNetV2 (ImageNet weights)",
    "VGG16 / ResNet ImageNet weights are not available offline on this machine; these two are",
    "lighter backbones than VGG16 (fewer parameters, lower ImageNet accuracy than the larger ResNets); transfer "
    "gains would likely be somewhat larger with a bigger backbone. " + PRETRAINED_CAVEAT)


FACES_ETHICS = (
    "Gender recognition from a face is a classification of a socially defined attribute from appearance. "
    "The labels here are binary and were assigned by the datasets' annotators, not by the people pictured; "
    "the models cannot represent anyone outside the two classes and say nothing about a person's gender "
    "identity. Errors are not spread evenly: the per-group accuracies (race and age groups of the "
    "UTKFace test split, measured on the same images for every model) show where the models fail more often, "
    "and the drop from UTKFace to FairFace shows how much a model depends on the collection it was trained on. "
    "A model like this should not be used to make decisions about people (access, surveillance, advertising "
    "targeting); if it is used at all, report per-group error rates with intervals beside the headline accuracy, "
    "and treat a cross-dataset test as the minimum check before any claim of generality. Limitations: the "
    "training sets are small subsets at the standard budget, face crops follow one fixed rule, and the group "
    "labels are themselves annotator estimates."
)

CS776 = Assignment(
    "cs776", "CS776: Fashion-MNIST MLP from scratch and CNN", "001_083a506c678af477.txt",
    (
        Question("1. Data: split and normalisation",
                 "Split the dataset into training, validation and testing sets.",
                 ("fashion.eda", "fashion.mlp"), items=("1",),
                 answer="Both official files are pooled and split stratified in the assignment's proportions with a "
                        "fixed split seed, so every model and seed is tested on the same images. The MLP runs "
                        "use split seed [[cfg:fashion.mlp:split_seed]]; the pixel mean over all images is "
                        "[[fashion.eda:pixel_mean_all]] and the std [[fashion.eda:pixel_std_all]] after scaling to "
                        "the unit interval, and the classes are exactly balanced (largest / smallest class count "
                        "[[fashion.eda:official_train_max_min_ratio]]), so accuracy is a fair headline metric.",
                 figures=("fashion.eda.class_distribution.png",)),
        Question("2a. Flatten the images", "Flatten the images into a single dimensional vector",
                 ("fashion.numpy_mlp",), items=("2a",),
                 answer="Each image becomes a vector of its pixels before the first layer (the NumPy MLP's "
                        "pre-processing module, `dl_assign/numpy_nn`); the flattened MLP reaches test accuracy "
                        "[[fashion.numpy_mlp:test_accuracy]]."),
        Question("2b. Pre-processing module", "Write a pre-processing module for all the images.",
                 ("fashion.eda",), items=("2b",),
                 answer="One function scales to the unit interval and flattens; the same module feeds the NumPy and "
                        "the torch models, so both see identical inputs. The EDA found "
                        "[[fashion.eda:near_blank_images]] near-blank and [[fashion.eda:saturated_images]] saturated "
                        "images and [[fashion.eda:dup_exact_cross]] exact train/test duplicates, so no cleaning step "
                        "is needed beyond scaling."),
        Question("2c. Forward pass from scratch", "Write the Forward pass from",
                 ("numpy_nn.gradcheck",), items=("2c",),
                 answer="Every layer's forward pass is NumPy code (affine, ReLU / Leaky-ReLU / Tanh / GELU, dropout, "
                        "softmax). Against a float64 torch twin the forward outputs differ by at most "
                        "[[numpy_nn.gradcheck:torch_forward_max_abs_diff]]."),
        Question("2d. Backward pass from scratch", "Write the Backward pass from",
                 ("numpy_nn.gradcheck",), items=("2d",),
                 answer="Every backward pass is derived by hand. The gradient check compares it with centred "
                        "differences (largest relative error on smooth activations "
                        "[[numpy_nn.gradcheck:max_rel_error_smooth]], on the ReLU family "
                        "[[numpy_nn.gradcheck:max_rel_error_relu_family]]) and with torch autograd (largest "
                        "gradient difference [[numpy_nn.gradcheck:torch_grad_max_abs_diff]])."),
        Question("2e. Cross-entropy loss", "Write the custom coded module for cross entropy loss",
                 ("numpy_nn.gradcheck",), items=("2e",),
                 answer="Softmax and cross-entropy are fused and computed with the log-sum-exp shift; the loss equals "
                        "a hand computation to [[numpy_nn.gradcheck:loss_hand_max_abs_diff]], is unchanged by a shift "
                        "of the logits ([[numpy_nn.gradcheck:loss_shift_max_abs_diff]]) and stays finite for very "
                        "large logits (check passed: [[numpy_nn.gradcheck:loss_finite_at_1e4]])."),
        Question("2f. MLP hyperparameters: layers, dropout, activation",
                 "Experiment with different hyperparameters like number of layers, dropout, activation functions",
                 ("fashion.numpy_mlp_study", "fashion.torch_mlp_sweep", "fashion.numpy_mlp", "fashion.theory_dropout"),
                 items=("2f",),
                 answer="The study trains every cell of layers x dropout x activation on the same split and seeds and "
                        "chooses on validation accuracy. Its best cell reaches validation "
                        "[[fashion.numpy_mlp_study:best_cell/val_accuracy]]; the top cells are within a seed's spread "
                        "of each other (GELU with two layers against GELU with three: "
                        "[[welch:fashion.numpy_mlp_study:gelu/depth2/drop0/val_accuracy:fashion.numpy_mlp_study:gelu/depth3/drop0/val_accuracy]]), "
                        "so the ranking among them is a tie. Dropout at the study's short budget cost accuracy "
                        "(GELU, two layers, with dropout against without: "
                        "[[welch:fashion.numpy_mlp_study:gelu/depth2/drop0.3/val_accuracy:fashion.numpy_mlp_study:gelu/depth2/drop0/val_accuracy]]). "
                        "**The final NumPy MLP deviates from the study:** it uses dropout "
                        "[[cfg:fashion.numpy_mlp:dropout]], hidden [[cfg:fashion.numpy_mlp:hidden]] and "
                        "[[cfg:fashion.numpy_mlp:epochs]] epochs on the whole training split, where the study "
                        "chose no dropout at [[cfg:fashion.numpy_mlp_study:epochs]] epochs on "
                        "[[cfg:fashion.numpy_mlp_study:train_limit]] images. The reason is the longer training: the "
                        "final run's train accuracy [[fashion.numpy_mlp:train_accuracy]] against test "
                        "[[fashion.numpy_mlp:test_accuracy]] shows the overfitting gap dropout is meant to close, "
                        "and the dropout experiment of Homework 5 measures that gap shrinking by "
                        "[[fashion.theory_dropout:gap_reduction]]. No run of the final recipe with dropout 0 exists "
                        "yet, so whether dropout helps the final accuracy is not measured here; the run that "
                        "settles it: `dl-assign run fashion.numpy_mlp --set dropout=0`. The torch sweep adds activations and batch sizes: at its budget the MLP reaches "
                        "[[fashion.torch_mlp_sweep:mlp/test_accuracy]].",
                 figures=("fashion.numpy_mlp_study.grid.png", "fashion.torch_mlp_sweep.epochs.png")),
        Question("3a. CNN with 5 conv layers: pooling methods",
                 "Build a small CNN model consisting of 5 convolution layers.",
                 ("fashion.cnn_pooling", "fashion.cnn"), items=("3a",),
                 answer="Five 3x3 convolutions, each followed by ReLU; only the pooling changes between cells. "
                        "Max pooling with a flatten neck is ahead of average pooling "
                        "([[welch:fashion.cnn_pooling:max pool + flatten/test_accuracy:fashion.cnn_pooling:avg pool + flatten/test_accuracy]]) "
                        "and of global average pooling after max pooling "
                        "([[welch:fashion.cnn_pooling:max pool + flatten/test_accuracy:fashion.cnn_pooling:max pool + GAP/test_accuracy]]): "
                        "at this small image size, where an item's outline is the cue, keeping the spatial layout to the "
                        "classifier matters more than translation invariance. The final CNN keeps max pooling and "
                        "reaches [[fashion.cnn:test_accuracy]].",
                 figures=("fashion.cnn_pooling.cells.png",)),
        Question("3b. Kernel size and number of filters",
                 "Experiment with different kernel size, number of kernel each layer",
                 ("fashion.cnn_kernels",), items=("3b",),
                 answer="Doubling the filters per layer with 3x3 kernels is the best cell "
                        "([[fashion.cnn_kernels:k3 doubling/test_accuracy]]); against the same kernels with a "
                        "constant width: [[welch:fashion.cnn_kernels:k3 doubling/test_accuracy:fashion.cnn_kernels:k3 constant/test_accuracy]]. "
                        "Larger kernels at doubling widths do not help (3x3 against 5x5: "
                        "[[welch:fashion.cnn_kernels:k3 doubling/test_accuracy:fashion.cnn_kernels:k5 doubling/test_accuracy]]) "
                        "while costing [[fashion.cnn_kernels:k5 doubling/mflop_per_image:mean]] against "
                        "[[fashion.cnn_kernels:k3 doubling/mflop_per_image:mean]] MFLOP per image: stacked small kernels "
                        "reach the same receptive field more cheaply.",
                 figures=("fashion.cnn_kernels.lines.png",)),
        Question("3c. Weight initialisation", "Try different weight initialization methods (random, Xavier, He)",
                 ("fashion.cnn_init",), items=("3c",),
                 answer="Without BatchNorm the initialisation decides whether the network trains at all. Small random "
                        "weights leave the fifth layer's activations at std [[fashion.cnn_init:normal(0, 0.01)/init_act_std_conv5]] "
                        "and the accuracy at chance ([[fashion.cnn_init:normal(0, 0.01)/test_accuracy]]); Xavier keeps "
                        "[[fashion.cnn_init:xavier/init_act_std_conv5]], He [[fashion.cnn_init:he/init_act_std_conv5]] "
                        "(He's doubled variance compensates ReLU zeroing half the inputs). He against Xavier: "
                        "[[welch:fashion.cnn_init:he/test_accuracy:fashion.cnn_init:xavier/test_accuracy]].",
                 figures=("fashion.cnn_init.layers.png",)),
        Question("3d. CNN features into the MLP of question 2",
                 "After extracting feature from CNN model use MLP for classification",
                 ("fashion.cnn_mlp",), items=("3d",),
                 answer="The from-scratch MLP on the CNN's features reaches [[fashion.cnn_mlp:mlp_on_features/test_accuracy]], "
                        "the CNN's own linear head [[fashion.cnn_mlp:cnn_head/test_accuracy]] "
                        "([[welch:fashion.cnn_mlp:mlp_on_features/test_accuracy:fashion.cnn_mlp:cnn_head/test_accuracy]]) "
                        "and the same MLP on raw pixels [[fashion.cnn_mlp:mlp_on_pixels/test_accuracy]] "
                        "([[welch:fashion.cnn_mlp:mlp_on_features/test_accuracy:fashion.cnn_mlp:mlp_on_pixels/test_accuracy]]): "
                        "the convolutional features carry the gain, the MLP head adds little over a linear one.",
                 figures=("fashion.cnn_mlp.cells.png",)),
        Question("4. Report: models, learning rates, epochs, metrics, how to run",
                 "Submit a report clearly explaining how you have built both the models",
                 ("fashion.numpy_mlp", "fashion.cnn", "fashion.numpy_vs_torch_speed"), items=("4",),
                 answer="The NumPy MLP: hidden [[cfg:fashion.numpy_mlp:hidden]], [[cfg:fashion.numpy_mlp:activation]], "
                        "Adam lr [[cfg:fashion.numpy_mlp:lr]], [[cfg:fashion.numpy_mlp:epochs]] epochs, test accuracy "
                        "[[fashion.numpy_mlp:test_accuracy]] (macro-F1 [[fashion.numpy_mlp:test_macro_f1]]). The CNN: "
                        "filters [[cfg:fashion.cnn:filters]], SGD lr [[cfg:fashion.cnn:lr]], "
                        "[[cfg:fashion.cnn:epochs]] epochs, test accuracy [[fashion.cnn:test_accuracy]] (macro-F1 "
                        "[[fashion.cnn:test_macro_f1]]). CNN against NumPy MLP: "
                        "[[welch:fashion.cnn:test_accuracy:fashion.numpy_mlp:test_accuracy]]. The NumPy training step "
                        "runs at [[fashion.numpy_vs_torch_speed:throughput_ratio]] times torch's throughput on this "
                        "CPU. Architectures (generated from the models), every hyperparameter and the commands are in "
                        "the appendix and under How to run.",
                 figures=("fashion.cnn.confusion.png",)),
    ),
    items=("1", "2a", "2b", "2c", "2d", "2e", "2f", "3a", "3b", "3c", "3d", "4"),
    disclosure=(SUB_FASHION,),
)


F_VANISH = """\
forward:   h_l = f(z_l),   z_l = W_l h_{l-1},   W_l ~ (0, s^2) with fan-in n
           Var(z_l) = n s^2 E[f(z_{l-1})^2]            (independent, zero-mean weights)
backward:  dL/dh_{l-1} = W_l^T (f'(z_l) * dL/dh_l)
           Var(dL/dh_{l-1}) ~ n s^2 E[f'(z)^2] Var(dL/dh_l)
over L layers the gradient is scaled by  prod_l n s^2 E[f'(z_l)^2]:
  factor < 1 per layer -> vanishing (sigmoid: f' <= 1/4),  factor > 1 -> exploding
fixes: keep the factor at 1 (Xavier s^2 = 1/n for tanh; He s^2 = 2/n for ReLU),
       normalise activations (BatchNorm), residual paths, gradient clipping for explosions"""

F_BN = """\
forward (per feature, batch B of m values x_i):
  mu = (1/m) sum_i x_i        var = (1/m) sum_i (x_i - mu)^2
  xhat_i = (x_i - mu) / sqrt(var + eps)        y_i = gamma * xhat_i + beta
  at test time mu, var are running averages collected in training
backward (g_i = dL/dy_i):
  dL/dgamma = sum_i g_i * xhat_i        dL/dbeta = sum_i g_i
  dL/dx_i = gamma / (m sqrt(var + eps)) * ( m g_i - sum_j g_j - xhat_i sum_j g_j xhat_j )
the two subtracted terms remove the gradient's mean and its component along xhat:
the layer's output scale no longer depends on the weights' scale, so gradients neither vanish nor explode
through it and larger learning rates stay stable"""

F_DROPOUT = """\
training:  r_i ~ Bernoulli(1 - p),   h~ = (r * h) / (1 - p)      (inverted dropout, keep prob 1 - p)
           E[h~] = h, so the next layer sees the same expected input in training and at test time
test:      h~ = h  (no mask, no rescale)
ensemble:  each mask r picks one of 2^n thinned sub-networks sharing weights; training samples
           one per step, and the test-time network with the rescaling approximates the geometric
           mean of all their predictions (exact for one linear-softmax layer)"""

F_ATTN = """\
Q = X W_Q,  K = X W_K,  V = X W_V            X: (n, d) embeddings, one row per image
A = softmax( Q K^T / sqrt(d_k) )             A: (n, n), each row sums to 1: the attention matrix
out = A V                                    row i = a weighted mean of the values, weights A[i, :]
the 1/sqrt(d_k) keeps the logits' variance near 1 when q, k have unit-variance entries
(the dot product of two d_k-vectors has variance d_k), so the softmax does not saturate"""

HW5 = Assignment(
    "hw5", "Homework 5: theory made measurable, ResNet-50, CNN, MLP vs CNN, EDA, attention",
    "004_8d83cfde88193daf.txt",
    (
        Question("1.1 Vanishing and exploding gradients",
                 "Describe vanishing and exploding gradients in neural networks.",
                 ("fashion.theory_vanishing", "fashion.theory_exploding"), items=("1.1",), formulas=F_VANISH,
                 answer="Backpropagation multiplies one factor per layer, so a factor persistently below or above one "
                        "shrinks or grows the gradient geometrically with depth. Measured on a deep MLP: with sigmoid "
                        "and Xavier initialisation the first layer's gradient is [[fashion.theory_vanishing:sigmoid_xavier/grad_norm_first_init]] "
                        "against [[fashion.theory_vanishing:sigmoid_xavier/grad_norm_last_hidden_init]] at the last "
                        "hidden layer (log10 ratio [[fashion.theory_vanishing:sigmoid_xavier/log10_grad_ratio_init]]), "
                        "and the network stays at chance ([[fashion.theory_vanishing:sigmoid_xavier/val_accuracy]]). "
                        "The fix the formula predicts, an activation and initialisation whose factor is one, works: "
                        "ReLU with He initialisation has log10 ratio [[fashion.theory_vanishing:relu_he/log10_grad_ratio_init]] "
                        "and trains to [[fashion.theory_vanishing:relu_he/val_accuracy]], tanh with Xavier to "
                        "[[fashion.theory_vanishing:tanh_xavier/val_accuracy]]. Exploding: initialising too large "
                        "gives a first-layer gradient [[fashion.theory_exploding:large/grad_norm_first_init]] and "
                        "divergence on every seed (diverged [[fashion.theory_exploding:large/diverged]]); clipping "
                        "the gradient norm rescues training to [[fashion.theory_exploding:large_clip/val_accuracy]], "
                        "still below the He initialisation ([[fashion.theory_exploding:he/val_accuracy]]; "
                        "[[welch:fashion.theory_exploding:he/val_accuracy:fashion.theory_exploding:large_clip/val_accuracy]]).",
                 figures=("fashion.theory_vanishing.grad_norms.png", "fashion.theory_exploding.grad_norms.png")),
        Question("1.2 Batch normalisation", "What is batch normalization?", ("fashion.theory_batchnorm",),
                 items=("1.2",), formulas=F_BN,
                 answer="The same deep network without and with BatchNorm: without, the first layer's gradient is "
                        "[[fashion.theory_batchnorm:plain/grad_norm_first_init]] and no learning rate of the sweep "
                        "trains it (learning rates that train: [[fashion.theory_batchnorm:plain/n_lrs_train]]); with "
                        "BatchNorm the gradient reaches the first layer ([[fashion.theory_batchnorm:bn/grad_norm_first_init]]) "
                        "and [[fashion.theory_batchnorm:bn/n_lrs_train]] learning rates train, from "
                        "[[fashion.theory_batchnorm:bn/lr_min_trains]] to [[fashion.theory_batchnorm:bn/lr_max_trains]]. "
                        "Validation accuracy with BatchNorm against without: "
                        "[[welch:fashion.theory_batchnorm:bn/val_accuracy:fashion.theory_batchnorm:plain/val_accuracy]]. "
                        "This is the backward formula at work: normalising removes the dependence of the gradient on "
                        "the weights' scale.",
                 figures=("fashion.theory_batchnorm.lr_sweep.png", "fashion.theory_batchnorm.grad_norms.png")),
        Question("1.3 Dropout", "What is dropout, and what is its benefit?", ("fashion.theory_dropout",),
                 items=("1.3",), formulas=F_DROPOUT,
                 answer="Dropout trains a random thinned network each step and averages them at test time through the "
                        "rescaling. Its benefit is regularisation: the same MLP reaches train accuracy "
                        "[[fashion.theory_dropout:no_dropout/train_accuracy]] without dropout and "
                        "[[fashion.theory_dropout:dropout/train_accuracy]] with it, the train-validation gap falls from "
                        "[[fashion.theory_dropout:no_dropout/gap]] to [[fashion.theory_dropout:dropout/gap]] and the "
                        "final validation loss from [[fashion.theory_dropout:no_dropout/val_loss]] to "
                        "[[fashion.theory_dropout:dropout/val_loss]]. The validation accuracy itself does not improve at "
                        "this budget ([[welch:fashion.theory_dropout:dropout/val_accuracy:fashion.theory_dropout:no_dropout/val_accuracy]]): "
                        "dropout reduces overfitting; whether that buys accuracy depends on how long one trains.",
                 figures=("fashion.theory_dropout.gap.png",)),
        Question("2.1 ResNet-50 on Fashion-MNIST", "Train with RESNET-50", ("fashion.resnet50", "fashion.cnn"),
                 items=("2.1",),
                 answer="torchvision's ResNet-50 with a one-channel stem that keeps the small images' resolution, from "
                        "scratch ([[fashion.resnet50:params]] parameters). At the standard budget (a "
                        "[[cfg:fashion.resnet50:train_limit]]-image subset, [[cfg:fashion.resnet50:epochs]] epochs on "
                        "CPU) it reaches [[fashion.resnet50:test_accuracy]], below the small CNN trained on the full "
                        "split ([[welch:fashion.cnn:test_accuracy:fashion.resnet50:test_accuracy]]; not like for like: "
                        "the CNN saw more data). A network this size needs far more images and epochs than the CPU "
                        "budget gives; the number is a budget-limited result, not ResNet-50's ceiling.",
                 figures=("fashion.resnet50.curves.png",)),
        Question("2.2.1 / 2.2.2 / 2.2.3 / 2.2.4. CNN: data, pre-processing, architecture, loss and optimiser",
                 "Design a simple CNN architecture consisting of convolutional layers, pooling layers, and fully connected layers.",
                 ("fashion.cnn",), items=("2.2.1", "2.2.2", "2.2.3", "2.2.4"),
                 answer="PyTorch; pixels scaled to the unit interval; a stratified split in the seed's proportions ([[ds:fashion.cnn:sizes]] images for training, "
                        "validation and test); five conv layers "
                        "(filters [[cfg:fashion.cnn:filters]], BatchNorm, max pooling) and a linear classifier for the "
                        "ten classes; cross-entropy with label smoothing [[cfg:fashion.cnn:label_smoothing]], SGD with "
                        "Nesterov momentum at lr [[cfg:fashion.cnn:lr]], accuracy and macro-F1 as metrics. The layer "
                        "table is in the appendix."),
        Question("2.2.5 / 2.2.6. CNN: training and evaluation", "Evaluate the trained model on the testing dataset.",
                 ("fashion.cnn",), items=("2.2.5", "2.2.6"),
                 answer="Trained [[cfg:fashion.cnn:epochs]] epochs with a cosine schedule, monitored on validation "
                        "([[fashion.cnn:val_accuracy]]). Test accuracy [[fashion.cnn:test_accuracy]], macro-F1 "
                        "[[fashion.cnn:test_macro_f1]], test loss [[fashion.cnn:test_loss]].",
                 figures=("fashion.cnn.curves.png", "fashion.cnn.confusion.png")),
        Question("2.2.7. CNN: predictions on test images", "Use the trained CNN to predict the classes of these images.",
                 ("fashion.cnn",), items=("2.2.7",),
                 answer="The gallery shows test images with the CNN's prediction and confidence, errors included.",
                 figures=("fashion.cnn.gallery.png",)),
        Question("2.2.8. CNN: discussion, challenges and improvements",
                 "Mention any challenges faced during training and potential improvements.",
                 ("fashion.cnn", "fashion.eda", "fashion.precision"), items=("2.2.8",),
                 answer="The hard classes are the upper-body garments (the confusion matrix: shirt, T-shirt, pullover, "
                        "coat), whose silhouettes overlap at this resolution; that is where further gains lie "
                        "(more capacity in later layers, longer training, mixing augmentations). Training speed was "
                        "the practical challenge on CPU: bf16 autocast is [[fashion.precision:bf16_speedup]] times "
                        "faster than float32 here. **Horizontal flips versus the EDA.** The EDA measures that a model "
                        "trained without flips loses [[fashion.eda:aug_hflip_drop_footwear]] accuracy on mirrored "
                        "footwear (garments only [[fashion.eda:aug_hflip_drop_garments]]), because all shoes face one "
                        "way. That measures a flip-naive model on flipped test images; the CNN instead trains with "
                        "flips (augment_flip = [[cfg:fashion.cnn:augment_flip]]), so it learns both orientations, and "
                        "averaging its prediction with the mirrored image's does not hurt: with flip TTA "
                        "[[fashion.cnn:test_accuracy]], without [[fashion.cnn:test_accuracy_no_tta]] "
                        "([[welch:fashion.cnn:test_accuracy:fashion.cnn:test_accuracy_no_tta]]). Whether training "
                        "without flips would be better is not measured; the run that settles it: "
                        "`dl-assign run fashion.cnn --set augment_flip=false`, against the committed run.",
                 figures=("fashion.eda.augmentations.png",)),
        Question("2.3.1 / 2.3.2 / 2.3.3 / 2.3.4. MLP: data, pre-processing, architecture, loss and optimiser",
                 "Design an MLP architecture with multiple hidden layers.",
                 ("fashion.mlp",), items=("2.3.1", "2.3.2", "2.3.3", "2.3.4"),
                 answer="The same split and scaling, images flattened; hidden layers [[cfg:fashion.mlp:hidden]] with "
                        "[[cfg:fashion.mlp:activation]] and dropout [[cfg:fashion.mlp:dropout]] (activations compared "
                        "in the sweep below), ten outputs; cross-entropy, AdamW lr [[cfg:fashion.mlp:lr]], accuracy "
                        "and macro-F1."),
        Question("2.3.5. MLP: training, epochs and batch sizes",
                 "Experiment with different training epochs and batch sizes.",
                 ("fashion.torch_mlp_sweep",), items=("2.3.5",),
                 answer="The sweep trains each activation at each batch size and reads the test accuracy at several "
                        "epochs. ReLU at the smallest against the largest batch after the last mark: "
                        "[[welch:fashion.torch_mlp_sweep:relu/bs64/epoch8/test_accuracy:fashion.torch_mlp_sweep:relu/bs1024/epoch8/test_accuracy]] "
                        "(more updates per epoch); ReLU against sigmoid at batch 64 "
                        "[[welch:fashion.torch_mlp_sweep:relu/bs64/epoch8/test_accuracy:fashion.torch_mlp_sweep:sigmoid/bs64/epoch8/test_accuracy]].",
                 figures=("fashion.torch_mlp_sweep.epochs.png", "fashion.torch_mlp_sweep.batch.png")),
        Question("2.3.6. MLP: evaluation", "Evaluate the trained MLP on the testing dataset.", ("fashion.mlp",),
                 items=("2.3.6",),
                 answer="Test accuracy [[fashion.mlp:test_accuracy]], macro-F1 [[fashion.mlp:test_macro_f1]], train "
                        "accuracy [[fashion.mlp:train_accuracy]].",
                 figures=("fashion.mlp.curves.png", "fashion.mlp.confusion.png")),
        Question("2.3.7. MLP: predictions on test images", "Use the trained MLP to predict the classes of these images.",
                 ("fashion.mlp",), items=("2.3.7",),
                 answer="The gallery shows 8 correctly and 8 wrongly predicted test images of seed 0's MLP, each with "
                        "its predicted class and softmax confidence (the run's note lists the mistakes and the mean "
                        "confidence of each group). In the committed standard run all 8 mistakes are among the upper-body "
                        "garments (shirt, coat, pullover, one shirt taken for a dress); the confusion matrix under 2.3.6 "
                        "counts these mix-ups over the whole test set; compare the CNN's gallery under 2.2.7.",
                 figures=("fashion.mlp.gallery.png",)),
        Question("2.3.8. MLP compared with the CNN", "Compare the performance of the MLP with the previously implemented CNN.",
                 ("fashion.mlp", "fashion.cnn", "fashion.cnn_mlp"), items=("2.3.8",),
                 answer="CNN against MLP on the same split: [[welch:fashion.cnn:test_accuracy:fashion.mlp:test_accuracy]]. "
                        "The MLP sees each pixel as an unrelated input and must learn every shift of a pattern "
                        "separately; convolutions share weights across positions and pooling adds tolerance to small "
                        "shifts. The controlled version of the comparison (same MLP, pixels against CNN features) is "
                        "[[welch:fashion.cnn_mlp:mlp_on_features/test_accuracy:fashion.cnn_mlp:mlp_on_pixels/test_accuracy]]. "
                        "The MLP's advantage is cost: [[fashion.mlp:train_seconds]] s of training against "
                        "[[fashion.cnn:train_seconds]] s."),
        Question("2.4.1. EDA: data distribution", "Visualize the distribution of classes in the dataset.",
                 ("fashion.eda",), items=("2.4.1",),
                 answer="Balanced: the largest over the smallest class count is [[fashion.eda:official_train_max_min_ratio]] "
                        "in training and [[fashion.eda:official_test_max_min_ratio]] in test.",
                 figures=("fashion.eda.class_distribution.png",)),
        Question("2.4.2. EDA: image statistics", "Calculate and visualize the mean and standard deviation of pixel values across all images.",
                 ("fashion.eda",), items=("2.4.2",),
                 answer="Pixel mean [[fashion.eda:pixel_mean_all]], std [[fashion.eda:pixel_std_all]] (unit scale); "
                        "brightness and contrast differ by class (trousers and bags bright and large, sandals sparse), "
                        "which a model can use as a cue.",
                 figures=("fashion.eda.brightness_contrast.png", "fashion.eda.class_means.png")),
        Question("2.4.3. EDA: dimensions", "Explore the dimensions of the images and analyze whether there is a need for resizing or cropping.",
                 ("fashion.eda",), items=("2.4.3",),
                 answer="Every image has the same size and is centred, so no resizing or cropping is needed; "
                        "[[fashion.eda:pca_components_95]] principal components keep most of the variance.",
                 figures=("fashion.eda.samples.png",)),
        Question("2.4.4. EDA: correlation", "Investigate the correlation between pixel values within the images.",
                 ("fashion.eda",), items=("2.4.4",),
                 answer="Neighbouring pixels correlate strongly (mean correlation [[fashion.eda:corr_mean_distance1]] "
                        "at distance one, [[fashion.eda:corr_mean_distance10]] at distance ten): local structure that "
                        "convolutions exploit and an MLP must learn.",
                 figures=("fashion.eda.pixel_correlation.png",)),
        Question("2.4.5. EDA: noise and artifacts", "Check for any noise or artifacts in the images that might affect model performance.",
                 ("fashion.eda",), items=("2.4.5",),
                 answer="[[fashion.eda:near_blank_images]] near-blank images, [[fashion.eda:saturated_images]] saturated "
                        "ones, [[fashion.eda:dup_near_cross]] near-duplicates across train and test "
                        "([[fashion.eda:dup_near_cross_label_conflicts]] with conflicting labels).",
                 figures=("fashion.eda.anomalies.png",)),
        Question("2.4.6. EDA: feature engineering", "Explore potential additional features that can be extracted from the images.",
                 ("fashion.eda",), items=("2.4.6",),
                 answer="A linear probe on edges and texture reaches [[fashion.eda:probe_edges_texture_accuracy]], on "
                        "raw pixels [[fashion.eda:probe_pixels_accuracy]]: hand-made features alone are weaker than "
                        "pixels, so we let the networks learn their features.",
                 figures=("fashion.eda.features.png",)),
        Question("2.4.7. EDA: data augmentation", "Explore the feasibility of data augmentation techniques",
                 ("fashion.eda",), items=("2.4.7",),
                 answer="Vertical flips cost [[fashion.eda:aug_vflip_accuracy_drop]] accuracy for a flip-naive model, "
                        "horizontal ones [[fashion.eda:aug_hflip_accuracy_drop]] (footwear "
                        "[[fashion.eda:aug_hflip_drop_footwear]]): small shifts are safe, vertical flips are not; "
                        "horizontal flips are discussed under 2.2.8.",
                 figures=("fashion.eda.augmentations.png",)),
        Question("2.4.8. EDA: implications", "Discuss how your findings from EDA may impact the design of the MLP model.",
                 ("fashion.eda",), items=("2.4.8",),
                 answer="Balanced classes: plain cross-entropy, accuracy as the headline. Scaled pixels, no resizing. "
                        "Strong local correlation: convolutions or at least wide first layers for the MLP. Few "
                        "artefacts: no cleaning. Augment with small shifts, not vertical flips."),
        Question("3.1 The attention matrix (theory)", "What is attention Matrix in transformer architecture.",
                 ("fashion.attention",), items=("3.1",), formulas=F_ATTN,
                 answer="The attention matrix holds, for each query, a probability distribution over the keys: how much "
                        "of each other element's value it takes. Measured next: on image embeddings, the learned "
                        "attention puts [[fashion.attention:learned/same_class_mass]] of each row's mass on images of "
                        "the same class, against [[fashion.attention:uniform/same_class_mass]] for uniform attention.",
                 figures=("fashion.attention.heatmap.png",)),
        Question("3.2 Attention over image embeddings", "Implement simple attention scenario with image embedding",
                 ("fashion.attention",), items=("3.2",),
                 answer="Images are embedded by the CNN; a single attention layer over a set of them classifies each "
                        "image from the attention-weighted values. Learned attention reaches "
                        "[[fashion.attention:learned/accuracy]], attention with identity projections "
                        "[[fashion.attention:identity/accuracy]] "
                        "([[welch:fashion.attention:learned/accuracy:fashion.attention:identity/accuracy]]), the "
                        "nearest neighbour [[fashion.attention:nn1/accuracy]] and the CNN's own head "
                        "[[fashion.attention:cnn_head/accuracy]] (learned attention against it: "
                        "[[welch:fashion.attention:learned/accuracy:fashion.attention:cnn_head/accuracy]]). Attention "
                        "is useful because it lets each element pool evidence from similar ones, with weights learned "
                        "for the task rather than fixed.",
                 figures=("fashion.attention.accuracy.png",)),
    ),
    items=("1.1", "1.2", "1.3", "2.1", "2.2.1", "2.2.2", "2.2.3", "2.2.4", "2.2.5", "2.2.6", "2.2.7", "2.2.8",
           "2.3.1", "2.3.2", "2.3.3", "2.3.4", "2.3.5", "2.3.6", "2.3.7", "2.3.8", "2.4.1", "2.4.2", "2.4.3", "2.4.4",
           "2.4.5", "2.4.6", "2.4.7", "2.4.8", "3.1", "3.2"),
    disclosure=(SUB_FASHION, Substitution(
        "2.1", "RESNET-50 (training implied at the usual scale)", "ResNet-50 from scratch on a subset at a CPU budget",
        "the CPU budget of the standard runs", "accuracy well below what ResNet-50 reaches with full data and "
        "epochs; the number is budget-limited", ("fashion.resnet50",))),
)


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
                 (STUDY, "imagenet.cnn_best"), items=("A (table)",),
                 answer="The table of every cell is below (validation top-1 and top-5, mean ± std over seeds). "
                        "The final model trains on all [[ds:imagenet.cnn_best:sizes.train]] training images for "
                        "[[cfg:imagenet.cnn_best:epochs]] epochs and reaches test top-1 [[imagenet.cnn_best:test_accuracy]] "
                        "(top-5 [[imagenet.cnn_best:test_top5]]). **It deviates from the study:** it uses "
                        "[[cfg:imagenet.cnn_best:convs_per_stage]] convolutions per stage (eight in all) where the "
                        "study favoured four, and max pooling after every stage where pooling after the first two "
                        "stages was the best cell. The study ran on [[cfg:imagenet.cnn_study:train_per_class]] "
                        "images per class; the final model has about fifteen times more data, where a deeper net is "
                        "expected to overfit less, but no run of the four-convolution recipe at the final budget "
                        "exists, so the deviation is not backed by a measurement here (the run that settles it is "
                        "`dl-assign run imagenet.cnn_best --set convs_per_stage=1`, and the same with pooling after the first two stages only).",
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
                  "pests.transfer_compare"), items=("3a",),
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
                        "seen similar insect photos in ImageNet: their numbers are an upper estimate.",
                 figures=("pests.transfer_compare.curves.png", "pests.transfer_compare.per_class_f1.png")),
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
                 figures=("web.page.png", "web.samples.png")),
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
                     ("pests.cnn_scratch", "pests.transfer_compare", "web.page")),
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
                 ("faces.gender_transfer", "faces.gender_compare"), items=("Task 5",),
                 answer="A frozen ImageNet EfficientNet-Lite0 trunk (not VGG16: see the disclosure) with our fully "
                        "connected layers [[cfg:faces.gender_transfer:hidden]]. Test AUC [[faces.gender_transfer:test_auc]], "
                        "accuracy [[faces.gender_transfer:test_accuracy]]. Against the baseline: "
                        "[[gpair:faces.gender_compare:transfer:baseline:test]]; against the improved CNN: "
                        "[[gpair:faces.gender_compare:transfer:improved:test]]. Frozen ImageNet features are generic: "
                        "they are not tuned to faces, and the trained-from-scratch improved CNN beats them on UTKFace. "
                        "The ImageNet backbone may have seen face photos like these.",
                 figures=("faces.gender_transfer.roc.png", "faces.gender_transfer.confusion.png")),
        Question("2.1. Data set: a test set from a different dataset",
                 "It is important to have a test set that is from a different dataset.",
                 ("faces.gender_compare",), items=("2.1",),
                 answer="Trained and validated on UTKFace, tested again on FairFace images "
                        "([[faces.gender_compare:fairface_images]] of them). The best model (the improved CNN) drops "
                        "from [[faces.gender_compare:best/test_accuracy]] to [[faces.gender_compare:best/fairface_accuracy]] "
                        "(AUC [[faces.gender_compare:best/test_auc]] to [[faces.gender_compare:best/fairface_auc]]). "
                        "Part of the drop is age: [[faces.gender_compare:fairface_share_under20]] of the FairFace "
                        "images are of people under twenty, where accuracy is "
                        "[[faces.gender_compare:improved/fairface_accuracy_under20]] against "
                        "[[faces.gender_compare:improved/fairface_accuracy_20plus]] for the rest. On FairFace, improved "
                        "against baseline: [[gpair:faces.gender_compare:improved:baseline:fairface]]; transfer against "
                        "improved: [[gpair:faces.gender_compare:transfer:improved:fairface]].",
                 figures=("faces.gender_compare.roc.png",)),
        Question("3.1 (models). A summary of the models",
                 "A summary of your models (excluding the baseline model)",
                 ("faces.gender_improved", "faces.gender_transfer"), items=("3.1 (models)",),
                 answer="The improved CNN's layer table (generated from the model) and the transfer model's "
                        "configuration are in the appendix; parameters: improved [[faces.gender_improved:params]], "
                        "transfer [[faces.gender_transfer:params_trainable]] trainable."),
        Question("3.1 (experiments). Pre-processing, training, hyperparameters",
                 "A brief description of your experiments, including possible pre-processing steps",
                 ("faces.gender_baseline", "faces.gender_improved", "faces.gender_transfer"),
                 items=("3.1 (experiments)",),
                 answer="Faces are cropped by one fixed rule and resized to [[cfg:faces.gender_baseline:image_size]] px "
                        "([[cfg:faces.gender_transfer:image_size]] px for the pretrained trunk); "
                        "[[ds:faces.gender_baseline:sizes.train]] training, [[ds:faces.gender_baseline:sizes.val]] "
                        "validation and [[ds:faces.gender_baseline:sizes.test]] test images, the same for every "
                        "model. Baseline: Adam lr [[cfg:faces.gender_baseline:lr]], [[cfg:faces.gender_baseline:epochs]] "
                        "epochs, no augmentation. Improved: AdamW lr [[cfg:faces.gender_improved:lr]], weight decay "
                        "[[cfg:faces.gender_improved:weight_decay]], augmentation [[cfg:faces.gender_improved:augment]]. "
                        "Transfer: AdamW lr [[cfg:faces.gender_transfer:lr]], [[cfg:faces.gender_transfer:epochs]] "
                        "epochs on cached frozen features. Thresholds are chosen on validation."),
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
                 ("faces.gender_baseline", "faces.gender_improved", "faces.gender_transfer"),
                 items=("3.1 (ethics)",), ethics=True),
    ),
    ethics=FACES_ETHICS,
    group_metrics=("faces.gender_baseline", "faces.gender_improved", "faces.gender_transfer"),
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
    ),
    literature=(LIT_SEED_GENDER, *GENDER_REFS),
)

ASSIGNMENTS: tuple[Assignment, ...] = (CS776, HW5, MODULE4, ASSIGNMENT3, GENDER)


def get(name: str) -> Assignment:
    for a in ASSIGNMENTS:
        if a.name == name:
            return a
    raise KeyError(f"unknown assignment {name!r}; one of {', '.join(a.name for a in ASSIGNMENTS)}")
