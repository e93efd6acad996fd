package server

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// The trash bin and the versions collections answer PROPFIND about
// things that are not live files and folders (trash items, revisions).
// Their properties come from small tables instead of liveProps; they have
// no dead properties, and every property they know is in allprop.

// entryProp is a property of such an entry: value appends its content and
// reports whether it applies to e, like liveProp.value.
type entryProp[T any] struct {
	name  propName
	value func(e T, b *bytes.Buffer) bool
}

// writeEntry writes the PROPFIND response of one entry.
func writeEntry[T any](m *msWriter, href string, pf *propfindReq, table []entryProp[T], e T) error {
	b := m.begin(href)
	m.missing = m.missing[:0]
	start := b.Len()
	b.WriteString("<d:propstat><d:prop>")
	first := b.Len()
	write := func(ep *entryProp[T]) bool {
		mark := b.Len()
		openTag(b, ep.name, "", false)
		if !ep.value(e, b) {
			b.Truncate(mark)
			return false
		}
		closeTag(b, ep.name)
		return true
	}
	switch pf.kind {
	case findPropname:
		for i := range table {
			m.scratch.Reset()
			if table[i].value(e, &m.scratch) {
				openTag(b, table[i].name, "", true)
			}
		}
	case findAllprop:
		for i := range table {
			write(&table[i])
		}
	case findProp:
		for _, rp := range pf.props {
			found := false
			for i := range table {
				if table[i].name == rp.name {
					found = write(&table[i])
					break
				}
			}
			if !found {
				m.missing = append(m.missing, rp.name)
			}
		}
	}
	if b.Len() == first && len(m.missing) > 0 {
		b.Truncate(start)
	} else {
		b.WriteString("</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>")
	}
	writePropstat(b, propstat{status: http.StatusNotFound, names: m.missing})
	return m.end()
}

// Values shared by the tables.

func writeInt(b *bytes.Buffer, n int64) {
	b.Write(strconv.AppendInt(b.AvailableBuffer(), n, 10))
}

func writeChecksums(b *bytes.Buffer, c decomposedfs.Checksums) bool {
	if c.SHA1 == "" {
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
}

// submitTokens hands the lock tokens of the If header to the driver
// without evaluating the header: the trash bin and the versions
// collections have no lock state or etags of their own for its conditions
// to be about, but a restore writes into the live tree, where locks apply.
func submitTokens(r *http.Request) (*http.Request, error) {
	ifh, err := parseIf(r.Header.Get("If"))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "If header: %v", err)
	}
	if ifh == nil {
		return r, nil
	}
	return r.WithContext(decomposedfs.WithLockTokens(r.Context(), ifh.tokens()...)), nil
}

// methodNotAllowed answers a method a URL does not serve: 405 with Allow.
func methodNotAllowed(w http.ResponseWriter, method string, allow []string) error {
	w.Header().Set("Allow", strings.Join(allow, ", "))
	return errorf(http.StatusMethodNotAllowed, "%s not allowed here", method)
}

// answerOptions answers OPTIONS on the trash bin and versions URLs (no
// extension serves them, so none is advertised).
func answerOptions(w http.ResponseWriter, allow []string) error {
	w.Header().Set("DAV", "1, 2, 3")
	w.Header().Set("Allow", strings.Join(allow, ", "))
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}
