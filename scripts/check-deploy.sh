#!/usr/bin/env bash
# Validates deploy/ with the real tools: Prometheus's promtool (its config, the alert rules and
# their unit tests, and every PromQL expression of the Grafana dashboards) and Alertmanager's
# amtool (the Alertmanager → ntfy config), plus scripts/check-dashboards.ts (dashboard structure,
# and every stratavore_* metric that rules and dashboards name exists in src/).
#
#   bash scripts/check-deploy.sh
#
# promtool and amtool are taken from PATH, else from Debian's prometheus and
# prometheus-alertmanager packages, downloaded (not installed: no service starts) and unpacked
# into $STRATAVORE_TOOLS_DIR (default ~/.cache/stratavore-tools). Needs node_modules (npm ci).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tools=${STRATAVORE_TOOLS_DIR:-$HOME/.cache/stratavore-tools}
find_tool() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  [ -x "$tools/usr/bin/$1" ] && echo "$tools/usr/bin/$1"
}
if [ -z "$(find_tool promtool)" ] || [ -z "$(find_tool amtool)" ]; then
  echo "== fetching promtool and amtool (Debian packages prometheus, prometheus-alertmanager) into $tools"
  mkdir -p "$tools/debs"
  ( cd "$tools/debs" && { apt-get download prometheus prometheus-alertmanager >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get download prometheus prometheus-alertmanager; }; } )
  for deb in "$tools"/debs/*.deb; do dpkg-deb -x "$deb" "$tools"; done
fi
promtool=$(find_tool promtool)
amtool=$(find_tool amtool)
[ -n "$promtool" ] && [ -n "$amtool" ] || { echo "FAIL  promtool or amtool could not be had"; exit 1; }
"$promtool" --version | head -1
"$amtool" --version 2>&1 | head -1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo; echo "== Prometheus config and alert rules (promtool)"
# The config names the rule file by its path inside the container; checked beside it here.
sed 's#/etc/prometheus/alerts.yml#alerts.yml#' deploy/prometheus/prometheus.yml > "$work/prometheus.yml"
cp deploy/prometheus/alerts.yml "$work/alerts.yml"
"$promtool" check config "$work/prometheus.yml"
"$promtool" check rules deploy/prometheus/alerts.yml
( cd deploy/prometheus && "$promtool" test rules alerts.test.yml )

echo; echo "== Alertmanager config (amtool)"
"$amtool" check-config deploy/alertmanager/alertmanager.yml

echo; echo "== Grafana dashboards"
node --import tsx scripts/check-dashboards.ts "$work/dashboard-queries.yml"
# Each panel query as a recording rule, so that promtool parses it as Prometheus would.
"$promtool" check rules "$work/dashboard-queries.yml"
echo "ok    deploy/ is valid"
