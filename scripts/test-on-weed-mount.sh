#!/usr/bin/env bash
# Runs the tests of one package with their temp directories (t.TempDir,
# which the driver's tests use as metadata roots) on a fresh `weed mount`
# (scripts/on-weed-mount.sh) of the SeaweedFS that scripts/with-seaweedfs.sh
# started:
#
#   scripts/with-seaweedfs.sh scripts/test-on-weed-mount.sh ./decomposedfs/ [test flags]
#
# The test binary is built first, on local disk, and run with TMPDIR on the
# mount (go test would put its build directory there too).
set -euo pipefail
cd "$(dirname "$0")/.."
pkg="${1:?usage: test-on-weed-mount.sh PACKAGE [test flags]}"
shift
bin="$(mktemp -d "${TMPDIR:-/tmp}/s3dfs-testbin.XXXXXX")"
trap 'rm -rf "$bin"' EXIT
go test -c -o "$bin/pkg.test" "$pkg"
export S3DFS_TEST_PKG="$pkg" S3DFS_TEST_BIN="$bin/pkg.test"
scripts/on-weed-mount.sh bash -c '
	mkdir "$S3DFS_WEED_MOUNT/tmp"
	echo "test-on-weed-mount: $S3DFS_TEST_PKG with TMPDIR=$S3DFS_WEED_MOUNT/tmp" >&2
	cd "$S3DFS_TEST_PKG" && TMPDIR="$S3DFS_WEED_MOUNT/tmp" "$S3DFS_TEST_BIN" -test.count=1 -test.timeout=30m "$@"' bash "$@"
