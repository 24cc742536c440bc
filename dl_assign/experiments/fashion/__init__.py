"""Fashion-MNIST experiments (seeds 001 and 004); shared CNN5 code lives in ``common``."""

from dl_assign.experiments.fashion import (  # noqa: F401  (importing registers the experiments)
    attention,
    cnn,
    cnn_mlp,
    cnn_studies,
    eda,
    mlp,
    numpy_mlp,
    precision,
    resnet,
    theory,
)
