"""Load and probe any vision network.

>>> from cogvision.models import load_model, extract_features
>>> model = load_model("builtin:tiny_cnn", device="cpu")
>>> import torch; features = extract_features(model, torch.rand(2, 3, 64, 64), ["features.1"])
>>> features["features.1"].dims
('stimulus', 'channel', 'y', 'x')
"""

from cogvision.models import builtin  # registers the builtin constructors
from cogvision.models.attention import (
    AttentionRecorder,
    TokenLayout,
    attention_modules,
    block_names,
    explicit_attention,
    token_layout,
)
from cogvision.models.loading import (
    MODEL_SOURCES,
    SPEC_EXAMPLES,
    load_model,
    split_spec,
)
from cogvision.models.preprocess import (
    Preprocessing,
    preprocessing_for,
    set_preprocessing,
)
from cogvision.models.probe import (
    FEATURE_DIMS,
    FeatureRecorder,
    default_layers,
    extract_attention,
    extract_features,
    get_layer,
    list_layers,
)
from cogvision.models.registry import BUILTIN_MODELS, register_model
from cogvision.models.sparsity import TOKEN_MODES, TopKHandle, attach_topk, topk_sparsify
from cogvision.models.validate import ModelReport, validate_model
from cogvision.models.weights import apply_state_dict, read_state_dict

__all__ = [
    "BUILTIN_MODELS",
    "FEATURE_DIMS",
    "MODEL_SOURCES",
    "SPEC_EXAMPLES",
    "TOKEN_MODES",
    "AttentionRecorder",
    "FeatureRecorder",
    "ModelReport",
    "Preprocessing",
    "TokenLayout",
    "TopKHandle",
    "apply_state_dict",
    "attach_topk",
    "attention_modules",
    "block_names",
    "builtin",
    "default_layers",
    "explicit_attention",
    "extract_attention",
    "extract_features",
    "get_layer",
    "list_layers",
    "load_model",
    "preprocessing_for",
    "read_state_dict",
    "register_model",
    "set_preprocessing",
    "split_spec",
    "token_layout",
    "topk_sparsify",
    "validate_model",
]
