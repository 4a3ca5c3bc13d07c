"""A small SaperX v2 (VoIP) spec set for the end-to-end tests: one integration pointing at the
served simulator, two number ranges and one client service per SIP line, kept as data so each
test can change it before writing it out.

Lines alternate between a declared account code and none (the platform chooses one, and a
retried create finds the line again by its DIDs); every third line has a second DID in the other
range; the first line's password is generated (written to its password file), the others' come
from the environment.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.e2e.content_specs import cpf
from tests.e2e.specset import write_files

INTEGRATION = "voip"
FIRST_SERVICE = 7001
RANGES: dict[str, dict[str, Any]] = {
    "floripa": {"integration": INTEGRATION, "area_code": 48, "first": 30001000, "last": 30001099},
    "joinville": {"integration": INTEGRATION, "area_code": 47, "first": 34002000,
                  "last": 34002049},
}


def did(number: str, value: str = "9.90") -> dict[str, Any]:
    return {"number": number, "monthly_value": float(value)}


def sip_client(i: int) -> dict[str, Any]:
    """Client ``i`` (from 0) with one active service and its SIP line."""
    service = FIRST_SERVICE + i
    line: dict[str, Any] = {"integration": INTEGRATION, "plan": "Fixo Local 100",
                            "password": "${env:E2E_LINE_PASSWORD}",
                            "dids": [did(f"48300010{i:02d}")]}
    if i % 2 == 0:
        line["account_code"] = f"{710000 + i:06d}"
    if i % 3 == 2:
        line["dids"].append(did(f"47340020{i:02d}", "4.50"))
    if i == 0:
        line.update(password="generate", password_file=f"../secrets/line-{service}.txt")
    return {"document": cpf(400_000_000 + 7919 * i), "name": f"Cliente VoIP {i:02d}",
            "services": [{"id": service, "status": "active", "sip_lines": [line]}]}


class VoipSpecs:
    """Editable copies of the spec data, written as three files under ``root``:
    integrations.yaml (with the safety limits, when set), numbers.yaml and clients.yaml."""

    def __init__(self, root: Path, url: str, *, lines: int) -> None:
        self.root = root
        self.url = url
        self.ranges = copy.deepcopy(RANGES)
        self.clients = [sip_client(i) for i in range(lines)]
        self.safety: dict[str, Any] = {}

    def service(self, service_id: int) -> dict[str, Any]:
        return next(s for c in self.clients for s in c["services"] if s["id"] == service_id)

    def line(self, service_id: int) -> dict[str, Any]:
        return self.service(service_id)["sip_lines"][0]

    def integrations(self) -> dict[str, Any]:
        return {INTEGRATION: {
            "platform": "saperx-v2", "endpoint": self.url,
            "credentials": {"username": "${env:E2E_V2_USERNAME}",
                            "password": "${env:E2E_V2_PASSWORD}",
                            "api_key": "${env:E2E_V2_KEY}", "api_secret": "${env:E2E_V2_SECRET}"},
            "rate_limit": {"per_second": 50, "burst": 50},
            "options": {"block_on_suspend": True, "page_size": 3},
        }}

    def write(self) -> Path:
        head = {"integrations": self.integrations(), **({"safety": self.safety} if self.safety else {})}
        return write_files(self.root, {"integrations.yaml": head,
                                       "numbers.yaml": {"number_ranges": self.ranges},
                                       "clients.yaml": {"clients": self.clients}})
