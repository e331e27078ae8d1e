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
leftovers=$(ip netns list 2>/dev/null | grep '^wl-' || true)
if [ -n "$leftovers" ]; then
  echo "the lab left namespaces behind:"; echo "$leftovers"; status=1
fi
exit $status
