"""Secret references: resolution, clear errors that never hold a value, and redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import SecretError
from reconciler.model import Integration, SecretRef
from reconciler.secrets import (
    MASK,
    parse_reference,
    redact,
    resolve,
    resolve_credentials,
)


def test_references_parse() -> None:
    assert parse_reference("${env:TOKEN}") == SecretRef("env", "TOKEN")
    assert parse_reference(" ${file:secrets/t} ", "specs") == SecretRef("file", "secrets/t", "specs")
    assert parse_reference("plain-value") is None


def test_env_and_file_resolve_and_are_then_redacted(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNIT_TOKEN", "s3cr3t-env-value")
    (tmp_path / "t").write_text("s3cr3t-file-value\n")
    integration = Integration("i", "saperx-stfc", "embedded", {
        "token": SecretRef("env", "UNIT_TOKEN"), "other": SecretRef("file", "t", str(tmp_path)),
        "username": "isp-api"})
    creds = resolve_credentials(integration)
    assert creds == {"token": "s3cr3t-env-value", "other": "s3cr3t-file-value",
                     "username": "isp-api"}
    text = "sent s3cr3t-env-value and s3cr3t-file-value"
    assert redact(text) == f"sent {MASK} and {MASK}"


def test_missing_variable_and_file_name_the_reference(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_TOKEN", raising=False)
    with pytest.raises(SecretError, match=r"environment variable NOPE_TOKEN is not set"):
        resolve(SecretRef("env", "NOPE_TOKEN"), field="token", integration="stfc")
    with pytest.raises(SecretError, match=r"cannot read secret file .*missing"):
        resolve(SecretRef("file", "missing", str(tmp_path)))
