#!/usr/bin/env bash
# One command for the whole local network with a live test source.
# Extra arguments go to `streamrp2p up` (e.g. --srt-port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node packages/cli/bin/streamrp2p.js up --test-source "$@"
