"""One error handler for every command: user errors exit 2 with one plain line, internal errors exit 1.

:func:`handle_errors` wraps a command function; ``cogvision.cli`` applies it to every registered command, so
a command only raises ``ValueError``/``OSError`` (naming the file, field or flag and what was expected) and
never prints errors itself. Messages are escaped, so values in square brackets survive rich markup.
Set ``COGVISION_DEBUG=1`` to get the traceback instead.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import signal
import threading
from typing import Any, Callable, NoReturn, TypeVar

import click
import typer
import yaml
from rich.console import Console
from rich.markup import escape

from cogvision.reporting import is_quiet

F = TypeVar("F", bound=Callable[..., Any])

#: Exceptions that describe a bad input or environment: one ``error:`` line, exit code 2.
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError, EOFError, pickle.UnpicklingError,
                                                yaml.YAMLError)
USER_EXIT, INTERNAL_EXIT, INTERRUPT_EXIT = 2, 1, 130

stderr = Console(stderr=True, soft_wrap=True)


def one_line(message: object) -> str:
    """``message`` as one line (whitespace runs, newlines included, become one space)."""
    return " ".join(str(message).split())


def report(message: object, kind: str = "error", style: str = "red") -> None:
    """Print ``kind: message`` on stderr, markup in ``message`` escaped."""
    stderr.print(f"[{style}]{kind}:[/{style}] {escape(one_line(message))}")


def fail(message: object, code: int = USER_EXIT) -> NoReturn:
    """Report ``message`` as an error and exit with ``code``."""
    report(message)
    raise typer.Exit(code=code)


class _LogHandler(logging.Handler):
    """``warning:`` lines for warnings and errors; plain ``info`` lines unless ``--quiet``."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            report(record.getMessage(), kind="warning", style="yellow")
        elif not is_quiet():
            stderr.print(escape(one_line(record.getMessage())), style="dim")


def _configure_logging() -> None:
    logger = logging.getLogger("cogvision")
    logger.setLevel(logging.INFO)
    if not any(isinstance(h, _LogHandler) for h in logger.handlers):
        logger.addHandler(_LogHandler(level=logging.INFO))
        logger.propagate = False


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def handle_errors(func: F) -> F:
    """Wrap a command so that every exception ends as one line on stderr and a defined exit code.

    ``ValueError``, ``OSError`` (missing file, file where a folder was expected, ...), ``EOFError``,
    unpickling and YAML errors exit 2; ``KeyboardInterrupt`` and ``SIGTERM`` exit 130 (writers have already
    cleaned up); anything else is an internal error and exits 1. ``typer``/``click`` exits pass through.
    """
    if getattr(func, "_cogvision_handled", False):
        return func

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = os.environ.get("COGVISION_DEBUG", "") not in ("", "0")
        _configure_logging()
        previous = None
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.exceptions.Abort, click.ClickException,
                SystemExit):
            raise
        except typer.BadParameter as err:  # raised inside a command body: one line, like every other user error
            fail(err.format_message())
        except KeyboardInterrupt:
            if debug:
                raise
            report("interrupted; earlier results are unchanged and no half-written output was kept "
                   "(a resumable run says above where its checkpoints are)")
            raise typer.Exit(code=INTERRUPT_EXIT) from None
        except USER_ERRORS as err:
            if debug:
                raise
            fail(err)
        except Exception as err:  # noqa: BLE001 - the last line of defence: no traceback for the user
            if debug:
                raise
            fail(f"internal error ({type(err).__name__}: {one_line(err)}); rerun with COGVISION_DEBUG=1 for the "
                 "traceback and report it", code=INTERNAL_EXIT)
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    wrapper._cogvision_handled = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def handle_all(app: typer.Typer) -> typer.Typer:
    """Apply :func:`handle_errors` to every command of ``app`` and of its sub-apps (in place)."""
    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = handle_errors(info.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            handle_all(group.typer_instance)
    return app
