package server

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// The route families. Each maps a URL prefix to a space; the rest of the
// URL path is the path in the space.
const (
	prefixSpaces   = "/dav/spaces/"
	prefixFiles    = "/dav/files/"
	prefixOCSpaces = "/remote.php/dav/spaces/"
	prefixOCFiles  = "/remote.php/dav/files/"
	prefixWebDAV   = "/remote.php/webdav"

	// The trash bins: of a space, and of a user's personal space. A space
	// id is a UUID, so "trash-bin" never is one.
	prefixTrashSpace   = "/dav/spaces/trash-bin/"
	prefixOCTrashSpace = "/remote.php/dav/spaces/trash-bin/"
	prefixTrashUser    = "/dav/trash-bin/"
	prefixOCTrashUser  = "/remote.php/dav/trash-bin/"

	// The versions of a file, by file id: {prefix}{file id}/v/{revision}.
	prefixMeta   = "/dav/meta/"
	prefixOCMeta = "/remote.php/dav/meta/"
)

type routeKind uint8

const (
	routeSpaces     routeKind = iota + 1 // the URL names a space id
	routeFiles                           // the URL names a user: the personal space
	routeWebDAV                          // the authenticated user's personal space
	routeTrashSpace                      // the trash bin of a space, by id
	routeTrashUser                       // the trash bin of a user's personal space
	routeMeta                            // a file's metadata collection, by file id
)

// route is a parsed DAV URL path, before authorisation.
type route struct {
	kind routeKind
	// name is the space id (routeSpaces, routeTrashSpace), the user name
	// (routeFiles, routeTrashUser) or the file id (routeMeta).
	name string
	// base is the escaped URL path of the space root (or trash bin, or
	// metadata collection), without a trailing slash:
	// "/remote.php/dav/files/alice".
	base string
	// path is the decoded path below base: "/", "/a/b".
	path string
}

// errBadPath: a URL path that no resource can have (a "." or ".."
// segment, an encoded '/', a backslash, NUL, invalid UTF-8). It is 400, and
// nothing is looked up.
var errBadPath = errors.New("server: malformed path")

// errNoRoute: a URL path outside the DAV route families.
var errNoRoute = errors.New("server: no such route")

// parseRoute splits an escaped URL path into route family, space name and
// path in the space.
func parseRoute(escaped string) (route, error) {
	var rt route
	var rest string
	switch {
	case strings.HasPrefix(escaped, prefixTrashSpace):
		rt.kind, rest = routeTrashSpace, escaped[len(prefixTrashSpace):]
		rt.base = prefixTrashSpace
	case strings.HasPrefix(escaped, prefixOCTrashSpace):
		rt.kind, rest = routeTrashSpace, escaped[len(prefixOCTrashSpace):]
		rt.base = prefixOCTrashSpace
	case strings.HasPrefix(escaped, prefixTrashUser):
		rt.kind, rest = routeTrashUser, escaped[len(prefixTrashUser):]
		rt.base = prefixTrashUser
	case strings.HasPrefix(escaped, prefixOCTrashUser):
		rt.kind, rest = routeTrashUser, escaped[len(prefixOCTrashUser):]
		rt.base = prefixOCTrashUser
	case strings.HasPrefix(escaped, prefixMeta):
		rt.kind, rest = routeMeta, escaped[len(prefixMeta):]
		rt.base = prefixMeta
	case strings.HasPrefix(escaped, prefixOCMeta):
		rt.kind, rest = routeMeta, escaped[len(prefixOCMeta):]
		rt.base = prefixOCMeta
	case strings.HasPrefix(escaped, prefixSpaces):
		rt.kind, rest = routeSpaces, escaped[len(prefixSpaces):]
		rt.base = prefixSpaces
	case strings.HasPrefix(escaped, prefixOCSpaces):
		rt.kind, rest = routeSpaces, escaped[len(prefixOCSpaces):]
		rt.base = prefixOCSpaces
	case strings.HasPrefix(escaped, prefixFiles):
		rt.kind, rest = routeFiles, escaped[len(prefixFiles):]
		rt.base = prefixFiles
	case strings.HasPrefix(escaped, prefixOCFiles):
		rt.kind, rest = routeFiles, escaped[len(prefixOCFiles):]
		rt.base = prefixOCFiles
	case escaped == prefixWebDAV || strings.HasPrefix(escaped, prefixWebDAV+"/"):
		rt.kind, rest = routeWebDAV, escaped[len(prefixWebDAV):]
		rt.base = prefixWebDAV
	default:
		return rt, errNoRoute
	}
	segs, err := decodeSegments(rest)
	if err != nil {
		return rt, err
	}
	if rt.kind != routeWebDAV {
		if len(segs) == 0 {
			return rt, errNoRoute
		}
		rt.name = segs[0]
		rt.base += escapeSegment(segs[0])
		segs = segs[1:]
	}
	rt.path = "/" + strings.Join(segs, "/")
	return rt, nil
}

// route parses an escaped URL path, which may start with the base path,
// into a route whose base carries the base path (see Options.BasePath).
func (h *Handler) route(escaped string) (route, error) {
	bp := h.opts.BasePath
	if bp != "" {
		if rest, ok := strings.CutPrefix(escaped, bp); ok && (rest == "" || rest[0] == '/') {
			escaped = rest
		}
	}
	rt, err := parseRoute(escaped)
	rt.base = bp + rt.base
	return rt, err
}

// pathPrefix is the path every URL of a response starts with: the base
// path.
func (h *Handler) pathPrefix() string { return h.opts.BasePath }

// decodeSegments decodes an escaped path into its segments, dropping empty
// ones, and refuses any segment that could mean something other than a
// name.
func decodeSegments(escaped string) ([]string, error) {
	var segs []string
	for seg := range strings.SplitSeq(escaped, "/") {
		if seg == "" {
			continue
		}
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return nil, errBadPath
		}
		if dec == "." || dec == ".." || strings.ContainsAny(dec, "/\\\x00") || !utf8.ValidString(dec) {
			return nil, errBadPath
		}
		segs = append(segs, dec)
	}
	return segs, nil
}

// isID reports whether s has the form of a space or node id: a UUID in
// lower case. (The driver validates ids too; this spares a lookup.)
func isID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// Target is a routed, authorised request: the space and the path in it.
// Extensions get it with the request.
type Target struct {
	// User is the authenticated user; empty for anonymous access.
	User string
	// Groups are the user's groups.
	Groups []string
	// Space is the target's space. For a user who reaches it only through
	// grants below its root, it holds nothing but the id.
	Space *decomposedfs.SpaceInfo
	// Path is the path in the space, "/" for its root.
	Path string
	// Base is the escaped URL path of the space root, without a trailing
	// slash.
	Base string
}

// Ref is the driver reference of the target.
func (t *Target) Ref() decomposedfs.Reference {
	return decomposedfs.Reference{SpaceID: t.Space.ID, Path: t.Path}
}

// ref is the reference of another path in the target's space.
func (t *Target) ref(p string) decomposedfs.Reference {
	return decomposedfs.Reference{SpaceID: t.Space.ID, Path: p}
}

// Href is the escaped URL path of a path in the target's space; dir adds
// the trailing slash of a collection.
func (t *Target) Href(p string, dir bool) string {
	return hrefOf(t.Base, p, dir)
}

func hrefOf(base, p string, dir bool) string {
	var b strings.Builder
	b.Grow(len(base) + len(p) + 8)
	b.WriteString(base)
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" {
			continue
		}
		b.WriteByte('/')
		appendEscaped(&b, seg)
	}
	if dir || b.Len() == len(base) {
		b.WriteByte('/')
	}
	return b.String()
}

// parent returns the path of the folder containing p ("/" for "/").
func parent(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

func escapeSegment(s string) string {
	var b strings.Builder
	appendEscaped(&b, s)
	return b.String()
}

const hexDigits = "0123456789ABCDEF"

// appendEscaped percent-encodes everything but RFC 3986's unreserved
// characters: a name with spaces, '#', '%', '?', '&', quotes or non-ASCII
// letters comes out as a path segment that every client decodes back to
// the same name.
func appendEscaped(b *strings.Builder, s string) {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			continue
		}
		b.WriteString(s[start:i])
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
		start = i + 1
	}
	b.WriteString(s[start:])
}
