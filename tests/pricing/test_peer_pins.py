"""The cross-check's peer datasets are the exact releases its disagreements file was checked
against: genai-prices pinned in the dev extra (and installed), litellm's rows vendored. A new
peer release can then never fail CI by itself; bumping one is a deliberate change
(docs/pricing.md, "Bumping the peer datasets")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import tomllib

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
CHECKED = re.compile(r"^# Checked (\S+) against genai-prices (\S+) and litellm (\S+)\.", re.M)


def _checked_against() -> tuple[str, str]:
    text = (HERE / "known_disagreements.yaml").read_text(encoding="utf-8")
    match = CHECKED.search(text)
    assert match, "known_disagreements.yaml must say which peer releases it was checked against"
    return match.group(2), match.group(3)


def _dev_requirement(name: str) -> str:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["dev"]
    found = [r for r in extra if re.match(rf"{re.escape(name)}\s*[=<>!~;]", r)]
    assert len(found) == 1, (name, found)
    return str(found[0])


def test_dev_extra_pins_the_genai_prices_the_disagreements_were_checked_against() -> None:
    """pyproject's dev extra pins genai-prices with ==, to the release the file names."""
    genai, _ = _checked_against()
    assert _dev_requirement("genai-prices") == f"genai-prices=={genai}"


def test_installed_genai_prices_is_the_pinned_release() -> None:
    """The environment runs the cross-check against the pinned release, not another one."""
    genai_prices = pytest.importorskip("genai_prices")
    genai, _ = _checked_against()
    assert genai_prices.__version__ == genai, (
        f"genai-prices {genai_prices.__version__} is installed, the cross-check was checked "
        f"against {genai}: install the dev extra, or bump the pin as docs/pricing.md says"
    )


def test_vendored_litellm_rows_are_the_release_the_file_names() -> None:
    """peers/litellm.json is the litellm release the disagreements file names."""
    _, litellm = _checked_against()
    vendored = json.loads((HERE / "peers" / "litellm.json").read_text(encoding="utf-8"))
    assert vendored["version"] == litellm
    assert vendored["_source"].startswith(f"litellm {litellm} wheel")
