#!/usr/bin/env bash
# The whole test suite, with all set-up, on a fresh machine (after `npm ci`):
# Debian packages, the Go-built kube-apiserver + etcd, a build, then the unit and
# integration projects (the integration global setup starts the control plane on loopback).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/ci-deps.sh
npm run build --silent

mkdir -p .cache
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest-results.json "$@" || status=$?
# One plain closing line that any CI reader understands.
node scripts/print-test-totals.mjs .cache/vitest-results.json || true
exit "$status"
