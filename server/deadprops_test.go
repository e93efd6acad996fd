package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestDeadPropertyOddNamespaces: a dead property is listed by allprop and
// propname, and found by name, whatever characters its namespace holds,
// '}' and '{' included (the stored key is "{namespace}name", and a '}' in
// the namespace used to hide the property from allprop and propname).
func TestDeadPropertyOddNamespaces(t *testing.T) {
	e := newEnv(t)
	e.put(home+"/p", "x")
	namespaces := []string{"urn:a}b", "urn:}", "}", "urn:{x}y", "{}", "urn:plain"}
	var set strings.Builder
	for i, ns := range namespaces {
		set.WriteString(`<q` + string(rune('a'+i)) + ` xmlns="` + ns + `">v` + string(rune('a'+i)) + `</q` + string(rune('a'+i)) + `>`)
	}
	st, body := e.status(req{method: "PROPPATCH", path: home + "/p",
		body: `<propertyupdate xmlns="DAV:"><set><prop>` + set.String() + `</prop></set></propertyupdate>`})
	if st != http.StatusMultiStatus || strings.Count(body, "200 OK") != 1 {
		t.Fatalf("PROPPATCH: %d\n%s", st, body)
	}
	propfind := func(body string) *msResponse {
		t.Helper()
		out := e.must(http.StatusMultiStatus, req{method: "PROPFIND", path: home + "/p", hdr: map[string]string{"Depth": "0"}, body: body})
		return &parseMS(t, out).Responses[0]
	}
	all := propfind(`<propfind xmlns="DAV:"><allprop/></propfind>`)
	names := propfind(`<propfind xmlns="DAV:"><propname/></propfind>`)
	for i, ns := range namespaces {
		local, want := "q"+string(rune('a'+i)), "v"+string(rune('a'+i))
		if got := all.value(t, ns, local); got != want {
			t.Errorf("allprop: {%s}%s = %q, want %q", ns, local, got, want)
		}
		if _, _, ok := names.prop(ns, local); !ok {
			t.Errorf("propname does not list {%s}%s", ns, local)
		}
		byName := propfind(`<propfind xmlns="DAV:"><prop><` + local + ` xmlns="` + ns + `"/></prop></propfind>`)
		if got := byName.value(t, ns, local); got != want {
			t.Errorf("by name: {%s}%s = %q, want %q", ns, local, got, want)
		}
	}
}
