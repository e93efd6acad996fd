package server

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// httpError is an error with the status it answers, and optionally the
// DAV: precondition element (RFC 4918, 16) that names the reason in an
// XML error body.
type httpError struct {
	status int
	err    error
	cond   string
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

// fail classifies a driver error for the role o of the resource it is
// about.
func fail(err error, o op) error {
	var he *httpError
	if errors.As(err, &he) {
		return err
	}
	status, cond := classify(err, o)
	return &httpError{status: status, err: err, cond: cond}
}

// errorf is an error answering status.
func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, err: fmt.Errorf(format, args...)}
}

// condError is an error answering status with a DAV: condition element.
func condError(status int, cond string, format string, args ...any) error {
	return &httpError{status: status, err: fmt.Errorf(format, args...), cond: cond}
}

// retryAfter is the Retry-After of a 503, in seconds: long enough for a
// blob store to come back from a restart or a burst of throttling.
const retryAfter = "10"

// writeError answers a request with err's status, unless a response has
// begun already. The body says no more than the status (driver messages
// name ids and paths that a status of 404 must not reveal), except for
// the limits a user's own request ran into (userMessage).
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if ri := infoOf(r.Context()); ri != nil {
		if bf := ri.body.failure(); bf != nil && !errors.Is(err, context.Canceled) {
			// The client's body broke or stalled: that, not what the
			// handler made of it, is the answer.
			err = &httpError{status: bf.status, err: fmt.Errorf("%w (%w)", bf.err, err)}
		}
	}
	setLogErr(r.Context(), err)
	status := http.StatusInternalServerError
	cond := ""
	var he *httpError
	if errors.As(err, &he) {
		status, cond = he.status, he.cond
	} else {
		status, cond = classify(err, opRead)
	}
	if rw, ok := w.(*respWriter); ok && rw.written() {
		return
	}
	if status == statusCanceled {
		// The client is gone, or the server is shutting down: in the
		// latter case the client may still read this.
		status = http.StatusServiceUnavailable
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter)
	}
	if status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
		// Every 401 says how to log in (RFC 9110, 11.6.1), also one for
		// an anonymous request that needs a user.
		w.Header().Add("WWW-Authenticate", `Basic realm="s3dfs", charset="UTF-8"`)
		w.Header().Add("WWW-Authenticate", `Bearer realm="s3dfs"`)
	}
	if status == http.StatusRequestEntityTooLarge || status == http.StatusRequestHeaderFieldsTooLarge || status == http.StatusRequestTimeout {
		w.Header().Set("Connection", "close")
	}
	if msg := userMessage(err); msg != "" {
		// Sabre's way (ownCloud, Nextcloud): clients show s:message.
		var b strings.Builder
		b.WriteString(xmlHeader + `<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">`)
		if cond != "" {
			b.WriteString(`<d:` + cond + `/>`)
		}
		b.WriteString(`<s:message>`)
		xml.EscapeText(&b, []byte(msg))
		b.WriteString("</s:message></d:error>\n")
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
		w.WriteHeader(status)
		w.Write([]byte(b.String()))
		return
	}
	if cond != "" {
		body := xmlHeader + `<d:error xmlns:d="DAV:"><d:` + cond + `/></d:error>` + "\n"
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		w.Write([]byte(body))
		return
	}
	writeText(w, status, strconv.Itoa(status)+" "+http.StatusText(status)+"\n")
}
