package server

import (
	"bufio"
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

const xmlHeader = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// The prefixes of responses. Responses never declare a default namespace,
// so that dead property values (see innerXML), which assume none, embed
// as they are.
const msOpen = `<d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">`

// escapeText writes s as XML character data. Characters that XML 1.0
// cannot carry at all (control characters in a file name, say) become
// U+FFFD; carriage returns are escaped so that they survive parsing.
func escapeText(b *bytes.Buffer, s string) {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		var rep string
		width := 1
		switch {
		case c == '<':
			rep = "&lt;"
		case c == '>':
			rep = "&gt;"
		case c == '&':
			rep = "&amp;"
		case c == '\r':
			rep = "&#xD;"
		case c < 0x20 && c != '\t' && c != '\n':
			rep = "\uFFFD"
		case c >= utf8.RuneSelf:
			r, w := utf8.DecodeRuneInString(s[i:])
			width = w
			if r == utf8.RuneError && w == 1 || r == 0xFFFE || r == 0xFFFF {
				rep = "\uFFFD"
			}
		}
		if rep != "" {
			b.WriteString(s[start:i])
			b.WriteString(rep)
			start = i + width
		}
		i += width
	}
	b.WriteString(s[start:])
}

// escapeAttr writes s as the value of a double-quoted attribute.
func escapeAttr(b *bytes.Buffer, s string) {
	if !strings.ContainsAny(s, "\"\t\n") {
		escapeText(b, s)
		return
	}
	var t bytes.Buffer
	escapeText(&t, s)
	r := strings.NewReplacer(`"`, "&quot;", "\t", "&#x9;", "\n", "&#xA;")
	b.WriteString(r.Replace(t.String()))
}

// propName is a property's expanded name.
type propName struct {
	ns, local string
}

func (p propName) clark() string { return "{" + p.ns + "}" + p.local }

// parseClark splits "{ns}local"; ok is false for keys of another form. A
// namespace may contain '}' (XML does not forbid it) and a local name
// cannot, so the last '}' ends the namespace.
func parseClark(k string) (propName, bool) {
	if !strings.HasPrefix(k, "{") {
		return propName{}, false
	}
	i := strings.LastIndexByte(k, '}')
	if i < 0 || i == len(k)-1 {
		return propName{}, false
	}
	return propName{ns: k[1:i], local: k[i+1:]}, true
}

// openTag writes the start tag of a property element, declaring its
// namespace on it unless it is DAV: or oc: (declared on the root).
func openTag(b *bytes.Buffer, p propName, lang string, empty bool) {
	b.WriteByte('<')
	switch p.ns {
	case nsDAV:
		b.WriteString("d:")
		b.WriteString(p.local)
	case nsOC:
		b.WriteString("oc:")
		b.WriteString(p.local)
	case "":
		b.WriteString(p.local)
	default:
		b.WriteString("x:")
		b.WriteString(p.local)
		b.WriteString(` xmlns:x="`)
		escapeAttr(b, p.ns)
		b.WriteByte('"')
	}
	if lang != "" {
		b.WriteString(` xml:lang="`)
		escapeAttr(b, lang)
		b.WriteByte('"')
	}
	if empty {
		b.WriteString("/>")
	} else {
		b.WriteByte('>')
	}
}

func closeTag(b *bytes.Buffer, p propName) {
	b.WriteString("</")
	switch p.ns {
	case nsDAV:
		b.WriteString("d:")
	case nsOC:
		b.WriteString("oc:")
	case "":
	default:
		b.WriteString("x:")
	}
	b.WriteString(p.local)
	b.WriteByte('>')
}

func statusLine(code int) string {
	return "HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code)
}

// msWriter streams a multistatus response. Each response is built in a
// reused buffer and written through a bufio.Writer, so a listing of
// thousands of entries costs no more memory than one entry.
type msWriter struct {
	w   *bufio.Writer
	buf bytes.Buffer
	// scratch and missing are reused from one resource to the next.
	scratch bytes.Buffer
	missing []propName
}

func newMSWriter(w http.ResponseWriter) *msWriter {
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(http.StatusMultiStatus)
	m := &msWriter{w: bufio.NewWriterSize(w, 32<<10)}
	m.w.WriteString(xmlHeader + msOpen)
	return m
}

// propstat is one propstat element of names only: properties that share a
// status other than 200 (or the names of a propname request).
type propstat struct {
	status int
	names  []propName
	cond   string // a DAV: condition for the error element
}

func (m *msWriter) begin(href string) *bytes.Buffer {
	b := &m.buf
	b.Reset()
	b.WriteString("<d:response><d:href>")
	b.WriteString(href) // percent-encoded: nothing to escape
	b.WriteString("</d:href>")
	return b
}

func (m *msWriter) end() error {
	m.buf.WriteString("</d:response>")
	_, err := m.w.Write(m.buf.Bytes())
	return err
}

// writePropstat writes a propstat of names only.
func writePropstat(b *bytes.Buffer, ps propstat) {
	if len(ps.names) == 0 {
		return
	}
	b.WriteString("<d:propstat><d:prop>")
	for _, pn := range ps.names {
		openTag(b, pn, "", true)
	}
	b.WriteString("</d:prop><d:status>")
	b.WriteString(statusLine(ps.status))
	b.WriteString("</d:status>")
	if ps.cond != "" {
		b.WriteString("<d:error><d:" + ps.cond + "/></d:error>")
	}
	b.WriteString("</d:propstat>")
}

// names writes a response of propstats with names only.
func (m *msWriter) names(href string, stats ...propstat) error {
	b := m.begin(href)
	for _, ps := range stats {
		writePropstat(b, ps)
	}
	return m.end()
}

func (m *msWriter) close() error {
	m.w.WriteString("</d:multistatus>\n")
	return m.w.Flush()
}
