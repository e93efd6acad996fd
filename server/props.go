package server

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// resource is one resource of a PROPFIND response, with what its live
// properties are computed from.
type resource struct {
	ri   *decomposedfs.ResourceInfo
	t    *Target
	h    *Handler
	ctx  context.Context
	root bool // the space root

	// locks are the space's active locks, read once for all the
	// resources of a response (lockLoaded says whether they were).
	locks      []decomposedfs.LockInfo
	lockLoaded bool
	// grants are the space's grants the user may see, by node id, read
	// once for all the resources of a response when a property needs
	// them (grantsLoaded says whether they were).
	grants       map[string][]decomposedfs.GrantInfo
	grantsLoaded bool
}

// liveProp is a computed property. value appends the property's content
// (inner XML) to b and reports whether the property applies to the
// resource at all (getcontentlength does not to a collection); when it
// does not, it has written nothing. Values are written straight into the
// response buffer: a listing of thousands of entries makes no temporary
// strings.
type liveProp struct {
	value func(r *resource, b *bytes.Buffer) bool
	// inAllprop: returned for <allprop/>. RFC 4331 keeps the quota
	// properties out, and the ownCloud ones are only sent when asked for.
	inAllprop bool
}

var liveProps = map[propName]liveProp{
	{nsDAV, "getetag"}: {inAllprop: true, value: func(r *resource, b *bytes.Buffer) bool {
		escapeText(b, r.ri.Etag)
		return true
	}},
	{nsDAV, "getlastmodified"}: {inAllprop: true, value: func(r *resource, b *bytes.Buffer) bool {
		b.Write(r.ri.Mtime.UTC().AppendFormat(b.AvailableBuffer(), http.TimeFormat))
		return true
	}},
	{nsDAV, "creationdate"}: {inAllprop: true, value: func(r *resource, b *bytes.Buffer) bool {
		if r.ri.Btime.IsZero() {
			return false
		}
		b.Write(r.ri.Btime.UTC().AppendFormat(b.AvailableBuffer(), time.RFC3339))
		return true
	}},
	{nsDAV, "getcontentlength"}: {inAllprop: true, value: func(r *resource, b *bytes.Buffer) bool {
		if r.ri.IsDir() {
			return false
		}
		b.Write(strconv.AppendInt(b.AvailableBuffer(), r.ri.Size, 10))
		return true
	}},
	{nsDAV, "getcontenttype"}: {inAllprop: true, value: func(r *resource, b *bytes.Buffer) bool {
		if r.ri.IsDir() {
			return false
		}
		escapeText(b, r.ri.MimeType)
		return true
	}},
	{nsDAV, "resourcetype"}: {inAllprop: true, value: func(r *resource, b *bytes.Buffer) bool {
		if r.ri.IsDir() {
			b.WriteString("<d:collection/>")
		}
		return true
	}},
	{nsDAV, "displayname"}: {value: func(r *resource, b *bytes.Buffer) bool {
		if r.root {
			escapeText(b, r.t.Space.Name)
		} else {
			escapeText(b, r.ri.Name)
		}
		return true
	}},
	{nsDAV, "supportedlock"}: {inAllprop: true, value: func(r *resource, b *bytes.Buffer) bool {
		b.WriteString(supportedLock)
		return true
	}},
	{nsDAV, "lockdiscovery"}: {inAllprop: true, value: func(r *resource, b *bytes.Buffer) bool {
		r.lockDiscovery(b)
		return true
	}},
	{nsDAV, "quota-used-bytes"}: {value: func(r *resource, b *bytes.Buffer) bool {
		if !r.ri.IsDir() {
			return false
		}
		b.Write(strconv.AppendInt(b.AvailableBuffer(), r.ri.Size, 10))
		return true
	}},
	{nsDAV, "quota-available-bytes"}: {value: func(r *resource, b *bytes.Buffer) bool {
		if !r.ri.IsDir() {
			return false
		}
		b.Write(strconv.AppendInt(b.AvailableBuffer(), r.available(), 10))
		return true
	}},
	{nsOC, "id"}: {value: func(r *resource, b *bytes.Buffer) bool {
		r.fileID(b)
		return true
	}},
	{nsOC, "fileid"}: {value: func(r *resource, b *bytes.Buffer) bool {
		r.fileID(b)
		return true
	}},
	{nsOC, "permissions"}: {value: func(r *resource, b *bytes.Buffer) bool {
		b.WriteString(r.permissions())
		return true
	}},
	{nsOC, "favorite"}: {value: func(r *resource, b *bytes.Buffer) bool {
		if decomposedfs.IsFavorite(r.ctx, r.ri) {
			b.WriteByte('1')
		} else {
			b.WriteByte('0')
		}
		return true
	}},
	{nsOC, "share-types"}: {value: func(r *resource, b *bytes.Buffer) bool {
		r.shareTypes(b)
		return true
	}},
	{nsOC, "size"}: {value: func(r *resource, b *bytes.Buffer) bool {
		b.Write(strconv.AppendInt(b.AvailableBuffer(), r.ri.Size, 10))
		return true
	}},
	{nsOC, "checksums"}: {value: func(r *resource, b *bytes.Buffer) bool {
		c := r.ri.Checksums
		if r.ri.IsDir() || c.SHA1 == "" {
			return false
		}
		b.WriteString("<oc:checksum>SHA1:")
		b.WriteString(c.SHA1)
		b.WriteString(" MD5:")
		b.WriteString(c.MD5)
		b.WriteString(" ADLER32:")
		b.WriteString(c.Adler32)
		b.WriteString("</oc:checksum>")
		return true
	}},
}

// allpropOrder fixes the order of allprop and propname responses.
var allpropOrder = []propName{
	{nsDAV, "resourcetype"}, {nsDAV, "getetag"}, {nsDAV, "getlastmodified"}, {nsDAV, "getcontentlength"},
	{nsDAV, "getcontenttype"}, {nsDAV, "displayname"}, {nsDAV, "supportedlock"}, {nsDAV, "lockdiscovery"},
	{nsDAV, "quota-used-bytes"}, {nsDAV, "quota-available-bytes"},
	{nsOC, "id"}, {nsOC, "fileid"}, {nsOC, "permissions"}, {nsOC, "size"}, {nsOC, "checksums"},
	{nsOC, "favorite"}, {nsOC, "share-types"},
}

// allprop are the live properties of <allprop/>, in order.
var allprop = func() []reqProp {
	var out []reqProp
	for _, pn := range allpropOrder {
		if lp := liveProps[pn]; lp.inAllprop {
			out = append(out, reqProp{name: pn, live: lp, isLive: true})
		}
	}
	return out
}()

// reqProp is a property a PROPFIND asks for, looked up once per request
// rather than once per resource.
type reqProp struct {
	name   propName
	clark  string // the dead property key
	live   liveProp
	isLive bool
}

func resolveProps(names []propName) []reqProp {
	out := make([]reqProp, len(names))
	for i, pn := range names {
		lp, live := liveProps[pn]
		out[i] = reqProp{name: pn, clark: pn.clark(), live: lp, isLive: live}
	}
	return out
}

const supportedLock = "<d:lockentry><d:lockscope><d:exclusive/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockentry>" +
	"<d:lockentry><d:lockscope><d:shared/></d:lockscope><d:locktype><d:write/></d:locktype></d:lockentry>"

// quotaUnlimited is ownCloud's quota-available-bytes for a space without
// a quota (its SPACE_UNLIMITED); clients know it.
const quotaUnlimited = -3

// available is what the space's quota leaves: the quota less the bytes
// used and those held by uploads in progress.
func (r *resource) available() int64 {
	if a := r.t.Space.Available(); a >= 0 {
		return a
	}
	return quotaUnlimited
}

// fileID writes ownCloud's file id: the space and the node, which
// together find a node without a path.
func (r *resource) fileID(b *bytes.Buffer) {
	b.WriteString(r.ri.SpaceID)
	b.WriteByte('!')
	b.WriteString(r.ri.ID)
}

// permissions are ownCloud's permission letters for the user, in the order
// ownCloud and oCIS write them (docs/http-api.md has the table):
//
//	S  a grant to the user or one of the user's groups is on the resource
//	   (it is shared with the user here)
//	R  the user may share it (PermShare)
//	M  a mount point: never (s3dfs mounts nothing)
//	D  delete (PermDelete)
//	N  rename, V  move (PermMove; both, as the driver does not tell them apart)
//	W  write (files: PermOverwrite)
//	C  create files, K  create folders (folders: PermCreateFile, PermCreateFolder)
//
// A space root cannot be deleted, renamed or moved. Anonymous readers get
// no letters that write.
func (r *resource) permissions() string {
	p := r.ri.Permissions
	if r.t.User == "" {
		p &= decomposedfs.PermStat | decomposedfs.PermList | decomposedfs.PermDownload
	}
	var b [9]byte
	out := b[:0]
	if r.sharedWithUser() {
		out = append(out, 'S')
	}
	if p.Has(decomposedfs.PermShare) {
		out = append(out, 'R')
	}
	if !r.root && p.Has(decomposedfs.PermDelete) {
		out = append(out, 'D')
	}
	if !r.root && p.Has(decomposedfs.PermMove) {
		out = append(out, 'N', 'V')
	}
	if r.ri.IsDir() {
		if p.Has(decomposedfs.PermCreateFile) {
			out = append(out, 'C')
		}
		if p.Has(decomposedfs.PermCreateFolder) {
			out = append(out, 'K')
		}
	} else if p.Has(decomposedfs.PermOverwrite) {
		out = append(out, 'W')
	}
	return string(out)
}

// sharedWithUser reports whether a grant to the user, or to a group of the
// user's, is on the resource itself. A space's owner receives no grants.
func (r *resource) sharedWithUser() bool {
	if r.t.User == "" || (r.t.Space.Owner != "" && r.t.Space.Owner == r.t.User) {
		return false
	}
	for _, g := range r.grantsOn() {
		if g.Deny {
			continue
		}
		if name, ok := strings.CutPrefix(g.Grantee, "user:"); ok && name == r.t.User {
			return true
		}
		if name, ok := strings.CutPrefix(g.Grantee, "group:"); ok && slices.Contains(r.t.Groups, name) {
			return true
		}
	}
	return false
}

// shareTypes writes oc:share-types: ownCloud's share type of each grant on
// the resource (0 a user, 1 a group; denials are not shares), once per
// type. Only users who may share the resource see them.
func (r *resource) shareTypes(b *bytes.Buffer) {
	if !r.ri.Permissions.Has(decomposedfs.PermShare) || r.t.User == "" {
		return
	}
	var user, group bool
	for _, g := range r.grantsOn() {
		switch {
		case g.Deny:
		case strings.HasPrefix(g.Grantee, "user:"):
			user = true
		case strings.HasPrefix(g.Grantee, "group:"):
			group = true
		}
	}
	if user {
		b.WriteString("<oc:share-type>0</oc:share-type>")
	}
	if group {
		b.WriteString("<oc:share-type>1</oc:share-type>")
	}
}

// grantsOn returns the grants on the resource itself.
func (r *resource) grantsOn() []decomposedfs.GrantInfo {
	if !r.grantsLoaded {
		r.grantsLoaded = true
		gs, err := r.h.fs.Grants(r.ctx, r.ri.SpaceID)
		if err != nil {
			r.h.log.WarnContext(r.ctx, "grants unreadable", "space", r.ri.SpaceID, "err", err)
			return nil
		}
		r.grants = map[string][]decomposedfs.GrantInfo{}
		for _, g := range gs {
			r.grants[g.NodeID] = append(r.grants[g.NodeID], g)
		}
	}
	return r.grants[r.ri.ID]
}

func (r *resource) lockDiscovery(b *bytes.Buffer) {
	if !r.lockLoaded {
		locks, err := r.h.fs.SpaceLocks(r.ctx, r.ri.SpaceID)
		if err != nil {
			r.h.log.WarnContext(r.ctx, "lock discovery failed", "path", r.ri.Path, "err", err)
			return
		}
		r.locks, r.lockLoaded = locks, true
	}
	locks := decomposedfs.LocksCovering(r.locks, r.ri.Path)
	for i := range locks {
		writeActiveLock(b, &locks[i], r.t, locks[i].NodeID != r.ri.ID || r.ri.IsDir())
	}
}

// writeActiveLock writes a DAV:activelock element. rootIsDir says whether
// the lock root is a collection (for its href).
func writeActiveLock(b *bytes.Buffer, l *decomposedfs.LockInfo, t *Target, rootIsDir bool) {
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
	b.WriteString(t.Href(l.Path, rootIsDir))
	b.WriteString("</d:href></d:lockroot></d:activelock>")
}

// writeLive writes a live property element; false (and nothing written)
// where it does not apply.
func writeLive(b *bytes.Buffer, r *resource, pn propName, lp liveProp) bool {
	mark := b.Len()
	openTag(b, pn, "", false)
	if !lp.value(r, b) {
		b.Truncate(mark)
		return false
	}
	closeTag(b, pn)
	return true
}

// writeDead writes a dead property element from its stored value.
func writeDead(b *bytes.Buffer, pn propName, stored string) {
	inner, lang := decodeDead(stored)
	if inner == "" {
		openTag(b, pn, lang, true)
		return
	}
	openTag(b, pn, lang, false)
	b.WriteString(inner)
	closeTag(b, pn)
}

// resource writes the PROPFIND response of one resource: the properties
// found in a 200 propstat, those asked for and not found in a 404 one.
func (m *msWriter) resource(href string, r *resource, pf *propfindReq) error {
	b := m.begin(href)
	m.missing = m.missing[:0]
	start := b.Len()
	b.WriteString("<d:propstat><d:prop>")
	first := b.Len()
	switch pf.kind {
	case findPropname:
		for _, pn := range allpropOrder {
			lp := liveProps[pn]
			// Whether a property applies is known by computing it; lock
			// discovery, which costs a lookup, always applies.
			if pn.local != "lockdiscovery" {
				m.scratch.Reset()
				if !lp.value(r, &m.scratch) {
					continue
				}
			}
			openTag(b, pn, "", true)
		}
		for k := range r.ri.Props {
			if pn, ok := deadName(k); ok {
				openTag(b, pn, "", true)
			}
		}
	case findAllprop:
		for _, ap := range allprop {
			writeLive(b, r, ap.name, ap.live)
		}
		for k, v := range r.ri.Props {
			if pn, ok := deadName(k); ok {
				writeDead(b, pn, v)
			}
		}
		for _, rp := range pf.props { // <include>
			if rp.isLive && !rp.live.inAllprop && !writeLive(b, r, rp.name, rp.live) {
				m.missing = append(m.missing, rp.name)
			}
		}
	case findProp:
		for _, rp := range pf.props {
			if rp.isLive {
				if !writeLive(b, r, rp.name, rp.live) {
					m.missing = append(m.missing, rp.name)
				}
			} else if v, ok := r.ri.Props[rp.clark]; ok {
				writeDead(b, rp.name, v)
			} else {
				m.missing = append(m.missing, rp.name)
			}
		}
	}
	if b.Len() == first && len(m.missing) > 0 {
		b.Truncate(start) // nothing found: only the 404 propstat
	} else {
		b.WriteString("</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>")
	}
	writePropstat(b, propstat{status: http.StatusNotFound, names: m.missing})
	return m.end()
}

// deadName is the property name of a stored dead property key, if it is
// one this server can send: Clark notation, a valid XML name, and not the
// name of a live property.
func deadName(k string) (propName, bool) {
	pn, ok := parseClark(k)
	if !ok || !isXMLName(pn.local) {
		return pn, false
	}
	_, live := liveProps[pn]
	return pn, !live
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
