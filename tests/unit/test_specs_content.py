"""The content kinds of the spec language: products, packages, plan bundles, and the packages
client services hold (Qualifica and Campsoft), from YAML files to Desired, and their errors."""

from __future__ import annotations

import hashlib
import textwrap
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import SpecError
from reconciler.model import Desired, Resource
from reconciler.specs import load_desired, load_specs
from reconciler.specs.catalogs import catalog_problems
from reconciler.specs.content import password_digest
from reconciler.specs.desired import with_fingerprints
from tests.unit.spec_helpers import issues, only_issue, write


def integrations(qualifica: str = "{suspend_on_delinquency: true}", campsoft: str = "{}") -> str:
    """Lines: qualifica's key at 6, its options at 10; campsoft's key at 11, options at 15."""
    return (
        "integrations:\n"
        "  stfc-sp:\n"
        "    platform: saperx-stfc\n"
        "    endpoint: embedded\n"
        '    credentials: {token: "${env:SP}"}\n'
        "  qualifica:\n"
        "    platform: qualifica\n"
        "    endpoint: embedded\n"
        '    credentials: {client_id: isp-demo, client_secret: "${env:QS}"}\n'
        f"    options: {qualifica}\n"
        "  campsoft:\n"
        "    platform: campsoft\n"
        "    endpoint: embedded\n"
        '    credentials: {api_key: "${env:CK}", api_secret: "${env:CS}"}\n'
        f"    options: {campsoft}\n"
    )


CONTENT = """\
packages:
  cursos-premium:
    integration: qualifica
    name: Cursos Premium
    price: 19.90
    products: [premium]
  cursos-pro:
    integration: qualifica
    price: 9.90
    products: [pro]
  cursos-duo:
    integration: qualifica
    price: 25
    products: [pro, premium]
  livros:
    integration: campsoft
    price: 9.90
    products: ["1234567"]
  revistas:
    integration: campsoft
    price: 4.90
    products: ["7654321"]
plans:
  combo:
    name: Fibra 500 + Cursos + Livros
    packages:
      - {package: cursos-premium, mandatory: true}
      - {package: livros}
    lock_packages: true
  aberto:
    packages:
      - {package: cursos-pro}
      - {package: revistas}
"""

# Maria, with e-mail and phone; her services start at line 7 of the clients file.
HEAD = """\
clients:
  - document: 529.982.247-25
    name: Maria Silva
    email: maria@example.com.br
    phone: "11 98765-4321"
    services:
"""
# The same client without a phone; services start at line 6.
NO_PHONE = """\
clients:
  - document: 529.982.247-25
    name: Maria Silva
    email: maria@example.com.br
    services:
"""
# Without e-mail nor phone; services start at line 5.
NO_CONTACT = """\
clients:
  - document: 529.982.247-25
    name: Maria Silva
    services:
"""


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "specs").mkdir()
    write(Path("specs"), "integrations.yaml", integrations())
    write(Path("specs"), "content.yaml", CONTENT)
    return Path("specs")


def services(text: str, head: str = HEAD) -> str:
    """A clients file: ``head`` then the services given (YAML text), indented under it."""
    return head + textwrap.indent(textwrap.dedent(text), "      ")


def content(desired: Desired) -> dict[str, Resource]:
    return {a: r for a, r in desired.resources.items() if r.kind in ("user", "subscription")}


def attrs(desired: Desired, addr: str) -> dict[str, Any]:
    return dict(desired.resources[addr].attrs)


# --- a valid set -------------------------------------------------------------------------------

DEMO = """\
clients:
  - document: 529.982.247-25
    name: Maria Silva
    email: maria@example.com.br
    phone: "11 98765-4321"
    services:
      - id: 1001
        login: maria.silva
        status: active
        plan: combo
  - document: 083.016.613-05
    name: João Pereira
    email: joao@example.com.br
    phone: "(11) 3333-4444"
    services:
      - id: 1002
        login: joao.pereira
        status: active
        packages:
          - {package: cursos-pro, params: {data_expiracao: 2027-06-30}}
          - package: revistas
            params: {label: revistas-joao, id_contrato: 9001, senha: login_autenticacao}
  - document: 186.091.390-34
    name: Ana Costa
    email: ana@example.com.br
    services:
      - id: 1003
        login: ana.costa
        status: suspended
        plan: combo
        exclude_packages: [livros]
  - document: 996.030.824-30
    name: Carlos Souza
    services:
      - id: 1004
        status: cancelled
        plan: aberto
"""


def test_a_demo_like_set_builds_users_and_subscriptions(specs: Path) -> None:
    write(specs, "c.yaml", DEMO)
    desired = load_desired(specs)
    assert sorted(content(desired)) == [
        'campsoft.subscription["1001/livros-1001"]',
        'campsoft.subscription["9001/revistas-joao"]',
        'qualifica.subscription["ana.costa/premium"]',
        'qualifica.subscription["joao.pereira/pro"]',
        'qualifica.subscription["maria.silva/premium"]',
        'qualifica.user["ana.costa"]',
        'qualifica.user["joao.pereira"]',
        'qualifica.user["maria.silva"]',
    ]
    assert attrs(desired, 'qualifica.user["maria.silva"]') == {
        "name": "Maria Silva", "email": "maria@example.com.br", "document": "52998224725"}
    assert attrs(desired, 'qualifica.subscription["maria.silva/premium"]') == {
        "user": "maria.silva", "product": "premium", "service": 1001, "status": "active",
        "package": "cursos-premium", "origin": "plan combo", "expires": None}
    assert attrs(desired, 'campsoft.subscription["1001/livros-1001"]') == {
        "contract": "1001", "label": "livros-1001", "product": "1234567", "service": 1001,
        "status": "active", "package": "livros", "origin": "plan combo", "name": "Maria Silva",
        "document": "52998224725", "email": "maria@example.com.br", "phone": "11987654321",
        "login": "maria.silva", "password_from": "cpf_cnpj"}


def test_each_campsoft_subscription_gets_a_keyed_fingerprint_of_its_password(
        specs: Path) -> None:
    write(specs, "c.yaml", DEMO)
    desired = load_desired(specs)
    asked: list[bytes] = []

    def key(value: bytes = b"k" * 32) -> bytes:
        asked.append(value)
        return value

    keyed = with_fingerprints(desired, key)
    assert len(asked) == 1  # the state's key is read once, not per subscription
    livros = attrs(keyed, 'campsoft.subscription["1001/livros-1001"]')
    revistas = attrs(keyed, 'campsoft.subscription["9001/revistas-joao"]')
    assert livros["password_digest"] == password_digest(b"k" * 32, "cpf_cnpj", "52998224725")
    assert revistas["password_digest"] == password_digest(b"k" * 32, "login_autenticacao",
                                                          "joao.pereira")
    assert {k: v for k, v in livros.items() if k != "password_digest"} == attrs(
        desired, 'campsoft.subscription["1001/livros-1001"]')
    qualifica = 'qualifica.subscription["maria.silva/premium"]'
    assert keyed.resources[qualifica] is desired.resources[qualifica]  # other platforms alone
    # another state's key gives another fingerprint: a digest cannot be tested against a CPF
    # by whoever lacks the key, as a plain SHA-256 of 11 digits could
    other = attrs(with_fingerprints(desired, lambda: b"x" * 32),
                  'campsoft.subscription["1001/livros-1001"]')["password_digest"]
    assert other != livros["password_digest"]
    assert livros["password_digest"] != hashlib.sha256(b"52998224725").hexdigest()
    assert "52998224725" not in livros["password_digest"]


def test_without_campsoft_the_state_key_is_never_asked_for(specs: Path) -> None:
    write(specs, "c.yaml", DEMO)
    desired = load_desired(specs)
    no_campsoft = replace(desired, integrations={n: i for n, i in desired.integrations.items()
                                                 if i.platform != "campsoft"})

    def key() -> bytes:
        raise AssertionError("asked for the key")

    assert with_fingerprints(no_campsoft, key) is no_campsoft


def test_a_plan_default_points_at_the_service_and_an_own_entry_at_its_line(specs: Path) -> None:
    write(specs, "c.yaml", DEMO)
    resources = load_desired(specs).resources
    plan_sub = resources['campsoft.subscription["1001/livros-1001"]'].source
    assert plan_sub is not None and (plan_sub.file, plan_sub.line) == ("specs/c.yaml", 7)
    own = resources['qualifica.subscription["joao.pereira/pro"]'].source
    assert own is not None and (own.file, own.line) == ("specs/c.yaml", 20)
    revistas = resources['campsoft.subscription["9001/revistas-joao"]'].source
    assert revistas is not None and revistas.line == 21


def test_params_override_the_campsoft_defaults_and_give_the_expiry(specs: Path) -> None:
    write(specs, "c.yaml", DEMO)
    desired = load_desired(specs)
    revistas = attrs(desired, 'campsoft.subscription["9001/revistas-joao"]')
    assert (revistas["contract"], revistas["label"], revistas["password_from"]) == (
        "9001", "revistas-joao", "login_autenticacao")
    assert revistas["origin"] == "extra" and revistas["phone"] == "1133334444"
    pro = attrs(desired, 'qualifica.subscription["joao.pereira/pro"]')
    assert pro["expires"] == "2027-06-30" and pro["origin"] == "extra"


def test_a_suspended_service_excluding_a_default_holds_the_rest(specs: Path) -> None:
    write(specs, "c.yaml", DEMO)
    desired = load_desired(specs)
    assert attrs(desired, 'qualifica.subscription["ana.costa/premium"]')["status"] == "suspended"
    assert not any(r.attrs.get("service") == 1003 for r in desired.resources.values()
                   if r.integration == "campsoft")


def test_a_cancelled_service_holds_no_content(specs: Path) -> None:
    write(specs, "c.yaml", DEMO)
    desired = load_desired(specs)
    assert not any(r.attrs.get("service") == 1004 for r in content(desired).values())
    assert desired.settings["services"][1004]["status"] == "cancelled"
    assert desired.settings["services"][1004]["plan"] == "aberto"
    assert desired.settings["services"][1001]["plan"] == "combo"


def test_the_expiry_may_be_quoted_text(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages: [{package: cursos-pro, params: {data_expiracao: "2028-01-31"}}]
        """))
    desired = load_desired(specs)
    assert attrs(desired, 'qualifica.subscription["maria.silva/pro"]')["expires"] == "2028-01-31"


@pytest.mark.parametrize(
    ("service_status", "follow", "expected"),
    [("active", "true", "active"), ("active", "false", "active"),
     ("suspended", "true", "suspended"), ("suspended", "false", None)],
)
def test_the_status_follows_the_service_per_integration(
    specs: Path, service_status: str, follow: str, expected: str | None
) -> None:
    option = f"{{suspend_on_delinquency: {follow}}}"
    write(specs, "integrations.yaml", integrations(option, option))
    write(specs, "c.yaml", services(f"""\
        - id: 1001
          login: maria.silva
          status: {service_status}
          plan: combo
        """))
    desired = load_desired(specs)
    assert attrs(desired, 'qualifica.subscription["maria.silva/premium"]')["status"] == expected
    assert attrs(desired, 'campsoft.subscription["1001/livros-1001"]')["status"] == expected


def test_a_plan_gives_its_defaults_less_those_excluded(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          plan: aberto
          exclude_packages: [revistas]
        """))
    desired = load_desired(specs)
    assert sorted(content(desired)) == ['qualifica.subscription["maria.silva/pro"]',
                                        'qualifica.user["maria.silva"]']
    assert attrs(desired, 'qualifica.subscription["maria.silva/pro"]')["origin"] == "plan aberto"


def test_a_plan_package_takes_its_params_from_the_services_packages(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          plan: combo
          packages:
            - {package: livros, params: {label: livros-casa, id_contrato: C-77}}
            - {package: cursos-premium, params: {data_expiracao: 2028-01-31}}
        """))
    desired = load_desired(specs)
    livros = desired.resources['campsoft.subscription["C-77/livros-casa"]']
    assert livros.attrs["origin"] == "plan combo" and livros.attrs["contract"] == "C-77"
    assert livros.source is not None and livros.source.line == 12
    premium = attrs(desired, 'qualifica.subscription["maria.silva/premium"]')
    assert (premium["origin"], premium["expires"]) == ("plan combo", "2028-01-31")
    assert 'campsoft.subscription["1001/livros-1001"]' not in desired.resources


def test_an_extra_package_on_an_open_plan_is_held_as_extra(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          plan: aberto
          packages: [{package: livros}]
        """))
    desired = load_desired(specs)
    origins = {r.attrs["package"]: r.attrs["origin"] for r in desired.resources.values()
               if r.kind == "subscription"}
    assert origins == {"cursos-pro": "plan aberto", "revistas": "plan aberto", "livros": "extra"}


def test_a_package_of_several_products_gives_one_subscription_per_product(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages: [{package: cursos-duo}]
        """))
    subs = {a for a, r in load_desired(specs).resources.items() if r.kind == "subscription"}
    assert subs == {'qualifica.subscription["maria.silva/pro"]',
                    'qualifica.subscription["maria.silva/premium"]'}


@pytest.mark.parametrize(
    ("field", "user"),
    [("login_autenticacao", "maria.silva"), ("cpf_cnpj", "52998224725"),
     ("email", "maria@example.com.br"), ("id_cliente_servico", "1001")],
)
def test_the_qualifica_user_is_taken_from_the_user_field(specs: Path, field: str, user: str) -> None:
    write(specs, "integrations.yaml", integrations(f"{{user_field: {field}}}"))
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages: [{package: cursos-pro}]
        """))
    desired = load_desired(specs)
    assert sorted(content(desired)) == [f'qualifica.subscription["{user}/pro"]',
                                        f'qualifica.user["{user}"]']
    assert desired.integrations["qualifica"].options["user_field"] == field


def test_services_of_one_client_share_a_user_by_document(specs: Path) -> None:
    write(specs, "integrations.yaml", integrations("{user_field: cpf_cnpj}"))
    write(specs, "c.yaml", services("""\
        - id: 1001
          status: active
          packages: [{package: cursos-pro}]
        - id: 1002
          status: active
          packages: [{package: cursos-premium}]
        """))
    desired = load_desired(specs)
    assert [a for a, r in desired.resources.items() if r.kind == "user"] == [
        'qualifica.user["52998224725"]']
    assert attrs(desired, 'qualifica.subscription["52998224725/pro"]')["service"] == 1001
    assert attrs(desired, 'qualifica.subscription["52998224725/premium"]')["service"] == 1002


def test_declared_products_are_settings_of_the_desired_state(specs: Path) -> None:
    write(specs, "products.yaml", """\
        products:
          qualifica:
            - {code: pro, name: Pro}
            - {code: premium}
        """)
    write(specs, "c.yaml", DEMO)
    assert load_desired(specs).settings["products"] == {"qualifica": ["pro", "premium"]}


def test_prices_are_decimals(specs: Path) -> None:
    write(specs, "extra.yaml", """\
        packages:
          jornal:
            integration: campsoft
            price: "19.90"
            products: ["1"]
        """)
    packages = load_specs(specs).packages
    assert packages["jornal"].price == Decimal("19.90")
    assert packages["cursos-premium"].price == Decimal("19.90")
    assert packages["cursos-duo"].price == Decimal(25)


# --- references --------------------------------------------------------------------------------


def test_an_unknown_package_suggests_a_close_one(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages:
            - {package: livro}
        """))
    issue = only_issue(specs)
    assert (issue.file, issue.line, issue.message) == ("specs/c.yaml", 11, "unknown package 'livro'")
    assert issue.hint == ("did you mean 'livros'? declared packages: cursos-duo, cursos-premium, "
                          "cursos-pro, livros, revistas")


def test_an_unknown_package_in_a_plan_is_reported_at_the_plan(specs: Path) -> None:
    write(specs, "plans.yaml", """\
        plans:
          fibra-1g:
            packages:
              - {package: cursos-premiun}
        """)
    issue = only_issue(specs)
    assert (issue.file, issue.line, issue.message) == (
        "specs/plans.yaml", 4, "unknown package 'cursos-premiun'")
    assert issue.hint.startswith("did you mean 'cursos-premium'? declared packages: ")


def test_an_unknown_plan_suggests_a_close_one(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          plan: combi
        """))
    issue = only_issue(specs)
    assert (issue.file, issue.line, issue.message) == ("specs/c.yaml", 10, "unknown plan 'combi'")
    assert issue.hint == "did you mean 'combo'? declared plans: aberto, combo"


def test_a_campsoft_package_takes_exactly_one_product(specs: Path) -> None:
    write(specs, "extra.yaml", """\
        packages:
          kit:
            integration: campsoft
            price: 5
            products: ["1", "2"]
        """)
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/extra.yaml", 5)
    assert issue.message == ("package 'kit' lists 2 products, but campsoft takes exactly one "
                             "product per package")
    assert issue.hint == "split it into one package per product"


def test_a_product_must_be_among_those_declared(specs: Path) -> None:
    write(specs, "products.yaml", """\
        products:
          qualifica:
            - {code: pro, name: Pro}
            - {code: premium}
        """)
    write(specs, "extra.yaml", """\
        packages:
          cursos-gold:
            integration: qualifica
            price: 29.90
            products: [pro, prem]
        """)
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/extra.yaml", 5)
    assert issue.message == ("product 'prem' is not among the products declared for integration "
                             "'qualifica'")
    assert issue.hint == "did you mean 'premium'? valid codes: pro, premium"


def test_a_package_of_a_saperx_integration_is_refused(specs: Path) -> None:
    write(specs, "extra.yaml", """\
        packages:
          telefone:
            integration: stfc-sp
            price: 5
            products: [x]
        """)
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages: [{package: telefone}]
        """))
    issue = only_issue(specs)  # the service holding it is not reported as well
    assert (issue.file, issue.line) == ("specs/extra.yaml", 3)
    assert issue.message == ("integration 'stfc-sp' is a saperx-stfc integration, which sells no "
                             "content packages")
    assert issue.hint == "point to a qualifica or campsoft integration"


def test_a_package_of_an_unknown_integration_suggests_a_content_one(specs: Path) -> None:
    write(specs, "extra.yaml", """\
        packages:
          cursos-x:
            integration: qualifika
            price: 5
            products: [x]
        """)
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (3, "unknown integration 'qualifika'")
    assert issue.hint == ("did you mean 'qualifica'? content integrations declared: "
                          "campsoft, qualifica")


def test_products_of_an_unknown_or_a_saperx_integration_are_refused(specs: Path) -> None:
    write(specs, "products.yaml", """\
        products:
          qualifika:
            - {code: pro}
          stfc-sp:
            - {code: x}
        """)
    found = issues(specs)
    assert (found[0].file, found[0].line, found[0].message) == (
        "specs/products.yaml", 2, "unknown integration 'qualifika'")
    assert found[1].message == ("integration 'stfc-sp' is a saperx-stfc integration, which sells "
                                "no content packages")
    assert len(found) == 2


def test_products_declared_twice_are_reported_at_the_second(specs: Path) -> None:
    write(specs, "p1.yaml", "products:\n  qualifica: [{code: pro}, {code: premium}]\n")
    write(specs, "p2.yaml", "# more\nproducts:\n  qualifica: [{code: pro}, {code: premium}]\n")
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/p2.yaml", 3)
    assert issue.message.startswith("the products of 'qualifica' are declared twice: at specs/p1.yaml")
    assert issue.hint == "declare them in one place"


def test_a_product_code_declared_twice_is_reported(specs: Path) -> None:
    write(specs, "p.yaml",
          "products:\n  qualifica:\n    - {code: pro}\n    - {code: pro}\n    - {code: premium}\n")
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (
        4, "product 'pro' is declared twice for integration 'qualifica'")


def test_products_declared_twice_cite_both_lines(specs: Path) -> None:
    write(specs, "p1.yaml", "products:\n  qualifica: [{code: pro}, {code: premium}]\n")
    write(specs, "p2.yaml", "# more\nproducts:\n  qualifica: [{code: pro}, {code: premium}]\n")
    assert only_issue(specs).message == (
        "the products of 'qualifica' are declared twice: at specs/p1.yaml:2 and at specs/p2.yaml:3")


def test_a_package_defined_twice_cites_both_lines(specs: Path) -> None:
    write(specs, "extra.yaml", """\
        # again
        packages:
          livros:
            integration: campsoft
            price: 1
            products: ["1"]
        """)
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/extra.yaml", 3)
    assert issue.message == ("package 'livros' is defined twice: at specs/content.yaml:15 and at "
                             "specs/extra.yaml:3")


# --- parameters ----------------------------------------------------------------------------------


def test_an_unknown_parameter_of_a_qualifica_package(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages:
            - package: cursos-pro
              params: {label: x}
        """))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (12, "unknown parameter 'label' for a qualifica package")
    assert issue.hint == "qualifica packages take: data_expiracao"


def test_an_unknown_parameter_of_a_campsoft_package_suggests_a_close_one(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages:
            - package: livros
              params: {senhas: cpf_cnpj}
        """))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (12, "unknown parameter 'senhas' for a campsoft package")
    assert issue.hint == "did you mean 'senha'? campsoft packages take: senha, id_contrato, label"


@pytest.mark.parametrize(
    ("value", "shown"),
    [("amanhã", "amanhã"), ("2027-06-31", "2027-06-31"), ('"2027-02-30"', "2027-02-30"),
     ("31/12/2027", "31/12/2027")],
)
def test_a_bad_expiry_is_reported_without_crashing(specs: Path, value: str, shown: str) -> None:
    write(specs, "c.yaml", services(f"""\
        - id: 1001
          login: maria.silva
          status: active
          packages:
            - package: cursos-pro
              params:
                data_expiracao: {value}
        """))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/c.yaml", 13)
    assert issue.message == f"data_expiracao '{shown}' is not a date written YYYY-MM-DD"
    assert issue.hint == "write it as 2027-12-31"


@pytest.mark.parametrize("value", ["20270630", '"2027-W26-3"'])
def test_an_expiry_not_written_as_yyyy_mm_dd_is_refused_or_normalised(
    specs: Path, value: str
) -> None:
    write(specs, "c.yaml", services(f"""\
        - id: 1001
          login: maria.silva
          status: active
          packages:
            - {{package: cursos-pro, params: {{data_expiracao: {value}}}}}
        """))
    try:
        desired = load_desired(specs)
    except SpecError as exc:
        assert any("data_expiracao" in i.message for i in exc.issues)
    else:
        assert attrs(desired, 'qualifica.subscription["maria.silva/pro"]')["expires"] == "2027-06-30"


def test_senha_must_name_a_field_and_the_value_is_not_echoed(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages:
            - package: livros
              params: {senha: s3cr3t-Pa55}
        """))
    issue = only_issue(specs)
    assert issue.line == 12
    assert issue.message == ("senha must be one of cpf_cnpj, login_autenticacao, id_contrato (the "
                             "field the password is taken from), not that value")
    assert issue.hint == "a literal password is never written in specs"
    assert "s3cr3t" not in str(issue)


def test_senha_from_the_login_needs_a_login(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          status: active
          packages:
            - package: livros
              params: {senha: login_autenticacao}
        """))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (
        11, "senha: login_autenticacao, but service 1001 has no login")


@pytest.mark.parametrize("key", ["label", "id_contrato"])
def test_label_and_contract_must_not_contain_a_slash(specs: Path, key: str) -> None:
    write(specs, "c.yaml", services(f"""\
        - id: 1001
          login: maria.silva
          status: active
          packages:
            - package: livros
              params: {{{key}: a/b}}
        """))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (12, f"{key} must not contain '/'")


def test_an_empty_parameter_is_refused(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages:
            - package: livros
              params: {label: "  "}
        """))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (12, "'label' must not be empty")


# --- what a held package needs -----------------------------------------------------------------


def test_a_campsoft_package_needs_the_clients_phone(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages:
            - {package: livros}
        """, NO_PHONE))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/c.yaml", 10)
    assert issue.message == ("package 'livros' is a Campsoft subscription, which needs the "
                             "client's e-mail and phone; client Maria Silva has no phone")
    assert issue.hint == "add phone to the client at specs/c.yaml:2"


def test_a_campsoft_package_needs_the_clients_email_and_phone(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages:
            - {package: revistas}
        """, NO_CONTACT))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/c.yaml", 9)
    assert issue.message.endswith("client Maria Silva has no email and no phone")
    assert issue.hint == "add email and phone to the client at specs/c.yaml:2"


def test_a_campsoft_package_of_a_plan_needs_the_phone_too(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: suspended
          plan: combo
        """, NO_PHONE))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/c.yaml", 6)  # the service: the plan gave it
    assert issue.message.startswith("package 'livros' is a Campsoft subscription")
    assert issue.message.endswith("has no phone")


def test_excluding_the_campsoft_package_or_cancelling_lifts_the_need(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          plan: combo
          exclude_packages: [livros]
        - id: 1002
          status: cancelled
          plan: combo
          packages: [{package: livros, params: {data_expiracao: x, senha: s3cr3t}}]
        """, NO_CONTACT))
    desired = load_desired(specs)
    assert sorted(content(desired)) == ['qualifica.subscription["maria.silva/premium"]',
                                        'qualifica.user["maria.silva"]']


def test_a_qualifica_package_needs_the_services_login(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          status: active
          packages:
            - {package: cursos-pro}
        """))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/c.yaml", 10)
    assert issue.message == ("package 'cursos-pro' needs the client's user on Qualifica, which "
                             "integration 'qualifica' takes from login_autenticacao, and service "
                             "1001 has none")
    assert issue.hint == "add login: to the service"


def test_a_qualifica_package_of_a_plan_needs_the_login_at_the_service(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          status: active
          plan: combo
        """))
    issue = only_issue(specs)
    assert issue.line == 7 and "package 'cursos-premium' needs the client's user" in issue.message


def test_user_field_email_needs_the_clients_email(specs: Path) -> None:
    write(specs, "integrations.yaml", integrations("{user_field: email}"))
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages: [{package: cursos-pro}]
        """, NO_CONTACT))
    issue = only_issue(specs)
    assert issue.line == 8
    assert "takes from email, and service 1001 has none" in issue.message
    assert issue.hint == "add email: to the client"


def test_user_field_takes_one_of_the_seed_choices(specs: Path) -> None:
    write(specs, "integrations.yaml", integrations("{user_field: login}"))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/integrations.yaml", 10)
    assert issue.message == ("'user_field' must be one of 'login_autenticacao', 'cpf_cnpj', "
                             "'email' or 'id_cliente_servico'")


def test_user_field_is_a_qualifica_option_only(specs: Path) -> None:
    write(specs, "integrations.yaml", integrations(campsoft="{user_field: email}"))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (15, "unknown key 'user_field'")
    assert issue.hint.startswith("allowed keys here: ")
    assert "isp_identifier" in issue.hint


def test_suspend_on_delinquency_is_strictly_true_or_false(specs: Path) -> None:
    write(specs, "integrations.yaml", integrations('{suspend_on_delinquency: "yes"}'))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (10, "'suspend_on_delinquency' must be true or false, not text")


# --- plan bundles --------------------------------------------------------------------------------


def test_a_locked_plan_keeps_its_mandatory_package(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          plan: combo
          exclude_packages:
            - cursos-premium
        """))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/c.yaml", 12)
    assert issue.message == ("package 'cursos-premium' is mandatory in plan 'combo', which locks "
                             "its packages (lock_packages)")
    assert issue.hint == "keep it, or make it optional in the plan, or unlock the plan"


def test_a_locked_plan_takes_no_other_package(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          plan: combo
          packages:
            - {package: cursos-pro}
        """))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/c.yaml", 12)
    assert issue.message == ("plan 'combo' locks its packages (lock_packages): package "
                             "'cursos-pro' is not one of them")
    assert issue.hint == ("its packages: cursos-premium, livros; add it to the plan or unlock "
                          "the plan")


def test_only_a_default_of_the_plan_can_be_excluded(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          plan: aberto
          exclude_packages: [revistas, livros]
        - id: 1002
          login: maria2
          status: active
          exclude_packages: [livros]
        """))
    found = issues(specs)
    assert [(i.line, i.message) for i in found] == [
        (11, "package 'livros' is not a default of plan 'aberto': there is nothing to exclude"),
        (15, "package 'livros' is not a default of no plan: there is nothing to exclude"),
    ]
    assert found[0].hint == "defaults: cursos-pro, revistas"
    assert found[1].hint == "defaults: none"


def test_a_package_listed_twice_on_a_service(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages:
            - {package: cursos-pro}
            - {package: cursos-pro, params: {data_expiracao: 2027-01-01}}
        """))
    issue = only_issue(specs)
    assert (issue.line, issue.message) == (12, "package 'cursos-pro' is listed twice on service 1001")
    assert issue.hint == "keep one entry and merge its params"


def test_a_package_listed_twice_in_a_plan(specs: Path) -> None:
    write(specs, "plans.yaml", """\
        plans:
          duplo:
            packages:
              - {package: cursos-pro}
              - {package: cursos-pro, mandatory: true}
        """)
    issue = only_issue(specs)
    assert (issue.file, issue.line, issue.message) == (
        "specs/plans.yaml", 5, "package 'cursos-pro' is listed twice in plan 'duplo'")


# --- claims ------------------------------------------------------------------------------------


def test_two_services_cannot_claim_the_same_campsoft_label(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages:
            - {package: livros, params: {id_contrato: C1, label: casa}}
        - id: 1002
          login: maria2
          status: suspended
          packages:
            - {package: revistas, params: {id_contrato: C1, label: casa}}
        """))
    issue = only_issue(specs)
    assert (issue.file, issue.line) == ("specs/c.yaml", 16)
    assert issue.message == ("subscription C1/casa on integration 'campsoft' is already held by "
                             "service 1001 at specs/c.yaml:11")
    assert issue.hint.startswith("give one of them another label or id_contrato")


def test_default_labels_of_two_services_do_not_clash(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria.silva
          status: active
          packages: [{package: livros}]
        - id: 1002
          login: maria2
          status: active
          packages: [{package: livros}]
        """))
    keys = {r.key for r in load_desired(specs).resources.values() if r.integration == "campsoft"}
    assert keys == {"1001/livros-1001", "1002/livros-1002"}


def test_two_services_cannot_claim_the_same_qualifica_product_of_one_user(specs: Path) -> None:
    write(specs, "c.yaml", services("""\
        - id: 1001
          login: maria
          status: active
          packages: [{package: cursos-pro}]
        - id: 1002
          login: maria
          status: active
          packages: [{package: cursos-duo}]
        """))
    issue = only_issue(specs)
    assert issue.line == 14  # the second service's package entry
    assert issue.message == ("subscription maria/pro on integration 'qualifica' is already held "
                             "by service 1001 at specs/c.yaml:10")


def test_two_clients_resolving_to_one_qualifica_user_are_reported(specs: Path) -> None:
    write(specs, "integrations.yaml", integrations("{user_field: email}"))
    write(specs, "c.yaml", """\
        clients:
          - document: 529.982.247-25
            name: Maria Silva
            email: familia@example.com.br
            services:
              - {id: 1001, status: active, packages: [{package: cursos-pro}]}
          - document: 083.016.613-05
            name: João Pereira
            email: familia@example.com.br
            services:
              - {id: 1002, status: active, packages: [{package: cursos-premium}]}
        """)
    found = issues(specs)
    assert any("familia@example.com.br" in i.message for i in found)


@pytest.mark.parametrize("login", ["maria/silva", "maria silva"])
def test_a_qualifica_user_the_platform_cannot_hold_is_reported(specs: Path, login: str) -> None:
    write(specs, "c.yaml", services(f"""\
        - id: 1001
          login: "{login}"
          status: active
          packages: [{{package: cursos-pro}}]
        """))
    found = issues(specs)
    assert any(login in i.message for i in found)


# --- prices --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "message"),
    [("-1", "'price' must be at least 0"),
     ("9.999", "'price' must have at most 2 decimal places"),
     ("0.001", "'price' must have at most 2 decimal places")],
)
def test_a_bad_price_is_reported_at_its_line(specs: Path, price: str, message: str) -> None:
    write(specs, "extra.yaml", f"""\
        packages:
          jornal:
            integration: campsoft
            price: {price}
            products: ["1"]
        """)
    issue = only_issue(specs)
    assert (issue.file, issue.line, issue.message) == ("specs/extra.yaml", 4, message)


def test_a_package_needs_a_product(specs: Path) -> None:
    write(specs, "extra.yaml", """\
        packages:
          jornal:
            integration: campsoft
            price: 1
            products: []
        """)
    issue = only_issue(specs)
    assert issue.line == 5
    assert issue.message.startswith("'products'") and "at least 1 item" in issue.message


# --- catalogs ----------------------------------------------------------------------------------


def test_catalog_problems_point_at_every_package_product_the_catalog_lacks(specs: Path) -> None:
    write(specs, "c.yaml", DEMO)
    desired = load_desired(specs)
    asked: list[tuple[str, str]] = []

    def synced(integration: str, catalog: str) -> list[dict[str, Any]] | None:
        asked.append((integration, catalog))
        return [{"code": "pro"}, {"code": "gold"}] if integration == "qualifica" else None

    found = catalog_problems(desired, synced)
    missing = "product 'premium' is not in the catalog of integration qualifica"
    # every package, at the line its product is written (cursos-duo is held by no service)
    assert [(i.file, i.line, i.message) for i in found] == [
        ("specs/content.yaml", 14, f"package cursos-duo: {missing}"),
        ("specs/content.yaml", 6, f"package cursos-premium: {missing}")]
    assert found[0].hint == ("valid codes: gold, pro (run `reconcile sync qualifica` if the "
                             "platform's catalog changed)")
    assert sorted(set(asked)) == [("campsoft", "products"), ("qualifica", "products")]


def test_catalog_problems_prefer_declared_products(specs: Path) -> None:
    write(specs, "products.yaml", """\
        products:
          qualifica:
            - {code: pro}
            - {code: premium}
        """)
    write(specs, "c.yaml", DEMO)
    desired = load_desired(specs)
    asked: list[str] = []

    def synced(integration: str, catalog: str) -> list[dict[str, Any]] | None:
        asked.append(integration)
        return [{"code": "nothing"}]

    found = catalog_problems(desired, synced)
    assert {i.message.split(":")[0] for i in found} == {"package livros", "package revistas"}
    assert "qualifica" not in asked


def test_catalog_problems_skip_an_integration_never_synced(specs: Path) -> None:
    write(specs, "c.yaml", DEMO)
    desired = load_desired(specs)
    assert catalog_problems(desired, lambda integration, catalog: None) == []
    assert catalog_problems(desired, lambda integration, catalog: []) == []
    full = [{"code": c} for c in ("pro", "premium", "1234567", "7654321")]
    assert catalog_problems(desired, lambda integration, catalog: full) == []
