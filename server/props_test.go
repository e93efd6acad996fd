package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/s3dfs/s3dfs/server"
)

func TestPropfind(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.PropfindDepthLimit = 2 })
	e.mkcol(home + "/a")
	e.mkcol(home + "/a/b")
	e.put(home+"/a/b/deep.txt", "deep")
	e.put(home+"/a/f.txt", "12345")

	t.Run("depth 0 allprop", func(t *testing.T) {
		body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/a/f.txt", hdr: map[string]string{"Depth": "0"}})
		m := parseMS(t, body)
		if len(m.Responses) != 1 {
			t.Fatalf("%d responses", len(m.Responses))
		}
		r := &m.Responses[0]
		if r.Href != home+"/a/f.txt" || r.value(t, "DAV:", "getcontentlength") != "5" ||
			!strings.HasPrefix(r.value(t, "DAV:", "getcontenttype"), "text/plain") || r.value(t, "DAV:", "getetag") == "" ||
			r.value(t, "DAV:", "resourcetype") != "" || !strings.Contains(r.value(t, "DAV:", "supportedlock"), "exclusive") {
			t.Errorf("response %+v", r)
		}
		if _, _, ok := r.prop("DAV:", "quota-used-bytes"); ok {
			t.Errorf("allprop sent a quota property")
		}
	})
	t.Run("depth 1", func(t *testing.T) {
		body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/a", hdr: map[string]string{"Depth": "1"}})
		m := parseMS(t, body)
		var hrefs []string
		for _, r := range m.Responses {
			hrefs = append(hrefs, r.Href)
		}
		if strings.Join(hrefs, " ") != home+"/a/ "+home+"/a/b/ "+home+"/a/f.txt" {
			t.Errorf("hrefs %v", hrefs)
		}
		if !strings.Contains(m.Responses[0].value(t, "DAV:", "resourcetype"), "collection") {
			t.Errorf("folder without collection resourcetype")
		}
	})
	t.Run("depth infinity within the limit", func(t *testing.T) {
		body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/a", hdr: map[string]string{"Depth": "infinity"}})
		if n := len(parseMS(t, body).Responses); n != 4 {
			t.Errorf("%d responses, want 4", n)
		}
	})
	t.Run("depth infinity beyond the limit", func(t *testing.T) {
		body := e.must(http.StatusForbidden, req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "infinity"}})
		if !strings.Contains(body, "propfind-finite-depth") {
			t.Errorf("body %s", body)
		}
	})
	t.Run("no Depth is infinity", func(t *testing.T) {
		e.must(http.StatusForbidden, req{method: "PROPFIND", path: home + "/"})
	})
	t.Run("prop", func(t *testing.T) {
		body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/a/f.txt", hdr: map[string]string{"Depth": "0"},
			body: propfindBody("<d:getcontentlength/>", "<oc:size/>", "<oc:fileid/>", "<oc:id/>", "<oc:permissions/>", "<oc:checksums/>",
				"<d:quota-used-bytes/>", `<x:nope xmlns:x="urn:x"/>`, "<d:displayname/>")})
		r := &parseMS(t, body).Responses[0]
		ri, _ := e.fs.GetMD(context.Background(), decomposedfs.Reference{SpaceID: aliceSpace, Path: "/a/f.txt"})
		if r.value(t, "DAV:", "getcontentlength") != "5" || r.value(t, "http://owncloud.org/ns", "size") != "5" ||
			r.value(t, "http://owncloud.org/ns", "fileid") != aliceSpace+"!"+ri.ID || r.value(t, "http://owncloud.org/ns", "permissions") != "RDNVW" ||
			r.value(t, "DAV:", "displayname") != "f.txt" {
			t.Errorf("response %+v", r)
		}
		sums := r.value(t, "http://owncloud.org/ns", "checksums")
		if !strings.Contains(sums, "SHA1:"+ri.Checksums.SHA1+" MD5:"+ri.Checksums.MD5+" ADLER32:"+ri.Checksums.Adler32) {
			t.Errorf("checksums %q", sums)
		}
		for _, missing := range [][2]string{{"DAV:", "quota-used-bytes"}, {"urn:x", "nope"}} {
			if _, st, ok := r.prop(missing[0], missing[1]); !ok || !strings.Contains(st, "404") {
				t.Errorf("%v: %v %q", missing, ok, st)
			}
		}
	})
	t.Run("quota of a folder", func(t *testing.T) {
		body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "0"},
			body: propfindBody("<d:quota-used-bytes/>", "<d:quota-available-bytes/>", "<oc:permissions/>", "<d:getcontentlength/>")})
		r := &parseMS(t, body).Responses[0]
		if r.value(t, "DAV:", "quota-used-bytes") != "9" || r.value(t, "DAV:", "quota-available-bytes") != "-3" ||
			r.value(t, "http://owncloud.org/ns", "permissions") != "RCK" {
			t.Errorf("response %+v", r)
		}
	})
	t.Run("propname", func(t *testing.T) {
		body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/a/f.txt", hdr: map[string]string{"Depth": "0"},
			body: `<propfind xmlns="DAV:"><propname/></propfind>`})
		r := &parseMS(t, body).Responses[0]
		for _, n := range []string{"getetag", "getcontentlength", "lockdiscovery"} {
			if p, _, ok := r.prop("DAV:", n); !ok || p.Inner != "" {
				t.Errorf("propname: %s %v %q", n, ok, p.Inner)
			}
		}
	})
	for _, tc := range []struct {
		name string
		r    req
		want int
	}{
		{"missing", req{method: "PROPFIND", path: home + "/nope", hdr: map[string]string{"Depth": "0"}}, http.StatusNotFound},
		{"bad depth", req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "2"}}, http.StatusBadRequest},
		{"not well-formed", req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "0"}, body: "<foo>"}, http.StatusBadRequest},
		{"prefix bound to empty", req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "0"},
			body: `<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>`}, http.StatusBadRequest},
		{"unbound prefix", req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "0"},
			body: `<D:propfind xmlns:D="DAV:"><D:prop><bar:foo/></D:prop></D:propfind>`}, http.StatusBadRequest},
		{"doctype", req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "0"},
			body: `<!DOCTYPE x [<!ENTITY a "aaaa">]><propfind xmlns="DAV:"><allprop/></propfind>`}, http.StatusBadRequest},
		{"wrong root", req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "0"}, body: `<prop xmlns="DAV:"/>`}, http.StatusBadRequest},
		{"extended", req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "0"}, body: `<propfind xmlns="DAV:"><foobar/><allprop/></propfind>`}, http.StatusMultiStatus},
		{"latin1", req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "0"},
			body: `<?xml version="1.0" encoding="ISO-8859-1"?><propfind xmlns="DAV:"><allprop/></propfind>`}, http.StatusMultiStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, body := e.status(tc.r); got != tc.want {
				t.Fatalf("%d, want %d\n%s", got, tc.want, body)
			}
		})
	}
}

func TestPropfindDepthInfinityOff(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.PropfindDepthLimit = 0 })
	e.put(home+"/f", "x")
	e.must(http.StatusForbidden, req{method: "PROPFIND", path: home + "/", hdr: map[string]string{"Depth": "infinity"}})
	// Depth infinity on a file is one response, whatever the limit.
	e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/f", hdr: map[string]string{"Depth": "infinity"}})
}

func TestPropfindThousandFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fill(1000)
	body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/big/", hdr: map[string]string{"Depth": "1"},
		body: propfindBody("<d:getcontentlength/>", "<d:resourcetype/>", "<d:getetag/>")})
	m := parseMS(t, body)
	if len(m.Responses) != 1001 {
		t.Fatalf("%d responses, want 1001", len(m.Responses))
	}
	for i, r := range m.Responses[1:] {
		name := fmt.Sprintf("f%04d", i)
		if r.Href != home+"/big/"+name {
			t.Fatalf("response %d: href %s", i, r.Href)
		}
		if got := r.value(t, "DAV:", "getcontentlength"); got != strconv.Itoa(i%37) {
			t.Fatalf("%s: size %s, want %d", name, got, i%37)
		}
	}
}

// fill makes /big with n files f0000... of i%37 bytes each.
func (e *env) fill(n int) {
	e.t.Helper()
	e.mkcol(home + "/big")
	ctx := context.Background()
	for i := range n {
		content := strings.Repeat("x", i%37)
		_, err := e.fs.Upload(ctx, decomposedfs.Reference{SpaceID: aliceSpace, Path: fmt.Sprintf("/big/f%04d", i)},
			strings.NewReader(content), decomposedfs.UploadOptions{Size: int64(len(content))})
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// BenchmarkPropfind1000 is PROPFIND depth 1 of a folder of 1000 files
// through the handler (no network): with the properties rclone asks for,
// and with allprop (which includes lock discovery).
func BenchmarkPropfind1000(b *testing.B) {
	e := newEnv(b)
	e.fill(1000)
	for _, bc := range []struct{ name, body string }{
		{"rclone", propfindBody("<d:displayname/>", "<d:getlastmodified/>", "<d:getcontentlength/>", "<d:resourcetype/>",
			"<d:getcontenttype/>", "<oc:checksums/>", "<oc:permissions/>", "<d:getetag/>", "<oc:id/>")},
		{"allprop", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				r := httptestRequest("PROPFIND", home+"/big/", strings.NewReader(bc.body))
				r.Header.Set("Depth", "1")
				w := newRecorder()
				e.h.ServeHTTP(w, r)
				if w.code != http.StatusMultiStatus {
					b.Fatalf("%d", w.code)
				}
			}
		})
	}
}

func TestProppatch(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/p", "x")
	const ns = "http://example.com/neon/litmus/"
	patch := func(body string) (int, string) {
		return e.status(req{method: "PROPPATCH", path: home + "/p", body: body})
	}
	get := func(props ...string) *msResponse {
		t.Helper()
		body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/p", hdr: map[string]string{"Depth": "0"}, body: propfindBody(props...)})
		return &parseMS(t, body).Responses[0]
	}

	st, body := patch(`<?xml version="1.0" encoding="utf-8"?><propertyupdate xmlns="DAV:" xmlns:z="` + ns + `"><set><prop>` +
		`<z:plain>value &amp; more</z:plain>` +
		`<z:nested><foo xmlns="http://bar" a="1"><baz/>text</foo></z:nested>` +
		`<z:lang xml:lang="de">Grüße</z:lang>` +
		`<z:high>&#65536;</z:high>` +
		`<nonamespace xmlns="">randomvalue</nonamespace>` +
		`</prop></set></propertyupdate>`)
	if st != http.StatusMultiStatus || strings.Count(body, "200 OK") != 1 {
		t.Fatalf("PROPPATCH: %d\n%s", st, body)
	}
	r := get(`<z:plain xmlns:z="`+ns+`"/>`, `<z:nested xmlns:z="`+ns+`"/>`, `<z:lang xmlns:z="`+ns+`"/>`, `<z:high xmlns:z="`+ns+`"/>`, `<nonamespace xmlns=""/>`)
	if got := r.value(t, ns, "plain"); got != "value &amp; more" {
		t.Errorf("plain: %q", got)
	}
	if got := r.value(t, ns, "nested"); got != `<foo xmlns="http://bar" a="1"><baz></baz>text</foo>` && got != `<foo xmlns="http://bar" a="1"><baz/>text</foo>` {
		t.Errorf("nested: %q", got)
	}
	if p, _, _ := r.prop(ns, "lang"); p.Lang != "de" || p.Inner != "Grüße" {
		t.Errorf("lang: %+v", p)
	}
	if got := r.value(t, ns, "high"); got != "\U00010000" {
		t.Errorf("high unicode: %q", got)
	}
	if got := r.value(t, "", "nonamespace"); got != "randomvalue" {
		t.Errorf("no namespace: %q", got)
	}
	// The namespaced value parses as what was set.
	nested := `<r xmlns:z="` + ns + `">` + r.value(t, ns, "nested") + `</r>`
	if !strings.Contains(nested, `xmlns="http://bar"`) {
		t.Errorf("nested value lost its namespace: %s", nested)
	}

	t.Run("document order", func(t *testing.T) {
		st, _ := patch(`<propertyupdate xmlns="DAV:"><remove><prop><o xmlns="` + ns + `"/></prop></remove>` +
			`<set><prop><o xmlns="` + ns + `">x</o></prop></set><set><prop><o xmlns="` + ns + `">y</o></prop></set></propertyupdate>`)
		if st != http.StatusMultiStatus || get(`<o xmlns="`+ns+`"/>`).value(t, ns, "o") != "y" {
			t.Fatalf("remove-set-set: %d", st)
		}
		patch(`<propertyupdate xmlns="DAV:"><set><prop><o xmlns="` + ns + `">x</o></prop></set><remove><prop><o xmlns="` + ns + `"/></prop></remove></propertyupdate>`)
		if _, st, _ := get(`<o xmlns="`+ns+`"/>`).prop(ns, "o"); !strings.Contains(st, "404") {
			t.Errorf("set-remove left the property: %q", st)
		}
	})
	t.Run("protected is all or nothing", func(t *testing.T) {
		st, body := patch(`<propertyupdate xmlns="DAV:"><set><prop><getetag>"x"</getetag><q xmlns="` + ns + `">v</q></prop></set></propertyupdate>`)
		if st != http.StatusMultiStatus || !strings.Contains(body, "403 Forbidden") || !strings.Contains(body, "424 Failed Dependency") ||
			!strings.Contains(body, "cannot-modify-protected-property") {
			t.Fatalf("%d\n%s", st, body)
		}
		if _, st, _ := get(`<q xmlns="`+ns+`"/>`).prop(ns, "q"); !strings.Contains(st, "404") {
			t.Errorf("a failed PROPPATCH stored a property")
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := strings.Repeat("v", decomposedfs.MaxPropsSize)
		st, body := patch(`<propertyupdate xmlns="DAV:"><set><prop><big xmlns="` + ns + `">` + big + `</big></prop></set></propertyupdate>`)
		if st != http.StatusMultiStatus || !strings.Contains(body, "507") {
			t.Fatalf("%d\n%s", st, body)
		}
	})
	t.Run("large value", func(t *testing.T) {
		big := strings.Repeat("v", 20000)
		if st, _ := patch(`<propertyupdate xmlns="DAV:"><set><prop><large xmlns="` + ns + `">` + big + `</large></prop></set></propertyupdate>`); st != http.StatusMultiStatus {
			t.Fatalf("%d", st)
		}
		if got := get(`<large xmlns="`+ns+`"/>`).value(t, ns, "large"); got != big {
			t.Errorf("large value: %d bytes", len(got))
		}
	})
	t.Run("dead props in allprop and after copy and move", func(t *testing.T) {
		e.must(http.StatusCreated, req{method: "COPY", path: home + "/p", hdr: map[string]string{"Destination": home + "/p2"}})
		e.must(http.StatusCreated, req{method: "MOVE", path: home + "/p2", hdr: map[string]string{"Destination": home + "/p3"}})
		body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/p3", hdr: map[string]string{"Depth": "0"}})
		if got := parseMS(t, body).Responses[0].value(t, ns, "plain"); got != "value &amp; more" {
			t.Errorf("after copy and move: %q", got)
		}
	})
	for _, tc := range []struct {
		name string
		body string
		want int
	}{
		{"empty", "", http.StatusBadRequest},
		{"malformed", "<propertyupdate", http.StatusBadRequest},
		{"wrong root", `<propfind xmlns="DAV:"/>`, http.StatusBadRequest},
		{"no properties", `<propertyupdate xmlns="DAV:"><set><prop/></set></propertyupdate>`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, body := patch(tc.body); got != tc.want {
				t.Fatalf("%d, want %d\n%s", got, tc.want, body)
			}
		})
	}
	e.must(http.StatusNotFound, req{method: "PROPPATCH", path: home + "/missing",
		body: `<propertyupdate xmlns="DAV:"><set><prop><a xmlns="urn:a">1</a></prop></set></propertyupdate>`})
}

// Names that need escaping come back in hrefs that decode to the same
// names, and those hrefs work.
func TestHrefEncoding(t *testing.T) {
	e := newEnv(t)
	names := []string{"with space", "hash#tag", "100%", "what?", "a&b", `quote"d`, "it's", "ünïcødé ✓", "plus+eq=;", "tab\there"}
	e.mkcol(home + "/n")
	for _, n := range names {
		e.put(home+"/n/"+url.PathEscape(n), n)
	}
	body := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/n/", hdr: map[string]string{"Depth": "1"}})
	m := parseMS(t, body)
	got := map[string]bool{}
	for _, r := range m.Responses[1:] {
		p, err := url.PathUnescape(strings.TrimPrefix(r.Href, home+"/n/"))
		if err != nil {
			t.Fatalf("href %q: %v", r.Href, err)
		}
		got[p] = true
		if strings.ContainsAny(strings.TrimPrefix(r.Href, home+"/n/"), " #?&\"'") {
			t.Errorf("href %q is not escaped", r.Href)
		}
		if c := e.must(http.StatusOK, req{method: "GET", path: r.Href}); c != p {
			t.Errorf("GET %s: %q", r.Href, c)
		}
	}
	for _, n := range names {
		if !got[n] {
			t.Errorf("%q missing from the listing: %v", n, got)
		}
	}
}
