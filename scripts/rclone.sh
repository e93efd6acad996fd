#!/usr/bin/env bash
# Runs rclone, a real WebDAV client, against `s3dfs serve` backed by a real
# S3 server (versitygw, started by scripts/with-s3.sh):
#
#  1. round trip: a local tree of 200+ files (folders 4 deep, an empty
#     folder, a 0-byte file, a 30 MiB file, names with spaces, # % ? & and
#     quotes, non-ASCII) is copied into the server with rclone's on-the-fly
#     :webdav: remote (vendor owncloud), checked with `rclone check
#     --download`, copied again (which must transfer nothing: sizes and
#     times survived), copied back out, checked again, and compared with
#     diff -r;
#  2. MOVE is metadata only: a folder of 1 000 files is moved with a plain
#     WebDAV MOVE; it must arrive whole, its old path must be 404, and the
#     bucket must hold exactly the same objects (keys, sizes, times) as
#     before: no blob copied or uploaded again.
#
# Any failure exits non-zero with a message that says what differed.
#
#   scripts/rclone.sh
#   RCLONE_KEEP=1 scripts/rclone.sh     # keep the work directory for a look
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${S3DFS_RCLONE_INNER:-}" ]]; then
	if ! command -v rclone >/dev/null 2>&1; then
		echo "rclone: installing the Debian package rclone" >&2
		sudo=""
		[[ "$(id -u)" != 0 ]] && sudo="sudo"
		$sudo apt-get install -y rclone >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y rclone >&2; }
	fi
	S3DFS_RCLONE_INNER=1 exec scripts/with-s3.sh "$0" "$@"
fi

start=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/s3dfs-rclone.XXXXXX")"
pid=""
cleanup() {
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [[ -n "${RCLONE_KEEP:-}" ]]; then
		echo "rclone: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "rclone: FAILED: $*" >&2
	if [[ -f "$work/serve.log" ]]; then
		echo "rclone: the server log (tail) follows" >&2
		tail -n 30 "$work/serve.log" >&2
	fi
	exit 1
}
step() { printf 'rclone: [%3ds] %s\n' "$((SECONDS - start))" "$*" >&2; }

# rc NAME ARGS... runs rclone with its log in $work/NAME.log. This
# machine's AWS_CA_BUNDLE breaks rclone's S3 backend (the S3 server here is
# plain http anyway); an empty config file keeps any user config out; no
# retries, so that a flaky answer is a failure, not a slow success.
: >"$work/rclone.conf"
rc() {
	local name="$1"
	shift
	env -u AWS_CA_BUNDLE rclone --config "$work/rclone.conf" --log-file "$work/$name.log" \
		--low-level-retries 1 --retries 1 "$@"
}
# log NAME prints the end of an rclone log, for a failure message.
log() { printf '\n%s' "$(grep -v '^$' "$work/$1.log" | tail -n 30)"; }

# --- the server -------------------------------------------------------------

go build -o "$work/s3dfs" ./cmd/s3dfs
user=rclone
pass="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
bucket="s3dfs-rclone-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# s3dfs init creates the store (and its bucket); serve refuses any other.
export S3DFS_S3_BUCKET="$bucket"
"$work/s3dfs" init --root "$work/root" --blobstore s3 >/dev/null
printf '%s\n' "$pass" | "$work/s3dfs" user add --root "$work/root" "$user" >/dev/null

"$work/s3dfs" serve --root "$work/root" --blobstore s3 \
	--addr 127.0.0.1:0 --log-level warn >"$work/serve.out" 2>"$work/serve.log" &
pid=$!
base=""
for _ in $(seq 1 300); do
	base="$(sed -n 's/^s3dfs: serving //p' "$work/serve.out")"
	[[ -n "$base" ]] && break
	kill -0 "$pid" 2>/dev/null || fail "s3dfs serve did not start"
	sleep 0.1
done
[[ -n "$base" ]] || fail "s3dfs serve did not start in 30 s"
url="${base}dav/files/$user/"
step "s3dfs serve on $url (S3 at $S3DFS_S3_ENDPOINT, bucket $bucket)"

dav=":webdav,url='$url',vendor=owncloud,user=$user,pass=$(rclone obscure "$pass"):"
s3=":s3,provider=Other,endpoint='http://$S3DFS_S3_ENDPOINT',access_key_id=$S3DFS_S3_ACCESS_KEY"
s3+=",secret_access_key=$S3DFS_S3_SECRET_KEY,region=$S3DFS_S3_REGION,force_path_style=true:$bucket"

# --- 1. round trip ----------------------------------------------------------

# mkfile PATH SIZE writes SIZE random bytes to PATH.
mkfile() { head -c "$2" /dev/urandom >"$1"; }

src="$work/src"
mkdir -p "$src"
# Names that need escaping in a URL, in XML, or in a shell; non-ASCII in
# composed (ü), decomposed (u + U+0308), multi-byte (日本) and 4-byte
# (emoji) forms; leading and trailing spaces; a tab.
names=(
	"plain"
	"with space"
	"hash #1"
	"percent 100%"
	"percent-encoded %41%2F"
	"question?mark"
	"amp & ersand"
	"single 'quote'"
	'double "quote"'
	"ünïcødé"
	"日本"
	"mixed ü #%?&'\" 日本"
	'punctuation :*|<>~;=+@$^`{}[]!,'
	" spaces around "
	$'nfd u\xcc\x88, emoji \xf0\x9f\x98\x80, tab\there'
)
n=0
for top in "${names[@]}"; do
	d="$src/$top"
	# rclone writes a path whose first segment holds a ':' as "./a:b" (Go's
	# URL escaping, so that it cannot pass for a scheme), and s3dfs serve
	# answers a "." segment with 400 (reported as a bug; Apache accepts it).
	# Until that is fixed, such a name sits one level down.
	[[ "$top" == *:* ]] && d="$src/below/$top"
	# Four levels of folders below each top name, files at every level.
	for level in 1 2 3 4; do
		mkdir -p "$d"
		for i in 1 2 3 4 5; do
			mkfile "$d/$top $level.$i.txt" $((RANDOM % 9000 + 1))
			n=$((n + 1))
		done
		d="$d/level $level ${names[$(((level + n) % ${#names[@]}))]}"
	done
done
mkdir -p "$src/empty folder" "$src/nested/empty/four deep/still empty"
: >"$src/zero bytes"
: >"$src/plain/zero ünïcødé"
mkfile "$src/big 30 MiB.bin" $((30 << 20))
n=$((n + 3))
[[ "$n" -ge 200 ]] || fail "the test tree has only $n files"
step "built a local tree of $n files"

# rclone skips empty folders unless asked to create them.
copy_flags=(--create-empty-src-dirs --transfers 8 --checkers 8)
rc copy-in copy "${copy_flags[@]}" "$src" "$dav" || fail "rclone copy into the server:$(log copy-in)"
step "copied into the server"
rc check-in check --download --checkers 8 "$src" "$dav" ||
	fail "rclone check --download local vs server reports differences:$(log check-in)"
grep -q ' 0 differences found' "$work/check-in.log" ||
	fail "rclone check local vs server did not say 0 differences:$(log check-in)"
step "rclone check --download local vs server: 0 differences"
# Sizes and modification times (X-OC-Mtime, getlastmodified) survived: a
# second copy finds nothing to transfer.
rc copy-again copy -v "${copy_flags[@]}" "$src" "$dav" || fail "the second rclone copy into the server:$(log copy-again)"
if grep -E ': (Copied \(|Updated modification time)' "$work/copy-again.log" >"$work/copy-again.changed"; then
	fail "a second rclone copy of the same tree transferred again (size or modification time did not survive):"$'\n'"$(head -n 20 "$work/copy-again.changed")"
fi
step "a second rclone copy transfers nothing"

dst="$work/dst"
rc copy-out copy "${copy_flags[@]}" "$dav" "$dst" || fail "rclone copy out of the server:$(log copy-out)"
step "copied back out"
rc check-out check --download --checkers 8 "$dav" "$dst" ||
	fail "rclone check --download server vs copy reports differences:$(log check-out)"
grep -q ' 0 differences found' "$work/check-out.log" ||
	fail "rclone check server vs copy did not say 0 differences:$(log check-out)"
diff -r "$src" "$dst" >"$work/diff.out" 2>&1 ||
	fail "diff -r of the tree and its round trip:"$'\n'"$(head -n 30 "$work/diff.out")"
step "rclone check --download server vs copy: 0 differences; diff -r: identical"

# --- 2. MOVE of a folder of 1 000 files -------------------------------------

many="$work/many"
mkdir -p "$many"
for i in $(seq -w 1 1000); do
	printf 'file %s\n' "$i" >"$many/f$i.txt"
done
rc copy-many copy --transfers 16 --checkers 16 "$many" "$dav/move src" ||
	fail "rclone copy of 1 000 files:$(log copy-many)"
step "uploaded 1 000 files into /move src"

# objects lists the blobs in the bucket: key, size and modification time per
# object. The volume probe's announcements (s3dfs-volume/, rewritten every
# few seconds) are not blobs.
objects() {
	rc lsf lsf -R --files-only --format pst --separator ' | ' "$s3" >"$work/objects.raw" || return 1
	grep -v '^s3dfs-volume/' "$work/objects.raw" | LC_ALL=C sort
}
objects >"$work/objects.before" || fail "list the bucket $bucket with rclone's S3 backend"
nbefore="$(wc -l <"$work/objects.before")"
[[ "$nbefore" -ge 1000 ]] || fail "the bucket holds $nbefore objects, expected at least 1 000 after the upload"

# count_children URL prints the number of members of a collection
# (PROPFIND depth 1, without the collection itself).
count_children() {
	local body
	body="$(curl -sS -f -u "$user:$pass" -X PROPFIND -H 'Depth: 1' -H 'Content-Type: application/xml' \
		--data '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>' \
		"$1")" || return 1
	local responses
	responses="$(grep -o '<[A-Za-z0-9]*:response>' <<<"$body" | wc -l)"
	echo $((responses - 1))
}
before="$(count_children "${url}move%20src/")" || fail "PROPFIND of /move src"
[[ "$before" == 1000 ]] || fail "/move src has $before members before the MOVE, expected 1000"

status="$(curl -sS -o "$work/move.out" -w '%{http_code}' -u "$user:$pass" -X MOVE \
	-H "Destination: ${url}moved%20%C3%BC%20%23%25/" "${url}move%20src/")" || fail "curl MOVE"
[[ "$status" == 201 ]] || fail "MOVE /move src -> /moved ü #% answered $status, expected 201: $(cat "$work/move.out")"
step "MOVE /move src -> /moved ü #%: $status"

after="$(count_children "${url}moved%20%C3%BC%20%23%25/")" || fail "PROPFIND of the moved folder"
[[ "$after" == 1000 ]] || fail "the moved folder has $after members, expected 1000"
old="$(curl -sS -o /dev/null -w '%{http_code}' -u "$user:$pass" -X PROPFIND -H 'Depth: 0' "${url}move%20src/")"
[[ "$old" == 404 ]] || fail "PROPFIND of the old path /move src answered $old, expected 404"
old="$(curl -sS -o /dev/null -w '%{http_code}' -u "$user:$pass" "${url}move%20src/f0001.txt")"
[[ "$old" == 404 ]] || fail "GET of a file below the old path answered $old, expected 404"

objects >"$work/objects.after" || fail "list the bucket $bucket after the MOVE"
if ! cmp -s "$work/objects.before" "$work/objects.after"; then
	fail "the bucket's objects changed across the MOVE (a MOVE must not copy or upload blobs):"$'\n'"$(diff "$work/objects.before" "$work/objects.after" | head -n 20)"
fi
# The moved files kept their sizes and checksums (all of them, from one
# listing) and their content (a hundred of them, downloaded: rclone's
# pacing of WebDAV requests makes a thousand downloads slow).
rc check-moved check --checkers 16 "$many" "$dav/moved ü #%" ||
	fail "rclone check of the moved folder:$(log check-moved)"
grep -q ' 1000 matching files' "$work/check-moved.log" ||
	fail "rclone check of the moved folder did not match 1000 files:$(log check-moved)"
rc check-moved-download check --download --include 'f00*' --checkers 16 "$many" "$dav/moved ü #%" ||
	fail "rclone check --download of files of the moved folder:$(log check-moved-download)"
step "moved folder: 1000 members, old path 404, the same $nbefore objects in the bucket, sizes and checksums intact (content of 99 downloaded)"

echo "== rclone against s3dfs serve (S3: ${S3DFS_S3_SERVER:-versitygw}): round trip of $n files and a metadata-only MOVE of 1 000 files passed in $((SECONDS - start)) s" >&2
