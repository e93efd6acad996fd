#!/usr/bin/env bash
# Runs a command with a local versitygw S3 server on a free loopback port:
# installs versitygw if missing, starts it, exports S3DFS_S3_ENDPOINT,
# S3DFS_S3_ACCESS_KEY, S3DFS_S3_SECRET_KEY and S3DFS_S3_REGION, runs the
# command, and stops the server however the command ends.
#
#   scripts/with-s3.sh go test ./...
set -euo pipefail
cd "$(dirname "$0")/.."

S3DFS_VERSITYGW="$(scripts/install-versitygw.sh)"
export S3DFS_VERSITYGW

work="$(mktemp -d "${TMPDIR:-/tmp}/s3dfs-s3.XXXXXX")"
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

go build -o "$work/s3server" ./internal/tools/s3server
"$work/s3server" -dir "$work/data" -env "$work/s3.env" &
pid=$!
for _ in $(seq 1 300); do
	[[ -f "$work/s3.env" ]] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "with-s3: the S3 server did not start" >&2
		exit 1
	fi
	sleep 0.1
done
if [[ ! -f "$work/s3.env" ]]; then
	echo "with-s3: the S3 server did not become ready in 30 s" >&2
	exit 1
fi
set -a
# shellcheck disable=SC1091
. "$work/s3.env"
set +a
echo "with-s3: versitygw on $S3DFS_S3_ENDPOINT" >&2
"$@"
