"""What the simulated OZmap holds: projects, boxes, splitters and their ports, properties and FTTH
clients, the query language of its listings, viability by radius and the network generator.

The wire contract, and what is FOUND and what is ASSUMED in it, are in
:mod:`reconciler.platforms.ozmap.sim` and docs/platforms/ozmap.md; this module is the data model
and its rules, free of HTTP. Every refusal is an :class:`ApiError` carrying OZmap-like
``{"message", "code", "errors": [{"message", "field"?}]}`` and an HTTP status.

Records are kept in their wire form (plain dicts, as the API answers them), so a listing filters
and serves them without building anything; indexes (client code, external ids, the property on
each port's fibre, each box's splitters) are rebuilt on load. Every change bumps
:attr:`Store.version`, which keys the cache of filtered, sorted listings: paging through 64,000
properties filters them once, not once a page.

Counters: ``requests`` per "METHOD /route" (kept by the app), ``writes`` per ``<resource>/<id>``
(ops ``create``, ``update``, ``delete``, ``batch-update``) and per ``port/<splitter id>/<n>``
(``take``, ``free``), counting only calls that changed something, and ``logins``.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from reconciler.sim import wire
from reconciler.sim.clock import Clock, SystemClock

FORMAT_VERSION = 1
PROJECTS, BOXES, SPLITTERS, PROPERTIES, CLIENTS = (
    "projects", "boxes", "splitters", "properties", "ftth-clients")
RESOURCES = (PROJECTS, BOXES, SPLITTERS, PROPERTIES, CLIENTS)
KINDS = {BOXES: "Box", SPLITTERS: "Splitter", PROPERTIES: "Property", CLIENTS: "FTTHClient"}
# the reference fields ``populate`` may replace by the record they name, per resource
POPULATE = {BOXES: {"project": PROJECTS}, SPLITTERS: {"parent": BOXES, "project": PROJECTS},
            PROPERTIES: {"client": CLIENTS, "box": BOXES, "project": PROJECTS}}
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
# FOUND: the SDK's docs show records created through the API carrying this creator
API_USER = {"id": "5e1a00000000000000000001", "name": "api", "username": "api"}
MACHINE = 0x51_0A_AA_00_00  # the middle five bytes of the ids this store makes
GENERATED_AT = 1_704_067_200  # the timestamp in the ids of a generated network (2024-01-01)
DEFAULT_RADIUS = 250.0  # ASSUMED: OZmap's "Raio de busca padrão" is a per-tenant setting
MAX_RADIUS = 50_000.0
MAX_RATIO_OUTPUT = 256
EARTH_RADIUS = 6_371_000.0
OPERATORS = ("=", "!=", "like", "<", "<=", ">", ">=", "in", "notin", "all", "exists", "near")
ALIASES = {"ne": "!="}  # node-red-contrib-ozmap filters with "ne"
CLIENT_STATUSES = {"OK": 0, "ERROR": 1}
LIST_CACHE = 16
# fields a body may carry that the platform computes: ignored on create and update
COMPUTED = frozenset({"id", "_id", "__v", "kind", "createdAt", "updatedAt", "creatorData", "lat",
                      "lng", "cables", "connectables", "connections", "history", "drop"})

Record = dict[str, Any]
Predicate = Callable[[Mapping[str, Any]], bool]


class ApiError(wire.ApiError):
    """A refusal answered ``{"message", "code", "errors": [{"message", "field"?}]}``; the code is
    stable, the text is for people."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(status, f"{status} {code}: {message}")
        self.code, self.message, self.field = code, message, field

    def body(self) -> dict[str, Any]:
        error = {"message": self.message, **({"field": self.field} if self.field else {})}
        return {"message": self.message, "code": self.code, "errors": [error]}


def invalid(field: str, text: str) -> ApiError:
    return ApiError(422, "VALIDATION_ERROR", f"'{field}' {text}", field)


def not_found(resource: str, record_id: str) -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{resource} {record_id} not found")


def conflict(code: str, message: str, field: str | None = None) -> ApiError:
    return ApiError(409, code, message, field)


def bad_filter(text: str) -> ApiError:
    return ApiError(400, "INVALID_FILTER", text, "filter")


# -- field parsers: (value, field name) -> the stored value, or ApiError 422 -------------------

Parser = Callable[[Any, str], Any]
REQUIRED: Any = object()


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise invalid(name, "must be a string")
    return value.strip()


def _name(value: Any, name: str) -> str:
    text = _text(value, name)
    if not text:
        raise invalid(name, "must not be empty")
    return text


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(name, "must be true or false")
    return value


def _number(value: Any, name: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(name, "must be a number")
    return value


def _count(low: int, high: int) -> Parser:
    def parse(value: Any, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise invalid(name, f"must be a whole number from {low} to {high}")
        return value

    return parse


def object_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not OBJECT_ID.match(value):
        raise invalid(name, "must be an id (24 hexadecimal digits)")
    return value


def _coords(value: Any, name: str) -> list[float]:
    """``[lng, lat]``, as OZmap keeps coordinates (GeoJSON order)."""
    if (not isinstance(value, list) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, int | float) for v in value)
            or not (-180 <= value[0] <= 180 and -90 <= value[1] <= 90)):
        raise invalid(name, "must be [lng, lat] with -180 <= lng <= 180 and -90 <= lat <= 90")
    return [float(value[0]), float(value[1])]


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(name, "must be a list of strings")
    return list(value)


def _numbers(value: Any, name: str) -> list[float | int]:
    if not isinstance(value, list):
        raise invalid(name, "must be a list of numbers")
    return [_number(v, name) for v in value]


def _anything(value: Any, name: str) -> Any:
    return value


def _status(value: Any, name: str) -> int:
    """0 = OK, 1 = ERROR; the SDK's versions send either the number or the name."""
    if isinstance(value, str) and value.upper() in CLIENT_STATUSES:
        return CLIENT_STATUSES[value.upper()]
    if value in (0, 1) and not isinstance(value, bool):
        return int(value)
    raise invalid(name, "must be 0 (OK) or 1 (ERROR)")


ONU_FIELDS = ("user_PPPoE", "serial_number", "mac_address")


def _onu(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise invalid(name, f"must be an object with {', '.join(ONU_FIELDS)}")
    return {key: _text(value.get(key) or "", f"{name}.{key}") for key in ONU_FIELDS}


def _ratio(value: Any, name: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise invalid(name, "must be {input, output}")
    return {"input": _count(1, 64)(value.get("input"), f"{name}.input"),
            "output": _count(1, MAX_RATIO_OUTPUT)(value.get("output"), f"{name}.output")}


def _optional(parse: Parser) -> Parser:
    return lambda value, name: None if value is None else parse(value, name)


def _default_onu() -> dict[str, str]:
    return dict.fromkeys(ONU_FIELDS, "")


# (field, parser, default (REQUIRED, a value, or a callable making a fresh one), fixed after
# create). A field not listed here is ignored, as OZmap's models ignore unknown fields.
Spec = tuple[tuple[str, Parser, Any, bool], ...]
SPECS: dict[str, Spec] = {
    PROJECTS: (
        ("name", _name, REQUIRED, False),
        ("identifier", _optional(_text), None, False),
        ("lat", _number, 0.0, False),
        ("lng", _number, 0.0, False),
        ("defaultPonPotency", _optional(_number), None, False),
        ("drop", _anything, None, False),
        ("area", _anything, None, False),
        ("parents", _anything, list, False),
        ("external_id", _anything, None, False),
    ),
    BOXES: (
        ("name", _name, REQUIRED, False),
        ("project", object_id, REQUIRED, True),
        ("coords", _coords, REQUIRED, False),
        ("implanted", _bool, False, False),
        ("draft", _bool, False, False),
        ("certified", _bool, False, False),
        ("shared", _bool, False, False),
        ("default_reserve", _count(0, MAX_RATIO_OUTPUT), 0, False),
        ("hierarchyLevel", _count(0, 99), 1, False),
        ("boxType", _optional(object_id), None, False),
        ("pole", _optional(object_id), None, False),
        ("address", _optional(_text), None, False),
        ("observation", _text, "", False),
        ("tags", _strings, list, False),
        ("external_id", _anything, None, False),
    ),
    SPLITTERS: (
        ("parent", object_id, REQUIRED, True),
        ("name", _name, REQUIRED, False),
        ("ratio", _ratio, REQUIRED, True),
        ("isDrop", _bool, False, False),
        ("implanted", _bool, True, False),
        ("splitterType", _optional(object_id), None, False),
        ("observation", _text, "", False),
        ("label", _text, "", False),
        ("attenuation", _numbers, list, False),
        ("external_id", _anything, None, False),
    ),
    PROPERTIES: (
        ("project", object_id, None, True),
        ("box", _optional(object_id), None, False),
        ("pole", _optional(object_id), None, False),
        ("address", _optional(_text), None, False),
        ("coords", _optional(_coords), None, False),
        ("name", _text, "", False),
        ("observation", _text, "", False),
        ("potencyRead", _optional(_number), None, False),
        ("tags", _strings, list, False),
        ("external_id", _anything, None, False),
    ),
    CLIENTS: (
        ("code", _optional(_name), None, False),
        ("name", _optional(_text), None, False),
        ("observation", _text, "", False),
        ("implanted", _bool, False, False),
        ("certified", _bool, False, False),
        ("status", _status, 0, False),
        ("onu", _onu, _default_onu, False),
        ("cpe", _anything, None, False),
        ("tags", _strings, list, False),
        ("external_id", _anything, None, False),
    ),
}
# fields a property body carries that are instructions, not stored as given
PROPERTY_ACTIONS = ("client", "connector", "port", "auto_connect", "force", "drop_poles")
BATCH_FIELDS = {"implanted": _bool, "certified": _bool, "status": _status}


def _fresh(default: Any) -> Any:
    return default() if callable(default) else default


def _fields(resource: str, body: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The stored fields of a create: every field of the spec, parsed or defaulted; refusals
    name the field after ``prefix`` (an inline client's are ``client.<name>``)."""
    out: dict[str, Any] = {}
    for name, parse, default, _fixed in SPECS[resource]:
        value = body.get(name)
        if value is not None:
            out[name] = parse(value, prefix + name)
        elif default is REQUIRED:
            raise invalid(prefix + name, "is required")
        else:
            out[name] = _fresh(default)
    return out


def _changes(resource: str, record: Record, body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a PATCH gives, parsed; null resets an optional field to its default. A field
    fixed after create may be given only with its current value."""
    out: dict[str, Any] = {}
    for name, parse, default, fixed in SPECS[resource]:
        if name not in body:
            continue
        value = body[name]
        if value is None and default is REQUIRED:
            raise invalid(name, "is required")
        parsed = _fresh(default) if value is None else parse(value, name)
        if fixed and parsed != record.get(name):
            raise invalid(name, "cannot be changed")
        out[name] = parsed
    return out


def _external_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def distance(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS * math.asin(min(1.0, math.sqrt(a)))


# -- the query language: {filter: [{property, operator, value}], sort: [{property, direction}]} ---


class Query:
    """A listing's filter and sort, checked (ApiError 400) and compiled. The filter's top-level
    list is AND; a nested list is an OR group, inside which a nested list is AND again, and so
    on. A ``near`` condition (the first one) orders the rows by distance when no sort is given."""

    def __init__(self, filter_raw: Any, sort_raw: Any) -> None:
        self.near: tuple[list[str], float, float] | None = None
        self.key = (_external_key(filter_raw), _external_key(sort_raw))
        # the ids a top-level ``id`` condition allows: looked up by key, as MongoDB uses _id's
        # index, not by scanning the collection (the clients of 500 properties, page by page)
        self.ids: frozenset[str] | None = None
        if filter_raw is None or filter_raw == []:
            self.predicate: Predicate | None = None
        else:
            items = [filter_raw] if isinstance(filter_raw, dict) else filter_raw
            if not isinstance(items, list):
                raise bad_filter("filter must be a list of {property, operator, value}")
            self.predicate = self._group(items, conjunction=True, depth=0)
            self.ids = _id_condition(items)
        self.sort = _sort_keys(sort_raw)

    def rows(self, table: Mapping[str, Record]) -> list[Record]:
        """The matching records: in the collection's order, or, when the filter names the ids,
        in the order of the ids (both stable from page to page); then sorted as asked."""
        predicate = self.predicate
        records: Iterable[Record] = table.values() if self.ids is None else [
            table[i] for i in sorted(self.ids) if i in table]
        out = list(records) if predicate is None else [r for r in records if predicate(r)]
        if self.sort:
            for parts, direction in reversed(self.sort):
                out.sort(key=_sort_key(parts), reverse=direction < 0)
        elif self.near is not None:
            parts, lat, lng = self.near
            out.sort(key=lambda r: _distance_of(_first(r, parts), lat, lng))
        return out

    def _group(self, items: list[Any], *, conjunction: bool, depth: int) -> Predicate:
        if depth > 8:
            raise bad_filter("filter groups nest too deeply")
        parts = [self._group(item, conjunction=not conjunction, depth=depth + 1)
                 if isinstance(item, list) else self._condition(item) for item in items]
        if conjunction:
            return lambda record: all(p(record) for p in parts)
        return lambda record: any(p(record) for p in parts)

    def _condition(self, item: Any) -> Predicate:
        if not isinstance(item, dict) or not isinstance(item.get("property"), str) \
                or not item["property"]:
            raise bad_filter("each filter must be {property, operator, value}")
        path = item["property"].split(".")
        operator = item.get("operator")
        operator = ALIASES.get(operator, operator) if isinstance(operator, str) else None
        value = item.get("value")
        if operator not in OPERATORS:
            raise bad_filter(f"unknown operator {item.get('operator')!r}; operators: "
                             f"{', '.join(OPERATORS)}")
        if operator in ("=", "!="):
            negate = operator == "!="
            return lambda r: _equals_any(_values(r, path), value) != negate
        if operator in ("in", "notin", "all"):
            if not isinstance(value, list):
                raise bad_filter(f"operator {operator!r} takes a list of values")
            if operator == "all":
                return lambda r: all(_equals_any(_values(r, path), v) for v in value)
            negate = operator == "notin"
            if value and all(isinstance(v, str) for v in value):  # ids, codes: one set lookup
                strings = frozenset(value)
                return lambda r: any(isinstance(v, str) and v in strings
                                     for v in _values(r, path)) != negate
            return lambda r: any(_equals_any(_values(r, path), v) for v in value) != negate
        if operator == "exists":
            wanted = bool(value)
            return lambda r: any(v is not None for v in _values(r, path)) == wanted
        if operator == "like":
            pattern = _like(value)
            return lambda r: any(isinstance(v, str) and pattern.search(v)
                                 for v in _values(r, path))
        if operator == "near":
            return self._near(path, value)
        return _comparison(path, operator, value)

    def _near(self, path: list[str], value: Any) -> Predicate:
        lat, lng, radius = _point(value)
        if self.near is None:
            self.near = (path, lat, lng)
        return lambda r: _distance_of(_first(r, path), lat, lng) <= radius


def _values(record: Mapping[str, Any], path: list[str]) -> list[Any]:
    """The values at a dotted path; through a list, every element's (as MongoDB reads arrays).
    A list at the end gives its elements and itself."""
    current: list[Any] = [record]
    for part in path:
        nxt: list[Any] = []
        for node in current:
            if isinstance(node, dict):
                if part in node:
                    nxt.append(node[part])
            elif isinstance(node, list):
                nxt += [el[part] for el in node if isinstance(el, dict) and part in el]
        current = nxt
    out: list[Any] = []
    for value in current:
        out += [*value, value] if isinstance(value, list) else [value]
    return out


def _first(record: Mapping[str, Any], path: list[str]) -> Any:
    node: Any = record
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans apart from 0 and 1."""
    return (isinstance(a, bool) == isinstance(b, bool)) and a == b


def _id_condition(items: list[Any]) -> frozenset[str] | None:
    """The ids of the first top-level ``id = "..."`` or ``id in ["...", ...]`` condition of an
    AND list (the records it allows), else None. The predicate still checks every record."""
    for item in items:
        if not isinstance(item, dict) or item.get("property") != "id" \
                or not isinstance(item.get("operator"), str):
            continue
        operator, value = ALIASES.get(item["operator"], item["operator"]), item.get("value")
        if operator == "=" and isinstance(value, str):
            return frozenset((value,))
        if operator == "in" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            return frozenset(value)
    return None


def _equals_any(values: list[Any], wanted: Any) -> bool:
    if wanted is None:  # as MongoDB: null matches a missing field too
        return not values or any(v is None for v in values)
    return any(_same(v, wanted) for v in values)


def _comparison(path: list[str], operator: str, value: Any) -> Predicate:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise bad_filter(f"operator {operator!r} takes a number or a string")
    number = not isinstance(value, str)
    test: Callable[[Any], bool] = {
        "<": lambda v: v < value, "<=": lambda v: v <= value,
        ">": lambda v: v > value, ">=": lambda v: v >= value}[operator]

    def comparable(v: Any) -> bool:
        if number:
            return isinstance(v, int | float) and not isinstance(v, bool)
        return isinstance(v, str)

    return lambda r: any(comparable(v) and test(v) for v in _values(r, path))


def _like(value: Any) -> re.Pattern[str]:
    """``like``: case-insensitive; ``%`` and ``_`` are SQL's wildcards (the whole text must
    match), without them the value is a substring."""
    if not isinstance(value, str):
        raise bad_filter("operator 'like' takes a string")
    if "%" not in value and "_" not in value:
        return re.compile(re.escape(value), re.IGNORECASE)
    parts = (".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in value)
    return re.compile(f"^{''.join(parts)}$", re.IGNORECASE | re.DOTALL)


def _point(value: Any) -> tuple[float, float, float]:
    """A ``near`` value: ``{lat, lng}``, ``{latitude, longitude}``, ``{coords: [lng, lat]}`` or
    ``{coordinates: [lng, lat]}``, with an optional ``radius`` in metres."""
    if not isinstance(value, dict):
        raise bad_filter("operator 'near' takes {lat, lng, radius?}")
    pair = value.get("coords", value.get("coordinates"))
    if isinstance(pair, list) and len(pair) == 2:
        lng, lat = pair
    else:
        lat, lng = value.get("lat", value.get("latitude")), value.get("lng", value.get("longitude"))
    radius = value.get("radius", math.inf)
    for number in (lat, lng, radius):
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise bad_filter("operator 'near' takes numbers: {lat, lng, radius?}")
    return float(lat), float(lng), float(radius)


def _distance_of(coords: Any, lat: float, lng: float) -> float:
    if not isinstance(coords, list) or len(coords) != 2:
        return math.inf
    return distance(lat, lng, coords[1], coords[0])


def _sort_keys(raw: Any) -> list[tuple[list[str], int]]:
    if raw is None or raw == []:
        return []
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise bad_filter("sort must be a list of {property, direction}")
    out = []
    for item in items:
        direction = item.get("direction", 1) if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(item.get("property"), str):
            raise ApiError(400, "INVALID_SORT", "each sort must be {property, direction}", "sort")
        if direction in (1, "1", "asc", "ascending"):
            out.append((item["property"].split("."), 1))
        elif direction in (-1, "-1", "desc", "descending"):
            out.append((item["property"].split("."), -1))
        else:
            raise ApiError(400, "INVALID_SORT", "a sort direction is 1 or -1", "sort")
    return out


def _sort_key(path: list[str]) -> Callable[[Record], tuple[int, Any]]:
    return lambda record: _order(_first(record, path))


def _order(value: Any) -> tuple[int, Any]:
    """A sort key across types: missing and null first, then numbers, text, booleans, others."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (3, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (4, _external_key(value))


# -- the store ---------------------------------------------------------------------------------


class Store(wire.Counters):
    """Everything the simulated platform holds, its indexes, settings and counters.

    ``network`` is a seed body (:meth:`seed`) applied now and again by every :meth:`reset`."""

    def __init__(self, *, clock: Clock | None = None, viability_radius: float = DEFAULT_RADIUS,
                 network: Mapping[str, Any] | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.viability_radius = viability_radius
        self.initial_network = network
        self.reset()

    def reset(self) -> None:
        """Back to an empty platform (then the initial network, if any); settings are kept."""
        self.tables: dict[str, dict[str, Record]] = {name: {} for name in RESOURCES}
        self.counter = 0
        self.version = 0
        self._index()
        self.reset_counters()
        self.logins = 0
        if self.initial_network is not None:
            self.seed(self.initial_network)
            self.reset_counters()

    def _unique_keys(self, resource: str, record: Record) -> list[tuple[dict[str, str], str]]:
        """The unique indexes a record is entered in, with its key in each."""
        out = []
        if record.get("external_id") is not None:
            out.append((self.by_external[resource], _external_key(record["external_id"])))
        if resource == PROJECTS:
            out.append((self.project_names, record["name"]))
        elif resource == CLIENTS and record["code"] is not None:
            out.append((self.by_code, record["code"]))
        return out

    def _index(self) -> None:
        """(Re)build every index from the tables."""
        self.by_code: dict[str, str] = {}
        self.by_external: dict[str, dict[str, str]] = {name: {} for name in RESOURCES}
        self.project_names: dict[str, str] = {}
        self.box_splitters: dict[str, list[str]] = {}
        self.fiber_owner: dict[str, str] = {}
        self.property_of_client: dict[str, str] = {}
        self._lists: OrderedDict[tuple[Any, ...], tuple[int, list[Record]]] = OrderedDict()
        for resource, table in self.tables.items():
            for record in table.values():
                self._hold(resource, record)

    def _hold(self, resource: str, record: Record) -> None:
        """Enter a record in the indexes."""
        for index, key in self._unique_keys(resource, record):
            index[key] = record["id"]
        if resource == SPLITTERS:
            self.box_splitters.setdefault(record["parent"], []).append(record["id"])
        elif resource == PROPERTIES:
            for connection in record["connections"]:
                self.fiber_owner[connection["fiber"]] = record["id"]
            if record["client"] is not None:
                self.property_of_client[record["client"]] = record["id"]

    def _release(self, resource: str, record: Record) -> None:
        """Take a record out of the indexes (the reverse of :meth:`_hold`)."""
        for index, key in self._unique_keys(resource, record):
            index.pop(key, None)
        if resource == SPLITTERS:
            self.box_splitters[record["parent"]].remove(record["id"])
        elif resource == PROPERTIES:
            for connection in record["connections"]:
                self.fiber_owner.pop(connection["fiber"], None)
            if record["client"] is not None:
                self.property_of_client.pop(record["client"], None)

    # -- ids, time, changes ------------------------------------------------------------------

    def new_id(self, timestamp: int | None = None) -> str:
        """A fresh ObjectId: 4 bytes of seconds, 5 of this store, 3 of its counter."""
        seconds = int(self.clock.now()) if timestamp is None else timestamp
        self.counter += 1
        return f"{seconds:08x}{MACHINE + (self.counter >> 24):010x}{self.counter & 0xFFFFFF:06x}"

    def stamp(self) -> str:
        moment = datetime.fromtimestamp(self.clock.now(), UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def _changed(self, *records: Record) -> None:
        stamp = self.stamp()
        for record in records:
            record["updatedAt"] = stamp
        self.version += 1

    def _base(self, resource: str, record_id: str | None) -> Record:
        stamp = self.stamp()
        out: Record = {"id": record_id or self.new_id()}
        if resource in KINDS:
            out["kind"] = KINDS[resource]
        return {**out, "creatorData": dict(API_USER), "createdAt": stamp, "updatedAt": stamp}

    def _insert(self, resource: str, record: Record) -> Record:
        table = self.tables[resource]
        if record["id"] in table:
            raise conflict("DUPLICATE_ID", f"{resource} {record['id']} already exists", "id")
        table[record["id"]] = record
        self._hold(resource, record)
        self.version += 1
        self.wrote(f"{resource}/{record['id']}", "create")
        return record

    def _check_external(self, resource: str, value: Any) -> None:
        """external_id is unique per resource; as the SDK warns ("sending the same external_id
        causes an error"), a PATCH giving a record's own external_id again is refused too."""
        if value is not None and _external_key(value) in self.by_external[resource]:
            raise conflict("DUPLICATE_EXTERNAL_ID", f"external_id {value!r} is already in use",
                           "external_id")

    # -- reading -----------------------------------------------------------------------------

    def get(self, resource: str, record_id: str) -> Record:
        found = self.tables[resource].get(record_id)
        if found is None:
            raise not_found(resource, record_id)
        return found

    def _referenced(self, resource: str, record_id: str, field: str) -> Record:
        found = self.tables[resource].get(record_id)
        if found is None:
            raise invalid(field, f"names no existing {resource} ({record_id})")
        return found

    def listing(self, resource: str, query: Query, start: int,
                limit: int | None) -> tuple[list[Record], int]:
        """Rows ``start``..``start+limit`` (None: all) of the matching records, and how many
        match. The matching, sorted list is cached until the next change."""
        key = (resource, *query.key)
        cached = self._lists.get(key)
        if cached is None or cached[0] != self.version:
            cached = (self.version, query.rows(self.tables[resource]))
            self._lists[key] = cached
            while len(self._lists) > LIST_CACHE:
                self._lists.popitem(last=False)
        self._lists.move_to_end(key)
        rows = cached[1]
        return (rows[start:] if limit is None else rows[start:start + limit]), len(rows)

    def shape(self, resource: str, record: Record, select: list[str] | None,
              populate: list[str]) -> Record:
        """The record as answered: references in ``populate`` replaced by their record, only
        ``select``'s top-level fields (and the id) kept."""
        out = record
        refs = POPULATE.get(resource, {})
        wanted = [name for name in populate if name in refs]
        if wanted:
            out = dict(record)
            for name in wanted:
                if isinstance(out.get(name), str):
                    out[name] = self.tables[refs[name]].get(out[name])
        if select:
            out = {name: out[name] for name in ("id", *select) if name in out}
        return out

    # -- writing: dispatch -------------------------------------------------------------------

    def create(self, resource: str, body: Mapping[str, Any], record_id: str | None = None) -> Record:
        if record_id is not None:
            object_id(record_id, "id")
        return {PROJECTS: self._create_project, BOXES: self._create_box,
                SPLITTERS: self._create_splitter, PROPERTIES: self._create_property,
                CLIENTS: self._create_client}[resource](body, record_id)

    def update(self, resource: str, record_id: str, body: Mapping[str, Any]) -> bool:
        """Apply a PATCH; whether anything changed."""
        record = self.get(resource, record_id)
        if resource == PROPERTIES:
            changed = self._update_property(record, body)
        else:
            changes = _changes(resource, record, body)
            if resource == SPLITTERS and body.get("ports") is not None:
                changes["ports"] = self._ports(record, body["ports"])
            self._check_external(resource, changes.get("external_id"))
            changes = {k: v for k, v in changes.items() if record.get(k) != v}
            if not changes:
                return False
            self._check_update(resource, changes)
            self._apply(resource, record, changes)
            changed = True
        if changed:
            self.wrote(f"{resource}/{record_id}", "update")
        return changed

    def delete(self, resource: str, record_id: str) -> Record:
        record = self.get(resource, record_id)
        self._check_delete(resource, record)
        if resource == PROPERTIES:
            self._disconnect(record)
        elif resource == CLIENTS and record_id in self.property_of_client:
            self._detach_client(self.tables[PROPERTIES][self.property_of_client[record_id]])
        self._release(resource, record)
        del self.tables[resource][record_id]
        self.version += 1
        self.wrote(f"{resource}/{record_id}", "delete")
        return record

    def _check_update(self, resource: str, changes: Mapping[str, Any]) -> None:
        if resource == PROJECTS and "name" in changes and changes["name"] in self.project_names:
            raise conflict("DUPLICATE_NAME", f"a project named {changes['name']!r} exists",
                           "name")
        if resource == CLIENTS and changes.get("code") in self.by_code:
            raise conflict("DUPLICATE_CODE", f"an FTTH client with code {changes['code']!r} "
                           "exists", "code")

    def _apply(self, resource: str, record: Record, changes: Mapping[str, Any]) -> None:
        """Change a record's fields (checked), keeping its unique indexes right."""
        for index, key in self._unique_keys(resource, record):
            index.pop(key, None)
        record.update(changes)
        for index, key in self._unique_keys(resource, record):
            index[key] = record["id"]
        if "coords" in changes and resource in (BOXES, PROPERTIES):
            self._locate(record)
        touched = [record]
        if resource == SPLITTERS and ({"name", "implanted"} & set(changes)):
            touched += self._refresh_connections(record)
        self._changed(*touched)

    def _check_delete(self, resource: str, record: Record) -> None:
        rid = record["id"]
        if resource == PROJECTS:
            used = sum(r["project"] == rid for name in (BOXES, PROPERTIES)
                       for r in self.tables[name].values())
            if used:
                raise conflict("IN_USE", f"project {rid} still has {used} boxes or properties")
        elif resource == BOXES:
            users = self.box_splitters.get(rid) or [
                p["id"] for p in self.tables[PROPERTIES].values() if p["box"] == rid]
            if users:
                raise conflict("IN_USE", f"box {rid} still holds splitters or properties "
                               f"({users[0]})")
        elif resource == SPLITTERS:
            ports = [n + 1 for n, fiber in enumerate(record["connectables"]["output"]) if fiber]
            if ports:
                raise conflict("IN_USE", f"splitter {rid} has connected ports "
                               f"({', '.join(map(str, ports))})")

    # -- projects, boxes, splitters ----------------------------------------------------------

    def _create_project(self, body: Mapping[str, Any], record_id: str | None) -> Record:
        fields = _fields(PROJECTS, body)
        if fields["name"] in self.project_names:
            raise conflict("DUPLICATE_NAME", f"a project named {fields['name']!r} exists", "name")
        self._check_external(PROJECTS, fields["external_id"])
        return self._insert(PROJECTS, {**self._base(PROJECTS, record_id), **fields})

    def _create_box(self, body: Mapping[str, Any], record_id: str | None) -> Record:
        fields = _fields(BOXES, body)
        self._referenced(PROJECTS, fields["project"], "project")
        self._check_external(BOXES, fields["external_id"])
        record = {**self._base(BOXES, record_id), **fields, "cables": []}
        self._locate(record)
        return self._insert(BOXES, record)

    def _locate(self, record: Record) -> None:
        coords = record.get("coords")
        record["lng"], record["lat"] = coords if coords else (None, None)

    def _create_splitter(self, body: Mapping[str, Any], record_id: str | None) -> Record:
        fields = _fields(SPLITTERS, body)
        box = self._referenced(BOXES, fields["parent"], "parent")
        self._check_external(SPLITTERS, fields["external_id"])
        ratio = fields["ratio"]
        record = {**self._base(SPLITTERS, record_id), **fields, "project": box["project"],
                  "connectables": {"input": [None] * ratio["input"],
                                   "output": [None] * ratio["output"]}}
        record["ports"] = [{"id": self.new_id(), "index": n, "blocked": False,
                            "observation": "", "tags": []} for n in range(1, ratio["output"] + 1)]
        if body.get("ports") is not None:
            record["ports"] = self._ports(record, body["ports"])
        return self._insert(SPLITTERS, record)

    def _ports(self, splitter: Record, given: Any) -> list[dict[str, Any]]:
        """A splitter's ports after a body's ``ports``: each entry ``{index?, blocked?,
        observation?, tags?}`` changes the port it names by ``index`` (from 1), else the port
        at its position."""
        count = splitter["ratio"]["output"]
        if not isinstance(given, list) or len(given) > count:
            raise invalid("ports", f"must be a list of at most {count} ports")
        ports = [dict(port) for port in splitter["ports"]]
        for position, entry in enumerate(given, start=1):
            if not isinstance(entry, dict):
                raise invalid("ports", "must hold objects {index?, blocked?, observation?}")
            index = entry.get("index", position)
            index = _count(1, count)(index, "ports.index")
            port = ports[index - 1]
            for name, parse in (("blocked", _bool), ("observation", _text), ("tags", _strings)):
                if entry.get(name) is not None:
                    port[name] = parse(entry[name], f"ports.{name}")
        return ports

    def _refresh_connections(self, splitter: Record) -> list[Record]:
        """The properties on a splitter, their connection showing its new name and state."""
        out = []
        for fiber in splitter["connectables"]["output"]:
            prop = self.tables[PROPERTIES].get(self.fiber_owner.get(fiber, ""))
            if prop is not None:
                for connection in prop["connections"]:
                    if connection["id"] == splitter["id"]:
                        connection.update(name=splitter["name"], implanted=splitter["implanted"])
                out.append(prop)
        return out

    # -- ports ---------------------------------------------------------------------------------

    def holder(self, splitter: Record, port: int) -> str | None:
        """The id of the property on a port (1-based), or None when it is free."""
        fiber = splitter["connectables"]["output"][port - 1]
        return self.fiber_owner.get(fiber) if fiber else None

    def reserved(self, splitter: Record, port: int) -> bool:
        """ASSUMED: a box's ``default_reserve`` keeps the last ports of each of its customer
        splitters for the operator; only ``force`` takes them."""
        box = self.tables[BOXES].get(splitter["parent"])
        reserve = box["default_reserve"] if box else 0
        return port > splitter["ratio"]["output"] - reserve

    def free_ports(self, splitter: Record, *, force: bool = False,
                   holder: str | None = None) -> list[int]:
        """The ports a property may take: not connected (or held by ``holder``), not blocked,
        not reserved (unless ``force``)."""
        output = splitter["connectables"]["output"]
        return [n for n in range(1, len(output) + 1)
                if (output[n - 1] is None or self.fiber_owner.get(output[n - 1]) == holder)
                and not splitter["ports"][n - 1]["blocked"]
                and (force or not self.reserved(splitter, n))]

    def _check_port(self, splitter: Record, port: Any, *, force: bool, holder: str | None) -> int:
        count = splitter["ratio"]["output"]
        port = _count(1, count)(port, "port")
        where = f"port {port} of splitter {splitter['name']!r} ({splitter['id']})"
        owner = self.holder(splitter, port)
        if owner is not None and owner != holder:
            on_port = self.tables[CLIENTS].get(self.tables[PROPERTIES][owner]["client"] or "", {})
            client = f", client {on_port['code']!r}" if on_port.get("code") else ""
            raise conflict("PORT_IN_USE", f"{where} is already in use by property "
                           f"{owner}{client}", "port")
        if splitter["ports"][port - 1]["blocked"]:
            raise conflict("PORT_BLOCKED", f"{where} is blocked", "port")
        if not force and self.reserved(splitter, port):
            raise conflict("PORT_RESERVED", f"{where} is reserved by the box's default reserve; "
                           "send force: true to take it", "port")
        return port

    def _auto_port(self, splitters: list[Record], *, force: bool,
                   holder: str | None) -> tuple[Record, int]:
        """The first free port of the first customer splitter that has one."""
        for splitter in splitters:
            if splitter["isDrop"]:
                free = self.free_ports(splitter, force=force, holder=holder)
                if free:
                    return splitter, free[0]
        raise conflict("NO_FREE_PORT", "no free port on the customer splitters of "
                       f"{splitters[0]['parent'] if splitters else 'the box'}", "auto_connect")

    def _connect(self, prop: Record, splitter: Record, port: int) -> None:
        fiber, drop = self.new_id(), self.new_id()
        splitter["connectables"]["output"][port - 1] = fiber
        self.fiber_owner[fiber] = prop["id"]
        prop.update(box=splitter["parent"], drop=drop, cables=[drop], connections=[{
            "id": splitter["id"], "name": splitter["name"], "kind": "Splitter", "port": port,
            "implanted": splitter["implanted"], "fiber": fiber}])
        self._changed(splitter)
        self.wrote(f"port/{splitter['id']}/{port}", "take")

    def _disconnect(self, prop: Record) -> bool:
        """Free the property's port(s) (and its drop); whether it was connected."""
        for connection in prop["connections"]:
            splitter = self.tables[SPLITTERS].get(connection["id"])
            output = splitter["connectables"]["output"] if splitter else []
            if 0 < connection["port"] <= len(output) and output[connection["port"] - 1] == \
                    connection["fiber"]:
                output[connection["port"] - 1] = None
                self._changed(splitter)  # type: ignore[arg-type]
                self.wrote(f"port/{connection['id']}/{connection['port']}", "free")
            self.fiber_owner.pop(connection["fiber"], None)
        was = bool(prop["connections"])
        prop.update(connections=[], drop=None, cables=[])
        return was

    # -- properties and clients ----------------------------------------------------------------

    def _create_client(self, body: Mapping[str, Any], record_id: str | None) -> Record:
        record = {**self._base(CLIENTS, record_id), **self._client_fields(body, "")}
        return self._insert(CLIENTS, record)

    def _client_fields(self, body: Any, prefix: str) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid(prefix.rstrip(".") or "client", "must be an object")
        fields = _fields(CLIENTS, body, prefix)
        if fields["code"] in self.by_code:
            raise conflict("DUPLICATE_CODE", f"an FTTH client with code {fields['code']!r} exists",
                           f"{prefix}code")
        self._check_external(CLIENTS, fields["external_id"])
        return fields

    def _client_choice(self, given: Any, prop_id: str | None) -> tuple[str, Any]:
        """What a property body's ``client`` asks: ("none", None), ("id", client id) of an
        existing client not on another property, or ("new", checked fields)."""
        if given is None:
            return "none", None
        if isinstance(given, str):
            client = self._referenced(CLIENTS, object_id(given, "client"), "client")
            other = self.property_of_client.get(client["id"])
            if other is not None and other != prop_id:
                raise conflict("CLIENT_IN_USE", f"FTTH client {client['id']} is already on "
                               f"property {other}", "client")
            return "id", client["id"]
        return "new", self._client_fields(given, "client.")

    def _attach_client(self, prop: Record, choice: tuple[str, Any]) -> None:
        kind, value = choice
        if kind == "none":
            return
        if kind == "new":
            value = self._insert(CLIENTS, {**self._base(CLIENTS, None), **value})["id"]
        prop["client"] = value
        self.property_of_client[value] = prop["id"]
        client = self.tables[CLIENTS][value]
        prop["history"]["clients"].append({"id": value, "code": client["code"],
                                           "enter_date": self.stamp(), "exit_date": None})

    def _detach_client(self, prop: Record) -> None:
        """The property keeps its port; its history records the client's exit (FOUND: SGP and
        RBX integrations: a removed client leaves its property, which keeps occupying the
        port)."""
        client_id = prop["client"]
        if client_id is None:
            return
        self.property_of_client.pop(client_id, None)
        prop["client"] = None
        for entry in prop["history"]["clients"]:
            if entry["id"] == client_id and entry["exit_date"] is None:
                entry["exit_date"] = self.stamp()
        self._changed(prop)

    def _target(self, body: Mapping[str, Any], box_id: str | None, *, holder: str | None,
                current: tuple[str, int] | None,
                home: str | None = None) -> tuple[Record, int] | None:
        """The (splitter, port) a property body asks for, checked; None: no connection asked.
        ``box_id`` is the box the body names, ``home`` the one ``auto_connect`` falls back to
        (the property's)."""
        force = bool(body.get("force"))
        if body.get("force") is not None:
            _bool(body["force"], "force")
        auto = body.get("auto_connect") is not None and _bool(body["auto_connect"], "auto_connect")
        connector = body.get("connector")
        if connector is None and body.get("port") is not None and current is not None:
            connector = current[0]  # a new port on the splitter it is on
        if connector is not None:
            # any splitter: a network drawn without isDrop has its customers on unflagged ones
            splitter = self._referenced(SPLITTERS, object_id(connector, "connector"), "connector")
            if box_id is not None and box_id != splitter["parent"]:
                raise invalid("box", f"splitter {splitter['id']} is in box {splitter['parent']}")
            if body.get("port") is not None:
                return splitter, self._check_port(splitter, body["port"], force=force,
                                                  holder=holder)
            if not auto:
                raise invalid("port", "is required with connector (or send auto_connect: true)")
            return self._auto_port([splitter], force=force, holder=holder)
        if body.get("port") is not None:
            raise invalid("connector", "is required with port")
        if not auto:
            return None
        box_id = box_id or home
        if box_id is None:
            raise invalid("auto_connect", "needs a box or a connector")
        if current is not None and self.tables[SPLITTERS][current[0]]["parent"] == box_id:
            return None  # already on a port of that box
        self._referenced(BOXES, box_id, "box")
        splitters = [self.tables[SPLITTERS][s] for s in self.box_splitters.get(box_id, [])]
        return self._auto_port(splitters, force=force, holder=holder)

    def _create_property(self, body: Mapping[str, Any], record_id: str | None) -> Record:
        fields = _fields(PROPERTIES, body)
        target = self._target(body, fields["box"], holder=None, current=None)
        box_id = target[0]["parent"] if target else fields["box"]
        box = self._referenced(BOXES, box_id, "box") if box_id else None
        project = fields["project"] or (box["project"] if box else None)
        if project is None:
            raise invalid("project", "is required (or a box or connector to take it from)")
        self._referenced(PROJECTS, project, "project")
        if box is not None and box["project"] != project:
            raise invalid("box", f"box {box['id']} is in project {box['project']}")
        self._check_external(PROPERTIES, fields["external_id"])
        choice = self._client_choice(body.get("client"), None)
        record = {**self._base(PROPERTIES, record_id), **fields, "project": project,
                  "box": box_id, "client": None, "drop": None, "cables": [], "connections": [],
                  "history": {"clients": []}}
        if record["coords"] is None and box is not None:
            record["coords"] = list(box["coords"])  # placed at its box, as integrations do
        self._locate(record)
        self._insert(PROPERTIES, record)
        self._attach_client(record, choice)
        if target is not None:
            self._connect(record, *target)
        return record

    def _update_property(self, prop: Record, body: Mapping[str, Any]) -> bool:
        """A property PATCH: its fields, then its client and port, all checked first."""
        changes = _changes(PROPERTIES, prop, body)
        self._check_external(PROPERTIES, changes.get("external_id"))
        changes = {k: v for k, v in changes.items() if prop.get(k) != v}
        current = ((prop["connections"][0]["id"], prop["connections"][0]["port"])
                   if prop["connections"] else None)
        disconnect = "connector" in body and body["connector"] is None
        target = None if disconnect else self._target(
            body, changes.get("box"), holder=prop["id"], current=current, home=prop["box"])
        if target is not None and (target[0]["id"], target[1]) == current:
            target = None
        if "box" in changes and target is None and current is not None and not disconnect \
                and self.tables[SPLITTERS][current[0]]["parent"] != changes["box"]:
            raise invalid("box", f"the property is connected to a splitter of box {prop['box']}")
        if "box" in changes and changes["box"] is not None:
            self._referenced(BOXES, changes["box"], "box")
        client_change = "client" in body and body["client"] != prop["client"]
        choice = self._client_choice(body["client"], prop["id"]) if client_change else None
        if not (changes or client_change or target or (disconnect and current)):
            return False
        if changes:
            self._apply(PROPERTIES, prop, changes)
        if client_change:
            self._detach_client(prop)
            self._attach_client(prop, choice or ("none", None))
        if disconnect or target is not None:
            self._disconnect(prop)
        if target is not None:
            self._connect(prop, *target)
        self._changed(prop)
        return True

    def batch_update_clients(self, query: Query, data: Any) -> tuple[int, int]:
        """``ftth-clients/batch-update``: set implanted, certified or status on every client the
        filter matches; how many matched and how many changed."""
        if not isinstance(data, dict) or not data or not set(data) <= set(BATCH_FIELDS):
            raise invalid("data", f"must give some of {', '.join(BATCH_FIELDS)}")
        changes = {name: BATCH_FIELDS[name](value, f"data.{name}") for name, value in data.items()}
        matched, _ = self.listing(CLIENTS, query, 0, None)
        modified = [c for c in matched if any(c[k] != v for k, v in changes.items())]
        for client in modified:
            client.update(changes)
            self.wrote(f"{CLIENTS}/{client['id']}", "batch-update")
        if modified:
            self._changed(*modified)
        return len(matched), len(modified)

    # -- viability -------------------------------------------------------------------------------

    def viability(self, lat: float, lng: float, radius: float | None,
                  project: str | None = None) -> dict[str, Any]:
        """The boxes within ``radius`` metres (the configured one when None) of the point, by
        distance: those with viability (implanted, not a draft, a customer splitter with a
        free port), then the others with the reason."""
        radius = self.viability_radius if radius is None else radius
        band = radius / 111_000.0 + 1e-6  # degrees of latitude: a cheap first cut
        viable, others = [], []
        for box in self.tables[BOXES].values():
            if (project is not None and box["project"] != project) or abs(box["lat"] - lat) > band:
                continue
            metres = distance(lat, lng, box["lat"], box["lng"])
            if metres > radius:
                continue
            entry = {key: box[key] for key in ("id", "name", "project", "coords", "lat", "lng",
                                               "implanted")}
            entry["distance"] = round(metres, 2)
            reason, splitters = self._box_viability(box)
            if reason is None:
                entry["availablePorts"] = sum(len(s["availablePorts"]) for s in splitters)
                entry["splitters"] = splitters
                viable.append(entry)
            else:
                others.append({**entry, "reason": reason})
        for group in (viable, others):
            group.sort(key=lambda e: (e["distance"], e["name"], e["id"]))
        return {"viable": bool(viable), "lat": lat, "lng": lng, "radius": radius,
                "boxes": viable, "boxesWithoutViability": others}

    def _box_viability(self, box: Record) -> tuple[str | None, list[dict[str, Any]]]:
        if not box["implanted"]:
            return "not_implanted", []  # a box in design ("em projeto") is never viable
        if box["draft"]:
            return "draft", []
        drops = [s for s in (self.tables[SPLITTERS][i] for i in self.box_splitters.get(
            box["id"], [])) if s["isDrop"]]
        if not drops:
            return "no_customer_splitter", []
        splitters = [{"id": s["id"], "name": s["name"], "ratio": s["ratio"],
                      "availablePorts": self.free_ports(s)} for s in drops]
        splitters = [s for s in splitters if s["availablePorts"]]
        return (None, splitters) if splitters else ("no_free_port", [])

    # -- seeding ---------------------------------------------------------------------------------

    def seed(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Bulk creation, in order: ``projects``, ``boxes``, ``splitters``, ``ftth-clients``,
        ``properties`` (each a list of create bodies, with an optional ``id``), then
        ``generate`` (:meth:`generate`). Every record goes through the create rules; a refusal
        names the record and leaves the ones before it."""
        unknown = set(body) - {*RESOURCES, "generate"}
        if unknown:
            raise invalid("seed", f"knows {', '.join((*RESOURCES, 'generate'))}, not "
                          f"{', '.join(sorted(unknown))}")
        writes, self.writes = self.writes, {}  # seeding is not the platform's traffic
        try:
            return self._seed(body)
        finally:
            self.writes = writes

    def _seed(self, body: Mapping[str, Any]) -> dict[str, Any]:
        created: dict[str, int] = dict.fromkeys(RESOURCES, 0)
        for resource in RESOURCES:
            items = body.get(resource) or []
            if not isinstance(items, list):
                raise invalid(resource, "must be a list of records")
            for n, item in enumerate(items):
                if not isinstance(item, dict):
                    raise invalid(f"{resource}[{n}]", "must be an object")
                try:
                    self.create(resource, item, item.get("id"))
                except ApiError as exc:
                    exc.message = f"{resource}[{n}]: {exc.message}"
                    raise
                created[resource] += 1
        out: dict[str, Any] = {"created": created}
        if body.get("generate") is not None:
            out["generated"] = self.generate(body["generate"])
            for resource, count in out["generated"]["created"].items():
                created[resource] += count
        return out

    def generate(self, spec: Any) -> dict[str, Any]:
        """A deterministic network: ``boxes`` boxes (grid around ``center``, ``spacing`` metres
        apart) in project ``project`` (created when no project has that name), each with one
        customer splitter 1x``ports`` named "Splitter 1" (and a 1x8 distribution splitter when
        ``distribution``); every ``design_every``-th box in design; ports blocked with
        probability ``blocked_rate``; ``default_reserve`` ``reserve``; a fraction
        ``occupied_rate`` of the free ports holding a property and a client coded
        ``<code_prefix><n>``. Names are ``<prefix><n>`` (4 digits). The same spec (``seed``
        included) on a new store gives the same network, ids included."""
        if not isinstance(spec, dict):
            raise invalid("generate", "must be an object")
        known = {"project", "boxes", "ports", "prefix", "center", "spacing", "design_every",
                 "blocked_rate", "reserve", "distribution", "occupied_rate", "code_prefix", "seed"}
        if set(spec) - known:
            raise invalid("generate", f"knows {', '.join(sorted(known))}")
        count = _count(1, 200_000)(spec.get("boxes"), "generate.boxes")
        ports = _count(1, MAX_RATIO_OUTPUT)(spec.get("ports", 16), "generate.ports")
        design_every = _count(0, 10**6)(spec.get("design_every", 0), "generate.design_every")
        reserve = _count(0, ports)(spec.get("reserve", 0), "generate.reserve")
        blocked_rate = _rate(spec.get("blocked_rate", 0.0), "generate.blocked_rate")
        occupied_rate = _rate(spec.get("occupied_rate", 0.0), "generate.occupied_rate")
        prefix = _name(spec.get("prefix", "CTO-"), "generate.prefix")
        code_prefix = _name(spec.get("code_prefix", "G"), "generate.code_prefix")
        spacing = _number(spec.get("spacing", 60), "generate.spacing")
        center = spec.get("center", {"lat": -27.5954, "lng": -48.5480})
        if not isinstance(center, dict):
            raise invalid("generate.center", "must be {lat, lng}")
        lat0 = _number(center.get("lat"), "generate.center.lat")
        lng0 = _number(center.get("lng"), "generate.center.lng")
        distribution = _bool(spec.get("distribution", False), "generate.distribution")
        rng = random.Random(_count(0, 2**63)(spec.get("seed", 0), "generate.seed"))
        name = _name(spec.get("project", "Projeto Simulado"), "generate.project")

        def ids() -> str:  # ids at a fixed time: the same spec gives the same ids
            return self.new_id(GENERATED_AT)

        created = dict.fromkeys(RESOURCES, 0)
        project = self.project_names.get(name)
        if project is None:
            project = self._create_project({"name": name}, ids())["id"]
            created[PROJECTS] += 1
        side = max(1, math.ceil(math.sqrt(count)))
        dlat = spacing / 111_195.0
        dlng = dlat / max(0.01, math.cos(math.radians(lat0)))
        stamp = self.stamp()
        for n in range(1, count + 1):
            row, col = divmod(n - 1, side)
            coords = [round(lng0 + (col - side / 2) * dlng, 7),
                      round(lat0 + (row - side / 2) * dlat, 7)]
            implanted = not (design_every and n % design_every == 0)
            box = {"id": ids(), "kind": "Box", "creatorData": dict(API_USER), "createdAt": stamp,
                   "updatedAt": stamp, **_fields(BOXES, {
                       "name": f"{prefix}{n:04d}", "project": project, "coords": coords,
                       "implanted": implanted, "default_reserve": reserve,
                       "hierarchyLevel": 2}), "cables": []}
            self._locate(box)
            self.tables[BOXES][box["id"]] = box
            created[BOXES] += 1
            splitters = [("Splitter 1", ports, True)] + ([("Splitter D", 8, False)]
                                                          if distribution else [])
            for label, outputs, is_drop in splitters:
                splitter = self._generated_splitter(box, label, outputs, is_drop, ids, stamp)
                for port in splitter["ports"]:
                    port["blocked"] = is_drop and blocked_rate > 0 and rng.random() < blocked_rate
                self.tables[SPLITTERS][splitter["id"]] = splitter
                self.box_splitters.setdefault(box["id"], []).append(splitter["id"])
                created[SPLITTERS] += 1
        self.version += 1
        if occupied_rate > 0:
            created[PROPERTIES] = created[CLIENTS] = self._occupy(
                project, created[BOXES], occupied_rate, code_prefix, rng, ids)
        return {"project": project, "created": created,
                "ports": created[BOXES] * ports}

    def _generated_splitter(self, box: Record, name: str, outputs: int, is_drop: bool,
                            ids: Callable[[], str], stamp: str) -> Record:
        return {"id": ids(), "kind": "Splitter", "creatorData": dict(API_USER),
                "createdAt": stamp, "updatedAt": stamp, "parent": box["id"], "name": name,
                "ratio": {"input": 1, "output": outputs}, "isDrop": is_drop,
                "implanted": box["implanted"], "splitterType": None, "observation": "",
                "label": "", "attenuation": [], "external_id": None, "project": box["project"],
                "connectables": {"input": [None], "output": [None] * outputs},
                "ports": [{"id": ids(), "index": n, "blocked": False, "observation": "",
                           "tags": []} for n in range(1, outputs + 1)]}

    def _occupy(self, project: str, boxes: int, rate: float, code_prefix: str,
                rng: random.Random, ids: Callable[[], str]) -> int:
        """Properties with clients on a fraction of the free customer ports of the last
        ``boxes`` boxes generated."""
        made = 0
        for box in list(self.tables[BOXES].values())[-boxes:]:
            for splitter_id in self.box_splitters.get(box["id"], []):
                splitter = self.tables[SPLITTERS][splitter_id]
                if not splitter["isDrop"]:
                    continue
                for port in self.free_ports(splitter):
                    if rng.random() >= rate:
                        continue
                    code = f"{code_prefix}{made + 1}"
                    while code in self.by_code:
                        code += "x"
                    self._create_property({"client": {"code": code, "name": f"Cliente {code}",
                                                      "implanted": box["implanted"]},
                                           "connector": splitter_id, "port": port}, ids())
                    made += 1
        return made

    # -- persistence -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The platform's data (not its counters or tokens) as JSON-ready objects."""
        return {"version": FORMAT_VERSION, "counter": self.counter,
                "viability_radius": self.viability_radius,
                "tables": {name: list(table.values()) for name, table in self.tables.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, clock: Clock | None = None) -> Store:
        """A store holding what :meth:`to_json` wrote (its records become the store's own)."""
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported ozmap store version {data.get('version')!r}")
        store = cls(clock=clock, viability_radius=float(data["viability_radius"]))
        store.counter = int(data["counter"])
        store.tables = {name: {r["id"]: r for r in data["tables"][name]} for name in RESOURCES}
        store._index()
        return store


def _rate(value: Any, name: str) -> float:
    number = _number(value, name)
    if not 0 <= number <= 1:
        raise invalid(name, "must be between 0 and 1")
    return float(number)
