#!/usr/bin/env bash
# The whole test suite, with all set-up, on a fresh machine (after `npm ci`):
# Debian packages, the Go-built kube-apiserver + etcd, a build, the operator image (cached under
# ~/.cache/hivewall/image; test/e2e/image.test.ts runs the operator from it), then the unit and
# integration projects (the integration global setup starts the control plane on loopback).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/ci-deps.sh
npm run build --silent
start=$SECONDS
# A failed image build fails test/e2e/image.test.ts (which tries again); the other tests still run.
npm run image --silent >/dev/null || echo "test-all: npm run image failed" >&2
echo "test-all: image ready in $((SECONDS - start)) s" >&2

mkdir -p .cache
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.cache/vitest-results.json "$@" || status=$?
# One plain closing line that any CI reader understands.
node scripts/print-test-totals.mjs .cache/vitest-results.json || true
exit "$status"
