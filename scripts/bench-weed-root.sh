#!/usr/bin/env bash
# PROPFIND and PUT of `s3dfs serve` with its metadata root on a weed mount
# beside one on the local disk (bench/rootfs), the report into
# bench/results/<date>-rootfs.md:
#
#   scripts/bench-weed-root.sh
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/with-seaweedfs.sh scripts/on-weed-mount.sh bash -c \
	'go run ./bench/rootfs -root "local-disk=${TMPDIR:-/tmp}" -root "weed-mount=$S3DFS_WEED_MOUNT" -out bench/results'
