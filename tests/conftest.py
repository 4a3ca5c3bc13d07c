"""The state backends every state, lock, journal and schedule test runs on: SQLite (a file in the
test's directory) and PostgreSQL (a database of its own on a server).

The server is RECONCILER_TEST_PG_URL (an admin URL: `.ci/run` starts one and sets it); without
it, one is started from the installed PostgreSQL binaries for this test session
(tests/pg_server.py); without binaries the PostgreSQL half skips, saying why, unless
RECONCILER_TEST_PG_REQUIRED=1 (as in CI), where it fails.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import pg_server

BACKENDS = ["sqlite", "postgresql"]


def _unavailable(reason: str) -> None:
    if os.environ.get("RECONCILER_TEST_PG_REQUIRED") == "1":
        pytest.fail(f"PostgreSQL is required here (RECONCILER_TEST_PG_REQUIRED=1): {reason}")
    pytest.skip(f"no PostgreSQL server for the tests: {reason}")


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """An admin URL of a running PostgreSQL server."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install -e '.[test]')")
    given = os.environ.get("RECONCILER_TEST_PG_URL")
    if given:
        yield given
        return
    if pg_server.binaries() is None:
        _unavailable("RECONCILER_TEST_PG_URL is not set and no initdb is installed "
                     "(apt-get install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="reconciler-pg-"))
    try:
        url = pg_server.start(base)
    except Exception as exc:  # a server that cannot start is a reason to skip, said as such
        pg_server.stop(base)
        _unavailable(f"could not start one from {pg_server.binaries()}: {exc}")
    try:
        yield url
    finally:
        pg_server.stop(base)


def _admin(url: str) -> Any:
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty database of its own on the server, dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:16]
    with _admin(pg_server_url) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_server_url.rsplit("/", 1)[0] + "/" + name
    with _admin(pg_server_url) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new state's URL on each backend: SQLite in the test's directory, PostgreSQL in a
    database of its own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'reconciler.db'}"
    return str(request.getfixturevalue("pg_url"))
