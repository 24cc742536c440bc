"""Rubric rows: Fashion-MNIST MLP and CNN family (seeds 001/004: MLP, CNN5, its studies, ResNet-50)."""

from dl_assign.rubric.core import FMNIST_TABLE, Row, seed

ROWS: tuple[Row, ...] = (
    Row("seed 004 2.3: MLP classifier on Fashion-MNIST, PyTorch (test accuracy)",
        "fashion.mlp", "test_accuracy", {"smoke": 0.70, "standard": 0.88, "full": 0.89}, 5,
        expectation=0.883,
        expectation_source=FMNIST_TABLE + ": 'MLP 256-128-100' 0.8833; " + seed("004 2.3", "sets no number")),
    Row("seed 004 2.3: MLP classifier on Fashion-MNIST, PyTorch (macro-F1)",
        "fashion.mlp", "test_macro_f1", {"smoke": 0.65, "standard": 0.88, "full": 0.89}, 2,
        expectation_source=seed("004 2.3.6", "'accuracy and any other relevant metrics'; no "
        "number")),
    # seeds 001/004, Fashion-MNIST CNN family (issue 4). Standard thresholds sit below the committed
    # standard runs (measured values in the comments); smoke thresholds only check that the pipeline
    # learns at all at smoke size; a full threshold only where a full run was measured.
    Row("seed 001 3a / seed 004 2.2: 5-conv CNN on Fashion-MNIST (test accuracy; VGG16 scores 0.935)",
        "fashion.cnn", "test_accuracy", {"smoke": 0.55, "standard": 0.940}, 5,
        expectation=0.931, expectation_source=FMNIST_TABLE + ": '5 Conv+BN+pooling' 0.931, the nearest listed "
        "CNN (VGG16 0.935); " + seed("001 3a / 004 2.2", "set no number")),  # measured 0.9420 ± 0.0010 (Zen 5, bf16)
    Row("seed 001 3a / seed 004 2.2: 5-conv CNN reaches 0.930 test accuracy on every seed (time recorded)",
        "fashion.cnn", "reached_930", {"standard": 1.0}, 1,
        expectation_source=seed("001 3a / 004 2.2", "no number: no seed asks for a time to "
        "accuracy (issue 4's goal)")),  # measured 3/3 seeds, 113 ± 5 s (Zen 5, bf16)
    # against a matmul in the precision the model trained in: measured 0.317 ± 0.017 (Zen 5, bf16 vs
    # a bf16 matmul), 0.107 on an AMX Xeon (bf16, 2048² bf16 matmul), 0.69 in fp32 vs fp32 (Xeon);
    # smoke's tiny model in bf16: 0.061 (Zen 5, idle), 0.0039 with three other jobs on the 2 cores; 0.23
    # in fp32 (AVX2-restricted): at smoke size the row only checks that a positive ratio is measured
    Row("seed 001 3a / seed 004 2.2: CNN training compute efficiency (model FLOP/s / matmul FLOP/s, training "
        "precision)",
        "fashion.cnn", "efficiency_ratio", {"smoke": 0.001, "standard": 0.1}, 1,
        expectation_source=seed("001 3a / 004 2.2", "no number: neither asks for compute "
        "efficiency (issue 4's goal)")),
    Row("seed 001 3a: pooling study (max pooling + flatten cell)",
        "fashion.cnn_pooling", "max pool + flatten/test_accuracy", {"smoke": 0.30, "standard": 0.82}, 1,
        expectation_source=seed("001 3a", "compare max, average and global average pooling; "
        "no number")),  # measured 0.845 ± 0.010
    Row("seed 001 3b: kernel size x filter schedule study (3x3 doubling cell)",
        "fashion.cnn_kernels", "k3 doubling/test_accuracy", {"smoke": 0.20, "standard": 0.80}, 1,
        expectation_source=seed("001 3b", "try kernel sizes and filters per layer, settle on "
        "the best; no number")),  # measured 0.831 ± 0.003
    # measured 0.826 ± 0.006
    Row("seed 001 3c: initialisation study (He cell, no BatchNorm)",
        "fashion.cnn_init", "he/test_accuracy", {"smoke": 0.20, "standard": 0.80}, 1,
        expectation_source=seed("001 3c", "try random, Xavier and He initialisation; no number")),
    # issue 28: fashion.cnn flips every class although fashion.eda found flips move footwear off the data;
    # measured at standard (seed 0, AMD EPYC): 0.9406 vs 0.9413 without flips, interval -0.0050..+0.0034: a tie
    Row("seed 004 2.2.8: the CNN's flips against no flips (the EDA's reading), both at the final budget (no "
        "flips not better; paired)",
        "fashion.cnn_flip", "pooled/alternative_better", {"smoke": 1.0, "standard": 0.0}, 1,
        higher_is_better=False, expectation_source=seed("004 2.2.8", "challenges faced and potential "
        "improvements; no number")),
    Row("seed 001 3d: CNN features into the NumPy MLP",
        "fashion.cnn_mlp", "mlp_on_features/test_accuracy", {"smoke": 0.15, "standard": 0.87}, 2,
        expectation_source=seed("001 3d", "classify CNN features with the question-2 MLP; no "
        "number")),  # measured 0.8889 ± 0.0002
    Row("seed 004 2.3.5: torch MLP sweep (ReLU, middle batch size, last epoch mark)",
        "fashion.torch_mlp_sweep", "mlp/test_accuracy", {"smoke": 0.30, "standard": 0.82}, 1,
        expectation_source=seed("004 2.3.5", "experiment with training epochs and batch "
        "sizes; no number")),  # measured 0.843
    # measured 0.799 at standard; full (H100, 1 seed) 0.948
    Row("seed 004 2: torchvision ResNet-50 adapted to 28x28 grey (from scratch)",
        "fashion.resnet50", "test_accuracy", {"smoke": 0.05, "standard": 0.75, "full": 0.94}, 2,
        expectation=0.931, expectation_source=FMNIST_TABLE + ": 'Fastai Resnet50+Fine-tuning' 0.9312, "
        "ImageNet-pretrained and fine-tuned, where ours is trained from scratch (on 4,000 images at standard); "
        + seed("004 2", "sets no number")),
)
