"""Deterministic ERP clients for the ERP simulators (HubSoft, IXC Soft): a seeded estate of N
people and companies with valid CPF/CNPJ check digits, e-mails, phones, logins, plans and
service statuses, so that a benchmark or a demo can ask for 100,000 clients and get the same
ones every time. Each simulator turns these into its own wire shape.

The status weights follow a living ISP estate: most services enabled, a few per cent suspended
for debt, some cancelled, a handful waiting for installation. ``statuses`` are neutral names
(:data:`STATES`); each simulator maps them to its own vocabulary.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

FIRST = ("Maria", "José", "Ana", "João", "Antônio", "Francisca", "Carlos", "Paulo", "Adriana",
         "Lucas", "Juliana", "Marcos", "Fernanda", "Rafael", "Patrícia", "Gabriel", "Aline",
         "Pedro", "Camila", "Bruno", "Letícia", "Rodrigo", "Beatriz", "Felipe", "Larissa")
LAST = ("Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira",
        "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares",
        "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira")
TRADES = ("Padaria", "Oficina", "Mercado", "Farmácia", "Escritório", "Restaurante", "Clínica")
PLANS = ("FIBRA 300MB", "FIBRA 500MB", "FIBRA 1GB", "FIBRA 500MB COMBO", "RADIO 50MB")
PACKAGES = ("cursos-premium", "livros", "cursos-pro")
DDDS = (11, 19, 21, 31, 41, 47, 48, 51, 61, 71, 81, 85)

#: Neutral service states and their weights (per thousand) in a generated estate.
STATES = (("enabled", 900), ("suspended_debt", 40), ("suspended_partial", 10),
          ("suspended_request", 10), ("cancelled", 25), ("inactive", 5), ("awaiting", 10))


@dataclass(frozen=True)
class Service:
    number: int  # 1-based across the estate: the service's ERP id
    login: str
    plan: str
    packages: tuple[str, ...]
    state: str  # one of STATES


@dataclass(frozen=True)
class Person:
    number: int  # 1-based: the client's ERP id
    company: bool
    document: str  # digits only, check digits valid
    name: str
    email: str
    phone: str  # digits: DDD + 9-digit mobile
    services: tuple[Service, ...]


def estate(count: int, seed: int = 0) -> Iterator[Person]:
    """``count`` clients, the same ones for the same seed; about one in twelve has two
    services, one in ten is a company (CNPJ)."""
    rng = random.Random(seed)
    states = [name for name, weight in STATES for _ in range(weight)]
    service = 0
    for number in range(1, count + 1):
        company = rng.random() < 0.1
        first, last = rng.choice(FIRST), rng.choice(LAST)
        name = f"{rng.choice(TRADES)} {last} Ltda" if company else f"{first} {last}"
        slug = f"{first}.{last}".lower().translate(_ASCII)
        services = []
        for _ in range(2 if rng.random() < 0.08 else 1):
            service += 1
            packages = tuple(p for p in PACKAGES if rng.random() < 0.2)
            services.append(Service(service, f"{slug}.{service}", rng.choice(PLANS), packages,
                                    rng.choice(states)))
        yield Person(number, company, cnpj(rng) if company else cpf(rng), name,
                     f"{slug}.{number}@example.com.br",
                     f"{rng.choice(DDDS)}9{rng.randrange(10**8):08d}", tuple(services))


def cpf(rng: random.Random) -> str:
    """A random CPF with valid check digits (digits only)."""
    base = [rng.randrange(10) for _ in range(9)]
    if len(set(base)) == 1:
        base[0] = (base[0] + 1) % 10  # all-equal CPFs are invalid
    for weights in (range(10, 1, -1), range(11, 1, -1)):
        base.append(_check(base, list(weights)))
    return "".join(map(str, base))


def cnpj(rng: random.Random) -> str:
    """A random CNPJ (head office, /0001) with valid check digits (digits only)."""
    base = [rng.randrange(10) for _ in range(8)] + [0, 0, 0, 1]
    for weights in ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)):
        base.append(_check(base, list(weights)))
    return "".join(map(str, base))


def _check(digits: list[int], weights: list[int]) -> int:
    rest = sum(d * w for d, w in zip(digits, weights, strict=False)) % 11
    return 0 if rest < 2 else 11 - rest


_ASCII = str.maketrans("áàâãéêíóôõúçÁÉÍÓÚÇ", "aaaaeeioooucAEIOUC")
