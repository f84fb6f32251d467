#!/usr/bin/env bash
# The published contract passes standard OpenAPI tooling: Redocly CLI and Spectral, pinned in
# tests/lint/package-lock.json (scripts/test runs npm ci there), with the rules in tests/lint/.
# Any error, warning or hint fails, except those tests/lint/ justifies. Runs offline.
# usage: check_openapi.sh SOURCE_DIR
set -euo pipefail
src=$1 lint=$1/tests/lint
bin=$lint/node_modules/.bin
if [ ! -x "$bin/redocly" ] || [ ! -x "$bin/spectral" ]; then
  echo "the linters are missing: run npm ci --prefix tests/lint (scripts/test does)"
  exit 1
fi
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
status=0
"$bin/redocly" lint --config "$lint/redocly.yaml" --format=stylish "$src/schema/openapi.yaml" ||
  status=1
"$bin/spectral" lint --ruleset "$lint/spectral.yaml" --fail-severity=hint \
  "$src/schema/openapi.yaml" || status=1
exit "$status"
