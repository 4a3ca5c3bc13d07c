"""Realistic plans and drift reports for the golden tests, made by the pure planner.

The specs are the demo ISP's (``tests/golden/specs``: three integrations, ten client services,
one client name full of Markdown and HTML). What the state knows and what the platforms hold
are built here, by hand, as an ISP would find them on two days:

* ``rollout``: nothing applied yet; the STFC platform already holds a few of the numbers (adopted),
  Maria's in its removal queue (converging) and the bakery's linked to a service the specs do
  not declare (a warning).
* ``day_two``: everything applied, then the world moved: a service cancelled, seven numbers of
  services that left the specs (over the unlink limit), a block lifted on the platform, a
  Campsoft e-mail edited there, a course no longer sold, a number gone from everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from reconciler.model import Desired, Drift, Known, Observed, Plan, Resource
from reconciler.planner import plan
from reconciler.specs import load_desired

ROOT = Path(__file__).resolve().parents[2]
SPECS = Path("tests/golden/specs")  # relative, so spec sources read tests/golden/specs/...:N
STFC, QUALIFICA, CAMPSOFT = "stfc-sp", "qualifica", "campsoft"
PLATFORMS = {STFC: "saperx-stfc", QUALIFICA: "qualifica", CAMPSOFT: "campsoft"}
CREATED_AT = "2026-11-25T20:15:03+00:00"
NOW = "2026-11-26T08:00:00+00:00"
SECRETS = {  # set in the environment by the tests: none of them may reach any output
    "GOLDEN_STFC_TOKEN": "stfc-tok-9f2b7c1e5d",
    "GOLDEN_QUALIFICA_SECRET": "qsecret-7d3a91f0",
    "GOLDEN_CAMPSOFT_KEY": "ckey-55e0b2a4",
    "GOLDEN_CAMPSOFT_SECRET": "csecret-0c8d61f9",
}
CATALOGS: dict[str, dict[str, tuple[dict[str, Any], ...]]] = {
    STFC: {"plans": tuple({"id": i, "nome": n} for i, n in enumerate(
        ("STFC Ilimitado", "STFC Básico 100", "STFC Controle 300", "STFC Empresarial"), 1))},
    QUALIFICA: {"products": ({"code": "pro", "name": "Qualifica Pro"},
                             {"code": "premium", "name": "Qualifica Premium"})},
    CAMPSOFT: {"products": ({"code": "1234567", "name": "Biblioteca Digital"},)},
}
SPEC_ONLY = ("range", "package", "origin")  # never read back from a platform


def desired() -> Desired:
    """The golden spec set, loaded with the repository root as the working directory."""
    return load_desired(SPECS)


def _on_platform(res: Resource, **changes: Any) -> Resource:
    """``res`` as its provider would read it back: no spec-only field, the platform's facts."""
    attrs = {k: v for k, v in res.attrs.items() if k not in SPEC_ONLY}
    if res.kind == "number":
        attrs.update(status="free", transmission="sent")
    attrs.update(changes)
    return Resource(res.integration, res.kind, res.key, attrs, None, res.remote_id or res.key)


def _observed(resources: Iterable[Resource], reads: Mapping[str, int]) -> dict[str, Observed]:
    by: dict[str, dict[str, Resource]] = {name: {} for name in PLATFORMS}
    for res in resources:
        by[res.integration][res.address] = res
    return {name: Observed(name, by[name], CATALOGS[name], reads[name]) for name in PLATFORMS}


def _linked(numbers: dict[str, Resource], links: Iterable[Resource]) -> None:
    for link in links:
        addr = f'{STFC}.number["{link.key}"]'
        if addr in numbers:
            numbers[addr] = Resource(STFC, "number", link.key,
                                     {**numbers[addr].attrs, "status": "linked"}, None, link.key)


def rollout() -> tuple[Desired, Known, dict[str, Observed]]:
    want = desired()
    numbers = {a: _on_platform(r) for a, r in want.resources.items()
               if r.kind == "number" and r.key in ("1130001005", "1130001006", "1130001007")}
    for key, status in (("1130001001", "removing"), ("1130001010", "linked")):
        numbers[f'{STFC}.number["{key}"]'] = _on_platform(
            want.resources[f'{STFC}.number["{key}"]'], status=status)
    strangers = [Resource(STFC, "link", "1130001010",
                          {"service": 9999, "plan": "STFC Ilimitado", "params": {},
                           "blocked": False, "document": "11144477735", "name": "Outro Provedor"},
                          None, "1130001010")]
    known = Known("a1b2c3d4-golden-lineage", 0, {})
    return want, known, _observed([*numbers.values(), *strangers],
                                  {STFC: 3, QUALIFICA: 2, CAMPSOFT: 2})


def _leavers() -> list[Resource]:
    """Seven numbers of sp-sul linked by the tool to services the specs no longer declare."""
    return [Resource(STFC, "link", str(n),
                     {"service": 3000 + i, "plan": "STFC Controle 300", "params": {},
                      "blocked": False, "document": "52998224725", "name": f"Cliente {i}"},
                     None, str(n))
            for i, n in enumerate(range(1155002003, 1155002010), 1)]


def day_two() -> tuple[Desired, Known, dict[str, Observed]]:
    want = desired()
    applied = dict(want.resources)
    # What the state recorded when it applied: service 1004 (cancelled since) still linked,
    # a course and a number the specs dropped since.
    old = [
        Resource(STFC, "link", "1130001004",
                 {"service": 1004, "plan": "STFC Básico 100", "params": {}, "blocked": False,
                  "document": "99603082430", "name": "Carlos Souza"}, None, "1130001004"),
        *_leavers(),
        Resource(QUALIFICA, "subscription", "rafael.gomes/pro",
                 {"user": "rafael.gomes", "product": "pro", "service": 1007, "status": "active",
                  "expires": None, "package": "cursos-pro", "origin": "extra"},
                 None, "rafael.gomes/pro"),
        Resource(QUALIFICA, "user", "rafael.gomes",
                 {"name": "Rafael Gomes", "email": "rafael.gomes@example.com.br",
                  "document": "99351819019"}, None, "rafael.gomes"),
        Resource(STFC, "number", "1130009999", {"country_code": 55, "range": "sp-velho"},
                 None, "1130009999"),
    ]
    for res in old:
        applied[res.address] = res
    known = Known("a1b2c3d4-golden-lineage", 41, applied)
    platform = {a: _on_platform(r) for a, r in applied.items() if r.key != "1130009999"}
    platform[f'{STFC}.link["1130001001"]'] = _on_platform(applied[f'{STFC}.link["1130001001"]'],
                                                          blocked=True)
    platform[f'{STFC}.link["1130001003"]'] = _on_platform(applied[f'{STFC}.link["1130001003"]'],
                                                          blocked=False)
    sub = f'{CAMPSOFT}.subscription["1001/livros-1001"]'
    if sub in platform:
        platform[sub] = _on_platform(applied[sub], email="maria@outlook.example.com")
    _linked(platform, [r for r in platform.values() if r.kind == "link"])
    return want, known, _observed(platform.values(), {STFC: 4, QUALIFICA: 3, CAMPSOFT: 2})


def planned(scenario: str) -> tuple[Plan, Desired, Known, dict[str, Observed]]:
    want, known, observed = {"rollout": rollout, "day_two": day_two}[scenario]()
    return plan(want, known, observed), want, known, observed


def drift_items() -> list[Drift]:
    """A drift report of every kind, with first-seen times from minutes to weeks before NOW."""
    return [
        Drift('stfc-sp.link["1130001001"]', STFC, "changed", {"blocked": False},
              {"blocked": True}, ("blocked",), "2026-11-23T07:12:00+00:00"),
        Drift('stfc-sp.link["1130001010"]', STFC, "changed",
              {"plan": "STFC Empresarial", "params": {}},
              {"plan": "STFC Ilimitado", "params": {"numero_telefone_nf": "1130001010"}},
              ("params", "plan"), NOW),
        Drift('stfc-sp.number["1130001019"]', STFC, "missing",
              {"country_code": 55, "range": "sp-centro"}, None, (), "2026-11-26T05:00:00+00:00"),
        Drift('stfc-sp.link["1155002009"]', STFC, "unmanaged", None,
              {"service": 4242, "plan": "STFC Ilimitado", "blocked": False,
               "name": "Escritório <b>Alfa</b> | *x*"}, (), "2026-11-01T08:00:00+00:00",
              "linked to service 4242, which no spec declares: declare it, or unlink it there"),
        Drift('stfc-sp.number["1130001004"]', STFC, "converging", None,
              {"status": "removing"}, (), "2026-11-26T07:58:30+00:00",
              "in the SaperX removal queue: free again within minutes"),
        Drift('campsoft.subscription["1001/livros-1001"]', CAMPSOFT, "changed",
              {"email": "maria.silva@example.com.br"}, {"email": "maria@outlook.example.com"},
              ("email",), None),
        Drift('qualifica.subscription["ana.costa/premium"]', QUALIFICA, "missing",
              {"user": "ana.costa", "product": "premium", "status": "suspended"}, None, (),
              "2026-11-25T08:00:00+00:00"),
    ]
