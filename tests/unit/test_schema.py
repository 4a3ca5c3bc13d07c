"""`reconcile schema`: the JSON Schema editors use, checked against the real spec files.

The schema must accept every spec file the project ships and refuse the mistakes an operator
makes; each broken variant is also fed to `reconcile validate`'s loader, so the schema and the
judge are seen to agree rather than assumed to.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from reconciler.cli import main
from reconciler.errors import SpecError
from reconciler.platforms import registry
from reconciler.specs import load_specs
from reconciler.specs import schema as schema_module
from reconciler.specs.models import SECTIONS, RateLimit
from reconciler.specs.schema import MODELINE, SCHEMA_FILE, render, spec_schema
from reconciler.specs.validate import credential_problem

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / SCHEMA_FILE
REGENERATE = f"reconcile schema --out {SCHEMA_FILE}"


def spec_files() -> list[Path]:
    """Every spec YAML file the project ships: specs/ and examples/, but not the CI templates."""
    found = [*REPO.glob("specs/**/*.yaml"), *REPO.glob("examples/**/*.yaml")]
    return sorted(p for p in found if p.relative_to(REPO).parts[:2] != ("examples", "ci"))


def as_editor_reads(path: Path) -> Any:
    """A YAML file as yaml-language-server sees it (YAML 1.2: a date is text)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return json.loads(json.dumps(data, default=str))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    return Draft202012Validator(spec_schema())


def errors(validator: Draft202012Validator, data: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


# --- the committed schema and the command -------------------------------------------------------


def test_the_committed_schema_is_what_the_command_generates() -> None:
    assert COMMITTED.exists(), f"{SCHEMA_FILE} is missing: run `{REGENERATE}`"
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        f"{SCHEMA_FILE} is stale (the spec models changed): run `{REGENERATE}` and commit it"
    )


def test_the_command_prints_a_valid_draft_2020_12_schema() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    Draft202012Validator.check_schema(printed)
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert sorted(printed["properties"]) == sorted(SECTIONS)


def test_the_installed_command_prints_only_the_schema_on_stdout(tmp_path: Path) -> None:
    """The real entry point in a subprocess, from a directory with no specs or state."""
    run = subprocess.run([sys.executable, "-c", "from reconciler.cli import main; main()", "schema"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout == render() and run.stderr == ""
    Draft202012Validator.check_schema(json.loads(run.stdout))
    assert not (tmp_path / "state").exists()  # it needs no state


def test_out_writes_the_file_and_check_compares_it(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "specs.schema.json"
    written = CliRunner().invoke(main, ["schema", "--out", str(target)])
    assert written.exit_code == 0, written.output
    assert target.read_text(encoding="utf-8") == render()
    assert "Wrote the spec schema" in written.output
    assert CliRunner().invoke(main, ["schema", "--check", str(target)]).exit_code == 0

    target.write_text(render().replace('"title": "reconcile spec file"', '"title": "old"'))
    stale = CliRunner().invoke(main, ["schema", "--check", str(target)])
    assert stale.exit_code == 1
    assert f"regenerate it with `reconcile schema --out {target}`" in stale.output
    assert "Traceback" not in stale.output

    target.write_bytes(b"\xff\xfe not text")
    garbled = CliRunner().invoke(main, ["schema", "--check", str(target)])
    assert garbled.exit_code == 1 and "not UTF-8 text" in garbled.output
    assert garbled.exception is None or isinstance(garbled.exception, SystemExit)


def test_an_unwritable_out_path_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["schema", "--out", str(blocker / "schema.json")])
    assert result.exit_code == 1
    assert "Error: cannot write" in result.output and "choose another --out path" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- the shipped spec files -----------------------------------------------------------------


@pytest.mark.parametrize("path", spec_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_spec_file_validates(validator: Draft202012Validator, path: Path) -> None:
    assert errors(validator, as_editor_reads(path)) == []


@pytest.mark.parametrize("path", spec_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_shipped_spec_file_points_an_editor_at_the_schema(path: Path) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MODELINE), f"{path}: the first line must be `{MODELINE}<path>`"
    target = first.removeprefix(MODELINE).strip()
    assert not os.path.isabs(target), "a relative path works in every checkout"
    assert (path.parent / target).resolve() == COMMITTED.resolve()


def test_spec_files_are_found() -> None:
    names = {p.relative_to(REPO).as_posix() for p in spec_files()}
    assert "specs/integrations.yaml" in names and "examples/telephony-only/numbers.yaml" in names
    assert not any(n.startswith("examples/ci/") for n in names)


# --- broken variants: the schema refuses them, and so does validate ------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: tuple[Any, ...], value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _rename_key(path: tuple[Any, ...], old: str, new: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        node = data
        for key in path:
            node = node[key]
        node[new] = node.pop(old)
    return mutate


BROKEN: dict[str, tuple[str, Mutation]] = {
    "unknown top-level key": ("integrations.yaml", _set(("integration",), {})),
    "unknown key in an integration": ("integrations.yaml",
                                      _set(("integrations", "stfc-sp", "endpont"), "embedded")),
    "unknown key in a service": ("clients/residential.yaml",
                                 _set(("clients", 0, "services", 0, "statuss"), "active")),
    "wrong type: services as a mapping": ("clients/residential.yaml",
                                          _set(("clients", 0, "services"), {"id": 1})),
    "wrong type: price as a word": ("content.yaml", _set(("packages", "livros", "price"), "free")),
    "wrong type: protect as text": ("numbers.yaml", _set(("number_ranges", "sp-sul", "protect"), "yes")),
    "a qualifica option on a saperx-stfc integration": (
        "integrations.yaml", _set(("integrations", "stfc-sp", "options", "user_field"), "email")),
    "an stfc option on a qualifica integration": (
        "integrations.yaml", _set(("integrations", "qualifica", "options", "block_on_suspend"), True)),
    "a literal secret": ("integrations.yaml",
                         _set(("integrations", "stfc-sp", "credentials", "token"), "s3cr3t-t0k3n")),
    "a credential of another platform": (
        "integrations.yaml", _set(("integrations", "stfc-sp", "credentials", "api_key"), "${env:K}")),
    "a missing credential": ("integrations.yaml",
                             lambda d: d["integrations"]["qualifica"]["credentials"].pop("client_id")),
    "an unknown platform": ("integrations.yaml", _set(("integrations", "stfc-sp", "platform"), "saperx")),
    "an endpoint that is no URL": ("integrations.yaml",
                                   _set(("integrations", "stfc-sp", "endpoint"), "ftp://x")),
    "a name with capitals": ("numbers.yaml", _rename_key(("number_ranges",), "sp-sul", "SP-Sul")),
    "an unknown safety action": ("numbers.yaml", _set(("safety",), {"stfc-sp": {"remove": {}}})),
    "a date not written YYYY-MM-DD": (
        "clients/residential.yaml",
        _set(("clients", 1, "services", 0, "packages", 0, "params", "data_expiracao"), "30/06/2027")),
    "a mobile number as a subscriber number": (
        "numbers.yaml", _set(("number_ranges", "sp-sul", "first"), 95500200)),
    "a document of 12 digits": ("clients/business.yaml", _set(("clients", 0, "document"), "123456789012")),
}


@pytest.fixture()
def demo_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the demo specs under specs/ in a scratch directory (relative secret files)."""
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    yield Path("specs")


def test_the_demo_copy_is_valid_before_breaking_it(demo_copy: Path, validator: Draft202012Validator) -> None:
    load_specs(demo_copy)  # the baseline: the broken variants below fail because of their change
    for path in demo_copy.rglob("*.yaml"):
        assert errors(validator, as_editor_reads(path)) == []


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_variant_fails_the_schema_and_validate(
    case: str, demo_copy: Path, validator: Draft202012Validator
) -> None:
    name, mutate = BROKEN[case]
    path = demo_copy / name
    data = copy.deepcopy(yaml.safe_load(path.read_text(encoding="utf-8")))
    mutate(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert errors(validator, as_editor_reads(path)), f"the schema accepted: {case}"
    with pytest.raises(SpecError) as refused:
        load_specs(demo_copy)
    # the baseline above is valid, so validate refuses the change itself: in the changed file
    assert any(Path(issue.file).as_posix().endswith(name) for issue in refused.value.issues), \
        [str(issue) for issue in refused.value.issues]


# --- how the schema is built -----------------------------------------------------------------------


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "properties" in node and node.get("type") in ("object", ["object", "null"]):
            yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def test_every_object_with_known_keys_is_closed() -> None:
    found = list(_objects(spec_schema()))
    assert len(found) > 10
    for node in found:
        assert node.get("additionalProperties") is not None, node.get("title", node)
        if node.get("additionalProperties") is not False:  # a map: names, each value checked
            assert isinstance(node["additionalProperties"], dict)


def test_a_section_added_to_the_language_appears_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SECTIONS, "widgets", RateLimit)
    generated = spec_schema()
    widgets = generated["properties"]["widgets"]
    assert widgets["propertyNames"]["pattern"] == "^[a-z][a-z0-9-]{0,62}$"
    good = {"widgets": {"w-1": {"per_second": 2, "burst": 4}}}
    assert errors(Draft202012Validator(generated), good) == []
    assert errors(Draft202012Validator(generated), {"widgets": {"w-1": {"per_second": 2}}})


def test_options_and_credentials_follow_the_platform(validator: Draft202012Validator) -> None:
    def integration(platform: str, **options: Any) -> dict[str, Any]:
        credentials = dict.fromkeys(registry.get(platform).credentials, "${env:X}")
        return {"integrations": {"i": {"platform": platform, "endpoint": "embedded",
                                        "credentials": credentials, "options": options}}}

    assert errors(validator, integration("qualifica", user_field="cpf_cnpj")) == []
    assert errors(validator, integration("qualifica", user_field="nickname"))
    assert errors(validator, integration("campsoft", user_field="cpf_cnpj"))
    assert errors(validator, integration("campsoft", isp_identifier="isp-1")) == []
    assert errors(validator, integration("saperx-stfc", isp_identifier="isp-1"))
    options = spec_schema()["$defs"]["QualificaOptions"]["properties"]
    assert options["user_field"]["enum"] == ["login_autenticacao", "cpf_cnpj", "email", "id_cliente_servico"]


@pytest.mark.parametrize(("key", "value"), [
    ("token", "${env:SAPERX_STFC_TOKEN}"), ("token", "${file:secrets/stfc.token}"),
    ("token", "${env:1BAD}"), ("token", "${vault:x}"), ("token", "${file: }"), ("token", "${env:X"),
    ("token", "plain-text"), ("client_id", "isp-demo"), ("client_id", "${env:CLIENT_ID}"),
    ("client_id", "${oops}"), ("api_secret", "${file:/run/secrets/campsoft}"),
])
def test_credential_shapes_agree_with_validate(key: str, value: str) -> None:
    platform = next(p.name for p in registry.every() if key in p.credentials)
    shape = spec_schema()["$defs"][f"credentials-{platform}"]["properties"][key]
    accepted = not list(Draft202012Validator(shape).iter_errors(value))
    assert accepted == (credential_problem(key, value) is None), (key, value)


def test_descriptions_come_from_the_models() -> None:
    defs = spec_schema()["$defs"]
    assert "Qualifica" in defs["QualificaOptions"]["properties"]["user_field"]["description"]
    assert defs["RangeSpec"]["description"].startswith("A block of fixed-line numbers")
    assert "reconciler." not in json.dumps(defs)  # no pointers into the code for an operator
    assert "type: ignore" not in json.dumps(defs)


def test_field_comments_read_trailing_and_preceding_comments() -> None:
    comments = schema_module.field_comments(registry.get("qualifica").options)
    assert comments["user_field"].startswith("What identifies the client's user on Qualifica")
    assert comments["suspend_on_delinquency"].startswith("The seeds'")
    stfc = schema_module.field_comments(registry.get("saperx-stfc").options)
    assert stfc["block_on_suspend"] == "A suspended client service blocks its numbers."


def test_schedules_as_the_design_sketch_writes_them(validator: Draft202012Validator) -> None:
    sketch = {"schedules": {"nightly-drift": {"cron": "0 3 * * *", "run": "drift"},
                            "catalog-sync": {"cron": "0 4 * * *", "run": "sync", "integration": "stfc-sp"},
                            "both-sync": {"cron": "@daily", "run": "sync",
                                          "integration": ["stfc-sp", "qualifica"]}}}
    assert errors(validator, sketch) == []
    assert errors(validator, {"schedules": {"nightly": {"cron": "0 3 * * *", "run": "drift", "at": 1}}})
    assert errors(validator, {"schedules": {"nightly": {"cron": "0 3 * * *", "run": "deploy"}}})
