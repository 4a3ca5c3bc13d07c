"""Progress of an apply: a bar per integration on a terminal, one plain line per change elsewhere
(CI logs, cron mail), so that a long apply is never silent."""

from __future__ import annotations

from collections import Counter
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from reconciler.applier import DONE, Outcome
from reconciler.model import Plan
from reconciler.render.text import outcome_line


class ApplyProgress:
    """Called with each outcome as it lands; use as a context manager around the apply."""

    def __init__(self, console: Console, plan: Plan) -> None:
        self.console = console
        self.total = len(plan.changes)
        self.seen = 0
        self.failed: Counter[str] = Counter()
        self.bars: Progress | None = None
        self.tasks: dict[str, TaskID] = {}
        if console.is_terminal and self.total:
            self.bars = Progress(
                TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("[red]{task.fields[failed]} failed[/red]"),
                TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                console=console, transient=False,
            )
            per: Counter[str] = Counter(c.integration for c in plan.changes)
            for name, count in sorted(per.items()):
                self.tasks[name] = self.bars.add_task(name, total=count, failed=0, rate="")

    def __enter__(self) -> ApplyProgress:
        if self.bars is not None:
            self.bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.bars is not None:
            self.bars.stop()

    def __call__(self, outcome: Outcome) -> None:
        self.seen += 1
        name = outcome.change.integration
        if outcome.status != DONE:
            self.failed[name] += 1
        if self.bars is None:  # no terminal: plain lines, as rich would print them there
            line = f"[{self.seen}/{self.total}] {outcome_line(outcome, markup=False)}\n"
            self.console.file.write(line)
            return
        task = self.tasks[name]
        self.bars.advance(task)
        speed = self.bars.tasks[task].speed
        self.bars.update(task, failed=self.failed[name],
                         rate=f"{speed:.1f}/s" if speed else "")
