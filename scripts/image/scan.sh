#!/usr/bin/env bash
# Vulnerability checks of a built image, one line per check on stdout; exits 1 on a finding.
# Called by scripts/image/inspect.sh with a working container of the image and its mount point.
#
#   npm     `npm audit --omit=dev` of /app's lockfile: fails on an advisory rated critical.
#           Needs the registry's advisory endpoint (a POST); where only package downloads are
#           reachable the line says so and the check does not count.
#   debian  the image's packages against the Debian archive's bookworm-security suite
#           (`apt-get -s upgrade` in the container): fails when a package has a security update
#           the image lacks. The archive carries no severity, so any pending security fix fails.
#   node    the Node.js runtime: no advisory source is reachable from a package registry; the line
#           names the version so a reviewer can check it.
#
#   scripts/image/scan.sh <working container> <its mount point>
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/image/lib.sh
source "$root/scripts/image/lib.sh"
c="$1" m="$2"
found=0

# ---- npm
audit="$(cd "$m/app" && npm audit --omit=dev --json 2>/dev/null || true)"
npm_line="$(AUDIT="$audit" node -e '
  let r; try { r = JSON.parse(process.env.AUDIT); } catch { r = { error: { summary: "no JSON from npm audit" } }; }
  if (r.error || r.message) {
    const why = (r.message ?? r.error?.summary ?? "unknown error").split("\n")[0];
    console.log(`npm: advisory database not reachable (${why}); not checked`);
  } else {
    const v = r.metadata?.vulnerabilities ?? {};
    const critical = Object.values(r.vulnerabilities ?? {}).filter((x) => x.severity === "critical").map((x) => x.name);
    const counts = ["critical", "high", "moderate", "low"].map((s) => `${s}=${v[s] ?? 0}`).join(" ");
    console.log(critical.length > 0 ? `npm: FAIL critical advisories in ${critical.sort().join(", ")} (${counts})` : `npm: ok, no critical advisory (${counts})`);
  }')"
echo "$npm_line"
[[ "$npm_line" == "npm: FAIL"* ]] && found=1

# ---- Debian
if apt_out="$(hw_buildah run --user 0:0 --network host "$c" -- sh -c 'apt-get update -qq 2>&1; echo "--- simulate"; apt-get -s -o Debug::NoLocking=1 upgrade 2>&1')"; then
  if grep -q -E '^(W|E): (Failed to fetch|Some index files failed)' <<<"$apt_out"; then
    echo "debian: archive not reachable ($(grep -m1 -E '^(W|E):' <<<"$apt_out")); not checked"
  else
    pending="$(sed -n '/^--- simulate/,$p' <<<"$apt_out" | awk '/^Inst / && /[Ss]ecurity/ { gsub(/[][]/, "", $3); sub(/^\(/, "", $4); printf "%s%s %s -> %s", sep, $2, $3, $4; sep = ", " }')"
    if [[ -n "$pending" ]]; then
      echo "debian: FAIL security updates not in the image: $pending"
      found=1
    else
      echo "debian: ok, every package is at its bookworm-security version ($(sed -n '/^--- simulate/,$p' <<<"$apt_out" | grep -c '^Inst ' || true) non-security updates pending)"
    fi
  fi
else
  echo "debian: could not run apt-get in the image; not checked"
fi

# ---- Node.js runtime
echo "node: Node.js $(chroot "$m" /usr/local/bin/node --version) runtime; no advisory database reachable here; not checked"
exit "$found"
