#!/usr/bin/env bash
# Installs SeaweedFS's `weed` binary (the second S3 server and the FUSE volume
# of the tests, see internal/weedtest) into
# ${XDG_CACHE_HOME:-$HOME/.cache}/s3dfs/bin, unless that exact version is
# there already, and prints the binary's path. `weed mount` needs fuse3
# (fusermount3): installed with apt-get where missing and we are root.
#
# SeaweedFS cannot be built with a plain `go install pkg@version`: its go.mod
# replaces github.com/tyler-smith/go-bip39 (the original module is gone), and
# replace directives of a dependency are ignored. So the build happens in a
# scratch module that requires weed as a tool and carries the same replace.
# The first build takes about 6 minutes on two cores; later runs only compare
# the embedded module version (`go version -m`).
set -euo pipefail

version="${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}"
bindir="${XDG_CACHE_HOME:-$HOME/.cache}/s3dfs/bin"
bin="$bindir/weed"

if ! command -v go >/dev/null 2>&1; then
	echo "install-seaweedfs: the go command is needed to check or build SeaweedFS $version" >&2
	exit 1
fi

if ! command -v fusermount3 >/dev/null 2>&1; then
	if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		echo "install-seaweedfs: installing fuse3 for weed mount" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y fuse3 >&2 ||
			{ apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y fuse3 >&2; }
	else
		echo "install-seaweedfs: fusermount3 is missing (apt-get install fuse3)" >&2
		exit 1
	fi
fi

installed_version() {
	go version -m "$bin" 2>/dev/null |
		awk '($1 == "mod" || $1 == "dep") && $2 == "github.com/seaweedfs/seaweedfs" { print $3 }'
}

if [[ -x "$bin" && "$(installed_version)" == "$version" ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$bindir"
scratch="$(mktemp -d "${TMPDIR:-/tmp}/s3dfs-weed-build.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
echo "install-seaweedfs: building SeaweedFS $version into $bindir (about 6 minutes the first time)" >&2
if ! (
	cd "$scratch"
	go mod init s3dfs.local/weedbuild
	go mod edit -replace github.com/tyler-smith/go-bip39=github.com/cosmos/go-bip39@v1.0.0
	go get -tool "github.com/seaweedfs/seaweedfs/weed@$version"
	GOFLAGS=-buildvcs=false go build -o "$bin.tmp" github.com/seaweedfs/seaweedfs/weed
) >"$scratch/build.log" 2>&1; then
	echo "install-seaweedfs: the build failed; the end of its log:" >&2
	tail -n 30 "$scratch/build.log" >&2
	rm -f "$bin.tmp"
	exit 1
fi
mv "$bin.tmp" "$bin"

if [[ "$(installed_version)" != "$version" ]]; then
	echo "install-seaweedfs: $bin is not SeaweedFS $version after the build (found: $(installed_version))" >&2
	exit 1
fi
echo "$bin"
