#!/bin/sh
# Run daily on a deployed node (streamrp2p-update.timer): pulls the tracked
# branch; when it moved, reinstalls and restarts the relay, which drains first.
set -eu
cd /opt/streamrp2p
branch=$(git rev-parse --abbrev-ref HEAD)
before=$(git rev-parse HEAD)
git fetch --depth 1 origin "$branch"
git reset --hard FETCH_HEAD
after=$(git rev-parse HEAD)
if [ "$before" = "$after" ]; then
  echo "streamrp2p: up to date at $after"
  exit 0
fi
npm ci --omit=dev --no-audit --no-fund
systemctl restart streamrp2p-relay.service
echo "streamrp2p: updated $before -> $after"
