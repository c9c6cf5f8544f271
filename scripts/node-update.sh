#!/bin/sh
# Run daily on a deployed node (streamrp2p-update.timer): pulls the tracked
# branch; when it moved, reinstalls and restarts the relay, which drains first.
# SRP_APP_DIR and SRP_RESTART override the install place and the restart (for tests).
set -eu
cd "${SRP_APP_DIR:-/opt/streamrp2p}"
branch=$(git rev-parse --abbrev-ref HEAD)
before=$(git rev-parse HEAD)
git fetch --quiet --depth 1 origin "$branch"
git reset --quiet --hard FETCH_HEAD
after=$(git rev-parse HEAD)
if [ "$before" = "$after" ]; then
  echo "streamrp2p: up to date at $after"
  exit 0
fi
npm ci --omit=dev --no-audit --no-fund --loglevel=error
sh -c "${SRP_RESTART:-systemctl restart streamrp2p-relay.service}"
echo "streamrp2p: updated $before -> $after"
