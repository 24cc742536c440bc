"""Rubric rows: the NumPy MLP (seed 001 2), sine forecasting (seed 000 2), EDA, theory and attention (seed 004)."""

from dl_assign.rubric.core import FMNIST_TABLE, Row, seed

ROWS: tuple[Row, ...] = (
    # from-scratch NumPy MLP (seed questions: forward 8, backward 12, loss 1, study 15)
    Row("seed 001 2c: NumPy MLP forward pass: agrees with a torch float64 twin (max |diff|)",
        "numpy_nn.gradcheck", "torch_forward_max_abs_diff", {"smoke": 1e-10, "standard": 1e-10, "full": 1e-10}, 8,
        higher_is_better=False, expectation_source=seed("001 2c", "the forward pass from scratch; no number (the "
        "tolerance is ours)")),
    Row("seed 001 2d: NumPy MLP backward pass: centred differences, smooth activations (max rel. error)",
        "numpy_nn.gradcheck", "max_rel_error_smooth", {"smoke": 1e-7, "standard": 1e-7, "full": 1e-7}, 6,
        higher_is_better=False, expectation_source=seed("001 2d", "the backward pass from scratch; no number (the "
        "tolerance is ours)")),
    Row("seed 001 2d: NumPy MLP backward pass: centred differences, ReLU family away from kinks (max rel. error)",
        "numpy_nn.gradcheck", "max_rel_error_relu_family", {"smoke": 1e-6, "standard": 1e-6, "full": 1e-6}, 3,
        higher_is_better=False, expectation_source=seed("001 2d", "the backward pass from scratch; no number (the "
        "tolerance is ours)")),
    Row("seed 001 2d: NumPy MLP backward pass: parameter gradients agree with the torch twin (max |diff|)",
        "numpy_nn.gradcheck", "torch_grad_max_abs_diff", {"smoke": 1e-10, "standard": 1e-10, "full": 1e-10}, 3,
        higher_is_better=False, expectation_source=seed("001 2d", "the backward pass from scratch; no number (the "
        "tolerance is ours)")),
    Row("seed 001 2e: NumPy softmax cross-entropy: hand-computed cases (max |diff|)",
        "numpy_nn.gradcheck", "loss_hand_max_abs_diff", {"smoke": 1e-12, "standard": 1e-12, "full": 1e-12}, 1,
        higher_is_better=False, expectation_source=seed("001 2e", "a custom cross-entropy module; no number")),
    Row("seed 001 2f: NumPy MLP study: layers x dropout x activation, best cell (validation accuracy)",
        "fashion.numpy_mlp_study", "best_cell/val_accuracy", {"smoke": 0.30, "standard": 0.86, "full": 0.88}, 5,
        expectation_source=seed("001 2f", "compare layers, dropout and activations and settle "
        "on the best; no number")),
    # issue 28: the final departs from the study (dropout 0.2 where the study's best cell had none); measured at
    # standard (3 seeds, AMD EPYC): 0.9048 vs 0.9017, pooled paired interval +0.0001..+0.0061, final better. The
    # row asks that the study's choice is not better at the final budget (smoke: only that the comparison ran).
    Row("seed 001 2f: the final's dropout against the study's choice, both at the final budget (the study's "
        "choice not better; paired)",
        "fashion.numpy_mlp_dropout", "pooled/alternative_better", {"smoke": 1.0, "standard": 0.0}, 1,
        higher_is_better=False, expectation_source=seed("001 2f", "experiment with dropout and settle on the "
        "best; no number")),
    Row("seed 001 2: NumPy MLP, chosen configuration, whole training split (test accuracy)",
        "fashion.numpy_mlp", "test_accuracy", {"smoke": 0.70, "standard": 0.900, "full": 0.900}, 8,
        expectation=0.883,
        expectation_source=FMNIST_TABLE + ": 'MLP 256-128-100' 0.8833; " + seed("001 2", "sets no number")),
    Row("seed 001 2: NumPy MLP training time, whole training split (seconds, goal <= 60 on 2 cores)",
        "fashion.numpy_mlp", "train_seconds", {"standard": 60.0}, 2, higher_is_better=False,
        expectation_source=seed("001 2", "no number: no time asked (issue 2's goal, 60 s)")),
    # sine-wave forecasting (seed 000's RNN question)
    Row("seed 000 2: an LSTM learns the sine wave (one-step test MSE, noiseless wave)",
        "sine.lstm", "test_mse", {"smoke": 0.02, "standard": 1e-4, "full": 1e-4}, 4, higher_is_better=False,
        expectation_source=seed("000 2", "'build two RNNs ... that can learn the Sine wave'; "
        "no number")),
    Row("seed 000 2: a GRU learns the sine wave (one-step test MSE, noiseless wave)",
        "sine.gru", "test_mse", {"smoke": 0.02, "standard": 1e-4, "full": 1e-4}, 4, higher_is_better=False,
        expectation_source=seed("000 2", "'build two RNNs ... that can learn the Sine wave'; "
        "no number")),
    Row("seed 000 2: the LSTM's autoregressive rollout stays on the wave (rollout MSE; 1000 steps at standard)",
        "sine.lstm", "rollout_mse", {"smoke": 0.2, "standard": 1e-3, "full": 1e-3}, 2, higher_is_better=False,
        expectation_source=seed("000 2", "no number: the rollout is ours")),
    Row("seed 000 2: parameters of each layer calculated by formula equal torch's count",
        "sine.compare", "param_formula_ok", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 3,
        expectation=1.0, expectation_source=seed("000 2", "'provide an explanation (calculation) of the number "
        "of parameters in each layer'")),
    Row("seed 000 2: comparison with the MLP on the same windows (MLP one-step test MSE)",
        "sine.compare", "mlp/test_mse", {"smoke": 0.02, "standard": 1e-4, "full": 1e-4}, 2, higher_is_better=False,
        expectation_source=seed("000 2", "'compare your RNN model with the MLP used earlier'; "
        "no number")),
    Row("seed 004 2.4.2: EDA pixel mean/std measured = published 0.2860/0.3530 (max abs error)",
        "fashion.eda", "pixel_stats_error_vs_published", {"smoke": 5e-4, "standard": 5e-4, "full": 5e-4}, 1,
        higher_is_better=False, expectation_source=seed("004 2.4.2", "calculate the mean and std of the pixel values; "
        "no number")),
    Row("seed 004 2.4.1: EDA class balance computed per split (official train balanced)",
        "fashion.eda", "official_train_balanced", {"smoke": 1.0, "standard": 1.0, "full": 1.0}, 1,
        expectation_source=seed("004 2.4.1", "examine whether the dataset is balanced; no number")),
    Row("seed 004 2.4.6: EDA edge+texture features (Sobel/Canny, LBP/GLCM): linear-probe test accuracy",
        "fashion.eda", "probe_edges_texture_accuracy", {"smoke": 0.65, "standard": 0.72, "full": 0.72}, 2,
        expectation_source=seed("004 2.4.6", "edge detection or texture analysis as extra "
        "features; no number")),
    Row("seed 004 1.1: vanishing gradients measured (sigmoid, log10 first/last-hidden grad norm at init)",
        "fashion.theory_vanishing", "sigmoid_xavier/log10_grad_ratio_init",
        {"smoke": -2.0, "standard": -6.0, "full": -6.0}, 1,
        higher_is_better=False, expectation_source=seed("004 1.1", "describe vanishing and exploding gradients and "
        "the solution; no number")),
    Row("seed 004 1.1: exploding gradients measured (log10 first-layer grad, gain 1.5 over He init)",
        "fashion.theory_exploding", "log10_first_layer_grad_large_over_he",
        {"smoke": 0.8, "standard": 2.5, "full": 2.5}, 1,
        expectation_source=seed("004 1.1", "describe vanishing and exploding gradients and "
        "the solution; no number")),
    # seed 004 question 1 (theory, issue 28): each claim checked against the measurement that shows it, at
    # standard (3 seeds); smoke only where the mechanism already shows in smoke's smaller nets.
    Row("seed 004 1.1: vanishing: the remedy, ReLU + He init, keeps the first/last-hidden gradient ratio near 1 "
        "(log10 at init)",
        "fashion.theory_vanishing", "relu_he/log10_grad_ratio_init", {"smoke": -1.0, "standard": -1.0}, 1,
        expectation_source=seed("004 1.1", "'what is the solution to this problem?'; no "
        "number")),  # measured 0.045 ± 0.204 (standard), 0.47 (smoke)
    # measured 1.0: 3/3 seeds diverge
    Row("seed 004 1.1: exploding: the too-large init diverges without a remedy (diverged, every seed)",
        "fashion.theory_exploding", "large/diverged", {"standard": 1.0}, 1,
        expectation_source=seed("004 1.1", "describe exploding gradients; no number")),
    Row("seed 004 1.1: exploding: gradient clipping trains the same too-large init (diverged)",
        "fashion.theory_exploding", "large_clip/diverged", {"standard": 0.0}, 1, higher_is_better=False,
        expectation_source=seed("004 1.1", "'what is the solution to this problem?'; no "
        "number")),  # measured 0.0: no seed diverges
    Row("seed 004 1.1: exploding: with clipping the too-large init learns (validation accuracy; chance 0.1)",
        "fashion.theory_exploding", "large_clip/val_accuracy", {"standard": 0.3}, 1,
        expectation_source=seed("004 1.1", "'what is the solution to this problem?'; no "
        "number")),  # measured 0.473 ± 0.066
    # measured -5.19 ± 0.20; smoke's smaller net -0.26
    Row("seed 004 1.2: batch norm: without it the deep ReLU MLP's gradient vanishes toward the input "
        "(log10 ratio at init)",
        "fashion.theory_batchnorm", "plain/log10_grad_ratio_init", {"standard": -3.0}, 1, higher_is_better=False,
        expectation_source=seed("004 1.2", "'what is batch normalization?'; no number")),
    # measured +1.86 ± 0.01 (standard), +1.18 (smoke)
    Row("seed 004 1.2: batch norm: with it the same MLP's gradient does not vanish (log10 ratio at init)",
        "fashion.theory_batchnorm", "bn/log10_grad_ratio_init", {"smoke": -1.0, "standard": -1.0}, 1,
        expectation_source=seed("004 1.2", "'what is batch normalization?'; no number")),
    # measured 0.696 ± 0.036 (plain stays at chance)
    Row("seed 004 1.2: batch norm: the same MLP trains with BN and not without (validation accuracy gain)",
        "fashion.theory_batchnorm", "bn_minus_plain_val_accuracy", {"standard": 0.3}, 1,
        expectation_source=seed("004 1.2", "'what is batch normalization?'; no number")),
    # measured 6 of 8 (plain: 0 of 8)
    Row("seed 004 1.2: batch norm widens the learning rates that train (of 8 tried, 0.001 to 3)",
        "fashion.theory_batchnorm", "bn/n_lrs_train", {"standard": 3}, 1,
        expectation_source=seed("004 1.2", "'what is batch normalization?'; no number")),
    Row("seed 004 1.3: dropout narrows the train/validation accuracy gap at the same budget (gap reduction)",
        "fashion.theory_dropout", "gap_reduction", {"standard": 0.01}, 1,
        expectation_source=seed("004 1.3", "'what is dropout, and what is its benefit?'; no "
        "number")),  # measured 0.029 ± 0.007
    Row("seed 004 3.2: attention over CNN embeddings: test accuracy of the attention-weighted vote",
        "fashion.attention", "identity/accuracy", {"smoke": 0.2, "standard": 0.75, "full": 0.80}, 2,
        expectation_source=seed("004 3.2", "implement attention over the image embeddings and "
        "explain why it is useful; no number")),
    Row("seed 004 3.2: attention vs uniform averaging (accuracy gain)",
        "fashion.attention", "gain_over_uniform", {"smoke": 0.1, "standard": 0.6, "full": 0.6}, 1,
        expectation_source=seed("004 3.2", "explain why attention is useful; no number")),
)
