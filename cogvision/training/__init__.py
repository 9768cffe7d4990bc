"""The one fitting loop every cogvision module uses.

A module passes its model, its data (a ``torch.utils.data.Dataset``) and a loss function; :func:`fit` handles
the device, mixed precision on CUDA, seeding, the progress bar, validation with early stopping, an atomic
checkpoint each epoch, resumption, gradient clipping and the history. It is built from three parts that can
be used on their own:

- :func:`train_epoch`: one pass over the batches (forward, backward, clipping, optimiser step);
- :class:`EarlyStopping`: the best validation value and the patience counter;
- :class:`LoopState`: model, optimiser, scheduler, scaler, early stopping, history and random number
  generator states, with ``state_dict``/``load_state_dict`` (the checkpoint ``last.pt``).

The optimiser is given one way: either ``optimizer=factory`` (``factory(model) -> Optimizer``) or the default
AdamW configured by ``lr``/``weight_decay``; giving both is an error.

A runnable example is in :func:`fit`'s docstring.
"""

from cogvision.training.loop import (
    CHECKPOINT_NAME,
    FitResult,
    default_optimizer,
    fit,
    train_epoch,
)
from cogvision.training.state import EarlyStopping, LoopState, rng_state, set_rng_state
from cogvision.training.utils import atomic_torch_save, seed_everything, to_device

__all__ = [
    "CHECKPOINT_NAME", "EarlyStopping", "FitResult", "LoopState", "atomic_torch_save", "default_optimizer", "fit",
    "rng_state", "seed_everything", "set_rng_state", "to_device", "train_epoch",
]
