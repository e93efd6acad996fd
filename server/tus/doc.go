// Package tus serves TUS 1.0 resumable uploads (https://tus.io/protocols/
// resumable-upload) into a decomposedfs.FS: the protocol is tusd v2's
// (github.com/tus/tusd/v2/pkg/handler, used as a library), the data store
// is ours, over the driver's upload sessions (InitiateUpload, WriteUpload,
// FinishUpload, AbortUpload).
//
// A TUS upload is a driver upload session and has its id. The session
// lives in the metadata store and its bytes in the blob store (multipart
// parts, hashed on the way), so any process sharing both continues an
// upload, after a restart too; nothing is kept in this package between
// requests.
//
// # Wiring
//
// The router authenticates and authorises, then tells the handler who and
// where with WithTarget; or, for the upload URLs, Options.User reads the
// user from the router's context:
//
//	h, err := tus.New(fs, tus.Options{BasePath: "/dav/uploads/", User: server.UserFromContext})
//	opts.Mounts["/dav/uploads/"] = h                 // POST, HEAD, PATCH, DELETE, OPTIONS
//	opts.Extensions = append(opts.Extensions, ext{h}) // ownCloud: POST to a folder's URL
//
//	type ext struct{ *tus.Handler } // Match and Advertise come with it
//	func (e ext) Serve(w http.ResponseWriter, r *http.Request, t *server.Target) {
//		e.ServeHTTP(w, r.WithContext(tus.WithTarget(r.Context(), t.User, t.Ref())))
//	}
//
// and, on shutdown, h.Shutdown(ctx) before the http.Server's.
//
// # HTTP
//
//	OPTIONS  any path        204 Tus-Version, Tus-Resumable, Tus-Extension
//	                         (creation, creation-with-upload, termination,
//	                         checksum, expiration), Tus-Checksum-Algorithm
//	                         (sha1, md5), Tus-Max-Size
//	POST     BasePath, or a  201 Location (BasePath+id, absolute URL),
//	         folder's URL    Upload-Expires; with a body (creation-with-
//	         (WithTarget)    upload) Upload-Offset; a complete upload is
//	                         committed: ETag, OC-ETag, OC-FileId, OC-Checksum,
//	                         OC-Perm (Options.Permissions), X-OC-MTime
//	HEAD     BasePath+id     200 Upload-Offset, Upload-Length,
//	                         Upload-Metadata, Upload-Expires, no-store
//	PATCH    BasePath+id     204 Upload-Offset, Upload-Expires; the last
//	                         chunk commits the file (headers as for POST)
//	DELETE   BasePath+id     204; the upload and its bytes are gone
//	other                    405
//
// Errors (tusd's "ERR_CODE: message" text bodies):
//
//	400  no/invalid filename (a name, or a path of names below the folder
//	     as owncloudcmd sends it: the driver's name rules, plus no '\',
//	     '.', '..' or empty segment),
//	     invalid mtime or checksum metadata, Upload-Length, Upload-Offset,
//	     Content-Type or Upload-Checksum; an unsupported checksum algorithm;
//	     a body that ended early (ERR_UNEXPECTED_EOF: what arrived is kept);
//	     a body interrupted by a newer request for the upload
//	     (ERR_UPLOAD_INTERRUPTED: kept)
//	403  creation without a user; the user may not create or overwrite there
//	404  an unknown or someone else's upload; a missing folder; a POST
//	     elsewhere than BasePath without a folder
//	409  Upload-Offset is not the upload's offset; another request (in any
//	     process) is writing or finishing the upload; the filename is a
//	     folder's; the folder is a file
//	410  an expired upload
//	412  no or another Tus-Resumable
//	507  the upload would exceed the space's quota (nothing is stored)
//	413  Upload-Length over MaxSize, or over what the blob store holds; a
//	     chunk past Upload-Length (discarded whole, with or without
//	     Content-Length), also one for an upload that has all its bytes
//	     (tusd would answer 204 and drop it)
//	423  the file or a folder above it is WebDAV-locked (the router's lock
//	     tokens are honoured at creation); another request held the upload
//	     past tusd's lock timeout
//	460  a chunk does not match its Upload-Checksum (discarded whole); the
//	     file does not match the checksum metadata (the upload is over)
//	500  read timeout or connection reset (what arrived is kept); anything
//	     unexpected (logged, not shown)
//	501  Upload-Defer-Length
//	503  the handler is shutting down (what arrived is kept); the blob
//	     store is unreachable or did not answer in time (Retry-After)
//
// # What tusd does and does not
//
// tusd v2 parses and checks the protocol (versions, lengths, offsets,
// metadata, method override), locks, limits the body to the upload's
// length, and gives the store a grace period (10 s) after a client hangs
// up to keep what arrived. It has no checksum and no expiration extension
// and its error responses drop the headers of a half-done creation; this
// package adds those: Upload-Checksum is parsed here and checked by the
// driver on the way (WriteUpload's chunk checksum), Upload-Expires comes
// from the session, and the store sets Location itself. tusd's body reader
// hides why a body ended; bodyWatch tells the store, so that a body longer
// than the upload is refused rather than cut and committed.
//
// # Concurrency
//
// Correctness across processes rests on the driver: WriteUpload advances
// the offset by compare-and-swap under the session record's cross-process
// lock, so of two writers at one offset one wins and the other gets 409.
// The locker here works within a process only and buys liveness: a request
// for an upload interrupts the one holding it (a client retrying over a
// dead connection sees the real offset at once instead of after a read
// timeout). See locker. Ownership is checked before the lock is taken, so
// only the upload's owner can interrupt its requests.
//
// The creation's filename may be a path below the folder, as owncloudcmd
// sends it ("/docs/a.txt", relative to the files URL it POSTs to), and an
// X-OC-Mtime header stands for the mtime metadata the ownCloud client
// does not send. Sessions that TUS did not create (the clients' chunked
// uploads of the server package) are not TUS uploads: 404.
//
// An upload that has every byte but was not committed (the process died
// between the last chunk and the commit) is committed on the next HEAD or
// PATCH for it (Options.FinishStranded, on by default). That HEAD or PATCH
// may come, from another client or process, in the moment between the last
// chunk and its own commit: the request of the last chunk then finds the
// commit under way, waits for it, and answers 204 with the file's headers
// as if it had made it (its bytes are what was committed); a HEAD or PATCH
// that finds a commit under way answers with the upload as it stands. A finished upload
// answers HEAD with its full offset until it expires, so a client that lost
// the last response does not start over.
package tus
