#!/usr/bin/env bash
# Installs the versitygw S3 server that the tests run against (see
# internal/s3test) into ${XDG_CACHE_HOME:-$HOME/.cache}/s3dfs/bin, unless
# that exact version is there already, and prints the binary's path.
#
# A go-installed versitygw reports its version as "git", so the installed
# version is read from the module information Go embeds in the binary
# (`go version -m`).
set -euo pipefail

version="${VERSITYGW_VERSION:-v1.8.0}"
bindir="${XDG_CACHE_HOME:-$HOME/.cache}/s3dfs/bin"
bin="$bindir/versitygw"

if ! command -v go >/dev/null 2>&1; then
	echo "install-versitygw: the go command is needed to check or build versitygw $version" >&2
	exit 1
fi

installed_version() {
	go version -m "$bin" 2>/dev/null |
		awk '$1 == "mod" && $2 == "github.com/versity/versitygw" { print $3 }'
}

if [[ -x "$bin" && "$(installed_version)" == "$version" ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$bindir"
echo "install-versitygw: building versitygw $version into $bindir (this takes a few minutes)" >&2
GOBIN="$bindir" go install "github.com/versity/versitygw/cmd/versitygw@$version"

if [[ "$(installed_version)" != "$version" ]]; then
	echo "install-versitygw: $bin is not versitygw $version after go install" >&2
	exit 1
fi
echo "$bin"
