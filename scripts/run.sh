#!/usr/bin/env bash
# `make run`: a short demo of the driver through the CLI, on a fresh root
# with its content in a local versitygw S3 server. (The WebDAV server takes
# this place once `s3dfs serve` exists.)
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/with-s3.sh scripts/demo.sh
