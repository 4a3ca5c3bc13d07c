"""SaperX v2 for the conformance suite: SIP extensions, a four-credential login for a
short-lived access token renewed by a rotating refresh token."""

from __future__ import annotations

from starlette.applications import Starlette

from reconciler.model import Action, Change
from reconciler.platforms.saperx_v2.sim import create_app
from reconciler.sim.clock import FakeClock
from reconciler.sim.faults import Faults
from tests.contract.platforms import Adapter, logs_in

USERNAME = "conformance-user"
PASSWORD = "conformance-password-9876"
API_KEY = "conformance-v2-key-5678"
API_SECRET = "conformance-v2-secret-1234"
CREDENTIALS = {"username": USERNAME, "password": PASSWORD, "api_key": API_KEY,
               "api_secret": API_SECRET}
AFTER = {"service": 7001, "line_type": "new", "active": True, "blocked": False, "call_limit": 2,
         "plan": "Fixo Local 100", "international_plan": None, "closing_day": 10,
         "billing": "postpaid", "route": "SCM", "caller_id": None,
         "permissions": {"LC": True, "LDN": True, "LDI": False, "VC1": True, "VC2": True,
                         "VC3": True},
         "dids": [], "password": "conformance-sip-secret-42"}


def app(clock: FakeClock, faults: Faults | None) -> Starlette:
    return create_app(API_SECRET, username=USERNAME, password=PASSWORD, api_key=API_KEY,
                      clock=clock, faults=faults)


def seed(app: Starlette, count: int) -> set[str]:
    store = app.state.store
    fields = {"password_sha256": "0" * 64, "active": True, "blocked": False, "call_limit": 1,
              "plan_id": 101, "international_plan_id": None, "closing_day": 5,
              "billing": "prepaid", "route": "STFC", "caller_id": None,
              "permissions": {"LC": True, "LDN": True, "LDI": False, "VC1": True, "VC2": True,
                              "VC3": True},
              "line_type": "new", "dids": []}
    keys = set()
    for n in range(count):
        code = f"{200000 + n}"
        store.create_extension(store.envs["production"], code, {**fields, "contract": 8000 + n})
        keys.add(code)
    return keys


def create(integration: str) -> Change:
    return Change(integration, "extension", Action.CREATE, ("300001",), None, AFTER,
                  reason="conformance")


ADAPTER = Adapter(
    credentials=CREDENTIALS,
    wrong=[{**CREDENTIALS, name: f"wrong-{name}-value"} for name in CREDENTIALS],
    app=app, seed=seed, create=create,
    held=lambda app: len(app.state.store.envs["production"].extensions),
    headers=logs_in("/api/v2/auth/token", dict, "access_token"),
    probe=("GET", "/api/v2/plans"),
    listing=("/api/v2/extensions", [{"page": 0}, {"page": "x"}, {"per_page": 0},
                                    {"per_page": 1001}, {"contract": "x"}]),
    sim_option=("token_ttl", 5.0, lambda app: app.state.tokens.ttl),
    login="/api/v2/auth/token",
    renew="/api/v2/auth/refresh",
    bad_settings=[{"token_ttl": 0}, {"refresh_ttl": "1d"}, {"cdr_max_per_day": 51},
                  {"plans": [{"id": 1, "name": "x"}]},
                  {"international_plans": "a"}, {"token_ttl": 5, "error_rate": 2}],
)
