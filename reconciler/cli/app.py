"""The `reconcile` group and what its commands share: parse options, call the core, render, and
exit with a clear code.

Exit codes (as Terraform's -detailed-exitcode): 0 success and nothing to do, 1 error,
2 success with changes present (plan --detailed-exitcode) or drift found (drift).
"""

from __future__ import annotations

import functools
import importlib
import logging
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from reconciler import __version__
from reconciler.errors import ReconcilerError
from reconciler.secrets import redact

EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2
F = TypeVar("F", bound=Callable[..., Any])

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))


def handles_errors(func: F) -> F:
    """Turn project errors into one clear message and their exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ReconcilerError as exc:
            err.print(f"[red]Error:[/red] {escape(redact(str(exc)))}")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print("[red]Interrupted.[/red]")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def emit(document: str) -> None:
    """Print a machine or Markdown document on stdout, every secret this process has resolved
    masked: the last gate before a CI log, a PR comment or a file."""
    click.echo(redact(document if document.endswith("\n") else document + "\n"), nl=False)


def confirm(question: str, *, what: str, instead: str) -> None:
    """Ask for a typed "yes" on a terminal; without one, refuse: ``what`` needs a confirmation
    (pass --auto-approve ``instead``). Only ever called when --auto-approve was not given."""
    if not sys.stdin.isatty():
        raise ReconcilerError(f"{what} needs a confirmation: run it on a terminal, or pass "
                              f"--auto-approve {instead}")
    answer = click.prompt(f"\n{question} Only 'yes' is accepted", default="", show_default=False,
                          err=True)
    if answer.strip() != "yes":
        raise ReconcilerError(f"{what} cancelled: nothing was changed")


def parse_duration(_ctx: object, _param: object, value: str) -> float:
    """'30', '30s', '2m' or '1h' as seconds."""
    text = value.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a duration such as 30s, 2m or 1h") from None


def parse_allow(_ctx: object, _param: object, values: tuple[str, ...]) -> dict[str, int]:
    """--allow LIMIT=N, repeatable, as {LIMIT: N}."""
    allowed: dict[str, int] = {}
    for value in values:
        name, _, count = value.partition("=")
        if not name or not count.strip().isdigit():
            raise click.BadParameter(f"{value!r} is not LIMIT=N, e.g. stfc-sp.unlink=412")
        allowed[name.strip()] = int(count)
    return allowed


def allow_option(func: F) -> F:
    return click.option(
        "--allow", "allow", multiple=True, callback=parse_allow, metavar="LIMIT=N",
        help="Accept going over a safety limit by exactly N (e.g. stfc-sp.unlink=412); repeatable.",
    )(func)


FORMATS = ("text", "json", "markdown")


def format_option(func: F) -> F:
    """``--format text|json|markdown`` (and ``--json``, kept as its short form), passed to the
    command as ``fmt``. With json or markdown, stdout carries that document only."""

    @functools.wraps(func)
    def wrapper(*args: Any, fmt: str, as_json: bool, **kwargs: Any) -> Any:
        return func(*args, fmt="json" if as_json else fmt, **kwargs)

    wrapper = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")(wrapper)
    wrapper = click.option(
        "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
        help="text for a terminal, json for machines (docs/json.md), markdown for a PR comment.",
    )(wrapper)
    return wrapper  # type: ignore[return-value]


def max_chars_option(func: F) -> F:
    """``--max-chars N``, beside :func:`format_option`: how long a Markdown document may be."""
    from reconciler.render import markdown  # imported with the command that renders it

    return click.option(
        "--max-chars", "max_chars", type=click.IntRange(min=markdown.MIN_CHARS),
        default=markdown.MAX_CHARS, show_default=True,
        help="With --format markdown: cut the document to N characters (a PR comment's limit).",
    )(func)


def lock_option(func: F) -> F:
    return click.option(
        "--lock-timeout", default="0s", show_default=True, callback=parse_duration,
        help="How long to wait for another run's lock on the state (30s, 2m...).",
    )(func)


def state_option(func: F) -> F:
    return click.option(
        "--state", "state", envvar="RECONCILER_STATE", metavar="URL",
        help="State database URL (default sqlite:///state/reconciler.db; env RECONCILER_STATE).",
    )(func)


def workspace_options(func: F) -> F:
    func = state_option(func)
    func = click.option(
        "--specs", "specs", envvar="RECONCILER_SPECS", default="specs", show_default=True,
        type=click.Path(path_type=Path), help="Directory of spec files (env RECONCILER_SPECS).",
    )(func)
    return func


# Each command by name, and the modules beside this one that register it (and its
# subcommands): a command's module is imported only when that command runs (or `--help` lists
# them all), so that `reconcile --version` or `reconcile validate` does not import the applier,
# the state database, the simulators... tests/unit/test_cli_startup.py checks the table.
COMMANDS: dict[str, tuple[str, ...]] = {
    "apply": ("plan",), "plan": ("plan",), "drift": ("drift",), "import": ("importing",),
    "validate": ("inspect",), "check": ("inspect",), "sync": ("inspect",),
    "show": ("inspect", "numbers"), "feasibility": ("feasibility",),
    "cdr": ("billing",), "billing": ("billing", "charges"), "schedule": ("schedule",),
    "schema": ("schema",), "lock": ("admin",), "sim": ("admin",), "state": ("state",),
    "erp": ("erp",),
}


class LazyGroup(click.Group):
    """A group whose commands are registered by their modules when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        for module in COMMANDS.get(cmd_name, ()):
            importlib.import_module(f"reconciler.cli.{module}")
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconcile")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Keep an ISP's third-party platforms in line with the specs declared in git."""
    _setup_logging(verbose)


def warn(message: str) -> None:
    err.print(f"[yellow]Warning:[/yellow] {escape(redact(message))}")


def spec_warnings(settings: Mapping[str, Any]) -> None:
    """The specs' warnings (valid, but doubtful: see ``Issues.warn``), each on stderr."""
    for message in settings.get("warnings", ()):
        warn(message)


def now(after: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=after)).isoformat(timespec="seconds")

