"""Can a model go through cogvision's harnesses? :func:`validate_model` says, and why not."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from cogvision.models.attention import block_names
from cogvision.models.probe import default_layers, list_layers


@dataclass
class ModelReport:
    """Result of :func:`validate_model`.

    Attributes
    ----------
    ok : bool
        True when a forward pass works and at least one probe layer was found.
    problems : list of str
        What stops the model from going through the harnesses.
    output_shape : tuple of int or None
        Output of a forward pass on one image.
    n_parameters : int
    default_layers : list of str
        Layers the harnesses probe by default.
    attention_blocks : list of str
        ViT blocks whose attention maps can be read (empty for other models).
    """

    ok: bool
    problems: list[str] = field(default_factory=list)
    output_shape: tuple[int, ...] | None = None
    n_parameters: int = 0
    default_layers: list[str] = field(default_factory=list)
    attention_blocks: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"usable: {'yes' if self.ok else 'no'}", f"parameters: {self.n_parameters:,}",
                 f"output shape: {self.output_shape}", f"default layers: {self.default_layers}",
                 f"attention blocks: {self.attention_blocks or 'none (not a timm-style ViT)'}"]
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)


@torch.no_grad()
def validate_model(model: nn.Module, image_size: int | tuple[int, int] = 224) -> ModelReport:
    """Check that ``model`` takes (1, 3, H, W) images, returns a tensor, and has layers to probe.

    Parameters
    ----------
    model
        The network to check.
    image_size
        Side (or (H, W)) of the test input.

    Returns
    -------
    ModelReport
        ``ok`` and the ``problems`` found; never raises for a bad model.
    """
    if not isinstance(model, nn.Module):
        return ModelReport(ok=False, problems=[f"expected a torch.nn.Module, got {type(model).__name__}"])
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    report = ModelReport(ok=True, n_parameters=sum(p.numel() for p in model.parameters()))
    params = list(model.parameters())
    device = params[0].device if params else torch.device("cpu")
    was_training = model.training
    model.eval()
    try:
        output = model(torch.zeros(1, 3, *size, device=device))
        output = output[0] if isinstance(output, (tuple, list)) else output
        if hasattr(output, "last_hidden_state"):
            output = output.last_hidden_state
        if isinstance(output, torch.Tensor):
            report.output_shape = tuple(output.shape)
        else:
            report.problems.append(f"forward returns {type(output).__name__}, expected a tensor")
    except Exception as err:  # any failure of a user's model is reported, not raised
        report.problems.append(
            f"forward pass on a (1, 3, {size[0]}, {size[1]}) image failed: {type(err).__name__}: {err}"
        )
    finally:
        model.train(was_training)
    if not list_layers(model):
        report.problems.append("the model has no named sub-modules, so no layer can be probed")
    else:
        try:
            report.default_layers = default_layers(model)
        except ValueError as err:
            report.problems.append(str(err))
    report.attention_blocks = block_names(model)
    report.ok = not report.problems
    return report
