#!/usr/bin/env bash
# The test command README.md gives: pytest with warnings as errors, under branch coverage.
# `coverage run` (not pytest-cov) so that measuring starts before pytest loads llmcost's own
# pytest plugin, which imports the package: module-level code is then counted too.
set -uo pipefail
log=$(mktemp)
trap 'rm -f "$log"' EXIT
python -m coverage run -m pytest -W error -p no:cacheprovider "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
python -m coverage report || true
# Keep pytest's own summary line last, where readers of the output look for it.
echo
tail -n 1 "$log"
exit "$status"
