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
// A Store may offer optional capabilities, small interfaces that callers
// find with a type assertion: [Copier] (server-side copy) and [Multiparter]
// (uploads whose parts arrive in separate calls, resumable across
// processes). Both stores here implement both.
//
// Every implementation runs the shared conformance suite in
// blobstore/blobstoretest, which is the executable form of the contract
// written on [Store] and on the optional interfaces.
package blobstore
