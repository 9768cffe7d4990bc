"""The ``cogvision`` command line: one sub-command per job."""

from __future__ import annotations

import typer

import cogvision
from cogvision.commands import demo, disrt, fit_encoder, foveate, gaze, models, rsa, scanpath
from cogvision.commands._errors import handle_all
from cogvision.reporting import set_quiet

# rich_markup_mode=None: plain help, and a flag typer itself rejects (a missing file, a value outside a choice) is
# reported as plain lines ("Error: Invalid value for '--weights': ...") rather than inside a box, like every other
# error.
app = typer.Typer(help="cogvision: models of human-like visual attention on any vision network.",
                  no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cogvision {cogvision.__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the cogvision version and exit."),
         quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or info lines; only results, "
                                                                 "warnings and errors.")) -> None:
    """cogvision: models of human-like visual attention on any vision network."""
    set_quiet(quiet)


app.command("demo")(demo.demo)
app.add_typer(models.app, name="models")
app.command("disrt")(disrt.disrt)
app.command("foveate")(foveate.foveate)
app.command("fit-encoder")(fit_encoder.fit_encoder)
app.command("rsa")(rsa.rsa)
app.add_typer(scanpath.app, name="scanpath")
app.add_typer(gaze.app, name="gaze")
handle_all(app)  # one error handler for every command: user errors exit 2 with one line, no traceback

if __name__ == "__main__":
    app()
