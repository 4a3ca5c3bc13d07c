"""A small ISP spec set for the end-to-end tests, kept as data so each test can change it."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

CLIENTS: list[dict[str, Any]] = [
    {"document": "529.982.247-25", "name": "Maria Silva", "email": "maria@example.com.br",
     "services": [{"id": 1001, "status": "active", "phone_numbers": [
         {"integration": "stfc-sp", "number": "1130001001", "plan": "STFC Ilimitado",
          "params": {"numero_telefone_nf": "1130001001"}}]}]},
    {"document": "111.444.777-35", "name": "João Pereira",
     "services": [{"id": 1002, "status": "active", "phone_numbers": [
         {"integration": "stfc-sp", "number": "1130001002", "plan": "STFC Ilimitado"}]}]},
    {"document": "390.533.447-05", "name": "Ana Costa",
     "services": [{"id": 1003, "status": "suspended", "phone_numbers": [
         {"integration": "stfc-sp", "number": "1130001003", "plan": "STFC Ilimitado"}]}]},
    {"document": "123.456.789-09", "name": "Carlos Souza",
     "services": [{"id": 1004, "status": "cancelled", "phone_numbers": [
         {"integration": "stfc-sp", "number": "1130001004", "plan": "STFC Ilimitado"}]}]},
    {"document": "11.222.333/0001-81", "name": "Padaria Pão Quente Ltda",
     "services": [{"id": 2001, "status": "active", "phone_numbers": [
         {"integration": "stfc-sp", "number": "1140045000", "plan": "STFC Ilimitado"}]}]},
]

RANGES: dict[str, dict[str, Any]] = {
    "sp-centro": {"integration": "stfc-sp", "area_code": 11, "first": 30001000, "last": 30001009},
    "sp-diretoria": {"integration": "stfc-sp", "area_code": 11, "first": 40045000},
}


class SpecSet:
    """Editable copies of the spec data, written as three files under ``root``."""

    def __init__(self, root: Path, endpoint: str) -> None:
        self.root = root
        self.endpoint = endpoint
        self.clients = copy.deepcopy(CLIENTS)
        self.ranges = copy.deepcopy(RANGES)
        self.options: dict[str, Any] = {"page_size": 4}  # the integration's options

    def service(self, service_id: int) -> dict[str, Any]:
        return next(s for c in self.clients for s in c["services"] if s["id"] == service_id)

    def write(self) -> Path:
        integrations = {"stfc-sp": {"platform": "saperx-stfc", "endpoint": self.endpoint,
                                    "credentials": {"token": "${env:E2E_STFC_TOKEN}"},
                                    "options": self.options}}
        return write_files(self.root, {"integrations.yaml": {"integrations": integrations},
                                       "numbers.yaml": {"number_ranges": self.ranges},
                                       "clients.yaml": {"clients": self.clients}})


def write_files(root: Path, files: Mapping[str, Any]) -> Path:
    """Each of ``files`` (name -> data) written as YAML under ``root``, made if needed."""
    root.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        (root / name).write_text(text, encoding="utf-8")
    return root
