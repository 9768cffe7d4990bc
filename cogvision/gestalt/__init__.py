"""DiSRT, the Distorted Spatial Relationship Testbench (after Li et al. 2025), as cogvision defines it.

The paper's exact protocol is not public; this is ours, stated in full (see also ``docs/gestalt.md``):

1. **Images** are resized and centre-cropped by the model's own preprocessing (side ``S``).
2. **Distortion** (local texture kept, global relations broken) at strength ``g`` (a g x g grid):
   ``shuffle`` (patches permuted, every patch moves), ``shuffle_seamless`` (same permutation,
   cross-faded borders), ``rotate`` (every patch turned 90/180/270 degrees in place) and ``texform``
   (pooled-statistics synthesis, :mod:`cogvision.texture`, in g x g smooth square windows). Sizes the
   grid does not divide are centre-cropped to a multiple of ``g`` and the three items are resized back
   to ``S``.
3. **Nuisance** (global structure kept): ``local`` (default: a small shift and colour change, then
   band-limited noise; nothing moves by more than 2% of the side), a shift or a colour jitter, whose
   per-image size is chosen by false position (Illinois) so that its pixel MSE to the image equals the
   distortion's.
4. **Trial**: odd-one-out among (image, nuisance, distortion), ``trials`` times per image and cell with
   fresh distortion and nuisance seeds. At each layer the pooled representation (``cls``, ``mean`` or
   ``flat``) gives pairwise similarities (cosine by default); the odd item has the lowest mean
   similarity to the other two; correct when it is the distortion; ties share the credit (1/m for an
   m-way tie). **Nulls**: a structure-blind observer scores 0; the pixel observer (baseline layer
   ``pixels``, negative pixel MSE, matched MSEs tie) scores 1/2 on matched trials.
5. **Graded index** ``D(I, dist) / (D(I, dist) + D(I, nuis))`` with ``D = 1 - similarity``: 0.5 = no more
   sensitive to the distortion than to a pixel-matched nuisance.
6. **Scores** per layer, distortion, strength and Top-K fraction ``k`` (``k = 1`` is dense): accuracy with a
   95% bootstrap interval over images (trials averaged per image) and the number of trials. The model's
   single number is the readout-layer (last probed layer) accuracy averaged over the distortions and
   strengths that are not degenerate (:func:`degenerate_cells`), with the graded index beside it.
7. **Top-K restoration**: the whole protocol again with Top-K sparsity attached at chosen layers.

>>> import torch
>>> from cogvision.gestalt import DisrtProtocol, run_disrt
>>> from cogvision.models import load_model
>>> model = load_model("cogvision.models.builtin:tiny_cnn", device="cpu")
>>> ds = run_disrt(model, torch.rand(2, 3, 64, 64), DisrtProtocol(grids=(2,), n_boot=10))
>>> sorted(ds["correct"].dims)
['distortion', 'image', 'k', 'layer', 'strength', 'trial']
"""

from cogvision.gestalt.distortions import (
    DISTORTIONS,
    crop_to_grid,
    distort,
    rotate,
    shuffle,
    shuffle_seamless,
    square_windows,
    texform,
)
from cogvision.gestalt.nuisance import (
    NUISANCES,
    apply_nuisance,
    band_noise,
    fixed_nuisance,
    local,
    matched_nuisance,
    pixel_mse,
)
from cogvision.gestalt.protocol import Trial, TrialBatch, make_trials, read_features, run_disrt, score_trial
from cogvision.gestalt.readout import graded_index, oddity, pool, similarity
from cogvision.gestalt.scoring import (
    CHANCE,
    MATCH_TOLERANCE,
    NULL_PIXEL,
    NULL_STRUCTURE_BLIND,
    PIXELS,
    add_summary,
    cell_matching,
    degenerate_cells,
    nuisance_matched_fraction,
    summary,
    to_frame,
    trials_frame,
)
from cogvision.gestalt.settings import DisrtProtocol, Distortion, Nuisance, Pooling, Similarity, TokenMode

__all__ = [
    "CHANCE", "DISTORTIONS", "DisrtProtocol", "Distortion", "MATCH_TOLERANCE", "NUISANCES", "NULL_PIXEL",
    "NULL_STRUCTURE_BLIND", "Nuisance", "PIXELS", "Pooling", "Similarity", "TokenMode", "Trial", "TrialBatch",
    "add_summary", "apply_nuisance", "band_noise", "cell_matching", "crop_to_grid", "degenerate_cells", "distort",
    "fixed_nuisance", "graded_index", "local", "make_trials", "matched_nuisance", "nuisance_matched_fraction",
    "oddity", "pixel_mse", "pool", "read_features", "rotate", "run_disrt", "score_trial", "shuffle",
    "shuffle_seamless", "similarity", "square_windows", "summary", "texform", "to_frame", "trials_frame",
]
