"""Dataset loaders: one module per dataset, returning pandas / xarray / cogvision containers.

Load any of them by name with :func:`load` (``available()`` lists the names); the real data of the
project lives in ``../shared`` beside the checkout (or ``$COGVISION_SHARED``), found by :func:`shared_dir`.
"""

from data_loaders.registry import DATASETS, available, describe, load
from data_loaders.shared import shared_dir, shared_path

__all__ = ["DATASETS", "available", "describe", "load", "shared_dir", "shared_path"]
