"""The llmcost pytest plugin (entry point ``pytest11``); inert unless its fixtures or options
are used."""

from __future__ import annotations
