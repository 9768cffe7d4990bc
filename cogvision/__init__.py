"""cogvision: models of human-like visual attention on any vision network.

Modules
-------
models      load and probe any vision network (features, ViT attention, Top-K sparsity)
training    the one fitting loop every module uses
gestalt     DiSRT: sensitivity to global spatial structure
foveation   foveated texture / blur front-ends
brain       fMRI encoding models (RidgeCV, factorised, transformer)
scanpath    OAT object-level scanpath transformer and scanpath metrics
gaze        ViTGaze gaze following
"""

__version__ = "0.1.0"
