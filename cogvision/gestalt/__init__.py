"""DiSRT, the Distorted Spatial Relationship Testbench (after Li et al. 2025), as cogvision defines it.

The paper's exact protocol is not public; this is ours, stated in full (see also ``docs/gestalt.md``):

1. **Images** are resized and centre-cropped by the model's own preprocessing (side ``S``).
2. **Distortion** (local texture kept, global relations broken) at strength ``g`` (a g x g grid):
   ``shuffle`` (patches permuted, every patch moves), ``shuffle_seamless`` (same permutation,
   cross-faded borders), ``rotate`` (every patch turned 90/180/270 degrees in place) and ``texform``
   (pooled-statistics synthesis, :mod:`cogvision.texture`, in g x g smooth square windows). Sizes the
   grid does not divide are centre-cropped to a multiple of ``g`` and the three items are resized back
   to ``S``.
3. **Nuisance** (global structure kept): a shift (default) or colour jitter whose per-image size is
   chosen by false position (Illinois) so that its pixel MSE to the image equals the distortion's.
4. **Trial**: odd-one-out among (image, nuisance, distortion). At each layer the pooled representation
   (``cls``, ``mean`` or ``flat``) gives pairwise similarities (cosine by default); the odd item has the
   lowest mean similarity to the other two; correct when it is the distortion; ties share the credit
   (1/m for an m-way tie). Chance is 1/3. An observer that moves the nuisance and the distortion
   equally far (the pixel-space observer, by construction) sits near 1/2: it is reported as the
   baseline layer ``pixels``.
5. **Graded index** ``D(I, dist) / (D(I, dist) + D(I, nuis))`` with ``D = 1 - similarity``: 0.5 = no more
   sensitive to the distortion than to a pixel-matched nuisance.
6. **Scores** per layer, distortion, strength and Top-K fraction ``k`` (``k = 1`` is dense): accuracy with a
   95% bootstrap interval over images and the number of trials. The model's single number is the
   readout-layer (last probed layer) accuracy averaged over distortions and strengths.
7. **Top-K restoration**: the whole protocol again with Top-K sparsity attached at chosen layers.

>>> import torch
>>> from cogvision.gestalt import DisrtProtocol, run_disrt
>>> from cogvision.models import load_model
>>> model = load_model("cogvision.models.builtin:tiny_cnn", device="cpu")
>>> ds = run_disrt(model, torch.rand(2, 3, 64, 64), DisrtProtocol(grids=(2,), n_boot=10))
>>> sorted(ds["correct"].dims)
['distortion', 'image', 'k', 'layer', 'strength']
"""

from cogvision.gestalt.distortions import (
    DISTORTIONS, crop_to_grid, distort, rotate, shuffle, shuffle_seamless, square_windows, texform,
)
from cogvision.gestalt.nuisance import NUISANCES, apply_nuisance, fixed_nuisance, matched_nuisance, pixel_mse
from cogvision.gestalt.protocol import DisrtProtocol, run_disrt
from cogvision.gestalt.readout import graded_index, oddity, pool, similarity
from cogvision.gestalt.scoring import CHANCE, PIXELS, add_summary, summary, to_frame, trials_frame

__all__ = [
    "CHANCE", "DISTORTIONS", "DisrtProtocol", "NUISANCES", "PIXELS", "add_summary", "apply_nuisance",
    "crop_to_grid", "distort", "fixed_nuisance", "graded_index", "matched_nuisance", "oddity", "pixel_mse",
    "pool", "rotate", "run_disrt", "shuffle", "shuffle_seamless", "similarity", "square_windows", "summary",
    "texform", "to_frame", "trials_frame",
]
