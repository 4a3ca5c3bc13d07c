"""Import matching (reconciler.planner.imports): exact natural keys with an owner check, second
keys that find ERP objects under another key, ambiguity both ways, unmatched objects, and
objects already managed. Pure: resources built here, no I/O."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.model import Known, Observed, Resource, Source, index
from reconciler.planner.imports import ImportPlan, match
from reconciler.platforms import registry
from reconciler.specs.generate import SCHEMA, header_for


def res(integration: str, kind: str, key: str, remote_id: str | None = None,
        **attrs: Any) -> Resource:
    return Resource(integration, kind, key, attrs, Source("specs/x.yaml", 3), remote_id)


def run(platform: str, integration: str, desired: list[Resource], remote: list[Resource],
        known: list[Resource] = ()) -> ImportPlan:  # type: ignore[assignment]
    return match(integration, platform, index(desired), Known("L", 1, index(known)),
                 Observed(integration, index(remote)), registry.get(platform).compared)


def addresses(resources: Any) -> set[str]:
    return {r.address for r in resources}


LINK = {"service": 1001, "plan": "STFC Ilimitado", "params": {}, "blocked": False,
        "document": "52998224725", "name": "Maria Silva"}


# -- SaperX STFC -------------------------------------------------------------------------------


def test_exact_number_and_link_are_recorded_with_the_platform_attributes() -> None:
    desired = [res("stfc", "number", "1130001001", country_code=55, range="sp"),
               res("stfc", "link", "1130001001", **LINK)]
    remote = [res("stfc", "number", "1130001001", "n-7", country_code=55, status="linked",
                  transmission="sent"),
              res("stfc", "link", "1130001001", "n-7", **{**LINK, "plan": "STFC Básico 100"})]
    plan = run("saperx-stfc", "stfc", desired, remote)
    got = {r.address: r for r in plan.record}
    assert set(got) == {'stfc.number["1130001001"]', 'stfc.link["1130001001"]'}
    number = got['stfc.number["1130001001"]']
    # the range explains (from the specs); status and transmission are observed, never recorded
    assert dict(number.attrs) == {"country_code": 55, "range": "sp"}
    assert number.remote_id == "n-7"
    # the platform's plan is recorded, so the next plan updates it to the declared one
    assert got['stfc.link["1130001001"]'].attrs["plan"] == "STFC Básico 100"
    assert plan.ambiguous == () and plan.unmatched == ()


def test_a_link_to_another_service_is_never_imported() -> None:
    desired = [res("stfc", "number", "1130001001", country_code=55, range="sp"),
               res("stfc", "link", "1130001001", **LINK)]
    remote = [res("stfc", "number", "1130001001", country_code=55, status="linked"),
              res("stfc", "link", "1130001001", **{**LINK, "service": 7777})]
    plan = run("saperx-stfc", "stfc", desired, remote)
    assert addresses(plan.record) == {'stfc.number["1130001001"]'}
    [item] = plan.ambiguous
    assert item.remote == ('stfc.link["1130001001"]',)
    assert "service 7777" in item.reason and "service 1001" in item.reason


def test_unmatched_numbers_and_links_and_a_declared_service_with_another_number() -> None:
    desired = [res("stfc", "number", "1130001001", country_code=55, range="sp"),
               res("stfc", "link", "1130001001", **LINK)]
    remote = [res("stfc", "number", "1130002000", country_code=55, status="free"),
              res("stfc", "number", "1130002001", country_code=55, status="linked"),
              res("stfc", "link", "1130002001", **{**LINK, "service": 3001}),
              res("stfc", "number", "1130002002", country_code=55, status="linked"),
              res("stfc", "link", "1130002002", **LINK)]  # service 1001, declared elsewhere
    plan = run("saperx-stfc", "stfc", desired, remote)
    assert plan.record == ()
    assert plan.absent == 2  # the declared number and link: the next plan creates them
    assert addresses(plan.unmatched) == {'stfc.number["1130002000"]', 'stfc.number["1130002001"]',
                                         'stfc.number["1130002002"]', 'stfc.link["1130002001"]'}
    [item] = plan.ambiguous
    assert item.remote == ('stfc.link["1130002002"]',)
    assert item.declared == ('stfc.link["1130001001"]',)


def test_already_managed_objects_are_skipped_so_a_second_import_is_a_no_op() -> None:
    desired = [res("stfc", "number", "1130001001", country_code=55, range="sp")]
    remote = [res("stfc", "number", "1130001001", country_code=55, status="free")]
    first = run("saperx-stfc", "stfc", desired, remote)
    assert len(first.record) == 1 and not first.empty
    again = run("saperx-stfc", "stfc", desired, remote, known=list(first.record))
    assert again.empty and again.managed == 1 and again.counts()["import"] == 0


def test_only_the_named_integration_is_matched() -> None:
    desired = [res("stfc", "number", "1130001001", country_code=55, range="sp"),
               res("other", "number", "1130001002", country_code=55, range="sp")]
    remote = [res("stfc", "number", "1130001001", country_code=55, status="free")]
    plan = run("saperx-stfc", "stfc", desired, remote)
    assert addresses(plan.record) == {'stfc.number["1130001001"]'} and plan.absent == 0


# -- Campsoft -----------------------------------------------------------------------------------

CUSTOMER = {"name": "Maria Silva", "document": "52998224725", "email": "m@example.com.br",
            "phone": "11987654321", "login": "maria"}


def sub(key: str, remote_id: str | None = None, **attrs: Any) -> Resource:
    contract, label = key.split("/")
    base = {"contract": contract, "label": label, "product": "1234567", "status": "active",
            **CUSTOMER}
    return res("cs", "subscription", key, remote_id, **{**base, **attrs})


def declared_sub(key: str, **attrs: Any) -> Resource:
    contract, label = key.split("/")
    base = {"contract": contract, "label": label, "product": "1234567", "service": int(contract),
            "status": "active", "package": "livros", "origin": "extra",
            "password_from": "cpf_cnpj", **CUSTOMER}
    return res("cs", "subscription", key, **{**base, **attrs})


def test_campsoft_exact_match_keeps_the_package_the_specs_explain() -> None:
    plan = run("campsoft", "cs", [declared_sub("1001/livros-1001")],
               [sub("1001/livros-1001", "sub-1", email="old@example.com.br")])
    [got] = plan.record
    assert got.attrs["package"] == "livros" and got.attrs["origin"] == "extra"
    assert got.attrs["email"] == "old@example.com.br"  # the platform's, so the plan updates it
    assert got.remote_id == "sub-1"


def test_campsoft_subscription_of_another_document_is_not_imported() -> None:
    plan = run("campsoft", "cs", [declared_sub("1001/livros-1001")],
               [sub("1001/livros-1001", document="11144477735")])
    assert plan.record == ()
    [item] = plan.ambiguous
    assert "11144477735" in item.reason


def test_campsoft_same_contract_and_product_under_another_label_says_what_to_set() -> None:
    plan = run("campsoft", "cs", [declared_sub("1001/livros-1001")], [sub("1001/livros")])
    assert plan.record == () and plan.unmatched == ()
    [item] = plan.ambiguous
    assert item.declared == ('cs.subscription["1001/livros-1001"]',)
    assert item.remote == ('cs.subscription["1001/livros"]',)
    assert "label: livros" in item.reason


def test_one_declaration_matched_by_several_remote_objects_is_ambiguous() -> None:
    plan = run("campsoft", "cs", [declared_sub("1001/livros-1001")],
               [sub("1001/livros"), sub("1001/livros-velho")])
    assert plan.record == () and plan.unmatched == ()
    [item] = plan.ambiguous
    assert len(item.remote) == 2 and item.declared == ('cs.subscription["1001/livros-1001"]',)
    assert "2 platform objects" in item.reason


def test_one_remote_object_claimed_by_several_declarations_is_ambiguous() -> None:
    desired = [declared_sub("1001/livros-1001"), declared_sub("1001/livros-extra")]
    plan = run("campsoft", "cs", desired, [sub("1001/livros")])
    assert plan.record == () and plan.unmatched == ()
    [item] = plan.ambiguous
    assert item.remote == ('cs.subscription["1001/livros"]',) and len(item.declared) == 2


def test_cancelled_records_are_neither_imported_nor_unmatched() -> None:
    plan = run("campsoft", "cs", [declared_sub("1001/livros-1001")],
               [sub("1001/livros-1001", status="cancelled"), sub("9/x-9", status="cancelled")])
    assert plan.record == () and plan.unmatched == () and plan.cancelled == 2


# -- Qualifica ----------------------------------------------------------------------------------


def user(key: str, document: str = "52998224725") -> Resource:
    return res("q", "user", key, key, name="Maria Silva", email="m@example.com.br",
               document=document)


def grant(key: str, **attrs: Any) -> Resource:
    who, product = key.split("/")
    return res("q", "subscription", key, key, **{"user": who, "product": product,
                                                  "service": 1001, "status": "active",
                                                  "expires": "2027-01-01", **attrs})


def declared_grant(key: str) -> Resource:
    who, product = key.split("/")
    return res("q", "subscription", key, user=who, product=product, service=1001,
               status="active", package="cursos", origin="extra", expires=None)


def test_qualifica_user_of_another_document_holds_back_its_grants() -> None:
    desired = [user("maria"), declared_grant("maria/premium")]
    remote = [user("maria", document="11144477735"), grant("maria/premium")]
    plan = run("qualifica", "q", desired, remote)
    assert plan.record == ()
    assert {a for item in plan.ambiguous for a in item.remote} == {
        'q.user["maria"]', 'q.subscription["maria/premium"]'}


def test_qualifica_user_found_under_another_key_by_document() -> None:
    desired = [user("maria"), declared_grant("maria/premium")]
    remote = [user("52998224725"), grant("52998224725/premium")]
    plan = run("qualifica", "q", desired, remote)
    assert plan.record == ()
    assert plan.unmatched == ()  # its grant goes with it, not to --generate
    [item] = plan.ambiguous
    assert item.remote == ('q.user["52998224725"]',) and "user_field" in item.reason


def test_qualifica_exact_match_records_the_platform_expiry() -> None:
    plan = run("qualifica", "q", [user("maria"), declared_grant("maria/premium")],
               [user("maria"), grant("maria/premium"), user("other", "11144477735"),
                grant("other/pro")])
    got = {r.address: r for r in plan.record}
    assert got['q.subscription["maria/premium"]'].attrs["expires"] == "2027-01-01"
    assert got['q.subscription["maria/premium"]'].attrs["package"] == "cursos"
    assert addresses(plan.unmatched) == {'q.user["other"]', 'q.subscription["other/pro"]'}


# -- the generated files' first line -------------------------------------------------------------


def test_header_points_at_the_schema_relative_to_the_directory(tmp_path: Path) -> None:
    (tmp_path / SCHEMA).parent.mkdir(parents=True)
    (tmp_path / SCHEMA).write_text("{}", encoding="utf-8")
    inside = tmp_path / "specs" / "imported"
    inside.mkdir(parents=True)
    first = header_for(inside, "reconcile import x --generate").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../docs/schema/reconcile-specs.schema.json"


def test_header_without_a_schema_nearby_points_at_reconcile_schema(tmp_path: Path) -> None:
    header = header_for(tmp_path, "reconcile import x --generate")
    assert "yaml-language-server" not in header and "`reconcile schema`" in header


def test_header_follows_the_schema_the_existing_specs_point_at(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "specs.json").write_text("{}", encoding="utf-8")
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "a.yaml").write_text("# no schema here\nclients: []\n", encoding="utf-8")
    (specs / "b.yaml").write_text("# yaml-language-server: $schema=../schemas/specs.json\n",
                                  encoding="utf-8")
    out = tmp_path / "review" / "imported"
    out.mkdir(parents=True)
    first = header_for(out, "reconcile import x --generate", specs).splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../schemas/specs.json"
    (specs / "b.yaml").write_text("# yaml-language-server: $schema=https://example.com/s.json\n",
                                  encoding="utf-8")
    assert header_for(out, "x", specs).startswith(
        "# yaml-language-server: $schema=https://example.com/s.json\n")


def test_a_link_to_a_cancelled_or_linkless_declared_service_needs_a_decision() -> None:
    remote = [res("stfc", "number", "1130002000", country_code=55, status="linked"),
              res("stfc", "link", "1130002000", **{**LINK, "service": 1004}),
              res("stfc", "number", "1130002001", country_code=55, status="linked"),
              res("stfc", "link", "1130002001", **{**LINK, "service": 1006})]
    services = {1004: {"status": "cancelled", "source": Source("specs/c.yaml", 40)},
                1006: {"status": "active", "source": Source("specs/c.yaml", 50)}}
    plan = match("stfc", "saperx-stfc", {}, Known("L", 1, {}), Observed("stfc", index(remote)),
                 registry.get("saperx-stfc").compared, services)
    reasons = {item.remote[0]: item.reason for item in plan.ambiguous}
    assert "specs cancel (specs/c.yaml:40)" in reasons['stfc.link["1130002000"]']
    assert "declare without it (specs/c.yaml:50)" in reasons['stfc.link["1130002001"]']
    assert addresses(plan.unmatched) == {'stfc.number["1130002000"]', 'stfc.number["1130002001"]'}
