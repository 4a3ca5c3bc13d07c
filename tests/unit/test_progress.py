"""Apply progress: bars per integration on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io

from rich.console import Console

from reconciler.applier import Outcome
from reconciler.model import Action, Change, Fingerprint, Plan
from reconciler.render.progress import ApplyProgress


def changes() -> tuple[Change, ...]:
    return tuple(Change(name, "number", Action.CREATE, (key,), None, {}, "new")
                 for name, key in (("a", "1"), ("a", "2"), ("b", "3")))


def run(console: Console) -> str:
    plan = Plan(changes(), Fingerprint("l", 0, "d"))
    with ApplyProgress(console, plan) as progress:
        progress(Outcome(plan.changes[0], "done"))
        progress(Outcome(plan.changes[1], "failed", "HTTP 409"))
        progress(Outcome(plan.changes[2], "done"))
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def test_plain_lines_when_not_on_a_terminal() -> None:
    text = run(Console(file=io.StringIO(), force_terminal=False, width=200))
    assert text.splitlines() == [
        '[1/3] ok + a.number["1"] register 1 number',
        '[2/3] failed + a.number["2"] register 1 number: HTTP 409',
        '[3/3] ok + b.number["3"] register 1 number',
    ]


def test_a_bar_per_integration_on_a_terminal() -> None:
    text = run(Console(file=io.StringIO(), force_terminal=True, width=120))
    assert "2/2" in text and "1/1" in text and "1 failed" in text
    assert "[1/3]" not in text


def test_a_plain_line_is_what_rich_prints_of_the_markup_one() -> None:
    from reconciler.render.text import outcome_line

    change = Change("a", "subscription", Action.UPDATE, ('cliente[1]/pro',), {}, {}, "changed")
    for status, message in (("done", ""), ("failed", "Campsoft says [b]no[/b] \\[x]"),
                            ("skipped", "skipped: a.number[\"1\"] did not succeed")):
        outcome = Outcome(change, status, message)
        console = Console(file=io.StringIO(), force_terminal=False, width=80, soft_wrap=True,
                          highlight=False)
        console.print(outcome_line(outcome))
        assert console.file.getvalue() == outcome_line(outcome, markup=False) + "\n"  # type: ignore[attr-defined]
