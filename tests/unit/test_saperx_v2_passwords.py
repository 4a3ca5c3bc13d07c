"""A SIP line's password is resolved or generated only when sent, and never shown."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from reconciler.errors import SecretError
from reconciler.model import Source
from reconciler.platforms.saperx_v2.passwords import LENGTH, password_for
from reconciler.secrets import redact


def test_a_reference_is_resolved_relative_to_the_spec_file(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "line.txt").write_text("from-a-file\n")
    source = Source(str(tmp_path / "clients.yaml"), 3, 5)
    assert password_for({"password_from": "${file:secrets/line.txt}"}, source, "1001") == "from-a-file"
    monkeypatch.setenv("LINE_PW", "from-the-env")
    assert password_for({"password_from": "${env:LINE_PW}"}, source, "1001") == "from-the-env"
    assert password_for({"password_from": None}, source, "1001") is None
    assert redact("sent from-the-env") == "sent ********"


def test_a_generated_password_is_written_once_with_mode_0600(tmp_path: Path) -> None:
    source = Source(str(tmp_path / "clients.yaml"), 3, 5)
    after = {"password_from": "generate", "password_file": "out/line-1001.txt"}
    first = password_for(after, source, "1001")
    path = tmp_path / "out" / "line-1001.txt"
    assert first is not None and len(first) == LENGTH
    assert path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert password_for(after, source, "1001") == first  # a retried create sends the same one
    assert first not in redact(f"error while sending {first}")


def test_a_missing_variable_names_the_reference_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_PW", raising=False)
    with pytest.raises(SecretError, match="environment variable NOPE_PW is not set"):
        password_for({"password_from": "${env:NOPE_PW}"}, None, "1001")
    with pytest.raises(SecretError, match="not a reference"):
        password_for({"password_from": "plain-text"}, None, "1001")
