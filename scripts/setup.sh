#!/usr/bin/env bash
# Installs what StreamrP2P needs on a fresh Debian/Ubuntu machine: Debian packages
# that are missing (ffmpeg always; more when named as arguments: scripts/test.sh adds chromium,
# cloud-init, systemd, postgresql, and pebble, the ACME test CA the HTTPS tests run) and the npm packages.
# Usage: scripts/setup.sh [extra-debian-package ...]
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  say "Node.js >= 20 is required (found: $(node --version 2>/dev/null || echo none)). Install it from your distribution or nodejs.org."
  exit 1
fi

missing=()
command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done

if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    say "cannot install ${missing[*]}: not root and no sudo. Install them, then run this again."
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "no apt-get here: install ${missing[*]} with your package manager, then run this again."
    exit 1
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run build --silent
say "ready: node
 $(node --version), $(ffmpeg -hide_banner -version | head -1 | cut -d' ' -f1-3)"
