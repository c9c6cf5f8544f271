#!/usr/bin/env bash
# One command for every check: installs what the tests need, then lint, types, tests.
# Nothing is skipped: a test that needs ffmpeg installs it here or fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh chromium cloud-init systemd postgresql pebble

echo "[test] lint (biome)"
npx biome check .
echo "[test] typecheck (tsc, strict)"
npx tsc -p tsconfig.json
echo "[test] typecheck the browser pages (DOM only)"
npx tsc -p packages/coordinator/web/tsconfig.json
echo "[test] contracts: compiled ABIs are fresh (solc)"
npm run --silent contracts:check
echo "[test] contracts: solhint"
npm run --silent contracts:lint
echo "[test] tests (vitest
: unit, integration with real ffmpeg and HTTP on 127.0.0.1, end to end)"
mkdir -p test-artifacts
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=test-artifacts/vitest.json || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync("test-artifacts/vitest.json", "utf8"));
  if (r.numTotalTests === 0) { console.log("no tests ran"); process.exit(1); }
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
' || status=1
exit $status
