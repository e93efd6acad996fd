// Package s3test gives tests a real S3 server: versitygw with its posix
// backend on a loopback port, or an external server named by the
// environment. There are no fakes: what the tests see is what a deployment
// sees, quirks included.
//
// A package that needs S3 runs its tests through Main and asks New for a
// fresh bucket per test:
//
//	func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		cfg := s3test.New(t) // cfg.Endpoint, cfg.AccessKey, cfg.SecretKey, cfg.Region, cfg.Bucket
//		...
//	}
//
// The first New of a test binary starts one versitygw (random keys, a free
// port, a temporary data directory) and waits for its /healthz; Main stops
// it (SIGTERM to its process group, SIGKILL after five seconds) and removes
// the data once the tests are done. Tests that never call New start no
// server.
//
// # Environment
//
//   - S3DFS_S3_ENDPOINT (host:port), S3DFS_S3_ACCESS_KEY,
//     S3DFS_S3_SECRET_KEY, and optionally S3DFS_S3_REGION (default
//     us-east-1) and S3DFS_S3_TLS=1: use that server instead of starting
//     one. New's buckets are emptied and removed after each test.
//   - S3DFS_VERSITYGW: the versitygw binary to run. Otherwise the first
//     versitygw on $PATH, then ${XDG_CACHE_HOME:-~/.cache}/s3dfs/bin/versitygw,
//     where scripts/install-versitygw.sh puts it.
//
// A missing binary or a server that does not come up fails the test with
// the way to fix it and the tail of the server's output. It never skips:
// a silently skipped S3 test is a hole in the specification.
//
// StartServer is usable outside tests too (benchmarks, a local
// `make run`). This package imports minio-go to create buckets; like the
// rest of the test tooling it is exempt from the rule that only
// blobstore/s3 does.
package s3test
