#!/usr/bin/env bash
# Install everything the tests need, then run them. `.ci/run` calls exactly this.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh || exit 1
scripts/install_test_services.sh || exit 1
export PYTHONPATH="$PWD"
.venv/bin/ruff check . || exit 1
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
# pytest exit 5 means "no tests were collected". A test run that collects nothing has
# tested nothing, so we treat it as a failure rather than let it pass as green.
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; failing on purpose" >&2
  exit 1
fi
exit "$rc"
