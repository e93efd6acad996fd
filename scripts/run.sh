#!/usr/bin/env bash
# `make run`: `s3dfs serve` on a fresh root with its content in a local
# versitygw S3 server, a demo user (demo / demo), on 127.0.0.1:8080 or the
# next free port. Runs in the foreground until Ctrl-C, then stops both
# servers and removes the root and the bucket's data.
#
#   scripts/run.sh [extra s3dfs serve flags...]      (S3DFS_PORT=9000 to start elsewhere)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${S3DFS_RUN_INNER:-}" ]]; then
	# The version as the Makefile stamps it, so that `s3dfs version` says
	# what was built.
	version="$(git describe --tags --always --dirty 2>/dev/null || echo dev)"
	go build -ldflags "-X github.com/s3dfs/s3dfs/cmd/s3dfs/cli.Version=$version" -o bin/s3dfs ./cmd/s3dfs
	S3DFS_RUN_INNER=1 exec scripts/with-s3.sh "$0" "$@"
fi

root="$(mktemp -d "${TMPDIR:-/tmp}/s3dfs-run.XXXXXX")"
pid=""
cleanup() {
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port="${S3DFS_PORT:-8080}"
while ! port_free "$port"; do
	port=$((port + 1))
done

# The store: its metadata in $root, its blobs in the bucket s3dfs-run of the
# versitygw that with-s3.sh started (s3dfs init creates the bucket).
export S3DFS_S3_BUCKET=s3dfs-run
bin/s3dfs init --root "$root" --blobstore s3 >/dev/null
printf 'demo\n' | bin/s3dfs user add --root "$root" demo
# stdout ("s3dfs: serving URL") to a file that exists before the server
# starts; the log (stderr) stays on the terminal.
out="$root/serve.out"
: >"$out"
bin/s3dfs serve --root "$root" --blobstore s3 --addr "127.0.0.1:$port" "$@" >"$out" &
pid=$!
url=""
for _ in $(seq 1 300); do
	url="$(sed -n 's/^s3dfs: serving //p' "$out" || true)"
	[[ -n "$url" ]] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "run: s3dfs serve exited before it served (its log is above)" >&2
		exit 1
	fi
	sleep 0.1
done
[[ -n "$url" ]] || { echo "run: s3dfs serve did not start in 30 s" >&2; exit 1; }

cat <<INFO

  s3dfs serve is running on ${url} (content in versitygw at $S3DFS_S3_ENDPOINT)

  WebDAV:       ${url}dav/files/demo/     (ownCloud clients: ${url}remote.php/webdav/)
  user / pass:  demo / demo
  metrics:      ${url}metrics

  Try:
    rclone lsf -R --webdav-url ${url}dav/files/demo/ --webdav-vendor owncloud \\
        --webdav-user demo --webdav-pass "\$(rclone obscure demo)" :webdav:
    rclone copy ./somedir --webdav-url ${url}dav/files/demo/ --webdav-vendor owncloud \\
        --webdav-user demo --webdav-pass "\$(rclone obscure demo)" :webdav:somedir
    cadaver ${url}dav/files/demo/          (user demo, password demo)
    curl -u demo:demo -T README.md ${url}dav/files/demo/README.md

  Admin commands on this store (in another shell; s3dfs refuses any other
  bucket than the store's):
    export S3DFS_ROOT=$root
    export S3DFS_S3_ENDPOINT=$S3DFS_S3_ENDPOINT S3DFS_S3_BUCKET=$S3DFS_S3_BUCKET S3DFS_S3_REGION=$S3DFS_S3_REGION
    export S3DFS_S3_ACCESS_KEY=$S3DFS_S3_ACCESS_KEY S3DFS_S3_SECRET_KEY=$S3DFS_S3_SECRET_KEY
    bin/s3dfs fs ls --space demo -l /        (demo's files, once demo has logged in)
    bin/s3dfs check                          (read-only; --repair to repair)

  $(bin/s3dfs version)
  Metadata root: $root (removed on exit). Ctrl-C stops everything.

INFO
wait "$pid"
