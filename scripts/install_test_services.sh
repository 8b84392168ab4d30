#!/usr/bin/env bash
# System packages the tests use, from Debian's packages, installed when missing:
#   chromium        renders the HTML reports for screenshot tests
#   docker-compose  checks docker-compose.yaml with `docker-compose config` (no engine needed)
#   fonts-wqy-zenhei a CJK font for the Chinese report pages
# A machine without apt (or not root) keeps going; those tests then skip with a reason,
# and fail instead under CI=true.
set -uo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
# a CJK font, or Chinese labels render as empty boxes in the report screenshots
{ command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]; } || need+=(fonts-wqy-zenhei)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "install_test_services: installing ${need[*]} (Debian packages)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null) \
      || echo "install_test_services: could not install ${need[*]}; those tests will skip" >&2
  else
    echo "install_test_services: ${need[*]} missing and cannot apt-get; those tests will skip" >&2
  fi
fi
exit 0
