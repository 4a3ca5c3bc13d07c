"""What the simulated SaperX v2 platform holds: two environments (production, homologation),
each with its number ranges and SIP extensions, the plan catalogs, and the CDR generator.

The wire contract and every assumption behind it are listed in :mod:`reconciler.platforms.saperx_v2.sim`
and docs/platforms/saperx-v2.md; this module is the data model and its rules, free of HTTP. Every
refusal is an :class:`ApiError` (a :class:`~reconciler.sim.wire.PortugueseError`) carrying the
platform's ``{"erro", "mensagem"}`` and HTTP status.

Counters: ``requests`` per "METHOD /route" (kept by the app), ``writes`` per natural key
(``<environment>/<account_code>`` for an extension, ``<environment>/range/<id>`` for a range)
counting only calls that changed something, ``logins`` and ``refreshes``.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from reconciler.sim.clock import Clock, SystemClock, iso8601
from reconciler.sim.records import fields_of
from reconciler.sim.wire import Counters, PortugueseError

FORMAT_VERSION = 1
ENVIRONMENTS = ("production", "homologation")
CALL_TYPES = ("LC", "LDN", "LDI", "VC1", "VC2", "VC3")
BILLING = ("prepaid", "postpaid")
ROUTES = ("SCM", "STFC", "custom")
LINE_TYPES = ("new", "portability")
ACCOUNT_CODE = re.compile(r"^\d{6}$")
PREFIX = re.compile(r"^55[1-9]{2}$")  # DDI 55 + a DDD (two digits, no zero)
LOCAL = re.compile(r"^\d{8,9}$")  # the subscriber part of a number: 8 (fixed) or 9 digits
MONEY = re.compile(r"^\d{1,7}\.\d{2}$")
PRICE = re.compile(r"^\d{1,5}(\.\d{1,4})?$")
FIRST_CODE = 100000
CDR_MAX_PER_DAY = 8
MAX_CDR_DAYS = 366
CENT = Decimal("0.01")

# ASSUMED: no public catalog exists. Minutes of allowance and price per started minute, per call
# type; an international plan prices (and grants minutes of) LDI only.
DEFAULT_PLANS: tuple[Mapping[str, Any], ...] = (
    {"id": 101, "name": "Fixo Local 100",
     "allowance_minutes": {"LC": 100, "LDN": 0, "LDI": 0, "VC1": 0, "VC2": 0, "VC3": 0},
     "price_per_minute": {"LC": "0.10", "LDN": "0.25", "LDI": "1.90", "VC1": "0.45",
                          "VC2": "0.60", "VC3": "0.75"}},
    {"id": 102, "name": "Fixo Brasil 500",
     "allowance_minutes": {"LC": 500, "LDN": 300, "LDI": 0, "VC1": 100, "VC2": 50, "VC3": 50},
     "price_per_minute": {"LC": "0.08", "LDN": "0.15", "LDI": "1.50", "VC1": "0.35",
                          "VC2": "0.45", "VC3": "0.55"}},
    {"id": 103, "name": "Fixo Ilimitado",
     "allowance_minutes": {"LC": 10000, "LDN": 10000, "LDI": 0, "VC1": 1000, "VC2": 1000,
                           "VC3": 1000},
     "price_per_minute": {"LC": "0.05", "LDN": "0.10", "LDI": "1.20", "VC1": "0.25",
                          "VC2": "0.30", "VC3": "0.35"}},
)
DEFAULT_INTERNATIONAL_PLANS: tuple[Mapping[str, Any], ...] = (
    {"id": 901, "name": "Internacional Américas", "allowance_minutes": {"LDI": 30},
     "price_per_minute": {"LDI": "0.89"}},
    {"id": 902, "name": "Internacional Mundo", "allowance_minutes": {"LDI": 60},
     "price_per_minute": {"LDI": "0.69"}},
)

# The city the platform fills in for a DID whose ``city`` is not given (seed: "preenchido
# automaticamente"); ASSUMED: by the DDD of its prefix, these few known, else "".
CITIES = {"11": "São Paulo", "21": "Rio de Janeiro", "31": "Belo Horizonte", "41": "Curitiba",
          "47": "Joinville", "48": "Florianópolis", "51": "Porto Alegre", "61": "Brasília"}


class ApiError(PortugueseError):
    """A refusal the platform answers with ``{"erro", "mensagem"}`` and a real HTTP status."""


def today(clock: Clock) -> date:
    """The platform's current date: the clock's UTC date (ASSUMED: UTC, not Brasília time)."""
    return datetime.fromtimestamp(clock.now(), UTC).date()


def password_digest(password: str) -> str:
    """How the store keeps a SIP password: never in clear, not even in the sim."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


# -- records -----------------------------------------------------------------------------------


@dataclass(slots=True)
class NumberRange:
    """``prefix`` (DDI+DDD) and the subscriber numbers ``start``..``end`` (same length)."""

    id: int
    name: str
    prefix: str
    start: str
    end: str

    def holds(self, number: str) -> bool:
        local = number[len(self.prefix):]
        return (number.startswith(self.prefix) and len(local) == len(self.start)
                and int(self.start) <= int(local) <= int(self.end))

    def overlaps(self, other: NumberRange) -> bool:
        return (self.prefix == other.prefix and len(self.start) == len(other.start)
                and int(self.start) <= int(other.end) and int(other.start) <= int(self.end))


@dataclass(slots=True)
class Did:
    number: str
    monthly_value: str
    collect_calls: bool
    city: str


@dataclass(slots=True)
class Extension:
    """A SIP extension. ``activity`` is one ``[day, active at any time that day, active at its
    end]`` entry per day its ``active`` flag was set (creation included), in day order: what
    decides the days that have CDRs. Only a digest of the password is kept."""

    account_code: str
    password_sha256: str
    active: bool
    blocked: bool
    call_limit: int
    plan_id: int
    international_plan_id: int | None
    closing_day: int
    billing: str
    route: str
    caller_id: str | None
    permissions: dict[str, bool]
    line_type: str
    contract: int | None
    dids: list[Did]
    activity: list[list[Any]] = field(default_factory=list)

    @property
    def created_on(self) -> str:
        return str(self.activity[0][0])

    def active_on(self, day: str) -> bool:
        """Whether the extension was active at some time of ``day`` (YYYY-MM-DD)."""
        state = False
        for entry_day, any_active, end_active in self.activity:
            if entry_day == day:
                return bool(any_active)
            if entry_day > day:
                break
            state = bool(end_active)
        return state if day >= self.created_on else False

    def set_active(self, active: bool, day: str) -> None:
        last = self.activity[-1]
        if last[0] == day:
            last[1], last[2] = bool(last[1]) or active, active
        else:
            self.activity.append([day, bool(last[2]) or active, active])
        self.active = active

    def writable(self) -> dict[str, Any]:
        """The fields a PUT may change, as the store compares them."""
        out = fields_of(self)
        del out["account_code"], out["activity"]
        out["dids"] = [fields_of(d) for d in self.dids]
        out["permissions"] = dict(self.permissions)
        return out

    def dump(self) -> dict[str, Any]:
        """The extension for the persisted store (with the password's digest)."""
        out = fields_of(self)
        out["dids"] = [fields_of(d) for d in self.dids]
        out["permissions"] = dict(self.permissions)
        out["activity"] = [list(entry) for entry in self.activity]
        return out

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Extension:
        return cls(**{**data, "dids": [Did(**d) for d in data["dids"]]})


@dataclass
class Environment:
    """One data set: production or homologation."""

    name: str
    ranges: dict[int, NumberRange] = field(default_factory=dict)
    extensions: dict[str, Extension] = field(default_factory=dict)
    did_owner: dict[str, str] = field(default_factory=dict)  # DID number -> account code
    next_range_id: int = 1
    next_code: int = FIRST_CODE

    def used_in(self, number_range: NumberRange) -> list[str]:
        return sorted(n for n in self.did_owner if number_range.holds(n))

    def to_json(self) -> dict[str, Any]:
        return {
            "next_range_id": self.next_range_id,
            "next_code": self.next_code,
            "ranges": [fields_of(r) for r in self.ranges.values()],
            "extensions": [e.dump() for e in self.extensions.values()],
        }

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, Any]) -> Environment:
        env = cls(name, next_range_id=int(data["next_range_id"]),
                  next_code=int(data["next_code"]))
        for item in data["ranges"]:
            env.ranges[int(item["id"])] = NumberRange(**item)
        for item in data["extensions"]:
            ext = Extension.load(item)
            env.extensions[ext.account_code] = ext
            for did in ext.dids:
                env.did_owner[did.number] = ext.account_code
        return env


# -- the store ---------------------------------------------------------------------------------


class Store(Counters):
    """Everything the simulated platform holds, plus its settings and counters."""

    def __init__(
        self,
        plans: Sequence[Mapping[str, Any]] | None = None,
        international_plans: Sequence[Mapping[str, Any]] | None = None,
        *,
        clock: Clock | None = None,
        cdr_seed: int = 0,
        cdr_max_per_day: int = CDR_MAX_PER_DAY,
        refresh_ttl: float = 7 * 86400.0,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.initial_plans = catalog(plans if plans is not None else DEFAULT_PLANS, "plans")
        self.initial_international = catalog(
            international_plans if international_plans is not None
            else DEFAULT_INTERNATIONAL_PLANS, "international_plans")
        self.cdr_seed, self.cdr_max_per_day, self.refresh_ttl = cdr_seed, cdr_max_per_day, refresh_ttl
        self.reset()

    def reset(self) -> None:
        """Back to two empty environments with the initial catalogs; settings are kept."""
        self.plans: list[dict[str, Any]] = [dict(p) for p in self.initial_plans]
        self.international_plans: list[dict[str, Any]] = [
            dict(p) for p in self.initial_international]
        self.envs = {name: Environment(name) for name in ENVIRONMENTS}
        self.reset_counters()
        self.logins = 0
        self.refreshes = 0

    def today(self) -> str:
        return today(self.clock).isoformat()

    # -- persistence -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The platform's data (not its counters or tokens) as JSON-ready objects."""
        return {
            "version": FORMAT_VERSION,
            "cdr_seed": self.cdr_seed,
            "plans": self.plans,
            "international_plans": self.international_plans,
            "environments": {name: env.to_json() for name, env in self.envs.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, clock: Clock | None = None) -> Store:
        """A store holding what :meth:`to_json` wrote."""
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported saperx-v2 store version {data.get('version')!r}")
        store = cls(data["plans"], data["international_plans"], clock=clock,
                    cdr_seed=int(data["cdr_seed"]))
        for name in ENVIRONMENTS:
            store.envs[name] = Environment.from_json(name, data["environments"][name])
        return store

    # -- catalogs ----------------------------------------------------------------------------

    def plan(self, plan_id: int, *, international: bool = False) -> Mapping[str, Any]:
        plans = self.international_plans if international else self.plans
        for plan in plans:
            if plan["id"] == plan_id:
                return plan
        kind = "internacional " if international else ""
        valid = ", ".join(str(p["id"]) for p in plans) or "nenhum"
        raise ApiError(422, "plano_inexistente",
                       f"Plano {kind}{plan_id} inexistente. Planos válidos: {valid}.")

    def plans_in_use(self, *, international: bool = False) -> set[int]:
        name = "international_plan_id" if international else "plan_id"
        return {getattr(e, name) for env in self.envs.values() for e in env.extensions.values()
                if getattr(e, name) is not None}

    # -- ranges ------------------------------------------------------------------------------

    def range_wire(self, env: Environment, number_range: NumberRange) -> dict[str, Any]:
        status = "in_use" if env.used_in(number_range) else "available"
        return {**fields_of(number_range), "status": status}

    def get_range(self, env: Environment, range_id: int) -> NumberRange:
        found = env.ranges.get(range_id)
        if found is None:
            raise ApiError(404, "range_inexistente", f"Range {range_id} inexistente.")
        return found

    def create_range(self, env: Environment, name: str, prefix: str, start: str,
                     end: str) -> NumberRange:
        candidate = NumberRange(env.next_range_id, name, *_range_bounds(prefix, start, end))
        self._check_overlap(env, candidate)
        env.ranges[candidate.id] = candidate
        env.next_range_id += 1
        self.wrote(f"{env.name}/range/{candidate.id}", "create")
        return candidate

    def update_range(self, env: Environment, range_id: int, name: str, prefix: str, start: str,
                     end: str) -> NumberRange:
        """Replace a range's fields; in use, it must still hold every number used from it."""
        current = self.get_range(env, range_id)
        candidate = NumberRange(range_id, name, *_range_bounds(prefix, start, end))
        if candidate == current:
            return current
        lost = [n for n in env.used_in(current) if not candidate.holds(n)]
        if lost:
            raise ApiError(409, "range_em_uso", f"Range {range_id} em uso: os números "
                           f"{', '.join(lost[:10])} ficariam fora dela.")
        self._check_overlap(env, candidate)
        env.ranges[range_id] = candidate
        self.wrote(f"{env.name}/range/{range_id}", "update")
        return candidate

    def delete_range(self, env: Environment, range_id: int) -> None:
        current = self.get_range(env, range_id)
        used = env.used_in(current)
        if used:
            raise ApiError(409, "range_em_uso", f"Range {range_id} em uso por {len(used)} "
                           f"número(s), como {used[0]}: não pode ser excluída.")
        del env.ranges[range_id]
        self.wrote(f"{env.name}/range/{range_id}", "delete")

    def _check_overlap(self, env: Environment, candidate: NumberRange) -> None:
        for other in env.ranges.values():
            if other.id != candidate.id and other.overlaps(candidate):
                raise ApiError(409, "range_sobreposta", f"A range se sobrepõe à range {other.id} "
                               f"({other.name}: {other.prefix} {other.start}-{other.end}).")

    # -- extensions --------------------------------------------------------------------------

    def get_extension(self, env: Environment, account_code: str) -> Extension:
        found = env.extensions.get(account_code)
        if found is None:
            raise ApiError(404, "ramal_inexistente", f"Ramal {account_code} inexistente.")
        return found

    def extension_wire(self, ext: Extension) -> dict[str, Any]:
        """The extension as the API shows it: no password, the plan names filled in."""
        out = ext.writable()
        del out["password_sha256"]
        plan = self._plan_or_none(ext.plan_id, international=False)
        intl = self._plan_or_none(ext.international_plan_id, international=True)
        return {"account_code": ext.account_code, **out,
                "plan_name": plan["name"] if plan else None,
                "international_plan_name": intl["name"] if intl else None,
                "created_on": ext.created_on}

    def listing(self, env: Environment, contract: int | None, start: int,
                size: int) -> tuple[list[Extension], int]:
        """One page of extensions sorted by account code, and how many match in all."""
        matches = [env.extensions[code] for code in sorted(env.extensions)
                   if contract is None or env.extensions[code].contract == contract]
        return matches[start:start + size], len(matches)

    def create_extension(self, env: Environment, account_code: str | None,
                         fields: Mapping[str, Any]) -> Extension:
        """A new extension from complete ``fields`` (``dids`` as dicts); no account code: the
        next free one."""
        if account_code is not None and account_code in env.extensions:
            raise ApiError(409, "codigo_em_uso", f"Código da conta {account_code} já existe.")
        fields = {**fields, "dids": [Did(**d) for d in fields["dids"]]}
        self._check(env, None, fields)
        code = account_code if account_code is not None else self._next_code(env)
        ext = Extension(account_code=code, activity=[], **fields)
        ext.activity.append([self.today(), ext.active, ext.active])
        env.extensions[code] = ext
        self._hold_dids(env, ext)
        self.wrote(f"{env.name}/{code}", "create")
        return ext

    def update_extension(self, env: Environment, account_code: str,
                         changes: Mapping[str, Any]) -> Extension:
        """Apply the given fields (``permissions`` merged key by key); equal values: no write."""
        ext = self.get_extension(env, account_code)
        current = ext.writable()
        merged = {**current, **changes}
        if "permissions" in changes:
            merged["permissions"] = {**current["permissions"], **changes["permissions"]}
        if merged == current:
            return ext
        fields = {**merged, "dids": [Did(**d) for d in merged["dids"]]}
        self._check(env, ext, fields)
        for did in ext.dids:
            del env.did_owner[did.number]
        for name, value in fields.items():
            if name != "active":
                setattr(ext, name, value)
        if fields["active"] != ext.active:
            ext.set_active(fields["active"], self.today())
        self._hold_dids(env, ext)
        self.wrote(f"{env.name}/{account_code}", "update")
        return ext

    def deactivate(self, env: Environment, account_code: str) -> Extension:
        ext = self.get_extension(env, account_code)
        if ext.active:
            ext.set_active(False, self.today())
            self.wrote(f"{env.name}/{account_code}", "deactivate")
        return ext

    def backdate(self, env: Environment, account_code: str, created_on: str) -> Extension:
        """Move an extension's creation day back (for CDRs over past days)."""
        ext = self.get_extension(env, account_code)
        if created_on > ext.created_on:
            raise ValueError(f"created_on may only move back from {ext.created_on}")
        ext.activity[0][0] = created_on
        return ext

    def _check(self, env: Environment, ext: Extension | None, fields: Mapping[str, Any]) -> None:
        """The platform's rules on an extension's complete fields: 422s first, then 409s."""
        if fields["call_limit"] < 1:
            raise ApiError(422, "dados_invalidos", "Campo 'call_limit' deve ser no mínimo 1.")
        if not 1 <= fields["closing_day"] <= 28:
            raise ApiError(422, "dados_invalidos",
                           "Campo 'closing_day' deve estar entre 1 e 28.")
        self.plan(fields["plan_id"])
        if fields["international_plan_id"] is not None:
            self.plan(fields["international_plan_id"], international=True)
        numbers = [d.number for d in fields["dids"]]
        if len(set(numbers)) != len(numbers):
            raise ApiError(422, "dados_invalidos", "O mesmo DID aparece duas vezes no ramal.")
        for number in numbers:
            if not any(r.holds(number) for r in env.ranges.values()):
                raise ApiError(422, "did_fora_da_range",
                               f"DID {number} fora de todas as ranges cadastradas.")
        if fields["caller_id"] is not None and fields["caller_id"] not in numbers:
            raise ApiError(422, "bina_invalida",
                           f"Bina {fields['caller_id']} não é um DID do ramal.")
        mine = ext.account_code if ext is not None else None
        for number in numbers:
            owner = env.did_owner.get(number)
            if owner is not None and owner != mine:
                raise ApiError(409, "did_em_uso", f"DID {number} já pertence ao ramal {owner}.")

    def _hold_dids(self, env: Environment, ext: Extension) -> None:
        for did in ext.dids:
            env.did_owner[did.number] = ext.account_code

    def _next_code(self, env: Environment) -> str:
        for _ in range(10**6 - FIRST_CODE):
            code = f"{env.next_code:06d}"
            env.next_code = env.next_code + 1 if env.next_code < 999999 else FIRST_CODE
            if code not in env.extensions:
                return code
        raise ApiError(409, "codigo_em_uso", "Não há código da conta livre.")

    def _plan_or_none(self, plan_id: int | None, *, international: bool) -> Mapping[str, Any] | None:
        plans = self.international_plans if international else self.plans
        return next((p for p in plans if p["id"] == plan_id), None)

    # -- CDRs --------------------------------------------------------------------------------

    def cdr_page(self, env: Environment, first: date, last: date, account_code: str | None,
                 start: int, size: int) -> tuple[list[dict[str, Any]], int]:
        """Records ``start``..``start+size`` of ``first``..``last`` (capped at today), ordered by
        day, then account code, then start time, and how many there are in all. Only the calls
        of the (extension, day) blocks that touch the page are built; the others are counted."""
        codes = sorted(env.extensions) if account_code is None else (
            [account_code] if account_code in env.extensions else [])
        items: list[dict[str, Any]] = []
        total, day, end = 0, first, min(last, today(self.clock))
        while day <= end:
            text = day.isoformat()
            for code in codes:
                ext = env.extensions[code]
                if not ext.active_on(text):
                    continue
                key = f"{self.cdr_seed}/{env.name}/{code}/{text}"
                count = _day_count(key, self.cdr_max_per_day)
                if total < start + size and total + count > start:
                    rng = _day_rng(key)
                    rng.randint(0, self.cdr_max_per_day)  # the count, drawn first
                    block = self._day_records(env.name, ext, day, rng, count)
                    items += block[max(0, start - total):start + size - total]
                total += count
            day += timedelta(days=1)
        return items, total

    def _day_records(self, env_name: str, ext: Extension, day: date, rng: random.Random,
                     count: int) -> list[dict[str, Any]]:
        """The records of one extension and day: a function of (seed, environment, account
        code, day), except ``cost`` (priced by the extension's plans as they are now) and the
        DDD of local destinations (its first DID's)."""
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        calls = []
        for n in range(count):
            call_type = rng.choices(CALL_TYPES, weights=(40, 15, 5, 25, 10, 5))[0]
            started = midnight + rng.randint(7 * 3600, 22 * 3600)
            duration = rng.randint(5, 1800)
            ident = hashlib.sha256(
                f"{env_name}/{ext.account_code}/{day.isoformat()}/{n}".encode()).hexdigest()[:20]
            calls.append((started, n, {
                "id": f"cdr-{ident}",
                "account_code": ext.account_code,
                "started_at": iso8601(started),
                "destination": _destination(rng, call_type, ext),
                "call_type": call_type,
                "duration_seconds": duration,
                "cost": str((self._price(ext, call_type) * math.ceil(duration / 60))
                            .quantize(CENT, ROUND_HALF_UP)),
            }))
        calls.sort(key=lambda call: (call[0], call[1]))
        return [record for _, _, record in calls]

    def _price(self, ext: Extension, call_type: str) -> Decimal:
        intl = self._plan_or_none(ext.international_plan_id, international=True)
        plan = intl if call_type == "LDI" and intl is not None else self._plan_or_none(
            ext.plan_id, international=False)
        return Decimal(plan["price_per_minute"][call_type] if plan is not None else "0")


def _day_rng(key: str) -> random.Random:
    """The generator of one extension's day: seeded by (seed, environment, account code, day)."""
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


@functools.lru_cache(maxsize=1 << 20)
def _day_count(key: str, max_per_day: int) -> int:
    """How many calls one extension's day has (its generator's first draw); cached, so that
    paging through a month builds only the records of the page asked for."""
    return _day_rng(key).randint(0, max_per_day)


def _destination(rng: random.Random, call_type: str, ext: Extension) -> str:
    """A plausible dialled number for the call type, near the extension's first DID."""
    ddd = ext.dids[0].number[2:4] if ext.dids else "48"
    subscriber = f"{rng.randint(2000, 5999)}{rng.randint(0, 9999):04d}"
    if call_type == "LDI":
        return f"{rng.choice(('1', '351', '54', '34'))}{rng.randint(10**8, 10**9 - 1)}"
    other = f"{rng.choice([d for d in CITIES if d != ddd])}"
    mobile = f"9{rng.randint(6000, 9999)}{rng.randint(0, 9999):04d}"
    return {"LC": f"55{ddd}{subscriber}", "LDN": f"55{other}{subscriber}",
            "VC1": f"55{ddd}{mobile}", "VC2": f"55{other}{mobile}",
            "VC3": f"55{other}{mobile}"}[call_type]


def _range_bounds(prefix: str, start: str, end: str) -> tuple[str, str, str]:
    if not PREFIX.match(prefix):
        raise ApiError(422, "dados_invalidos",
                       f"Campo 'prefix' {prefix!r} deve ser DDI 55 + DDD, como '5548'.")
    if not LOCAL.match(start) or not LOCAL.match(end) or len(start) != len(end):
        raise ApiError(422, "dados_invalidos", "Campos 'start' e 'end' devem ter 8 ou 9 "
                       "dígitos, ambos com o mesmo número de dígitos.")
    if int(start) > int(end):
        raise ApiError(422, "dados_invalidos", "Campo 'end' deve ser maior ou igual a 'start'.")
    return prefix, start, end


def city_of(number: str) -> str:
    return CITIES.get(number[2:4], "")


def money(value: str) -> str:
    """A BRL amount: a decimal string with exactly two places (ValueError otherwise)."""
    if not MONEY.match(value):
        raise ValueError(f"{value!r} must be a decimal string with 2 places, such as '29.90'")
    return value


def catalog(items: Any, name: str) -> list[dict[str, Any]]:
    """A whole plan catalog, checked: distinct ids, every call type priced (an international
    plan: LDI only). ValueError says what is wrong."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ValueError(f"{name} must be a list of {{id, name, allowance_minutes, "
                         "price_per_minute}}")
    types = ("LDI",) if name == "international_plans" else CALL_TYPES
    checked = [_plan(item, types, name) for item in items]
    ids = [p["id"] for p in checked]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{name}: plan ids must be distinct")
    return checked


def _plan(item: Any, types: tuple[str, ...], name: str) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise ValueError(f"each of {name} must be an object")
    plan_id, plan_name = item.get("id"), item.get("name")
    if isinstance(plan_id, bool) or not isinstance(plan_id, int) or plan_id < 1:
        raise ValueError(f"{name}: plan id {plan_id!r} must be a positive integer")
    if not isinstance(plan_name, str) or not plan_name.strip():
        raise ValueError(f"{name}: plan {plan_id} needs a name")
    allowance, prices = item.get("allowance_minutes"), item.get("price_per_minute")
    if not isinstance(allowance, Mapping) or set(allowance) != set(types) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in allowance.values()):
        raise ValueError(f"{name}: plan {plan_id} allowance_minutes must give whole minutes "
                         f">= 0 for exactly {', '.join(types)}")
    if not isinstance(prices, Mapping) or set(prices) != set(types) or not all(
            isinstance(v, str) and PRICE.match(v) for v in prices.values()):
        raise ValueError(f"{name}: plan {plan_id} price_per_minute must give a decimal string "
                         f"(such as '0.25') for exactly {', '.join(types)}")
    return {"id": plan_id, "name": plan_name,
            "allowance_minutes": {t: allowance[t] for t in types},
            "price_per_minute": {t: prices[t] for t in types}}
