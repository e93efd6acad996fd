// Package storeid binds a store's metadata root to its blob store, so that
// no command and no server ever works on a root with the wrong blob store.
//
// A store is two halves that must belong together: the records on the
// POSIX volume and the blobs in S3 (or a local directory). Nothing in a
// record says which bucket its blob lives in, so a root opened with the
// wrong bucket looks like a store whose every file lost its content, and
// a repair "fixes" that by moving every file to lost+found. The identity
// prevents it: it is created with the store (s3dfs init), written to both
// halves, and compared every time the store is opened, before anything is
// read or changed.
//
// # On disk
//
//	<root>/store.json                 the identity (JSON, written atomically):
//	                                  {"format":1, "id":"<uuid>", "created":"...",
//	                                   "blobstore":{"kind":"s3", "endpoint":"host:port",
//	                                                "bucket":"b"}}
//	                                  or {"kind":"posix", "dir":"blobs"} (relative: inside
//	                                  the root; absolute otherwise)
//	<blob store>/s3dfs-store.json     the marker (a blob, MarkerKey): {"format":1,
//	                                  "store":"<uuid>", "created":"...", "root":"...", "host":"..."}
//
// The marker's key does not start with two hex digits, so it is no blob
// key of any space: the checker's blob listing passes over it.
//
// # What is compared
//
// Kind and bucket (and key prefix) must be what the root recorded: a
// different bucket holding a copy of the blobs is a second store that
// would drift from the first, and using it is a decision (re-point the
// store with Adopt). The endpoint of an S3 server and the path of a posix
// blob directory are views of the network and of the mounts, which
// legitimately differ between hosts and change over time (a new host name
// for the same server); for them the marker is the proof: the blob store
// given must hold a marker that names this store's id. A missing marker
// means the wrong bucket or a bucket emptied behind the store's back; a
// marker naming another store means another store's bucket. Either way
// the store refuses to open, with an error that names both blob stores
// (MismatchError).
//
// # Creating and adopting
//
// Create makes a new store in a missing or empty directory: it refuses a
// blob store that holds a marker or anything that looks like blobs
// (another store's, maybe one made before identities existed). The root's
// identity is written first, the marker second, so that a crash between
// them leaves a store that refuses to open until Adopt (which finds no
// blobs to miss) completes it, never a marker that no root knows.
//
// Adopt records a blob store for a store that exists already: one made
// before identities existed (no store.json), or one whose bucket moved. It
// accepts a blob store whose marker names the store, or, without a marker,
// one that holds every blob of a sample of the blobs the store references
// (SampleBlobKeys); then it writes the identity and the marker.
package storeid
