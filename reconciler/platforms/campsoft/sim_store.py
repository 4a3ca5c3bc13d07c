"""The data of the Campsoft simulator: ISPs, products, subscriptions, settings and counters.

The wire layer (:mod:`reconciler.platforms.campsoft.sim`) parses requests and calls :class:`Store`; the
store enforces the platform's rules and raises :class:`ApiError` for refusals. What is FOUND and
what is ASSUMED is listed in the wire module's docstring.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from reconciler.sim import wire

FORMAT_VERSION = 1
STATUSES = ("active", "suspended", "cancelled")
PRODUCT_STATUSES = ("active", "inactive")
CUSTOMER_FIELDS = ("name", "document", "email", "phone", "login", "password")
MISSING_CONTACT = "customer e-mail and phone are required"

# ASSUMED codes and names: PLATFORMS.md §7.3 only says codes are numeric strings (seven digits).
DEFAULT_PRODUCTS: tuple[Mapping[str, str], ...] = (
    {"code": "1234567", "name": "Campsoft Livros Digitais", "status": "active"},
    {"code": "7654321", "name": "Campsoft Livros Digitais Premium", "status": "active"},
    {"code": "2468013", "name": "Campsoft Kids", "status": "active"},
    {"code": "9000001", "name": "Campsoft Biblioteca Antiga", "status": "inactive"},
)
DEFAULT_ISPS: tuple[Mapping[str, str], ...] = (
    {"isp_identifier": "isp-sim", "name": "Provedor Simulado"},
)


class ApiError(wire.ApiError):
    """A refusal the platform answers with ``{"message", ...extra}`` and a real HTTP status."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(status, f"{status}: {message}")
        self.message, self.extra = message, extra

    def body(self) -> dict[str, Any]:
        return {"message": self.message, **self.extra}


def password_digest(password: str) -> str:
    """How the store keeps a subscriber's password: never in clear, not even in the sim."""
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Customer:
    """The subscriber. Only a digest of the password is kept (``/validation`` checks it), and
    it is never listed."""

    name: str
    document: str
    email: str
    phone: str
    login: str | None = None
    password_sha256: str | None = None

    def to_wire(self) -> dict[str, Any]:
        out = asdict(self)
        del out["password_sha256"]
        return out


@dataclass(slots=True)
class Subscription:
    subscription_id: str
    isp_identifier: str
    contract_identifier: str
    label: str
    product_code: str
    status: str
    customer: Customer

    @property
    def key(self) -> str:
        """The natural key the counters use: ``<contract_identifier>/<label>``."""
        return f"{self.contract_identifier}/{self.label}"

    def to_wire(self) -> dict[str, Any]:
        """The subscription as ``GET /subscriptions`` lists it (no password)."""
        out = self.dump()
        out["customer"] = self.customer.to_wire()
        return out

    def dump(self) -> dict[str, Any]:
        """The subscription for the persisted store (with the password's digest)."""
        return asdict(self)

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> Subscription:
        return cls(**{**data, "customer": Customer(**data["customer"])})


def customer_problem(customer: Mapping[str, Any]) -> str | None:
    """Why a customer object is refused (e-mail and phone are required), or None."""
    if not customer.get("email") or not customer.get("phone"):
        return MISSING_CONTACT
    return None


class Store(wire.Counters):
    """Everything the simulated platform holds, plus its settings and counters."""

    def __init__(
        self,
        products: Sequence[Mapping[str, Any]] | None = None,
        *,
        isps: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        self.initial_products = [dict(p) for p in (products if products is not None
                                                   else DEFAULT_PRODUCTS)]
        self.isps = [dict(i) for i in (isps if isps is not None else DEFAULT_ISPS)]
        self.reset()

    def reset(self) -> None:
        """Back to an empty platform with the initial catalog; ISPs and settings are kept."""
        self.products: list[dict[str, Any]] = [dict(p) for p in self.initial_products]
        self.subscriptions: dict[str, Subscription] = {}
        self.by_key: dict[tuple[str, str, str], str] = {}
        self.next_id = 1
        self.reset_counters()
        self.logins = 0

    # -- persistence -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The platform's data (not its counters or tokens) as JSON-ready objects."""
        return {
            "version": FORMAT_VERSION,
            "next_id": self.next_id,
            "isps": self.isps,
            "products": self.products,
            "subscriptions": [s.dump() for s in self.subscriptions.values()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Store:
        """A store holding what :meth:`to_json` wrote."""
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported campsoft store version {data.get('version')!r}")
        store = cls(data["products"], isps=data["isps"])
        store.next_id = int(data["next_id"])
        for item in data["subscriptions"]:
            store._index(Subscription.load(item))
        return store

    # -- reads -------------------------------------------------------------------------------

    def isp(self, identifier: str) -> Mapping[str, Any]:
        for isp in self.isps:
            if isp["isp_identifier"] == identifier:
                return isp
        raise ApiError(422, f"unknown isp_identifier {identifier!r}")

    def product(self, code: str) -> Mapping[str, Any]:
        """An active product; unknown or inactive ones are refused, listing the active codes."""
        for product in self.products:
            if product["code"] == code and product["status"] == "active":
                return product
        active = [p["code"] for p in self.products if p["status"] == "active"]
        raise ApiError(422, f"product {code!r} does not exist or is inactive; active products: "
                       f"{', '.join(active) or 'none'}")

    def get(self, subscription_id: str) -> Subscription:
        found = self.subscriptions.get(subscription_id)
        if found is None:
            raise ApiError(404, f"subscription {subscription_id} not found")
        return found

    def listing(
        self, keep: Callable[[Subscription], bool] | None, start: int, size: int
    ) -> tuple[list[Subscription], int]:
        """One page of subscriptions in creation order, and how many match ``keep`` in all."""
        matches = [s for s in self.subscriptions.values() if keep is None or keep(s)]
        return matches[start : start + size], len(matches)

    def validate(self, isp: str, login: str, password: str) -> dict[str, Any] | None:
        """The user ``/validation`` describes, or None when login and password do not match."""
        digest = password_digest(password)
        mine = [s for s in self.subscriptions.values() if s.isp_identifier == isp
                and s.customer.login == login and s.customer.password_sha256 == digest]
        if not login or not mine:
            return None
        userkey = hashlib.sha256(f"{isp}/{login}".encode()).hexdigest()[:16]
        return {
            "userkey": f"usr-{userkey}",
            "email": {"data": mine[-1].customer.email},
            "products": [{"code": s.product_code, "status": s.status} for s in mine],
        }

    # -- writes ------------------------------------------------------------------------------

    def subscribe(
        self, isp: str, contract: str, label: str, product_code: str, customer: Customer
    ) -> Subscription:
        """A new subscription, or a cancelled one of the same contract and label reactivated
        with the new data; an active or suspended one is a 409 naming its id."""
        self.isp(isp)
        problem = customer_problem(asdict(customer))
        if problem:
            raise ApiError(422, problem)
        self.product(product_code)
        existing = self.by_key.get((isp, contract, label))
        if existing is not None:
            sub = self.subscriptions[existing]
            if sub.status != "cancelled":
                raise ApiError(409, "a subscription for this contract_identifier and label "
                               "already exists", subscription_id=existing)
            sub.product_code, sub.customer, sub.status = product_code, customer, "active"
        else:
            sub = Subscription(f"sub-{self.next_id:06d}", isp, contract, label, product_code,
                               "active", customer)
            self.next_id += 1
            self._index(sub)
        self.wrote(sub.key, "create")
        return sub

    def update(
        self, subscription_id: str, product_code: str | None, customer: Mapping[str, Any]
    ) -> Subscription:
        """Change the product and/or customer fields given; a cancelled one is a 409."""
        sub = self.get(subscription_id)
        if sub.status == "cancelled":
            raise ApiError(409, f"subscription {subscription_id} is cancelled")
        if product_code is not None and product_code != sub.product_code:
            self.product(product_code)
        merged = {**asdict(sub.customer), **customer}
        problem = customer_problem(merged)
        if problem:
            raise ApiError(422, problem)
        new_product = product_code or sub.product_code
        if new_product != sub.product_code or merged != asdict(sub.customer):
            sub.product_code, sub.customer = new_product, Customer(**merged)
            self.wrote(sub.key, "update")
        return sub

    def set_status(self, subscription_id: str, operation: str) -> Subscription:
        """suspend | reactivate | cancel; already in that state is no write, and suspending or
        reactivating a cancelled subscription is a 409."""
        sub = self.get(subscription_id)
        target = {"suspend": "suspended", "reactivate": "active", "cancel": "cancelled"}[operation]
        if sub.status == target:
            return sub
        if sub.status == "cancelled":
            raise ApiError(409, f"subscription {subscription_id} is cancelled; create it again "
                           "to reactivate it")
        sub.status = target
        self.wrote(sub.key, operation)
        return sub

    # -- helpers -----------------------------------------------------------------------------

    def _index(self, sub: Subscription) -> None:
        self.subscriptions[sub.subscription_id] = sub
        self.by_key[(sub.isp_identifier, sub.contract_identifier, sub.label)] = (
            sub.subscription_id)
