"""run_async: asyncio.run without formatting the result on the way out (it used to cost a
full repr of the plan, known and observed state at every command's end)."""

from __future__ import annotations

from reconciler.runtime import run_async


class Costly:
    formatted = 0

    def __repr__(self) -> str:
        Costly.formatted += 1
        return "Costly()"


async def _make() -> tuple[Costly, list[Costly]]:
    return Costly(), [Costly() for _ in range(10)]


def test_the_result_comes_back_and_is_never_formatted() -> None:
    Costly.formatted = 0
    one, many = run_async(_make())
    assert isinstance(one, Costly) and len(many) == 10
    assert Costly.formatted == 0

