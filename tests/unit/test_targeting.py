"""narrow(): which changes --target/--exclude keep, what they bring along, and what they refuse."""

from __future__ import annotations

import re

import pytest

from reconciler.model import (
    Action,
    Change,
    Estimate,
    Fingerprint,
    Note,
    Plan,
    Resource,
)
from reconciler.planner.targeting import (
    TargetError,
    exactly,
    integrations_for,
    narrow,
    parse,
    service_index,
)

BLOCK = Change("stfc-sp", "number", Action.CREATE, ("1130001000", "1130001001", "1130001002"),
               None, {"range": "sp-centro"}, "declared range sp-centro")
LINK_1001 = Change("stfc-sp", "link", Action.LINK, ("1130001001",), None,
                   {"service": 1001, "plan": "STFC Ilimitado"}, "assigned to service 1001",
                   depends_on=(BLOCK.id,))
LINK_1002 = Change("stfc-sp", "link", Action.LINK, ("1130001002",), None,
                   {"service": 1002, "plan": "STFC Básico"}, "assigned to service 1002",
                   depends_on=(BLOCK.id,))
UNLINK_1009 = Change("stfc-sp", "link", Action.UNLINK, ("1130009999",), {"service": 1009}, None,
                     "service 1009 is cancelled")
USER = Change("qualifica", "user", Action.CREATE, ("maria.silva",), None,
              {"name": "Maria Silva"}, "client Maria Silva needs a Qualifica user")
USER_UPDATE = Change("qualifica", "user", Action.UPDATE, ("joao.pereira",),
                     {"name": "Joao"}, {"name": "João Pereira"}, "client data changed")
SUB = Change("qualifica", "subscription", Action.CREATE, ("maria.silva/premium",), None,
             {"user": "maria.silva", "product": "premium", "service": 1001},
             "package cursos-premium comes with plan fibra-500-combo of service 1001",
             depends_on=(USER.id,))
BOOKS = Change("campsoft", "subscription", Action.CREATE, ("1001/livros-1001",), None,
               {"contract": "1001", "service": 1001}, "package livros of service 1001")
ADOPTED = Resource("campsoft", "subscription", "1002/livros-1002", {"service": 1002})
FULL = Plan(
    changes=(BOOKS, USER, USER_UPDATE, SUB, BLOCK, LINK_1001, LINK_1002, UNLINK_1009),
    fingerprint=Fingerprint("lineage", 7, "digest"),
    adopt=(ADOPTED,),
    forget=('qualifica.user["old.client"]',),
    converging=(Note('stfc-sp.link["1130001005"]', "stfc-sp", "in the removal queue"),),
    warnings=(Note('stfc-sp.link["1130001007"]', "stfc-sp", "linked to an unmanaged service"),
              Note("legacy", "legacy", "the state manages 3 resources of integration legacy")),
    integrations=("campsoft", "qualifica", "stfc-sp"),
    estimates=(Estimate("campsoft", 2, 1, 0.0, None), Estimate("qualifica", 3, 3, 0.0, 10.0),
               Estimate("stfc-sp", 4, 4, 2.0, 1.0)),
    touched={'stfc-sp.number["1130001001"]': "aaa", 'stfc-sp.link["1130001001"]': "bbb",
             'stfc-sp.link["1130001002"]': "ccc", 'qualifica.user["maria.silva"]': "absent"},
)


def ids(plan: Plan) -> list[str]:
    return [c.id for c in plan.changes]


def messages(plan: Plan) -> list[str]:
    return [n.message for n in plan.warnings]


def test_no_pattern_returns_the_plan_unchanged() -> None:
    assert narrow(FULL) is FULL
    assert not FULL.partial


def test_whole_integration_keeps_its_changes_in_plan_order_and_warns_partial() -> None:
    plan = narrow(FULL, ["stfc-sp"])
    assert ids(plan) == [BLOCK.id, LINK_1001.id, LINK_1002.id, UNLINK_1009.id]
    assert plan.partial and plan.targets == ("stfc-sp",) and plan.excludes == ()
    assert plan.adopt == () and plan.forget == ()
    assert [n.address for n in plan.converging] == ['stfc-sp.link["1130001005"]']
    assert "linked to an unmanaged service" in messages(plan)[0]
    assert not any("legacy" in m for m in messages(plan))
    assert "this plan is partial (--target stfc-sp)" in messages(plan)[-1]
    assert "run plan without --target/--exclude" in messages(plan)[-1]


def test_one_address_brings_its_dependency_and_says_so() -> None:
    plan = narrow(FULL, ['stfc-sp.link["1130001001"]'])
    assert ids(plan) == [BLOCK.id, LINK_1001.id]
    brought = [n for n in plan.warnings if n.address == BLOCK.address]
    assert len(brought) == 1 and LINK_1001.id in brought[0].message
    assert "no --target selects it" in brought[0].message


def test_quotes_are_optional_and_the_kind_pattern_selects_one_kind() -> None:
    assert ids(narrow(FULL, ["stfc-sp.link[1130001002]"])) == [BLOCK.id, LINK_1002.id]
    assert ids(narrow(FULL, ["qualifica.user"])) == [USER.id, USER_UPDATE.id]


def test_glob_on_integration_and_key() -> None:
    assert ids(narrow(FULL, ["*.user"])) == [USER.id, USER_UPDATE.id]
    assert ids(narrow(FULL, ['qualifica.subscription["*/premium"]'])) == [USER.id, SUB.id]
    assert ids(narrow(FULL, ['stfc-sp.link["*9999"]'])) == [UNLINK_1009.id]


def test_block_matches_when_any_key_does_and_by_its_printed_address() -> None:
    assert ids(narrow(FULL, ['stfc-sp.number["1130001002"]'])) == [BLOCK.id]
    assert ids(narrow(FULL, [BLOCK.address])) == [BLOCK.id]
    assert ids(narrow(FULL, ["stfc-sp.number[1130001002..1130001400]"])) == [BLOCK.id]


def test_service_across_integrations_with_its_user_and_number_block() -> None:
    plan = narrow(FULL, ["service:1001"])
    assert ids(plan) == [BOOKS.id, USER.id, SUB.id, BLOCK.id, LINK_1001.id]
    assert set(plan.integrations) == {"campsoft", "qualifica", "stfc-sp"}
    # the adopted subscription belongs to service 1002, not 1001
    assert plan.adopt == ()
    assert [a.address for a in narrow(FULL, ["service:1002"]).adopt] == [ADOPTED.address]


def test_service_finds_a_user_update_through_the_index() -> None:
    assert USER_UPDATE.id not in ids(narrow(FULL, ["service:1002"]))  # the user names no service
    index = service_index([Resource("qualifica", "subscription", "joao.pereira/pro",
                                    {"user": "joao.pereira", "service": 1002})])
    assert index['qualifica.user["joao.pereira"]'] == frozenset({"1002"})
    plan = narrow(FULL, ["service:1002"], services=index)
    assert USER_UPDATE.id in ids(plan) and LINK_1002.id in ids(plan)


def test_exclude_drops_the_dependants_of_what_it_leaves_out() -> None:
    plan = narrow(FULL, excludes=["stfc-sp.number"])
    assert BLOCK.id not in ids(plan)
    assert LINK_1001.id not in ids(plan) and LINK_1002.id not in ids(plan)
    assert UNLINK_1009.id in ids(plan) and SUB.id in ids(plan)
    dropped = {n.address: n.message for n in plan.warnings if n.message.startswith("left out")}
    assert set(dropped) == {LINK_1001.address, LINK_1002.address}
    assert BLOCK.id in dropped[LINK_1001.address]
    # no target: the adopt and forget entries stay unless excluded
    assert plan.adopt == (ADOPTED,) and plan.forget == FULL.forget
    assert "--exclude stfc-sp.number" in messages(plan)[-1]


def test_target_and_exclude_together() -> None:
    plan = narrow(FULL, ["service:1001"], ["qualifica.user"])
    assert ids(plan) == [BOOKS.id, BLOCK.id, LINK_1001.id]
    assert any(n.address == SUB.address and USER.id in n.message for n in plan.warnings)
    assert narrow(FULL, ["qualifica"], ['qualifica.user["old.client"]']).forget == ()
    assert narrow(FULL, ["qualifica"]).forget == FULL.forget


def test_pattern_matching_nothing_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(TargetError, match=r"--target stfc-sp\.lnk matches nothing.*"
                                          r"did you mean 'stfc-sp\.link'"):
        narrow(FULL, ["stfc-sp.lnk"])
    with pytest.raises(TargetError, match=r"--exclude qualifca matches nothing.*"
                                          r"did you mean 'qualifica'"):
        narrow(FULL, ["stfc-sp"], ["qualifca"])
    with pytest.raises(TargetError, match="service:4242"):
        narrow(FULL, ["service:4242"])


def test_pattern_naming_a_resource_without_change_is_a_note_not_an_error() -> None:
    converged = 'stfc-sp.link["1130001020"]'
    plan = narrow(FULL, [f"{converged}"], universe=[converged, 'stfc-sp.number["1130001020"]'])
    assert plan.empty and plan.partial
    assert any("nothing to change" in m for m in messages(plan))


def test_an_exact_address_is_no_glob_even_with_a_star_in_its_key() -> None:
    starry = Change("qualifica", "user", Action.UPDATE, ("a*b",), {"name": "A"}, {"name": "B"},
                    "client data changed")
    plain = Change("qualifica", "user", Action.UPDATE, ("aXXb",), {"name": "A"}, {"name": "B"},
                   "client data changed")
    plan = Plan((starry, plain), FULL.fingerprint)
    exact = narrow(plan, [exactly('qualifica.user["a*b"]')])
    assert ids(exact) == [starry.id] and exact.targets == ('qualifica.user["a*b"]',)
    assert ids(narrow(plan, ['qualifica.user["a*b"]'])) == [starry.id, plain.id]  # typed: a glob


def test_excluding_a_whole_integration_is_no_nothing_to_leave_out_note() -> None:
    # plan reads only the integrations not excluded, so the excluded one has no changes in it
    plan = Plan((USER, SUB), FULL.fingerprint, integrations=("qualifica",))
    narrowed = narrow(plan, excludes=["stfc-sp"], universe=['stfc-sp.link["1130001001"]'])
    assert ids(narrowed) == [USER.id, SUB.id]
    assert not any("nothing to leave out" in m for m in messages(narrowed))
    with pytest.raises(TargetError, match="--exclude stfc-sq matches nothing"):
        narrow(plan, excludes=["stfc-sq"], universe=['stfc-sp.link["1130001001"]'])


@pytest.mark.parametrize(("text", "hint"), [
    ("", "is not an address pattern: use INTEGRATION, INTEGRATION.KIND"),
    ("stfc-sp.link[", "is not an address pattern: use INTEGRATION, INTEGRATION.KIND"),
    ('stfc-sp["1130001001"]', "a key needs a kind before it"),
    ("service:", "service: needs a client service id"),
    ('stfc-sp.link["1130001001]', "unbalanced quotes in the key"),
])
def test_malformed_patterns_say_what_the_forms_are(text: str, hint: str) -> None:
    with pytest.raises(TargetError, match=re.escape(hint)):
        parse(text)


def test_estimates_and_touched_shrink_to_what_is_left() -> None:
    plan = narrow(FULL, ['stfc-sp.link["1130001001"]'])
    stfc = next(e for e in plan.estimates if e.integration == "stfc-sp")
    assert stfc.writes == 2  # burst 2 at 1 req/s (4 writes took 2 s): 2 writes fit the burst
    assert stfc.seconds == 0.0
    assert [e.writes for e in plan.estimates if e.integration != "stfc-sp"] == [0, 0]
    assert set(plan.touched) == {'stfc-sp.number["1130001001"]', 'stfc-sp.link["1130001001"]'}


def test_integrations_to_read() -> None:
    declared = ["campsoft", "qualifica", "stfc-sp"]
    assert integrations_for([], [], declared) is None
    assert integrations_for([], ["stfc-sp.link"], declared) is None
    assert integrations_for(["stfc-sp.link"], [], declared) == {"stfc-sp"}
    assert integrations_for(["campsoft.subscription"], [], declared) == {"campsoft"}
    assert integrations_for(["*"], ["qualifica"], declared) == {"campsoft", "stfc-sp"}
    assert integrations_for([], ["qualifica"], declared) == {"campsoft", "stfc-sp"}
    index = service_index([Resource("stfc-sp", "link", "1130001001", {"service": 1001}),
                           Resource("campsoft", "subscription", "1001/x", {"service": 1001})])
    assert integrations_for(["service:1001"], [], declared, index) == {"campsoft", "stfc-sp"}
    assert integrations_for(["nothing"], [], declared) == frozenset()
