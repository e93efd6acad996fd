#!/usr/bin/env bash
# Runs a command with SeaweedFS (`weed mini`) on free loopback ports, as
# scripts/with-s3.sh does with versitygw: builds weed if missing
# (scripts/install-seaweedfs.sh), starts it, exports S3DFS_S3_ENDPOINT,
# S3DFS_S3_ACCESS_KEY, S3DFS_S3_SECRET_KEY, S3DFS_S3_REGION,
# S3DFS_S3_SERVER=seaweedfs (the tests know its quirks by that name) and
# S3DFS_WEED_FILER (for weed mount), runs the command, and stops the server
# however the command ends. A server that cannot be built or started
# fails the run.
#
#   scripts/with-seaweedfs.sh go test ./blobstore/s3/
set -euo pipefail
cd "$(dirname "$0")/.."

S3DFS_WEED="$(scripts/install-seaweedfs.sh)"
export S3DFS_WEED

work="$(mktemp -d "${TMPDIR:-/tmp}/s3dfs-weed.XXXXXX")"
pid=""
cleanup() {
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$work/weedserver" ./internal/tools/weedserver
"$work/weedserver" -dir "$work/data" -env "$work/weed.env" &
pid=$!
for _ in $(seq 1 900); do
	[[ -f "$work/weed.env" ]] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "with-seaweedfs: SeaweedFS did not start" >&2
		exit 1
	fi
	sleep 0.1
done
if [[ ! -f "$work/weed.env" ]]; then
	echo "with-seaweedfs: SeaweedFS did not become ready in 90 s" >&2
	exit 1
fi
set -a
# shellcheck disable=SC1091
. "$work/weed.env"
set +a
echo "with-seaweedfs: SeaweedFS S3 on $S3DFS_S3_ENDPOINT, filer $S3DFS_WEED_FILER" >&2
"$@"
