package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/s3dfs/s3dfs/server"
)

// nested is n elements <a>, each inside the one before, closed when
// closed is set.
func nested(n int, closed bool) string {
	s := strings.Repeat("<a>", n)
	if closed {
		s += strings.Repeat("</a>", n)
	}
	return s
}

// TestDeepXMLRefused: PROPFIND, PROPPATCH and LOCK bodies nested deeper
// than server.MaxXMLDepth, or with more than server.MaxXMLNodes elements,
// are refused with 400 and change nothing: no property stored, no lock
// taken, no file created. The 150 000-level body is the one that held a
// core for 47 s.
func TestDeepXMLRefused(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/f", "content")
	deep := nested(server.MaxXMLDepth, true)           // with the enclosing elements: too deep
	huge := nested(150000, false)                      // 150 000 levels, 450 KB
	wide := strings.Repeat("<a/>", server.MaxXMLNodes) // flat, but too many elements
	bodies := map[string]func(inner string) (method, path, body string){
		"PROPFIND": func(inner string) (string, string, string) {
			return "PROPFIND", home + "/f", `<D:propfind xmlns:D="DAV:"><D:prop>` + inner + `</D:prop></D:propfind>`
		},
		"PROPPATCH": func(inner string) (string, string, string) {
			return "PROPPATCH", home + "/f", `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:p xmlns:x="urn:x">` + inner + `</x:p></D:prop></D:set></D:propertyupdate>`
		},
		"LOCK": func(inner string) (string, string, string) {
			return "LOCK", home + "/new", `<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>` + inner + `</D:owner></D:lockinfo>`
		},
	}
	before := e.snap()
	for name, mk := range bodies {
		for what, inner := range map[string]string{"too deep": deep, "150 000 levels": huge, "too many elements": wide} {
			method, path, body := mk(inner)
			st, msg := e.status(req{method: method, path: path, body: body, hdr: map[string]string{"Depth": "0"}})
			if st != http.StatusBadRequest {
				t.Errorf("%s %s: %d, want 400\n%.300s", name, what, st, msg)
			}
		}
	}
	e.sameAs(before, "the refused requests")
	props := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/f", hdr: map[string]string{"Depth": "0"}})
	if strings.Contains(props, "urn:x") {
		t.Errorf("a refused PROPPATCH stored its property:\n%s", props)
	}
	if strings.Contains(props, "activelock") {
		t.Errorf("a refused LOCK left a lock:\n%s", props)
	}
	// The deepest accepted body still works: MaxXMLDepth levels in all.
	method, path, body := bodies["PROPPATCH"](nested(server.MaxXMLDepth-5, true))
	e.must(http.StatusMultiStatus, req{method: method, path: path, body: body})
}

// BenchmarkDeepPropfind: the whole request, through the handler on a real
// server, for the 150 000-level PROPFIND bodies (the old parser spent 47 s
// on one) next to a plain one.
//
//	go test ./server -run '^$' -bench DeepPropfind -benchtime 200x
func BenchmarkDeepPropfind(b *testing.B) {
	e := newEnv(b)
	e.put(home+"/f", "content")
	for _, bc := range []struct{ name, inner string }{
		{"plain", "<D:getetag/>"},
		{"open-150000", nested(150000, false)},
		{"closed-149000", nested(149000, true)},
	} {
		body := `<D:propfind xmlns:D="DAV:"><D:prop>` + bc.inner + `</D:prop></D:propfind>`
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				hr, _ := http.NewRequest("PROPFIND", e.srv.URL+home+"/f", strings.NewReader(body))
				hr.Header.Set("Depth", "0")
				hr.SetBasicAuth(alice, alicePW)
				resp, err := http.DefaultClient.Do(hr)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if want := map[bool]int{true: 207, false: 400}[bc.name == "plain"]; resp.StatusCode != want {
					b.Fatalf("%d, want %d", resp.StatusCode, want)
				}
			}
		})
	}
}
