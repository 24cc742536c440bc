"""One subpackage (or module) per task family; importing this package registers every experiment.

``common`` holds what classification experiments of every family share; no experiment module
imports another experiment module.
"""

from dl_assign.experiments import faces, fashion, imagenet, numpy_nn, pests, segment, sine  # noqa: F401
