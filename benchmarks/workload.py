"""A synthetic ISP of N client services, written as a spec set the way an operator keeps one.

Deterministic from a seed. The mix (issue 5): about 30% of services hold an STFC number, 60% one
or two content packages (through a combo plan or as extras), statuses about 90% active, 7%
suspended and 3% cancelled; every CPF/CNPJ and number valid. Clients are split over files of
about 1,000 services (``clients/0001.yaml``...), numbers over ranges of 10,000.

``generate(root, n, seed, endpoints)`` writes the set; ``mutate(root, fraction, seed)`` changes
that share of the services in place (status flips, plan switches, packages added or dropped),
rewriting only the files that hold them, as a day of ERP changes would.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reconciler.specs.brazil import cnpj_check_digits, cpf_check_digits

SERVICES_PER_FILE = 1_000
RANGE_SIZE = 10_000
AREA_CODES = (11, 21, 31, 41, 48, 51, 61, 71, 81, 85)
STFC_PLANS = ("STFC Ilimitado", "STFC Básico 100", "STFC Controle 300")
PACKAGES = {
    "cursos-pro": {"integration": "qualifica", "name": "Cursos Pro", "price": 9.9,
                   "products": ["pro"]},
    "cursos-premium": {"integration": "qualifica", "name": "Cursos Premium", "price": 19.9,
                       "products": ["premium"]},
    "livros": {"integration": "campsoft", "name": "Biblioteca Digital", "price": 9.9,
               "products": ["1234567"]},
    "livros-kids": {"integration": "campsoft", "name": "Biblioteca Kids", "price": 6.9,
                    "products": ["2468013"]},
}
PLANS = {
    "fibra-300-cursos": {"packages": [{"package": "cursos-pro", "mandatory": True}]},
    "fibra-600-combo": {"packages": [{"package": "cursos-premium", "mandatory": True},
                                     {"package": "livros"}], "lock_packages": True},
}
ENV = {"stfc": "BENCH_STFC_TOKEN", "qualifica": "BENCH_QUALIFICA_SECRET",
       "campsoft_key": "BENCH_CAMPSOFT_KEY", "campsoft": "BENCH_CAMPSOFT_SECRET"}


@dataclass(frozen=True)
class Summary:
    """What a generated spec set holds, for the runner to check counts against."""

    services: int
    files: int
    numbers_assigned: int
    with_packages: int
    statuses: Mapping[str, int]


def cpf(index: int) -> str:
    base = f"{(index * 7919 + 100_000_007) % 999_999_999:09d}"
    return base + cpf_check_digits(base)


def cnpj(index: int) -> str:
    base = f"{(index * 104_729 + 10_000_019) % 99_999_999:08d}0001"
    return base + cnpj_check_digits(base)


def integrations(endpoints: Mapping[str, str] | None) -> dict[str, Any]:
    """The three integrations, at the given URLs (or embedded), secrets from the environment."""
    where = dict(endpoints or {})
    return {
        "stfc": {"platform": "saperx-stfc", "endpoint": where.get("stfc", "embedded"),
                 "credentials": {"token": f"${{env:{ENV['stfc']}}}"},
                 "options": {"page_size": 1000, "concurrency": 8}},
        "qualifica": {"platform": "qualifica", "endpoint": where.get("qualifica", "embedded"),
                      "credentials": {"client_id": "sim-client",
                                      "client_secret": f"${{env:{ENV['qualifica']}}}"},
                      "options": {"page_size": 1000, "concurrency": 8,
                                  "suspend_on_delinquency": True}},
        "campsoft": {"platform": "campsoft", "endpoint": where.get("campsoft", "embedded"),
                     "credentials": {"api_key": f"${{env:{ENV['campsoft_key']}}}",
                                     "api_secret": f"${{env:{ENV['campsoft']}}}"},
                     "options": {"page_size": 1000, "concurrency": 8,
                                 "suspend_on_delinquency": False}},
    }


def _status(rng: random.Random) -> str:
    draw = rng.random()
    return "active" if draw < 0.90 else "suspended" if draw < 0.97 else "cancelled"


def _service(rng: random.Random, sid: int, number: str | None) -> dict[str, Any]:
    service: dict[str, Any] = {"id": sid, "login": f"cliente{sid}", "status": _status(rng)}
    if rng.random() < 0.60:
        if rng.random() < 0.5:
            service["plan"] = rng.choice(sorted(PLANS))
            if service["plan"] == "fibra-300-cursos" and rng.random() < 0.3:
                service["packages"] = [{"package": "livros-kids"}]
        else:
            picks = rng.sample(sorted(PACKAGES), rng.choice((1, 2)))
            service["packages"] = [{"package": p} for p in picks]
    if number is not None:
        service["phone_numbers"] = [{"integration": "stfc", "number": number,
                                     "plan": rng.choice(STFC_PLANS)}]
    return service


def _client(index: int, services: list[dict[str, Any]]) -> dict[str, Any]:
    company = index % 10 == 0
    return {"document": cnpj(index) if company else cpf(index),
            "name": f"{'Empresa' if company else 'Cliente'} {index}",
            "email": f"cliente{index}@example.com.br",
            "phone": f"{AREA_CODES[index % len(AREA_CODES)]}9{index % 10**8:08d}",
            "services": services}


def _number_for(k: int) -> str:
    """The k-th assigned number: ranges of RANGE_SIZE in turn over the area codes."""
    block, offset = divmod(k, RANGE_SIZE)
    area = AREA_CODES[block % len(AREA_CODES)]
    first = 30_000_000 + (block // len(AREA_CODES)) * RANGE_SIZE
    return f"{area}{first + offset}"


def _ranges(count: int) -> dict[str, Any]:
    out = {}
    for block in range((count + RANGE_SIZE - 1) // RANGE_SIZE):
        area = AREA_CODES[block % len(AREA_CODES)]
        first = 30_000_000 + (block // len(AREA_CODES)) * RANGE_SIZE
        out[f"r{block:04d}"] = {"integration": "stfc", "area_code": area, "first": first,
                                "last": first + RANGE_SIZE - 1}
    return out


def generate(root: Path, n: int, *, seed: int = 1,
             endpoints: Mapping[str, str] | None = None) -> Summary:
    """Write a spec set of ``n`` client services under ``root`` (replacing what was there)."""
    rng = random.Random(seed)
    (root / "clients").mkdir(parents=True, exist_ok=True)
    for old in (root / "clients").glob("*.yaml"):
        old.unlink()
    numbers = 0
    services: list[dict[str, Any]] = []
    for sid in range(1, n + 1):
        number = _number_for(numbers) if rng.random() < 0.30 else None
        numbers += number is not None
        services.append(_service(rng, 100_000 + sid, number))
    files = _write_clients(root, services)
    _dump(root / "integrations.yaml", {"integrations": integrations(endpoints)})
    _dump(root / "numbers.yaml", {"number_ranges": _ranges(max(numbers, 1))})
    _dump(root / "content.yaml", {"packages": PACKAGES, "plans": PLANS})
    return summary(services, files)


def _write_clients(root: Path, services: list[dict[str, Any]]) -> int:
    """Clients of one or two services, SERVICES_PER_FILE services per file."""
    files = 0
    for start in range(0, len(services), SERVICES_PER_FILE):
        chunk = services[start:start + SERVICES_PER_FILE]
        clients, i = [], 0
        while i < len(chunk):
            take = 2 if (start + i) % 7 == 3 and i + 1 < len(chunk) else 1
            clients.append(_client(start + i, chunk[i:i + take]))
            i += take
        files += 1
        _dump(root / "clients" / f"{files:04d}.yaml", {"clients": clients})
    return files


def summary(services: list[dict[str, Any]], files: int) -> Summary:
    statuses: dict[str, int] = {}
    for s in services:
        statuses[s["status"]] = statuses.get(s["status"], 0) + 1
    return Summary(
        services=len(services), files=files,
        numbers_assigned=sum(1 for s in services if s.get("phone_numbers")),
        with_packages=sum(1 for s in services if s.get("plan") or s.get("packages")),
        statuses=statuses,
    )


def mutate(root: Path, fraction: float, *, seed: int = 2) -> int:
    """Change ``fraction`` of the services: a third change status, a third switch or drop
    their plan bundle, a third gain a package. Returns how many services changed."""
    rng = random.Random(seed)
    paths = sorted((root / "clients").glob("*.yaml"))
    docs = {p: yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) for p in paths}
    everything = [(p, s) for p, d in docs.items() for c in d["clients"] for s in c["services"]]
    chosen = rng.sample(range(len(everything)), max(1, round(len(everything) * fraction)))
    touched = set()
    for n, i in enumerate(chosen):
        path, service = everything[i]
        touched.add(path)
        if n % 3 == 0:
            service["status"] = "suspended" if service["status"] == "active" else "active"
        elif n % 3 == 1:
            service["plan"] = rng.choice([p for p in PLANS if p != service.get("plan")])
            service.pop("packages", None)
            service.pop("exclude_packages", None)
        elif not service.get("plan"):
            held = {p["package"] for p in service.get("packages", [])}
            extra = sorted(set(PACKAGES) - held)
            if extra:
                service.setdefault("packages", []).append({"package": rng.choice(extra)})
        else:
            service["status"] = "cancelled"
    for path in touched:
        _dump(path, docs[path])
    return len(chosen)


def _dump(path: Path, data: Any) -> None:
    path.write_text(yaml.dump(data, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
