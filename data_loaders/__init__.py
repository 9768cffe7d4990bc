"""Dataset loaders: one module per dataset, returning pandas / xarray.

The real data of the project lives in ``../shared`` beside the checkout (or ``$COGVISION_SHARED``);
:func:`shared_dir` finds it.
"""

from data_loaders.shared import shared_dir, shared_path

__all__ = ["shared_dir", "shared_path"]
