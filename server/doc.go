// Package server is the HTTP front end of s3dfs: WebDAV (RFC 4918, class
// 1, 2 and 3) in the ownCloud flavour that sync clients expect, plus the
// operational endpoints. It imports decomposedfs and nothing below it.
//
// # Routes
//
//	/dav/spaces/{space id}/{path}            a space the user owns
//	/dav/files/{user}/{path}                 the user's personal space
//	/remote.php/dav/spaces/{space id}/{path} alias, for ownCloud clients
//	/remote.php/dav/files/{user}/{path}      alias
//	/remote.php/webdav/{path}                the authenticated user's personal space
//	/healthz  /readyz  /metrics              no authentication
//
// A personal space is created, with a fixed id (decomposedfs.PersonalSpaceID),
// the first time its user logs in. A user sees only the spaces the user owns:
// any other space id, and /dav/files/ with another user's name, answers 404,
// exactly as a space that does not exist, so that nothing leaks. Requests
// without credentials get 401, unless Options.AllowAnonymous is set: then
// they may read (OPTIONS, GET, HEAD, PROPFIND) every space, and nothing more.
//
// # Requests
//
// Every request gets an id (X-Request-Id, taken from the request when it is
// sane, generated otherwise), which is echoed in the response and attached
// to every log line logged with the request's context. Request paths are
// decoded segment by segment; a segment that decodes to ".", "..", or
// contains '/', '\' or NUL is refused with 400 before anything is looked
// up, so no encoding trick reaches the driver. XML bodies are limited
// (Options.MaxXMLBody, 413 beyond), parsed with strict namespace handling
// (an unbound prefix or xmlns:p="" is 400), and never expand entities.
//
// Errors of the driver map to HTTP status codes in one table (errors.go).
//
// # Properties
//
// Live properties are computed from decomposedfs.ResourceInfo; dead ones are
// stored by the driver (SetProps) under Clark-notation keys ("{ns}name")
// with the property's inner XML as value, re-serialised so that it is
// self-contained: every element declares the namespace it is in, so a value
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
