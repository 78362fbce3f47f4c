#!/usr/bin/env bash
# Fails when a generated file is stale: drizzle migrations versus src/adapters/db/schema.ts,
# openapi/openapi.json versus the route schemas, and src/gen/ versus proto/. Fix with
# `npm run db:generate`, `npm run openapi` and `npm run generate`, then commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."

paths=(drizzle openapi src/gen)
before=$(git status --porcelain -- "${paths[@]}")
npx drizzle-kit generate >/tmp/stratavore-drizzle-check.log 2>&1 || { cat /tmp/stratavore-drizzle-check.log; exit 1; }
npx tsx scripts/write-openapi.ts >/dev/null
# buf.gen.yaml has clean: true, so a file whose proto is gone disappears and shows as drift.
npx buf generate
after=$(git status --porcelain -- "${paths[@]}")
if [ "$before" != "$after" ] || ! git diff --quiet -- "${paths[@]}"; then
  echo "generated files are stale:"
  git status --porcelain -- "${paths[@]}"
  git --no-pager diff --stat -- "${paths[@]}"
  exit 1
fi
echo "generated files are current (drizzle/, openapi/openapi.json, src/gen/)"
