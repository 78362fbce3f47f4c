#!/usr/bin/env bash
# Fails when a generated file is stale: drizzle migrations versus src/adapters/db/schema.ts,
# openapi/openapi.json versus the route schemas, src/gen/ versus proto/, and the reference pages
# of docs/ versus the CLI's help, openapi.json, proto/ and the event catalogue. Fix with
# `npm run db:generate`, `npm run openapi`, `npm run generate` and `npm run docs`, then commit
# the result.
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
# The reference pages, compared with what their sources make (hand-written pages beside them
# are not looked at); names the stale ones.
npx tsx scripts/write-docs.ts --check
echo "generated files are current (drizzle/, openapi/openapi.json, src/gen/, docs/ reference pages)"
