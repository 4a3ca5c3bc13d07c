"""The JSON Schema (draft 2020-12) of one spec file, generated from the spec models.

Editors (VS Code's YAML extension, any client of yaml-language-server) read it to complete keys,
show each field's meaning and flag mistakes as the operator types. It is generated, never written
by hand, so it cannot drift from the language: the sections come from :data:`models.SECTIONS`,
each entry's shape from its pydantic model, the per-platform options and credentials from
:data:`models.PLATFORMS`. A section added to ``SECTIONS`` appears here with no change.

The schema is for editors; ``reconcile validate`` stays the judge. What the models check in
Python only (CPF/CNPJ check digits, the list of area codes in service, overlapping ranges,
references between entries) becomes a *shape* here: a pattern or a numeric range that catches
typos without repeating the rule. Where Python is lax in ways an editor should not copy (it
accepts ``yes`` for a boolean), the schema keeps to the documented form.

Why the generator is customised rather than post-processing alone:

- every spec model coerces numbers to text (YAML reads ``first: 30001000`` as an integer), so a
  text field accepts a number too;
- the annotated types of :mod:`.models` (``DocumentNumber``, ``Endpoint``...) validate with
  functions the default generator cannot see; :data:`SHAPES` gives each one its JSON shape,
  found by the identity of its validator function;
- field descriptions come from ``Field(description=...)`` or, failing that, from the comment the
  model's source puts on or above the field, so the developer's one explanation serves both.

A shape may carry ``errorMessage`` / ``patternErrorMessage``: keywords yaml-language-server (and
VS Code's JSON service) show instead of "String does not match the pattern of ^\\$\\{...". Other
validators ignore them, as draft 2020-12 allows.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import re
import textwrap
import tokenize
from collections.abc import Callable
from functools import cache
from typing import Any, get_args

from pydantic import AfterValidator, BaseModel
from pydantic.json_schema import DefsRef, GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from reconciler.platforms import Platform, registry
from reconciler.specs import brazil, models
from reconciler.specs.models import (
    EMAIL,
    ENV_NAME,
    NAME_HINT,
    NAME_PATTERN,
    SAFETY_ACTIONS,
    SAFETY_DEFAULT,
    SECTIONS,
    IntegrationSpec,
    ServicePackageSpec,
    SpecModel,
    is_secret_field,
)
from reconciler.specs.validate import REF_HINT

DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: Where the repository keeps the generated schema (relative to its root); the spec files'
#: ``# yaml-language-server: $schema=...`` comments point at it.
SCHEMA_FILE = "docs/schema/reconcile-specs.schema.json"
MODELINE = "# yaml-language-server: $schema="

# --- shapes of values the models check in Python -----------------------------------------------

_SEP = r"[\s./()-]*"  # the punctuation brazil.digits_of drops
_NAME = {"pattern": f"^{NAME_PATTERN.pattern}$", "patternErrorMessage": f"Not a valid name: {NAME_HINT}."}
_ENV = ENV_NAME.pattern
#: A secret reference as credential_problem accepts it: ${env:NAME} or ${file:PATH}.
SECRET_REF_PATTERN = rf"^\$\{{(?:env:{_ENV}|file:[^}}]*[^}}\s][^}}]*)\}}$"


def _digits(count: str) -> str:
    """A run of ``count`` digits (a regex quantifier body) with punctuation anywhere."""
    return f"(?:{_SEP}\\d){{{count}}}{_SEP}"


def _explained(message: str, shape: JsonSchemaValue) -> JsonSchemaValue:
    """``shape`` whose failures an editor reports as ``message`` (each alternative too, since an
    editor reports the alternative that came closest)."""
    for option in [shape, *shape.get("anyOf", [])]:
        option["errorMessage"] = message
    return shape


#: The JSON shape of each annotated type of the spec language, by the type itself. A number is
#: accepted where the model coerces it to text; the rule itself stays in Python.
SHAPES: dict[Any, JsonSchemaValue] = {
    models.DocumentNumber: _explained("A CPF has 11 digits and a CNPJ 14 (punctuation allowed).", {
        "anyOf": [
            {"type": "string", "pattern": f"^\\s*{_digits('11')}(?:{_digits('3')})?\\s*$"},
            {"type": "integer", "minimum": 10**10, "maximum": 10**11 - 1},
            {"type": "integer", "minimum": 10**13, "maximum": 10**14 - 1},
        ],
        "description": "CPF (11 digits) or CNPJ (14 digits), punctuated or not; quote it when it "
                       "starts with 0. `reconcile validate` checks the check digits.",
        "examples": ["526.018.159-06", "75.749.118/0001-16"],
    }),
    models.Phone: _explained("A phone is the area code + 8 digits (fixed) or + 9 digits (mobile), "
                             "e.g. (11) 98765-4321.", {
        "type": ["string", "integer"],
        "pattern": f"^\\s*\\+?{_digits('10,13')}$",
        "description": "A Brazilian phone with its area code, fixed (10 digits) or mobile "
                       "(11 digits), optionally with +55.",
        "examples": ["(11) 98765-4321", "+55 11 3333-4444"],
    }),
    models.FixedLine: _explained("A fixed-line number is the area code + 8 digits, e.g. 1130001001.", {
        "type": ["string", "integer"],
        "pattern": f"^\\s*\\+?{_digits('10,12')}$",
        "description": "A fixed-line number: area code (DDD) + 8 digits starting with 2 to 5.",
        "examples": ["1130001001", "(11) 3000-1001"],
    }),
    models.Subscriber: _explained("8 digits starting with 2 to 5, without the area code, e.g. "
                                  "30001000.", {
        "anyOf": [
            {"type": "string", "pattern": f"^{_SEP}[2-5]{_digits('7')}$"},
            {"type": "integer", "minimum": 20_000_000, "maximum": 59_999_999},
        ],
        "description": "The 8-digit subscriber number, without the area code, starting with "
                       "2 to 5.",
        "examples": [30001000],
    }),
    models.AreaCode: {
        "type": "integer",
        "minimum": min(brazil.DDDS),
        "maximum": max(brazil.DDDS),
        "description": "The area code (DDD); `reconcile validate` checks it is one of the "
                       f"{len(brazil.DDDS)} in service.",
        "examples": [11, 48],
    },
    models.CountryCode: {"const": brazil.COUNTRY_CODE, "description": "Only Brazil (55)."},
    models.Email: {"type": "string", "pattern": f"^\\s*{EMAIL.pattern}\\s*$",
                   "patternErrorMessage": "Not an e-mail address: write it as name@example.com.",
                   "examples": ["name@example.com.br"]},
    models.Endpoint: {
        "type": "string",
        "pattern": r"^\s*(?:embedded|https?://[^\s/?#]+\S*)\s*$",
        "patternErrorMessage": "Must be embedded or an http(s) URL, e.g. https://10.20.0.5:8443.",
        "description": "`embedded` (an in-process simulator, for demos and tests) or the "
                       "platform's http(s) URL.",
        "examples": ["embedded", "https://10.20.0.5:8443"],
    },
}

@cache
def _shape_by_validator() -> dict[Callable[..., Any], JsonSchemaValue]:
    """:data:`SHAPES` keyed by the after-validator function each annotated type carries."""
    found: dict[Callable[..., Any], JsonSchemaValue] = {}
    for annotated, shape in SHAPES.items():
        for meta in get_args(annotated)[1:]:
            if isinstance(meta, AfterValidator):
                found[meta.func] = shape
    return found


# --- descriptions from the models' source --------------------------------------------------------

_NOT_PROSE = re.compile(r"^(?:type:|noqa|fmt:|pragma)")
_CODE_REFERENCE = re.compile(r"\s*\(see reconciler\.[^)]*\)")


@cache
def field_comments(cls: type) -> dict[str, str]:
    """The comment explaining each field of ``cls`` (and its bases): the one at the end of the
    field's line, else the comment lines right above it. Pragmas are not explanations."""
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass is object or not issubclass(klass, SpecModel) or klass is SpecModel:
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        found.update(_comments_in(textwrap.dedent(source)))
    return found


def _comments_in(source: str) -> dict[str, str]:
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comment = token.string.lstrip("#").strip()
            if not _NOT_PROSE.match(comment):
                comments[token.start[0]] = comment
    lines = source.splitlines()
    found: dict[str, str] = {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    for node in body.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        text = comments.get(node.lineno)
        if text is None:  # the comment block right above, if any
            above: list[str] = []
            line = node.lineno - 1
            while line in comments and lines[line - 1].lstrip().startswith("#"):
                above.insert(0, comments[line])
                line -= 1
            text = " ".join(above) or None
        if text:
            found[node.target.id] = _sentence(_CODE_REFERENCE.sub("", text))
    return found


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", ")")) else ".")


# --- the generator ---------------------------------------------------------------------------


class SpecJsonSchema(GenerateJsonSchema):
    """pydantic's generator, taught the spec language's coercions, shapes and descriptions."""

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        # Every spec model sets coerce_numbers_to_str: `plan: 500` is the text "500".
        shape = super().str_schema(schema)
        if not schema.get("strict"):
            shape["type"] = ["string", "number"]
        return shape

    def function_after_schema(self, schema: core_schema.AfterValidatorFunctionSchema) -> JsonSchemaValue:
        function = schema["function"]["function"]
        shape = _shape_by_validator().get(function)
        if shape is not None:
            return json.loads(json.dumps(shape))  # a copy: the generator may edit it
        return super().function_after_schema(schema)

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        # A price as a number, or quoted ("9.90"): pydantic's text form has no pattern.
        shape = super().decimal_schema(schema)
        places = schema.get("decimal_places")
        ge = schema.get("ge")
        sign = "" if ge is not None and ge >= 0 else "-?"
        pattern = f"^{sign}\\d+(?:\\.\\d{{1,{places}}})?$" if places else f"^{sign}\\d+(?:\\.\\d+)?$"
        for option in shape.get("anyOf", [shape]):
            if option.get("type") == "string":
                option.setdefault("pattern", pattern)
        return shape

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        shape = super().model_schema(schema)
        target = shape if "properties" in shape else self.definitions.get(DefsRef(_ref_name(shape)), {})
        if "description" in target:  # a docstring's line breaks are not the reader's
            target["description"] = " ".join(target["description"].split())
        model: type = schema["cls"]  # type[Any], which mypy does not take as Hashable for the cache
        comments = field_comments(model)
        for name, prop in target.get("properties", {}).items():
            _lift_description(prop)
            if "description" not in prop and name in comments:
                prop["description"] = comments[name]
        return shape


def _lift_description(prop: JsonSchemaValue) -> None:
    """An optional field's shape sits in ``anyOf: [shape, null]``; editors show the description
    of the property itself, so the shape's description moves up."""
    options = prop.get("anyOf", [])
    if "description" in prop or len(options) != 2 or {"type": "null"} not in options:
        return
    value = next(option for option in options if option != {"type": "null"})
    for key in ("description", "examples"):
        if key in value:
            prop[key] = value.pop(key)


def _ref_name(shape: JsonSchemaValue) -> str:
    return str(shape.get("$ref", "")).rsplit("/", 1)[-1]


# --- assembling one spec file's schema ---------------------------------------------------------


def spec_schema() -> dict[str, Any]:
    """The JSON Schema of one spec file: any subset of the top-level sections, each entry
    checked by its model, integrations checked per platform."""
    platforms = registry.every()
    options = {p.name: p.options for p in platforms}
    wanted: list[type[BaseModel]] = list(dict.fromkeys([*SECTIONS.values(), *options.values()]))
    refs, top = models_json_schema(
        [(model, "validation") for model in wanted],
        schema_generator=SpecJsonSchema,
        ref_template="#/$defs/{model}",
    )
    defs: dict[str, Any] = top["$defs"]

    def ref(model: type[BaseModel]) -> dict[str, str]:
        return dict(refs[(model, "validation")])

    _integration_per_platform(defs, _ref_name(ref(IntegrationSpec)), platforms,
                              {p: ref(m) for p, m in options.items()})
    _package_params(defs[ServicePackageSpec.__name__], platforms)  # nested: named after its class
    sections = {name: _section(name, model, ref(model)) for name, model in SECTIONS.items()}
    return {
        "$schema": DIALECT,
        "title": "reconcile spec file",
        "description": (
            "One YAML file of a reconcile spec set. A spec set is every *.yaml file under the "
            "specs directory, merged; each file holds some of the top-level sections. Generated "
            "by `reconcile schema` from the spec models: `reconcile validate` remains the judge "
            "(check digits, references across files, overlapping ranges)."
        ),
        "type": ["object", "null"],
        "properties": sections,
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }


def _section(name: str, model: type[BaseModel], entry: dict[str, Any]) -> dict[str, Any]:
    """A top-level section, keyed as the validator reads it. Sections with a layout of their
    own are named in :data:`_LAYOUTS`; every other one is a mapping of names to entries."""
    layout = _LAYOUTS.get(name, _named)
    shape = layout(entry)
    doc = inspect.getdoc(model) or ""
    summary = doc.split("\n\n", 1)[0].replace("\n", " ")
    shape["description"] = f"{_LAYOUT_WORDS.get(name, 'A mapping of names to entries')}; " \
                           f"each entry: {summary[:1].lower()}{summary[1:]}"
    return shape


def _named(entry: dict[str, Any]) -> dict[str, Any]:
    """Names (lowercase letters, digits, dashes) to entries, as integrations and ranges are."""
    return {"type": ["object", "null"], "propertyNames": dict(_NAME), "additionalProperties": entry}


def _clients(entry: dict[str, Any]) -> dict[str, Any]:
    return {"type": ["array", "null"], "items": entry}


def _by_integration(entry: dict[str, Any]) -> dict[str, Any]:
    """Integration names to lists of entries (`products:`)."""
    return {"type": ["object", "null"], "propertyNames": dict(_NAME),
            "additionalProperties": {"type": "array", "items": entry}}


def _by_service(entry: dict[str, Any]) -> dict[str, Any]:
    """Service ids (id_cliente_servico) to entries (`service_details:`)."""
    return {"type": ["object", "null"], "propertyNames": {"pattern": "^[1-9][0-9]*$"},
            "additionalProperties": entry}


def _safety(entry: dict[str, Any]) -> dict[str, Any]:
    """`default:` and integration names, each integration mapping actions to limits."""
    limit = {"anyOf": [entry, {"type": "null"}]}
    actions = {
        "type": "object",
        "description": f"Limits of one integration, by action ({', '.join(SAFETY_ACTIONS)}).",
        "properties": dict.fromkeys(SAFETY_ACTIONS, limit),
        "additionalProperties": False,
    }
    default = dict(limit, description="The limit every integration and action inherits.")
    return {"type": ["object", "null"], "propertyNames": dict(_NAME),
            "properties": {SAFETY_DEFAULT: default}, "additionalProperties": actions}


_LAYOUTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "clients": _clients,
    "products": _by_integration,
    "safety": _safety,
    "service_details": _by_service,
}
_LAYOUT_WORDS = {
    "clients": "A list of clients",
    "products": "Integration names to the products they offer, where the platform cannot list "
                "its own",
    "safety": "Safety limits: `default`, and integration names to limits per action",
    "service_details": "Service ids to what is declared by hand of them",
}


def _integration_per_platform(defs: dict[str, Any], name: str, platforms: tuple[Platform, ...],
                              options: dict[str, dict[str, str]]) -> None:
    """An integration's options and credentials depend on its platform: `if platform is X then`
    options are X's options model and credentials exactly X's keys."""
    integration = defs[name]
    props = integration["properties"]
    props["platform"] = {"enum": [p.name for p in platforms], "description": "Which platform this "
                         "integration talks to; its options and credentials follow from it."}
    props["credentials"] = {"type": "object", "description": "The platform's credentials. A "
                            "secret is never written here: use ${env:NAME} or ${file:PATH}."}
    props["options"] = {"type": "object", "description": "The platform's options."}
    branches = []
    for spec in platforms:
        platform = spec.name
        credentials = f"credentials-{platform}"
        defs[credentials] = _credentials(platform, spec.credentials, spec.credential_choices)
        branches.append({
            "if": {"properties": {"platform": {"const": platform}}, "required": ["platform"]},
            "then": {"properties": {"options": options[platform],
                                    "credentials": {"$ref": f"#/$defs/{credentials}"}}},
        })
    integration["allOf"] = branches


def _credentials(platform: str, keys: tuple[str, ...],
                 choices: tuple[tuple[str, ...], ...] = ()) -> dict[str, Any]:
    """Exactly ``keys`` (or exactly one of the ``choices``); a secret one only as a reference,
    any other as text or a reference."""
    props: dict[str, Any] = {}
    for key in keys:
        if is_secret_field(key):
            props[key] = {"type": "string", "pattern": SECRET_REF_PATTERN,
                          "errorMessage": f"A literal secret is refused: {REF_HINT}.",
                          "description": f"{key}: a secret, so only a reference: ${{env:NAME}} "
                                         "(an environment variable) or ${file:PATH} (a file).",
                          "examples": ["${env:" + f"{platform}_{key}".upper().replace("-", "_") + "}"]}
        else:
            props[key] = {"type": "string",
                          "pattern": f"^(?!\\$\\{{)|{SECRET_REF_PATTERN}",
                          "patternErrorMessage": f"Not a well-formed secret reference: {REF_HINT}.",
                          "description": f"{key}: not a secret; text, or a ${{env:NAME}} / "
                                         "${file:PATH} reference."}
    if choices:
        ways = " or ".join(" and ".join(way) for way in choices)
        return {"type": "object", "title": f"{platform} credentials",
                "description": f"Credentials of a {platform} integration: {ways}.",
                "properties": props, "additionalProperties": False,
                "oneOf": [{"required": list(way), "properties": {
                    k: False for k in keys if k not in way}} for way in choices]}
    return {"type": "object", "title": f"{platform} credentials",
            "description": f"Credentials of a {platform} integration: exactly {', '.join(keys)}.",
            "properties": props, "required": list(keys), "additionalProperties": False}


def _package_params(package: dict[str, Any], platforms: tuple[Platform, ...]) -> None:
    """A held package's parameters: the ones some platform's packages take, each in the shape
    its platform gives. Which platform applies is known only across files, so `validate` checks
    the pairing."""
    shapes: dict[str, Any] = {}
    for platform in platforms:
        for name, shape in platform.package_params.items():
            shapes.setdefault(name, dict(shape))
    params = package["properties"]["params"]
    params["properties"] = shapes
    params["additionalProperties"] = False
    params.setdefault("description", "Parameters of the package on its platform: "
                      + "; ".join(f"{p.name}: {', '.join(p.package_params)}" for p in platforms
                                  if p.package_params) + ".")


def render(schema: dict[str, Any] | None = None) -> str:
    """The schema as the text `reconcile schema` writes: stable key order, a final newline."""
    return json.dumps(schema if schema is not None else spec_schema(), indent=2,
                      ensure_ascii=False) + "\n"
