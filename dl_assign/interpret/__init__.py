"""Attribution methods, one verb each; captum alongside for checking (``tests/test_occlusion.py``)."""

from dl_assign.interpret.occlusion import (
    fill_value,
    grid_shape,
    localisation_ratio,
    occlusion_map,
    pixel_attribution,
    target_probability,
)

__all__ = ["fill_value", "grid_shape", "localisation_ratio", "occlusion_map", "pixel_attribution",
           "target_probability"]
