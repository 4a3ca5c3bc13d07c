"""A synthetic ISP of N client services, written as a spec set the way an operator keeps one.

Deterministic from a seed. The mix (issue 5): about 30% of services hold an STFC number, 60% one
or two content packages (through a combo plan or as extras), statuses about 90% active, 7%
suspended and 3% cancelled; every CPF/CNPJ and number valid. Issue 12 adds VoIP: 10% of services
have a SIP line on SaperX v2 with 1 to 3 DIDs (most with a 6-digit account code, the others let
the platform choose one; plans from the simulator's catalog; the password an ``${env:}``
reference; its status follows the service's: a cancelled service's line is inactive, a suspended
one's blocked). Issue 13 adds fibre ports: 80% of services are connected to a port of an OZmap
box (boxes of one 1x16 customer splitter, filled in order; :func:`network` is the simulator's
seed for them, with a tenth of spare boxes). The SIP lines and the ports are drawn from random
streams of their own, so the rest of the mix is the same as without them. Clients are split
over files of about 1,000 services (``clients/0001.yaml``...), STFC numbers and DIDs over ranges
of 10,000.

``generate(root, n, seed, endpoints)`` writes the set; ``mutate(root, fraction, seed)`` changes
that share of the services in place (status flips, plan switches, packages added or dropped;
the SIP lines of the services it changes get a new call limit, a DID added or a DID moved from
another of those lines; a quarter of those on a port move to a free one), rewriting only the
files that hold them, as a day of ERP changes would.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
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
       "campsoft_key": "BENCH_CAMPSOFT_KEY", "campsoft": "BENCH_CAMPSOFT_SECRET",
       "voip_password": "BENCH_V2_PASSWORD", "voip_key": "BENCH_V2_KEY",
       "voip": "BENCH_V2_SECRET", "sip_line": "BENCH_SIP_PASSWORD", "ports": "BENCH_OZMAP_KEY"}
STFC_FIRST = 30_000_000  # subscriber numbers of the STFC ranges, then of the VoIP ranges
DID_FIRST = 40_000_000
SIP_SHARE = 0.10
DIDS_PER_LINE = ((1, 2, 3), (0.5, 0.3, 0.2))  # 1.7 on average
ACCOUNT_CODE_FIRST = 400_000  # declared codes; the simulator gives 100000, 100001... to the rest
SIP_PLANS = ("Fixo Local 100", "Fixo Brasil 500", "Fixo Ilimitado")  # the simulator's catalogs
SIP_INTERNATIONAL = ("Internacional Américas", "Internacional Mundo")
CALL_LIMITS = (1, 2, 4, 8, 10)
PORT_SHARE = 0.80
PORTS_PER_BOX = 16
PROJECT = "Bench FTTH"


@dataclass(frozen=True)
class Summary:
    """What a generated spec set holds, for the runner to check counts against."""

    services: int
    files: int
    numbers_assigned: int
    with_packages: int
    statuses: Mapping[str, int]
    sip_lines: int = 0
    sip_lines_inactive: int = 0  # of cancelled services: the initial apply leaves them absent
    dids: int = 0
    ports: int = 0  # services declared on a port, cancelled ones included
    ports_live: int = 0  # of those, the services not cancelled: connected by the initial apply
    boxes: int = 0  # in the network the simulator is seeded with (:func:`network`)


@dataclass(frozen=True)
class Mutation:
    """What :func:`mutate` changed: services, those with a SIP line, and the lines edited
    (those of services not cancelled by the change)."""

    services: int
    services_with_lines: int
    sip_lines: int
    dids_added: int
    dids_moved: int
    ports_moved: int = 0


def cpf(index: int) -> str:
    base = f"{(index * 7919 + 100_000_007) % 999_999_999:09d}"
    return base + cpf_check_digits(base)


def cnpj(index: int) -> str:
    base = f"{(index * 104_729 + 10_000_019) % 99_999_999:08d}0001"
    return base + cnpj_check_digits(base)


def integrations(endpoints: Mapping[str, str] | None) -> dict[str, Any]:
    """The four integrations, at the given URLs (or embedded), secrets from the environment."""
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
        "voip": {"platform": "saperx-v2", "endpoint": where.get("voip", "embedded"),
                 "credentials": {"username": "sim-user",
                                 "password": f"${{env:{ENV['voip_password']}}}",
                                 "api_key": f"${{env:{ENV['voip_key']}}}",
                                 "api_secret": f"${{env:{ENV['voip']}}}"},
                 "options": {"page_size": 1000, "concurrency": 8, "block_on_suspend": True}},
        "ports": {"platform": "ozmap", "endpoint": where.get("ports", "embedded"),
                  "credentials": {"api_key": f"${{env:{ENV['ports']}}}"},
                  "options": {"project": PROJECT, "page_size": 1000, "concurrency": 8}},
    }


def boxes_for(n: int) -> int:
    """The boxes of the network of an estate of ``n`` services: room for every service on a
    port and a tenth more (where :func:`mutate` moves services to)."""
    return max(2, -(-round(n * PORT_SHARE * 1.1) // PORTS_PER_BOX) + 1)


def network(n: int) -> dict[str, Any]:
    """The OZmap simulator's seed (``POST /_sim/seed``) for an estate of ``n`` services: boxes
    ``CTO-0001``... of one 1x16 customer splitter, every port free and implanted."""
    return {"generate": {"project": PROJECT, "boxes": boxes_for(n), "ports": PORTS_PER_BOX,
                         "reserve": 0, "design_every": 0, "seed": 1}}


def _box_port(k: int) -> dict[str, Any]:
    """The k-th port of the network (0-based), boxes filled in order."""
    box, port = divmod(k, PORTS_PER_BOX)
    return {"integration": "ports", "box": f"CTO-{box + 1:04d}", "port": port + 1}


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


def _block(block: int, base: int) -> tuple[int, int]:
    """The area code and first subscriber number of a range: in turn over the area codes."""
    return (AREA_CODES[block % len(AREA_CODES)],
            base + (block // len(AREA_CODES)) * RANGE_SIZE)


def _number_for(k: int, base: int = STFC_FIRST) -> str:
    """The k-th assigned number of the ranges from ``base``, RANGE_SIZE numbers each."""
    block, offset = divmod(k, RANGE_SIZE)
    area, first = _block(block, base)
    return f"{area}{first + offset}"


def _ranges(count: int, integration: str = "stfc", base: int = STFC_FIRST,
            prefix: str = "r") -> dict[str, Any]:
    out = {}
    for block in range((count + RANGE_SIZE - 1) // RANGE_SIZE):
        area, first = _block(block, base)
        out[f"{prefix}{block:04d}"] = {"integration": integration, "area_code": area,
                                       "first": first, "last": first + RANGE_SIZE - 1}
    return out


def _did_ranges(dids: int) -> dict[str, Any]:
    """The VoIP ranges: every DID, and room for a tenth more (what mutate adds)."""
    return _ranges(dids + max(10, dids // 10), "voip", DID_FIRST, "v")


def _sip_line(rng: random.Random, line: int, dids: list[str]) -> dict[str, Any]:
    """A SIP line as an operator writes one: the platform chooses the account code of one line
    in five; a caller id on about half of those with several DIDs."""
    out: dict[str, Any] = {"integration": "voip"}
    if rng.random() < 0.8:
        out["account_code"] = f"{ACCOUNT_CODE_FIRST + line:06d}"
    out["password"] = f"${{env:{ENV['sip_line']}}}"
    out["plan"] = rng.choice(SIP_PLANS)
    if rng.random() < 0.2:
        out["international_plan"] = rng.choice(SIP_INTERNATIONAL)
        out["permissions"] = {"LDI": True}
    out["call_limit"] = rng.choice(CALL_LIMITS)
    out["closing_day"] = rng.choice((1, 10, 20))
    if len(dids) > 1 and rng.random() < 0.5:
        out["caller_id"] = rng.choice(dids)
    out["dids"] = [{"number": d, "monthly_value": rng.choice((0, 9.9, 19.9))} for d in dids]
    return out


def generate(root: Path, n: int, *, seed: int = 1,
             endpoints: Mapping[str, str] | None = None) -> Summary:
    """Write a spec set of ``n`` client services under ``root`` (replacing what was there)."""
    rng = random.Random(seed)
    sip = random.Random(f"sip-lines-{seed}")  # its own stream: the rest of the mix is unchanged
    fibre = random.Random(f"ports-{seed}")  # the same
    (root / "clients").mkdir(parents=True, exist_ok=True)
    for old in (root / "clients").glob("*.yaml"):
        old.unlink()
    numbers = dids = lines = ports = 0
    services: list[dict[str, Any]] = []
    for sid in range(1, n + 1):
        number = _number_for(numbers) if rng.random() < 0.30 else None
        numbers += number is not None
        service = _service(rng, 100_000 + sid, number)
        if sip.random() < SIP_SHARE:
            count = sip.choices(*DIDS_PER_LINE)[0]
            taken = [_number_for(dids + i, DID_FIRST) for i in range(count)]
            service["sip_lines"] = [_sip_line(sip, lines, taken)]
            dids, lines = dids + count, lines + 1
        if fibre.random() < PORT_SHARE:
            service["port"] = _box_port(ports)
            ports += 1
        services.append(service)
    files = _write_clients(root, services)
    _dump(root / "integrations.yaml", {"integrations": integrations(endpoints)})
    _dump(root / "numbers.yaml", {"number_ranges": {**_ranges(max(numbers, 1)),
                                                    **_did_ranges(dids)}})
    _dump(root / "content.yaml", {"packages": PACKAGES, "plans": PLANS})
    return summary(services, files, boxes_for(n))


def generate_numbers(root: Path, n: int, *, seed: int = 1,
                     endpoints: Mapping[str, str] | None = None) -> int:
    """Write a telephony-only spec set under ``root``: ``n`` active client services, each
    with one STFC number on a plan of :data:`STFC_PLANS` (what ``benchmarks.billing`` bills);
    returns the number of client files."""
    rng = random.Random(f"numbers-{seed}")
    (root / "clients").mkdir(parents=True, exist_ok=True)
    for old in (root / "clients").glob("*.yaml"):
        old.unlink()
    services = [{"id": 100_000 + k, "login": f"cliente{100_000 + k}", "status": "active",
                 "phone_numbers": [{"integration": "stfc", "number": _number_for(k - 1),
                                    "plan": rng.choice(STFC_PLANS)}]} for k in range(1, n + 1)]
    files = _write_clients(root, services)
    _dump(root / "integrations.yaml",
          {"integrations": {"stfc": integrations(endpoints)["stfc"]}})
    _dump(root / "numbers.yaml", {"number_ranges": _ranges(n)})
    return files


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


def summary(services: list[dict[str, Any]], files: int, boxes: int = 0) -> Summary:
    statuses: dict[str, int] = {}
    for s in services:
        statuses[s["status"]] = statuses.get(s["status"], 0) + 1
    lines = [(s, line) for s in services for line in s.get("sip_lines", ())]
    return Summary(
        services=len(services), files=files,
        numbers_assigned=sum(1 for s in services if s.get("phone_numbers")),
        with_packages=sum(1 for s in services if s.get("plan") or s.get("packages")),
        statuses=statuses,
        sip_lines=len(lines),
        sip_lines_inactive=sum(1 for s, _ in lines if s["status"] == "cancelled"),
        dids=sum(len(line["dids"]) for _, line in lines),
        ports=sum(1 for s in services if s.get("port")),
        ports_live=sum(1 for s in services if s.get("port") and s["status"] != "cancelled"),
        boxes=boxes,
    )


def touch_one_file(root: Path) -> str:
    """Append a comment to the first client file: its bytes (and so its digest) change, what it
    declares does not. The plan after it parses that file again and takes the others from the
    per-file spec cache. Returns the file's path, relative to ``root``."""
    path = sorted((root / "clients").glob("*.yaml"))[0]
    with path.open("a", encoding="utf-8") as fh:
        fh.write("# reviewed by the benchmark\n")
    return path.relative_to(root).as_posix()


def mutate(root: Path, fraction: float, *, seed: int = 2) -> Mutation:
    """Change ``fraction`` of the services (those with SIP lines in proportion): a third
    change status, a third switch or drop their plan bundle, a third gain a package (or, with a
    plan bundle, are cancelled). The SIP lines of those services (unless now
    cancelled) change too: a third get a new call limit, a third a new DID from the ranges, a
    third a DID moved from another of those lines (a DID that is not the one it presents).
    A quarter of the changed services on a port (unless now cancelled) move to a free port."""
    rng = random.Random(seed)
    paths = sorted((root / "clients").glob("*.yaml"))
    docs = {p: yaml.load(p.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) for p in paths}
    everything = [(p, s) for p, d in docs.items() for c in d["clients"] for s in c["services"]]
    sip = random.Random(f"sip-lines-{seed}")
    chosen = _choose(rng, sip, [bool(s.get("sip_lines")) for _, s in everything], fraction)
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
    lines = [line for i in chosen if everything[i][1]["status"] != "cancelled"
             for line in everything[i][1].get("sip_lines", ())]
    free = _free_dids(yaml.load((root / "numbers.yaml").read_text(encoding="utf-8"),
                                Loader=yaml.CSafeLoader)["number_ranges"],
                      {d["number"] for _, s in everything for line in s.get("sip_lines", ())
                       for d in line["dids"]})
    added, moved = _change_lines(sip, lines, free)
    ported = [everything[i][1] for i in chosen if everything[i][1].get("port")
              and everything[i][1]["status"] != "cancelled"][::4]
    spare = _free_ports(len(everything), {(s["port"]["box"], s["port"]["port"])
                                          for _, s in everything if s.get("port")})
    for service in ported:
        service["port"] = next(spare)
    for path in touched:
        _dump(path, docs[path])
    return Mutation(services=len(chosen),
                    services_with_lines=sum(1 for i in chosen if everything[i][1].get("sip_lines")),
                    sip_lines=len(lines), dids_added=added, dids_moved=moved,
                    ports_moved=len(ported))


def _free_ports(n: int, used: set[tuple[str, int]]) -> Iterator[dict[str, Any]]:
    """The ports of the network of ``n`` services that no service holds, from the last box
    back (the spare ones first)."""
    for k in range(boxes_for(n) * PORTS_PER_BOX - 1, -1, -1):
        port = _box_port(k)
        if (port["box"], port["port"]) not in used:
            yield port


def _choose(rng: random.Random, sip: random.Random, has_lines: list[bool],
            fraction: float) -> list[int]:
    """``fraction`` of the services, those with SIP lines in proportion (at least one when
    there are any), so that every 1% change reaches the VoIP platform too."""
    total = max(1, round(len(has_lines) * fraction))
    voip = [i for i, has in enumerate(has_lines) if has]
    others = [i for i, has in enumerate(has_lines) if not has]
    share = min(total, len(voip), max(1 if voip else 0,
                                      round(total * len(voip) / len(has_lines))))
    return rng.sample(others, total - share) + sip.sample(voip, share)


def _change_lines(rng: random.Random, lines: list[dict[str, Any]],
                  free: Iterator[str]) -> tuple[int, int]:
    """New call limits, DIDs added and DIDs moved between ``lines``; (added, moved)."""
    added = moved = 0
    edited: list[int] = []  # lines whose DIDs changed: none gives one away (or back) again
    for k, line in enumerate(lines):
        if k % 3 == 0:
            line["call_limit"] = rng.choice([c for c in CALL_LIMITS
                                             if c != line.get("call_limit", 2)])
            continue
        donors = [other for other in lines if other is not line and _spare_dids(other)
                  and id(other) not in edited]
        if k % 3 == 2 and donors:
            donor = rng.choice(donors)
            did = rng.choice(_spare_dids(donor))
            donor["dids"].remove(did)
            line["dids"].append(did)
            edited.append(id(donor))
            moved += 1
        else:
            line["dids"].append({"number": next(free), "monthly_value": 9.9})
            added += 1
        edited.append(id(line))
    return added, moved


def _spare_dids(line: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The DIDs a line can give away: all but the one it presents (its caller id, else its
    first DID), which is part of its address when it has no account code."""
    presented = line.get("caller_id") or line["dids"][0]["number"]
    return [d for d in line["dids"] if d["number"] != presented]


def _free_dids(ranges: Mapping[str, Any], used: set[str]) -> Iterator[str]:
    """The numbers of the VoIP ranges no line holds, in order."""
    for _, spec in sorted(ranges.items()):
        if spec["integration"] == "voip":
            for n in range(spec["first"], spec["last"] + 1):
                if f"{spec['area_code']}{n}" not in used:
                    yield f"{spec['area_code']}{n}"


def _dump(path: Path, data: Any) -> None:
    path.write_text(yaml.dump(data, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
