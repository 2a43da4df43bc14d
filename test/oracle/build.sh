#!/usr/bin/env bash
# Builds the reference oracles of the differential policy tests (test/oracle/README.md) from Go
# modules and caches the binaries OUTSIDE the checkout, keyed by a hash of each program's
# go.mod + go.sum + *.go, so a fresh clone on the same machine (CI) reuses them:
#   cilium-oracle   Cilium's policy engine (github.com/cilium/cilium/pkg/policy)
#   netpol-oracle   kube-network-policies' NetworkPolicy engine (sigs.k8s.io/kube-network-policies)
#
#   test/oracle/build.sh      prints  cilium-oracle=<absolute path>  and  netpol-oracle=<absolute path>
#
# Progress goes to stderr. Idempotent; safe to run concurrently (flock per binary). Environment:
#   HIVEWALL_CACHE_DIR   cache root (default: $HOME/.cache/hivewall)
#   GO                   go command (default: go on PATH, else /usr/local/go/bin/go)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${HIVEWALL_CACHE_DIR:-${HOME:-/root}/.cache/hivewall}/oracle"
mkdir -p "$cache_root"

GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)";
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go;
  else echo "oracle: no Go toolchain found (need Go 1.26+; set GO=...)" >&2; exit 1; fi
fi
# Never download a toolchain; go.sum is committed and complete, never rewrite it here.
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0

# build_one <binary name> <program dir under test/oracle>
build_one() {
  local name="$1" dir="$here/$2" hash bin tmp start
  hash="$(cd "$dir" && cat go.mod go.sum $(LC_ALL=C ls -- *.go | grep -v '_test\.go$') | sha256sum | cut -c1-12)"
  bin="$cache_root/$name-$hash"
  if [[ ! -x "$bin" ]]; then
    exec {fd}>"$cache_root/.$name.lock"
    flock "$fd"
    if [[ ! -x "$bin" ]]; then
      echo "oracle: building $name into $bin (the first Cilium build takes several minutes on 2 cores)" >&2
      start=$SECONDS
      tmp="$bin.tmp.$$"
      if ! (cd "$dir" && "$GO" build -trimpath -ldflags "-s -w" -o "$tmp" .); then
        rm -f "$tmp"; echo "oracle: building $name failed" >&2; exit 1
      fi
      mv -f "$tmp" "$bin"
      echo "oracle: built $name in $((SECONDS - start))s" >&2
    fi
    flock -u "$fd"
    exec {fd}>&-
  fi
  echo "$name=$bin"
}

# The Cilium oracle must judge with the Cilium release whose CRD the suite installs.
want="$(cat "$here/../envtest/cilium.version")"
have="$(awk '$1 == "github.com/cilium/cilium" { print $2 } $1 == "require" && $2 == "github.com/cilium/cilium" { print $3 }' "$here/cilium/go.mod")"
if [[ "$want" != "$have" ]]; then
  echo "oracle: test/oracle/cilium/go.mod has github.com/cilium/cilium $have but test/envtest/cilium.version is $want;" >&2
  echo "        run: (cd test/oracle/cilium && go get github.com/cilium/cilium@$want && go mod tidy)" >&2
  exit 1
fi

build_one netpol-oracle netpol
build_one cilium-oracle cilium
