package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/s3dfs/s3dfs/decomposedfs"
)

// The endpoints that the ownCloud and Nextcloud desktop clients read before
// they sync: status.php (is a server there, which version), the OCS
// capabilities (what it can do: checksums, chunked uploads, TUS, versions,
// trash) and the OCS user (who am I, my quota). Everything advertised is
// something this server does; a client that learns of a feature here uses
// it without asking again.

// Version is the version of the ownCloud server API that s3dfs serves, as
// status.php and the capabilities report it. The ownCloud clients refuse
// servers older than 10; the Nextcloud clients read features from the
// capabilities, not from the version.
const (
	ocVersion       = "10.11.0.0"
	ocVersionString = "10.11.0"
	productName     = "s3dfs"
)

// TUSSupport describes the TUS handler that the capabilities advertise
// (ownCloud clients upload every file with it when it is there).
type TUSSupport struct {
	// Version and Resumable are the TUS protocol version ("1.0.0").
	Version string
	// Extensions are the TUS extensions the handler implements.
	Extensions []string
	// MaxChunkSize, if not 0, is the largest chunk a client should send.
	MaxChunkSize int64
}

// ocsDoc is an ordered document: an OCS response renders the same tree as
// JSON or as XML. Values are string, bool, int64, ocsDoc (an object) or
// []any (a list).
type ocsDoc []ocsField

type ocsField struct {
	key string
	val any
}

func (d ocsDoc) json(b *bytes.Buffer) {
	b.WriteByte('{')
	for i, f := range d {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.key)
		b.Write(k)
		b.WriteByte(':')
		jsonValue(b, f.val)
	}
	b.WriteByte('}')
}

func jsonValue(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case ocsDoc:
		v.json(b)
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			jsonValue(b, x)
		}
		b.WriteByte(']')
	case nil:
		b.WriteString("null")
	default:
		j, _ := json.Marshal(v)
		b.Write(j)
	}
}

// xml renders the document as OCS does: an element per key, list items as
// <element>, true as 1 and false as nothing (PHP's rendering, which the
// clients' XML readers expect).
func (d ocsDoc) xml(b *bytes.Buffer) {
	for _, f := range d {
		b.WriteByte('<')
		b.WriteString(f.key)
		b.WriteByte('>')
		xmlValue(b, f.val)
		b.WriteString("</")
		b.WriteString(f.key)
		b.WriteByte('>')
	}
}

func xmlValue(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case ocsDoc:
		v.xml(b)
	case []any:
		for _, x := range v {
			b.WriteString("<element>")
			xmlValue(b, x)
			b.WriteString("</element>")
		}
	case string:
		escapeText(b, v)
	case bool:
		if v {
			b.WriteByte('1')
		}
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	}
}

// ocsPaths maps the OCS URL paths (below the base path) to their
// handlers; v2 is the OCS API version of the URL.
var ocsPaths = map[string]struct {
	v2   bool
	user bool // cloud/user rather than cloud/capabilities
}{
	"/ocs/v1.php/cloud/capabilities": {},
	"/ocs/v2.php/cloud/capabilities": {v2: true},
	"/ocs/v1.php/cloud/user":         {user: true},
	"/ocs/v2.php/cloud/user":         {v2: true, user: true},
}

// status answers status.php: JSON, no authentication.
func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.writeError(w, r, errorf(http.StatusMethodNotAllowed, "%s on status.php", r.Method))
		return
	}
	var b bytes.Buffer
	statusDoc().json(&b)
	b.WriteByte('\n')
	writeBody(w, r, http.StatusOK, "application/json; charset=utf-8", b.Bytes())
}

func statusDoc() ocsDoc {
	return ocsDoc{
		{"installed", true},
		{"maintenance", false},
		{"needsDbUpgrade", false},
		{"version", ocVersion},
		{"versionstring", ocVersionString},
		{"edition", ""},
		{"productname", productName},
		{"product", productName},
		{"extendedSupport", false},
	}
}

// ocs answers the OCS endpoints. The capabilities need no login (as on
// ownCloud: a client reads them before it has credentials); wrong
// credentials are still refused.
func (h *Handler) ocs(w http.ResponseWriter, r *http.Request, v2, userInfo bool) {
	f := ocsFormat(r)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.ocsError(w, r, f, v2, http.StatusMethodNotAllowed, 405, "method not allowed")
		return
	}
	anonymous := !userInfo && r.Header.Get("Authorization") == ""
	var user string
	var groups []string
	if !anonymous {
		u, ok, err := h.opts.Auth.Authenticate(r)
		switch {
		case err != nil:
			h.writeError(w, r, err)
			return
		case !ok:
			w.Header().Add("WWW-Authenticate", `Basic realm="s3dfs", charset="UTF-8"`)
			w.Header().Add("WWW-Authenticate", `Bearer realm="s3dfs"`)
			setLogErr(r.Context(), errors.New("missing or wrong credentials"))
			h.ocsError(w, r, f, v2, http.StatusUnauthorized, 997, "Unauthorised")
			return
		}
		user = u
		setLogUser(r.Context(), user)
		if groups, err = h.opts.Auth.Groups(user); err != nil {
			h.writeError(w, r, err)
			return
		}
	}
	var data ocsDoc
	if userInfo {
		ctx := withUser(r.Context(), user, groups)
		if err := h.ensurePersonal(ctx, user); err != nil {
			h.writeError(w, r, err)
			return
		}
		si, err := h.fs.GetSpace(ctx, decomposedfs.PersonalSpaceID(user))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		data = userDoc(user, si)
	} else {
		data = ocsDoc{
			{"version", ocsDoc{
				{"major", int64(10)}, {"minor", int64(11)}, {"micro", int64(0)},
				{"string", ocVersionString}, {"edition", ""}, {"product", productName},
			}},
			{"capabilities", h.capabilities()},
		}
	}
	h.ocsWrite(w, r, f, v2, http.StatusOK, data)
}

// capabilities are what this server does, in the keys the clients read
// (docs/http-api.md has the list and what each one makes a client do).
func (h *Handler) capabilities() ocsDoc {
	files := ocsDoc{
		{"bigfilechunking", true},
		{"privateLinks", false},
		{"undelete", true},
		{"versioning", h.fs.KeepsRevisions()},
	}
	if t := h.opts.TUS; t != nil {
		tus := ocsDoc{
			{"version", t.Version},
			{"resumable", t.Version},
			{"extension", strings.Join(t.Extensions, ",")},
		}
		if t.MaxChunkSize > 0 {
			tus = append(tus, ocsField{"max_chunk_size", t.MaxChunkSize})
		}
		tus = append(tus, ocsField{"http_method_override", ""})
		files = append(files, ocsField{"tus_support", tus})
	}
	return ocsDoc{
		{"core", ocsDoc{
			{"webdav-root", "remote.php/webdav"},
			{"status", statusDoc()},
		}},
		{"checksums", ocsDoc{
			{"supportedTypes", []any{"SHA1", "MD5", "ADLER32"}},
			{"preferredUploadType", "SHA1"},
		}},
		{"dav", ocsDoc{
			{"chunking", "1.0"},
			{"trashbin", "1.0"},
		}},
		{"files", files},
		{"files_sharing", ocsDoc{
			{"api_enabled", false},
		}},
	}
}

// userDoc is the cloud/user answer: who the user is, and the quota of the
// user's personal space in Nextcloud's form (-3: unlimited).
func userDoc(user string, si *decomposedfs.SpaceInfo) ocsDoc {
	used := si.Used
	quota, total, free := int64(-3), int64(-3), int64(-3)
	var relative float64
	if si.Quota > 0 {
		quota, total, free = si.Quota, si.Quota, si.Available()
		relative = float64(int64(float64(used)*10000/float64(si.Quota))) / 100
	}
	return ocsDoc{
		{"id", user},
		{"display-name", user},
		{"displayname", user},
		{"email", nil},
		{"enabled", true},
		{"quota", ocsDoc{
			{"free", free},
			{"used", used},
			{"total", total},
			{"relative", relative},
			{"quota", quota},
		}},
	}
}

type ocsFmt uint8

const (
	ocsXML ocsFmt = iota
	ocsJSON
)

// ocsFormat is the answer's format: ?format=json or an Accept of JSON;
// XML otherwise (OCS's default).
func ocsFormat(r *http.Request) ocsFmt {
	switch strings.ToLower(r.URL.Query().Get("format")) {
	case "json":
		return ocsJSON
	case "xml":
		return ocsXML
	}
	if strings.Contains(strings.ToLower(r.Header.Get("Accept")), "application/json") {
		return ocsJSON
	}
	return ocsXML
}

// ocsWrite writes an OCS envelope: v1 reports success as status code 100,
// v2 as 200.
func (h *Handler) ocsWrite(w http.ResponseWriter, r *http.Request, f ocsFmt, v2 bool, status int, data ocsDoc) {
	code := int64(100)
	if v2 {
		code = 200
	}
	h.ocsEnvelope(w, r, f, status, ocsDoc{
		{"status", "ok"}, {"statuscode", code}, {"message", "OK"}, {"totalitems", ""}, {"itemsperpage", ""},
	}, data)
}

// ocsError answers an OCS request with an error: v2 reports the HTTP
// status as the status code, v1 its own code.
func (h *Handler) ocsError(w http.ResponseWriter, r *http.Request, f ocsFmt, v2 bool, status int, v1code int64, msg string) {
	code := v1code
	if v2 {
		code = int64(status)
	}
	h.ocsEnvelope(w, r, f, status, ocsDoc{
		{"status", "failure"}, {"statuscode", code}, {"message", msg}, {"totalitems", ""}, {"itemsperpage", ""},
	}, nil)
}

func (h *Handler) ocsEnvelope(w http.ResponseWriter, r *http.Request, f ocsFmt, status int, meta, data ocsDoc) {
	var b bytes.Buffer
	var ct string
	var dataVal any = data
	if data == nil {
		dataVal = []any{}
	}
	doc := ocsDoc{{"ocs", ocsDoc{{"meta", meta}, {"data", dataVal}}}}
	if f == ocsJSON {
		doc.json(&b)
		b.WriteByte('\n')
		ct = "application/json; charset=utf-8"
	} else {
		b.WriteString(xmlHeader)
		doc.xml(&b)
		b.WriteByte('\n')
		ct = "text/xml; charset=UTF-8"
	}
	writeBody(w, r, status, ct, b.Bytes())
}

// writeBody writes a complete response (no body for HEAD).
func writeBody(w http.ResponseWriter, r *http.Request, status int, contentType string, body []byte) {
	hd := w.Header()
	hd.Set("Content-Type", contentType)
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
