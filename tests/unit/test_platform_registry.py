"""The platform registry: every built-in platform is one complete descriptor, found by name."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.errors import ReconcilerError
from reconciler.model import Action
from reconciler.platforms import Kind, Platform, registry


@pytest.mark.parametrize("name", list(registry.BUILTIN))
def test_each_built_in_platform_is_one_complete_descriptor(name: str) -> None:
    platform = registry.get(name)
    assert platform.name == name
    assert platform.rules is not None and platform.build is not None
    assert platform.provider_class().platform == name  # the provider it names is its own
    sim = platform.simulator_module()
    assert sim is not None and callable(sim.create_app) and callable(sim.embedded_app)
    for kind in platform.kinds:
        assert registry.kind(kind.name) is kind
    assert set(platform.compared) <= {k.name for k in platform.kinds}  # compares only its kinds


def test_an_unknown_platform_names_the_known_ones() -> None:
    with pytest.raises(ReconcilerError, match="unknown platform 'nope'; known platforms: "
                                              "saperx-stfc, qualifica, campsoft"):
        registry.get("nope")
    assert registry.find("nope") is None


def test_two_platforms_describing_one_kind_differently_are_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    qualifica = registry.get("qualifica")
    other = Kind("subscription", phases={Action.CREATE: 0})
    clash = dataclasses.replace(qualifica, name="clash", kinds=(other,))
    monkeypatch.setattr(registry, "every", lambda: (qualifica, clash))
    registry.kinds.cache_clear()
    try:
        with pytest.raises(ReconcilerError, match="platforms qualifica and clash both hold kind "
                                                  "'subscription' but describe it differently"):
            registry.kinds()
    finally:
        monkeypatch.undo()
        registry.kinds.cache_clear()
    assert registry.kind("subscription") is not other


def test_content_platforms_share_one_subscription_kind() -> None:
    assert registry.get("qualifica").kind("subscription") is registry.get("campsoft").kind(
        "subscription")
    assert registry.cancels("subscription") and not registry.cancels("number")
    assert registry.counted_as("link") == "numbers" and registry.counted_as("user") == "users"


def test_a_platform_descriptor_is_a_value() -> None:
    stfc = registry.get("saperx-stfc")
    assert isinstance(stfc, Platform)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stfc.name = "other"  # type: ignore[misc]
