package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// resource is one resource of a PROPFIND (or LOCK) response, with what its
// live properties are computed from.
type resource struct {
	ri   *decomposedfs.ResourceInfo
	t    *Target
	h    *Handler
	ctx  context.Context
	root bool // the space root
}

// liveProp computes a live property; ok is false where the property does
// not apply (getcontentlength of a collection, say).
type liveProp struct {
	get func(r *resource) (inner string, ok bool)
	// inAllprop: returned for <allprop/>. RFC 4331 keeps the quota
	// properties out, and the ownCloud ones are only sent when asked for.
	inAllprop bool
}

var liveProps = map[propName]liveProp{
	{nsDAV, "getetag"}: {inAllprop: true, get: func(r *resource) (string, bool) {
		return xmlText(r.ri.Etag), true
	}},
	{nsDAV, "getlastmodified"}: {inAllprop: true, get: func(r *resource) (string, bool) {
		return r.ri.Mtime.UTC().Format(http.TimeFormat), true
	}},
	{nsDAV, "getcontentlength"}: {inAllprop: true, get: func(r *resource) (string, bool) {
		if r.ri.IsDir() {
			return "", false
		}
		return strconv.FormatInt(r.ri.Size, 10), true
	}},
	{nsDAV, "getcontenttype"}: {inAllprop: true, get: func(r *resource) (string, bool) {
		if r.ri.IsDir() {
			return "", false
		}
		return xmlText(r.ri.MimeType), true
	}},
	{nsDAV, "resourcetype"}: {inAllprop: true, get: func(r *resource) (string, bool) {
		if r.ri.IsDir() {
			return "<d:collection/>", true
		}
		return "", true
	}},
	{nsDAV, "displayname"}: {get: func(r *resource) (string, bool) {
		if r.root {
			return xmlText(r.t.Space.Name), true
		}
		return xmlText(r.ri.Name), true
	}},
	{nsDAV, "supportedlock"}: {inAllprop: true, get: func(r *resource) (string, bool) {
		return supportedLock, true
	}},
	{nsDAV, "lockdiscovery"}: {inAllprop: true, get: func(r *resource) (string, bool) {
		return r.lockDiscovery(), true
	}},
	{nsDAV, "quota-used-bytes"}: {get: func(r *resource) (string, bool) {
		if !r.ri.IsDir() {
			return "", false
		}
		return strconv.FormatInt(r.ri.Size, 10), true
	}},
	{nsDAV, "quota-available-bytes"}: {get: func(r *resource) (string, bool) {
		if !r.ri.IsDir() {
			return "", false
		}
		return strconv.FormatInt(r.available(), 10), true
	}},
	{nsOC, "id"}: {get: func(r *resource) (string, bool) {
		return r.fileID(), true
	}},
	{nsOC, "fileid"}: {get: func(r *resource) (string, bool) {
		return r.fileID(), true
	}},
	{nsOC, "permissions"}: {get: func(r *resource) (string, bool) {
		return r.permissions(), true
	}},
	{nsOC, "size"}: {get: func(r *resource) (string, bool) {
		return strconv.FormatInt(r.ri.Size, 10), true
	}},
	{nsOC, "checksums"}: {get: func(r *resource) (string, bool) {
		c := r.ri.Checksums
		if r.ri.IsDir() || c.SHA1 == "" {
			return "", false
		}
		return "<oc:checksum>SHA1:" + c.SHA1 + " MD5:" + c.MD5 + " ADLER32:" + c.Adler32 + "</oc:checksum>", true
	}},
}

// allpropOrder fixes the order of allprop and propname responses.
var allpropOrder = []propName{
	{nsDAV, "resourcetype"}, {nsDAV, "getetag"}, {nsDAV, "getlastmodified"}, {nsDAV, "getcontentlength"},
	{nsDAV, "getcontenttype"}, {nsDAV, "displayname"}, {nsDAV, "supportedlock"}, {nsDAV, "lockdiscovery"},
	{nsDAV, "quota-used-bytes"}, {nsDAV, "quota-available-bytes"},
	{nsOC, "id"}, {nsOC, "fileid"}, {nsOC, "permissions"}, {nsOC, "size"}, {nsOC, "checksums"},
}

const supportedLock = "<d:lockentry><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockentry>" +
	"<d:lockentry><d:lockscope><d:shared/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockentry>"

// quotaUnlimited is ownCloud's quota-available-bytes for a space without
// a quota (its SPACE_UNLIMITED); clients know it.
const quotaUnlimited = -3

func (r *resource) available() int64 {
	s := r.t.Space
	if s.Quota <= 0 {
		return quotaUnlimited
	}
	return max(s.Quota-s.Used, 0)
}

// fileID is ownCloud's file id: the space and the node, which together
// find a node without a path.
func (r *resource) fileID() string {
	return r.ri.SpaceID + "!" + r.ri.ID
}

// permissions are ownCloud's permission letters. Owners may do anything,
// except delete, rename or move a space root: R share, D delete, N rename,
// V move, W write (files), C create files and K create folders (folders).
func (r *resource) permissions() string {
	switch {
	case r.root:
		return "RCK"
	case r.ri.IsDir():
		return "RDNVCK"
	}
	return "RDNVW"
}

func (r *resource) lockDiscovery() string {
	ref := decomposedfs.Reference{SpaceID: r.ri.SpaceID, NodeID: r.ri.ID}
	locks, err := r.h.fs.Locks(r.ctx, ref)
	if err != nil {
		r.h.log.WarnContext(r.ctx, "lock discovery failed", "path", r.ri.Path, "err", err)
		return ""
	}
	var b strings.Builder
	for i := range locks {
		writeActiveLock(&b, &locks[i], r.t, locks[i].NodeID != r.ri.ID || r.ri.IsDir())
	}
	return b.String()
}

// writeActiveLock writes a DAV:activelock element. rootIsDir says whether
// the lock root is a collection (for its href).
func writeActiveLock(b *strings.Builder, l *decomposedfs.LockInfo, t *Target, rootIsDir bool) {
	b.WriteString("<d:activelock><d:locktype><d:write/></d:locktype><d:lockscope>")
	if l.Shared {
		b.WriteString("<d:shared/>")
	} else {
		b.WriteString("<d:exclusive/>")
	}
	b.WriteString("</d:lockscope><d:depth>")
	if l.Deep {
		b.WriteString("infinity")
	} else {
		b.WriteString("0")
	}
	b.WriteString("</d:depth>")
	if l.Owner != "" {
		b.WriteString("<d:owner>")
		b.WriteString(l.Owner)
		b.WriteString("</d:owner>")
	}
	secs := int64(time.Until(l.Expires)/time.Second) + 1
	b.WriteString("<d:timeout>Second-")
	b.WriteString(strconv.FormatInt(max(secs, 0), 10))
	b.WriteString("</d:timeout><d:locktoken><d:href>")
	escapeText(b, l.Token)
	b.WriteString("</d:href></d:locktoken><d:lockroot><d:href>")
	escapeText(b, t.Href(l.Path, rootIsDir))
	b.WriteString("</d:href></d:lockroot></d:activelock>")
}

// xmlText escapes s as character data.
func xmlText(s string) string {
	var b strings.Builder
	escapeText(&b, s)
	return b.String()
}

// Dead property values: inner XML, with an optional xml:lang kept as a
// "\x00LANG\x00" prefix (see doc.go).

func encodeDead(inner, lang string) string {
	if lang == "" {
		return inner
	}
	return "\x00" + lang + "\x00" + inner
}

func decodeDead(v string) (inner, lang string) {
	if !strings.HasPrefix(v, "\x00") {
		return v, ""
	}
	lang, inner, ok := strings.Cut(v[1:], "\x00")
	if !ok {
		return v[1:], ""
	}
	return inner, lang
}

// deadProps returns the dead properties of a resource that can be sent:
// keys in Clark notation with a valid XML name.
func deadProps(ri *decomposedfs.ResourceInfo) []propValue {
	if len(ri.Props) == 0 {
		return nil
	}
	out := make([]propValue, 0, len(ri.Props))
	for k, v := range ri.Props {
		pn, ok := parseClark(k)
		if !ok || !isXMLName(pn.local) {
			continue
		}
		if _, live := liveProps[pn]; live {
			continue
		}
		inner, lang := decodeDead(v)
		out = append(out, propValue{name: pn, inner: inner, lang: lang})
	}
	return out
}

// isXMLName reports whether s is an XML name without a colon.
func isXMLName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (r == '-' || r == '.' || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)):
		case r == utf8.RuneError:
			return false
		default:
			return false
		}
	}
	return true
}
