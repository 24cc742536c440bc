"""One module per task family; importing this package registers every experiment."""

from dl_assign.experiments import fashion_attention, fashion_cnn, fashion_eda, fashion_mlp, fashion_theory, pests_cnn  # noqa: F401
