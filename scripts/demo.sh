#!/usr/bin/env bash
# Runs under scripts/with-s3.sh, which exports the S3 server's address.
set -euo pipefail
s3dfs=bin/s3dfs
root="$(mktemp -d "${TMPDIR:-/tmp}/s3dfs-demo.XXXXXX")"
trap 'rm -rf "$root"' EXIT
export S3DFS_ROOT="$root" S3DFS_BLOBSTORE=s3 S3DFS_S3_BUCKET=s3dfs-demo
run() { printf '\n$ %s\n' "$*"; "$@"; }

head -c 3000000 /dev/urandom >"$root/big.bin"
echo "hello, s3dfs" >"$root/hello.txt"
run $s3dfs version
run $s3dfs fs mkdir -p /docs/2026
run $s3dfs fs put "$root/hello.txt" /docs/hello.txt
run $s3dfs fs put "$root/big.bin" /docs/2026/big.bin
run $s3dfs fs ls -l /docs
run $s3dfs fs stat /docs/2026/big.bin
run $s3dfs fs get /docs/hello.txt -
run $s3dfs fs mv /docs/2026 /archive
run $s3dfs fs ls -l /
run $s3dfs fs rm /docs/hello.txt
run $s3dfs fs ls -l /docs
run $s3dfs fs spaces
printf '\nmetadata root: %s (removed on exit); blobs in bucket %s at %s\n' "$root" "$S3DFS_S3_BUCKET" "$S3DFS_S3_ENDPOINT"
