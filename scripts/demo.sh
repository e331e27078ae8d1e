#!/bin/sh
# The demo: wanctl's main job on the built-in network lab (root on Debian 12).
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec node dist/scripts/demo.js
