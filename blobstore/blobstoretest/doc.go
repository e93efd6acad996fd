// Package blobstoretest is the executable contract of blobstore.Store: one
// conformance suite that every implementation runs from its own test file,
//
//	func TestConformance(t *testing.T) {
//		blobstoretest.Run(t, func(t *testing.T) blobstore.Store { return newStore(t) })
//	}
//
// so that adding a backend brings the whole specification along.
//
// The suite covers round trips and sizes (empty, one byte, around the 5 MiB
// part boundary, a 20 MiB multipart upload, 12 MiB of unknown size, each
// compared by SHA-256), the atomicity of Put (declared size too small or too
// large, a reader that fails half-way, a context cancelled mid-upload, a Put
// held open half-way: none of them leaves anything visible, and a failed
// overwrite keeps the old blob), ranged reads at every edge, ErrNotFound,
// idempotent Delete, metadata round trips and validation, invalid and
// unusual keys, concurrent writers (16 on distinct keys, 8 on one key: the
// survivor is one writer's complete body with that writer's metadata), and
// List (byte order where directory order differs, prefix filtering, more
// than one S3 page, fn errors and cancellation).
//
// Optional capabilities are covered too, and skipped only for stores that
// do not implement them; a store that claims one and breaks it fails.
// blobstore.Copier: content and metadata of the copy (replaced, not merged,
// including keys that look like HTTP headers), the source untouched and
// independent of the copy, overwrites, the empty blob, a missing source,
// copying onto itself, invalid keys and metadata, a cancelled context.
// blobstore.Multiparter: three parts (PartSize, PartSize, 1 MiB) uploaded
// out of order and compared by SHA-256, nothing visible before completion,
// re-uploaded and failed re-uploads of a part, part numbers and sizes,
// every kind of bad part list, unknown and foreign upload ids, abort, two
// uploads of one key, concurrent parts.
//
// Stores that several processes share run RunShared instead of Run: its
// factory also gives a way to open a second store value on the same
// backing, and it adds what must work across such values (a multipart
// upload resumed by another process after a restart).
//
// Stores that upload in parts should be configured with a part size of
// [PartSize] (5 MiB) so that the multipart paths are exercised. Each subtest
// gets a fresh, empty store from the factory. The payloads are generated
// from fixed seeds, so failures reproduce.
package blobstoretest
