"""`reconcile erp export`: an ERP's clients and services as spec YAML, for a reviewed pull
request (docs/erp.md). Reads the source (all pages, a torn read refused), renders the files
(:mod:`reconciler.sources.export`) and writes only what changed, each file whole or not at
all; never a file without the generated header of this source."""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import click

from reconciler.cli.app import err, handles_errors, main, out
from reconciler.errors import ReconcilerError
from reconciler.runtime import run_async
from reconciler.secrets import parse_reference, resolve
from reconciler.sources import export
from reconciler.sources import registry as erps
from reconciler.sources.erp import ErpClient, ErpDescriptor
from reconciler.specs.erp_config import erp_source
from reconciler.specs.models import ErpSourceSpec

CHANGES_EXIT = 2  # --check: the export would change files


@main.group()
def erp() -> None:
    """ERP facts (HubSoft, IXC Soft) as spec files."""


@erp.command("export")
@click.option("--specs", "specs_dir", type=click.Path(path_type=Path), default=Path("specs"),
              show_default=True, help="The spec directory holding the erp_sources: entry.")
@click.option("--source", required=True, help="The erp_sources: entry to read.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Where the client files go (usually inside the spec directory).")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 2 if the export would change any file (for CI).")
@click.option("--summary", "summary_file", type=click.Path(path_type=Path),
              help="Write a Markdown summary of the changes here (a pull request's body).")
@click.option("--now", "fixed_now", type=click.DateTime(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"]),
              help="The time stamped on what changed (UTC; default: now).")
@handles_errors
def export_cmd(specs_dir: Path, source: str, out_dir: Path, check: bool, summary_file: Path | None,
               fixed_now: datetime | None) -> None:
    """Export an ERP's client services into spec YAML, changing only what the ERP changed."""
    spec, collected = erp_source(specs_dir, source, out=out_dir)
    erp = erps.get(spec.kind)
    current = _generated(out_dir, source)
    config = export.settings(source, erp, spec.status_mapping, spec.plans, spec.packages,
                             collected.plans, collected.packages)
    clients = _read(spec, erp, source)
    stamp = (fixed_now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%MZ")
    summary = export.Summary()
    files = export.render(clients, config, export.previous(current.values()), stamp, summary)
    changed = sorted(name for name in files.keys() | current.keys()
                     if files.get(name) != current.get(name))
    if summary_file is not None:
        summary_file.parent.mkdir(parents=True, exist_ok=True)
        summary_file.write_text(_markdown(source, erp.title, summary, changed), encoding="utf-8")
    _report(erp.title, summary, changed, check)
    if check:
        if changed:
            sys.exit(CHANGES_EXIT)
        return
    _write(out_dir, files, current)


def _generated(out_dir: Path, source: str) -> dict[str, str]:
    """The files of ``out_dir`` an earlier export of ``source`` wrote, name -> text. A file the
    export would write that holds no such header is a user's: refused, never overwritten."""
    if not out_dir.exists():
        return {}
    if not out_dir.is_dir():
        raise ReconcilerError(f"--out {out_dir} is not a directory")
    found = {}
    for path in sorted(out_dir.glob("*.yaml")):
        text = path.read_text(encoding="utf-8", errors="replace")
        header = export.HEADER_RE.match(text)
        if header is not None and header.group(1) == source:
            found[path.name] = text
        elif path.name.startswith(f"{source}-"):
            raise ReconcilerError(f"{path} is not a file this export wrote (no generated header "
                                  f"for {source}); move it away or rename it: the export never "
                                  f"overwrites a hand-written file")
    return found


def _read(spec: ErpSourceSpec, erp: ErpDescriptor, source: str) -> list[ErpClient]:
    """Every client of the ERP, its credentials resolved from their references."""
    base = str(spec.where.doc.base_dir)
    credentials = {}
    for name, value in spec.credentials.items():
        ref = parse_reference(str(value), base)
        credentials[name] = resolve(ref, field=name, integration=source) if ref else str(value)
    options = {"page_size": spec.page_size} if spec.page_size else {}
    reader = erps.reader_class(erp)(spec.url, credentials, source=source, **options)

    async def clients() -> list[ErpClient]:
        try:
            found: list[ErpClient] = await reader.clients()
            return found
        finally:
            await reader.aclose()

    err.print(f"Reading {erp.title} ({source}) at {spec.url}...")
    return run_async(clients())


def _write(out_dir: Path, files: dict[str, str], current: dict[str, str]) -> None:
    """Each changed file replaced whole (written aside, then renamed over); generated files
    no longer produced are removed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if current.get(name) == text:
            continue
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.replace(tmp, out_dir / name)
    for name in current.keys() - files.keys():
        (out_dir / name).unlink()


def _lines(title: str, summary: export.Summary) -> list[tuple[str, int]]:
    return [("new services", len(summary.new)), ("suspensions", len(summary.suspended)),
            ("cancellations", len(summary.cancelled)),
            ("reactivations", len(summary.reactivated)),
            (f"services no longer exported (skipped by the mapping or gone from {title})",
             len(summary.gone)),
            ("services in migration with no earlier export (not exported)",
             len(summary.kept_unknown)),
            ("review comments", summary.review)]


def _report(title: str, summary: export.Summary, changed: list[str], check: bool) -> None:
    out.print(f"{title}: {summary.clients} clients, {summary.services} services exported, "
              f"{summary.skipped} not exported.")
    for what, count in _lines(title, summary):
        if count:
            out.print(f"  {count} {what}")
    for what, unmapped in (("plans", summary.unmapped_plans), ("packages", summary.unmapped_packages)):
        if unmapped:
            listed = ", ".join(f"{k} ({v})" for k, v in sorted(unmapped.items()))
            out.print(f"  {title} {what} not mapped (left out): {listed}")
    verb = "would change" if check else "changed"
    out.print(f"{len(changed)} files {verb}" + (f": {', '.join(changed)}" if changed else "."))


def _markdown(source: str, title: str, summary: export.Summary, changed: list[str]) -> str:
    rows = "\n".join(f"| {what} | {count} |" for what, count in _lines(title, summary))
    shown = {"Suspended": summary.suspended, "Cancelled": summary.cancelled,
             "Reactivated": summary.reactivated, "New": summary.new}
    lists = "".join(f"\n**{what}** (service ids): {', '.join(ids[:50])}"
                    f"{' ...' if len(ids) > 50 else ''}\n" for what, ids in shown.items() if ids)
    return (f"## {title} export: {source}\n\n{summary.clients} clients and {summary.services} "
            f"services exported; {len(changed)} files changed.\n\n| change | count |\n|---|---|\n"
            f"{rows}\n{lists}\nEvery suspension and cancellation above reaches the platforms "
            f"when this pull request is merged and applied; the plan comment shows each change.\n")
