#!/usr/bin/env bash
# Builds the local stand-in for `node:24-slim` where no container registry is reachable:
# Debian bookworm (mmdebstrap --variant=minbase, slimmed like the official slim images: merged
# /usr without the usrmerge package, no man pages, locales or docs except copyright files) plus
# the Node.js runtime that `npm ci` installed for the devDependency (node_modules/.bin/node, the
# version package.json pins) and the npm that runs this script (`npm pack npm@<version>` from the
# npm registry), laid out as in the official image (/usr/local). deploy/Dockerfile is then built
# on it unchanged (NODE_IMAGE=<this image>).
#
#   scripts/image/base.sh        prints  base=<image reference>
#
# Cached in the image store of scripts/image/lib.sh, keyed by this script's code (not its
# comments), the Node.js and npm versions and the Debian suite and mirrors: the first build takes
# a few minutes (mostly mmdebstrap), later ones a second.
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian),
#              DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/image/lib.sh
source "$root/scripts/image/lib.sh"
require_buildah
command -v mmdebstrap >/dev/null 2>&1 || { echo "image: mmdebstrap is not installed (Debian: apt-get install mmdebstrap; scripts/ci-deps.sh installs it)" >&2; exit 1; }

suite=bookworm
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security_mirror="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
# The Node.js binary npm installed for the devDependency (node_modules/.bin/node links to it).
node_bin="$(readlink -f "$root/node_modules/.bin/node" || true)"
[[ -n "$node_bin" && -x "$node_bin" ]] || { echo "image: node_modules/.bin/node is missing; run npm ci first (the base takes Node.js from the devDependency)" >&2; exit 1; }
node_version="$("$node_bin" --version)"; node_version="${node_version#v}"
# The npm running `npm run image` (its user agent), else the one on PATH.
npm_version="${npm_config_user_agent:-}"; npm_version="${npm_version#npm/}"; npm_version="${npm_version%% *}"
[[ "$npm_version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || npm_version="$(npm --version)"

key="$( { printf '%s\n' "$suite" "$mirror" "$security_mirror" "$node_version" "$npm_version"; grep -v -E '^\s*#' "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-12)"
ref="localhost/hivewall-node-base:$node_version-$key"

build() {
  image_exists "$ref" && return
  local start=$SECONDS
  tmp="$(mktemp -d "$image_cache/base.XXXXXX")"
  echo "image: building base $ref (Debian $suite minbase + Node.js $node_version + npm $npm_version; a few minutes)" >&2
  # /usr/local as in the official node images: bin/node, bin/npm, bin/npx, lib/node_modules/npm.
  mkdir -p "$tmp/local/bin" "$tmp/local/lib/node_modules"
  cp "$node_bin" "$tmp/local/bin/node"
  (cd "$tmp" && npm pack --silent "npm@$npm_version" >/dev/null)
  tar -xzf "$tmp/npm-$npm_version.tgz" -C "$tmp/local/lib/node_modules"
  mv "$tmp/local/lib/node_modules/package" "$tmp/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/local/bin/npx"
  # merged-usr hook: /usr merged by symlinks as debootstrap does, instead of the usrmerge package
  # (which pulls in perl: +50 MiB).
  mmdebstrap --quiet --variant=minbase --format=tar \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook="sync-in $tmp/local /usr/local" \
    --customize-hook='chroot "$1" node -e "process.exit(0)"' \
    --customize-hook='chroot "$1" npm --version' \
    "$suite" "$tmp/rootfs.tar" \
    "deb $mirror $suite main" "deb $mirror $suite-updates main" "deb $security_mirror $suite-security main" >&2
  local c
  c="$(hw_buildah from scratch)"
  hw_buildah add "$c" "$tmp/rootfs.tar" / >/dev/null
  hw_buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$node_version" \
    --cmd node \
    --label org.opencontainers.image.description="Debian $suite minbase with Node.js $node_version and npm $npm_version (hivewall's local stand-in for node:24-slim)" \
    "$c"
  hw_buildah commit --quiet --rm "$c" "$ref" >/dev/null
  echo "image: built base $ref in $((SECONDS - start)) s" >&2
}

tmp=''
trap '[[ -z "$tmp" ]] || rm -rf "$tmp"' EXIT
with_lock base build
echo "base=$ref"
