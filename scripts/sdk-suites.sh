#!/usr/bin/env bash
# The conformance harness: the openai and anthropic SDKs' own test suites, run plain and with
# llmcost on; prints every test whose outcome differs. See docs/conformance.md.
#   bash scripts/sdk-suites.sh            # --fast: what CI runs (a few minutes)
#   bash scripts/sdk-suites.sh --full     # the whole offline suites: before a release
# Uses the python of the active virtual environment (or $PYTHON), and the SDK versions
# installed there; sdists are cached in .sdk-suites/ (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-python}" tests/sdk_suites/harness.py "$@"
