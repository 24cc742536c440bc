"""Binary gender recognition from faces (seed 003): the seed's baseline CNN, an improved CNN, a frozen
pretrained trunk with new fully connected layers, and their comparison; ``common`` holds what they share."""

from dl_assign.experiments.faces import baseline, compare, improved, transfer  # noqa: F401  (importing registers them)
