#!/usr/bin/env bash
# Times nextcloudcmd against `s3dfs serve` with the content in versitygw
# (scripts/with-s3.sh): the first sync of 1 000 small files (2 000 bytes
# each) and of one 1 GiB file, up into an empty account, then syncs that
# change nothing; and a fresh sync of each down into an empty folder.
# Every sync is a new nextcloudcmd process; its wall time is measured from
# outside, and its requests are counted in the server's log. Prints a
# Markdown table with the machine and its load.
#
#   scripts/bench-clients.sh                  # 3 no-change resyncs each
#   RESYNCS=10 scripts/bench-clients.sh
#   BENCH_KEEP=1 scripts/bench-clients.sh     # keep the work directory
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${S3DFS_BENCH_INNER:-}" ]]; then
	command -v nextcloudcmd >/dev/null || { echo "bench-clients: nextcloudcmd is missing (apt-get install nextcloud-desktop-cmd)" >&2; exit 1; }
	S3DFS_BENCH_INNER=1 exec timeout -k 30 3600 scripts/with-s3.sh "$0" "$@"
fi

resyncs="${RESYNCS:-3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/s3dfs-bench-clients.XXXXXX")"
pid=""
cleanup() {
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	[[ -n "${BENCH_KEEP:-}" ]] && echo "bench-clients: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "bench-clients: FAILED: $*" >&2; exit 1; }

go build -o "$work/s3dfs" ./cmd/s3dfs
mkdir -p "$work/root"
pass="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$work/s3dfs" init --root "$work/root" --blobstore s3 --s3-bucket "bench-clients-$$" >/dev/null
for u in small big; do printf '%s\n' "$pass" | "$work/s3dfs" user add --root "$work/root" "$u" >/dev/null; done
"$work/s3dfs" serve --root "$work/root" --blobstore s3 --s3-bucket "bench-clients-$$" --addr 127.0.0.1:0 --log-level info \
	>"$work/serve.out" 2>"$work/serve.log" &
pid=$!
base=""
for _ in $(seq 1 300); do
	base="$(sed -n 's/^s3dfs: serving //p' "$work/serve.out")"
	[[ -n "$base" ]] && break
	kill -0 "$pid" 2>/dev/null || fail "s3dfs serve did not start"
	sleep 0.1
done
[[ -n "$base" ]] || fail "s3dfs serve did not start"

requests() { grep -c 'msg=request ' "$work/serve.log" || true; }
# timed USER DIR LABEL syncs DIR once and prints a table row.
timed() {
	local r0 t0 t1
	r0=$(requests)
	t0=$(date +%s%N)
	timeout 1800 nextcloudcmd --non-interactive -u "$1" -p "$pass" "$2" "$base" >"$work/last.log" 2>&1 || fail "$3: nextcloudcmd exited $?"
	t1=$(date +%s%N)
	printf '| %s | %d.%03d s | %d |\n' "$3" $(((t1 - t0) / 1000000000)) $(((t1 - t0) / 1000000 % 1000)) $(($(requests) - r0))
}

mkdir -p "$work/small/up/files" "$work/small/down" "$work/big/up" "$work/big/down"
for i in $(seq -w 1 1000); do head -c 2000 /dev/urandom >"$work/small/up/files/f$i.txt"; done
head -c $((1 << 30)) /dev/urandom >"$work/big/up/one GiB.bin"

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "nextcloudcmd: $(nextcloudcmd --version 2>&1 | head -1); s3dfs: $(git describe --always --dirty 2>/dev/null || echo '?'); S3: versitygw on $S3DFS_S3_ENDPOINT"
echo
echo "| sync | wall | requests |"
echo "|---|---|---|"
timed small "$work/small/up" "1 000 files of 2 000 bytes, first sync (up)"
for i in $(seq 1 "$resyncs"); do
	last_from=$(requests)
	timed small "$work/small/up" "1 000 files, no-change resync $i"
	last_to=$(requests)
done
timed small "$work/small/down" "1 000 files, fresh sync (down)"
timed big "$work/big/up" "1 GiB file, first sync (up)"
for i in $(seq 1 "$resyncs"); do timed big "$work/big/up" "1 GiB file, no-change resync $i"; done
timed big "$work/big/down" "1 GiB file, fresh sync (down)"
cmp -s "$work/big/up/one GiB.bin" "$work/big/down/one GiB.bin" || fail "the 1 GiB file came back different"
diff -r -x '.*' "$work/small/up" "$work/small/down" >/dev/null || fail "the 1 000 files came back different"
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "the requests of the last no-change resync of the 1 000 files:"
awk '/msg=request / {n++; if (n > from && n <= to) {for (i = 1; i <= NF; i++) if ($i ~ /^(method|path|status|ms)=/) printf "%s ", $i; print ""}}' \
	from="$last_from" to="$last_to" "$work/serve.log" | sed 's/^/    /'
