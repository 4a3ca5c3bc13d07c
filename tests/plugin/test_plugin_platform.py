"""A platform from a package of its own, registered through the ``reconciler.providers``
entry point, validates, plans, applies, drifts and appears in the schema, with no edit of
the core. The test installs `toy_directory` as a plugin by writing its distribution metadata
(``*.dist-info/entry_points.txt``) into a directory on the path, as pip would."""

from __future__ import annotations

import importlib
import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.errors import SpecError
from reconciler.platforms import registry
from reconciler.specs import load_specs
from tests.e2e.conftest import Cli, child_env

ENTRY_POINT = "toy-directory = tests.plugin.toy_directory:PLATFORM"

SPECS = textwrap.dedent("""\
    integrations:
      toy:
        platform: toy-directory
        endpoint: embedded
        credentials: {api_key: "${env:TOY_KEY}"}
        options: {page_size: 2}
    clients:
      - document: "529.982.247-25"
        name: Maria Silva
        services:
          - {id: 1001, status: active}
          - {id: 1002, status: active}
      - document: "111.444.777-35"
        name: Loja Exemplo
        services:
          - {id: 1003, status: active}
          - {id: 1004, status: cancelled}
    """)


def install(site: Path) -> Path:
    """The plugin's distribution metadata under ``site``, as an installed package has it."""
    info = site / "toy_directory-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-directory\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[reconciler.providers]\n{ENTRY_POINT}\n")
    return site


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plugin installed in this process; the registry forgets it afterwards."""
    site = install(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    registry.reset()
    yield site
    registry.reset()


def write_specs(root: Path, text: str = SPECS) -> Path:
    specs = root / "specs"
    specs.mkdir(exist_ok=True)
    (specs / "all.yaml").write_text(text)
    return specs


def test_the_registry_finds_the_plugin_beside_the_built_in_platforms(plugin: Path) -> None:
    assert registry.names() == ("saperx-stfc", "qualifica", "campsoft", "saperx-v2", "ozmap", "geosite",
                                "toy-directory")
    toy = registry.get("toy-directory")
    assert toy.credentials == ("api_key",)
    assert registry.kind("entry") is toy.kinds[0]


def test_the_plugins_options_are_validated_by_its_own_model(plugin: Path, tmp_path: Path) -> None:
    specs = load_specs(write_specs(tmp_path))
    assert specs.integrations["toy"].options == {"page_size": 2, "prefix": "svc"}
    write_specs(tmp_path, SPECS.replace("page_size: 2", "page_size: 0, colour: red"))
    with pytest.raises(SpecError) as caught:
        load_specs(tmp_path / "specs")
    said = sorted(i.message for i in caught.value.issues)
    assert said == ["'page_size' must be at least 1", "unknown key 'colour'"]


def test_without_the_plugin_the_platform_is_unknown(tmp_path: Path) -> None:
    registry.reset()
    with pytest.raises(SpecError) as caught:
        load_specs(write_specs(tmp_path))
    assert "unknown platform 'toy-directory'" in str(caught.value)


def test_a_broken_plugin_is_a_clear_error_not_a_traceback(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    info = site / "broken-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[reconciler.providers]\nbroken = no_such_module:X\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    registry.reset()
    try:
        with pytest.raises(Exception, match=r"platform plugin 'broken'.*cannot be loaded"):
            registry.names()
    finally:
        registry.reset()


@pytest.mark.e2e
def test_the_plugin_platform_plans_applies_and_drifts_end_to_end(tmp_path: Path) -> None:
    site = install(tmp_path / "site")
    env = child_env(TOY_KEY="toy-secret-1", NO_COLOR="1", COLUMNS="200")
    env["PYTHONPATH"] = os.pathsep.join((str(site), env["PYTHONPATH"]))
    cli = Cli(tmp_path, env)
    write_specs(tmp_path)
    cli("validate", check=0)
    assert '"toy-directory"' in cli("schema", check=0).stdout

    first = cli("plan", "--detailed-exitcode", check=2).stdout
    for key in ("svc-1001", "svc-1002", "svc-1003"):
        assert f'toy.entry["{key}"]' in first
    assert "svc-1004" not in first  # a cancelled service holds no entry
    assert "create directory entry" in first  # the plugin's own words for its changes
    cli("apply", "--auto-approve", check=0)
    cli("plan", "--detailed-exitcode", check=0)
    data = json.loads((tmp_path / "state" / "embedded" / "toy-directory" / "toy.json").read_text())
    assert sorted(data["entries"]) == ["svc-1001", "svc-1002", "svc-1003"]
    assert data["entries"]["svc-1001"]["name"] == "Maria Silva"

    write_specs(tmp_path, SPECS.replace("{id: 1002, status: active}", "{id: 1002, status: suspended}")
                .replace("{id: 1003, status: active}", "{id: 1003, status: cancelled}"))
    second = cli("plan", "--detailed-exitcode", check=2).stdout
    assert 'toy.entry["svc-1002"]' in second and "changed: status" in second
    assert 'toy.entry["svc-1003"]' in second and "no longer declared" in second
    cli("apply", "--auto-approve", check=0)
    data = json.loads((tmp_path / "state" / "embedded" / "toy-directory" / "toy.json").read_text())
    assert sorted(data["entries"]) == ["svc-1001", "svc-1002"]
    assert data["entries"]["svc-1002"]["status"] == "suspended"
    cli("drift", check=0)
    cli("plan", "--detailed-exitcode", check=0)
    state = (tmp_path / "state" / "reconciler.db").read_bytes()
    assert b"Maria Silva" in state and b"toy-secret-1" not in state  # the key never reaches it
