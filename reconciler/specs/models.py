"""The spec language as pydantic models, and plain-English explanations of their errors.

The models check each value on its own (types, formats, check digits, allowed keys); rules that
relate values to each other (references, overlaps, uniqueness) live in :mod:`.validate`. Every
model forbids unknown keys, because a misspelt key silently ignored is a setting silently lost.
Numbers are coerced to text where text is expected (``plan: 500``, ``number: 1130001001``), since
YAML turns unquoted digits into integers.

Each model keeps where it was declared in a private ``_where`` attribute, set by the validator
once the model is built, so that later errors and ``Desired`` sources can point back to the file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from reconciler.bounds import MAX_EMAIL, MAX_NAME, MAX_TEXT, MAX_ZONE, clip
from reconciler.errors import SpecIssue
from reconciler.model import Source
from reconciler.platforms import registry
from reconciler.schedule.cron import cron_problem, zone_problem
from reconciler.sources import registry as erps
from reconciler.specs import brazil
from reconciler.specs.yaml_loader import Where

NAME_PATTERN = re.compile(rf"[a-z][a-z0-9-]{{0,{MAX_NAME - 1}}}")
SECRET_REF = re.compile(r"\$\{(?P<scheme>[a-z]+):(?P<name>[^}]*)\}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SECRET_WORDS = ("token", "secret", "password", "key")
EMAIL = re.compile(r"[^@\s]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def spec_error(message: str, hint: str = "", at: str | None = None) -> PydanticCustomError:
    """A validation error whose message and hint are ours; ``at`` names a key below the value."""
    context: dict[str, Any] = {"message": message, "hint": hint}
    if at is not None:
        context["at"] = at
    return PydanticCustomError("spec", "{message}", context)


class SpecModel(BaseModel):
    """Base of every spec model: strict about keys, immutable, and aware of its position."""

    # Every string is bounded before a validator or another library sees it (docs/specs.md).
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True,
                              str_max_length=MAX_TEXT)
    _where: Where | None = PrivateAttr(default=None)

    @property
    def where(self) -> Where:
        # Read from pydantic's private storage directly: attribute lookup of a private
        # attribute goes through BaseModel.__getattr__, which costs seconds on 100,000 services.
        where: Where | None = self.__pydantic_private__["_where"]  # type: ignore[index]
        assert where is not None, "spec models get their position when validated"
        return where

    def place(self, where: Where) -> None:
        """Record where this model was declared (it is otherwise immutable)."""
        self.__pydantic_private__["_where"] = where  # type: ignore[index]

    @property
    def source(self) -> Source:
        return self.where.source()


# --- single values -----------------------------------------------------------------------------


def _brazilian(normalise: Callable[[str], str]) -> Callable[[str], str]:
    """Turn a :mod:`brazil` normaliser into a pydantic validator with our message and hint."""

    def check(value: str) -> str:
        try:
            return normalise(value)
        except brazil.Invalid as exc:
            raise spec_error(exc.message, exc.hint) from None

    return check


def _document_from_int(value: Any) -> Any:
    """Unquoted digits reach us as an int; accept it only when no leading zero can have been lost."""
    if not isinstance(value, int) or isinstance(value, bool):
        return value
    if len(str(value)) not in (11, 14):
        raise spec_error(
            "this document was read as a number and may have lost its leading zeros",
            'quote it: document: "012.345.678-90"',
        )
    return str(value)


def _check_area_code(value: int) -> int:
    try:
        brazil.check_area_code(value)
    except brazil.Invalid as exc:
        raise spec_error(exc.message, exc.hint) from None
    return value


def _check_country_code(value: int) -> int:
    if value != brazil.COUNTRY_CODE:
        raise spec_error(f"country code {value} is not supported", "only Brazil (55) is supported")
    return value


def _check_email(value: str) -> str:
    if not EMAIL.fullmatch(value):
        raise spec_error("this is not an e-mail address", "write it as name@example.com")
    return value


def _check_endpoint(value: str) -> str:
    if value == "embedded" or _is_http_url(value):
        return value
    raise spec_error(
        "must be 'embedded' or an http(s) URL",
        "for example https://10.20.0.5:8443 (the platform's IP and port), or embedded",
    )


def _is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and value.isprintable()
        and " " not in value
    )


NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
DocumentNumber = Annotated[
    str, BeforeValidator(_document_from_int), AfterValidator(_brazilian(brazil.normalise_document))
]
Phone = Annotated[str, AfterValidator(_brazilian(brazil.normalise_phone))]
FixedLine = Annotated[str, AfterValidator(_brazilian(brazil.normalise_fixed_line))]
Subscriber = Annotated[str, AfterValidator(_brazilian(brazil.subscriber_number))]
AreaCode = Annotated[int, AfterValidator(_check_area_code)]
CountryCode = Annotated[int, AfterValidator(_check_country_code)]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_EMAIL),
                  AfterValidator(_check_email)]
Endpoint = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_check_endpoint)]


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot name an integration or range, or None when it can."""
    if isinstance(name, str) and NAME_PATTERN.fullmatch(name):
        return None
    return f"'{clip(str(name), 80)}' is not a valid name"


NAME_HINT = (f"use lowercase letters, digits and dashes, starting with a letter, at most {MAX_NAME} "
             "characters (e.g. stfc-sp)")


def is_secret_field(field: str) -> bool:
    """Whether a credential field holds a secret, judged by its name (token, api_key...)."""
    lowered = field.lower()
    return any(word in lowered for word in SECRET_WORDS)


# --- integrations ------------------------------------------------------------------------------


class RateLimit(SpecModel):
    per_second: float = Field(gt=0, allow_inf_nan=False)
    burst: int = Field(ge=1)


class ContentOptions(SpecModel):
    """Options every platform that sells packages takes (the seeds' switches); a platform's own
    options class extends it (platforms/qualifica/spec.py)."""

    page_size: int = Field(500, ge=1, le=1000)
    concurrency: int = Field(4, ge=1, le=32)
    # The seeds' "Habilitar/Suspender" switch: off, a suspended service's subscriptions are left
    # as they are; on, they follow the service (suspended, resumed when it is active again).
    suspend_on_delinquency: bool = Field(False, strict=True)


class IntegrationSpec(SpecModel):
    """One connection to one platform. Options and credentials are checked per platform later."""

    platform: str
    endpoint: Endpoint
    credentials: dict[str, Any]
    environment: Literal["production", "homologation"] = "production"
    rate_limit: RateLimit | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("platform")
    @classmethod
    def _known_platform(cls, value: str) -> str:
        if registry.find(value) is None:
            known = registry.names()
            raise spec_error(f"unknown platform '{clip(value, 80)}'",
                             f"{did_you_mean(value, known)}supported platforms: {', '.join(known)}")
        return value


# --- numbers -----------------------------------------------------------------------------------


class RangeSpec(SpecModel):
    """A block of fixed-line numbers registered on one integration (a single one without last)."""

    integration: NonEmpty
    country_code: CountryCode = brazil.COUNTRY_CODE
    area_code: AreaCode
    first: Subscriber
    last: Subscriber | None = None
    protect: bool = Field(False, strict=True)  # refuse deleting its numbers (see reconciler.safety)
    # What a plan that shrinks the range does with numbers it lets go that client services
    # still hold: refuse (the default), or unlink them through the removal queue, then delete.
    on_remove: Literal["refuse", "unlink"] = "refuse"

    @property
    def first_number(self) -> str:
        """The first number in national form (DDD + 8 digits)."""
        return f"{self.area_code}{self.first}"

    @property
    def last_number(self) -> str:
        return f"{self.area_code}{self.last or self.first}"


# --- clients -----------------------------------------------------------------------------------


class PhoneNumberSpec(SpecModel):
    """A number assigned to a client service, with its platform plan and parameters."""

    integration: NonEmpty
    number: FixedLine
    plan: NonEmpty
    params: dict[str, str] = Field(default_factory=dict)
    protect: bool = Field(False, strict=True)  # refuse unlinking it (see reconciler.safety)

    @field_validator("params")
    @classmethod
    def _invoice_number(cls, params: dict[str, str]) -> dict[str, str]:
        if "numero_telefone_nf" not in params:
            return params
        try:
            phone = brazil.normalise_phone(params["numero_telefone_nf"])
        except brazil.Invalid as exc:
            raise spec_error(exc.message, exc.hint, at="numero_telefone_nf") from None
        return {**params, "numero_telefone_nf": phone}


def _params_as_text(value: Any) -> Any:
    """Package parameters as text: YAML reads 2027-12-31 as a date and 1001 as a number."""
    if not isinstance(value, dict):
        return value
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in value.items()}


class ServicePackageSpec(SpecModel):
    """A package held by a client service, beyond its plan's defaults (or a default's params)."""

    package: NonEmpty
    params: Annotated[dict[str, NonEmpty], BeforeValidator(_params_as_text)] = Field(
        default_factory=dict
    )


# --- VoIP SIP lines (SaperX v2) -------------------------------------------------------------

SIP_PERMISSIONS = ("LC", "LDN", "LDI", "VC1", "VC2", "VC3")  # the seed's call types
GENERATE = "generate"  # a password the tool generates once and writes to `password_file`
ACCOUNT_CODE = re.compile(r"\d{6}")


def _account_code(value: Any) -> Any:
    """Six digits; unquoted digits reach us as an int, accepted only if no zero was lost."""
    if isinstance(value, int) and not isinstance(value, bool):
        if len(str(value)) != 6:
            raise spec_error("this account code was read as a number and may have lost its "
                             "leading zeros", 'quote it: account_code: "012345"')
        value = str(value)
    if isinstance(value, str) and not ACCOUNT_CODE.fullmatch(value):
        raise spec_error("an account code has exactly 6 digits", 'for example account_code: "483920"')
    return value


class DidSpec(SpecModel):
    """A DID of a SIP line: a number of one of the integration's ranges, with what it costs."""

    number: FixedLine
    monthly_value: Decimal = Field(Decimal("0"), ge=0, max_digits=9, decimal_places=2,
                                   allow_inf_nan=False)  # BRL, billed on the contract
    collect_calls: bool = Field(False, strict=True)  # accepts reverse-charge (a cobrar) calls
    city: NonEmpty | None = None


class SipPermissions(SpecModel):
    """Which call types the line may make (the seed's LC, LDN, LDI, VC1, VC2, VC3)."""

    LC: bool = Field(True, strict=True)  # local fixed
    LDN: bool = Field(True, strict=True)  # national long distance
    LDI: bool = Field(False, strict=True)  # international
    VC1: bool = Field(True, strict=True)  # mobile, local
    VC2: bool = Field(True, strict=True)  # mobile, another area in the state
    VC3: bool = Field(True, strict=True)  # mobile, another state


class SipLineSpec(SpecModel):
    """A SIP extension (ramal SIP) of a client service on a SaperX v2 integration."""

    integration: NonEmpty
    account_code: Annotated[str | None, BeforeValidator(_account_code)] = None  # the platform's when absent
    line_type: Literal["new", "portability"] = "new"
    password: str | None = None  # ${env:NAME}, ${file:PATH} or generate; never a literal
    password_file: NonEmpty | None = None  # where a generated password is written (mode 0600)
    active: bool = Field(True, strict=True)
    call_limit: int = Field(2, ge=1, le=1000)  # simultaneous calls (the platform's channels)
    plan: NonEmpty  # by name, from the integration's synced plan catalog
    international_plan: NonEmpty | None = None
    closing_day: int = Field(1, ge=1, le=28)  # the invoice's closing day
    billing: Literal["prepaid", "postpaid"] = "postpaid"
    route: Literal["SCM", "STFC", "custom"] = "SCM"
    caller_id: FixedLine | None = None  # one of its DIDs; the first DID when absent
    permissions: SipPermissions = SipPermissions.model_validate({})
    dids: list[DidSpec] = Field(min_length=1)

    @field_validator("password")
    @classmethod
    def _password_is_a_reference(cls, value: str | None) -> str | None:
        if value is None or value == GENERATE or SECRET_REF.fullmatch(value):
            return value
        raise spec_error("a literal password is refused",
                         "write ${env:NAME}, ${file:PATH}, or generate (with password_file)")

    @model_validator(mode="after")
    def _consistent(self) -> SipLineSpec:
        if (self.password == GENERATE) != (self.password_file is not None):
            raise spec_error("password: generate needs password_file (where the generated "
                             "password is written), and password_file needs password: generate",
                             "add password_file: secrets/line-1001.txt, or remove it",
                             at="password")
        numbers = [d.number for d in self.dids]
        if self.caller_id is not None and self.caller_id not in numbers:
            raise spec_error(f"caller_id {self.caller_id} is not one of the line's DIDs",
                             f"use one of {', '.join(numbers)}", at="caller_id")
        return self

    @property
    def presented(self) -> str:
        """The number the line presents: its caller_id, else its first DID."""
        return self.caller_id or self.dids[0].number


class PortSpec(SpecModel):
    """The customer port of a mapping platform (OZmap, Geosite) a client service is connected to:
    the element as operators name it on the map, and the port's number on it."""

    integration: NonEmpty
    box: NonEmpty  # the box (CTO) by name, in the integration's project
    splitter: NonEmpty | None = None  # the customer splitter of the box; its only one when absent
    port: int = Field(ge=1, le=1024, strict=True)


class ServiceSpec(SpecModel):
    """A client service (id_cliente_servico) and what hangs off it."""

    id: int = Field(gt=0)
    login: str | None = None
    status: Literal["active", "suspended", "cancelled"]
    plan: NonEmpty | None = None  # an internet plan bundle (combo) under `plans:`
    packages: list[ServicePackageSpec] = Field(default_factory=list)
    exclude_packages: list[NonEmpty] = Field(default_factory=list)  # optional plan defaults
    phone_numbers: list[PhoneNumberSpec] = Field(default_factory=list)
    sip_lines: list[SipLineSpec] = Field(default_factory=list)
    port: PortSpec | None = None  # the mapping platform's customer port it is connected to


class ClientSpec(SpecModel):
    """A client, identified by CPF or CNPJ."""

    document: DocumentNumber
    name: NonEmpty
    email: Email | None = None
    phone: Phone | None = None
    services: list[ServiceSpec] = Field(default_factory=list)


class ServiceDetailsSpec(SpecModel):
    """What the operator declares by hand of a client service whose facts come from elsewhere
    (an ERP export, docs/erp.md): merged into the service with that id, so that an export never
    overwrites it. A field may be given here or on the service, not both; a package given on
    both is one package, with the parameters given here."""

    packages: list[ServicePackageSpec] = Field(default_factory=list)
    exclude_packages: list[NonEmpty] = Field(default_factory=list)
    phone_numbers: list[PhoneNumberSpec] = Field(default_factory=list)
    sip_lines: list[SipLineSpec] = Field(default_factory=list)
    port: PortSpec | None = None


# --- ERP sources -----------------------------------------------------------------------------

MAX_PAGE_SIZE = 5000


def _check_url(value: str) -> str:
    if _is_http_url(value):
        return value
    raise spec_error("must be an http(s) URL", "for example https://api.isp.hubsoft.com.br")


class ErpSourceSpec(SpecModel):
    """An ERP that ``reconcile erp export`` reads: its kind, where it answers, the credentials
    by reference, and how its statuses, plan names and package codes become spec values.
    ``status_mapping`` overrides the kind's documented defaults, status by status; a plan or
    package the ERP names and these maps do not is exported only if a plan bundle or package
    of that very name is declared."""

    kind: str
    url: Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_check_url)]
    credentials: dict[str, Any]
    status_mapping: dict[str, Literal["active", "suspended", "cancelled", "skip", "keep"]] = Field(
        default_factory=dict)
    plans: dict[NonEmpty, NonEmpty] = Field(default_factory=dict)  # ERP plan -> plans: entry
    packages: dict[NonEmpty, NonEmpty] = Field(default_factory=dict)  # ERP code -> packages:
    page_size: int | None = Field(None, ge=1, le=MAX_PAGE_SIZE, strict=True)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if erps.find(value) is None:
            known = erps.names()
            raise spec_error(f"unknown ERP kind '{clip(value, 80)}'",
                             f"{did_you_mean(value, known)}supported ERPs: {', '.join(known)}")
        return value


# --- content: products, packages, plan bundles ----------------------------------------------


class ProductSpec(SpecModel):
    """A product of a content platform, declared where the platform cannot list its own."""

    code: NonEmpty  # pro, premium, or a numeric code
    name: NonEmpty | None = None


class PackageSpec(SpecModel):
    """A content add-on as sold: its price and the platform products it enables."""

    integration: NonEmpty
    name: NonEmpty | None = None
    price: Decimal = Field(ge=0, max_digits=9, decimal_places=2, allow_inf_nan=False)
    products: list[NonEmpty] = Field(min_length=1)


class PlanPackageSpec(SpecModel):
    """A package an internet plan bundle gives its services by default."""

    package: NonEmpty
    mandatory: bool = Field(False, strict=True)


class PlanSpec(SpecModel):
    """An internet plan bundle (combo): the packages its services get by default."""

    name: NonEmpty | None = None
    packages: list[PlanPackageSpec] = Field(default_factory=list)
    lock_packages: bool = Field(False, strict=True)  # the seeds' "Travar Pacotes"


# --- safety limits -----------------------------------------------------------------------------

# The destructive actions a run may be limited in; the others cannot lose a customer's service.
SAFETY_ACTIONS = ("delete", "unlink", "suspend")
SAFETY_DEFAULT = "default"  # the key under `safety:` whose limit applies everywhere
DEFAULT_LIMIT: dict[str, float | int] = {"max_percent": 10.0, "max_count": 200}


class SafetyLimit(SpecModel):
    """How much of one action one run may do on one integration; an absent field is inherited.

    Strict types: a quoted "10" or a true/false here is more likely a mistake than a limit.
    """

    max_percent: float | None = Field(None, ge=0, le=100, allow_inf_nan=False, strict=True)
    max_count: int | None = Field(None, ge=0, strict=True)

    def given(self) -> dict[str, float | int]:
        """The fields written in the spec, as plain numbers."""
        out: dict[str, float | int] = {}
        if self.max_percent is not None:
            out["max_percent"] = float(self.max_percent)
        if self.max_count is not None:
            out["max_count"] = self.max_count
        return out


# --- schedules ---------------------------------------------------------------------------------

SCHEDULE_JOBS = ("drift", "sync", "plan", "cdr-import", "billing")  # the jobs a schedule may run
# Jobs that work on chosen integrations; the others always cover every integration.


def _check_cron(value: str) -> str:
    problem = cron_problem(value)
    if problem is not None:
        raise spec_error(*problem)
    return " ".join(value.split())


def _check_zone(value: str) -> str:
    problem = zone_problem(value)
    if problem is not None:
        raise spec_error(*problem)
    return value


def _integrations_as_list(value: Any) -> Any:
    """``integration: stfc-sp`` and ``integration: [stfc-sp, qualifica]`` alike, as a list."""
    return [value] if isinstance(value, str) else value


class ScheduleSpec(SpecModel):
    """A job run on a timetable by `reconcile schedule run` (once, from cron or CI) or
    `reconcile schedule serve` (always up). A time missed while nothing ran is reported by the
    next run, never silently skipped."""

    cron: Annotated[str, AfterValidator(_check_cron)] = Field(
        description='When the job is due: a five-field cron expression (minute hour day-of-month '
                    'month day-of-week), e.g. "0 3 * * *" for 03:00 every day, or @daily, @hourly.',
        examples=["0 3 * * *", "*/30 8-18 * * mon-fri"],
    )
    run: str = Field(
        description="The job: drift (report what changed behind the tool's back), sync (pull the "
                    "platforms' catalogs into the state), plan (report what apply would do), "
                    "cdr-import (pull the VoIP platforms' call records into the state) or "
                    "billing (the invoice lines of the previous month, of one integration).",
        json_schema_extra={"enum": list(SCHEDULE_JOBS)},
    )
    integration: Annotated[list[NonEmpty] | None, BeforeValidator(
        _integrations_as_list, json_schema_input_type=NonEmpty | list[NonEmpty] | None  # for editors
    )] = Field(
        None,
        description="The integration (or list of integrations) the job works on; every "
                    "integration when absent.",
    )
    timezone: Annotated[str, StringConstraints(max_length=MAX_ZONE), AfterValidator(_check_zone)] = Field(
        "UTC",
        description="The IANA time zone the cron expression is read in (e.g. America/Sao_Paulo); "
                    "UTC when absent.",
    )

    @field_validator("run")
    @classmethod
    def _known_job(cls, value: str) -> str:
        if value in SCHEDULE_JOBS:
            return value
        raise spec_error(f"unknown job '{value}'",
                         f"{did_you_mean(value, SCHEDULE_JOBS)}jobs: {', '.join(SCHEDULE_JOBS)}")


SECTIONS: dict[str, type[SpecModel]] = {
    "integrations": IntegrationSpec,
    "number_ranges": RangeSpec,
    "products": ProductSpec,
    "packages": PackageSpec,
    "plans": PlanSpec,
    "clients": ClientSpec,
    "safety": SafetyLimit,
    "schedules": ScheduleSpec,
    "service_details": ServiceDetailsSpec,
    "erp_sources": ErpSourceSpec,
}


class SpecSet(BaseModel):
    """The whole validated spec set, merged from every file.

    ``integrations[...].options`` hold the platform's options with defaults filled in.
    """

    model_config = ConfigDict(frozen=True)
    integrations: dict[str, IntegrationSpec]
    number_ranges: dict[str, RangeSpec]
    clients: list[ClientSpec]
    products: dict[str, list[ProductSpec]] = {}  # integration -> declared products
    packages: dict[str, PackageSpec] = {}
    plans: dict[str, PlanSpec] = {}
    # Limits as written: ``safety_default`` from `safety.default`, ``safety`` per integration and
    # action; each holds only the fields given (defaults are filled in by ``build_desired``).
    safety_default: dict[str, float | int] = {}
    safety: dict[str, dict[str, dict[str, float | int]]] = {}
    schedules: dict[str, ScheduleSpec] = {}
    erp_sources: dict[str, ErpSourceSpec] = {}
    files: list[str]  # display paths of the files read, in order
    warnings: list[SpecIssue] = []  # doubts that do not make the specs invalid
    digest: str  # sha256 of the files read (see yaml_loader)


# --- explaining pydantic errors ----------------------------------------------------------------

_EXPECTED = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "list_type": "a list",
}
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


@dataclass(frozen=True)
class Explained:
    """A pydantic error in our words, and where it points (relative to the validated value)."""

    path: tuple[str | int, ...]
    message: str
    hint: str = ""
    at_key: bool = False


def explain(error: ErrorDetails, model: type[BaseModel]) -> Explained:
    """Translate one pydantic error about ``model`` into a message a user can act on."""
    kind, loc, ctx = error["type"], tuple(error["loc"]), error.get("ctx") or {}
    if kind == "spec":
        path = loc + ((ctx["at"],) if "at" in ctx else ())
        sep = " " if ctx["message"].startswith("must ") else ": "
        return Explained(path, f"{_label(path)}{sep}{ctx['message']}", ctx.get("hint", ""))
    if kind == "missing":
        return Explained(loc, f"missing required key '{loc[-1]}'", f"add {loc[-1]}: ...", at_key=True)
    if kind == "extra_forbidden":
        return Explained(loc, f"unknown key '{loc[-1]}'", _allowed_hint(model, loc), at_key=True)
    return Explained(loc, f"{_label(loc)} {_constraint(kind, ctx, error)}", _shown(error["input"], loc))


def _label(loc: tuple[str | int, ...]) -> str:
    names = [part for part in loc if isinstance(part, str)]
    return f"'{names[-1]}'" if names else "this entry"


def _constraint(kind: str, ctx: dict[str, Any], error: ErrorDetails) -> str:
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, not {_describe(error['input'])}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        bound = ctx[key]
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)  # "at most 100", not "at most 100.0", for a float field
        return f"must be {words} {bound}"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']:,} characters long"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"must list at least {n} item{'s' if n != 1 else ''}"
    if kind == "decimal_max_places":
        return f"must have at most {ctx['decimal_places']} decimal places"
    if kind == "decimal_max_digits":
        return f"must have at most {ctx['max_digits']} digits"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"].lower()


def _describe(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | dict):
        return "a list" if isinstance(value, list) else "a mapping"
    return f"a {type(value).__name__}"  # a date: YAML reads 2024-01-31 as one


def _shown(value: object, loc: tuple[str | int, ...]) -> str:
    """A hint quoting the value given, unless it could be a secret."""
    secret = any(isinstance(p, str) and (p == "credentials" or is_secret_field(p)) for p in loc)
    if secret or not isinstance(value, str | int | float) or len(str(value)) > 60:
        return ""
    return f"the value given was {value!r}"


def _allowed_hint(model: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    """Which keys are allowed where an unknown one was found, with a close match first."""
    owner = model_at(model, loc[:-1])
    if owner is None:
        return ""
    allowed = list(owner.model_fields)
    return f"{did_you_mean(loc[-1], allowed)}allowed keys here: {', '.join(allowed)}"


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """"did you mean 'x'? " for the choice closest to ``word``, or nothing when none is close."""
    text = str(word)
    if len(text) > MAX_NAME * 2:
        return ""  # nothing that long is a typo of a name
    close = difflib.get_close_matches(text, list(choices), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def choices_hint(word: object, choices: Sequence[str], listed: str = "declared") -> str:
    """"did you mean 'x'? declared plans: a, b" (``listed`` names the list): the hint of every
    reference to something the specs do not declare."""
    return did_you_mean(word, choices) + f"{listed}: {', '.join(choices) or 'none'}"


def model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class found at ``loc`` below ``model`` (through lists, dicts and Optional)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            current = field.annotation if field is not None else None
        elif get_origin(current) in (list, dict):
            current = get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` as ``X``."""
    while get_origin(tp) in (Union, Annotated) or type(tp).__name__ == "UnionType":
        args = [a for a in get_args(tp) if a is not type(None)]
        tp = args[0]
    return tp
