# ruff: noqa: E501  (a spec table of prose: long placeholder strings read better unbroken)
"""The spec table's record types and what several assignments share.

:class:`Question`, :class:`Substitution`, :class:`Reference` and :class:`Assignment` (frozen
dataclasses), the cited literature (:data:`LITERATURE`, each number with its source), the
pretrained-weights caveat, the substitutions and the faces ethics paragraph that more than one report
quotes. One module per assignment (``cs776``, ``hw5``, ``module4``, ``assignment3``, ``gender``)
builds its :class:`Assignment` from these.
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
