#!/usr/bin/env bash
# Checks the systemd units in deploy/systemd with `systemd-analyze verify`, where it exists.
# verify exits 0 on an unknown key or a bad value ("…, ignoring"), so any line it prints is a
# failure here. Without systemd-analyze it says so and passes: the units are then unchecked.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v systemd-analyze >/dev/null; then
  echo "check-deploy-systemd: systemd-analyze not found; deploy/systemd/*.service NOT checked"
  exit 0
fi
status=0
for unit in deploy/systemd/*.service; do
  if ! output=$(systemd-analyze verify "./$unit" 2>&1) || [ -n "$output" ]; then
    echo "check-deploy-systemd: $unit:"
    echo "$output"
    status=1
  fi
done
[ "$status" = 0 ] && echo "check-deploy-systemd: $(ls deploy/systemd/*.service | wc -l) units verified ($(systemd-analyze --version | head -1))"
exit "$status"
