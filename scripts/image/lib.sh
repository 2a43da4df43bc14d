# Shared by scripts/image/*.sh (sourced, not run): where images are cached and how buildah is called.
#
# Images live in a buildah store OUTSIDE the checkout, under
# ${HIVEWALL_CACHE_DIR:-$HOME/.cache/hivewall}/image, so a fresh clone on the same machine (CI)
# reuses them, like the Go-built binaries of test/envtest/build.sh. Builds run under flock.

image_cache="${HIVEWALL_CACHE_DIR:-${HOME:-/root}/.cache/hivewall}/image"
mkdir -p "$image_cache"

# buildah on the cache's own store. Chroot isolation: no OCI runtime, no cgroups needed (crun
# refuses this machine's hybrid cgroup layout; chroot does not care).
hw_buildah() {
  buildah --root "$image_cache/store" --runroot "$image_cache/run" "$@"
}
export BUILDAH_ISOLATION=chroot

# image_exists <ref>: whether the store holds <ref>.
image_exists() {
  hw_buildah inspect --type image --format '{{.FromImageID}}' "$1" >/dev/null 2>&1
}

# sha256 of the named files' contents and names, short.
hash_files() {
  local f
  for f in "$@"; do printf '%s\0' "$f"; cat "$f"; done | sha256sum | cut -c1-16
}

# with_lock <name> <command...>: runs the command holding $image_cache/.<name>.lock (released
# when the command returns, or when the script exits on its error).
with_lock() {
  local name="$1"; shift
  local fd
  exec {fd}>"$image_cache/.$name.lock"
  flock "$fd"
  "$@"
  flock -u "$fd"
  exec {fd}>&-
}

require_buildah() {
  command -v buildah >/dev/null 2>&1 || { echo "image: buildah is not installed (Debian: apt-get install buildah; scripts/ci-deps.sh installs it)" >&2; exit 1; }
}
