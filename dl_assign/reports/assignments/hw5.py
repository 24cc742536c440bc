# ruff: noqa: E501  (a spec table of prose: long placeholder strings read better unbroken)
"""Homework 5: the theory items with their formulas and measurements, item by item."""

from __future__ import annotations

from dl_assign.reports.assignments.spec import SUB_FASHION, Assignment, Question, Substitution

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
                 ("fashion.cnn", "fashion.eda", "fashion.precision", "fashion.cnn_flip"), items=("2.2.8",),
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
                        "([[welch:fashion.cnn:test_accuracy:fashion.cnn:test_accuracy_no_tta]]). Training without "
                        "flips, as the EDA would suggest, is measured against the final recipe (`fashion.cnn_flip`: "
                        "the same network, seed and budget, no flip in training or at test time): "
                        "[[ablation:fashion.cnn_flip]]. On footwear, where the EDA expected the harm, the flip-trained "
                        "model scores [[fashion.cnn_flip:final/footwear_accuracy]] against "
                        "[[fashion.cnn_flip:alternative/footwear_accuracy]] without flips; on garments "
                        "[[fashion.cnn_flip:final/garments_accuracy]] against "
                        "[[fashion.cnn_flip:alternative/garments_accuracy]]. The EDA's number is about a model that "
                        "never saw a mirrored shoe being shown one; a model trained on both orientations loses "
                        "nothing measurable, and it gains nothing either: flips could be dropped at no cost in "
                        "accuracy. The final recipe keeps them, with this measurement as the record.",
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
