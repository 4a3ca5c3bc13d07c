"""What the end-to-end tests of the mapping platforms (Geosite, OZmap) share: a served simulator
with a fresh secret, the spec files of one integration and its clients' services on ports, and
the check that a secret shows nowhere."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

import httpx

from tests.e2e.conftest import serve_simulator

T = TypeVar("T")

# valid CPFs, one per client, in the order the services are given
DOCUMENTS = ("52998224725", "11144477735", "39053344705", "07068093868", "86288366757",
             "45317828791", "15350946056", "71428793860")

# (service id, status, box, port), or with a fifth item: the splitter
Service = tuple[int, str, str, int] | tuple[int, str, str, int, str]


def write_specs(root: Path, integration: str, block: str, services: Sequence[Service], *,
                documents: Mapping[int, str] | None = None) -> None:
    """specs/integrations.yaml holding ``block`` (the integration's YAML, indented under
    ``integrations:``) and specs/clients.yaml with one client per service, its port on
    ``integration``; a client's document is the next of DOCUMENTS unless ``documents`` gives
    its service's."""
    folder = root / "specs"
    folder.mkdir(exist_ok=True)
    (folder / "integrations.yaml").write_text(f"integrations:\n  {integration}:\n{block}")
    lines = ["clients:"]
    for n, (service, status, box, port, *splitter) in enumerate(services):
        where = f"box: {box}" + (f", splitter: {splitter[0]}" if splitter else "")
        document = (documents or {}).get(service, DOCUMENTS[n])
        lines += [f'  - document: "{document}"', f"    name: Client {service}",
                  "    services:", f"      - id: {service}", f"        status: {status}",
                  f"        port: {{integration: {integration}, {where}, port: {port}}}"]
    (folder / "clients.yaml").write_text("\n".join(lines) + "\n")


def assert_nowhere(secret: str, texts: Iterable[str], files: Iterable[Path]) -> None:
    """``secret`` is in none of ``texts`` (a run's output) nor of the bytes of ``files``."""
    for n, text in enumerate(texts):
        assert secret not in text, f"the secret shows in output {n}"
    for path in files:
        assert secret.encode() not in path.read_bytes(), f"the secret shows in {path}"


def served(platform: str, make: Callable[[str, str, httpx.Client], T]) -> Iterator[T]:
    """``platform``'s simulator served on loopback with a fresh secret (its SIM_TOKEN: OZmap's
    API key, Geosite's password), as ``make(url, secret, client)``; stopped afterwards."""
    secret = f"{platform[:3]}-{secrets.token_hex(12)}"
    with serve_simulator(platform, secret) as (url, client):
        yield make(url, secret, client)
