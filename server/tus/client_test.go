package tus_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// client is a minimal TUS client for one user against one server.
type client struct {
	t    testing.TB
	base string // the server's URL
	user string
}

// resp is a response with its body read.
type resp struct {
	*http.Response
	body string
}

func (r resp) offset() int64 {
	n, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// hdr is a request's extra headers.
type hdr map[string]string

func (c *client) do(method, path string, h hdr, body io.Reader, length int64) resp {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.ContentLength = length // -1: chunked
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if c.user != "" {
		req.Header.Set("X-Test-User", c.user)
	}
	for k, v := range h {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatalf("%s %s: read response: %v", method, path, err)
	}
	return resp{Response: res, body: string(b)}
}

// uploadMeta encodes Upload-Metadata.
func uploadMeta(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// create POSTs a new upload to path and returns the upload's URL path.
func (c *client) create(path string, size int64, meta string) string {
	c.t.Helper()
	r := c.do("POST", path, hdr{"Upload-Length": strconv.FormatInt(size, 10), "Upload-Metadata": meta}, nil, 0)
	if r.StatusCode != http.StatusCreated {
		c.t.Fatalf("create: %d %s", r.StatusCode, r.body)
	}
	return c.location(r)
}

// location checks that Location is an absolute URL within basePath and
// returns its path.
func (c *client) location(r resp) string {
	c.t.Helper()
	loc := r.Header.Get("Location")
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() || !strings.HasPrefix(u.Path, basePath) || strings.Contains(u.Path[len(basePath):], "/") || len(u.Path) == len(basePath) {
		c.t.Fatalf("Location %q is not an absolute URL of an upload below %s", loc, basePath)
	}
	return u.Path
}

func (c *client) patch(path string, offset int64, chunk []byte, h hdr) resp {
	c.t.Helper()
	all := hdr{"Upload-Offset": strconv.FormatInt(offset, 10), "Content-Type": "application/offset+octet-stream"}
	for k, v := range h {
		all[k] = v
	}
	return c.do("PATCH", path, all, bytes.NewReader(chunk), int64(len(chunk)))
}

func (c *client) head(path string) resp {
	c.t.Helper()
	return c.do("HEAD", path, nil, nil, 0)
}

// brokenPatch sends a PATCH that declares declared bytes, sends the first
// len(sent), and closes the connection: a client that lost its network.
func (c *client) brokenPatch(path string, offset, declared int64, sent []byte) {
	c.t.Helper()
	u, _ := url.Parse(c.base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nTus-Resumable: 1.0.0\r\nX-Test-User: %s\r\n"+
		"Content-Type: application/offset+octet-stream\r\nUpload-Offset: %d\r\nContent-Length: %d\r\n\r\n",
		path, u.Host, c.user, offset, declared)
	if _, err := conn.Write(sent); err != nil {
		c.t.Fatal(err)
	}
}

func payload(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func sha1hex(b []byte) string   { s := sha1.Sum(b); return hex.EncodeToString(s[:]) }
func md5hex(b []byte) string    { s := md5.Sum(b); return hex.EncodeToString(s[:]) }
func sha256hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// uploadChecksum is an Upload-Checksum header value.
func uploadChecksum(algo string, b []byte) string {
	var sum []byte
	switch algo {
	case "sha1":
		s := sha1.Sum(b)
		sum = s[:]
	case "md5":
		s := md5.Sum(b)
		sum = s[:]
	}
	return algo + " " + base64.StdEncoding.EncodeToString(sum)
}
