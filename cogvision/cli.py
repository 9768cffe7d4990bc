"""The ``cogvision`` command line: one sub-command per job."""

from __future__ import annotations

import typer

from cogvision.commands import demo, models

app = typer.Typer(help="cogvision: models of human-like visual attention on any vision network.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.add_typer(models.app, name="models")
app.command("demo")(demo.demo)


if __name__ == "__main__":
    app()
