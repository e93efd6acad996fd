// Package s3 is the blobstore.Store for any S3-compatible server (AWS,
// MinIO, Garage, Ceph RGW, SeaweedFS, versitygw), built on minio-go. It is
// the only package of s3dfs that imports minio-go.
//
// # Objects
//
// A blob with key K is the object Options.Prefix+K in Options.Bucket. The
// caller's metadata travels as S3 user metadata (x-amz-meta-<key>); Stat
// returns it with lower-case keys. Objects in the bucket whose names are not
// valid blob keys are skipped by List.
//
// # Uploads
//
// Bodies of at most Options.PartSize bytes are buffered and sent in one PUT;
// larger or unknown-size bodies go through a multipart upload with parts of
// PartSize bytes (default 16 MiB, at least 5 MiB, the S3 minimum),
// Options.Concurrency parts in flight. The declared size is checked before
// the last byte leaves the caller's reader, so a body that is too short or
// too long fails with blobstore.ErrSizeMismatch before the upload can
// complete; a failed multipart upload is aborted (by minio-go, with a
// context detached from the caller's, so cancellation also cleans up).
//
// # Copies and multipart uploads
//
// Copy (blobstore.Copier) is server-side: one CopyObject up to 5 GiB,
// UploadPartCopy in 512 MiB parts above that, each request conditional on
// the source's ETag. The Multiparter methods map one to one onto S3's
// multipart calls, through a minio.Core on the same client; the upload id
// is the server's, and MinPartSize is 5 MiB (parts are at most 5 GiB).
// CompleteMultipart lists the stored parts first, to check the caller's
// sizes (S3 checks ETags only) and the 5 MiB minimum (not every server
// does). Unlike S3, part numbers must run from 1 without gaps. An upload
// that is never completed or aborted keeps its parts on the server (a
// bucket lifecycle rule, AbortIncompleteMultipartUpload, can expire them).
//
// # Retries and errors
//
// Retries happen in one place: minio-go repeats a single HTTP request up to
// Options.MaxRetries times when it fails with a network error, an HTTP
// 408/429/5xx or an S3 code such as SlowDown or InternalError, sleeping
// a jittered exponential backoff (200 ms doubling, capped at 1 s) that stops
// at ctx cancellation. Every request this package sends can be repeated
// that way, because every request body is in memory: New's bucket check,
// Stat, Delete, each List page, Open's GET, the single PUT of a small blob,
// and each step of a multipart upload (initiate, every part, complete). What
// is not retried is a failure while the caller reads an object body from
// Open's reader, and a multipart upload whose part keeps failing: the
// upload is aborted and the error returned. This package adds no retry
// loop of its own, so attempts never multiply. A request that misses a
// deadline (below) is not retried at all, and ends its whole call.
//
// Errors are classified once, here: NoSuchKey becomes blobstore.ErrNotFound
// (so do NoSuchUpload in the multipart calls and a source missing for
// Copy), InvalidPart, InvalidPartOrder and EntityTooSmall become
// blobstore.ErrInvalidPart, and InvalidRange blobstore.ErrRangeNotSatisfiable, with the minio-go error
// kept in the chain; IsTransient tells errors worth retrying later (5xx,
// throttling, timeouts, network) from permanent ones (AccessDenied,
// NoSuchBucket, other 4xx, cancellation).
//
// # Addressing and timeouts
//
// Options.PathStyle (the default) sends http://endpoint/bucket/key, what
// self-hosted servers expect; without it requests go to
// http://bucket.endpoint/key (virtual-host style), which Validate refuses
// for IP-address endpoints and for dotted bucket names under TLS.
//
// Every request runs under a watchdog (deadline.go): a connection within
// Options.DialTimeout, the first byte of the answer within
// Options.ResponseTimeout once the request is written (plus the size at
// Options.ServerCopyRate for copies and multipart completions, which S3
// works on before it answers), and no pause longer than Options.IdleTimeout
// while the request body goes out or the answer comes in. The caller's own
// pace does not count: a body read slowly by the caller, or handed over
// slowly, is never cut. A request that misses a deadline fails its Store
// call at once with blobstore.ErrUnavailable ("S3 did not answer"): the
// call's context is cancelled, minio-go does not retry, and nothing more
// is sent for the call (not even the abort of a failed multipart upload,
// whose parts then wait for a lifecycle rule). So a hung server (one that
// accepts connections and answers nothing) costs a call about one
// deadline, and the same Store works again once the server does. A
// reader returned by Open fails the same way when S3 stops sending. S3 may
// still carry out a request it had received whole before it hung.
//
// # Quirks
//
// A HEAD response has no body, so Stat cannot tell a missing key from a
// missing bucket: New checks the bucket once. S3 answers any Range on an
// empty object with 416; Open asks for no range when offset is 0 and length
// -1, and otherwise looks at the object's size before reporting
// ErrRangeNotSatisfiable. Servers that map keys to files (versitygw's posix
// backend, like blobstore/posix) cannot hold both "a" and "a/b".
//
// ListParts answers with quoted ETags where UploadPart's are bare (minio-go
// trims those); the store hands out bare ones only. minio-go's
// CopyDestOptions would send a user metadata key such as "content-type" or
// "expires" as that standard header (see copyWhole). S3 itself allows
// copying an object onto itself (that is how metadata is changed in
// place); Copy refuses, as the contract says. versitygw reports
// EntityTooSmall before it looks at the order of the parts.
package s3
