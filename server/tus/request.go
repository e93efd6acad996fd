package tus

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/s3dfs/s3dfs/decomposedfs"
	"github.com/tus/tusd/v2/pkg/handler"
)

// request is what ServeHTTP learns about a request and hands to the data
// store through the context (tusd passes the request's context values on
// to every store call). Only the request's goroutine uses it, except that
// other requests and Shutdown may interrupt its body (body is set before
// the request is registered and never changes).
type request struct {
	user   string
	folder *decomposedfs.Reference // creation target; nil: the user's personal space root
	method string                  // after tusd's method override
	// header is the response's: the store adds Upload-Expires and, when a
	// file is committed, its ETag and id.
	header http.Header
	chunk  *decomposedfs.Checksum // the body's Upload-Checksum
	body   *bodyWatch             // nil without a body
	// location is the URL prefix of uploads for this request (Location is
	// it plus the id).
	location string
	// ocMtime is the X-OC-Mtime header: the ownCloud client names the
	// file's mtime there, not in the metadata.
	ocMtime string
	// ifMatch is the If-Match header of a creation: the etag of the file
	// the client means to replace (owncloudcmd sends it), checked at the
	// creation and again when the file is committed.
	ifMatch string
}

type requestKey struct{}

func requestFrom(ctx context.Context) *request {
	if rq, ok := ctx.Value(requestKey{}).(*request); ok {
		return rq
	}
	return &request{header: http.Header{}}
}

// errChecksumAlgorithm: the checksum extension wants 400 for an algorithm
// the server does not support. (A mismatch is 460: see statusTable.)
var errChecksumAlgorithm = handler.NewError("ERR_CHECKSUM_ALGORITHM", "unsupported Upload-Checksum algorithm (supported: "+checksumAlgorithms+")", http.StatusBadRequest)

// parseChecksum reads Upload-Checksum ("sha1 <base64>") into rq.chunk.
func (rq *request) parseChecksum(hd http.Header) error {
	v := hd.Get("Upload-Checksum")
	if v == "" {
		return nil
	}
	algo, b64, _ := strings.Cut(strings.TrimSpace(v), " ")
	algo = strings.ToLower(algo)
	var want int
	switch algo {
	case "sha1":
		want = 20
	case "md5":
		want = 16
	default:
		return errChecksumAlgorithm
	}
	sum, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil || len(sum) != want {
		return handler.NewError("ERR_INVALID_CHECKSUM", fmt.Sprintf("Upload-Checksum %q: want %s and %d bytes in base64", v, algo, want), http.StatusBadRequest)
	}
	rq.chunk = &decomposedfs.Checksum{Type: algo, Value: hex.EncodeToString(sum)}
	return nil
}

// bodyWatch sits between the request body and tusd, which hides how a body
// ended from the store: it turns a broken connection, a body cut at the
// upload's length and an interrupted body alike into a clean EOF.
//
// It also interrupts bodies. tusd can do that itself (it closes the body
// of a request whose context is canceled with one of its errors), but it
// reads its body field racily when it does, so we never cancel with those
// errors and interrupt here instead.
type bodyWatch struct {
	rc   io.ReadCloser
	ctl  *http.ResponseController
	stop atomic.Pointer[error] // set by interrupt, from any goroutine

	// Only the goroutine reading the body uses these.
	n   int64 // bytes read from the body
	err error // what the first failing read returned; io.EOF for a clean end
}

func (b *bodyWatch) Read(p []byte) (int, error) {
	if e := b.stop.Load(); e != nil {
		b.fail(*e)
		return 0, *e
	}
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if e := b.stop.Load(); e != nil && err != nil {
		err = *e // the read that interrupt's deadline ended
	}
	if err != nil {
		b.fail(err)
	}
	return n, err
}

func (b *bodyWatch) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

func (b *bodyWatch) Close() error { return b.rc.Close() }

// interrupt makes reads of the body fail with err from now on (tusd then
// answers with err, after the store kept what arrived), and unblocks a
// read that waits for the client.
func (b *bodyWatch) interrupt(err error) {
	if b.stop.CompareAndSwap(nil, &err) {
		_ = b.ctl.SetReadDeadline(time.Now())
	}
}

// broken reports whether the body ended otherwise than cleanly.
func (b *bodyWatch) broken() bool { return b != nil && b.err != io.EOF }

// interrupt stops the request's body, if it has one.
func (rq *request) interrupt(err error) {
	if rq.body != nil {
		rq.body.interrupt(err)
	}
}

// chunkReader is what the driver reads a chunk from: tusd's view of the
// body, except that a body that ran past the upload's length ends with
// ErrTooLarge instead of EOF, so that the driver discards the chunk rather
// than commit a file cut to length.
type chunkReader struct {
	r    io.Reader
	body *bodyWatch
	n    int64 // bytes passed on
}

func (c *chunkReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	// tusd reads the body through http.MaxBytesReader, which reads one byte
	// more than it passes on when the body is too long. That happens when
	// the driver, at the upload's length, probes for one byte more; the
	// driver counts the bytes the probe gets, not the error, so it gets the
	// byte (its value does not matter: the chunk is discarded).
	if err == io.EOF && c.body != nil && c.body.n > c.n {
		if n > 0 {
			return n, nil // the next read tells
		}
		if len(p) == 0 {
			return 0, errTooLong
		}
		p[0] = 0
		return 1, errTooLong
	}
	return n, err
}

var errTooLong = fmt.Errorf("%w: the body runs past the upload's length", decomposedfs.ErrTooLarge)
