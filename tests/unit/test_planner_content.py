"""Planner tables for the content platforms (Qualifica, Campsoft): desired x known x actual ->
changes, and the safety limits counted in subscriptions. Pure: everything is built by hand."""

from __future__ import annotations

import re
from typing import Any

import pytest

from reconciler import safety
from reconciler.errors import PlanError
from reconciler.model import (
    Action,
    Desired,
    Integration,
    Known,
    Observed,
    Plan,
    Resource,
    Source,
)
from reconciler.planner import drift, plan
from reconciler.render.text import change_details
from reconciler.specs.content import password_digest

Q, C = "qualifica", "campsoft"
SRC = Source("specs/clients.yaml", 7, 9)  # where a package entry is declared
SVC_SRC = Source("specs/clients.yaml", 5, 7)  # where the service is declared
Q_PRODUCTS = ({"code": "pro", "name": "Pro"}, {"code": "premium", "name": "Premium"})
C_PRODUCTS = ({"code": "1234567", "name": "Livros"}, {"code": "7654321", "name": "Revistas"})


# --- builders ----------------------------------------------------------------------------------


def q_user(user: str = "maria", **attrs: Any) -> Resource:
    base = {"name": "Maria Silva", "email": "maria@example.com.br", "document": "52998224725"}
    return Resource(Q, "user", user, {**base, **attrs}, SRC)


def q_sub(user: str = "maria", product: str = "premium", *, platform: bool = False,
          **attrs: Any) -> Resource:
    """A Qualifica subscription as desired (or, with ``platform``, as the provider reads it)."""
    base: dict[str, Any] = {"user": user, "product": product, "service": 1001, "status": "active",
                            "expires": None}
    if not platform:
        base.update(package="cursos-premium", origin="plan combo")
    key = f"{user}/{product}"
    return Resource(Q, "subscription", key, {**base, **attrs}, None if platform else SRC,
                    remote_id=key if platform else None)


def c_sub(contract: str = "1001", label: str = "livros-1001", *, platform: bool = False,
          **attrs: Any) -> Resource:
    base: dict[str, Any] = {
        "contract": contract, "label": label, "product": "1234567", "service": 1001,
        "status": "active", "name": "Maria Silva", "document": "52998224725",
        "email": "maria@example.com.br", "phone": "11987654321", "login": "maria",
    }
    if not platform:
        base.update(package="livros", origin="plan combo", password_from="cpf_cnpj")
    key = f"{contract}/{label}"
    return Resource(C, "subscription", key, {**base, **attrs}, None if platform else SRC,
                    remote_id=f"cs-{key}" if platform else None)


def desired(*resources: Resource, services: dict[int, tuple[str, str | None]] | None = None,
            products: dict[str, list[str]] | None = None,
            follow: bool = True) -> Desired:
    """``services``: id -> (status, plan). Both content integrations are always declared."""
    integrations = {
        Q: Integration(Q, "qualifica", "embedded", {},
                       {"suspend_on_delinquency": follow, "user_field": "login_autenticacao"}),
        C: Integration(C, "campsoft", "embedded", {}, {"suspend_on_delinquency": follow}),
    }
    if services is None:
        services = {1001: ("active", "combo")}
    svc = {sid: {"status": status, "client": "Maria Silva", "source": SVC_SRC, "plan": plan_name}
           for sid, (status, plan_name) in services.items()}
    return Desired(integrations, {r.address: r for r in resources}, "digest",
                   {"services": svc, "ranges": {}, "products": products or {}})


def known(*resources: Resource) -> Known:
    return Known("lineage", 5, {r.address: r for r in resources})


def observed(*resources: Resource, q_catalog: tuple[dict[str, Any], ...] = Q_PRODUCTS,
             c_catalog: tuple[dict[str, Any], ...] = C_PRODUCTS) -> dict[str, Observed]:
    def side(name: str, catalog: tuple[dict[str, Any], ...]) -> Observed:
        mine = {r.address: r for r in resources if r.integration == name}
        return Observed(name, mine, {"products": catalog} if catalog else {})
    return {Q: side(Q, q_catalog), C: side(C, c_catalog)}


def actions(p: Plan) -> list[tuple[str, str]]:
    return [(c.action.value, c.address) for c in p.changes]


# --- subscribe ---------------------------------------------------------------------------------


def test_a_missing_qualifica_subscription_creates_its_user_first_and_waits_for_it() -> None:
    p = plan(desired(q_user(), q_sub()), known(), observed())
    assert actions(p) == [("create", 'qualifica.user["maria"]'),
                          ("create", 'qualifica.subscription["maria/premium"]')]
    user, sub = p.changes
    assert sub.depends_on == (user.id,) and user.depends_on == ()
    assert user.after == {"name": "Maria Silva", "email": "maria@example.com.br",
                          "document": "52998224725"}
    assert user.reason.startswith("client Maria Silva needs a") and "user" in user.reason
    assert sub.before is None and sub.after is not None and sub.after["status"] == "active"
    assert sub.reason == "package cursos-premium comes with plan combo of service 1001 (Maria Silva)"
    assert sub.source == SRC


def test_a_subscription_of_an_existing_user_does_not_wait() -> None:
    p = plan(desired(q_user(), q_sub()), known(q_user()), observed(q_user()))
    (sub,) = p.changes
    assert (sub.action, sub.kind, sub.depends_on) == (Action.CREATE, "subscription", ())


def test_an_extra_package_is_explained_as_added_to_the_service() -> None:
    want = c_sub(origin="extra")
    p = plan(desired(want), known(), observed())
    (change,) = p.changes
    assert (change.action, change.address) == (Action.CREATE, 'campsoft.subscription["1001/livros-1001"]')
    assert change.reason == "package livros added to service 1001 (Maria Silva)"
    assert change.after is not None and change.after["phone"] == "11987654321"


def test_a_subscription_cancelled_on_the_platform_is_subscribed_again() -> None:
    want = c_sub()
    have = c_sub(platform=True, status="cancelled")
    p = plan(desired(want), known(want), observed(have))
    (change,) = p.changes
    assert change.action is Action.CREATE and change.before is None
    assert change.reason.endswith("(cancelled on the platform: subscribe again)")
    assert change.after is not None and change.after["status"] == "active"


def test_a_managed_subscription_removed_outside_the_tool_is_subscribed_again() -> None:
    p = plan(desired(q_user(), q_sub()), known(q_user(), q_sub()), observed(q_user()))
    (change,) = p.changes
    assert change.action is Action.CREATE
    assert "(missing on the platform: removed outside the tool)" in change.reason


def test_a_new_subscription_of_a_suspended_service_is_created_suspended() -> None:
    want = c_sub(status="suspended")
    p = plan(desired(want, services={1001: ("suspended", "combo")}), known(), observed())
    (change,) = p.changes
    assert change.action is Action.CREATE and change.after["status"] == "suspended"


def test_a_new_subscription_whose_status_is_not_followed_is_created_active() -> None:
    want = c_sub(status=None)
    p = plan(desired(want, services={1001: ("suspended", "combo")}, follow=False), known(),
             observed())
    (change,) = p.changes
    assert change.action is Action.CREATE and change.after["status"] == "active"


def test_a_package_moved_to_a_new_plan_says_which_plan_it_came_from() -> None:
    was = q_sub(origin="plan antigo")
    want = q_sub(origin="plan combo")
    p = plan(desired(q_user(), want), known(q_user(), was), observed(q_user()))
    (change,) = p.changes
    assert "comes with plan combo, changed from plan antigo of service 1001" in change.reason


# --- adopt and update --------------------------------------------------------------------------


def test_a_matching_unmanaged_subscription_and_user_are_adopted() -> None:
    want_user, want_sub = q_user(), q_sub()
    have_user = Resource(Q, "user", "maria", dict(want_user.attrs), remote_id="maria")
    p = plan(desired(want_user, want_sub), known(), observed(have_user, q_sub(platform=True)))
    assert p.changes == ()
    assert [r.address for r in p.adopt] == ['qualifica.subscription["maria/premium"]',
                                            'qualifica.user["maria"]']
    sub = p.adopt[0]
    assert sub.remote_id == "maria/premium"
    assert sub.attrs["package"] == "cursos-premium"  # the explanation is what the state keeps


def test_a_converged_subscription_plans_nothing() -> None:
    want = c_sub()
    p = plan(desired(want), known(want), observed(c_sub(platform=True)))
    assert p.empty


def test_a_new_plan_bundle_with_the_same_package_only_updates_the_explanation() -> None:
    was, want = c_sub(origin="plan antigo"), c_sub(origin="plan combo")
    p = plan(desired(want), known(was), observed(c_sub(platform=True)))
    assert p.changes == ()
    assert [r.attrs["origin"] for r in p.adopt] == ["plan combo"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("product", "7654321"), ("name", "Maria S. Souza"), ("document", "11222333000181"),
     ("email", "nova@example.com.br"), ("phone", "1133334444"), ("login", "maria2")],
)
def test_campsoft_updates_changed_product_or_customer_data(field: str, value: str) -> None:
    want = c_sub(**{field: value})
    p = plan(desired(want), known(c_sub()), observed(c_sub(platform=True)))
    (change,) = p.changes
    assert change.action is Action.UPDATE
    assert change.before is not None and change.after is not None
    assert change.before[field] != value and change.after[field] == value
    assert change.reason == f"service 1001, package livros: changed in the specs: {field}"


# --- campsoft: the password, compared with the state (the platform never shows it) -------------

KEY = bytes(range(32))  # a state's fingerprint key
DOCUMENT, LOGIN = "52998224725", "maria"  # what c_sub() holds: the passwords its rules give


def keyed(rule: str, password: str, **attrs: Any) -> Resource:
    """A Campsoft subscription with the fingerprint of ``rule`` giving ``password``."""
    return c_sub(password_from=rule, password_digest=password_digest(KEY, rule, password),
                 **attrs)


def test_a_changed_password_rule_updates_the_subscription_once() -> None:
    was, want = keyed("cpf_cnpj", DOCUMENT), keyed("login_autenticacao", LOGIN)
    p = plan(desired(want), known(was), observed(c_sub(platform=True)))
    (change,) = p.changes
    assert (change.action, change.address) == (Action.UPDATE,
                                                'campsoft.subscription["1001/livros-1001"]')
    assert change.reason == ("service 1001, package livros: password rule changed "
                             "(cpf_cnpj -> login_autenticacao)")
    assert change.before is not None and change.after is not None
    assert change.before["password_from"] == "cpf_cnpj"  # the rule in force, from the state
    assert change.after["password_from"] == "login_autenticacao"  # what the provider sends
    assert change.after["password_digest"] == want.attrs["password_digest"]  # what is recorded
    assert change_details(change) == ["password_from: 'cpf_cnpj' -> 'login_autenticacao'"]
    assert p.adopt == ()


def test_a_rule_change_goes_with_the_other_fields_an_update_fixes() -> None:
    was = keyed("cpf_cnpj", DOCUMENT)
    want = keyed("id_contrato", "1001", email="nova@example.com.br", origin="plan novo")
    p = plan(desired(want), known(was), observed(c_sub(platform=True)))
    (change,) = p.changes  # an update, never an adoption that would record it unsent
    assert change.action is Action.UPDATE and p.adopt == ()
    assert change.reason.endswith(": changed in the specs: email; password rule changed "
                                  "(cpf_cnpj -> id_contrato)")
    assert change.after["email"] == "nova@example.com.br"


def test_a_rule_change_on_a_suspended_service_updates_before_it_suspends() -> None:
    was, want = keyed("cpf_cnpj", DOCUMENT), keyed("id_contrato", "1001", status="suspended")
    p = plan(desired(want, services={1001: ("suspended", "combo")}), known(was),
             observed(c_sub(platform=True)))
    update, suspend = p.changes
    assert (update.action, suspend.action) == (Action.UPDATE, Action.SUSPEND)
    assert suspend.depends_on == (update.id,)
    assert suspend.after["password_from"] == "id_contrato"


def test_the_same_rule_giving_another_password_updates_it() -> None:
    """The document changed, and the platform already holds the new one (changed there by
    hand): no field differs from the platform, but the password is still the old document."""
    was = keyed("cpf_cnpj", "11144477735")
    want = keyed("cpf_cnpj", DOCUMENT)
    p = plan(desired(want), known(was), observed(c_sub(platform=True)))
    (change,) = p.changes
    assert change.action is Action.UPDATE
    assert change.reason == "service 1001, package livros: password changed: its cpf_cnpj changed"
    assert change_details(change) == []  # the fingerprint is never shown


def test_an_unchanged_rule_never_updates_the_password() -> None:
    """Nothing the client does to the password on the platform is visible, and nothing resets
    it: the same rule giving the same password plans nothing."""
    want = keyed("login_autenticacao", LOGIN)
    p = plan(desired(want), known(want), observed(c_sub(platform=True)))
    assert p.empty


def test_a_subscription_recorded_before_fingerprints_plans_nothing_for_the_same_rule() -> None:
    """Upgrading plans no update for every subscriber: the recorded rule stands in for the
    missing fingerprint; it is recorded by the next write of the subscription."""
    was = c_sub(password_from="login_autenticacao")  # no password_digest
    p = plan(desired(keyed("login_autenticacao", LOGIN)), known(was),
             observed(c_sub(platform=True)))
    assert p.empty


def test_a_subscription_recorded_before_fingerprints_is_updated_when_its_rule_changed() -> None:
    was = c_sub(password_from="cpf_cnpj")  # no password_digest
    p = plan(desired(keyed("login_autenticacao", LOGIN)), known(was),
             observed(c_sub(platform=True)))
    (change,) = p.changes
    assert change.action is Action.UPDATE
    assert "password rule changed (cpf_cnpj -> login_autenticacao)" in change.reason


def test_an_unmanaged_subscription_is_adopted_with_its_fingerprint_and_no_password_sent() -> None:
    want = keyed("login_autenticacao", LOGIN)
    p = plan(desired(want), known(), observed(c_sub(platform=True)))
    assert p.changes == ()
    (adopted,) = p.adopt
    assert adopted.attrs["password_digest"] == want.attrs["password_digest"]


def test_a_new_subscription_records_the_fingerprint_of_the_password_it_is_sent() -> None:
    want = keyed("id_contrato", "1001")
    (change,) = plan(desired(want), known(), observed()).changes
    assert change.action is Action.CREATE
    assert change.after["password_digest"] == password_digest(KEY, "id_contrato", "1001")


def test_campsoft_does_not_compare_a_value_the_spec_leaves_empty() -> None:
    want = c_sub(login=None)
    p = plan(desired(want), known(want), observed(c_sub(platform=True, login="old")))
    assert p.changes == ()


def test_qualifica_updates_a_changed_expiry_and_service() -> None:
    want = q_sub(expires="2027-06-30", service=1002)
    have = q_sub(platform=True, expires="2026-01-15")
    p = plan(desired(q_user(), want, services={1002: ("active", "combo")}),
             known(q_user(), q_sub()), observed(q_user(), have))
    (change,) = p.changes
    assert change.action is Action.UPDATE
    assert change.after["expires"] == "2027-06-30" and change.after["service"] == 1002
    assert change.before["expires"] == "2026-01-15"
    assert "changed in the specs: service, expires" in change.reason


def test_qualifica_does_not_compare_an_expiry_the_spec_does_not_give() -> None:
    want = q_sub(expires=None)
    have = q_sub(platform=True, expires="2026-01-15")  # the platform's default: a year on
    p = plan(desired(q_user(), want), known(q_user(), want), observed(q_user(), have))
    assert p.changes == ()


def test_a_qualifica_user_whose_client_data_changed_is_updated() -> None:
    want = q_user(name="Maria Silva Souza")
    have = Resource(Q, "user", "maria", dict(q_user().attrs), remote_id="maria")
    p = plan(desired(want, q_sub()), known(q_user(), q_sub()), observed(have, q_sub(platform=True)))
    (change,) = p.changes
    assert (change.action, change.kind) == (Action.UPDATE, "user")
    assert change.after["name"] == "Maria Silva Souza" and "name" in change.reason


# --- suspend and resume ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("want_status", "have_status", "action", "words"),
    [("suspended", "active", Action.SUSPEND, "service 1001 is suspended (package livros)"),
     ("active", "suspended", Action.RESUME, "service 1001 is active again (package livros)")],
)
def test_status_follows_the_service(want_status: str, have_status: str, action: Action,
                                    words: str) -> None:
    want = c_sub(status=want_status)
    p = plan(desired(want, services={1001: (want_status, "combo")}), known(c_sub()),
             observed(c_sub(platform=True, status=have_status)))
    (change,) = p.changes
    assert change.action is action and change.reason == words
    assert change.before["status"] == have_status and change.after["status"] == want_status


def test_no_status_action_when_the_integration_does_not_follow_delinquency() -> None:
    want = c_sub(status=None)
    p = plan(desired(want, services={1001: ("suspended", "combo")}, follow=False),
             known(c_sub()), observed(c_sub(platform=True, status="active")))
    assert p.changes == ()
    p = plan(desired(want, services={1001: ("suspended", "combo")}, follow=False),
             known(c_sub()), observed(c_sub(platform=True, status="suspended")))
    assert p.changes == ()


def test_an_update_comes_before_the_suspend_which_waits_for_it() -> None:
    want = q_sub(status="suspended", expires="2027-06-30")
    p = plan(desired(q_user(), want, services={1001: ("suspended", "combo")}),
             known(q_user(), q_sub()), observed(q_user(), q_sub(platform=True)))
    update, suspend = p.changes
    assert (update.action, suspend.action) == (Action.UPDATE, Action.SUSPEND)
    assert suspend.depends_on == (update.id,)
    assert suspend.before["expires"] == "2027-06-30"  # cumulative: after the update
    assert suspend.after["status"] == "suspended"


# --- cancel and forget -------------------------------------------------------------------------


def test_a_cancelled_service_cancels_its_managed_subscription() -> None:
    have = c_sub(platform=True)
    p = plan(desired(services={1001: ("cancelled", "combo")}), known(c_sub()), observed(have))
    (change,) = p.changes
    assert (change.action, change.address) == (Action.DELETE,
                                               'campsoft.subscription["1001/livros-1001"]')
    assert change.reason == "service 1001 is cancelled (package livros)"
    # what the platform holds, plus the service and package it belongs to (shown per service)
    assert change.before == {**have.attrs, "package": "livros", "origin": "plan combo"}
    assert change.after is None
    assert change.source == SVC_SRC


def test_a_package_removed_from_the_service_is_cancelled() -> None:
    was = q_sub(origin="extra", package="cursos-pro", product="pro")
    p = plan(desired(q_user(), services={1001: ("active", None)}), known(q_user(), was),
             observed(q_user(), q_sub(product="pro", platform=True)))
    (change,) = p.changes
    assert change.action is Action.DELETE
    assert change.reason == "package cursos-pro removed from service 1001"


def test_a_plan_change_without_the_package_cancels_it_and_says_so() -> None:
    p = plan(desired(services={1001: ("active", "fibra-1g")}), known(c_sub()),
             observed(c_sub(platform=True)))
    (change,) = p.changes
    assert change.action is Action.DELETE
    assert change.reason == ("service 1001 changed from plan combo to plan fibra-1g, "
                             "without package livros")


def test_leaving_every_plan_is_a_plan_change_too() -> None:
    p = plan(desired(services={1001: ("active", None)}), known(c_sub()),
             observed(c_sub(platform=True)))
    (change,) = p.changes
    assert "changed from plan combo to no plan" in change.reason and "livros" in change.reason


def test_a_service_no_longer_declared_cancels_its_subscriptions() -> None:
    p = plan(desired(services={}), known(c_sub()), observed(c_sub(platform=True)))
    (change,) = p.changes
    assert change.action is Action.DELETE and change.source is None
    assert change.reason == "service 1001 is no longer declared (package livros)"


def test_a_subscription_cancelled_on_the_platform_and_not_wanted_is_forgotten() -> None:
    p = plan(desired(services={1001: ("cancelled", "combo")}), known(c_sub()),
             observed(c_sub(platform=True, status="cancelled")))
    assert p.changes == ()
    assert p.forget == ('campsoft.subscription["1001/livros-1001"]',)


def test_a_managed_subscription_gone_from_platform_and_specs_is_forgotten() -> None:
    p = plan(desired(services={}), known(q_user(), q_sub()), observed())
    assert p.changes == ()
    assert set(p.forget) == {'qualifica.subscription["maria/premium"]', 'qualifica.user["maria"]'}


def test_qualifica_users_are_never_deleted_only_forgotten() -> None:
    have = Resource(Q, "user", "maria", dict(q_user().attrs), remote_id="maria")
    p = plan(desired(services={}), known(q_user()), observed(have))
    assert p.changes == ()
    assert p.forget == ('qualifica.user["maria"]',)


def test_unmanaged_subscriptions_are_left_alone() -> None:
    others = [c_sub("777", "livros-777", platform=True, service=777),
              q_sub("joao", "pro", platform=True, service=888),
              c_sub("778", "x", platform=True, status="cancelled")]
    p = plan(desired(), known(), observed(*others))
    assert p.changes == () and p.forget == () and p.adopt == ()


# --- catalog -----------------------------------------------------------------------------------


def test_a_product_missing_from_the_catalog_is_an_error_naming_the_valid_codes() -> None:
    want = q_sub(product="gold")
    with pytest.raises(PlanError) as info:
        plan(desired(q_user(), want), known(), observed())
    message = str(info.value)
    assert "specs/clients.yaml:7" in message and 'qualifica.subscription["maria/gold"]' in message
    assert "product 'gold' of package cursos-premium" in message
    assert "valid codes: premium, pro" in message


def test_declared_products_stand_in_for_an_empty_platform_catalog() -> None:
    want = c_sub(product="999")
    with pytest.raises(PlanError) as info:
        plan(desired(want, products={C: ["1234567", "555"]}), known(), observed(c_catalog=()))
    assert "valid codes: 1234567, 555" in str(info.value)
    ok = plan(desired(c_sub(), products={C: ["1234567"]}), known(), observed(c_catalog=()))
    assert actions(ok) == [("create", 'campsoft.subscription["1001/livros-1001"]')]


def test_the_platform_catalog_wins_over_declared_products() -> None:
    want = c_sub(product="555")
    with pytest.raises(PlanError) as info:
        plan(desired(want, products={C: ["555"]}), known(), observed())
    assert "valid codes: 1234567, 7654321" in str(info.value)


def test_without_any_catalog_products_are_not_checked() -> None:
    p = plan(desired(c_sub(product="whatever")), known(), observed(c_catalog=()))
    assert [c.action for c in p.changes] == [Action.CREATE]


def test_every_unknown_product_is_reported_at_once() -> None:
    with pytest.raises(PlanError) as info:
        plan(desired(q_user(), q_sub(product="gold"), c_sub(product="999")), known(), observed())
    message = str(info.value)
    assert "'gold'" in message and "'999'" in message


# --- order ---------------------------------------------------------------------------------------


def test_changes_are_ordered_user_update_create_status_then_cancel() -> None:
    want = [q_user("ana"), q_sub("ana", "pro", service=1003, package="cursos-pro", origin="extra"),
            q_user("maria", name="Maria S."), q_sub(status="suspended", expires="2027-06-30"),
            q_user("zeca"), q_sub("zeca", "premium", service=1009)]
    was = [q_user("maria"), q_sub(), q_user("bia"), q_sub("bia", "pro", service=1004,
                                                          package="cursos-pro", origin="extra"),
           q_user("zeca"), q_sub("zeca", "premium", service=1009)]
    have = [Resource(Q, "user", "maria", dict(q_user().attrs)), q_sub(platform=True),
            Resource(Q, "user", "bia", dict(q_user("bia").attrs)),
            q_sub("bia", "pro", platform=True, service=1004),
            Resource(Q, "user", "zeca", dict(q_user("zeca").attrs)),
            q_sub("zeca", "premium", platform=True, service=1009, status="suspended")]
    services = {1001: ("suspended", "combo"), 1003: ("active", None), 1004: ("cancelled", None),
                1009: ("active", "combo")}
    first = plan(desired(*want, services=services), known(*was), observed(*have))
    second = plan(desired(*reversed(want), services=services), known(*reversed(was)),
                  observed(*reversed(have)))
    assert actions(first) == actions(second)
    assert [(c.kind, c.action.value) for c in first.changes] == [
        ("user", "create"),            # ana
        ("user", "update"),            # maria's name
        ("subscription", "update"),    # maria's expiry
        ("subscription", "create"),    # ana's pro
        ("subscription", "suspend"),   # maria (same phase as a resume: by key)
        ("subscription", "resume"),    # zeca
        ("subscription", "delete"),    # bia's, service cancelled: last
    ]
    create = first.changes[3]
    assert create.depends_on == (first.changes[0].id,)


def test_cancelling_an_old_label_comes_after_creating_the_new_one() -> None:
    old, new = c_sub(), c_sub(label="livros-casa")
    p = plan(desired(new), known(old), observed(c_sub(platform=True)))
    assert actions(p) == [("create", 'campsoft.subscription["1001/livros-casa"]'),
                          ("delete", 'campsoft.subscription["1001/livros-1001"]')]
    assert p.changes[1].reason == "package livros removed from service 1001"


# --- drift ---------------------------------------------------------------------------------------


PLATFORMS = {Q: "qualifica", C: "campsoft"}


def test_drift_ignores_fields_the_state_holds_no_value_for() -> None:
    was = [q_sub(expires=None), c_sub(login=None)]
    now = [q_sub(platform=True, expires="2026-01-15"), c_sub(platform=True, login="other")]
    assert drift(known(*was), observed(*now), PLATFORMS) == []


def test_drift_reports_changed_compared_fields_and_missing_resources() -> None:
    was = [q_user(), q_sub(expires="2027-06-30"), c_sub(), c_sub("1002", "livros-1002")]
    now = [Resource(Q, "user", "maria", dict(q_user().attrs)),
           q_sub(platform=True, expires="2027-12-31", status="suspended"),
           c_sub(platform=True, phone="1133334444")]
    items = drift(known(*was), observed(*now), PLATFORMS)
    assert [(d.kind, d.address, d.fields) for d in items] == [
        ("changed", 'campsoft.subscription["1001/livros-1001"]', ("phone",)),
        ("missing", 'campsoft.subscription["1002/livros-1002"]', ()),
        ("changed", 'qualifica.subscription["maria/premium"]', ("status", "expires")),
    ]
    assert items[2].before == {"status": "active", "expires": "2027-06-30"}
    assert items[2].after == {"status": "suspended", "expires": "2027-12-31"}


def test_a_missing_subscription_reports_what_was_applied_without_its_fingerprint() -> None:
    was = keyed("cpf_cnpj", DOCUMENT)
    (item,) = drift(known(was), observed(), PLATFORMS)
    assert item.kind == "missing" and item.before is not None
    assert item.before["password_from"] == "cpf_cnpj" and "password_digest" not in item.before


def test_drift_ignores_the_explanations_and_the_password_rule() -> None:
    was = [c_sub()]
    now = [c_sub(platform=True)]  # no package, origin nor password_from on the platform
    assert drift(known(*was), observed(*now), PLATFORMS) == []


# --- safety: counted in subscriptions ----------------------------------------------------------


def many(n: int, *, platform: bool = False, **attrs: Any) -> list[Resource]:
    out = []
    for i in range(n):
        user = f"u{i:03d}"
        out.append(q_sub(user, "pro", platform=platform, service=2000 + i, **attrs))
    return out


def users(n: int) -> list[Resource]:
    return [Resource(Q, "user", f"u{i:03d}", dict(q_user().attrs)) for i in range(n)]


def test_safety_counts_cancelled_subscriptions_against_the_managed_ones() -> None:
    services = {2000 + i: ("cancelled" if i < 3 else "active", None) for i in range(20)}
    want = [*users(20), *many(20, origin="extra")[3:]]
    state = known(*users(20), *many(20, origin="extra"))
    seen = observed(*users(20), *many(20, platform=True))
    spec = desired(*want, services=services)
    p = plan(spec, state, seen)
    assert [c.action for c in p.changes] == [Action.DELETE] * 3
    [v] = safety.check(p, state, seen, spec, {})
    assert (v.limit, v.count, v.base) == ("qualifica.delete", 3, 20)  # users are not counted
    assert re.search(r"(cancels|deletes) 3 subscriptions of 20 \(15\.0%\) on integration "
                     r"qualifica", v.message), v.message
    assert "--allow qualifica.delete=3" in v.message
    assert safety.check(p, state, seen, spec, {"qualifica.delete": 3}) == []


def test_safety_counts_suspended_subscriptions_against_those_on_the_platform() -> None:
    services = {2000 + i: ("suspended" if i < 4 else "active", None) for i in range(30)}
    want = [*users(30)] + [
        q_sub(f"u{i:03d}", "pro", service=2000 + i, origin="extra",
              status="suspended" if i < 4 else "active") for i in range(30)]
    state = known(*users(30), *many(30, origin="extra"))
    seen = observed(*users(30), *many(30, platform=True))
    spec = desired(*want, services=services)
    p = plan(spec, state, seen)
    assert p.counts() == {"suspend": 4}
    [v] = safety.check(p, state, seen, spec, {})
    assert (v.limit, v.action, v.count, v.base) == ("qualifica.suspend", "suspend", 4, 30)
    assert "suspends 4 subscriptions of 30 (13.3%) on integration qualifica" in v.message
    assert safety.check(p, state, seen, spec, {"qualifica.suspend": 4}) == []


def test_safety_lets_a_small_share_of_subscriptions_through() -> None:
    services = {2000 + i: ("cancelled" if i < 1 else "active", None) for i in range(20)}
    want = [*users(20), *many(20, origin="extra")[1:]]
    state = known(*users(20), *many(20, origin="extra"))
    seen = observed(*users(20), *many(20, platform=True))
    spec = desired(*want, services=services)
    p = plan(spec, state, seen)
    assert p.counts() == {"delete": 1}
    assert safety.check(p, state, seen, spec, {}) == []


def test_safety_suspend_share_is_of_live_subscriptions_not_cancelled_records() -> None:
    services = {2000 + i: ("suspended" if i < 5 else "active", None) for i in range(10)}
    want = [*users(10)] + [
        q_sub(f"u{i:03d}", "pro", service=2000 + i, origin="extra",
              status="suspended" if i < 5 else "active") for i in range(10)]
    state = known(*users(10), *many(10, origin="extra"))
    old = [q_sub(f"u{i:03d}", "premium", platform=True, service=2000 + i, status="cancelled")
           for i in range(90)]
    seen = observed(*users(90), *many(10, platform=True), *old)
    spec = desired(*want, services=services)
    p = plan(spec, state, seen)
    assert p.counts() == {"suspend": 5}
    [v] = safety.check(p, state, seen, spec, {})
    assert (v.limit, v.count, v.base) == ("qualifica.suspend", 5, 10)
