"""Seeded mutations of a spec set: what a careless or hostile pull request could hold.

Each mutation takes the files of a spec set ({relative path: text}) and a random source, and
returns the files to write over (or beside) them. They are deterministic for a seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import yaml

Files = dict[str, str | bytes]
Mutation = Callable[[dict[str, str], random.Random], Files]

ODD_VALUES: tuple[Any, ...] = (
    None, True, -1, 0, -(10**30), 10**100, 1.5e308, float("nan"), "", " ", "\u202eevil\u200b",
    "ção✓😀", "${env:}", "${file:/dev/zero}", "${file:../../../../etc/shadow}", "*", "x" * 5_000,
    [], {}, [[[]]], {"a": {"b": {"c": {}}}}, "2027-02-30", "99999999999999999999",
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``data`` (mapping keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


def _on_data(change: Callable[[Any, tuple[Any, ...], random.Random], None]) -> Mutation:
    """A mutation of the parsed data of one file, written back as YAML."""

    def mutate(files: dict[str, str], rng: random.Random) -> Files:
        name = rng.choice(sorted(files))
        data = yaml.safe_load(files[name])
        paths = _paths(data)
        if paths:
            change(data, rng.choice(paths), rng)
        return {name: yaml.safe_dump(data, allow_unicode=rng.random() < 0.5, sort_keys=False)}

    return mutate


def _delete(data: Any, path: tuple[Any, ...], rng: random.Random) -> None:
    del _parent(data, path)[path[-1]]


def _retype(data: Any, path: tuple[Any, ...], rng: random.Random) -> None:
    _parent(data, path)[path[-1]] = rng.choice(ODD_VALUES)


def _rename(data: Any, path: tuple[Any, ...], rng: random.Random) -> None:
    parent = _parent(data, path)
    if isinstance(parent, dict):
        parent[rng.choice(ODD_VALUES[5:17]) or "k"] = parent.pop(path[-1])


def _on_text(change: Callable[[str, random.Random], str | bytes]) -> Mutation:
    def mutate(files: dict[str, str], rng: random.Random) -> Files:
        name = rng.choice(sorted(files))
        return {name: change(files[name], rng)}

    return mutate


def _duplicate_line(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    at = rng.randrange(len(lines))
    return "".join(lines[: at + 1] + [lines[at]] + lines[at + 1:])


def _truncate(text: str, rng: random.Random) -> str:
    return text[: rng.randrange(len(text) + 1)]


def _binary(text: str, rng: random.Random) -> bytes:
    raw = bytearray(text.encode())
    for _ in range(rng.randint(1, 8)):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    return bytes(raw)


def _flip_characters(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        chars[rng.randrange(len(chars))] = rng.choice("-:[]{}&*!|>'\"%@`#,? \t\n0")
    return "".join(chars)


def _alias_bomb(files: dict[str, str], rng: random.Random) -> Files:
    levels = rng.randint(4, 12)
    lines = ["b0: &b0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * 9) + "]" for i in range(1, levels)]
    section = rng.choice(["", "clients", "integrations", "number_ranges", "packages", "safety"])
    body = "\n".join(lines)
    if section:
        body = f"{section}:\n  x:\n" + "\n".join("    " + line for line in lines)
    return {f"bomb{rng.randrange(3)}.yaml": body + "\n"}


def _deep(files: dict[str, str], rng: random.Random) -> Files:
    depth = rng.choice([31, 33, 200, 999, 5000])
    if rng.random() < 0.5:
        return {"deep.yaml": "clients: " + "[" * depth + "]" * depth + "\n"}
    return {"deep.yaml": "".join(" " * i + "-\n" for i in range(min(depth, 1200)))}


def _huge_string(files: dict[str, str], rng: random.Random) -> Files:
    name = rng.choice(sorted(files))
    size = rng.choice([10_000, 1_000_000, 10_000_000])
    text = files[name]
    at = text.find(": ")
    return {name: text[: at + 2] + "x" * size + text[at + 2:]} if at >= 0 else {name: "x" * size}


MUTATIONS: tuple[tuple[str, Mutation, int], ...] = (  # (name, mutation, weight)
    ("delete", _on_data(_delete), 20),
    ("retype", _on_data(_retype), 30),
    ("rename", _on_data(_rename), 10),
    ("duplicate-line", _on_text(_duplicate_line), 8),
    ("truncate", _on_text(_truncate), 6),
    ("binary", _on_text(_binary), 6),
    ("flip", _on_text(_flip_characters), 12),
    ("alias-bomb", _alias_bomb, 4),
    ("deep", _deep, 3),
    ("huge-string", _huge_string, 1),
)


def pick(rng: random.Random) -> tuple[str, Mutation]:
    names, functions, weights = zip(*MUTATIONS, strict=True)
    index = rng.choices(range(len(names)), weights=weights)[0]
    return names[index], functions[index]
