#!/usr/bin/env bash
# Validates Dockerfile, .dockerignore, compose.yaml and deploy/prometheus/prometheus.yml without a Docker
# engine. Prints each check; exits non-zero if any fails. Needs node_modules (npm ci).
#
#   bash scripts/check-container-files.sh            # static and cross-file checks
#   bash scripts/check-container-files.sh --smoke    # also run the image's /app on this host
#
# Uses, when present: `docker compose` (config -q, no engine needed), hadolint. Node-side
# optional validators are listed in scripts/container-checks/validators.ts.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

status=0

echo "== compose: docker compose config"
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  # --profile metrics so the optional prometheus, alertmanager, ntfy and grafana services are validated too.
  if docker compose -f compose.yaml --profile metrics config -q; then
    echo "ok    docker compose config -q accepts compose.yaml"
  else
    echo "FAIL  docker compose config -q rejects compose.yaml"
    status=1
  fi
else
  echo "skip  docker compose config: the compose plugin is not installed (the checks below parse compose.yaml themselves)"
fi

echo
echo "== Dockerfile: hadolint"
if command -v hadolint >/dev/null 2>&1; then
  if hadolint --failure-threshold error Dockerfile; then
    echo "ok    hadolint finds no error"
  else
    echo "FAIL  hadolint"
    status=1
  fi
else
  echo "skip  hadolint: not installed"
fi

node --import tsx scripts/check-container-files.ts "$@" || status=1
exit "$status"
