#!/usr/bin/env bash
# Runs davfs2 (`mount -t davfs`), a real WebDAV file system client, against
# `s3dfs serve` backed by a real S3 server (versitygw, started by
# scripts/with-s3.sh), and checks that nothing it does loses a byte:
#
#  1. `cp -r` of a source tree (a copy of this repository's metadata/) into
#     the mount;
#  2. `sed -i` on files in the mount: sed writes a temp file, davfs2 locks
#     it and the original and renames the temp file onto the original,
#     then refreshes and uses the original's lock (RFC 4918, 7.7: the
#     destination's lock takes the moved resource in; before, the file was
#     left empty on the server);
#  3. `mv` of files and of a folder;
#  4. `git init`, adding FILES, `git commit`, an edit and a second commit,
#     all in the mount (git renames index.lock, refs and COMMIT_EDITMSG
#     onto locked files the same way). Files are added with `git
#     update-index --add FILES`: `git add` finds what to add by reading the
#     folders, which fails on this kernel's davfs2 (below), and then adds
#     nothing without an error;
#  5. unmount (davfs2 writes back what it still holds), then download the
#     whole space with rclone and compare it with the local reference,
#     byte for byte (`diff -r`), with the repository's .git left to git:
#     `git fsck` of a clone of the downloaded repository, its two commits,
#     and its checkout compared with the reference files;
#  6. `s3dfs check` of the store: no findings.
#
# This kernel's davfs2 fails readdir with EINVAL against every server, so
# nothing here lists a folder of the mount: every path is named. Every step
# is bounded in time; the mount is unmounted and every process started is
# stopped on exit, also on failure.
#
#   scripts/davfs2.sh
#   DAVFS2_KEEP=1 scripts/davfs2.sh     # keep the work directory for a look
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${S3DFS_DAVFS2_INNER:-}" ]]; then
	sudo=""
	[[ "$(id -u)" != 0 ]] && sudo="sudo"
	install() {
		echo "davfs2: installing the Debian packages $*" >&2
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "$@" >&2 ||
			{ $sudo apt-get update >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "$@" >&2; }
	}
	command -v mount.davfs >/dev/null 2>&1 || install davfs2
	command -v rclone >/dev/null 2>&1 || install rclone
	command -v git >/dev/null 2>&1 || install git
	command -v curl >/dev/null 2>&1 || install curl
	S3DFS_DAVFS2_INNER=1 exec scripts/with-s3.sh "$0" "$@"
fi

start=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/s3dfs-davfs2.XXXXXX")"
mnt="$work/mnt"
pid=""
mounted=""
cleanup() {
	cd /
	if [[ -n "$mounted" ]]; then
		timeout 120 umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
	fi
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [[ -n "${DAVFS2_KEEP:-}" ]]; then
		echo "davfs2: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "davfs2: FAILED: $*" >&2
	if [[ -f "$work/serve.log" ]]; then
		echo "davfs2: the server log (tail) follows" >&2
		tail -n 30 "$work/serve.log" >&2
	fi
	exit 1
}
step() { printf 'davfs2: [%3ds] %s\n' "$((SECONDS - start))" "$*" >&2; }
# t CMD... runs a command in the mount with a time bound: a hung davfs2
# must fail the run, not hang it.
t() { timeout 120 "$@"; }

# --- the server -------------------------------------------------------------

go build -o "$work/s3dfs" ./cmd/s3dfs
user=davfs
pass="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
bucket="s3dfs-davfs2-$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mkdir -p "$mnt"
# s3dfs init creates the store (and its bucket); serve refuses any other.
export S3DFS_S3_BUCKET="$bucket"
"$work/s3dfs" init --root "$work/root" --blobstore s3 >/dev/null
printf '%s\n' "$pass" | "$work/s3dfs" user add --root "$work/root" "$user" >/dev/null

"$work/s3dfs" serve --root "$work/root" --blobstore s3 \
	--addr 127.0.0.1:0 --log-level info >"$work/serve.out" 2>"$work/serve.log" &
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

# --- the mount --------------------------------------------------------------

# Credentials from a secrets file (mode 600, as mount.davfs demands), and a
# configuration of our own: locks on (the point of the exercise), a cache
# of our own. Uploads keep davfs2's default delay: files stay locked while
# they are dirty, which is what makes `sed -i` send LOCK, LOCK, MOVE onto
# the locked file, a refresh, PUT and UNLOCK (unmounting writes back what
# is left).
printf '%s %s %s\n' "$url" "$user" "$pass" >"$work/secrets"
chmod 600 "$work/secrets"
# mount.davfs runs in the group davfs2 once mounted: the cache is set up
# like the system's (/var/cache/davfs2: root:davfs2, 775).
chmod 755 "$work"
mkdir -p "$work/cache"
chgrp davfs2 "$work/cache" 2>/dev/null || true
chmod 775 "$work/cache"
cat >"$work/davfs2.conf" <<EOF
secrets $work/secrets
cache_dir $work/cache
use_locks 1
ask_auth 0
EOF
t mount -t davfs -o "conf=$work/davfs2.conf" "$url" "$mnt" >"$work/mount.log" 2>&1 ||
	fail "mount -t davfs: $(cat "$work/mount.log")"
mounted=1
step "mounted $url on $mnt"

# --- 1. cp -r ---------------------------------------------------------------

ref="$work/ref" # what the server must hold in the end
mkdir -p "$ref"
cp -r metadata "$ref/tree"
mapfile -t files < <(cd "$ref/tree" && find . -type f | LC_ALL=C sort)
[[ "${#files[@]}" -ge 40 ]] || fail "the source tree has only ${#files[@]} files"
t cp -r "$ref/tree" "$mnt/tree" || fail "cp -r into the mount"
step "cp -r of ${#files[@]} files"

# --- 2. sed -i --------------------------------------------------------------

edited=(tree/doc.go tree/node.go tree/mpk/doc.go tree/sql/schema.go tree/testdata/space.mpk)
for f in "${edited[@]}"; do
	t sed -i 's/record/RECORD/g; s/^package /package  /' "$mnt/$f" || fail "sed -i $f in the mount"
	sed -i 's/record/RECORD/g; s/^package /package  /' "$ref/$f"
	cmp -s "$mnt/$f" "$ref/$f" || fail "$f reads back different in the mount right after sed -i"
done
step "sed -i on ${#edited[@]} files"

# --- 3. mv ------------------------------------------------------------------

t mv "$mnt/tree/upload.go" "$mnt/tree/upload-renamed.go" || fail "mv of a file"
mv "$ref/tree/upload.go" "$ref/tree/upload-renamed.go"
t mv "$mnt/tree/xattr" "$mnt/tree/xattr moved ü" || fail "mv of a folder"
mv "$ref/tree/xattr" "$ref/tree/xattr moved ü"
t mv "$mnt/tree/errors.go" "$mnt/tree/mpk/errors.go" || fail "mv into another folder"
mv "$ref/tree/errors.go" "$ref/tree/mpk/errors.go"
# A rename onto an existing file, as editors save.
printf 'saved over\n' >"$work/saved"
t cp "$work/saved" "$mnt/tree/name.go.new" || fail "write name.go.new"
t mv "$mnt/tree/name.go.new" "$mnt/tree/name.go" || fail "mv onto an existing file"
cp "$work/saved" "$ref/tree/name.go"
step "mv of files and a folder, and onto an existing file"

# --- 4. git -----------------------------------------------------------------

gitfiles=(README.md main.go "sub dir/lib.go")
repo="$mnt/repo"
t mkdir "$repo" "$repo/sub dir" || fail "mkdir the repository"
mkdir -p "$ref/repo/sub dir"
printf '# demo\n\nA repository in a davfs2 mount.\n' >"$ref/repo/README.md"
printf 'package main\n\nfunc main() { println("one") }\n' >"$ref/repo/main.go"
printf 'package lib\n\nconst V = 1\n' >"$ref/repo/sub dir/lib.go"
for f in "${gitfiles[@]}"; do
	t cp "$ref/repo/$f" "$repo/$f" || fail "write $f"
done
export GIT_AUTHOR_NAME=davfs2 GIT_AUTHOR_EMAIL=davfs2@example.com GIT_COMMITTER_NAME=davfs2 GIT_COMMITTER_EMAIL=davfs2@example.com
g() { t git -C "$repo" -c init.defaultBranch=main -c gc.auto=0 -c maintenance.auto=false "$@"; }
g init -q >"$work/git.log" 2>&1 || fail "git init in the mount: $(cat "$work/git.log")"
g update-index --add -- "${gitfiles[@]}" >"$work/git.log" 2>&1 || fail "git update-index --add: $(cat "$work/git.log")"
[[ "$(g ls-files | wc -l)" == "${#gitfiles[@]}" ]] || fail "the index does not hold the ${#gitfiles[@]} files added"
g commit -q -m "first" >"$work/git.log" 2>&1 || fail "git commit: $(cat "$work/git.log")"
t sed -i 's/one/two/' "$repo/main.go" || fail "sed -i main.go"
sed -i 's/one/two/' "$ref/repo/main.go"
g update-index -- main.go >"$work/git.log" 2>&1 || fail "git update-index main.go: $(cat "$work/git.log")"
g commit -q -m "second" >"$work/git.log" 2>&1 || fail "the second git commit: $(cat "$work/git.log")"
[[ "$(g rev-list --count HEAD)" == 2 ]] || fail "the repository in the mount does not have 2 commits"
step "git init, add, commit, edit, commit in the mount"

# --- 5. unmount, download, compare --------------------------------------------

cd /
t umount "$mnt" >"$work/umount.log" 2>&1 || fail "umount: $(cat "$work/umount.log")"
mounted=""
step "unmounted"

: >"$work/rclone.conf"
dav=":webdav,url='$url',vendor=owncloud,user=$user,pass=$(rclone obscure "$pass"):"
env -u AWS_CA_BUNDLE timeout 300 rclone --config "$work/rclone.conf" --log-file "$work/rclone.log" \
	--low-level-retries 1 --retries 1 copy "$dav" "$work/down" ||
	fail "rclone copy of the space: $(tail -n 20 "$work/rclone.log")"
step "downloaded the space with rclone"

# Everything but the repository's .git, byte for byte, both ways (a file
# the server has and the reference does not, a leftover temp file of sed
# or git, counts as much as a missing or different one).
diff -r --exclude=.git "$ref" "$work/down" >"$work/diff.out" 2>&1 ||
	fail "the server's content differs from the local reference:"$'\n'"$(head -n 30 "$work/diff.out")"
for f in "${edited[@]}"; do
	[[ -s "$work/down/$f" ]] || fail "$f is empty on the server"
done
# The repository: whole, as git sees it.
[[ -d "$work/down/repo/.git" ]] || fail "the repository's .git is not on the server"
git -C "$work/down/repo" fsck --strict >"$work/fsck.log" 2>&1 ||
	fail "git fsck of the downloaded repository: $(cat "$work/fsck.log")"
git clone -q "$work/down/repo" "$work/clone" 2>"$work/clone.log" || fail "git clone: $(cat "$work/clone.log")"
git -C "$work/clone" fsck --strict >"$work/fsck.log" 2>&1 || fail "git fsck of the clone: $(cat "$work/fsck.log")"
[[ "$(git -C "$work/clone" rev-list --count HEAD)" == 2 ]] || fail "the clone does not have 2 commits"
for f in "${gitfiles[@]}"; do
	cmp -s "$ref/repo/$f" "$work/clone/$f" || fail "$f in the clone differs from the reference"
done
step "server content == local reference (diff -r); git fsck of the repository and of a clone: clean, 2 commits"

# The server saw what the client did: sed's temp files moved onto locked
# files (204), the locks of those files refreshed and used, and no request
# refused (412, 423) or failed (5xx) on the way.
requests() { sed -n 's/.*msg=request method=\([A-Z]*\) path=\([^ ]*\) status=\([0-9]*\).*/\1 \2 \3/p' "$work/serve.log"; }
requests >"$work/requests"
moves="$(grep -cE "^MOVE /dav/files/$user/tree/.*sed[A-Za-z0-9]{6} 204$" "$work/requests" || true)"
[[ "$moves" -ge "${#edited[@]}" ]] || fail "only $moves MOVEs of sed's temp files onto the edited files (expected ${#edited[@]})"
for f in "${edited[@]}"; do
	grep -qE "^LOCK /dav/files/$user/$f 200$" "$work/requests" || fail "no lock refresh of $f after sed's MOVE"
done
if grep -E ' (412|423|5[0-9][0-9])$' "$work/requests" >"$work/refused"; then
	fail "requests refused or failed:"$'\n'"$(head -n 20 "$work/refused")"
fi
step "the server log: $moves MOVEs onto locked files, their locks refreshed, no request refused or failed"

# --- 6. s3dfs check ----------------------------------------------------------

kill -TERM "$pid" && wait "$pid" || true
pid=""
"$work/s3dfs" check --root "$work/root" --blobstore s3 >"$work/check.out" 2>&1 ||
	fail "s3dfs check (exit $?):"$'\n'"$(tail -n 30 "$work/check.out")"
step "s3dfs check: clean"

echo "== davfs2 against s3dfs serve (S3: versitygw): cp -r of ${#files[@]} files, sed -i, mv, git in the mount: every byte on the server, check clean, in $((SECONDS - start)) s" >&2
