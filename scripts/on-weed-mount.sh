#!/usr/bin/env bash
# Runs a command with a fresh `weed mount` of the SeaweedFS named by
# S3DFS_WEED_FILER (scripts/with-seaweedfs.sh sets it): a new filer path,
# mounted with fuse3 below a temp directory, its mount point exported as
# S3DFS_WEED_MOUNT; unmounted however the command ends. A mount that does
# not appear fails the run.
#
#   scripts/with-seaweedfs.sh scripts/on-weed-mount.sh sh -c 'ls "$S3DFS_WEED_MOUNT"'
set -euo pipefail
cd "$(dirname "$0")/.."
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

"$weed" mount -filer="$S3DFS_WEED_FILER" -filer.path="/on-weed-mount-$(basename "$work")" -dir="$mnt" \
	-dirAutoCreate -cacheDir="$work/cache" -localSocket="$work/cache/mount.sock" >"$work/mount.log" 2>&1 &
mpid=$!
for _ in $(seq 1 300); do
	grep -q " $mnt " /proc/self/mountinfo && break
	if ! kill -0 "$mpid" 2>/dev/null; then
		echo "on-weed-mount: weed mount exited:" >&2
		tail -n 20 "$work/mount.log" >&2
		exit 1
	fi
	sleep 0.1
done
grep -q " $mnt " /proc/self/mountinfo || { echo "on-weed-mount: no mount on $mnt after 30 s" >&2; exit 1; }
export S3DFS_WEED_MOUNT="$mnt"
echo "on-weed-mount: $S3DFS_WEED_FILER mounted on $mnt" >&2
"$@"
