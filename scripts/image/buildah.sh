#!/usr/bin/env bash
# buildah on hivewall's image store (scripts/image/lib.sh), e.g. to look at a built image:
#
#   scripts/image/buildah.sh images
#   scripts/image/buildah.sh run --user 65532:65532 "$(scripts/image/buildah.sh from ghcr.io/hivewall/hivewall:0.1.0)" -- node /app/bin/hivewall.js --help
set -euo pipefail
# shellcheck source=scripts/image/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
require_buildah
hw_buildah "$@"
