"""The oldest-versions CI run tests what pyproject.toml promises, not a guess of it."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _floors() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        requirements.extend(extra)
    floors: dict[str, str] = {}
    for requirement in requirements:
        match = re.match(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", requirement)
        if match:
            floors[match.group(1).lower()] = match.group(2)
    return floors


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / ".ci" / "oldest.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def _same_version(a: str, b: str) -> bool:
    def parts(version: str) -> list[int]:
        numbers = [int(part) for part in version.split(".")]
        while numbers and numbers[-1] == 0:
            numbers.pop()
        return numbers

    return parts(a) == parts(b)


def test_oldest_pins_are_the_floors_of_pyproject() -> None:
    """Every pin of .ci/oldest.txt is the lower bound pyproject.toml states for that package,
    and the SDKs and runtime dependencies are all pinned."""
    floors, pins = _floors(), _pins()
    for name in ("openai", "anthropic", "httpx2", "pydantic", "wrapt", "tiktoken"):
        assert name in pins, f".ci/oldest.txt does not pin {name}"
    for name, version in pins.items():
        assert name in floors, f"{name} is pinned in .ci/oldest.txt but has no floor"
        assert _same_version(floors[name], version), (name, floors[name], version)
