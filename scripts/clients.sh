#!/usr/bin/env bash
# Runs the real desktop sync clients, nextcloudcmd (Nextcloud 3.7) and
# owncloudcmd (ownCloud 2.11), against `s3dfs serve` with the content in a
# real S3 server (versitygw, started by scripts/with-s3.sh). For each client,
# as its own user:
#
#  1. a tree of 300+ files (nested folders; names with spaces, umlauts in
#     composed and decomposed form, emoji, # % ;, names of 200+ bytes;
#     0-byte files; files of 10, 25 and 50 MiB and one of 300 MiB) is synced
#     up; the server's listing (path, size, SHA-1) must equal the local
#     tree, and a fresh sync of the server into an empty folder must give
#     the same tree (diff -r);
#  2. changes on both sides: on the server through WebDAV (overwrite,
#     move, delete, delete and restore from the trash, a new file), locally
#     (edit, new files, delete, rename), and the same file edited on both
#     sides; then a second sync;
#  3. each change must have arrived on the other side, the edit on both
#     sides must have left a conflict copy, and the local tree, the
#     server's listing and a fresh sync must agree again;
#  4. no chunk-named, placeholder or truncated file may exist on the
#     server, and `s3dfs check` must find nothing.
#
# Big files go through the clients' own upload protocols: Nextcloud's
# chunked upload (MKCOL/PUT/MOVE under /remote.php/dav/uploads/) and TUS
# for owncloudcmd. Any failure exits non-zero saying what differed, with
# the end of the client's and the server's logs.
#
#   scripts/clients.sh
#   CLIENTS=nextcloudcmd scripts/clients.sh      # one client only
#   CLIENTS_KEEP=1 scripts/clients.sh            # keep the work directory
set -euo pipefail
cd "$(dirname "$0")/.."

clients="${CLIENTS:-nextcloudcmd owncloudcmd}"

if [[ -z "${S3DFS_CLIENTS_INNER:-}" ]]; then
	declare -A pkg=([nextcloudcmd]=nextcloud-desktop-cmd [owncloudcmd]=owncloud-client-cmd [rclone]=rclone [curl]=curl)
	missing=()
	for cmd in nextcloudcmd owncloudcmd rclone curl; do
		command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg[$cmd]}")
	done
	if ((${#missing[@]})); then
		echo "clients: installing the Debian packages ${missing[*]}" >&2
		sudo=""
		[[ "$(id -u)" != 0 ]] && sudo="sudo"
		$sudo apt-get install -y "${missing[@]}" >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y "${missing[@]}" >&2; } || {
			echo "clients: FAILED: could not install ${missing[*]}" >&2
			exit 1
		}
	fi
	# The whole run is bounded; timeout signals every process of the run.
	S3DFS_CLIENTS_INNER=1 exec timeout -k 30 "${CLIENTS_TIMEOUT:-2400}" scripts/with-s3.sh "$0" "$@"
fi

start=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/s3dfs-clients.XXXXXX")"
pid=""
cleanup() {
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [[ -n "${CLIENTS_KEEP:-}" ]]; then
		echo "clients: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lastlog=""
fail() {
	echo "clients: FAILED: $*" >&2
	if [[ -n "$lastlog" && -f "$lastlog" ]]; then
		echo "clients: the end of $lastlog:" >&2
		grep -aE 'warning|critical|error|Error|fatal' "$lastlog" | tail -n 25 >&2 || true
	fi
	if [[ -f "$work/serve.log" ]]; then
		echo "clients: the server's log (requests that failed, and the end):" >&2
		grep -aE 'status=(4[0-9][0-9]|5[0-9][0-9])|level=(WARN|ERROR)' "$work/serve.log" | tail -n 20 >&2 || true
		tail -n 5 "$work/serve.log" >&2
	fi
	exit 1
}
step() { printf 'clients: [%4ds] %s\n' "$((SECONDS - start))" "$*" >&2; }

# --- the server --------------------------------------------------------------

go build -o "$work/s3dfs" ./cmd/s3dfs
bucket="s3dfs-clients-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# s3dfs init creates the store (and its bucket); serve refuses any other.
"$work/s3dfs" init --root "$work/root" --blobstore s3 --s3-bucket "$bucket" >/dev/null
declare -A password
for user in ncuser ocuser; do
	password[$user]="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	printf '%s\n' "${password[$user]}" | "$work/s3dfs" user add --root "$work/root" "$user" >/dev/null
done
s3flags=(--blobstore s3 --s3-bucket "$bucket")
"$work/s3dfs" serve --root "$work/root" "${s3flags[@]}" --addr 127.0.0.1:0 --log-level info \
	>"$work/serve.out" 2>"$work/serve.log" &
pid=$!
base=""
for _ in $(seq 1 300); do
	base="$(sed -n 's/^s3dfs: serving //p' "$work/serve.out")"
	[[ -n "$base" ]] && break
	kill -0 "$pid" 2>/dev/null || fail "s3dfs serve did not start"
	sleep 0.1
done
[[ -n "$base" ]] || fail "s3dfs serve did not start in 30 s"
step "s3dfs serve on $base (S3 at $S3DFS_S3_ENDPOINT, bucket $bucket)"

# requests prints how many requests the server has logged so far;
# propfinds how many PROPFINDs.
requests() { grep -c 'msg=request ' "$work/serve.log" || true; }
propfinds() { grep -c 'msg=request method=PROPFIND ' "$work/serve.log" || true; }

# --- helpers ----------------------------------------------------------------

: >"$work/rclone.conf"
: >"$work/exclude.lst" # owncloudcmd needs one; Debian ships none
# rc runs rclone (this machine's AWS_CA_BUNDLE breaks it; no retries).
rc() { env -u AWS_CA_BUNDLE rclone --config "$work/rclone.conf" --low-level-retries 1 --retries 1 "$@"; }
dav() { printf ":webdav,url='%sremote.php/dav/files/%s/',vendor=owncloud,user=%s,pass=%s:" "$base" "$1" "$1" "$(rclone obscure "${password[$1]}")"; }

# urlenc percent-encodes a path (keeping '/').
urlenc() {
	local LC_ALL=C s="$1" out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c="${s:i:1}"
		case "$c" in
		[a-zA-Z0-9._~/-]) out+="$c" ;;
		*) printf -v c '%%%02X' "'$c" && out+="$c" ;;
		esac
	done
	printf '%s' "$out"
}

# webdav USER METHOD PATH [curl args...] sends a WebDAV request for a path
# of the user's files and prints the status.
webdav() {
	local user="$1" method="$2" path="$3"
	shift 3
	curl -sS -o "$work/curl.out" -w '%{http_code}' -u "$user:${password[$user]}" -X "$method" \
		"${base}remote.php/dav/files/$user/$(urlenc "$path")" "$@"
}

# sync CLIENT USER DIR LOG runs one sync of DIR with the client.
sync() {
	local client="$1" user="$2" dir="$3"
	lastlog="$4"
	local args=(--non-interactive -u "$user" -p "${password[$user]}")
	[[ "$client" == owncloudcmd ]] && args+=(--exclude "$work/exclude.lst")
	timeout -k 10 900 "$client" "${args[@]}" "$dir" "$base" >"$lastlog" 2>&1
}

# local_list DIR prints "path<TAB>size<TAB>sha1" of the files of a local
# tree, sorted, without the clients' journals and conflict copies.
local_list() {
	(cd "$1" && find . -type f ! -path './.*' ! -name '*conflicted copy*' -printf '%P\t%s\n' | LC_ALL=C sort |
		while IFS=$'\t' read -r p s; do printf '%s\t%s\t%s\n' "$p" "$s" "$(sha1sum <"$p" | cut -d' ' -f1)"; done)
}

# server_list USER prints the same of the user's files on the server (the
# SHA-1 as the server computed it while storing the content).
server_list() {
	rc lsf -R --files-only --format psh --hash SHA1 --separator $'\t' "$(dav "$1")" | LC_ALL=C sort
}

# same_as_server USER DIR WHAT fails unless the server holds exactly the
# files of DIR, byte for byte (sizes and SHA-1).
same_as_server() {
	local_list "$2" >"$work/local.list"
	server_list "$1" >"$work/server.list" || fail "$3: listing the server with rclone"
	if ! cmp -s "$work/local.list" "$work/server.list"; then
		fail "$3: the server's files (path, size, SHA-1) differ from the local tree:"$'\n'"$(diff "$work/local.list" "$work/server.list" | head -n 20)"
	fi
}

# same_as_fresh CLIENT USER DIR WHAT syncs the server into an empty folder
# and compares it with DIR (diff -r).
same_as_fresh() {
	local fresh
	fresh="$(mktemp -d "$work/fresh.XXXXXX")"
	sync "$1" "$2" "$fresh" "$work/$1.fresh.log" || fail "$4: a fresh sync of the server exited $?"
	diff -r -x '.*' -x '*conflicted copy*' "$3" "$fresh" >"$work/diff.out" 2>&1 ||
		fail "$4: a fresh sync of the server differs from the local tree:"$'\n'"$(head -n 20 "$work/diff.out")"
	rm -rf "$fresh"
}

# --- the tree ---------------------------------------------------------------

src="$work/src"
mkdir -p "$src"
mkfile() { head -c "$2" /dev/urandom >"$1"; }
long="long $(printf 'ä%.0s' $(seq 1 100)) name"
names=(
	"plain"
	"with space"
	"ümläut"
	$'nfd u\xcc\x88 a\xcc\x8a'
	$'emoji \xf0\x9f\x98\x80'
	"hash #1"
	"percent 100%"
	"semi;colon"
	$'mixed \xc3\xbc #%; \xf0\x9f\x8c\x8d'
)
n=0
for top in "${names[@]}"; do
	d="$src/$top"
	for level in 1 2 3; do
		mkdir -p "$d"
		for i in 1 2 3 4 5 6 7 8 9 10 11; do
			size=$((RANDOM % 20000 + 1))
			((i == 11)) && size=0
			mkfile "$d/$top $level.$i.txt" "$size"
			n=$((n + 1))
		done
		d="$d/level $level"
	done
done
mkdir -p "$src/$long" "$src/big" "$src/empty folder"
mkfile "$src/$long/$long.txt" 3000
mkfile "$src/big/ten 10 MiB.bin" $((10 << 20))
mkfile "$src/big/ümläut 25 MiB.bin" $((25 << 20))
mkfile "$src/big/"$'\xf0\x9f\x98\x80 50 MiB #;%.bin' $((50 << 20))
mkfile "$src/huge 300 MiB.bin" $((300 << 20))
n=$((n + 5))
[[ "${#long}" -gt 0 && "$(printf '%s.txt' "$long" | LC_ALL=C wc -c)" -ge 200 ]] || fail "the long name is too short"
[[ "$n" -ge 300 ]] || fail "the test tree has only $n files"
step "built a tree of $n files ($(du -sh "$src" | cut -f1))"

# --- one client -------------------------------------------------------------

run_client() {
	local client="$1" user="$2"
	local local_dir="$work/$client/local" t0 r0
	mkdir -p "$local_dir"
	cp -a "$src/." "$local_dir/"

	# 1. Up.
	local p0 dirs
	t0=$SECONDS r0=$(requests) p0=$(propfinds)
	sync "$client" "$user" "$local_dir" "$work/$client.sync1.log" || fail "$client: the first sync exited $?"
	step "$client: first sync of $n files: $((SECONDS - t0)) s, $(($(requests) - r0)) requests"
	# What an upload's answer says, the client does not ask again: one
	# PROPFIND per folder at most, none per file.
	dirs="$(find "$local_dir" -type d ! -path "$local_dir/.*" | wc -l)"
	(($(propfinds) - p0 <= dirs + 2)) ||
		fail "$client: the first sync sent $(($(propfinds) - p0)) PROPFINDs for $dirs folders: the answers to uploads lack what it reads"
	same_as_server "$user" "$local_dir" "$client: after the first sync"
	same_as_fresh "$client" "$user" "$local_dir" "$client: after the first sync"
	step "$client: the server holds the tree byte for byte; a fresh sync gives it back (diff -r)"

	t0=$SECONDS r0=$(requests)
	sync "$client" "$user" "$local_dir" "$work/$client.resync.log" || fail "$client: a sync without changes exited $?"
	step "$client: a sync without changes: $((SECONDS - t0)) s, $(($(requests) - r0)) requests"

	# 2. Changes on the server (WebDAV, as the user).
	local st item
	st=$(webdav "$user" DELETE "semi;colon/semi;colon 1.4.txt")
	[[ "$st" == 204 ]] || fail "$client: server-side DELETE answered $st"
	st=$(curl -sS -o "$work/trash.xml" -w '%{http_code}' -u "$user:${password[$user]}" -X PROPFIND -H 'Depth: 1' \
		"${base}remote.php/dav/trash-bin/$user/")
	[[ "$st" == 207 ]] || fail "$client: PROPFIND of the trash bin answered $st"
	item="$(grep -o '<d:href>[^<]*</d:href>' "$work/trash.xml" | sed -n '2s/<[^>]*>//gp')"
	[[ -n "$item" ]] || fail "$client: the deleted file is not in the trash bin: $(cat "$work/trash.xml")"
	st=$(curl -sS -o /dev/null -w '%{http_code}' -u "$user:${password[$user]}" -X MOVE \
		-H "Destination: ${base}remote.php/dav/files/$user/$(urlenc "semi;colon/semi;colon 1.4.txt")" "${base%/}$item")
	[[ "$st" == 201 ]] || fail "$client: restoring from the trash bin answered $st"
	st=$(webdav "$user" DELETE "hash #1/hash #1 1.3.txt")
	[[ "$st" == 204 ]] || fail "$client: server-side DELETE answered $st"
	printf 'overwritten on the server\n' >"$work/server-new.txt"
	st=$(webdav "$user" PUT "plain/plain 1.1.txt" --data-binary "@$work/server-new.txt")
	[[ "$st" == 204 ]] || fail "$client: server-side overwrite answered $st"
	st=$(webdav "$user" MOVE "with space/with space 1.2.txt" -H "Destination: ${base}remote.php/dav/files/$user/$(urlenc "with space/moved on the server.txt")")
	[[ "$st" == 201 ]] || fail "$client: server-side MOVE answered $st"
	st=$(webdav "$user" PUT "new on the server ü.txt" --data-binary "@$work/server-new.txt")
	[[ "$st" == 201 ]] || fail "$client: server-side PUT of a new file answered $st"
	printf 'edited on the server\n' >"$work/conflict-server.txt"
	st=$(webdav "$user" PUT "ümläut/ümläut 1.1.txt" --data-binary "@$work/conflict-server.txt")
	[[ "$st" == 204 ]] || fail "$client: server-side edit of the conflict file answered $st"

	# ... and locally.
	printf 'edited locally\n' >>"$local_dir/percent 100%/percent 100% 1.1.txt"
	mkdir -p "$local_dir/new local ü"
	printf 'new\n' >"$local_dir/new local ü/a;#%.txt"
	mkfile "$local_dir/new local ü/twelve 12 MiB.bin" $((12 << 20))
	rm "$local_dir/emoji "$'\xf0\x9f\x98\x80'"/emoji "$'\xf0\x9f\x98\x80'" 1.2.txt"
	mv "$local_dir/big/ten 10 MiB.bin" "$local_dir/big/ten renamed.bin"
	printf 'edited locally, a longer text than on the server\n' >"$local_dir/ümläut/ümläut 1.1.txt"
	cp "$local_dir/semi;colon/semi;colon 1.4.txt" "$work/restored.expected"

	t0=$SECONDS r0=$(requests)
	sync "$client" "$user" "$local_dir" "$work/$client.sync2.log" || fail "$client: the second sync exited $?"
	step "$client: second sync (changes on both sides): $((SECONDS - t0)) s, $(($(requests) - r0)) requests"

	# 3. Every change arrived.
	cmp -s "$work/server-new.txt" "$local_dir/plain/plain 1.1.txt" || fail "$client: the server's overwrite did not arrive"
	[[ -f "$local_dir/with space/moved on the server.txt" && ! -e "$local_dir/with space/with space 1.2.txt" ]] ||
		fail "$client: the server's MOVE did not arrive"
	[[ ! -e "$local_dir/hash #1/hash #1 1.3.txt" ]] || fail "$client: the server's DELETE did not arrive"
	cmp -s "$work/restored.expected" "$local_dir/semi;colon/semi;colon 1.4.txt" || fail "$client: the file restored from the trash bin is not there"
	cmp -s "$work/server-new.txt" "$local_dir/new on the server ü.txt" || fail "$client: the server's new file did not arrive"
	local conflicts
	conflicts="$(find "$local_dir/ümläut" -maxdepth 1 -name '*conflicted copy*' | wc -l)"
	[[ "$conflicts" == 1 ]] || fail "$client: $conflicts conflict copies of the file edited on both sides, want 1: $(ls "$local_dir/ümläut")"
	grep -qx 'edited locally, a longer text than on the server' "$local_dir/ümläut/"*'conflicted copy'* ||
		fail "$client: the conflict copy does not hold the local edit"
	cmp -s "$work/conflict-server.txt" "$local_dir/ümläut/ümläut 1.1.txt" ||
		fail "$client: the file edited on both sides does not hold the server's edit"
	server_list "$user" >"$work/server.list" || fail "$client: listing the server"
	grep -q $'^percent 100%/percent 100% 1.1.txt\t' "$work/server.list" || fail "$client: the local edit is not on the server"
	grep -q $'^new local ü/twelve 12 MiB.bin\t12582912\t' "$work/server.list" || fail "$client: the new local 12 MiB file is not on the server whole"
	grep -q $'^big/ten renamed.bin\t10485760\t' "$work/server.list" || fail "$client: the local rename did not arrive"
	! grep -q $'^big/ten 10 MiB.bin\t' "$work/server.list" || fail "$client: the renamed file is still on the server under its old name"
	! grep -q $'^emoji \xf0\x9f\x98\x80/emoji \xf0\x9f\x98\x80 1.2.txt\t' "$work/server.list" || fail "$client: the local delete did not arrive"
	same_as_server "$user" "$local_dir" "$client: after the second sync"
	same_as_fresh "$client" "$user" "$local_dir" "$client: after the second sync"
	step "$client: every change arrived on the other side, one conflict copy, server and local tree agree byte for byte"

	# 4. No chunk, placeholder or half file on the server: every name is
	# one of the local tree's (checked above), and none looks like a chunk.
	if grep -aE -- '-chunking-[0-9]+-[0-9]+-[0-9]+|(^|/)\.file$|(^|/)\.upload-|(^|/)[0-9]{16}$' "$work/server.list"; then
		fail "$client: chunk-named files on the server"
	fi
}

for client in $clients; do
	case "$client" in
	nextcloudcmd) run_client nextcloudcmd ncuser ;;
	owncloudcmd) run_client owncloudcmd ocuser ;;
	*) fail "unknown client $client" ;;
	esac
done

# --- the store --------------------------------------------------------------

kill -TERM "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
pid=""
"$work/s3dfs" check --root "$work/root" "${s3flags[@]}" >"$work/check.out" 2>&1 ||
	{ lastlog="$work/check.out" && fail "s3dfs check found problems (exit $?):"$'\n'"$(tail -n 20 "$work/check.out")"; }
step "s3dfs check: clean"
echo "== the desktop clients ($clients) against s3dfs serve (S3: versitygw): passed in $((SECONDS - start)) s" >&2
