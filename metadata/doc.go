// Package metadata defines the records of s3dfs and the node store that
// keeps them.
//
// Records are typed Go structs encoded as msgpack maps keyed by their
// struct tags ([Node], [Space]). Every record carries a format Version; a
// field this build does not know is kept in the record and written back
// unchanged by a read-modify-write, so an older binary never drops what a
// newer one wrote. Decoding any bytes either yields a valid record or an
// error wrapping [ErrCorrupt], never a panic (a fuzz target holds us to
// that, seeded with the golden files in testdata that pin the format).
//
// [Upload] records are resumable upload sessions. The keys "det" (a
// detached upload, whose file is named when it finishes), "park" (chunks
// kept aside until their turn, at most [MaxParked]) and "ifm" (the etag
// the file must still have at the end) came with the desktop clients'
// chunked uploads; they are optional, and a build without them keeps them
// but would finish a detached upload into its placeholder name.
//
// [Backend] is the node store: records plus the parent/child links between
// nodes, at the level of nodes and links, never of files, so that the
// msgpack-file store (metadata/mpk) and a database-backed one can be held to
// the same conformance suite (metadata/metadatatest).
//
// Names and ids are validated here ([ValidateName], [ValidateID]) before any
// of them can reach a path.
//
// Per-request state has records of its own: a WebDAV [Lock] per lock and a
// [Reservation] per upload holding quota, kept by [Backend.UpdateLocks] and
// [Backend.UpdateReservations], never in the [Space] record that every
// request of a space reads. Every encoder refuses a record larger than
// [MaxRecordSize] with [ErrTooLarge]; decoders accept up to [MaxReadSize],
// so that records older code let grow past the limit still open.
package metadata
