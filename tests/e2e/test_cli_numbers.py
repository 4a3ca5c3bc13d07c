"""`reconcile show numbers` against a served SaperX STFC simulator: the seed's search screen
(client, service, linked or free, transmission status, range) over the state and the last
observation, in text, JSON and CSV; a failed transmission shown with the platform's error, then
sent again by the next apply."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.e2e.conftest import Cli, Sim
from tests.e2e.specset import SpecSet

pytestmark = pytest.mark.e2e


def numbers(cli: Cli, *args: str) -> list[dict[str, object]]:
    found = json.loads(cli("show", "numbers", "--format", "json", *args, check=0).stdout)
    assert found["format_version"] == 1
    return found["numbers"]  # type: ignore[no-any-return]


def test_numbers_are_searched_like_the_platform_screen(cli: Cli, sim: Sim) -> None:
    SpecSet(cli.cwd / "specs", sim.url).write()
    cli("apply", "--auto-approve", check=0)
    sim.client.post("/_sim/numbers/1130001002/transmission",
                    json={"transmissao": "erro"}).raise_for_status()
    cli("plan", check=0)  # refreshes the observation `show numbers` reads

    everything = numbers(cli)
    assert len(everything) == 11  # sp-centro's 10 numbers and sp-diretoria's one
    linked = numbers(cli, "--linked")
    assert sorted(str(r["number"]) for r in linked) == [
        "1130001001", "1130001002", "1130001003", "1140045000"]  # 1004 is cancelled
    assert len(numbers(cli, "--free")) == 11 - 4
    maria = numbers(cli, "--client", "maria")
    assert [(r["number"], r["service"], r["document"]) for r in maria] == [
        ("1130001001", 1001, "52998224725")]
    assert [r["number"] for r in numbers(cli, "--client", "11.222.333")] == ["1140045000"]
    assert [r["number"] for r in numbers(cli, "--service", "1003")] == ["1130001003"]
    assert [r["number"] for r in numbers(cli, "--range", "sp-diretoria")] == ["1140045000"]
    failed = numbers(cli, "--transmission", "error")
    assert [(r["number"], r["client"]) for r in failed] == [("1130001002", "João Pereira")]
    assert "Operadora recusou" in str(failed[0]["error"])
    assert all(r["transmission"] == "ok" for r in numbers(cli, "--linked", "--range",
                                                           "sp-centro") if r["number"] != "1130001002")

    text = cli("show", "numbers", "--transmission", "error", check=0).stdout
    assert "1130001002" in text and "Operadora recusou" in text
    assert "1 numbers; 1 failed to transmit (the next apply sends them again)." in text
    rows = list(csv.DictReader(io.StringIO(cli("show", "numbers", "--free", "--format", "csv",
                                               check=0).stdout)))
    assert len(rows) == 7 and {r["status"] for r in rows} == {"free"} and rows[0]["service"] == ""

    cli("apply", "--auto-approve", check=0)  # sends it again
    cli("plan", check=0)
    assert numbers(cli, "--transmission", "error") == []
    assert sim.number("1130001002")["erro_transmissao"] is None
