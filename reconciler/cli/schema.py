"""`reconcile schema`: the JSON Schema of a spec file, for editors and CI.

The schema is generated from the spec models each time (see :mod:`reconciler.specs.schema`), so
the file an operator's repository keeps is only as current as the last `reconcile schema --out`;
`--check` lets a CI job fail when an upgrade changed the language and the copy was not refreshed.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from reconciler.bounds import TooLarge, read_bounded
from reconciler.cli.app import handles_errors, main, out
from reconciler.errors import ReconcilerError
from reconciler.specs.models import SECTIONS
from reconciler.specs.schema import render


@main.command("schema")
@click.option("--out", "out_file", type=click.Path(path_type=Path, dir_okay=False),
              metavar="FILE", help="Write the schema to FILE (directories are created) instead "
                                   "of standard output.")
@click.option("--check", "check_file", type=click.Path(path_type=Path, dir_okay=False),
              metavar="FILE", help="Do not write: exit 1 if FILE is not the schema this version "
                                   "generates (for CI).")
@handles_errors
def schema(out_file: Path | None, check_file: Path | None) -> None:
    """Print the JSON Schema (draft 2020-12) of one spec file.

    Point an editor at it (yaml-language-server) to complete keys and flag mistakes as you
    type; `reconcile validate` remains the judge.
    """
    if out_file is not None and check_file is not None:
        raise ReconcilerError("--out and --check are exclusive: write the schema, or check a copy")
    text = render()
    if check_file is not None:
        _check(check_file, text)
    elif out_file is not None:
        _write(out_file, text)
    else:
        click.echo(text, nl=False)


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ReconcilerError(f"cannot write {path}: {exc.strerror or exc}; choose another "
                              f"--out path") from None
    out.print(f"Wrote the spec schema ({len(SECTIONS)} sections: {', '.join(SECTIONS)}) to "
              f"{escape(str(path))}.")


def _check(path: Path, text: str) -> None:
    regenerate = f"regenerate it with `reconcile schema --out {path}`"
    try:
        # Bounded: a copy much larger than the schema cannot be it, and is not read whole.
        current = read_bounded(path, 4 * len(text.encode()), "spec schema").decode("utf-8")
    except OSError as exc:
        raise ReconcilerError(f"cannot read {path}: {exc.strerror or exc}; generate it with "
                              f"`reconcile schema --out {path}`") from None
    except TooLarge as exc:
        raise ReconcilerError(f"{exc}: it is not the schema of this version; {regenerate}") from None
    except UnicodeDecodeError:
        raise ReconcilerError(f"{path} is not a JSON Schema (not UTF-8 text): regenerate it with "
                              f"`reconcile schema --out {path}`") from None
    if current != text:
        raise ReconcilerError(f"{path} is not the schema of this version of reconcile: "
                              f"regenerate it with `reconcile schema --out {path}`")
    out.print(f"{escape(str(path))} is up to date.")
