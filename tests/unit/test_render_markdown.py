"""Markdown plans and drift reports (PR comments), and the JSON formats, against golden files.

The plans come from the pure planner run on the demo ISP's specs (tests/golden/scenarios.py);
the Markdown is also parsed back with a CommonMark parser (markdown-it, GitHub's dialect minus
extensions) to check what a reviewer would actually see: no injected HTML, every ``<details>``
closed, the user's text shown literally.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator

import pytest
from markdown_it import MarkdownIt

from reconciler import __version__, safety
from reconciler.cli.app import emit
from reconciler.model import Action, Change, Drift, Fingerprint, Note, Plan
from reconciler.render import jsonplan, markdown
from reconciler.secrets import resolve_credentials
from tests.golden import scenarios
from tests.golden.golden import as_json, assert_golden
from tests.golden.scenarios import CREATED_AT, NOW, PLATFORMS, SECRETS

EXPIRES_AT = "2026-11-26T20:15:03+00:00"
NASTY = "<script>alert(1)</script> **bold** | pipe [click](https://evil.example) `tick` &amp;"


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Spec sources read tests/golden/specs/...:N whatever the directory pytest started in; the
    specs' secrets are set, so a leak would show."""
    monkeypatch.chdir(scenarios.ROOT)
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    yield


def plan_md(scenario: str, *, allow: dict[str, int] | None = None, **kwargs: int) -> str:
    plan, desired, known, observed = scenarios.planned(scenario)
    return markdown.render_plan(
        plan, platforms=PLATFORMS,
        limits=safety.usage(plan, known, observed, desired, allow or {}),
        refused=safety.check(plan, known, observed, desired, allow or {}), **kwargs)


def html_of(md: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(md)


def big_plan(links: int = 1500, warnings: int = 40) -> Plan:
    """A plan of ``links`` unlinks over two integrations, with long reasons and warnings."""
    changes = tuple(
        Change(f"stfc-{n % 2}", "link", Action.UNLINK, (str(1130000000 + n),),
               {"service": 5000 + n, "plan": "STFC Ilimitado"}, None,
               f"service {5000 + n} is cancelled (client number {n} of a long list of clients)")
        for n in range(links))
    notes = tuple(Note(f'stfc-0.link["{n}"]', "stfc-0", f"held by service {n}: left alone")
                  for n in range(warnings))
    return Plan(changes, Fingerprint("l", 1, "d"), warnings=notes,
                integrations=("stfc-0", "stfc-1"))


# --- golden files ------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["rollout", "day_two"])
def test_plan_markdown_matches_its_golden_file(scenario: str) -> None:
    assert_golden(f"plan_{scenario}.md", plan_md(scenario))


@pytest.mark.parametrize("scenario", ["rollout", "day_two"])
def test_plan_json_matches_its_golden_file(scenario: str) -> None:
    plan, *_ = scenarios.planned(scenario)
    data = jsonplan.plan_to_json(plan, created_at=CREATED_AT, expires_at=EXPIRES_AT)
    assert data["tool_version"] == __version__
    assert_golden(f"plan_{scenario}.json", as_json(data))
    again = jsonplan.plan_from_json(json.loads(as_json(data)), path="plan.json")
    assert again.changes == plan.changes and again.adopt == plan.adopt  # a plan file round-trips


def test_drift_markdown_and_json_match_their_golden_files() -> None:
    items, checked = scenarios.drift_items(), sorted(PLATFORMS)
    assert_golden("drift.md", markdown.render_drift(items, checked, now=NOW))
    assert_golden("drift.json", as_json(jsonplan.drift_to_json(items, checked=checked,
                                                               created_at=NOW)))


def test_empty_plan_and_no_drift_say_so_without_tables() -> None:
    empty = Plan((), Fingerprint("l", 1, "d"), integrations=("stfc-sp",),
                 converging=(Note('stfc-sp.link["1130001004"]', "stfc-sp", "in the removal queue"),))
    md = markdown.render_plan(empty, platforms=PLATFORMS)
    assert_golden("plan_empty.md", md)
    assert "no changes" in md.splitlines()[1].lower() and "|" not in md
    assert "<details>" not in md and "in the removal queue" in md
    drift = markdown.render_drift([], ["stfc-sp"], now=NOW)
    assert "no drift on stfc-sp" in drift and "|" not in drift


# --- what the reviewer sees --------------------------------------------------------------------


def test_counts_come_first_then_a_closed_section_per_integration_then_warnings() -> None:
    md = plan_md("rollout")
    lines = md.splitlines()
    table = lines.index("| integration | platform | + create | > link | record as managed | cost |")
    first_section = next(i for i, line in enumerate(lines) if line.startswith("<details>"))
    warnings = lines.index("**Warnings:** 1")
    assert table < first_section < warnings
    assert "| stfc-sp | saperx-stfc | 26 | 7 | 5 | 3 reads, 13 writes, under 1 s at 5 req/s |" in lines
    assert "| **total** | | **36** | **7** | **5** | |" in lines
    page = html_of(md)
    assert page.count("<details>") == page.count("</details>") == 3
    assert "<summary><b>stfc-sp</b> (saperx-stfc): 26 to create, 7 to link</summary>" in page


def test_safety_limits_show_usage_and_the_exact_allow_that_passes() -> None:
    md = plan_md("day_two")
    assert "**Safety: apply refuses this plan** (exit 3): 1 limit exceeded." in md
    assert ("| `stfc-sp.unlink` | unlinks 8 numbers of 17 | 47.1% | 10% and 200 | **over**: "
            "pass `--allow stfc-sp.unlink=8` if intended |") in md
    assert ("| `qualifica.delete` | cancels 1 subscription of 5 | 20.0% | 10% and 200 | ok (under "
            "10 in all: only the count limit applies) |") in md
    allowed = plan_md("day_two", allow={"stfc-sp.unlink": 8})
    assert "**Safety:** within every limit." in allowed
    assert "over, allowed by `--allow stfc-sp.unlink=8`" in allowed


def test_cancels_are_counted_as_cancels_and_content_grouped_per_service() -> None:
    md = plan_md("day_two")
    assert "1 to cancel" in md.splitlines()[1] and "to delete" not in md
    block = md[md.index("<summary><b>qualifica</b>"):]
    assert block.index("@@ service 1007 @@") < block.index('- qualifica.subscription["rafael.gomes/pro"]')


def test_user_text_is_escaped_outside_code_and_literal_inside() -> None:
    plan = Plan((Change("stfc-sp", "link", Action.LINK, ("1130001001",), None,
                        {"service": 1, "plan": "x"}, NASTY),),
                Fingerprint("l", 1, "d"), warnings=(Note(NASTY, "stfc-sp", NASTY),),
                integrations=("stfc-sp",))
    md = markdown.render_plan(plan, platforms={"stfc-sp": "<i>saperx</i>"})
    page = html_of(md)
    assert "<script>" not in page and "<i>saperx</i>" not in page and "<strong>bold" not in page
    assert '<a href="https://evil.example">' not in page
    warning = re.search(r"<li>(.*)</li>", page)
    assert warning is not None and "&lt;script&gt;alert(1)&lt;/script&gt; **bold** | pipe" in warning[1]
    code = page[page.index('<code class="language-diff">'):]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; **bold** | pipe [click]" in code  # as typed
    assert "&amp;amp;" in page  # an entity the user typed is shown, not decoded


def test_a_value_with_backticks_cannot_close_the_code_block() -> None:
    change = Change("stfc-sp", "link", Action.LINK, ("1",), None, {}, "```\n# heading\n<b>x</b>")
    md = markdown.render_plan(Plan((change,), Fingerprint("l", 1, "d")), platforms={})
    page = html_of(md)
    assert "<h1>" not in page and "<b>x</b>" not in page
    assert page.count('<code class="language-diff">') == 1


# --- truncation --------------------------------------------------------------------------------


@pytest.mark.parametrize("budget", [markdown.MIN_CHARS, 7_000, markdown.MAX_CHARS])
def test_a_long_plan_is_cut_between_lines_with_sections_closed_and_a_note(budget: int) -> None:
    plan = big_plan()
    full = markdown.render_plan(plan, platforms={}, max_chars=10_000_000)
    assert len(full) > markdown.MAX_CHARS  # the test plan is long enough to be cut
    md = markdown.render_plan(plan, platforms={}, max_chars=budget)
    assert len(md) <= budget
    whole = set(full.splitlines())
    note = [line for line in md.splitlines() if line.startswith(">")]
    assert all(line in whole for line in md.splitlines() if line not in note)  # no line cut
    shown = sum(1 for line in md.splitlines() if line.startswith("< stfc-"))
    left = len(plan.changes) - shown
    assert note[0].startswith(f"> **Truncated to fit a comment:** {left:,} of 1,500 changes")
    assert "warnings" in " ".join(note)  # the warnings left out are said too
    page = html_of(md)
    assert page.count("<details>") == page.count("</details>")
    assert md.count("```") % 2 == 0 and page.count("<pre>") == page.count("</pre>")
    assert page.rstrip().endswith("</blockquote>")  # the note is outside any code block


def test_the_note_names_integrations_left_out_entirely_or_in_part() -> None:
    md = markdown.render_plan(big_plan(), platforms={}, max_chars=40_000)
    note = next(line for line in md.splitlines() if line.startswith("> **Truncated"))
    match = re.search(r"\((stfc-0: [\d,]+ of 750); stfc-1: all 750\)", note)
    assert match is not None, note


def test_a_plan_under_the_budget_is_not_cut() -> None:
    md = plan_md("day_two", max_chars=markdown.MIN_CHARS * 5)
    assert "Truncated" not in md and len(md) <= markdown.MIN_CHARS * 5


def test_a_long_drift_report_is_cut_the_same_way() -> None:
    items = [Drift(f'stfc-sp.link["{n}"]', "stfc-sp", "changed", {"blocked": False},
                   {"blocked": True}, ("blocked",), "2026-11-20T08:00:00+00:00")
             for n in range(2000)]
    md = markdown.render_drift(items, ["stfc-sp"], now=NOW, max_chars=20_000)
    assert len(md) <= 20_000
    shown = sum(1 for line in md.splitlines() if line.startswith("~ stfc-sp"))
    assert 0 < shown < 2000
    assert f"{2000 - shown:,} of 2,000 differences not shown (stfc-sp: {2000 - shown:,} of 2,000)" in md
    assert html_of(md).count("<details>") == html_of(md).count("</details>") == 1


# --- drift -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("first_seen", "said"), [
    (None, "first seen now"),
    ("2026-11-26T07:59:30+00:00", "first seen now"),
    ("2026-11-26T07:59:00+00:00", "first seen 1 minute ago"),
    ("2026-11-26T05:00:00+00:00", "first seen 3 hours ago"),
    ("2026-11-25T08:00:00+00:00", "first seen 1 day ago"),
    ("2026-11-01T09:00:00+01:00", "first seen 25 days ago"),
])
def test_drift_age_is_relative_to_now(first_seen: str | None, said: str) -> None:
    item = Drift('stfc-sp.number["1"]', "stfc-sp", "missing", {}, None, (), first_seen)
    assert markdown.age(item, NOW) == said


def test_drift_report_counts_kinds_and_does_not_count_converging_as_drift() -> None:
    md = markdown.render_drift(scenarios.drift_items(), sorted(PLATFORMS), now=NOW)
    assert md.splitlines()[1] == ("### reconcile drift: 6 differences on campsoft, "
                                  "qualifica, stfc-sp")
    assert "| stfc-sp | 2 | 1 | 1 | 1 |" in md
    assert "    blocked: False (applied) -> True (on the platform)" in md
    assert "Oldest: `stfc-sp.link[\"1155002009\"]`, first seen 25 days ago." in md
    only = markdown.render_drift(scenarios.drift_items()[4:5], ["stfc-sp"], now=NOW)
    assert "no drift on stfc-sp" in only and "converging" in only


# --- secrets -----------------------------------------------------------------------------------


def test_no_secret_reaches_the_printed_documents(capsys: pytest.CaptureFixture[str]) -> None:
    """The specs' credentials resolved (as a run does), and one of them echoed back by a
    platform into a note: the Markdown and JSON the CLI prints mask it."""
    plan, desired, *_ = scenarios.planned("day_two")
    resolved = resolve_credentials(desired.integrations["stfc-sp"])
    token = resolved["token"]
    assert token in SECRETS.values()
    echoed = dataclasses.replace(plan, warnings=(
        *plan.warnings, Note("stfc-sp", "stfc-sp", f"the platform said: bad token {token}")))
    emit(markdown.render_plan(echoed, platforms=PLATFORMS))
    emit(json.dumps(jsonplan.plan_to_json(echoed, created_at=CREATED_AT)))
    printed = capsys.readouterr().out
    assert "the platform said: bad token" in printed and token not in printed
    for secret in SECRETS.values():
        assert secret not in printed


def test_a_partial_plan_says_what_it_was_narrowed_to() -> None:
    plan, *_ = scenarios.planned("day_two")
    narrowed = dataclasses.replace(plan, targets=('stfc-sp.link["1130001004"]',),
                                   excludes=("qualifica",))
    md = markdown.render_plan(narrowed, platforms=PLATFORMS)
    assert md.splitlines()[1].startswith("### reconcile partial plan: 1 to update")
    assert ('**Partial plan** (`--target stfc-sp.link["1130001004"]`, `--exclude qualifica`): '
            "the rest of the specs was not planned") in md
    empty = dataclasses.replace(narrowed, changes=(), forget=())
    assert markdown.render_plan(empty, platforms=PLATFORMS).splitlines()[1] == (
        "### reconcile partial plan: no changes in the targeted part")
