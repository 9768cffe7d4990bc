"""Load and probe any vision network.

>>> from cogvision.models import load_model, extract_features
>>> model = load_model("cogvision.models.builtin:tiny_cnn", device="cpu")
>>> import torch; ds = extract_features(model, torch.rand(2, 3, 64, 64), ["features.1"])
>>> ds["features.1"].dims
('stimulus', 'features.1/channel', 'features.1/y', 'features.1/x')
"""

from cogvision.models.attention import AttentionRecorder, TokenLayout, block_names, explicit_attention, token_layout
from cogvision.models.loading import SPEC_EXAMPLES, load_model
from cogvision.models.preprocess import Preprocessing, preprocessing_for, set_preprocessing
from cogvision.models.probe import (
    FeatureRecorder, default_layers, extract_attention, extract_features, get_layer, list_layers,
)
from cogvision.models.sparsity import TopKHandle, attach_topk, topk_sparsify
from cogvision.models.validate import ModelReport, validate_model
from cogvision.models.weights import apply_state_dict, read_state_dict

__all__ = [
    "AttentionRecorder", "FeatureRecorder", "ModelReport", "Preprocessing", "SPEC_EXAMPLES", "TokenLayout",
    "TopKHandle", "apply_state_dict", "attach_topk", "block_names", "default_layers", "explicit_attention",
    "extract_attention", "extract_features", "get_layer", "list_layers", "load_model", "preprocessing_for",
    "read_state_dict", "set_preprocessing", "token_layout", "topk_sparsify", "validate_model",
]
