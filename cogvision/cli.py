"""The ``cogvision`` command line: one sub-command per job."""

from __future__ import annotations

import typer

from cogvision.commands import demo, disrt, fit_encoder, foveate, gaze, models, rsa, scanpath

app = typer.Typer(help="cogvision: models of human-like visual attention on any vision network.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.command("demo")(demo.demo)
app.add_typer(models.app, name="models")
app.command("disrt")(disrt.disrt)
app.command("foveate")(foveate.foveate)
app.command("fit-encoder")(fit_encoder.fit_encoder)
app.command("rsa")(rsa.rsa)
app.add_typer(scanpath.app, name="scanpath")
app.add_typer(gaze.app, name="gaze")


if __name__ == "__main__":
    app()
