#!/usr/bin/env bash
# Builds the single-executable binaries (scripts/build-binaries.ts) under a lock, so that
# concurrent test runs share one build. Run after `npm run build`. Prints the folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cache="${HIVEWALL_CACHE_DIR:-${HOME:-/root}/.cache/hivewall}/binaries"
mkdir -p "$cache"
exec flock "$cache/.lock" node dist/scripts/build-binaries.js
