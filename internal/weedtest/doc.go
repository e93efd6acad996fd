// Package weedtest gives tests SeaweedFS, the second S3 server and the
// second kind of metadata volume of the tests: `weed mini` (master, volume
// server, filer and S3 gateway in one process) on free loopback ports, and
// `weed mount` FUSE mounts of its filer.
//
// A test binary that needs it runs its tests through Main and asks for the
// shared server with Shared and for mounts with NewMount:
//
//	func TestMain(m *testing.M) { os.Exit(weedtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		w := weedtest.Shared(t)             // w.S3: endpoint, keys, a fresh bucket
//		dir := weedtest.NewMount(t, "/x")   // the filer path /x, mounted for this test
//		...
//	}
//
// The first Shared starts one `weed mini` for the binary (a temporary data
// directory, random keys); Main stops it. With S3DFS_WEED_FILER set (and
// the S3DFS_S3_* variables of its S3 gateway, as scripts/with-seaweedfs.sh
// exports them) the tests use that server instead.
//
// The weed binary is $S3DFS_WEED, else the one scripts/install-seaweedfs.sh
// builds into ${XDG_CACHE_HOME:-~/.cache}/s3dfs/bin; mounts need fuse3's
// fusermount3. A missing binary, a server that does not come up or a mount
// that does not appear fails the test with the way to fix it. It never
// skips.
//
// SeaweedFS's S3 gateway deviates from the blob store contract in known
// ways (blobstore/s3's tests declare them), and several mounts of one filer
// path do not share locks or show each other's changes at once: what the
// volume probe (package volprobe) is there to notice.
package weedtest
