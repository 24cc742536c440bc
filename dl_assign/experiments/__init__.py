"""One module per task family; importing this package registers every experiment."""

from dl_assign.experiments import (  # noqa: F401
    fashion_attention,
    fashion_cnn,
    fashion_cnn_mlp,
    fashion_cnn_studies,
    fashion_eda,
    fashion_mlp,
    fashion_numpy,
    fashion_resnet,
    fashion_theory,
    numpy_nn_checks,
    pests_cnn,
    sine,
)
