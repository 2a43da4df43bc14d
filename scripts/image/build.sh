#!/usr/bin/env bash
# `npm run image`: builds ghcr.io/hivewall/hivewall:<version> from deploy/Dockerfile with buildah
# (no Docker engine), prints its size and what makes it up, writes its SBOM and runs the
# vulnerability checks that can run here (scripts/image/scan.sh).
#
#   scripts/image/build.sh        prints  image=<reference>  and  sbom=<path>  on stdout
#
# Base image (the Dockerfile's NODE_IMAGE): $NODE_IMAGE if set (e.g. node:24-slim where a
# registry is reachable), else the local Debian + Node.js base of scripts/image/base.sh.
#
# Cached: the image is tagged localhost/hivewall:<key>, key = hash of the base image's ID, the
# Dockerfile, its ignore file and every file of the build context git sees (tracked and
# untracked, minus the ignore file's entries). An unchanged tree is a cache hit (a second);
# a changed one rebuilds only the layers after `npm ci` (buildah --layers). The SBOM, size and
# scan results are kept beside the image in $image_cache/builds/<key>/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/image/lib.sh
source "$root/scripts/image/lib.sh"
require_buildah
cd "$root"

start=$SECONDS
version="$(node -p 'require("./package.json").version')"
tag="ghcr.io/hivewall/hivewall:$version"
dockerfile=deploy/Dockerfile
ignorefile=deploy/Dockerfile.dockerignore

if [[ -n "${NODE_IMAGE:-}" ]]; then
  base="$NODE_IMAGE"
  # The tag's newest image where a registry answers (a rebuilt base means a new key), else the store's.
  hw_buildah pull --quiet "$base" >/dev/null 2>&1 || image_exists "$base" ||
    { echo "image: cannot pull $base and the store has no copy" >&2; exit 1; }
else
  base="$(bash scripts/image/base.sh | sed -n 's/^base=//p')"
fi
base_id="$(hw_buildah inspect --type image --format '{{.FromImageID}}' "$base")"

# The build context as git lists it, less the ignore file's entries (as git pathspecs).
context_files() {
  local excludes=() line
  while IFS= read -r line; do
    [[ -z "$line" || "$line" == \#* ]] && continue
    excludes+=(":(exclude,glob)$line" ":(exclude,glob)$line/**")
  done <"$ignorefile"
  git ls-files -z --cached --others --exclude-standard --deduplicate -- . "${excludes[@]}" |
    while IFS= read -r -d '' f; do [[ -f "$f" ]] && printf '%s\n' "$f"; done | LC_ALL=C sort
}
mapfile -t files < <(context_files)
key="$( { printf '%s\n' "$base_id"; hash_files "$dockerfile" "$ignorefile" "${files[@]}"; } | sha256sum | cut -c1-16)"
ref="localhost/hivewall:$key"
out="$image_cache/builds/$key"

build() {
  if image_exists "$ref" && [[ -f "$out/sbom.spdx.json" && -f "$out/summary.txt" ]]; then
    echo "image: cached $ref (inputs unchanged)" >&2
    return
  fi
  local t=$SECONDS
  echo "image: building $tag from $dockerfile on $base (${#files[@]} context files)" >&2
  # The CAs this host's npm trusts beyond Node's own (NODE_EXTRA_CA_CERTS, else npm's `cafile`),
  # e.g. a TLS-inspecting proxy's: mounted into the build's RUN steps only, never into a layer.
  local ca=() ca_file="${NODE_EXTRA_CA_CERTS:-}"
  [[ -n "$ca_file" && -f "$ca_file" ]] || ca_file="$(npm config get cafile 2>/dev/null || true)"
  if [[ -n "$ca_file" && -f "$ca_file" ]]; then
    ca=(--volume "$ca_file:/run/hivewall-build/extra-ca.pem:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/hivewall-build/extra-ca.pem)
  fi
  hw_buildah bud --isolation chroot --layers --pull=false --network host \
    --build-arg "NODE_IMAGE=$base" "${ca[@]}" -f "$dockerfile" --ignorefile "$ignorefile" \
    -t "$ref" . >&2
  echo "image: built in $((SECONDS - t)) s" >&2
  mkdir -p "$out"
  bash scripts/image/inspect.sh "$ref" "$out"
}

with_lock app build
hw_buildah tag "$ref" "$tag"
cat "$out/summary.txt" >&2
echo "image: $tag ready in $((SECONDS - start)) s (store: $image_cache/store)" >&2
echo "image=$ref"
echo "sbom=$out/sbom.spdx.json"
