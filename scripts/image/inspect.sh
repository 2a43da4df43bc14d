#!/usr/bin/env bash
# After a build (scripts/image/build.sh): what the image is made of, its SBOM, and the
# vulnerability checks that can run here. Fails when a check finds a known vulnerability.
#
#   scripts/image/inspect.sh <image reference> <output folder>
#
# Writes to the output folder:
#   summary.txt      size and composition (printed by every build, cached or not)
#   sbom.spdx.json   SPDX 2.3: the npm packages in /app/node_modules (`npm sbom`), the Debian
#                    packages (the image's dpkg database) and the Node.js runtime
#   packages.txt     the same as a plain table: name, version, type
#   scan.txt         what each vulnerability check found, or why it could not run
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/image/lib.sh
source "$root/scripts/image/lib.sh"
ref="$1" out="$2"
mkdir -p "$out"

c="$(hw_buildah from --pull=false "$ref")"
trap 'hw_buildah rm "$c" >/dev/null' EXIT
m="$(hw_buildah mount "$c")"

# ---- size and composition (bytes on disk of the unpacked file system)
bytes() { { du -sb "$@" 2>/dev/null || true; } | awk '{ s += $1 } END { print s + 0 }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
total="$(bytes "$m")"
node_rt="$(bytes "$m/usr/local/bin/node" "$m/usr/local/include/node")"
modules="$(bytes "$m/app/node_modules")"
app_code="$(( $(bytes "$m/app") - modules ))"
debian="$(( total - node_rt - modules - app_code ))"
largest_modules="$(cd "$m/app/node_modules" && { du -sb -- [!@]* @*/* 2>/dev/null || true; } | sort -rn | head -5 | awk '{ printf "%s%s %.1f MiB", sep, $2, $1 / 1048576; sep = ", " }')"
largest_debs="$(dpkg-query --admindir="$m/var/lib/dpkg" -W -f='${Installed-Size}\t${Package}\n' | sort -rn | head -5 | awk '{ printf "%s%s %.1f MiB", sep, $2, $1 / 1024; sep = ", " }')"
deb_count="$(dpkg-query --admindir="$m/var/lib/dpkg" -W -f='${db:Status-Abbrev}\n' | grep -c '^ii')"
npm_count="$(find "$m/app/node_modules" -name package.json -path '*/node_modules/*/package.json' -not -path '*/node_modules/*/*/*/package.json' | wc -l)"
node_version="$(chroot "$m" /usr/local/bin/node --version 2>/dev/null || echo unknown)"

# ---- SBOM
(cd "$m/app" && npm sbom --omit=dev --package-lock-only --sbom-format=spdx --sbom-type=application) >"$out/npm-sbom.json"
dpkg-query --admindir="$m/var/lib/dpkg" -W \
  -f='${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n' |
  awk -F'\t' '$1 ~ /^ii/ { print $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 }' >"$out/dpkg.tsv"
created="$(hw_buildah inspect --type image --format '{{.OCIv1.Created.UTC.Format "2006-01-02T15:04:05Z"}}' "$ref")"
node "$root/scripts/image/sbom.mjs" --image "$ref" --created "$created" --npm "$out/npm-sbom.json" --dpkg "$out/dpkg.tsv" \
  --node "${node_version#v}" --spdx "$out/sbom.spdx.json" --table "$out/packages.txt"
rm -f "$out/npm-sbom.json" "$out/dpkg.tsv"

# ---- vulnerability checks (fail the build on a finding; say plainly when one cannot run)
status=0
bash "$root/scripts/image/scan.sh" "$c" "$m" >"$out/scan.txt" || status=$?
cat "$out/scan.txt" >&2
if ((status != 0)); then
  echo "image: vulnerability check failed (see above); not caching this build" >&2
  exit "$status"
fi

row() { printf '  %-36s %11s   %s\n' "$1" "$(mib "$2")" "${3:-}"; }
{
  echo "image $ref: $(mib "$total") unpacked"
  row "Debian bookworm ($deb_count packages)" "$debian" "largest: $largest_debs"
  row "Node.js runtime $node_version" "$node_rt"
  row "node_modules ($npm_count packages)" "$modules" "largest: $largest_modules"
  row "hivewall (dist, bin, .proto)" "$app_code"
  echo "  sbom: $out/sbom.spdx.json ($(wc -l <"$out/packages.txt") packages; table: packages.txt)"
  echo "  scan: $out/scan.txt"
} >"$out/summary.txt"
