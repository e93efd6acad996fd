package server

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// deepXML is a DAV:propfind whose prop holds n nested elements.
func deepXML(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`<D:propfind xmlns:D="DAV:"><D:prop>`)
	for range n {
		b.WriteString("<a>")
	}
	for range n {
		b.WriteString("</a>")
	}
	b.WriteString(`</D:prop></D:propfind>`)
	return b.Bytes()
}

func TestDecodeXMLLimits(t *testing.T) {
	// The deepest body accepted: MaxXMLDepth levels in all.
	if _, err := decodeXML(deepXML(MaxXMLDepth - 2)); err != nil {
		t.Errorf("%d levels: %v", MaxXMLDepth, err)
	}
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"one level too deep", deepXML(MaxXMLDepth - 1), "deeper than"},
		{"150 000 levels", deepXML(150000), "deeper than"},
		{"too many elements", []byte(`<D:propfind xmlns:D="DAV:"><D:prop>` + strings.Repeat("<a/>", MaxXMLNodes) + `</D:prop></D:propfind>`), "more than"},
		{"too many text runs", []byte(`<D:propfind xmlns:D="DAV:"><D:prop>` + strings.Repeat("<a/>t", MaxXMLNodes/2+1) + `</D:prop></D:propfind>`), "more than"},
	} {
		_, err := parseXML(tc.body)
		var he *httpError
		if !errors.As(err, &he) || he.status != http.StatusBadRequest || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a 400 saying %q", tc.name, err, tc.want)
		}
	}
}

// Text split by comments and CDATA sections is one text node, as before.
func TestDecodeXMLSplitText(t *testing.T) {
	root, err := decodeXML([]byte(`<a>x<!--c-->y<![CDATA[<z>]]><?pi?>w<b/>v<!---->u</a>`))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, k := range root.kids {
		if k.isText() {
			texts = append(texts, k.text)
		}
	}
	if strings.Join(texts, "|") != "xy<z>w|vu" {
		t.Errorf("text runs %q", texts)
	}
	if got := innerXML(root); got != "xy&lt;z&gt;w<b/>vu" {
		t.Errorf("inner %q", got)
	}
}

// Namespace bindings end with their element, also when a prefix is
// rebound below another binding of it.
func TestDecodeXMLScopes(t *testing.T) {
	root, err := decodeXML([]byte(`<p:a xmlns:p="urn:1" xmlns="urn:d"><p:b xmlns:p="urn:2"><c xmlns=""/><e/></p:b><p:f/><g/></p:a>`))
	if err != nil {
		t.Fatal(err)
	}
	b := root.elems()[0]
	got := []string{root.name.Space, b.name.Space, b.elems()[0].name.Space, b.elems()[1].name.Space, root.elems()[1].name.Space, root.elems()[2].name.Space}
	want := []string{"urn:1", "urn:2", "", "urn:d", "urn:1", "urn:d"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("namespaces %q, want %q", got, want)
	}
	if _, err := decodeXML([]byte(`<a><p:b xmlns:p="urn:1"/><p:c/></a>`)); err == nil {
		t.Error("a prefix bound on a sibling resolved")
	}
}

// FuzzParseXML: any bytes parse to a tree or an error (never a panic),
// within the limits, and what PROPPATCH would store of a parsed tree
// (innerXML) parses again to the same names.
//
//	go test ./server -run '^$' -fuzz FuzzParseXML -fuzztime 60s
func FuzzParseXML(f *testing.F) {
	for _, s := range []string{
		`<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>`,
		`<propfind xmlns="DAV:"><prop><getetag/><x:a xmlns:x="urn:x"/></prop></propfind>`,
		`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop xml:lang="en"><Z:a>t&amp;x<![CDATA[<raw>]]></Z:a>` +
			`<Z:b xml:lang="fr"><inner xmlns="urn:i" Z:attr="v" plain="p"><deeper xmlns=""/></inner></Z:b></D:prop></D:set></D:propertyupdate>`,
		`<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner><D:href>x</D:href></D:owner></D:lockinfo>`,
		`<?xml version="1.0" encoding="ISO-8859-1"?><propfind xmlns="DAV:"><allprop/></propfind>`,
		`<a xmlns:p="urn:}{"><p:b/></a>`,
		string(deepXML(70)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := parseXML(data)
		if err != nil {
			return
		}
		depth, nodes := measure(root, 1)
		if depth > MaxXMLDepth || nodes > MaxXMLNodes {
			t.Fatalf("parsed a tree %d deep with %d nodes", depth, nodes)
		}
		for _, e := range root.elems() {
			again, err := decodeXML([]byte("<r>" + innerXML(e) + "</r>"))
			if err != nil {
				t.Fatalf("innerXML of %v does not parse: %v\n%s", e.name, err, innerXML(e))
			}
			if !sameNames(e, again) {
				t.Fatalf("innerXML of %v changes names:\n%s", e.name, innerXML(e))
			}
		}
	})
}

func measure(n *xnode, level int) (depth, nodes int) {
	depth, nodes = level, 1
	for _, k := range n.kids {
		d, c := measure(k, level+1)
		depth, nodes = max(depth, d), nodes+c
	}
	return depth, nodes
}

// sameNames reports whether b's element children have the names of a's,
// all the way down.
func sameNames(a, b *xnode) bool {
	ae, be := a.elems(), b.elems()
	if len(ae) != len(be) {
		return false
	}
	for i := range ae {
		if ae[i].name != be[i].name || !sameNames(ae[i], be[i]) {
			return false
		}
	}
	return true
}
