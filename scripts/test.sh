#!/bin/sh
# The whole test suite, network-lab tests included (root on Debian 12). A lab test that skips
# fails the run: the lab is what proves wanctl against the real kernel.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh

report=$(mktemp /tmp/wanctl-vitest.XXXXXX.json)
trap 'rm -f "$report"' EXIT
export WANCTL_REQUIRE_LAB=1
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" || status=$?
node scripts/no-skipped-tests.mjs "$report" || status=1
# The lab must leave nothing behind, also when a test failed.
node dist/test/lab/cli.js check-clean || status=1
exit $status
