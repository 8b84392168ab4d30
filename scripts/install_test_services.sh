#!/usr/bin/env bash
# System packages the tests use: Chromium for the HTML report screenshots.
# Installed from Debian's packages when missing; a machine without apt keeps going and
# the browser tests skip with a reason (they fail under REQUIRE_BROWSER=1).
set -uo pipefail
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "install_test_services: chromium not installed; browser tests will skip" >&2
fi
exit 0
