#!/usr/bin/env bash
# Runs the tests of one package with their temp directories (t.TempDir,
# which the driver's tests use as metadata roots) on a fresh `weed mount`
# of the SeaweedFS named by S3DFS_WEED_FILER (scripts/with-seaweedfs.sh
# sets it):
#
#   scripts/with-seaweedfs.sh scripts/test-on-weed-mount.sh ./decomposedfs/ [test flags]
#
# The test binary is built first and run with TMPDIR on the mount (go test
# itself would put its build directory there). A mount that does not
# appear fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg="${1:?usage: test-on-weed-mount.sh PACKAGE [test flags]}"
shift
: "${S3DFS_WEED_FILER:?S3DFS_WEED_FILER is not set: run under scripts/with-seaweedfs.sh}"
weed="${S3DFS_WEED:-$(scripts/install-seaweedfs.sh)}"

work="$(mktemp -d "${TMPDIR:-/tmp}/s3dfs-weedmount.XXXXXX")"
mnt="$work/mnt"
mkdir -p "$mnt" "$work/cache"
mpid=""
cleanup() {
	if grep -q " $mnt " /proc/self/mountinfo; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" || true
	fi
	if [[ -n "$mpid" ]] && kill -0 "$mpid" 2>/dev/null; then
		kill -TERM "$mpid" 2>/dev/null || true
		wait "$mpid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go test -c -o "$work/pkg.test" "$pkg"
"$weed" mount -filer="$S3DFS_WEED_FILER" -filer.path="/test-on-weed-mount-$(basename "$work")" -dir="$mnt" \
	-dirAutoCreate -cacheDir="$work/cache" -localSocket="$work/cache/mount.sock" >"$work/mount.log" 2>&1 &
mpid=$!
for _ in $(seq 1 300); do
	grep -q " $mnt " /proc/self/mountinfo && break
	if ! kill -0 "$mpid" 2>/dev/null; then
		echo "test-on-weed-mount: weed mount exited:" >&2
		tail -n 20 "$work/mount.log" >&2
		exit 1
	fi
	sleep 0.1
done
grep -q " $mnt " /proc/self/mountinfo || { echo "test-on-weed-mount: no mount on $mnt after 30 s" >&2; exit 1; }
mkdir "$mnt/tmp"
echo "test-on-weed-mount: $pkg with TMPDIR=$mnt/tmp (weed mount of $S3DFS_WEED_FILER)" >&2
(cd "$pkg" && TMPDIR="$mnt/tmp" "$work/pkg.test" -test.count=1 -test.timeout=30m "$@")
