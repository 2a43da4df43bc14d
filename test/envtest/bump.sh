#!/usr/bin/env bash
# Moves the envtest control plane to another release (then commit go.mod/go.sum;
# the next test run or scripts/ci-deps.sh builds and caches the new binaries):
#
#   test/envtest/bump.sh kubernetes v1.37.2   # rewrites apiserver/go.mod: require + one
#                                             # replace per k8s.io staging module -> v0.37.2
#   test/envtest/bump.sh etcd v3.7.3
#   test/envtest/bump.sh cilium v1.20.2       # version of the module supplying the CNP CRD
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v go >/dev/null 2>&1 || export PATH="$PATH:/usr/local/go/bin"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOFLAGS=-mod=mod

what="${1:-}" version="${2:-}"
[[ -n "$what" && "$version" == v* ]] || { echo "usage: $0 kubernetes|etcd|cilium vX.Y.Z" >&2; exit 2; }

case "$what" in
  kubernetes)
    gomod="$(cd /tmp && go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')"
    [[ -f "$gomod" ]] || { echo "cannot download k8s.io/kubernetes@$version" >&2; exit 1; }
    staging="v0.${version#v1.}"
    {
      echo '// Builds kube-apiserver from the published k8s.io/kubernetes module for the'
      echo '// hivewall integration-test control plane. See docs/adr/0001-envtest-from-go-modules.md.'
      echo 'module hivewall/envtest/apiserver'
      echo
      echo "go $(awk '$1 == "go" { print $2; exit }' "$gomod")"
      echo
      echo "require k8s.io/kubernetes $version"
      echo
      echo '// k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them'
      echo "// with ./staging paths; pin each to the published release that matches $version."
      echo 'replace ('
      sed -n '/^replace (/,/^)/p' "$gomod" | awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print "\t" $1 " => " $1 " '"$staging"'" }'
      echo ')'
    } > "$here/apiserver/go.mod"
    (cd "$here/apiserver" && rm -f go.sum && go mod tidy)
    ;;
  etcd)
    (cd "$here/etcd" && go get "go.etcd.io/etcd/server/v3@$version" && go mod tidy)
    ;;
  cilium)
    (cd /tmp && go mod download "github.com/cilium/cilium@$version")
    echo "$version" > "$here/cilium.version"
    ;;
  *) echo "usage: $0 kubernetes|etcd|cilium vX.Y.Z" >&2; exit 2 ;;
esac
echo "envtest: $what set to $version" >&2
