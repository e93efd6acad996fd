package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

func TestParseIf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []ifList
		err  bool
	}{
		{in: "(<opaquelocktoken:a>)", want: []ifList{{conds: []ifCond{{token: "opaquelocktoken:a"}}}}},
		{in: `(<opaquelocktoken:a> ["etag"]) (Not <DAV:no-lock> ["etag"])`, want: []ifList{
			{conds: []ifCond{{token: "opaquelocktoken:a"}, {etag: `"etag"`}}},
			{conds: []ifCond{{not: true, token: "DAV:no-lock"}, {etag: `"etag"`}}},
		}},
		{in: `<http://h/a/b> (<t1>) (not[W/"x"]) <http://h/c> (<t2>)`, want: []ifList{
			{tag: "http://h/a/b", conds: []ifCond{{token: "t1"}}},
			{tag: "http://h/a/b", conds: []ifCond{{not: true, etag: `W/"x"`}}},
			{tag: "http://h/c", conds: []ifCond{{token: "t2"}}},
		}},
		{in: "", want: nil},
		{in: "(<a>", err: true},
		{in: "()", err: true},
		{in: "<http://h/a>", err: true},
		{in: "(<a>) <http://h/b> (<c>)", err: true},
		{in: "(Not)", err: true},
		{in: "(x)", err: true},
		{in: "([])", err: true},
		{in: "junk", err: true},
	} {
		ih, err := parseIf(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		var got []ifList
		if ih != nil {
			got = ih.lists
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %+v, want %+v", tc.in, got, tc.want)
		}
	}
	ih, _ := parseIf(`(<a> ["e"]) (Not <b>) (<c> <a>)`)
	if got := ih.tokens(); !reflect.DeepEqual(got, []string{"a", "c"}) {
		t.Errorf("tokens %v", got)
	}
}

func TestIfStateMatches(t *testing.T) {
	st := &ifState{exists: true, etag: `"e1"`, tokens: []string{"t1"}}
	for _, tc := range []struct {
		conds []ifCond
		want  bool
	}{
		{[]ifCond{{token: "t1"}}, true},
		{[]ifCond{{token: "t2"}}, false},
		{[]ifCond{{not: true, token: "t2"}}, true},
		{[]ifCond{{token: "t1"}, {etag: `"e1"`}}, true},
		{[]ifCond{{token: "t1"}, {etag: `W/"e1"`}}, true},
		{[]ifCond{{token: "t1"}, {etag: `"e2"`}}, false},
		{[]ifCond{{not: true, etag: `"e1"`}}, false},
	} {
		if got := st.matches(tc.conds); got != tc.want {
			t.Errorf("%+v: %v", tc.conds, got)
		}
	}
	if (&ifState{}).matches([]ifCond{{etag: `"e1"`}}) {
		t.Errorf("an etag matched a missing resource")
	}
}

func TestParseRoute(t *testing.T) {
	sid := "0b9a7f7e-5d3c-4a51-9d4e-3f1f3b0c6a10"
	for _, tc := range []struct {
		in   string
		want route
		err  error
	}{
		{"/dav/files/alice", route{kind: routeFiles, name: "alice", base: "/dav/files/alice", path: "/"}, nil},
		{"/dav/files/alice/a%20b/c/", route{kind: routeFiles, name: "alice", base: "/dav/files/alice", path: "/a b/c"}, nil},
		{"/remote.php/dav/files/alice//x", route{kind: routeFiles, name: "alice", base: "/remote.php/dav/files/alice", path: "/x"}, nil},
		{"/dav/spaces/" + sid + "/x", route{kind: routeSpaces, name: sid, base: "/dav/spaces/" + sid, path: "/x"}, nil},
		{"/remote.php/dav/spaces/" + sid, route{kind: routeSpaces, name: sid, base: "/remote.php/dav/spaces/" + sid, path: "/"}, nil},
		{"/remote.php/webdav", route{kind: routeWebDAV, base: "/remote.php/webdav", path: "/"}, nil},
		{"/remote.php/webdav/%C3%BC", route{kind: routeWebDAV, base: "/remote.php/webdav", path: "/ü"}, nil},
		{"/remote.php/webdavx", route{}, errNoRoute},
		{"/dav/files/", route{}, errNoRoute},
		{"/dav/files/alice/..", route{}, errBadPath},
		{"/dav/files/alice/%2E", route{}, errBadPath},
		{"/dav/files/alice/a%2Fb", route{}, errBadPath},
		{"/dav/files/alice/a%5Cb", route{}, errBadPath},
		{"/dav/files/alice/a%00", route{}, errBadPath},
		{"/dav/files/alice/%ff", route{}, errBadPath},
		{"/dav/files/alice/%zz", route{}, errBadPath},
		{"/dav/files/%2e%2e/x", route{}, errBadPath},
		{"/dav/spaces/trash-bin/" + sid + "/item/a", route{kind: routeTrashSpace, name: sid, base: "/dav/spaces/trash-bin/" + sid, path: "/item/a"}, nil},
		{"/remote.php/dav/spaces/trash-bin/" + sid, route{kind: routeTrashSpace, name: sid, base: "/remote.php/dav/spaces/trash-bin/" + sid, path: "/"}, nil},
		{"/dav/trash-bin/alice/", route{kind: routeTrashUser, name: "alice", base: "/dav/trash-bin/alice", path: "/"}, nil},
		{"/remote.php/dav/trash-bin/alice/x", route{kind: routeTrashUser, name: "alice", base: "/remote.php/dav/trash-bin/alice", path: "/x"}, nil},
		{"/dav/meta/" + sid + "%21" + sid + "/v/1", route{kind: routeMeta, name: sid + "!" + sid, base: "/dav/meta/" + sid + "%21" + sid, path: "/v/1"}, nil},
		{"/remote.php/dav/meta/x/v", route{kind: routeMeta, name: "x", base: "/remote.php/dav/meta/x", path: "/v"}, nil},
		{"/dav/spaces/trash-bin/", route{}, errNoRoute},
		{"/dav/meta/", route{}, errNoRoute},
	} {
		got, err := parseRoute(tc.in)
		if !errors.Is(err, tc.err) || (err == nil && got != tc.want) {
			t.Errorf("%s: %+v, %v; want %+v, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestHref(t *testing.T) {
	for _, tc := range []struct {
		p    string
		dir  bool
		want string
	}{
		{"/", true, "/b/"},
		{"/", false, "/b/"},
		{"/a b/c#d", false, "/b/a%20b/c%23d"},
		{"/100%/?&'\"", true, "/b/100%25/%3F%26%27%22/"},
		{"/ü~.-_", false, "/b/%C3%BC~.-_"},
	} {
		if got := hrefOf("/b", tc.p, tc.dir); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestDecodeXML(t *testing.T) {
	root, err := decodeXML([]byte(`<?xml version="1.0"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop xml:lang="en">` +
		`<Z:a>t&amp;x<![CDATA[<raw>]]></Z:a>` +
		`<Z:b xml:lang="fr"><inner xmlns="urn:i" Z:attr="v" plain="p"><deeper xmlns=""/></inner></Z:b>` +
		`</D:prop></D:set></D:propertyupdate>`))
	if err != nil {
		t.Fatal(err)
	}
	prop := root.child(nsDAV, "set").child(nsDAV, "prop")
	a, b := prop.child("urn:z", "a"), prop.child("urn:z", "b")
	if a == nil || b == nil {
		t.Fatalf("props not found: %+v", prop)
	}
	if got := innerXML(a); got != "t&amp;x&lt;raw&gt;" {
		t.Errorf("a: %q", got)
	}
	if a.lang != "en" || b.lang != "fr" {
		t.Errorf("langs %q %q", a.lang, b.lang)
	}
	want := `<inner xmlns="urn:i" xmlns:a0="urn:z" a0:attr="v" plain="p"><deeper xmlns=""/></inner>`
	if got := innerXML(b); got != want {
		t.Errorf("b:\n%s\nwant\n%s", got, want)
	}
	// The serialisation parses back to the same names.
	again, err := decodeXML([]byte("<r>" + innerXML(b) + "</r>"))
	if err != nil || again.elems()[0].name.Space != "urn:i" || again.elems()[0].elems()[0].name.Space != "" {
		t.Errorf("reparse: %+v %v", again, err)
	}
	for _, bad := range []string{
		`<a xmlns:p=""><p:b/></a>`,
		`<p:a/>`,
		`<a><b></a></b>`,
		`<a/><b/>`,
		`text<a/>`,
		`<a>`,
		``,
		`<!DOCTYPE a><a/>`,
		`<a xmlns:xml="urn:not-xml"/>`,
		`<a xmlns:xmlns="urn:x"/>`,
		`<a p:x="1"/>`,
		`<?xml version="1.0" encoding="EBCDIC"?><a/>`,
	} {
		if _, err := decodeXML([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestEscapeText(t *testing.T) {
	var b bytes.Buffer
	escapeText(&b, "a<b>&c\r\x01\t\n\xff✓")
	if got := b.String(); got != "a&lt;b&gt;&amp;c&#xD;\uFFFD\t\n\uFFFD✓" {
		t.Errorf("%q", got)
	}
	b.Reset()
	escapeAttr(&b, "q\"t\tn\n<")
	if got := b.String(); got != "q&quot;t&#x9;n&#xA;&lt;" {
		t.Errorf("%q", got)
	}
}

func TestDeadValueEncoding(t *testing.T) {
	for _, tc := range [][2]string{{"v", ""}, {"<a/>", "en-GB"}, {"", "de"}, {"", ""}} {
		inner, lang := decodeDead(encodeDead(tc[0], tc[1]))
		if inner != tc[0] || lang != tc[1] {
			t.Errorf("%q: %q %q", tc, inner, lang)
		}
	}
}

func TestRangeLengths(t *testing.T) {
	for _, tc := range []struct {
		h    string
		want map[int64]int64
	}{
		{"bytes=0-9", map[int64]int64{0: 10}},
		{"bytes=5-", map[int64]int64{5: 95}},
		{"bytes=-10", map[int64]int64{90: 10}},
		{"bytes=-1000", map[int64]int64{0: 100}},
		{"bytes=0-4, 50-200", map[int64]int64{0: 5, 50: 50}},
		{"bytes=0-4,0-9", map[int64]int64{0: 10}},
		{"bytes=200-", map[int64]int64{}},
		{"bytes=5-1", nil},
		{"items=0-1", nil},
		{"bytes=x-1", nil},
	} {
		if got := rangeLengths(tc.h, 100); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.h, got, tc.want)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	for in, want := range map[string]time.Time{
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 500000000),
		"1700000000.123456789": time.Unix(1700000000, 123456789),
	} {
		if got, err := parseOCMtime(in); err != nil || !got.Equal(want) {
			t.Errorf("X-OC-Mtime %q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1", "x", "1.x"} {
		if _, err := parseOCMtime(bad); err == nil {
			t.Errorf("X-OC-Mtime %q: no error", bad)
		}
	}
	for in, want := range map[string]time.Duration{
		"Second-3600":                       time.Hour,
		"Infinite, Second-4100000000":       decomposedfs.MaxLockTimeout,
		"Second-99999999999":                decomposedfs.MaxLockTimeout,
		"bogus, Second-10":                  10 * time.Second,
		"":                                  0,
		"Second-0":                          0,
		"Second-" + strings.Repeat("9", 30): 0,
	} {
		if got := parseTimeout(in); got != want {
			t.Errorf("Timeout %q: %v, want %v", in, got, want)
		}
	}
}

func TestStatusTable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		o    op
		want int
	}{
		{decomposedfs.ErrNotFound, opRead, http.StatusNotFound},
		{decomposedfs.ErrNotFound, opCreate, http.StatusConflict},
		{decomposedfs.ErrNotFound, opDest, http.StatusConflict},
		{decomposedfs.ErrExist, opCreate, http.StatusMethodNotAllowed},
		{decomposedfs.ErrExist, opDest, http.StatusPreconditionFailed},
		{decomposedfs.ErrLocked, opCreate, http.StatusLocked},
		{decomposedfs.ErrSizeMismatch, opCreate, http.StatusBadRequest},
		{decomposedfs.ErrContentTooLarge, opCreate, http.StatusRequestEntityTooLarge},
		{decomposedfs.ErrChecksumMismatch, opCreate, http.StatusBadRequest},
		{decomposedfs.ErrCrossSpace, opDest, http.StatusBadGateway},
		{decomposedfs.ErrRoot, opRead, http.StatusForbidden},
		{decomposedfs.ErrCorrupt, opRead, http.StatusInternalServerError},
		{decomposedfs.ErrPermissionDenied, opCreate, http.StatusForbidden},
		{decomposedfs.ErrQuotaExceeded, opCreate, http.StatusInsufficientStorage},
		{decomposedfs.ErrUploadBusy, opCreate, http.StatusConflict},
		{errors.New("anything else"), opRead, http.StatusInternalServerError},
	} {
		if got := statusOf(tc.err, tc.o); got != tc.want {
			t.Errorf("%v (op %d): %d, want %d", tc.err, tc.o, got, tc.want)
		}
	}
	if _, cond := classify(fmt.Errorf("x: %w", decomposedfs.ErrQuotaExceeded), opCreate); cond != "quota-not-exceeded" {
		t.Errorf("quota condition %q", cond)
	}
}

func TestParseFileID(t *testing.T) {
	sid, nid := "0b9a7f7e-5d3c-4a51-9d4e-3f1f3b0c6a10", "1c9a7f7e-5d3c-4a51-9d4e-3f1f3b0c6a10"
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{sid + "!" + nid, true},
		{strings.ToUpper(sid) + "!" + nid, true},
		{"storage$" + sid + "!" + nid, true},
		{sid, false},
		{sid + "!x", false},
		{"x!" + nid, false},
		{"", false},
	} {
		s, n, ok := parseFileID(tc.in)
		if ok != tc.ok || ok && (s != sid || n != nid) {
			t.Errorf("%q: %q %q %v", tc.in, s, n, ok)
		}
	}
}
