#!/usr/bin/env bash
# The project's test suite: formatting, vet, and every test against a real
# S3 server (versitygw, installed and started by scripts/with-s3.sh). A
# missing server fails the run; nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt" >&2
unformatted="$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))"
if [[ -n "$unformatted" ]]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo "== go vet" >&2
go vet ./...
echo "== go test" >&2
scripts/with-s3.sh go test -count=1 -timeout 45m "$@" ./...
# The driver's tests are its contract with every metadata backend: run
# them again on the others (PostgreSQL is started by the tests' own helper;
# the few tests of mpk's files themselves skip, saying why).
for meta in xattr sqlite postgres; do
	echo "== go test ./decomposedfs on $meta" >&2
	S3DFS_TEST_METADATA=$meta scripts/with-s3.sh go test -count=1 -timeout 15m "$@" ./decomposedfs/
done
echo "== s3dfs bench --quick" >&2 && go run ./cmd/s3dfs bench --quick
echo "== litmus" >&2
scripts/litmus.sh
echo "== rclone" >&2
scripts/rclone.sh
echo "== desktop clients" >&2
scripts/clients.sh
echo "== davfs2" >&2
scripts/davfs2.sh
