"""`cogvision models list|inspect`; the docstring examples of every module run as doctests in `make test`."""

import pytest
from typer.testing import CliRunner

from cogvision.cli import app

runner = CliRunner()


def test_help_lists_subcommands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0 and "models" in result.output


def test_models_list_and_inspect():
    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0 and "torchvision" in result.output and "timm" in result.output
    result = runner.invoke(app, ["models", "inspect", "cogvision.models.builtin:tiny_vit"])
    assert result.exit_code == 0, result.output
    assert "blocks.3" in result.output and "attention blocks" in result.output and "usable: yes" in result.output


@pytest.mark.parametrize("args, message", [
    (["models", "inspect", "timm:not_a_model_xyz"], "timm has no model"),
    (["models", "inspect", "cogvision.models.builtin:tiny_cnn", "--weights", "/nonexistent/w.pth"], "does not exist"),
])
def test_inspect_errors_are_clear(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


