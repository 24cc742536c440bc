"""One module per task family; importing this package registers every experiment."""

from dl_assign.experiments import fashion_cnn, fashion_cnn_studies, fashion_mlp, pests_cnn  # noqa: F401
