#!/usr/bin/env bash
# Runs Go benchmarks against a local versitygw and records the output, with
# the command and the machine, under bench/results/.
#
#   scripts/bench.sh NAME [go test flags...] PACKAGES...
#   scripts/bench.sh core -bench . -benchtime 2s -count 5 ./decomposedfs/
set -euo pipefail
cd "$(dirname "$0")/.."
name="$1"; shift
out="bench/results/$(date -u +%Y-%m-%d)-$name.txt"
mkdir -p bench/results
{
	echo "# command: scripts/bench.sh $name $*"
	echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
	echo "# go: $(go version)"
	echo "# kernel: $(uname -sr)"
	echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
	echo "# memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
	echo "# filesystem of TMPDIR (${TMPDIR:-/tmp}): $(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}') ($(findmnt -no OPTIONS -T "${TMPDIR:-/tmp}" 2>/dev/null || echo '?'))"
	echo "# S3: versitygw $(go version -m "$(scripts/install-versitygw.sh)" | awk '$1=="mod" {print $3}') on loopback, posix backend on the same filesystem"
	echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
	scripts/with-s3.sh go test -run '^$' -benchmem "$@" 2>&1 | grep -v '^with-s3'
} | tee "$out"
echo "recorded in $out" >&2
