// Package blobstore defines the content store of s3dfs: immutable blobs
// addressed by opaque string keys.
//
// The package knows keys and bytes, never nodes or spaces. Callers choose the
// keys (decomposedfs uses "<space id>/<blob id, sharded>") and may attach a
// small map of user metadata to each blob; decomposedfs stores back-pointers
// there (space id, node id) so that an orphan blob can be explained and
// metadata partly rebuilt from the store alone.
//
// Implementations live in subpackages:
//
//   - blobstore/s3: any S3-compatible store, through minio-go.
//   - blobstore/posix: a local directory, the embedded default.
//
// Every implementation runs the shared conformance suite in
// blobstore/blobstoretest, which is the executable form of the contract
// written on [Store].
package blobstore
