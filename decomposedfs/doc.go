// Package decomposedfs is the storage driver of s3dfs: spaces of files and
// folders, the API a gateway calls.
//
// Metadata lives in a metadata.Backend (by default metadata/mpk: msgpack
// records on a POSIX volume), file content in a blobstore.Store (S3, or a
// local directory). Nodes are addressed by [Reference]: a space, a node in
// it, and an optional relative path.
//
// # Writes
//
// Every write follows the same shape: do the operation in the backend (its
// commit point is the link from parent to child), then propagate what
// changed to the ancestors (metadata.Backend.Propagate: tree size, tree
// mtime and so every ancestor's etag). Propagation walks up from the parent
// that the operation read under the node's lock, one folder lock at a
// time, bottom-up, never nesting; the lock order itself is written at the
// top of metadata/mpk/lock.go. Deltas are what propagate, never sums
// re-read from all children, so an upload into a folder of a million files
// costs what it costs in an empty one.
//
// Uploads stream the body to the blob store while hashing it (SHA-1, MD5,
// Adler-32, one pass, no temp copy on the volume), verify an expected
// checksum, and only then commit the node: a failed or interrupted upload
// leaves at most an orphan blob (which `s3dfs check` finds), never a node or
// a size change. Blobs are immutable: an overwrite stores a new blob and
// deletes the old one after the commit.
//
// Deleting moves a node, with its subtree, to the space's trash in one step.
//
// # Locks, quota and limits
//
// WebDAV locks belong to URLs (locks.go): a lock protects the node at its
// path, a MOVE or COPY onto a locked path hands the lock to the new node,
// and a MOVE leaves its source's locks behind. Locks and the quota
// reservations of uploads in progress (quota.go) are records of their own
// in the backend, each change one locked read-modify-write of the space's
// set, so that the check against every other lock, and the quota check of
// concurrent uploads, are exact across processes. What one user may hold
// is bounded (Options: locks and uploads per user and space, a lock's
// owner text, grants per space; ErrLimit beyond), so that no user's
// requests can grow what others must read.
//
// # Reads
//
// Reads go through lookup.Resolver and the backend's caches: in the default
// strict mode every cached answer is validated with stat(2) before use, so
// a change made by any process sharing the volume is seen by the next read.
package decomposedfs
