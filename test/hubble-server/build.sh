#!/usr/bin/env bash
# Builds the Hubble Observer test server (test/hubble-server, a Go program using Cilium's published
# API packages github.com/cilium/cilium/api/v1/{observer,flow}) and caches the binary OUTSIDE the
# checkout, keyed by a hash of go.mod + go.sum + every *.go file, so a fresh clone on the same
# machine (CI) reuses it. Idempotent; safe to run concurrently (flock).
#
#   test/hubble-server/build.sh                 prints  hubble-server=<absolute path>
#   test/hubble-server/build.sh --cilium-api    also prints  cilium-api=<dir of Cilium's api/v1 protos>
#
# Progress goes to stderr. Environment:
#   HIVEWALL_CACHE_DIR   cache root (default: $HOME/.cache/hivewall)
#   GO                   go command (default: go on PATH, else /usr/local/go/bin/go)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${HIVEWALL_CACHE_DIR:-${HOME:-/root}/.cache/hivewall}"
mkdir -p "$cache_root"

GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)";
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go;
  else echo "hubble-server: no Go toolchain found (need Go 1.26+; set GO=...)" >&2; exit 1; fi
fi
# Never download a toolchain; go.sum is committed and complete, never rewrite it here.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0

hash="$(cd "$here" && cat go.mod go.sum $(LC_ALL=C ls -- *.go | grep -v '_test\.go$') | sha256sum | cut -c1-12)"
bin="$cache_root/hubble-server-$hash"

if [[ ! -x "$bin" ]]; then
  exec {fd}>"$cache_root/.hubble-server.lock"
  flock "$fd"
  if [[ ! -x "$bin" ]]; then
    echo "hubble-server: building $bin (downloads github.com/cilium/cilium $(awk '$1 == "github.com/cilium/cilium" { print $2 }' "$here/go.mod") into the Go module cache if needed)" >&2
    start=$SECONDS
    tmp="$bin.tmp.$$"
    if ! (cd "$here" && "$GO" build -trimpath -ldflags "-s -w" -o "$tmp" .); then
      rm -f "$tmp"; echo "hubble-server: build failed" >&2; exit 1
    fi
    mv -f "$tmp" "$bin"
    echo "hubble-server: built in $((SECONDS - start))s" >&2
  fi
  flock -u "$fd"
  exec {fd}>&-
fi
echo "hubble-server=$bin"

if [[ "${1:-}" == "--cilium-api" ]]; then
  dir="$(cd "$here" && "$GO" list -m -f '{{.Dir}}' github.com/cilium/cilium 2>/dev/null)" || dir=""
  if [[ -n "$dir" && -d "$dir/api/v1" ]]; then echo "cilium-api=$dir/api/v1"; fi
fi
