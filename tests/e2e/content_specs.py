"""A small content (SVA) spec set for the end-to-end tests: a Qualifica and a Campsoft
integration pointing at the served simulators, packages, two combo plans and a few clients,
kept as data so each test can change it before writing it out."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.e2e.conftest import QUALIFICA_CLIENT_ID
from tests.e2e.specset import write_files

PACKAGES: dict[str, dict[str, Any]] = {
    "cursos-premium": {"integration": "qualifica", "name": "Cursos Qualifica Premium",
                       "price": 19.9, "products": ["premium"]},
    "cursos-pro": {"integration": "qualifica", "price": 9.9, "products": ["pro"]},
    "livros": {"integration": "campsoft", "name": "Biblioteca Digital", "price": 9.9,
               "products": ["1234567"]},
    "livros-premium": {"integration": "campsoft", "price": 14.9, "products": ["7654321"]},
    "kids": {"integration": "campsoft", "price": 4.9, "products": ["2468013"]},
}

PLANS: dict[str, dict[str, Any]] = {
    # locked: only these packages, and never without cursos-premium
    "combo-livros": {"name": "Fibra 500 + Cursos + Livros", "lock_packages": True,
                     "packages": [{"package": "cursos-premium", "mandatory": True},
                                  {"package": "livros"}]},
    # shares cursos-premium with combo-livros; kids instead of livros
    "combo-kids": {"name": "Fibra 500 + Cursos + Kids",
                   "packages": [{"package": "cursos-premium", "mandatory": True},
                                {"package": "kids"}]},
}

CLIENTS: list[dict[str, Any]] = [
    {"document": "526.018.159-06", "name": "Maria Silva", "email": "maria.silva@example.com.br",
     "phone": "+55 11 98765-4321",
     "services": [{"id": 1001, "login": "maria.silva", "status": "active",
                   "plan": "combo-livros"}]},
    {"document": "083.016.613-05", "name": "João Pereira", "email": "joao.pereira@example.com.br",
     "phone": "11 97654-3210",
     "services": [{"id": 1002, "login": "joao.pereira", "status": "active",
                   "packages": [{"package": "cursos-pro"}, {"package": "livros-premium"}]}]},
    {"document": "186.091.390-34", "name": "Ana Costa", "email": "ana.costa@example.com.br",
     "phone": "(21) 99876-5432",
     "services": [{"id": 1003, "login": "ana.costa", "status": "active",
                   "plan": "combo-kids"}]},
    {"document": "75.749.118/0001-16", "name": "Padaria Pão Quente Ltda",
     "email": "financeiro@paoquente.example.com.br", "phone": "(11) 3333-4444",
     "services": [{"id": 2001, "login": "paoquente", "status": "active",
                   "packages": [{"package": "livros", "params": {"label": "livros-paoquente"}}]}]},
]

# What the clean spec set above puts on each platform (keys as the simulators list them).
QUALIFICA_GRANTS = {"maria.silva/premium", "joao.pereira/pro", "ana.costa/premium"}
CAMPSOFT_SUBSCRIPTIONS = {"1001/livros-1001", "1002/livros-premium-1002", "2001/livros-paoquente",
                          "1003/kids-1003"}


def cpf(base: int) -> str:
    """A valid CPF (formatted) from a 9-digit base, check digits computed here, not by the
    code under test."""
    digits = [int(c) for c in f"{base:09d}"]
    for length in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(length + 1, 1, -1), strict=True))
        digits.append(0 if total * 10 % 11 == 10 else total * 10 % 11)
    text = "".join(map(str, digits))
    return f"{text[:3]}.{text[3:6]}.{text[6:9]}-{text[9:]}"


def bulk_clients(count: int, first_service: int = 5001) -> list[dict[str, Any]]:
    """``count`` residential clients, one active service each with the Campsoft package
    ``livros`` (one subscription each: contract ``<id>``, label ``livros-<id>``)."""
    out = []
    for i in range(count):
        service = first_service + i
        out.append({"document": cpf(300_000_000 + 7919 * i), "name": f"Cliente {i:03d}",
                    "email": f"cliente{i:03d}@example.com.br",
                    "phone": f"+55 11 9{7000_0000 + i:08d}",
                    "services": [{"id": service, "login": f"cliente{i:03d}", "status": "active",
                                  "packages": [{"package": "livros"}]}]})
    return out


class ContentSpecs:
    """Editable copies of the spec data, written as three files under ``root``:
    integrations.yaml, content.yaml (packages and plans) and clients.yaml."""

    def __init__(self, root: Path, qualifica_url: str, campsoft_url: str, *,
                 qualifica_suspends: bool = True, campsoft_suspends: bool = True,
                 bulk: int = 0) -> None:
        self.root = root
        self.qualifica_url = qualifica_url
        self.campsoft_url = campsoft_url
        self.qualifica_suspends = qualifica_suspends
        self.campsoft_suspends = campsoft_suspends
        self.packages = copy.deepcopy(PACKAGES)
        self.plans = copy.deepcopy(PLANS)
        self.clients = copy.deepcopy(CLIENTS) + bulk_clients(bulk)
        self.qualifica_options: dict[str, Any] = {"page_size": 2}
        self.campsoft_options: dict[str, Any] = {"page_size": 3}
        self.rate_limit = {"per_second": 50, "burst": 50}

    def client(self, service_id: int) -> dict[str, Any]:
        return next(c for c in self.clients if any(s["id"] == service_id for s in c["services"]))

    def service(self, service_id: int) -> dict[str, Any]:
        return next(s for c in self.clients for s in c["services"] if s["id"] == service_id)

    def integrations(self) -> dict[str, Any]:
        return {
            "qualifica": {
                "platform": "qualifica", "endpoint": self.qualifica_url,
                "credentials": {"client_id": QUALIFICA_CLIENT_ID,
                                "client_secret": "${env:E2E_QUALIFICA_SECRET}"},
                "rate_limit": self.rate_limit,
                "options": {"suspend_on_delinquency": self.qualifica_suspends,
                            **self.qualifica_options},
            },
            "campsoft": {
                "platform": "campsoft", "endpoint": self.campsoft_url,
                "credentials": {"api_key": "${env:E2E_CAMPSOFT_KEY}",
                                "api_secret": "${env:E2E_CAMPSOFT_SECRET}"},
                "rate_limit": self.rate_limit,
                "options": {"suspend_on_delinquency": self.campsoft_suspends,
                            **self.campsoft_options},
            },
        }

    def write(self) -> Path:
        return write_files(self.root, {
            "integrations.yaml": {"integrations": self.integrations()},
            "content.yaml": {"packages": self.packages, "plans": self.plans},
            "clients.yaml": {"clients": self.clients}})

    def line_of(self, name: str, text: str) -> int:
        """The 1-based line of the first line of file ``name`` containing ``text``."""
        lines = (self.root / name).read_text(encoding="utf-8").splitlines()
        return next(i for i, line in enumerate(lines, 1) if text in line)
