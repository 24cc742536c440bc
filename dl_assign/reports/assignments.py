"""What each seed assignment asks for, question by question, and which results answer it.

A spec table (fairlearn's habit): one :class:`Question` per part of an assignment, naming the
experiments whose ``results/<name>.json`` answer it. Prose here explains how and why a model was
built; it carries no measured number (those come from the results, see ``dl_assign.reports``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Question:
    title: str  # the part as the assignment names it
    asks: str  # what the part asks for, in a sentence
    experiments: tuple[str, ...]  # results that answer it (in reading order)
    why: str = ""  # how the models were built and why (no numbers: those come from results/)
    written: bool = False  # answered in prose by the student, not by software: no result expected


@dataclass(frozen=True)
class Assignment:
    name: str  # file name under results/reports/
    title: str
    seed: str  # the seed file in ../shared/seeds/
    questions: tuple[Question, ...]
    ethics: str = ""  # the ethics and limitations paragraph (face tasks)
    group_metrics: tuple[str, ...] = field(default=())  # experiments whose per-group rows back the ethics text


FACES_ETHICS = (
    "Gender recognition from a face is a classification of a socially defined attribute from appearance. "
    "The labels here are binary and were assigned by the datasets' annotators, not by the people pictured; "
    "the models cannot represent anyone outside the two classes and say nothing about a person's gender "
    "identity. Errors are not spread evenly: the per-group accuracies below (race and age groups of the "
    "UTKFace test split, measured on the same images for every model) show where the models fail more often, "
    "and the drop from UTKFace to FairFace shows how much a model depends on the collection it was trained on. "
    "A model like this should not be used to make decisions about people (access, surveillance, advertising "
    "targeting); if it is used at all, report per-group error rates with intervals beside the headline accuracy, "
    "and treat a cross-dataset test as the minimum check before any claim of generality. Limitations: the "
    "training sets are small subsets at the standard budget, face crops follow one fixed rule, and the group "
    "labels are themselves annotator estimates."
)

ASSIGNMENTS: tuple[Assignment, ...] = (
    Assignment(
        "cs776", "CS776: Fashion-MNIST MLP from scratch and CNN", "001_083a506c678af477.txt",
        (
            Question("1. Data: split and normalisation",
                     "Split Fashion-MNIST into training, validation and test sets; scale pixels to the unit interval.",
                     ("fashion.eda",),
                     "Both official files are pooled and split in the proportions the assignment names, stratified, "
                     "with a fixed split seed, so every training seed is tested on the same images; one pre-processing "
                     "module scales the pixels to the unit interval."),
            Question("2a-e. MLP from scratch: forward, backward, cross-entropy",
                     "Flatten the images; write the forward and backward passes and the cross-entropy loss by hand.",
                     ("numpy_nn.gradcheck", "fashion.numpy_mlp"),
                     "The NumPy MLP (dl_assign/numpy_nn) implements every layer's forward and backward pass by hand; "
                     "the gradient check compares them with a float64 torch twin and with centred differences."),
            Question("2f. MLP hyperparameters: layers, dropout, activation",
                     "Compare numbers of layers, dropout and ReLU / Leaky-ReLU / Tanh / GELU, and settle on the best.",
                     ("fashion.numpy_mlp_study", "fashion.torch_mlp_sweep", "fashion.mlp"),
                     "The study trains every cell of the grid on the same split and seeds and chooses on validation "
                     "accuracy, never on test; the chosen configuration is then trained on the whole training split."),
            Question("3a. CNN with 5 conv layers: pooling methods",
                     "Five conv layers with ReLU; compare max, average and global average pooling.",
                     ("fashion.cnn_pooling", "fashion.cnn"),
                     "Each pooling variant is a cell trained with the same subset, schedule and seeds, so the "
                     "difference between cells is the pooling alone."),
            Question("3b. Kernel size and number of filters",
                     "Compare kernel sizes and filter schedules (constant, doubling) and settle on the best.",
                     ("fashion.cnn_kernels",)),
            Question("3c. Weight initialisation",
                     "Compare random, Xavier and He initialisation.",
                     ("fashion.cnn_init",)),
            Question("3d. CNN features into the MLP of question 2",
                     "Extract features with the CNN and classify them with the from-scratch MLP.",
                     ("fashion.cnn_mlp",)),
            Question("4. Report: speed of the from-scratch MLP against torch",
                     "Explain how both models were built, their architecture, learning rate, epochs and metrics.",
                     ("fashion.numpy_vs_torch_speed",)),
        ),
    ),
    Assignment(
        "hw5", "Homework 5: theory made measurable, ResNet-50, CNN, MLP vs CNN, EDA, attention",
        "004_8d83cfde88193daf.txt",
        (
            Question("1.1 Vanishing and exploding gradients",
                     "Describe vanishing and exploding gradients and their solution.",
                     ("fashion.theory_vanishing", "fashion.theory_exploding"),
                     "Measured instead of only described: gradient norms per layer at initialisation and during "
                     "training, for the failing setting and for its fix."),
            Question("1.2 Batch normalisation", "What is batch normalisation?", ("fashion.theory_batchnorm",)),
            Question("1.3 Dropout", "What is dropout and what is its benefit?", ("fashion.theory_dropout",)),
            Question("2.1 ResNet-50 on Fashion-MNIST", "Train a ResNet-50 on Fashion-MNIST.", ("fashion.resnet50",),
                     "torchvision's ResNet-50 adapted to the small grey images (one input channel, a stem that keeps "
                     "the resolution), trained from scratch."),
            Question("2.2 A CNN for image classification",
                     "Load, normalise, split into training, validation and test sets, design a CNN, train, evaluate, "
                     "predict, discuss.",
                     ("fashion.cnn", "fashion.precision")),
            Question("3. MLP for image classification, compared with the CNN",
                     "Train an MLP on the same data and compare it with the CNN.",
                     ("fashion.mlp", "fashion.cnn", "fashion.cnn_mlp")),
            Question("4. Exploratory data analysis", "Explore the dataset: class balance, pixel statistics, features.",
                     ("fashion.eda",)),
            Question("5. Attention over image embeddings", "An attention matrix over CNN embeddings of images.",
                     ("fashion.attention",)),
        ),
    ),
    Assignment(
        "module4", "Module 4: the mini-ImageNet CNN study and occlusion sensitivity", "002_a9675b85dca789f6.txt",
        (
            Question("Part A. CNN study on mini-ImageNet",
                     "Vary conv layers, fc layers, filters, max pooling, epochs and stride; tabulate the accuracy; "
                     "look at misclassified images.",
                     ("imagenet.cnn_study", "imagenet.cnn_best")),
            Question("Part B. Occlusion sensitivity",
                     "For about ten test images, slide a grey window and map the true-class probability.",
                     ("imagenet.occlusion",)),
        ),
    ),
    Assignment(
        "assignment3", "Assignment-3: RNNs, transfer learning, web app, segmentation, fairness",
        "000_6936b0710660fec7.txt",
        (
            Question("1. Paper review", "A written review of a paper.", (), written=True),
            Question("2. LSTM and GRU on a sine wave",
                     "Train LSTM and GRU forecasters, count their parameters, compare with an MLP.",
                     ("sine.lstm", "sine.gru", "sine.mlp", "sine.compare")),
            Question("3a. Transfer learning on the pest images",
                     "Fine-tune pretrained backbones and compare them with a CNN trained from scratch.",
                     ("pests.cnn_study", "pests.cnn_scratch", "pests.transfer_effnet_lite0",
                      "pests.transfer_mobilenet_v2", "pests.transfer_compare"),
                     "The custom CNN's recipe was chosen on validation by the study; both backbones train their "
                     "last blocks and a new head on the same splits, and the comparison is paired on the same test "
                     "images."),
            Question("3b. Web app", "Upload an image, choose stored models and versions, show the predictions.",
                     ("web.page", "web.load")),
            Question("3c. Unsupervised segmentation", "Cluster CNN feature maps into segments.",
                     ("segment.cnn_features",)),
            Question("4. Bias and fairness on FairFace", "Measure a model's accuracy per demographic group.",
                     ("faces.fairness",)),
        ),
        ethics=FACES_ETHICS,
        group_metrics=("faces.fairness",),
    ),
    Assignment(
        "gender", "Gender recognition: baseline CNN, improved CNN, transfer learning, another test set",
        "003_c1888febe895b374.txt",
        (
            Question("Baseline CNN (Fig. 1)", "Build the paper's baseline CNN; analyse it with ROC/AUC and measures.",
                     ("faces.gender_baseline",),
                     "The layer list of the seed's first figure, its parameter count checked against the formula."),
            Question("Improved CNN", "Improve on the baseline (layers, hyperparameters, augmentation).",
                     ("faces.gender_improved",)),
            Question("Transfer learning", "A frozen pretrained trunk with your own fully connected layers.",
                     ("faces.gender_transfer",)),
            Question("Another dataset as test set and the comparison",
                     "Test the best model on images from a different dataset; compare all models.",
                     ("faces.gender_compare",)),
        ),
        ethics=FACES_ETHICS,
        group_metrics=("faces.gender_baseline", "faces.gender_improved", "faces.gender_transfer"),
    ),
)


def get(name: str) -> Assignment:
    for a in ASSIGNMENTS:
        if a.name == name:
            return a
    raise KeyError(f"unknown assignment {name!r}; one of {', '.join(a.name for a in ASSIGNMENTS)}")
