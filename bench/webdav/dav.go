package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"time"
)

// newHTTPClient is the one client of every WebDAV request: keep-alive (a
// sync client keeps its connection), no transparent gzip (so that every
// server sends the same bytes it would to rclone), no redirects.
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 4,
			DisableCompression:  true,
			IdleConnTimeout:     5 * time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       5 * time.Minute,
	}
}

// propfindBody asks for the live properties a sync client lists a folder
// with; every server is asked the same.
const propfindBody = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getcontentlength/><d:getlastmodified/><d:getetag/><d:getcontenttype/></d:prop></d:propfind>`

// reply is what one request got.
type reply struct {
	status int
	body   []byte // only for a 207: the caller may inspect it; others are discarded
	n      int64  // bytes of the response body
	d      time.Duration
}

// do sends one request with the server's credentials and reads the whole
// response; d is the time from sending the request to reading its last
// byte.
func (l *lab) do(ctx context.Context, s *davServer, method, url string, body []byte, hdr map[string]string) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.ContentLength = int64(len(body))
	}
	if s.user != "" {
		req.SetBasicAuth(s.user, s.pass)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	t0 := time.Now()
	resp, err := l.http.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("%s: %s %s: %w", s.name, method, url, err)
	}
	defer resp.Body.Close()
	r := reply{status: resp.StatusCode}
	if resp.StatusCode == http.StatusMultiStatus {
		r.body, err = io.ReadAll(resp.Body)
		r.n = int64(len(r.body))
	} else {
		r.n, err = io.Copy(io.Discard, resp.Body)
	}
	r.d = time.Since(t0)
	if err != nil {
		return reply{}, fmt.Errorf("%s: %s %s: read the response: %w", s.name, method, url, err)
	}
	return r, nil
}

// expect sends a request and fails unless it gets one of the statuses.
func (l *lab) expect(ctx context.Context, s *davServer, method, url string, body []byte, hdr map[string]string, want ...int) (reply, error) {
	r, err := l.do(ctx, s, method, url, body, hdr)
	if err != nil {
		return r, err
	}
	if !slices.Contains(want, r.status) {
		return r, fmt.Errorf("%s: %s %s: status %d, want %v: %w", s.name, method, url, r.status, want, errStatus)
	}
	return r, nil
}

// propfind1 is one PROPFIND depth 1 of a collection; it returns the time
// taken and the number of members (responses other than the collection).
func (l *lab) propfind1(ctx context.Context, s *davServer, url string) (time.Duration, int, error) {
	r, err := l.expect(ctx, s, "PROPFIND", url, []byte(propfindBody),
		map[string]string{"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}, http.StatusMultiStatus)
	if err != nil {
		return 0, 0, err
	}
	return r.d, len(responseTag.FindAllIndex(r.body, -1)) - 1, nil
}

// responseTag matches the start tag of a DAV:response element under any
// prefix ("<d:response>", "<D:response xmlns:lp1=...>").
var responseTag = regexp.MustCompile(`<(?:[A-Za-z_][\w.-]*:)?response[\s>]`)

func (l *lab) countMembers(ctx context.Context, s *davServer, url string) (int, error) {
	_, n, err := l.propfind1(ctx, s, url)
	return n, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
