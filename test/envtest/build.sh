#!/usr/bin/env bash
# Builds the integration-test control plane (kube-apiserver, etcd) from Go
# modules and caches the binaries OUTSIDE the checkout, keyed by version and by
# a hash of the module's go.mod + go.sum + main.go, so that a fresh clone on the
# same machine (CI) reuses them. Go's own build cache makes rebuilds cheap too.
#
#   test/envtest/build.sh [kube-apiserver|etcd|all]     (default: all)
#
# Prints one line per binary on stdout:  <name>=<absolute path>
# Progress goes to stderr. Safe to run concurrently (flock per binary).
#
# Environment:
#   HIVEWALL_CACHE_DIR   cache root (default: $HOME/.cache/hivewall)
#   GO                   go command (default: go on PATH, else /usr/local/go/bin/go)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_root="${HIVEWALL_CACHE_DIR:-${HOME:-/root}/.cache/hivewall}/envtest"
mkdir -p "$cache_root"

GO="${GO:-}"
if [[ -z "$GO" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)";
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go;
  else echo "envtest: no Go toolchain found (need Go 1.26+; set GO=...)" >&2; exit 1; fi
fi

# module_version <go.mod> <module path> -> version of that required module
module_version() {
  awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1"
}

# build_one <binary name> <module dir> <module whose version names the binary> [ldflags...]
build_one() {
  local name="$1" dir="$here/$2" mod="$3"; shift 3
  local version hash out bin lock
  version="$(module_version "$dir/go.mod" "$mod")"
  [[ -n "$version" ]] || { echo "envtest: cannot find $mod in $dir/go.mod" >&2; exit 1; }
  hash="$(cat "$dir/go.mod" "$dir/go.sum" "$dir/main.go" | sha256sum | cut -c1-12)"
  out="$cache_root/$name-$version-$hash"
  bin="$out/$name"
  if [[ -x "$bin" ]]; then echo "$name=$bin"; return; fi
  lock="$cache_root/.$name.lock"
  exec {fd}>"$lock"
  flock "$fd"
  if [[ ! -x "$bin" ]]; then
    mkdir -p "$out"
    echo "envtest: building $name $version (cached at $out; the first kube-apiserver build takes 6-14 min on 2 cores)" >&2
    local start=$SECONDS tmp="$out/.$name.tmp.$$"
    # CGO off: static binaries like upstream's, and no C toolchain needed.
    # -mod=readonly: go.sum is committed and complete; never rewrite it here.
    if ! (cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=readonly "$GO" build -trimpath -ldflags "-s -w $*" -o "$tmp" .); then
      rm -f "$tmp"; echo "envtest: building $name failed" >&2; exit 1
    fi
    mv -f "$tmp" "$bin"
    echo "envtest: built $name $version in $((SECONDS - start))s" >&2
  fi
  flock -u "$fd"
  exec {fd}>&-
  echo "$name=$bin"
}

kube_ldflags() {
  local v; v="$(module_version "$here/apiserver/go.mod" k8s.io/kubernetes)"
  local minor="${v#v1.}"; minor="${minor%%.*}"
  printf -- '-X k8s.io/component-base/version.gitVersion=%s -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=%s -X k8s.io/component-base/version.gitTreeState=clean' "$v" "$minor"
}

what="${1:-all}"
case "$what" in
  kube-apiserver) build_one kube-apiserver apiserver k8s.io/kubernetes "$(kube_ldflags)" ;;
  etcd) build_one etcd etcd go.etcd.io/etcd/server/v3 ;;
  all)
    build_one etcd etcd go.etcd.io/etcd/server/v3
    build_one kube-apiserver apiserver k8s.io/kubernetes "$(kube_ldflags)"
    ;;
  *) echo "usage: $0 [kube-apiserver|etcd|all]" >&2; exit 2 ;;
esac
