"""The text plan: content changes under their client service, bookkeeping listed, summary words."""

from __future__ import annotations

import io

from rich.console import Console

from reconciler.model import Action, Change, Fingerprint, Plan, Resource
from reconciler.render.text import SHOWN, render_plan


def render(plan: Plan) -> str:
    buffer = io.StringIO()
    render_plan(plan, Console(file=buffer, width=300, no_color=True, highlight=False),
                platforms={"q": "qualifica", "c": "campsoft"})
    return buffer.getvalue()


def sub(integration: str, key: str, service: int, action: Action) -> Change:
    attrs = {"service": service, "product": "pro", "package": "cursos", "user": key.split("/")[0]}
    before, after = (attrs, None) if action is Action.DELETE else (None, attrs)
    return Change(integration, "subscription", action, (key,), before, after, f"why {key}")


def plan_of(*changes: Change, adopt: tuple[Resource, ...] = (),
            forget: tuple[str, ...] = ()) -> Plan:
    return Plan(changes=changes, fingerprint=Fingerprint("l", 1, "d"), adopt=adopt,
                forget=forget)


def test_subscriptions_are_shown_under_their_service_with_the_user_first() -> None:
    user = Change("q", "user", Action.CREATE, ("ana",), None, {"name": "Ana"}, "needs a user")
    text = render(plan_of(user, sub("q", "bia/pro", 2002, Action.CREATE),
                          sub("q", "ana/pro", 1001, Action.CREATE),
                          sub("q", "caio/pro", 1001, Action.DELETE)))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    order = [i for i, line in enumerate(lines)
             if line.startswith(("service", "+", "-")) and "~ update" not in line]
    shown = [lines[i].split("  ")[0] for i in order]
    assert shown == ["service 1001", '+ q.user["ana"]', '+ q.subscription["ana/pro"]',
                     '- q.subscription["caio/pro"]', "service 2002", '+ q.subscription["bia/pro"]']
    assert "Plan: 3 to create, 1 to cancel." in text


def test_records_and_forgets_are_listed_and_long_lists_counted() -> None:
    adopt = tuple(Resource("c", "subscription", f"{n}/livros-{n}") for n in range(SHOWN + 5))
    text = render(plan_of(adopt=adopt, forget=('q.user["old"]',)))
    assert 'c.subscription["0/livros-0"]' in text
    assert f'c.subscription["{SHOWN + 4}/livros-{SHOWN + 4}"]' not in text
    assert "... and 5 more" in text
    assert 'q.user["old"]' in text
    assert f"{SHOWN + 5} to record as managed" in text and "1 to forget (no longer managed)" in text
