#!/usr/bin/env bash
# Installs what the test suites need on a Debian machine, then builds the
# envtest control plane (kube-apiserver + etcd from Go modules, cached under
# ${HIVEWALL_CACHE_DIR:-$HOME/.cache/hivewall}/envtest) and pre-fetches the
# Cilium module that supplies the CiliumNetworkPolicy CRD. Idempotent; quick
# when everything is already there. Called by .ci/run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# buildah + mmdebstrap: `npm run image` builds deploy/Dockerfile without a Docker engine
# (scripts/image/build.sh), and test/e2e/image.test.ts runs the operator from that image.
packages=(openssl conntrack nftables iproute2 chromium buildah mmdebstrap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
  sudo=()
  [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  echo "ci-deps: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "ci-deps: Debian packages present: ${packages[*]}" >&2
fi

# Best effort: qemu-user-static and the arm64 C library let test/binaries run the linux-arm64
# single-executable binary; without them that one test is skipped.
if ! [[ -e /lib/ld-linux-aarch64.so.1 && -x /usr/bin/qemu-aarch64-static ]]; then
  sudo=()
  [[ "$(id -u)" -eq 0 ]] || sudo=(sudo)
  { "${sudo[@]}" dpkg --add-architecture arm64 && "${sudo[@]}" apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends qemu-user-static libc6:arm64 libstdc++6:arm64; } \
    || echo "ci-deps: no arm64 emulation; test/binaries skips the linux-arm64 run" >&2
fi

command -v kubectl >/dev/null 2>&1 || echo "ci-deps: WARNING: kubectl is not installed; the integration tests and README examples need it" >&2

if ! command -v go >/dev/null 2>&1; then
  [[ -x /usr/local/go/bin/go ]] || { echo "ci-deps: Go 1.26+ is required (not found)" >&2; exit 1; }
  export PATH="$PATH:/usr/local/go/bin"
fi
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

start=$SECONDS
bash test/envtest/build.sh all
echo "ci-deps: envtest binaries ready in $((SECONDS - start)) s" >&2

# Best effort: without it the harness falls back to ../shared/data/cilium/.
cilium="github.com/cilium/cilium@$(cat test/envtest/cilium.version)"
(cd test/envtest && GOFLAGS=-mod=mod go mod download "$cilium") \
  || echo "ci-deps: could not download $cilium; the Cilium CRD will come from ../shared/data/cilium if present" >&2

# The differential policy tests' reference oracles (Cilium's and kube-network-policies' engines,
# built from Go modules, cached under ${HIVEWALL_CACHE_DIR:-$HOME/.cache/hivewall}/oracle).
start=$SECONDS
bash test/oracle/build.sh >/dev/null
echo "ci-deps: policy oracles ready in $((SECONDS - start)) s" >&2
