"""What a client service holds on the content platforms, derived from its plan and its packages.

Shared by the validator (which checks it) and :mod:`.desired` (which turns it into resources),
so that both read a service the same way:

* a service on a plan bundle holds the plan's packages, less those in ``exclude_packages``;
* it also holds the packages listed under its own ``packages`` (a plan's package listed there
  again only gives it parameters);
* what a held package becomes on its platform (a Qualifica user, a Campsoft label...) is the
  platform's to say: see ``reconciler/platforms/<platform>/spec.py``.

:func:`password_digest` is the keyed fingerprint of a secret a platform never shows back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.specs.models import PlanSpec, ServiceSpec
from reconciler.specs.yaml_loader import Where

EXTRA = "extra"
PASSWORD_PERSON = b"campsoft-passwd"  # what the fingerprints of Campsoft passwords are for


@dataclass(frozen=True)
class Held:
    """One package a service holds."""

    package: str
    params: Mapping[str, str]
    origin: str  # "plan <name>" when it comes with the plan bundle, else "extra"
    where: Where  # the service's own entry for it, else the service
    mandatory: bool = False


def held_packages(service: ServiceSpec, plans: Mapping[str, PlanSpec]) -> list[Held]:
    """The packages ``service`` holds, plan defaults first, in declaration order."""
    extras = {entry.package: entry for entry in service.packages}
    out: list[Held] = []
    plan = plans.get(service.plan) if service.plan else None
    if plan is not None:
        excluded = set(service.exclude_packages)
        for default in plan.packages:
            if default.package in excluded:
                continue
            own = extras.pop(default.package, None)
            out.append(Held(default.package, own.params if own else {}, f"plan {service.plan}",
                            own.where if own else service.where, default.mandatory))
    out.extend(Held(name, entry.params, EXTRA, entry.where) for name, entry in extras.items())
    return out


def password_digest(key: bytes, rule: str, password: str) -> str:
    """A fingerprint of a password rule and of the password it gives, never the password:
    BLAKE2b keyed by the state's own random key (see ``StateStore.fingerprint_key``), so that
    nobody without the key can test guesses against it; a plain hash of an 11-digit CPF would
    give the CPF back to anyone who tried them all. Keyed BLAKE2b is a MAC by design, as
    HMAC-SHA256 is, in half the time: it runs once per subscription on every plan."""
    message = f"{rule}\0{password}".encode()
    return hashlib.blake2b(message, key=key, digest_size=32, person=PASSWORD_PERSON).hexdigest()
