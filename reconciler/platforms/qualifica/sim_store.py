"""What the simulated Qualifica platform holds: its product catalog, users and their entitlements.

The wire contract and every assumption behind it are listed in :mod:`reconciler.platforms.qualifica.sim`;
this module is the data model and its rules, free of HTTP. Every refusal is an :class:`ApiError`
(a :class:`~reconciler.sim.wire.PortugueseError`) carrying the platform's ``{"erro", "mensagem"}``
and HTTP status.

Counters: ``requests`` per "METHOD /route" (kept by the app), ``writes`` per natural key (the
usuario for a user, ``usuario/produto`` for an entitlement) counting only calls that changed
something, and ``logins`` (tokens issued).
"""

from __future__ import annotations

import hashlib
import re
from bisect import insort
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from reconciler.sim.clock import Clock, SystemClock
from reconciler.sim.records import fields_of
from reconciler.sim.wire import Counters, PortugueseError

FORMAT_VERSION = 1
STATUSES = ("ativo", "suspenso", "cancelado")
CODE = re.compile(r"^[^/\s]{1,64}$")
ONE_YEAR = timedelta(days=365)  # ASSUMED: "exactly one year" as 365 days, as the provider sends

DEFAULT_PRODUCTS: tuple[Mapping[str, Any], ...] = (
    {"codigo": "pro", "nome": "Qualifica Pro", "ativo": True},
    {"codigo": "premium", "nome": "Qualifica Premium", "ativo": True},
    {"codigo": "1001", "nome": "Curso Profissionalizante 1001", "ativo": True},
)

KEEP: Any = object()  # "leave this field as it is" in a partial update


class ApiError(PortugueseError):
    """A refusal the platform answers with ``{"erro", "mensagem"}`` and a real HTTP status."""


def today(clock: Clock) -> date:
    """The platform's current date: the clock's UTC date (ASSUMED: UTC, not Brasília time)."""
    return datetime.fromtimestamp(clock.now(), UTC).date()


def default_expiry(clock: Clock) -> str:
    """``data_expiracao`` when none is given: one year after today (seed 003)."""
    return (today(clock) + ONE_YEAR).isoformat()


def senha_digest(senha: str) -> str:
    """How the store keeps an end user's password: never in clear, not even in the sim."""
    return hashlib.sha256(senha.encode("utf-8")).hexdigest()


@dataclass(slots=True)
class Entitlement:
    """One product granted to one user (a HubSoft package on a client service)."""

    produto: str
    status: str = "ativo"
    data_expiracao: str = ""
    id_cliente_servico: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return fields_of(self)


@dataclass(slots=True)
class User:
    """One end user. ``senha_sha256`` is None while the platform's default initial access holds."""

    usuario: str
    nome: str
    documento: str
    email: str | None = None
    senha_sha256: str | None = None
    produtos: dict[str, Entitlement] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """The user as ``GET /usuarios`` shows it (never the password)."""
        return {
            "usuario": self.usuario,
            "nome": self.nome,
            "email": self.email,
            "documento": self.documento,
            "produtos": [self.produtos[p].to_wire() for p in sorted(self.produtos)],
        }

    def dump(self) -> dict[str, Any]:
        """The user for the persisted store."""
        return {**self.to_wire(), "senha_sha256": self.senha_sha256}

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> User:
        entitlements = [Entitlement(**item) for item in data.get("produtos", ())]
        return cls(
            usuario=data["usuario"],
            nome=data["nome"],
            documento=data["documento"],
            email=data.get("email"),
            senha_sha256=data.get("senha_sha256"),
            produtos={e.produto: e for e in entitlements},
        )


class Store(Counters):
    """Everything the simulated platform holds, plus its catalog and counters."""

    def __init__(
        self,
        products: Sequence[Mapping[str, Any]] | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        chosen = products if products is not None else DEFAULT_PRODUCTS
        self.initial_products = [dict(p) for p in chosen]
        self.reset()

    def reset(self) -> None:
        """Back to an empty platform with the initial catalog; counters start again."""
        self.products: list[dict[str, Any]] = [dict(p) for p in self.initial_products]
        self.users: dict[str, User] = {}
        self.keys: list[str] = []
        self.reset_counters()
        self.logins = 0

    # -- persistence -------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The platform's data (not its tokens, settings or counters) as JSON-ready objects."""
        return {
            "version": FORMAT_VERSION,
            "products": [dict(p) for p in self.products],
            "users": [self.users[k].dump() for k in self.keys],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, clock: Clock | None = None) -> Store:
        """A store holding what :meth:`to_json` wrote."""
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported qualifica store version {data.get('version')!r}")
        store = cls(data["products"], clock=clock)
        for item in data["users"]:
            user = User.load(item)
            store.users[user.usuario] = user
        store.keys = sorted(store.users)
        return store

    # -- reads -------------------------------------------------------------------------------

    def user(self, usuario: str) -> User:
        found = self.users.get(usuario)
        if found is None:
            raise ApiError(404, "usuario_inexistente", f"Usuário {usuario} não cadastrado.")
        return found

    def entitlement(self, usuario: str, produto: str) -> Entitlement:
        found = self.user(usuario).produtos.get(produto)
        if found is None:
            message = f"Produto {produto} não vinculado ao usuário {usuario}."
            raise ApiError(404, "produto_nao_vinculado", message)
        return found

    def listing(self, start: int, size: int) -> tuple[list[User], int]:
        """One page of users in usuario order, and how many there are in all."""
        return [self.users[k] for k in self.keys[start : start + size]], len(self.keys)

    def active_codes(self) -> list[str]:
        return [str(p["codigo"]) for p in self.products if p["ativo"]]

    # -- users -------------------------------------------------------------------------------

    def create_user(self, user: User) -> User:
        if user.usuario in self.users:
            raise ApiError(409, "usuario_existente", f"Usuário {user.usuario} já cadastrado.")
        self.users[user.usuario] = user
        insort(self.keys, user.usuario)
        self.wrote(user.usuario, "criar")
        return user

    def update_user(self, usuario: str, nome: str, email: str | None, documento: str) -> User:
        user = self.user(usuario)
        if (user.nome, user.email, user.documento) != (nome, email, documento):
            user.nome, user.email, user.documento = nome, email, documento
            self.wrote(usuario, "atualizar")
        return user

    # -- entitlements ------------------------------------------------------------------------

    def grant(
        self, usuario: str, produto: str, data_expiracao: str | None, servico: int | None
    ) -> Entitlement:
        """Grant a product; a cancelled grant of it is reactivated with the new data."""
        user = self.user(usuario)
        self._check_product(produto)
        data = data_expiracao or default_expiry(self.clock)
        current = user.produtos.get(produto)
        if current is not None and current.status != "cancelado":
            message = f"Produto {produto} já vinculado ao usuário {usuario}."
            raise ApiError(409, "produto_ja_vinculado", message)
        operation = "reativar" if current is not None else "vincular"
        granted = Entitlement(produto, "ativo", data, servico)
        user.produtos[produto] = granted
        self.wrote(f"{usuario}/{produto}", operation)
        return granted

    def change(
        self, usuario: str, produto: str, *, status: str | None = None,
        data_expiracao: str | None = None, servico: Any = KEEP,
    ) -> Entitlement:
        """Change an entitlement's status, expiry or client service; a cancelled one is final
        (grant it again to reactivate it)."""
        item = self.entitlement(usuario, produto)
        if item.status == "cancelado":
            message = f"Produto {produto} do usuário {usuario} está cancelado."
            raise ApiError(409, "produto_cancelado", message)
        key = f"{usuario}/{produto}"
        if status is not None and status != item.status:
            item.status = status
            self.wrote(key, "ativar" if status == "ativo" else "suspender")
        changed = data_expiracao is not None and data_expiracao != item.data_expiracao
        if data_expiracao is not None:
            item.data_expiracao = data_expiracao
        if servico is not KEEP and servico != item.id_cliente_servico:
            item.id_cliente_servico, changed = servico, True
        if changed:
            self.wrote(key, "alterar")
        return item

    def cancel(self, usuario: str, produto: str) -> Entitlement:
        """Cancel an entitlement (kept in the listing); cancelling again changes nothing."""
        item = self.entitlement(usuario, produto)
        if item.status != "cancelado":
            item.status = "cancelado"
            self.wrote(f"{usuario}/{produto}", "cancelar")
        return item

    # -- helpers -----------------------------------------------------------------------------

    def _check_product(self, produto: str) -> None:
        if produto not in self.active_codes():
            valid = ", ".join(self.active_codes()) or "nenhum"
            message = f"Produto {produto} inexistente ou inativo. Produtos válidos: {valid}."
            raise ApiError(422, "produto_inexistente", message)


class StoreClock:
    """The store's clock, read at each call, so replacing ``store.clock`` moves tokens too."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def now(self) -> float:
        return self.store.clock.now()


def catalog(items: Any) -> list[dict[str, Any]]:
    """A whole product catalog, checked: a list of distinct products."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ValueError("products must be a list of {codigo, nome, ativo}")
    checked = [product(item) for item in items]
    codes = [p["codigo"] for p in checked]
    if len(set(codes)) != len(codes):
        raise ValueError("product codes must be distinct")
    return checked


def product(item: Any) -> dict[str, Any]:
    """One catalog entry ``{codigo, nome, ativo}``, checked (ValueError says what is wrong)."""
    if not isinstance(item, Mapping):
        raise ValueError("each product must be an object {codigo, nome, ativo}")
    codigo, nome, ativo = item.get("codigo"), item.get("nome"), item.get("ativo", True)
    if not isinstance(codigo, str) or not CODE.match(codigo):
        raise ValueError(f"product codigo {codigo!r} must be text without '/' or spaces")
    if not isinstance(nome, str) or not nome.strip():
        raise ValueError(f"product {codigo!r} needs a nome")
    if not isinstance(ativo, bool):
        raise ValueError(f"product {codigo!r}: ativo must be true or false")
    return {"codigo": codigo, "nome": nome, "ativo": ativo}
