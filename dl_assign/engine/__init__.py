"""The one training loop and what it needs: devices, seeding, metrics, checkpoints."""

from dl_assign.engine.device import pick_device, threads, use_bf16
from dl_assign.engine.loop import (
    EpochLoader,
    NonFiniteLossError,
    TensorLoader,
    TrainConfig,
    evaluate,
    fit,
    history_arrays,
    predict,
)
from dl_assign.engine.metrics import classification_metrics
from dl_assign.engine.seeding import seed_everything

__all__ = [
    "EpochLoader", "NonFiniteLossError", "TensorLoader", "TrainConfig", "classification_metrics",
    "evaluate", "fit", "history_arrays", "pick_device", "predict", "seed_everything", "threads", "use_bf16",
]
