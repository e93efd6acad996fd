// Package server is the HTTP front end of s3dfs: WebDAV (RFC 4918, class
// 1, 2 and 3) in the ownCloud flavour that sync clients expect, plus the
// operational endpoints. It imports decomposedfs and nothing below it.
//
// # Routes
//
// docs/http-api.md is the reference of the HTTP API for gateway authors:
// routes, methods, headers, properties and status codes.
//
//	/dav/spaces/{space id}/{path}            a space the user may see (see Visibility)
//	/dav/files/{user}/{path}                 the user's personal space
//	/dav/spaces/trash-bin/{space id}/{item}  a space's trash bin (trashbin.go)
//	/dav/trash-bin/{user}/{item}             the trash bin of the user's personal space
//	/dav/meta/{file id}/v/{revision}         a file's versions (versions.go)
//	/remote.php/dav/...                      aliases of all of the above, for ownCloud clients
//	/remote.php/webdav/{path}                the authenticated user's personal space
//	/remote.php/dav/uploads/{user}/{id}/     the desktop clients' chunked uploads (chunking.go)
//	/status.php  /ocs/v{1,2}.php/cloud/...   what the desktop clients read first (ocs.go)
//	/healthz  /readyz  /metrics              no authentication
//
// Options.BasePath serves all of them under a prefix too.
//
// # Desktop clients
//
// status.php, the OCS capabilities (built from what the server has) and
// the OCS user answer the ownCloud and Nextcloud clients' first
// questions. Their chunked uploads, Nextcloud's NG/v2 under
// /remote.php/dav/uploads/ (chunking.go) and ownCloud's v1 (a PUT with
// OC-Chunked, chunkv1.go), stream into driver upload sessions
// (decomposedfs.PutChunk, FinishUploadWith), as TUS does; a chunk is never
// a file. Every answer that stores a file carries what the clients would
// otherwise PROPFIND for: the etag, the file id, the checksum and OC-Perm
// (ocheaders.go).
//
// # Visibility
//
// Every request acts for its user and the user's groups (Authenticator,
// decomposedfs.WithUser), and the driver decides what the user may see and
// do: a space's owner anything, others what their grants give. A user sees
// the spaces the user owns or is a member of (a grant on the space root);
// a user whose grants lie below the root reaches what they open through
// the space's URLs, and nothing above. Anything the user may not see
// answers exactly as if it did not exist (404, or 409 for a request that
// would create in such a folder), so that nothing leaks; what the user may
// see but not do is 403. /dav/files/ with another user's name is always
// 404. A personal space is created, with a fixed id
// (decomposedfs.PersonalSpaceID), the first time its user logs in. A
// disabled space is invisible to all but its managers, and read-only for
// them. Requests without credentials get 401, unless
// Options.AllowAnonymous is set: then they may read (OPTIONS, GET, HEAD,
// PROPFIND) every enabled space through /dav/spaces/, and nothing more
// (the routes that name a user still need that user).
//
// # Requests
//
// Every request gets an id (X-Request-Id, taken from the request when it is
// sane, generated otherwise), which is echoed in the response and attached
// to every log line logged with the request's context. Request paths are
// decoded segment by segment; a segment that decodes to ".", "..", or
// contains '/', '\' or NUL is refused with 400 before anything is looked
// up, so no encoding trick reaches the driver. XML bodies are limited
// (Options.MaxXMLBody, 413 beyond; MaxXMLDepth levels and MaxXMLNodes
// nodes, 400 beyond), parsed in time linear in their size with strict
// namespace handling (an unbound prefix or xmlns:p="" is 400), and never
// expand entities.
//
// Every request body is read through a wrapper (body.go) that bounds the
// pause between two reads (Options.BodyIdleTimeout) and remembers how the
// body ended: a request whose body stalled answers 408, one whose body
// ended before its Content-Length or broke its chunked encoding 400,
// whatever the handler made of the failure, and nothing is stored. A
// response that begins before the body's end closes the connection.
//
// Credentials are the Authenticator's business; an error from it with a
// RetryAfter method (too many failed logins) answers 429 with Retry-After,
// after a pause of at most Options.ThrottleDelay.
//
// Errors of the driver map to HTTP status codes in one table (errors.go).
//
// # Properties
//
// Live properties are computed from decomposedfs.ResourceInfo
// (oc:permissions from its Permissions, in ownCloud's letters: props.go)
// and the space (the quota properties). oc:favorite is live but may be
// set by PROPPATCH: it is per user (decomposedfs.SetFavorite). Dead
// properties are stored by the driver (SetProps) under Clark-notation keys
// ("{ns}name"; the last '}' ends the namespace, which may hold any
// character) with the property's inner XML as value, re-serialised so
// that it is self-contained: every element declares the namespace it is in, so a value
// can be embedded anywhere in a response. An xml:lang on a dead property is
// kept by prefixing the value with "\x00" LANG "\x00", which no XML content
// can start with.
//
// # Locks
//
// LOCK, UNLOCK and lock discovery are thin: the driver keeps the locks in
// the space record and checks them on every mutation. This package parses
// the If header (RFC 4918, 10.4), evaluates it (412 when no list matches)
// and hands every lock token it names to the driver with
// decomposedfs.WithLockTokens.
//
// # Extensions
//
// Options.Extensions serve requests that WebDAV does not (TUS uploads): the
// first extension whose Match accepts an authenticated, routed request gets
// it, with the resolved Target.
package server
