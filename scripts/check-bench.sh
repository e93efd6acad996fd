#!/usr/bin/env bash
# Measures `s3dfs check` and records the result, with the command and the
# machine, under bench/results/.
#
#   scripts/check-bench.sh nodes [NODES]   nodes+tree phases over NODES nodes (default 1000000)
#   scripts/check-bench.sh blobs [NODES]   blob phase against versitygw, NODES files with a blob each (default 100000)
#
# The fixture is built once (by TestBenchFixture in decomposedfs/check,
# straight through metadata/mpk) below $CHECK_BENCH_DIR (default /dev/shm:
# tmpfs, because creating a million inodes on this machine's ext4 takes
# most of an hour) and reused by later runs. Peak RSS and times come from
# /usr/bin/time; the check runs three times, the first on a cold process.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:?usage: scripts/check-bench.sh nodes|blobs [NODES]}"
case "$mode" in
nodes) nodes="${2:-1000000}" ;;
blobs) nodes="${2:-100000}" ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
dir="${CHECK_BENCH_DIR:-/dev/shm}"
root="$dir/s3dfs-check-bench-$mode-$nodes"
out="bench/results/$(date -u +%Y-%m-%d)-check-$mode.txt"
mkdir -p bench/results bin
go build -o bin/s3dfs ./cmd/s3dfs

header() {
	echo "# command: scripts/check-bench.sh $mode $nodes"
	echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
	echo "# go: $(go version)"
	echo "# kernel: $(uname -sr)"
	echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
	echo "# memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
	echo "# metadata root: $root on $(df -T "$dir" | awk 'NR==2 {print $2}') ($(findmnt -no OPTIONS -T "$dir" 2>/dev/null || echo '?'))"
	echo "# sort spills to: ${TMPDIR:-/tmp} ($(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}'))"
}

run_check() { # args: the check's flags
	for i in 1 2 3; do
		echo "## run $i: s3dfs check $*"
		/usr/bin/time -f "peak RSS %M KiB, wall %e s, user %U s, sys %S s" \
			bin/s3dfs check --progress never --settle 0 --json "$@" >"$root.out.json" 2>"$root.time" || true
		tail -1 "$root.out.json" | python3 -c '
import json, sys
s = json.load(sys.stdin)
secs = s.get("seconds", {})
took = (lambda a, b: a and b and (b - a))
print("nodes %d (folders %d, files %d), blobs listed %d, findings %d, complete %s" % (
    s["nodes"], s["folders"], s["files"], s["blobs"], s["findings"], s["complete"]))
print("steps: " + ", ".join("%s %.2f s" % kv for kv in sorted(secs.items())))
if secs.get("spaces"):
    print("nodes/s over the walk and scan (spaces step): %.0f" % (s["nodes"] / secs["spaces"]))
if secs.get("blobs"):
    print("objects/s over the blob merge (blobs step): %.0f" % (s["blobs"] / secs["blobs"]))
'
		cat "$root.time"
	done
}

if [[ "$mode" == nodes ]]; then
	S3DFS_CHECK_BENCH_ROOT="$root" S3DFS_CHECK_BENCH_NODES="$nodes" \
		go test -count=1 -timeout 2h -run '^TestBenchFixture$' ./decomposedfs/check/ >&2
	{
		header
		echo "# fixture: $nodes nodes in one space, folders of 1000 files, 2 levels; no blobs (nodes,tree phases only)"
		run_check --root "$root" --phases nodes,tree
	} | tee "$out"
else
	cat >"$root.sh" <<EOF
set -euo pipefail
root="$root"
export S3DFS_S3_BUCKET=checkbench
S3DFS_CHECK_BENCH_ROOT="$root" S3DFS_CHECK_BENCH_NODES="$nodes" S3DFS_CHECK_BENCH_FANOUT=1000 S3DFS_CHECK_BENCH_S3=1 \
	go test -count=1 -timeout 2h -run '^TestBenchFixture\$' ./decomposedfs/check/ >&2
flags=(--root "$root" --s3-endpoint "\$S3DFS_S3_ENDPOINT" --s3-bucket checkbench)
echo "# S3: versitygw on loopback (scripts/with-s3.sh), posix backend in \${TMPDIR:-/tmp}"
echo "# fixture: $nodes files with a 1 KiB blob each; the check lists the bucket (split by prefix above 50000 references)"
echo "## blob phase (the walk that collects the references runs too):"
$(declare -f run_check)
run_check "\${flags[@]}" --phases blobs
EOF
	rm -rf "$root" # the bucket lives and dies with the S3 server
	{
		header
		scripts/with-s3.sh bash "$root.sh" 2>&1 | grep -v '^with-s3'
	} | tee "$out"
fi
rm -f "$root.out.json" "$root.time" "$root.sh"
echo "recorded in $out" >&2
