"""One module per task family; importing this package registers every experiment."""

from dl_assign.experiments import fashion_mlp, fashion_numpy, numpy_nn_checks, pests_cnn, sine  # noqa: F401
