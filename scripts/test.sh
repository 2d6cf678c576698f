#!/usr/bin/env bash
# The test command README.md gives: pytest with warnings as errors and branch coverage.
set -euo pipefail
exec python -m pytest -W error -p no:cacheprovider --cov=llmcost --cov-branch --cov-report=term "$@"
