#!/usr/bin/env bash
# Runs the litmus WebDAV test suites against `s3dfs serve` backed by a real
# S3 server (versitygw, started by scripts/with-s3.sh), one suite at a time,
# and fails if any suite has a failure or a skipped test. litmus exits 0
# even when tests fail in some modes, so both its exit status and its
# "<- summary" line are checked; warnings are printed but do not fail.
#
#   scripts/litmus.sh                      # basic copymove props locks http
#   LITMUS_SUITES="props locks" scripts/litmus.sh
set -euo pipefail
cd "$(dirname "$0")/.."

suites="${LITMUS_SUITES:-basic copymove props locks http}"

if [[ -z "${S3DFS_LITMUS_INNER:-}" ]]; then
	if ! command -v litmus >/dev/null 2>&1; then
		echo "litmus: installing the Debian package litmus" >&2
		sudo=""
		[[ "$(id -u)" != 0 ]] && sudo="sudo"
		$sudo apt-get install -y litmus >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y litmus >&2; }
	fi
	S3DFS_LITMUS_INNER=1 exec scripts/with-s3.sh "$0" "$@"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/s3dfs-litmus.XXXXXX")"
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

go build -o "$work/s3dfs" ./cmd/s3dfs
user=litmus
pass="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -p "$work/run"
# s3dfs init creates the store (and its bucket); serve refuses any other.
export S3DFS_S3_BUCKET="s3dfs-litmus"
"$work/s3dfs" init --root "$work/root" --blobstore s3 >/dev/null
printf '%s\n' "$pass" | "$work/s3dfs" user add --root "$work/root" "$user"

"$work/s3dfs" serve --root "$work/root" --blobstore s3 \
	--addr 127.0.0.1:0 --log-level warn >"$work/serve.out" 2>"$work/serve.log" &
pid=$!
url=""
for _ in $(seq 1 300); do
	url="$(sed -n 's/^s3dfs: serving //p' "$work/serve.out")"
	[[ -n "$url" ]] && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "litmus: s3dfs serve did not start:" >&2
		cat "$work/serve.log" >&2
		exit 1
	fi
	sleep 0.1
done
if [[ -z "$url" ]]; then
	echo "litmus: s3dfs serve did not start in 30 s" >&2
	exit 1
fi
url="${url}dav/files/$user/"
echo "litmus: s3dfs serve on $url (S3 at $S3DFS_S3_ENDPOINT)" >&2

failed=0
summaries=()
for suite in $suites; do
	out="$work/run/$suite.out"
	status=0
	# litmus writes debug.log and child.log into its working directory.
	(cd "$work/run" && TESTS="$suite" timeout 600 litmus "$url" "$user" "$pass") >"$out" 2>&1 || status=$?
	summary="$(grep -a "^<- summary for \`$suite'" "$out" || true)"
	warnings="$(grep -a -E '^-> [0-9]+ warnings? (was|were) issued' "$out" | grep -oE '[0-9]+' | head -1 || true)"
	skipped="$(grep -a -E '^-> [0-9]+ tests? (was|were) skipped' "$out" | grep -oE '[0-9]+' | head -1 || true)"
	fails="$(sed -n 's/.* passed, \([0-9]*\) failed.*/\1/p' <<<"$summary")"
	grep -a -E 'WARNING:' "$out" | sed "s/^/litmus $suite: /" >&2 || true
	line="$suite: ${summary#<- summary for \`$suite\': } warnings: ${warnings:-0}, skipped: ${skipped:-0}, exit status $status"
	summaries+=("$line")
	if [[ "$status" != 0 || -z "$summary" || "$fails" != 0 || -n "$skipped" ]]; then
		failed=1
		echo "litmus: suite $suite FAILED:" >&2
		cat "$out" >&2
	fi
done

echo "== litmus against s3dfs serve (S3: versitygw)" >&2
printf '  %s\n' "${summaries[@]}" >&2
if [[ "$failed" != 0 ]]; then
	echo "litmus: FAILED; the server log follows" >&2
	tail -n 50 "$work/serve.log" >&2
	exit 1
fi
