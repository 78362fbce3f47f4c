#!/usr/bin/env bash
# Fails when a generated file is stale: drizzle migrations versus src/adapters/db/schema.ts,
# and openapi/openapi.json versus the route schemas. Fix with `npm run db:generate` and
# `npm run openapi`, then commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

before=$(git status --porcelain -- drizzle openapi)
npx drizzle-kit generate >/tmp/stratavore-drizzle-check.log 2>&1 || { cat /tmp/stratavore-drizzle-check.log; exit 1; }
npx tsx scripts/write-openapi.ts >/dev/null
after=$(git status --porcelain -- drizzle openapi)
if [ "$before" != "$after" ] || ! git diff --quiet -- drizzle openapi; then
  echo "generated files are stale:"
  git status --porcelain -- drizzle openapi
  git --no-pager diff --stat -- drizzle openapi
  exit 1
fi
echo "generated files are current (drizzle/, openapi/openapi.json)"
