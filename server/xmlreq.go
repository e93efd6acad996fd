package server

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

const (
	nsDAV = "DAV:"
	nsOC  = "http://owncloud.org/ns"
	nsXML = "http://www.w3.org/XML/1998/namespace"
)

// xnode is an element of a parsed request body, or a run of text (name
// zero). Names are resolved: Space is the namespace URI.
type xnode struct {
	name  xml.Name
	attrs []xml.Attr // resolved; namespace declarations left out
	lang  string     // the xml:lang in scope
	text  string
	kids  []*xnode
}

func (n *xnode) isText() bool { return n.name.Local == "" }

// is reports whether n is the element {ns}local.
func (n *xnode) is(ns, local string) bool {
	return !n.isText() && n.name.Space == ns && n.name.Local == local
}

// elems returns the element children of n.
func (n *xnode) elems() []*xnode {
	out := make([]*xnode, 0, len(n.kids))
	for _, k := range n.kids {
		if !k.isText() {
			out = append(out, k)
		}
	}
	return out
}

// child returns the first element child {ns}local, or nil.
func (n *xnode) child(ns, local string) *xnode {
	for _, k := range n.kids {
		if k.is(ns, local) {
			return k
		}
	}
	return nil
}

// readXMLBody reads a request body of at most max bytes. An empty body is
// nil, no error.
func readXMLBody(r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > max {
		return nil, errorf(http.StatusRequestEntityTooLarge, "XML body of %d bytes, limit %d", r.ContentLength, max)
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "read body: %v", err)
	}
	if int64(len(data)) > max {
		return nil, errorf(http.StatusRequestEntityTooLarge, "XML body larger than %d bytes", max)
	}
	return data, nil
}

// Limits of a parsed request body, besides its size (Options.MaxXMLBody).
// WebDAV bodies nest a few levels and name a few properties; these bound
// the work and memory one request can make the parser spend, whatever its
// shape, and they are far above what any client sends.
const (
	// MaxXMLDepth is the deepest element nesting accepted (400 beyond).
	MaxXMLDepth = 64
	// MaxXMLNodes is the most elements and text runs one body may hold
	// (400 beyond).
	MaxXMLNodes = 20000
)

// parseXML parses a request body into its root element. Namespaces are
// resolved strictly: an unbound prefix, a prefix bound to "" (which XML
// namespaces 1.0 forbids), a DOCTYPE, mismatched tags or anything but one
// root element is an error (400); so is a body nested deeper than
// MaxXMLDepth or holding more than MaxXMLNodes nodes. The work is linear
// in the size of the body.
func parseXML(data []byte) (*xnode, error) {
	root, err := decodeXML(data)
	if err != nil {
		return nil, &httpError{status: http.StatusBadRequest, err: fmt.Errorf("malformed XML body: %w", err)}
	}
	return root, nil
}

// nsScope is the namespace bindings in scope while the decoder walks the
// document: each prefix maps to the stack of its bindings, innermost last,
// so that resolving a prefix costs one map lookup however deep the element
// (walking the element stack instead made deep bodies quadratic).
type nsScope map[string][]string

func (s nsScope) lookup(prefix string) (string, bool) {
	switch prefix {
	case "xml":
		return nsXML, true
	case "xmlns":
		return "", false
	}
	if b := s[prefix]; len(b) > 0 {
		return b[len(b)-1], true
	}
	return "", prefix == "" // no default namespace: none
}

func (s nsScope) push(prefix, uri string) { s[prefix] = append(s[prefix], uri) }

func (s nsScope) pop(prefix string) {
	b := s[prefix]
	if len(b) == 1 {
		delete(s, prefix)
		return
	}
	s[prefix] = b[:len(b)-1]
}

func decodeXML(data []byte) (*xnode, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = charsetReader
	type frame struct {
		raw      xml.Name
		declared []string // prefixes this element binds, to unbind at its end
		n        *xnode
		text     []byte // text seen since the last child element
		hasText  bool
	}
	var (
		stack []frame
		root  *xnode
		nodes int
		scope = nsScope{}
	)
	count := func() error {
		if nodes++; nodes > MaxXMLNodes {
			return fmt.Errorf("more than %d elements and text runs", MaxXMLNodes)
		}
		return nil
	}
	// flush ends the run of text of the innermost element: the pieces a
	// comment or a CDATA section split it into become one text node, built
	// once (appending to a string per piece would be quadratic).
	flush := func() error {
		f := &stack[len(stack)-1]
		if !f.hasText {
			return nil
		}
		f.n.kids = append(f.n.kids, &xnode{text: string(f.text)})
		f.text, f.hasText = f.text[:0], false
		return count()
	}
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("more than one root element")
			}
			if len(stack) >= MaxXMLDepth {
				return nil, fmt.Errorf("elements nested deeper than %d levels", MaxXMLDepth)
			}
			if len(stack) > 0 {
				if err := flush(); err != nil {
					return nil, err
				}
			}
			if err := count(); err != nil {
				return nil, err
			}
			f := frame{raw: t.Name}
			var attrs []xml.Attr
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					f.declared = append(f.declared, "")
					scope.push("", a.Value)
				case a.Name.Space == "xmlns":
					if a.Value == "" {
						return nil, fmt.Errorf("prefix %q bound to the empty namespace", a.Name.Local)
					}
					if a.Name.Local == "xmlns" || (a.Name.Local == "xml") != (a.Value == nsXML) {
						return nil, fmt.Errorf("reserved prefix %q rebound", a.Name.Local)
					}
					f.declared = append(f.declared, a.Name.Local)
					scope.push(a.Name.Local, a.Value)
				default:
					attrs = append(attrs, a)
				}
			}
			space, ok := scope.lookup(t.Name.Space)
			if !ok {
				return nil, fmt.Errorf("unbound prefix %q", t.Name.Space)
			}
			n := &xnode{name: xml.Name{Space: space, Local: t.Name.Local}}
			if len(stack) > 0 {
				n.lang = stack[len(stack)-1].n.lang
			}
			for _, a := range attrs {
				if a.Name.Space != "" {
					s, ok := scope.lookup(a.Name.Space)
					if !ok || a.Name.Space == "" {
						return nil, fmt.Errorf("unbound prefix %q", a.Name.Space)
					}
					a.Name.Space = s
				}
				if a.Name.Space == nsXML && a.Name.Local == "lang" {
					n.lang = a.Value
				}
				n.attrs = append(n.attrs, a)
			}
			f.n = n
			if len(stack) == 0 {
				root = n
			} else {
				p := stack[len(stack)-1].n
				p.kids = append(p.kids, n)
			}
			stack = append(stack, f)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].raw != t.Name {
				return nil, fmt.Errorf("unexpected end element %s", t.Name.Local)
			}
			if err := flush(); err != nil {
				return nil, err
			}
			for _, p := range stack[len(stack)-1].declared {
				scope.pop(p)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, errors.New("text outside the root element")
				}
				continue
			}
			f := &stack[len(stack)-1]
			f.text = append(f.text, t...)
			f.hasText = true
		case xml.Directive:
			return nil, errors.New("DOCTYPE and other directives are not accepted")
		}
	}
	if len(stack) > 0 {
		return nil, errors.New("unexpected end of document")
	}
	if root == nil {
		return nil, errors.New("no root element")
	}
	return root, nil
}

// charsetReader accepts the encodings a WebDAV client may declare besides
// UTF-8.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "latin1", "latin-1":
		data, err := io.ReadAll(in)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(data)*2)
		for _, c := range data {
			out = utf8.AppendRune(out, rune(c))
		}
		return bytes.NewReader(out), nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", label)
}

// innerXML serialises n's content so that it stands alone: each element
// declares its namespace where it differs from its parent's (the content's
// context has no default namespace), and namespaced attributes get a
// prefix declared on their element. Comments and processing instructions
// are dropped.
func innerXML(n *xnode) string {
	var b bytes.Buffer
	for _, k := range n.kids {
		writeNode(&b, k, "")
	}
	return b.String()
}

func writeNode(b *bytes.Buffer, n *xnode, defNS string) {
	if n.isText() {
		escapeText(b, n.text)
		return
	}
	b.WriteByte('<')
	b.WriteString(n.name.Local)
	if n.name.Space != defNS {
		b.WriteString(` xmlns="`)
		escapeAttr(b, n.name.Space)
		b.WriteByte('"')
		defNS = n.name.Space
	}
	for i, a := range n.attrs {
		b.WriteByte(' ')
		switch a.Name.Space {
		case "":
		case nsXML:
			b.WriteString("xml:")
		default:
			p := fmt.Sprintf("a%d", i)
			b.WriteString("xmlns:" + p + `="`)
			escapeAttr(b, a.Name.Space)
			b.WriteString(`" ` + p + ":")
		}
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		escapeAttr(b, a.Value)
		b.WriteByte('"')
	}
	if len(n.kids) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, k := range n.kids {
		writeNode(b, k, defNS)
	}
	b.WriteString("</")
	b.WriteString(n.name.Local)
	b.WriteByte('>')
}
